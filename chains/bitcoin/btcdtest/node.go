package btcdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	// startAttempts is how often Start retries when btcd exits during startup
	// (for example because another process took the free port first).
	startAttempts = 3
)

// Option changes how Start runs btcd.
type Option func(*config)

type config struct {
	txIndex   bool
	extraArgs []string
}

// WithTxIndex runs btcd with --txindex, so getrawtransaction also finds
// confirmed transactions. The default is off, like bitcoind's, so tests prove
// that code under test does not depend on a transaction index.
func WithTxIndex() Option {
	return func(c *config) { c.txIndex = true }
}

// WithArgs appends extra command-line flags for btcd.
func WithArgs(args ...string) Option {
	return func(c *config) { c.extraArgs = append(c.extraArgs, args...) }
}

// Node is a running btcd regtest node plus a small wallet owned by the test.
// Its methods are safe for concurrent use, but the ones taking a testing.TB
// must be called from the goroutine running that test.
type Node struct {
	bin  string
	dir  string
	port int
	user string
	pass string
	args []string

	key      *btcec.PrivateKey
	addr     *btcutil.AddressWitnessPubKeyHash
	pkScript []byte

	http *http.Client

	procMu sync.Mutex
	proc   *process

	walletMu sync.Mutex
	wallet   wallet
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status; read only after done is closed
}

// Start runs a fresh btcd --regtest node and stops it when the test ends. It
// fails the test when btcd cannot be found or does not answer RPC in time.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := findBtcd()
	if err != nil {
		t.Fatal(err)
	}
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatalf("btcdtest: new key: %v", err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(
		btcutil.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatalf("btcdtest: mining address: %v", err)
	}
	n := &Node{
		bin:      bin,
		dir:      t.TempDir(),
		user:     randomToken(t),
		pass:     randomToken(t),
		key:      key,
		addr:     addr,
		pkScript: p2wpkhScript(addr),
		http:     &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second},
	}
	n.wallet.reset()
	if err := os.WriteFile(filepath.Join(n.dir, "btcd.conf"), nil, 0o600); err != nil {
		t.Fatalf("btcdtest: write empty config: %v", err)
	}
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
	if cfg.txIndex {
		n.args = append(n.args, "--txindex")
	}
	n.args = append(n.args, cfg.extraArgs...)

	t.Cleanup(func() {
		n.Stop()
		n.http.CloseIdleConnections()
		if t.Failed() {
			t.Logf("btcdtest: last btcd output:\n%s", n.outputTail())
		}
	})

	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("btcdtest: %v", err)
		}
		n.port = port
		if lastErr = n.launch(); lastErr == nil {
			return n
		}
	}
	t.Fatalf("btcdtest: btcd did not start after %d attempts: %v\n%s", startAttempts, lastErr, n.outputTail())
	return nil
}

