package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
)

// nodeBtcdTimeout is the per-endpoint timeout of Nodes talking to the real
// btcd; the stopped-node check asserts calls fail within it.
const nodeBtcdTimeout = 3 * time.Second

func newBtcdNode(t *testing.T, urls ...string) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{URLs: urls, Network: Regtest, Timeout: nodeBtcdTimeout})
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// TestNodeBtcdPaymentLifecycle follows a payment to a fresh P2WPKH address on
// a real btcd: mempool, block, confirmation count.
func TestNodeBtcdPaymentLifecycle(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	n := newBtcdNode(t, btcd.RPCURL())
	ctx := context.Background()

	if err := n.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	mined := btcd.Mine(t, 3)
	height, tip, err := n.TipHeight(ctx)
	if err != nil || height != 3 || tip != mined[2] {
		t.Fatalf("TipHeight = %d, %s, %v; want 3, %s", height, tip, err, mined[2])
	}
	for i, want := range mined {
		got, err := n.BlockHash(ctx, int64(i+1))
		if err != nil || got != want {
			t.Fatalf("BlockHash(%d) = %s, %v; want %s", i+1, got, err, want)
		}
	}

	// A fresh P2WPKH address the test holds the key of.
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), btcd.Params())
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	const amount = 123_456_789
	btcd.Fund(t)
	txid := btcd.Pay(t, addr, amount)

	// In the mempool, with the right output.
	pool, err := n.MempoolTxIDs(ctx)
	if err != nil || !slices.Contains(pool, txid) {
		t.Fatalf("MempoolTxIDs = %v, %v; want it to contain %s", pool, err, txid)
	}
	tx, err := n.RawTransaction(ctx, txid)
	if err != nil {
		t.Fatalf("RawTransaction: %v", err)
	}
	if got := outputValue(tx.TxOut, script); got != amount {
		t.Fatalf("mempool tx pays %d to the address, want %d", got, amount)
	}
	if !tx.HasWitness() {
		t.Fatal("the harness payment should be a segwit transaction")
	}

	// Mined: in the block, one confirmation, gone from the mempool.
	blockHash := btcd.Mine(t, 1)[0]
	block, err := n.Block(ctx, blockHash)
	if err != nil {
		t.Fatalf("Block: %v", err)
	}
	var paid int64 = -1
	for _, btx := range block.Transactions {
		if btx.TxHash() == txid {
			paid = outputValue(btx.TxOut, script)
		}
	}
	if paid != amount {
		t.Fatalf("block %s pays %d to the address in %s, want %d", blockHash, paid, txid, amount)
	}
	tipHeight, tipHash, err := n.TipHeight(ctx)
	if err != nil || tipHash != blockHash {
		t.Fatalf("TipHeight = %d, %s, %v; want the new block %s", tipHeight, tipHash, err, blockHash)
	}
	blockHeight := tipHeight // the block is the tip; check through BlockHash as a watcher would
	if h, err := n.BlockHash(ctx, blockHeight); err != nil || h != blockHash {
		t.Fatalf("BlockHash(%d) = %s, %v; want %s", blockHeight, h, err, blockHash)
	}
	if conf := tipHeight - blockHeight + 1; conf != 1 {
		t.Fatalf("confirmations = %d, want 1", conf)
	}
	pool, err = n.MempoolTxIDs(ctx)
	if err != nil || slices.Contains(pool, txid) {
		t.Fatalf("MempoolTxIDs after mining = %v, %v; want it without %s", pool, err, txid)
	}
	// btcd runs without --txindex, like a default bitcoind: a mined
	// transaction is no longer found by id.
	if _, err := n.RawTransaction(ctx, txid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RawTransaction of a mined tx without txindex = %v, want ErrNotFound", err)
	}
	if _, err := n.Block(ctx, chainhash.Hash{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Block(unknown) = %v, want ErrNotFound", err)
	}
	var rpcErr *RPCError
	if _, err := n.BlockHash(ctx, tipHeight+1); !errors.As(err, &rpcErr) {
		t.Fatalf("BlockHash above the tip = %v, want an RPCError", err)
	}
}

