package regtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

const (
	// startTimeout bounds how long Start waits for the RPC server to answer.
	startTimeout = 20 * time.Second
	// stopTimeout bounds how long Stop waits for a graceful exit before killing.
	stopTimeout = 5 * time.Second
	// startAttempts is how often Start tries a new free port when btcd exits
	// during startup (for example because another process took the port first).
	startAttempts = 3
	// callTimeout bounds one RPC call when the caller's context has no deadline.
	callTimeout = 60 * time.Second
	// outputFile is the name of btcd's output file in the data directory.
	outputFile = "btcd.out"
)

var (
	// ErrPortInUse reports that the configured RPC port is already taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrNoFunds reports that the wallet has not enough mature coins for a payment.
	ErrNoFunds = errors.New("not enough mature coins")
)

// Config describes how Start runs btcd. The zero value is a complete
// configuration: the pinned binary, a temporary data directory, a free port,
// a random wallet key and no logging.
type Config struct {
	// Binary is the btcd executable; "" means FindBtcd().
	Binary string
	// DataDir holds btcd's configuration, chain data, logs and output; "" means
	// a temporary directory that Stop removes. A given directory is kept.
	DataDir string
	// RPCPort is the 127.0.0.1 port of the JSON-RPC server; 0 picks a free one.
	RPCPort int
	// MiningKey is the optional 32-byte secp256k1 secret of the wallet that
	// receives every coinbase; nil means a fresh random key. A fixed key keeps
	// the mining address the same across runs.
	MiningKey []byte
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
	// Stdout receives btcd's standard output and error; nil means the file
	// btcd.out in DataDir (see Node.OutputTail).
	Stdout io.Writer
	// TxIndex runs btcd with --txindex, so getrawtransaction also finds
	// confirmed transactions. Off by default, like bitcoind's.
	TxIndex bool
	// ExtraArgs are appended to btcd's command line.
	ExtraArgs []string
}

// Node is a running btcd regtest node plus the wallet that owns its
// coinbases. Its methods are safe for concurrent use.
type Node struct {
	bin     string
	dir     string
	tempDir bool // dir was created by Start and is removed by Stop
	port    int
	user    string
	pass    string
	args    []string
	stdout  io.Writer
	log     *slog.Logger

	key      *btcec.PrivateKey
	addr     *btcutil.AddressWitnessPubKeyHash
	pkScript []byte

	http *http.Client

	procMu sync.Mutex
	proc   *process
	closed bool // Stop ran; the data directory may be gone

	walletMu sync.Mutex
	wallet   wallet
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status; read only after done is closed
}

// Start runs a fresh btcd --regtest node and waits until its RPC server
// answers; ctx bounds only that wait, not the life of the process (call Stop).
// It fails with an error naming ./scripts/tools.sh when btcd cannot be found,
// with ErrPortInUse when cfg.RPCPort is taken, and with btcd's last output when
// the process does not come up.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.RPCPort < 0 || cfg.RPCPort > 65535 {
		return nil, fmt.Errorf("regtest: RPC port %d out of range 0-65535", cfg.RPCPort)
	}
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = FindBtcd(); err != nil {
			return nil, err
		}
	} else if !isExecutable(bin) {
		return nil, fmt.Errorf("regtest: btcd binary %s is missing or not executable; run ./scripts/tools.sh", bin)
	}
	key, err := miningKey(cfg.MiningKey)
	if err != nil {
		return nil, err
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(
		btcutil.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, fmt.Errorf("regtest: mining address: %w", err)
	}
	user, err := randomToken()
	if err != nil {
		return nil, err
	}
	pass, err := randomToken()
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		bin:      bin,
		dir:      cfg.DataDir,
		user:     user,
		pass:     pass,
		stdout:   cfg.Stdout,
		log:      logger,
		key:      key,
		addr:     addr,
		pkScript: p2wpkhScript(addr),
		http:     &http.Client{Transport: &http.Transport{}, Timeout: callTimeout},
	}
	if n.dir == "" {
		if n.dir, err = os.MkdirTemp("", "chainpay-regtest-"); err != nil {
			return nil, fmt.Errorf("regtest: data directory: %w", err)
		}
		n.tempDir = true
	}
	n.wallet.reset()
	n.args = []string{
		"--regtest",
		"--notls",
		"--rpcuser=" + n.user,
		"--rpcpass=" + n.pass,
		"--nolisten",
		"--configfile=" + filepath.Join(n.dir, "btcd.conf"),
		"--datadir=" + filepath.Join(n.dir, "data"),
		"--logdir=" + filepath.Join(n.dir, "logs"),
		"--miningaddr=" + addr.EncodeAddress(),
		"--rpcmaxclients=100",
	}
	if cfg.TxIndex {
		n.args = append(n.args, "--txindex")
	}
	n.args = append(n.args, cfg.ExtraArgs...)

	if cfg.RPCPort != 0 {
		n.port = cfg.RPCPort
		if err := checkPortFree(n.port); err != nil {
			n.cleanupDir()
			return nil, err
		}
		if err := n.launch(ctx); err != nil {
			n.cleanupDir()
			return nil, fmt.Errorf("regtest: start btcd on port %d: %w\n%s", n.port, err, n.OutputTail())
		}
		return n, nil
	}
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			n.cleanupDir()
			return nil, fmt.Errorf("regtest: %w", err)
		}
		n.port = port
		if lastErr = n.launch(ctx); lastErr == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	tail := n.OutputTail()
	n.cleanupDir()
	return nil, fmt.Errorf("regtest: btcd did not start: %w\n%s", lastErr, tail)
}