// findBtcd locates the pinned btcd binary.
func findBtcd() (string, error) {
	var tried []string
	if dir := os.Getenv("CHAINPAY_TOOLS_BIN"); dir != "" {
		tried = append(tried, dir)
		if p := filepath.Join(dir, "btcd"); isExecutable(p) {
			return p, nil
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dir := filepath.Join(home, ".cache", "chainpay", "tools", "bin")
		tried = append(tried, dir)
		if p := filepath.Join(dir, "btcd"); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("btcdtest: btcd binary not found in %s; run ./scripts/tools.sh "+
		"and export CHAINPAY_TOOLS_BIN=<the directory it prints>", strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken(t testing.TB) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("btcdtest: random: %v", err)
	}
	return hex.EncodeToString(b[:])
}

// launch starts the process on n.port and waits until its RPC server answers.
func (n *Node) launch() error {
	out, err := os.OpenFile(n.outputPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open output file: %w", err)
	}
	args := append([]string{"--rpclisten=127.0.0.1:" + strconv.Itoa(n.port)}, n.args...)
	cmd := exec.Command(n.bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("exec %s: %w", n.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	n.procMu.Lock()
	n.proc = p
	n.procMu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := n.TryCall(ctx, "getblockcount")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			n.procMu.Lock()
			n.proc = nil
			n.procMu.Unlock()
			return fmt.Errorf("btcd exited during startup (%v); last RPC error: %w", p.err, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.Stop()
			return fmt.Errorf("RPC not ready after %s: %w", startTimeout, err)
		}
	}
}

func (n *Node) outputPath() string { return filepath.Join(n.dir, "btcd.out") }

func (n *Node) outputTail() string {
	b, err := os.ReadFile(n.outputPath())
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Stop stops the btcd process and waits for it to exit: gracefully first,
// killing it after a few seconds. It is idempotent; after Stop, RPC calls fail
// with connection refused until Restart.
func (n *Node) Stop() {
	n.procMu.Lock()
	p := n.proc
	n.proc = nil
	n.procMu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	n.http.CloseIdleConnections()
}

// Restart stops the node (if running) and starts it again on the same port
// with the same credentials. btcd wipes its regtest chain on every start, so
// the node comes back at height 0 and the harness wallet is emptied.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	n.walletMu.Lock()
	n.wallet.reset()
	n.walletMu.Unlock()
	if err := n.launch(); err != nil {
		t.Fatalf("btcdtest: restart on port %d: %v\n%s", n.port, err, n.outputTail())
	}
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

// MiningAddress returns the harness-owned P2WPKH address that receives every
// coinbase.
func (n *Node) MiningAddress() btcutil.Address { return n.addr }

// Mine generates n blocks (btcd's generate RPC), including mempool
// transactions, and returns their hashes in order.
func (n *Node) Mine(t testing.TB, count int) []chainhash.Hash {
	t.Helper()
	hashes, err := n.mine(count)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return hashes
}

func (n *Node) mine(count int) ([]chainhash.Hash, error) {
	if count <= 0 {
		return nil, fmt.Errorf("mine %d blocks: count must be positive", count)
	}
	raw, err := n.TryCall(context.Background(), "generate", count)
	if err != nil {
		return nil, fmt.Errorf("generate %d: %w", count, err)
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("generate %d: decode %s: %w", count, abbreviate(raw), err)
	}
	if len(strs) != count {
		return nil, fmt.Errorf("generate %d: node returned %d hashes", count, len(strs))
	}
	hashes := make([]chainhash.Hash, len(strs))
	for i, s := range strs {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, fmt.Errorf("generate %d: hash %q: %w", count, s, err)
		}
		hashes[i] = *h
	}
	n.walletMu.Lock()
	n.wallet.mined = append(n.wallet.mined, hashes...)
	n.walletMu.Unlock()
	return hashes, nil
}

// InvalidateBlock marks a block invalid (btcd's invalidateblock), which
// disconnects it and its descendants: the way tests produce reorgs.
func (n *Node) InvalidateBlock(t testing.TB, hash chainhash.Hash) {
	t.Helper()
	n.Call(t, "invalidateblock", hash.String())
}

// ReconsiderBlock undoes InvalidateBlock (btcd's reconsiderblock).
func (n *Node) ReconsiderBlock(t testing.TB, hash chainhash.Hash) {
	t.Helper()
	n.Call(t, "reconsiderblock", hash.String())
}

// TipHeight returns the height of the node's best block.
func (n *Node) TipHeight(t testing.TB) int64 {
	t.Helper()
	raw := n.Call(t, "getblockcount")
	h, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatalf("btcdtest: getblockcount answered %s", abbreviate(raw))
	}
	return h
}

// Call runs a JSON-RPC method and fails the test on any error.
func (n *Node) Call(t testing.TB, method string, params ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := n.TryCall(ctx, method, params...)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return raw
}

// RPCError is an error object returned by btcd.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// TryCall runs a JSON-RPC method and returns its raw result or an error
// (an *RPCError when btcd answered with one).
func (n *Node) TryCall(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
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
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(&out); err != nil {
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

var errNoFunds = errors.New("not enough mature coins")
