package watcher_test

import (
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// TestEthereumReconciliationInRotation: with 7 watched addresses and 2 reconciled per block
// (a period of 4 blocks), an internal ETH payment (a contract's call, no transaction or log
// to the deposit address) is still found, within the period, once, and for exactly the
// amount not paid by a top-level transaction to the same address two blocks before it.
func TestEthereumReconciliationInRotation(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	src := e.source(t, watcher.EthereumConfig{Chain: "ethereum", ChainID: 1337, ReconcilePerBlock: 2,
		Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: e.usdc, Decimals: 6}}})
	f := watcher.NewFollower(e.shop.st, src, e.shop.svc, watcher.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	step := func() {
		t.Helper()
		if _, err := f.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const n, perBlock = 7, 2
	period := (n + perBlock - 1) / perBlock
	var ids []string
	var opts []store.PaymentOption
	for range n {
		id, o := e.shop.invoice(t, "20.00", 1, "ETH")
		ids, opts = append(ids, id), append(opts, o)
	}
	e.commit(1)
	step() // all 7 watched and based
	if a := src.Watching(); a != n {
		t.Fatalf("watching %d addresses, want %d", a, n)
	}
	// Rotate a little first, so the paid address's turn is not simply the next block.
	for range 3 {
		e.commit(1)
		step()
	}
	k := 5
	top := big.NewInt(3e15)
	internal := new(big.Int).Sub(opts[k].AmountDue, top)
	e.payETH(opts[k].Address, top, true)
	step()
	e.commit(1)
	step()
	e.payInternal(opts[k].Address, internal, true)
	paidAt, err := src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := int64(-1)
	for range 2 * period {
		step()
		if found < 0 {
			for _, p := range e.shop.get(t, ids[k]).Payments {
				if strings.HasPrefix(p.TxID, "balance:") {
					found = *p.BlockHeight
				}
			}
		}
		e.commit(1)
	}
	if found < 0 {
		t.Fatalf("internal payment in block %d not found within %d blocks", paidAt.Height, 2*period)
	}
	if lag := found - paidAt.Height; lag >= int64(period) {
		t.Fatalf("internal payment in block %d found in block %d: %d blocks later, period %d", paidAt.Height, found, lag, period)
	}
	d := e.shop.get(t, ids[k])
	var pseudo []store.Payment
	for _, p := range d.Payments {
		if strings.HasPrefix(p.TxID, "balance:") {
			pseudo = append(pseudo, p)
		}
	}
	if len(d.Payments) != 2 || len(pseudo) != 1 || pseudo[0].Amount.Cmp(internal) != 0 {
		t.Fatalf("payments %+v, want the top-level one and one pseudo-transfer of %s", d.Payments, internal)
	}
	if d.Invoice.Status != store.StatusSettled {
		t.Fatalf("invoice %s, want settled", d.Invoice.Status)
	}
	t.Logf("internal payment in block %d found in block %d (period %d blocks)", paidAt.Height, found, period)
	for i, id := range ids {
		if i != k && len(e.shop.get(t, id).Payments) != 0 {
			t.Fatalf("unpaid invoice %d has payments", i)
		}
	}
}
