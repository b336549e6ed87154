package regtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
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
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// start runs a node with cfg and stops it when the test ends.
func start(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("btcd output:\n%s", n.OutputTail())
		}
	})
	return n
}

// result holds a call's value and error until in fails the test on the error:
// must(n.TipHeight(ctx)).in(t).
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) in(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// subsidy is the regtest block reward at height h: 50 BTC halving every 150 blocks.
func subsidy(h int64) int64 { return 50_0000_0000 >> (h / 150) }

// matureSum is the value of the coinbases of heights 1..tip-99, which are
// spendable in the next block (100 confirmations).
func matureSum(tip int64) int64 {
	var sum int64
	for h := int64(1); h <= tip-coinbaseMaturity+1; h++ {
		sum += subsidy(h)
	}
	return sum
}

func newDest(t *testing.T) (btcutil.Address, []byte) {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return addr, script
}

func TestStartFundPayMineRestartStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := start(t, Config{})
	dir := n.DataDir()
	if _, err := os.Stat(filepath.Join(dir, "btcd.conf")); err != nil {
		t.Fatalf("temporary data directory not set up: %v", err)
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != 0 {
		t.Fatalf("fresh tip = %d, want 0", tip)
	}
	if bal := must(n.Balance(ctx)).in(t); bal != 0 {
		t.Fatalf("balance before funding = %d, want 0", bal)
	}

	if err := n.Fund(ctx); err != nil {
		t.Fatal(err)
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != SegwitHeight {
		t.Fatalf("tip after Fund = %d, want %d", tip, SegwitHeight)
	}
	if err := n.Fund(ctx); err != nil { // already funded: mines nothing
		t.Fatal(err)
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != SegwitHeight {
		t.Fatalf("tip after second Fund = %d, want %d", tip, SegwitHeight)
	}
	funded := must(n.Balance(ctx)).in(t)
	if want := matureSum(SegwitHeight); funded != want {
		t.Fatalf("balance at tip %d = %d sat, want the mature coinbases %d", SegwitHeight, funded, want)
	}

	dest, destScript := newDest(t)
	txid := must(n.Pay(ctx, dest, 123_456)).in(t)
	var mempool []string
	if err := json.Unmarshal(must(n.Call(ctx, "getrawmempool")).in(t), &mempool); err != nil {
		t.Fatal(err)
	}
	if len(mempool) != 1 || mempool[0] != txid.String() {
		t.Fatalf("mempool = %v, want [%s]", mempool, txid)
	}
	paid := must(n.Balance(ctx)).in(t)
	fee := funded - 123_456 - paid
	if fee <= 0 || fee > 10_000 {
		t.Fatalf("balance %d -> %d after paying 123456: fee %d not in (0, 10000]", funded, paid, fee)
	}

	blocks := must(n.Mine(ctx, 1)).in(t)
	if len(blocks) != 1 {
		t.Fatalf("Mine(1) returned %d hashes", len(blocks))
	}
	block := getBlock(t, n, blocks[0])
	var got int64
	for _, tx := range block.Transactions {
		if tx.TxHash() != txid {
			continue
		}
		for _, out := range tx.TxOut {
			if bytes.Equal(out.PkScript, destScript) {
				got += out.Value
			}
		}
	}
	if got != 123_456 {
		t.Fatalf("mined block pays %d sat to the destination in %s, want 123456", got, txid)
	}
	// One more coinbase matured; the new one is immature.
	if bal := must(n.Balance(ctx)).in(t); bal != paid+subsidy(SegwitHeight+1-coinbaseMaturity+1) {
		t.Fatalf("balance after mining = %d, want %d + %d", bal, paid, subsidy(SegwitHeight+1-coinbaseMaturity+1))
	}

	url := n.RPCURL()
	if err := n.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if n.RPCURL() != url {
		t.Fatalf("Restart changed the endpoint: %s -> %s", url, n.RPCURL())
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != 0 {
		t.Fatalf("tip after restart = %d, want 0 (btcd wipes regtest data on start)", tip)
	}
	if bal := must(n.Balance(ctx)).in(t); bal != 0 {
		t.Fatalf("balance after restart = %d, want 0", bal)
	}
	// The wallet pays again on the new chain (Pay funds by itself).
	if _, err := n.Pay(ctx, dest, 50_000); err != nil {
		t.Fatal(err)
	}

	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := n.Call(cctx, "getblockcount"); err == nil {
		t.Fatal("RPC answered after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary data directory %s still there after Stop (stat: %v)", dir, err)
	}
}

func TestInvalidateReconsider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := start(t, Config{DataDir: t.TempDir()})
	blocks := must(n.Mine(ctx, 3)).in(t)
	if err := n.InvalidateBlock(ctx, blocks[1]); err != nil {
		t.Fatal(err)
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != 1 {
		t.Fatalf("tip after invalidating block 2 = %d, want 1", tip)
	}
	if err := n.ReconsiderBlock(ctx, blocks[1]); err != nil {
		t.Fatal(err)
	}
	if tip := must(n.TipHeight(ctx)).in(t); tip != 3 {
		t.Fatalf("tip after reconsider = %d, want 3", tip)
	}
	var best string
	if err := json.Unmarshal(must(n.Call(ctx, "getbestblockhash")).in(t), &best); err != nil || best != blocks[2].String() {
		t.Fatalf("best block %q (err %v), want %s", best, err, blocks[2])
	}
	var rpcErr *RPCError
	if err := n.InvalidateBlock(ctx, chainhash.Hash{1}); !errors.As(err, &rpcErr) {
		t.Fatalf("invalidating an unknown block: err = %v, want an *RPCError", err)
	}
}

func TestFixedPortAndMiningKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	port := freeTestPort(t)
	secret := bytes.Repeat([]byte{7}, 32)
	n := start(t, Config{RPCPort: port, MiningKey: secret, DataDir: t.TempDir()})
	if !strings.HasSuffix(n.RPCURL(), "@127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("RPCURL %s does not use port %d", n.RPCURL(), port)
	}
	key, _ := btcec.PrivKeyFromBytes(secret)
	want, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if n.MiningAddress().EncodeAddress() != want.EncodeAddress() {
		t.Fatalf("mining address %s, want %s from the configured key", n.MiningAddress(), want)
	}
	// Coinbases really pay that address.
	block := getBlock(t, n, must(n.Mine(ctx, 1)).in(t)[0])
	script, err := txscript.PayToAddrScript(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(block.Transactions[0].TxOut[0].PkScript, script) {
		t.Fatalf("coinbase pays %x, want %x", block.Transactions[0].TxOut[0].PkScript, script)
	}

	// A second node on the same port gets a clear error.
	_, err = Start(ctx, Config{RPCPort: port})
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("second Start on port %d: err = %v, want ErrPortInUse naming the port", port, err)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests
	busyPort := busy.Addr().(*net.TCPAddr).Port
	order := btcec.S256().N.Bytes()
	tests := []struct {
		name string
		cfg  Config
		want string
		is   error
	}{
		{"missing binary", Config{Binary: filepath.Join(t.TempDir(), "btcd")}, "./scripts/tools.sh", nil},
		{"port in use", Config{RPCPort: busyPort}, "in use", ErrPortInUse},
		{"port out of range", Config{RPCPort: 70000}, "out of range", nil},
		{"short key", Config{MiningKey: []byte{1, 2, 3}}, "3 bytes, want 32", nil},
		{"zero key", Config{MiningKey: make([]byte, 32)}, "not a valid secp256k1 secret", nil},
		{"key above order", Config{MiningKey: order}, "not a valid secp256k1 secret", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := Start(ctx, tc.cfg)
			if err == nil {
				n.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestPayRejectsBadOutputs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := start(t, Config{DataDir: t.TempDir()})
	dest, script := newDest(t)
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"zero", func() error { _, err := n.Pay(ctx, dest, 0); return err }, "must be positive"},
		{"negative", func() error { _, err := n.Pay(ctx, dest, -5); return err }, "must be positive"},
		{"too much", func() error { _, err := n.Pay(ctx, dest, btcutil.MaxSatoshi+1); return err }, "exceeds"},
		{"nil address", func() error { _, err := n.Pay(ctx, nil, 1000); return err }, "nil address"},
		{"no outputs", func() error { _, err := n.Send(ctx); return err }, "no outputs"},
		{"nil output", func() error { _, err := n.Send(ctx, wire.NewTxOut(1000, script), nil); return err }, "output 1: nil"},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// Bad input was rejected before any mining.
	if tip := must(n.TipHeight(ctx)).in(t); tip != 0 {
		t.Fatalf("tip = %d after rejected payments, want 0", tip)
	}
}

func TestStdoutWriter(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	n := start(t, Config{Stdout: &out})
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "RPC server listening") {
		t.Fatalf("btcd output did not reach Config.Stdout:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(n.DataDir(), outputFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("output file exists although Stdout was set (stat: %v)", err)
	}
}

func TestFindBtcd(t *testing.T) {
	bin := t.TempDir()
	fake := filepath.Join(bin, "btcd")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", "")

	t.Setenv("CHAINPAY_TOOLS_BIN", bin)
	t.Setenv("CHAINPAY_TOOLS_DIR", "")
	if got, err := FindBtcd(); err != nil || got != fake {
		t.Fatalf("FindBtcd with CHAINPAY_TOOLS_BIN = %q, %v; want %s", got, err, fake)
	}

	t.Setenv("CHAINPAY_TOOLS_BIN", "")
	t.Setenv("CHAINPAY_TOOLS_DIR", filepath.Dir(bin))
	if err := os.Rename(bin, filepath.Join(filepath.Dir(bin), "bin")); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(bin), "bin", "btcd")
	if got, err := FindBtcd(); err != nil || got != want {
		t.Fatalf("FindBtcd with CHAINPAY_TOOLS_DIR = %q, %v; want %s", got, err, want)
	}

	t.Setenv("CHAINPAY_TOOLS_DIR", t.TempDir())
	_, err := FindBtcd()
	if !errors.Is(err, ErrBtcdNotFound) || !strings.Contains(err.Error(), "./scripts/tools.sh") {
		t.Fatalf("FindBtcd in empty dirs: err = %v, want ErrBtcdNotFound naming ./scripts/tools.sh", err)
	}
}

// TestBuildBtcd runs BuildBtcd against a fake go tool that records its
// arguments and environment and installs a fake btcd, so the test checks the
// go install command line and the version stamp without a network build.
func TestBuildBtcd(t *testing.T) {
	tools := t.TempDir()
	fakeBin := t.TempDir()
	record := filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\n" +
		"echo \"$* GOBIN=$GOBIN\" >> " + record + "\n" +
		"printf '#!/bin/sh\\n' > \"$GOBIN/btcd\" && chmod +x \"$GOBIN/btcd\"\n" +
		"echo building\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+"/usr/bin"+string(os.PathListSeparator)+"/bin")
	t.Setenv("CHAINPAY_TOOLS_DIR", tools)
	ctx := context.Background()
	bin := filepath.Join(tools, "bin")

	var progress bytes.Buffer
	path, err := BuildBtcd(ctx, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(bin, "btcd") {
		t.Fatalf("path = %s, want %s", path, filepath.Join(bin, "btcd"))
	}
	calls, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if want := "install github.com/btcsuite/btcd@v0.24.2 GOBIN=" + bin + "\n"; string(calls) != want {
		t.Fatalf("go was called as %q, want %q", calls, want)
	}
	if !strings.Contains(progress.String(), "building") || !strings.Contains(progress.String(), BtcdVersion) {
		t.Fatalf("progress output %q lacks the go tool's output or the version", progress.String())
	}
	stamp, err := os.ReadFile(filepath.Join(bin, ".btcd.version"))
	if err != nil || string(stamp) != "v0.24.2\n" {
		t.Fatalf("stamp = %q (%v), want the tools.sh format v0.24.2\\n", stamp, err)
	}

	// Built and stamped: no second go install.
	if _, err := BuildBtcd(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if calls2, _ := os.ReadFile(record); !bytes.Equal(calls2, calls) {
		t.Fatalf("second BuildBtcd ran go again: %q", calls2)
	}

	// An old stamp rebuilds.
	if err := os.WriteFile(filepath.Join(bin, ".btcd.version"), []byte("v0.24.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildBtcd(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if calls3, _ := os.ReadFile(record); strings.Count(string(calls3), "install") != 2 {
		t.Fatalf("stale stamp did not rebuild; calls:\n%s", calls3)
	}

	// No go tool: a clear error.
	t.Setenv("PATH", t.TempDir()) // no go tool
	if err := os.Remove(filepath.Join(bin, ".btcd.version")); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildBtcd(ctx, nil); err == nil || !strings.Contains(err.Error(), "go tool is not on PATH") {
		t.Fatalf("BuildBtcd without go: err = %v", err)
	}
}

func getBlock(t *testing.T, n *Node, h chainhash.Hash) *wire.MsgBlock {
	t.Helper()
	var s string
	if err := json.Unmarshal(must(n.Call(context.Background(), "getblock", h.String(), 0)).in(t), &s); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return &block
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd and
// the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
