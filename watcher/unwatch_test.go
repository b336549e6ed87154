package watcher_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/watcher"
)

// oneBlockNode is a BitcoinNode with a single block at height 1 and an empty mempool.
type oneBlockNode struct{ block *wire.MsgBlock }

func (n oneBlockNode) TipHeight(context.Context) (int64, chainhash.Hash, error) {
	return 1, n.block.BlockHash(), nil
}
func (n oneBlockNode) BlockHash(_ context.Context, h int64) (chainhash.Hash, error) {
	if h != 1 {
		return chainhash.Hash{}, errors.New("no block")
	}
	return n.block.BlockHash(), nil
}
func (n oneBlockNode) Block(context.Context, chainhash.Hash) (*wire.MsgBlock, error) {
	return n.block, nil
}
func (n oneBlockNode) MempoolTxIDs(context.Context) ([]chainhash.Hash, error) { return nil, nil }
func (n oneBlockNode) RawTransaction(context.Context, chainhash.Hash) (*wire.MsgTx, error) {
	return nil, errors.New("no transaction")
}

// TestBitcoinSourceReportsEveryAddress (issue 22): the source keeps no watch set; a block's
// every output to an address is a candidate transfer, with its amount, its index and the
// outpoints its transaction spends, and the follower matches them in the store.
func TestBitcoinSourceReportsEveryAddress(t *testing.T) {
	t.Parallel()
	addrs := make([]string, 3)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 7}})
	for i := range addrs {
		a, err := btcutil.NewAddressWitnessPubKeyHash(slices.Repeat([]byte{byte(i + 1)}, 20), &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a.EncodeAddress()
		script, err := txscript.PayToAddrScript(a)
		if err != nil {
			t.Fatal(err)
		}
		tx.AddTxOut(wire.NewTxOut(int64(1000*(i+1)), script))
		tx.AddTxOut(wire.NewTxOut(1, []byte{0x6a, 1, byte(i)})) // OP_RETURN: no address
	}
	block := wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0, 0))
	if err := block.AddTransaction(tx); err != nil {
		t.Fatal(err)
	}
	src, err := watcher.NewBitcoinSource(oneBlockNode{block}, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.BlockAt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transfers) != len(addrs) {
		t.Fatalf("%d transfers, want %d: %+v", len(b.Transfers), len(addrs), b.Transfers)
	}
	for i, tr := range b.Transfers {
		if tr.Address != addrs[i] || tr.Index != int64(2*i) || tr.Amount.Int64() != int64(1000*(i+1)) || tr.Asset != "BTC" ||
			tr.TxID != tx.TxHash().String() || !slices.Equal(tr.Spends, []string{wire.OutPoint{Index: 7}.String()}) {
			t.Fatalf("transfer %d: %+v", i, tr)
		}
	}
	if _, ok := any(src).(watcher.Watcher); ok {
		t.Fatal("the Bitcoin source is a watcher.Watcher: the follower would keep an address map for it")
	}
}

// TestFilteredSourceMustTakeAddresses: a wrapper that hides a filtered source's Watch (so
// that it would be handed no address and report nothing) stops the follower with an error
// naming the cause, instead of a follower that silently records no payment.
func TestFilteredSourceMustTakeAddresses(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t, 1)
	e.chain.watching() // filtered from now on
	hidden := struct{ watcher.Source }{e.chain}
	f := watcher.NewFollower(e.shop.st, hidden, e.shop.svc, watcher.Config{Now: e.clock.Now, Logger: quiet()})
	_, err := f.Step(ctx)
	if err == nil || !strings.Contains(err.Error(), "not a watcher.Watcher") {
		t.Fatalf("Step: %v, want the missing Watch named", err)
	}
}
