package btcdtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
)

// SegwitHeight is the tip height the harness mines to before its first
// payment (see regtest.SegwitHeight).
const SegwitHeight = regtest.SegwitHeight

// callTimeout bounds Call.
const callTimeout = 30 * time.Second

// Option changes how Start runs btcd.
type Option func(*regtest.Config)

// WithTxIndex runs btcd with --txindex, so getrawtransaction also finds
// confirmed transactions. The default is off, like bitcoind's, so tests prove
// that code under test does not depend on a transaction index.
func WithTxIndex() Option {
	return func(c *regtest.Config) { c.TxIndex = true }
}

// WithArgs appends extra command-line flags for btcd.
func WithArgs(args ...string) Option {
	return func(c *regtest.Config) { c.ExtraArgs = append(c.ExtraArgs, args...) }
}

// Node is a running btcd regtest node plus a small wallet owned by the test.
// Its methods are safe for concurrent use, but the ones taking a testing.TB
// must be called from the goroutine running that test.
type Node struct {
	node *regtest.Node
}

// RPCError is an error object returned by btcd.
type RPCError = regtest.RPCError

// Start runs a fresh btcd --regtest node and stops it when the test ends. It
// fails the test when btcd cannot be found or does not answer RPC in time.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	bin, err := findBtcd()
	if err != nil {
		t.Fatal(err)
	}
	cfg := regtest.Config{Binary: bin, DataDir: t.TempDir()}
	for _, o := range opts {
		o(&cfg)
	}
	node, err := regtest.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	n := &Node{node: node}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("btcdtest: last btcd output:\n%s", node.OutputTail())
		}
	})
	return n
}

// findBtcd locates the pinned btcd binary (regtest.FindBtcd).
func findBtcd() (string, error) { return regtest.FindBtcd() }

// Regtest returns the underlying node, whose methods return errors instead of
// failing the test.
func (n *Node) Regtest() *regtest.Node { return n.node }

// Stop stops the btcd process and waits for it to exit: gracefully first,
// killing it after a few seconds. It is idempotent; after Stop, RPC calls fail
// with connection refused until Restart.
func (n *Node) Stop() {
	_ = n.node.Stop() // the data directory belongs to the test: nothing to remove
}

// Restart stops the node (if running) and starts it again on the same port
// with the same credentials. btcd wipes its regtest chain on every start, so
// the node comes back at height 0 and the harness wallet is emptied.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.node.Restart(context.Background()); err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
}

// RPCURL returns the node's JSON-RPC endpoint with credentials,
// http://user:pass@127.0.0.1:port.
func (n *Node) RPCURL() string { return n.node.RPCURL() }

// Params returns the chain parameters of the node (regtest).
func (n *Node) Params() *chaincfg.Params { return n.node.Params() }

// MiningAddress returns the harness-owned P2WPKH address that receives every
// coinbase.
func (n *Node) MiningAddress() btcutil.Address { return n.node.MiningAddress() }

// Mine generates n blocks (btcd's generate RPC), including mempool
// transactions, and returns their hashes in order.
func (n *Node) Mine(t testing.TB, count int) []chainhash.Hash {
	t.Helper()
	hashes, err := n.node.Mine(context.Background(), count)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return hashes
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
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	h, err := n.node.TipHeight(ctx)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return h
}

// Call runs a JSON-RPC method and fails the test on any error.
func (n *Node) Call(t testing.TB, method string, params ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	raw, err := n.node.Call(ctx, method, params...)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return raw
}

// TryCall runs a JSON-RPC method and returns its raw result or an error
// (an *RPCError when btcd answered with one).
func (n *Node) TryCall(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	return n.node.Call(ctx, method, params...)
}

// Fund makes sure the harness can pay: it mines the chain up to SegwitHeight
// (so P2WPKH coinbases are spendable) when it is shorter. Pay and Send call it
// themselves; call it directly to move the mining out of the measured part of
// a test.
func (n *Node) Fund(t testing.TB) {
	t.Helper()
	if err := n.node.Fund(context.Background()); err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
}

// Pay sends sats satoshi to address in a transaction signed by the harness key,
// broadcasts it with sendrawtransaction and returns its id. Change goes back to
// the harness. The transaction stays in the mempool until the test mines.
func (n *Node) Pay(t testing.TB, address btcutil.Address, sats int64) chainhash.Hash {
	t.Helper()
	txid, err := n.node.Pay(context.Background(), address, sats)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return txid
}

// BumpFee replaces a harness transaction still in the mempool by one paying the same
// outputs with extraFee satoshi more fee (BIP 125 replace-by-fee), and returns it.
func (n *Node) BumpFee(t testing.TB, tx *wire.MsgTx, extraFee int64) *wire.MsgTx {
	t.Helper()
	bumped, err := n.node.BumpFee(context.Background(), tx, extraFee)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return bumped
}

// Send broadcasts a transaction with the given outputs (plus change to the
// harness), signed by the harness key, and returns it.
func (n *Node) Send(t testing.TB, outputs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx, err := n.node.Send(context.Background(), outputs...)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	return tx
}
