package watcher_test

import (
	"context"
	"errors"
	"slices"
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

// TestBitcoinSourceUnwatch (issue 22): an unwatched address is no longer matched, and its
// slot is reused by the next address watched, which is matched under its own name.
func TestBitcoinSourceUnwatch(t *testing.T) {
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
	}
	block := wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0, 0))
	if err := block.AddTransaction(tx); err != nil {
		t.Fatal(err)
	}
	src, err := watcher.NewBitcoinSource(oneBlockNode{block}, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	matched := func() []string {
		t.Helper()
		b, err := src.BlockAt(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range b.Transfers {
			out = append(out, tr.Address)
		}
		slices.Sort(out)
		return out
	}
	if err := src.Watch(addrs[:2]); err != nil {
		t.Fatal(err)
	}
	if got, want := matched(), slices.Sorted(slices.Values(addrs[:2])); !slices.Equal(got, want) {
		t.Fatalf("matched %v, want %v", got, want)
	}
	src.Unwatch([]string{addrs[0], "not-watched"})
	if got := matched(); !slices.Equal(got, addrs[1:2]) {
		t.Fatalf("after unwatching %s: matched %v", addrs[0], got)
	}
	if err := src.Watch(addrs[2:]); err != nil { // takes the freed slot
		t.Fatal(err)
	}
	if got, want := matched(), slices.Sorted(slices.Values(addrs[1:])); !slices.Equal(got, want) {
		t.Fatalf("after watching %s: matched %v, want %v", addrs[2], got, want)
	}
}