// miningKey parses a 32-byte secret, or makes a random key for nil.
func miningKey(secret []byte) (*btcec.PrivateKey, error) {
	if secret == nil {
		k, err := btcec.NewPrivateKey()
		if err != nil {
			return nil, fmt.Errorf("regtest: new mining key: %w", err)
		}
		return k, nil
	}
	if len(secret) != btcec.PrivKeyBytesLen {
		return nil, fmt.Errorf("regtest: mining key is %d bytes, want %d", len(secret), btcec.PrivKeyBytesLen)
	}
	var s btcec.ModNScalar
	if overflow := s.SetByteSlice(secret); overflow || s.IsZero() {
		return nil, errors.New("regtest: mining key is not a valid secp256k1 secret (zero or not below the group order)")
	}
	k, _ := btcec.PrivKeyFromBytes(secret)
	return k, nil
}

// checkPortFree reports ErrPortInUse when 127.0.0.1:port cannot be bound.
func checkPortFree(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("regtest: RPC address %s: %w (%v); choose another port or stop the process using it", addr, ErrPortInUse, err)
	}
	return l.Close()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("regtest: random credentials: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// launch starts the process on n.port and waits until its RPC server answers.
func (n *Node) launch(ctx context.Context) error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// An empty config file keeps ~/.btcd/btcd.conf out.
	if err := os.WriteFile(filepath.Join(n.dir, "btcd.conf"), nil, 0o600); err != nil {
		return fmt.Errorf("write empty config: %w", err)
	}
	out := n.stdout
	var file *os.File
	if out == nil {
		f, err := os.OpenFile(filepath.Join(n.dir, outputFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open output file: %w", err)
		}
		file, out = f, f
	}
	args := append([]string{"--rpclisten=127.0.0.1:" + strconv.Itoa(n.port)}, n.args...)
	cmd := exec.Command(n.bin, args...)
	dieWithParent(cmd)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		if file != nil {
			file.Close()
		}
		return fmt.Errorf("exec %s: %w", n.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if file != nil {
			file.Close()
		}
		close(p.done)
	}()
	n.procMu.Lock()
	n.proc = p
	n.closed = false
	n.procMu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := n.Call(cctx, "getblockcount")
		cancel()
		if err == nil {
			n.log.Info("btcd regtest started", "rpc", "127.0.0.1:"+strconv.Itoa(n.port), "pid", cmd.Process.Pid, "datadir", n.dir)
			return nil
		}
		select {
		case <-p.done:
			n.procMu.Lock()
			if n.proc == p {
				n.proc = nil
			}
			n.procMu.Unlock()
			return fmt.Errorf("btcd exited during startup (%v); last RPC error: %w", p.err, err)
		case <-ctx.Done():
			n.stopProcess()
			return fmt.Errorf("waiting for btcd RPC: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stopProcess()
			return fmt.Errorf("RPC not ready after %s: %w", startTimeout, err)
		}
	}
}

// OutputTail returns the last 4000 bytes btcd wrote to its output file, or a
// note when the output went to Config.Stdout or cannot be read.
func (n *Node) OutputTail() string {
	if n.stdout != nil {
		return "(btcd output went to Config.Stdout)"
	}
	b, err := os.ReadFile(filepath.Join(n.dir, outputFile))
	if err != nil {
		return "(no btcd output: " + err.Error() + ")"
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// DataDir returns the directory holding btcd's configuration, data and logs.
func (n *Node) DataDir() string { return n.dir }

// stopProcess interrupts btcd, kills it after stopTimeout and waits for it.
// It reports whether a process was running.
func (n *Node) stopProcess() bool {
	n.procMu.Lock()
	p := n.proc
	n.proc = nil
	n.procMu.Unlock()
	if p == nil {
		return false
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		n.log.Warn("btcd did not stop in time; killing it", "pid", p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	n.http.CloseIdleConnections()
	n.log.Info("btcd regtest stopped", "rpc", "127.0.0.1:"+strconv.Itoa(n.port))
	return true
}

func (n *Node) cleanupDir() error {
	if !n.tempDir {
		return nil
	}
	if err := os.RemoveAll(n.dir); err != nil {
		return fmt.Errorf("regtest: remove data directory: %w", err)
	}
	return nil
}

// Stop stops the btcd process and waits for it to exit: gracefully first,
// killing it after a few seconds. It removes the data directory when Start
// created it. Stop is idempotent; after it, calls fail with connection
// refused until Restart.
func (n *Node) Stop() error {
	n.stopProcess()
	n.procMu.Lock()
	already := n.closed
	n.closed = true
	n.procMu.Unlock()
	if already {
		return nil
	}
	return n.cleanupDir()
}

// Restart stops the node (if running) and starts it again on the same port
// with the same credentials and wallet key. btcd wipes its regtest chain on
// every start, so the node comes back at height 0 and the wallet is emptied.
func (n *Node) Restart(ctx context.Context) error {
	n.stopProcess()
	n.walletMu.Lock()
	n.wallet.reset()
	n.walletMu.Unlock()
	if err := n.launch(ctx); err != nil {
		return fmt.Errorf("regtest: restart on port %d: %w\n%s", n.port, err, n.OutputTail())
	}
	return nil
}

// RPCURL returns the node's JSON-RPC endpoint with credentials,
// http://user:pass@127.0.0.1:port.
func (n *Node) RPCURL() string {
	u := url.URL{
		Scheme: "http",
		User:   url.UserPassword(n.user, n.pass),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)),
	}
	return u.String()
}

// Params returns the chain parameters of the node (regtest).
func (n *Node) Params() *chaincfg.Params { return &chaincfg.RegressionNetParams }

// MiningAddress returns the wallet's P2WPKH address, which receives every
// coinbase.
func (n *Node) MiningAddress() btcutil.Address { return n.addr }

// Mine generates count blocks (btcd's generate RPC), including mempool
// transactions, and returns their hashes in order.
func (n *Node) Mine(ctx context.Context, count int) ([]chainhash.Hash, error) {
	if count <= 0 {
		return nil, fmt.Errorf("regtest: mine %d blocks: count must be positive", count)
	}
	raw, err := n.Call(ctx, "generate", count)
	if err != nil {
		return nil, fmt.Errorf("regtest: generate %d: %w", count, err)
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("regtest: generate %d: decode %s: %w", count, abbreviate(raw), err)
	}
	if len(strs) != count {
		return nil, fmt.Errorf("regtest: generate %d: node returned %d hashes", count, len(strs))
	}
	hashes := make([]chainhash.Hash, len(strs))
	for i, s := range strs {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, fmt.Errorf("regtest: generate %d: hash %q: %w", count, s, err)
		}
		hashes[i] = *h
	}
	n.walletMu.Lock()
	n.wallet.mined = append(n.wallet.mined, hashes...)
	n.walletMu.Unlock()
	return hashes, nil
}

// InvalidateBlock marks a block invalid (btcd's invalidateblock), which
// disconnects it and its descendants: the way to produce a reorg.
func (n *Node) InvalidateBlock(ctx context.Context, hash chainhash.Hash) error {
	if _, err := n.Call(ctx, "invalidateblock", hash.String()); err != nil {
		return fmt.Errorf("regtest: %w", err)
	}
	return nil
}

// ReconsiderBlock undoes InvalidateBlock (btcd's reconsiderblock).
func (n *Node) ReconsiderBlock(ctx context.Context, hash chainhash.Hash) error {
	if _, err := n.Call(ctx, "reconsiderblock", hash.String()); err != nil {
		return fmt.Errorf("regtest: %w", err)
	}
	return nil
}

// TipHeight returns the height of the node's best block.
func (n *Node) TipHeight(ctx context.Context) (int64, error) {
	raw, err := n.Call(ctx, "getblockcount")
	if err != nil {
		return 0, fmt.Errorf("regtest: %w", err)
	}
	h, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("regtest: getblockcount answered %s", abbreviate(raw))
	}
	return h, nil
}

// RPCError is an error object returned by btcd.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// Call runs a JSON-RPC method and returns its raw result, or an error (an
// *RPCError when btcd answered with one). Without a deadline in ctx a call is
// bounded by one minute.
func (n *Node) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return nil, fmt.Errorf("%s: encode params: %w", method, err)
	}
	endpoint := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	req.SetBasicAuth(n.user, n.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, undecodable body: %w", method, resp.StatusCode, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("%s: %w", method, out.Error)
	}
	return out.Result, nil
}

func abbreviate(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