// TestNodeBtcdWrongNetwork runs Check against btcd regtest configured as
// another network.
func TestNodeBtcdWrongNetwork(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	for _, net := range []Network{Mainnet, Testnet, Signet} {
		n, err := NewNode(NodeConfig{URLs: []string{btcd.RPCURL()}, Network: net, Timeout: nodeBtcdTimeout})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Check(context.Background())
		n.Close()
		if !errors.Is(err, ErrWrongNetwork) || !strings.Contains(err.Error(), "(regtest)") ||
			!strings.Contains(err.Error(), "("+string(net)+")") {
			t.Fatalf("Check as %s = %v, want ErrWrongNetwork naming regtest and %s", net, err, net)
		}
	}
}

// TestNodeBtcdVerbosityDetection starts an endpoint in boolean getblock mode:
// btcd v0.24.2 rejects a boolean, and Node must switch back to an integer.
func TestNodeBtcdVerbosityDetection(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	hash := btcd.Mine(t, 1)[0]
	n := newBtcdNode(t, btcd.RPCURL())
	n.rpc.endpoints[0].getblockBool.Store(true)
	block, err := n.Block(context.Background(), hash)
	if err != nil || block.BlockHash() != hash {
		t.Fatalf("Block = %v; want block %s after switching verbosity type", err, hash)
	}
	if n.rpc.endpoints[0].getblockBool.Load() {
		t.Fatal("endpoint still in boolean verbosity mode after btcd rejected it")
	}
}

// TestNodeBtcdOutageAndFailover stops btcd mid-test: calls fail fast with
// ErrUnreachable, a dead first URL fails over to the live one, and after a
// restart calls succeed again.
func TestNodeBtcdOutageAndFailover(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	btcd.Mine(t, 2)
	n := newBtcdNode(t, btcd.RPCURL())
	ctx := context.Background()
	if h, _, err := n.TipHeight(ctx); err != nil || h != 2 {
		t.Fatalf("TipHeight = %d, %v; want 2", h, err)
	}

	btcd.Stop()
	calls := map[string]func() error{
		"TipHeight":    func() error { _, _, err := n.TipHeight(ctx); return err },
		"BlockHash":    func() error { _, err := n.BlockHash(ctx, 1); return err },
		"Block":        func() error { _, err := n.Block(ctx, chainhash.Hash{1}); return err },
		"MempoolTxIDs": func() error { _, err := n.MempoolTxIDs(ctx); return err },
		"Check":        func() error { return n.Check(ctx) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if elapsed := time.Since(start); elapsed > nodeBtcdTimeout {
			t.Errorf("%s on a stopped node took %s, longer than the %s timeout", name, elapsed, nodeBtcdTimeout)
		}
		if !errors.Is(err, ErrUnreachable) {
			t.Errorf("%s on a stopped node = %v, want ErrUnreachable", name, err)
		}
	}

	btcd.Restart(t)
	// btcd wipes regtest on start: the chain is back at genesis.
	if err := n.Check(ctx); err != nil {
		t.Fatalf("Check after restart: %v", err)
	}
	if h, _, err := n.TipHeight(ctx); err != nil || h != 0 {
		t.Fatalf("TipHeight after restart = %d, %v; want 0 (regtest is wiped)", h, err)
	}
	want := btcd.Mine(t, 1)[0]

	// A dead endpoint listed first fails over to the live one.
	failover := newBtcdNode(t, "http://u:p@127.0.0.1:1", btcd.RPCURL())
	if h, hash, err := failover.TipHeight(ctx); err != nil || h != 1 || hash != want {
		t.Fatalf("TipHeight with a dead first URL = %d, %s, %v; want 1, %s", h, hash, err, want)
	}
	if block, err := failover.Block(ctx, want); err != nil || block.BlockHash() != want {
		t.Fatalf("Block after failover = %v", err)
	}
}

// outputValue sums the outputs paying script.
func outputValue(outs []*wire.TxOut, script []byte) int64 {
	var sum int64
	for _, o := range outs {
		if bytes.Equal(o.PkScript, script) {
			sum += o.Value
		}
	}
	return sum
}
