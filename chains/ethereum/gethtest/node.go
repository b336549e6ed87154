package gethtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
)

const (
	startTimeout   = 20 * time.Second
	stopTimeout    = 5 * time.Second
	startAttempts  = 3
	receiptTimeout = 30 * time.Second
	receiptPoll    = 5 * time.Millisecond
)

// devKeyHex is geth's fixed developer key (cmd/utils.DeveloperKey in go-ethereum v1.17.10).
const devKeyHex = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// ChainID is the chain id of geth --dev.
const ChainID = 1337

// Node is a running geth --dev node. Its methods are safe for concurrent use (sends are
// serialised so nonces never collide); the ones taking a testing.TB must be called from
// the goroutine running that test.
type Node struct {
	rpcURL, wsURL string
	logPath       string
	cmd           *exec.Cmd
	done          chan struct{}

	rpc    *rpc.Client
	client *ethclient.Client
	devKey *ecdsa.PrivateKey

	sendMu sync.Mutex
	stop   sync.Once
}

// Start runs a fresh in-memory geth --dev --dev.period 0 node and stops it when the test
// ends. It fails the test when geth cannot be found or does not answer in time.
func Start(t testing.TB) *Node {
	t.Helper()
	n, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(n.logPath); err == nil {
				t.Logf("gethtest: geth log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return n
}

// Launch is Start outside a test (cmd/bench's chaos run): it runs the node with its logs
// in dir; the caller stops it with Stop.
func Launch(dir string) (*Node, error) {
	bin, err := findGeth()
	if err != nil {
		return nil, err
	}
	key, err := crypto.HexToECDSA(devKeyHex)
	if err != nil {
		return nil, fmt.Errorf("gethtest: dev key: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		n, err := launch(bin, dir, attempt)
		if err != nil {
			lastErr = err
			continue
		}
		n.devKey = key
		return n, nil
	}
	return nil, fmt.Errorf("gethtest: start geth: %w", lastErr)
}

// LogPath is the file geth logs to.
func (n *Node) LogPath() string { return n.logPath }

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func launch(bin, dir string, attempt int) (*Node, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	logPath := filepath.Join(dir, fmt.Sprintf("geth-%d.log", attempt))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	args := []string{
		"--dev", "--dev.period", "0",
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(ports[0]), "--http.api", "eth,net,web3",
		"--ws", "--ws.addr", "127.0.0.1", "--ws.port", strconv.Itoa(ports[1]), "--ws.api", "eth,net,web3",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(ports[2]),
		"--ipcdisable", "--nodiscover", "--maxpeers", "0", "--verbosity", "3",
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	n := &Node{
		rpcURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		wsURL:   fmt.Sprintf("ws://127.0.0.1:%d", ports[1]),
		logPath: logPath,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(n.done)
	}()
	if err := n.waitReady(); err != nil {
		n.Stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\n%s", err, tail(log, 2048))
	}
	return n, nil
}

func (n *Node) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	c, err := rpc.Dial(n.rpcURL)
	if err != nil {
		return fmt.Errorf("dial %s: %w", n.rpcURL, err)
	}
	for {
		select {
		case <-n.done:
			c.Close()
			return errors.New("geth exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var id string
		err := c.CallContext(ctx, &id, "eth_chainId")
		cancel()
		if err == nil {
			n.rpc = c
			n.client = ethclient.NewClient(c)
			return nil
		}
		if time.Now().After(deadline) {
			c.Close()
			return fmt.Errorf("geth RPC at %s did not answer within %s: %w", n.rpcURL, startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops geth (interrupt, then kill after a grace period) and waits for it; it is
// idempotent.
func (n *Node) Stop() {
	n.stop.Do(func() {
		if n.rpc != nil {
			n.rpc.Close()
		}
		_ = n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
		case <-time.After(stopTimeout):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
}

func findGeth() (string, error) {
	var tried []string
	if dir := os.Getenv("CHAINPAY_TOOLS_BIN"); dir != "" {
		tried = append(tried, dir)
		if p := filepath.Join(dir, "geth"); isExecutable(p) {
			return p, nil
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dir := filepath.Join(home, ".cache", "chainpay", "tools", "bin")
		tried = append(tried, dir)
		if p := filepath.Join(dir, "geth"); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("gethtest: geth binary not found in %s; run ./scripts/tools.sh "+
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

// RPCURL returns the HTTP JSON-RPC URL.
func (n *Node) RPCURL() string { return n.rpcURL }

// WSURL returns the WebSocket JSON-RPC URL.
func (n *Node) WSURL() string { return n.wsURL }

// RPC returns the harness's JSON-RPC client (closed by Stop).
func (n *Node) RPC() *rpc.Client { return n.rpc }

// Client returns an ethclient over RPC.
func (n *Node) Client() *ethclient.Client { return n.client }

// DevKey returns geth's fixed, funded developer key. Send through the Node (Send, Fund)
// rather than signing with it directly, so nonces stay in order.
func (n *Node) DevKey() *ecdsa.PrivateKey { return n.devKey }

// DevAddress returns the developer account's address.
func (n *Node) DevAddress() common.Address { return crypto.PubkeyToAddress(n.devKey.PublicKey) }

// ChainID returns the node's chain id (1337).
func (n *Node) ChainID() *big.Int { return big.NewInt(ChainID) }

// Send signs a transaction from key (the dev key when nil) calling to with value and
// data, sends it and waits for its receipt; gas 0 means estimate (which fails on a revert).
// A nil to deploys data as creation code. It fails the test on any error but not on a
// reverted receipt: check Status.
func (n *Node) Send(t testing.TB, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Receipt {
	t.Helper()
	r, err := n.TrySend(key, to, value, data, gas)
	if err != nil {
		t.Fatalf("gethtest: %v", err)
	}
	return r
}

// TrySend is Send returning the error.
func (n *Node) TrySend(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, gas uint64) (*types.Receipt, error) {
	if key == nil {
		key = n.devKey
	}
	if value == nil {
		value = new(big.Int)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	ctx, cancel := context.WithTimeout(context.Background(), receiptTimeout)
	defer cancel()
	n.sendMu.Lock()
	nonce, err := n.client.PendingNonceAt(ctx, from)
	if err != nil {
		n.sendMu.Unlock()
		return nil, fmt.Errorf("nonce of %s: %w", from.Hex(), err)
	}
	if gas == 0 {
		gas, err = n.client.EstimateGas(ctx, geth.CallMsg{From: from, To: to, Value: value, Data: data})
		if err != nil {
			n.sendMu.Unlock()
			return nil, fmt.Errorf("estimate gas: %w", err)
		}
	}
	head, err := n.client.HeaderByNumber(ctx, nil)
	if err != nil {
		n.sendMu.Unlock()
		return nil, fmt.Errorf("head: %w", err)
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(n.ChainID()), &types.DynamicFeeTx{
		ChainID: n.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: to, Value: value, Data: data,
	})
	if err != nil {
		n.sendMu.Unlock()
		return nil, fmt.Errorf("sign: %w", err)
	}
	err = n.client.SendTransaction(ctx, tx)
	n.sendMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	return n.WaitReceipt(ctx, tx.Hash())
}

// poke sends a zero-value transfer from the dev account to itself without waiting for it.
// geth --dev.period 0 seals when a transaction arrives; under load it can miss one, which
// then waits for the next arrival: the poke is that arrival.
func (n *Node) poke(ctx context.Context) {
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	from := crypto.PubkeyToAddress(n.devKey.PublicKey)
	nonce, err := n.client.PendingNonceAt(ctx, from)
	if err != nil {
		return
	}
	head, err := n.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(n.devKey, types.LatestSignerForChainID(n.ChainID()), &types.DynamicFeeTx{
		ChainID: n.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21_000, To: &from, Value: new(big.Int),
	})
	if err == nil {
		_ = n.client.SendTransaction(ctx, tx)
	}
}

// WaitReceipt polls for a transaction's receipt every 5 ms until ctx ends.
func (n *Node) WaitReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	tick := time.NewTicker(receiptPoll)
	defer tick.Stop()
	lastPoke := time.Now()
	for {
		r, err := n.client.TransactionReceipt(ctx, h)
		if err == nil {
			return r, nil
		}
		if time.Since(lastPoke) > 3*time.Second {
			n.poke(ctx) // a transaction geth --dev did not seal: make it seal again
			lastPoke = time.Now()
		}
		// geth answers "transaction indexing is in progress" for a moment after a block.
		if !errors.Is(err, geth.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("receipt %s: %w", h.Hex(), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt %s: %w", h.Hex(), ctx.Err())
		case <-tick.C:
		}
	}
}

// MustSucceed sends like Send and fails the test unless the transaction succeeded.
func (n *Node) MustSucceed(t testing.TB, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) *types.Receipt {
	t.Helper()
	r := n.Send(t, key, to, value, data, 0)
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("gethtest: transaction %s reverted", r.TxHash.Hex())
	}
	return r
}

// Fund sends wei from the developer account to to.
func (n *Node) Fund(t testing.TB, to common.Address, wei *big.Int) *types.Receipt {
	t.Helper()
	return n.MustSucceed(t, nil, &to, wei, nil)
}

// Mine produces at least count new blocks (one zero-value self-transfer of the dev account
// each: with --dev.period 0 geth seals a block per transaction). geth may seal an empty
// block as well when a transaction arrives while it builds a payload (seen in CI on a loaded
// machine: Mine(3) moved the tip by 5), so callers count confirmations as at least count.
func (n *Node) Mine(t testing.TB, count int) {
	t.Helper()
	self := n.DevAddress()
	for range count {
		n.Send(t, nil, &self, nil, nil, 21_000)
	}
}

// Deploy deploys creation code (with constructor arguments appended) from the dev
// account and returns the contract address.
func (n *Node) Deploy(t testing.TB, code []byte) common.Address {
	t.Helper()
	r := n.MustSucceed(t, nil, nil, nil, code)
	return r.ContractAddress
}

// DeployFactory deploys a ForwarderFactory and returns it with its implementation read
// from the chain.
func (n *Node) DeployFactory(t testing.TB) *ethereum.Factory {
	t.Helper()
	f, err := n.TryDeployFactory()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TryDeployFactory is DeployFactory returning the error.
func (n *Node) TryDeployFactory() (*ethereum.Factory, error) {
	addr, err := n.tryDeploy(common.FromHex(bindings.ForwarderFactoryMetaData.Bin))
	if err != nil {
		return nil, err
	}
	abi := bindings.NewForwarderFactory()
	out, err := n.client.CallContract(context.Background(), geth.CallMsg{To: &addr, Data: abi.PackImplementation()}, nil)
	if err != nil {
		return nil, fmt.Errorf("gethtest: factory implementation: %w", err)
	}
	impl, err := abi.UnpackImplementation(out)
	if err != nil {
		return nil, fmt.Errorf("gethtest: unpack implementation: %w", err)
	}
	f, err := ethereum.NewFactory(addr, impl)
	if err != nil {
		return nil, fmt.Errorf("gethtest: %w", err)
	}
	return f, nil
}

// DeployToken deploys the test ERC-20 (transfer returns bool) with the given decimals.
func (n *Node) DeployToken(t testing.TB, name, symbol string, decimals uint8) common.Address {
	t.Helper()
	a, err := n.TryDeployToken(name, symbol, decimals)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TryDeployToken is DeployToken returning the error.
func (n *Node) TryDeployToken(name, symbol string, decimals uint8) (common.Address, error) {
	code := append(common.FromHex(bindings.TestTokenMetaData.Bin), bindings.NewTestToken().PackConstructor(name, symbol, decimals, false)...)
	return n.tryDeploy(code)
}

// tryDeploy deploys creation code from the dev account and returns the contract address.
func (n *Node) tryDeploy(code []byte) (common.Address, error) {
	r, err := n.TrySend(nil, nil, nil, code, 0)
	if err != nil {
		return common.Address{}, fmt.Errorf("gethtest: deploy: %w", err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, fmt.Errorf("gethtest: deploy reverted (tx %s)", r.TxHash.Hex())
	}
	return r.ContractAddress, nil
}

// MintTokens creates amount units of token for to.
func (n *Node) MintTokens(t testing.TB, token, to common.Address, amount *big.Int) *types.Receipt {
	t.Helper()
	return n.MustSucceed(t, nil, &token, nil, bindings.NewTestToken().PackMint(to, amount))
}

// SendTokens transfers amount units of token from key's account (the dev account when
// nil) to to.
func (n *Node) SendTokens(t testing.TB, key *ecdsa.PrivateKey, token, to common.Address, amount *big.Int) *types.Receipt {
	t.Helper()
	return n.MustSucceed(t, key, &token, nil, bindings.NewTestToken().PackTransfer(to, amount))
}

// Balance returns a's balance at the latest block.
func (n *Node) Balance(t testing.TB, a common.Address) *big.Int {
	t.Helper()
	b, err := n.client.BalanceAt(context.Background(), a, nil)
	if err != nil {
		t.Fatalf("gethtest: balance of %s: %v", a.Hex(), err)
	}
	return b
}

// TokenBalance returns a's balance of token at the latest block.
func (n *Node) TokenBalance(t testing.TB, token, a common.Address) *big.Int {
	t.Helper()
	abi := bindings.NewTestToken()
	out, err := n.client.CallContract(context.Background(), geth.CallMsg{To: &token, Data: abi.PackBalanceOf(a)}, nil)
	if err != nil {
		t.Fatalf("gethtest: token balance: %v", err)
	}
	v, err := abi.UnpackBalanceOf(out)
	if err != nil {
		t.Fatalf("gethtest: unpack balance: %v", err)
	}
	return v
}

// Code reports whether a has contract code.
func (n *Node) Code(t testing.TB, a common.Address) []byte {
	t.Helper()
	c, err := n.client.CodeAt(context.Background(), a, nil)
	if err != nil {
		t.Fatalf("gethtest: code at %s: %v", a.Hex(), err)
	}
	return bytes.Clone(c)
}
