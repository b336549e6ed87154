package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// TestPaidBeforeTheFirstFollowerStep is the regression test of issue 29's run 1: on a
// fresh database the first serve process hands out an address and is killed before its
// follower ever steps (or its follower waits out the lease of a killed predecessor);
// the invoice is paid and more blocks come; the next process's follower must still scan
// the block with the payment. Before serve fixed the cursor ahead of serving, the
// follower's first step created it at the tip of that moment, above the payment, and
// the payment was never recorded.
func TestPaidBeforeTheFirstFollowerStep(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	btcd.Fund(t)
	tpub, err := regtest.MerchantTpub(devSeed[:])
	if err != nil {
		t.Fatal(err)
	}
	wallet, err := bitcoin.ParseWallet(tpub, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			// Not parallel: the subtests share the node and each needs its own blocks.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st := b.Open(t)
			now := time.Now().UTC()
			mid := store.NewID("sto", now)
			if err := st.Tx(ctx, func(tx store.Tx) error {
				if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "shop", CreatedAt: now}); err != nil {
					return err
				}
				return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin",
					Network: "regtest", Descriptor: wallet.Descriptor(), CreatedAt: now})
			}); err != nil {
				t.Fatal(err)
			}
			process := func() *app { // one `chainpay serve` as run prepares it, before it serves
				t.Helper()
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				rateSvc, pairs := fixedRates(t, "BTC-USD=60000")
				w := &wiring{publicURL: "http://127.0.0.1:0", rates: rateSvc, pairs: pairs, guard: webhooks.Guard{AllowPrivate: true},
					btc: &btcWiring{network: bitcoin.Regtest, confs: 1, rpc: []string{btcd.RPCURL()}, poll: 100 * time.Millisecond}}
				if st.Dialect() == "postgres" {
					w.holder = holderID()
				}
				a, err := buildApp(ctx, st, w, log)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.anchorCursors(ctx); err != nil {
					t.Fatal(err)
				}
				return a
			}

			// The first process creates an invoice and dies before its follower starts.
			first := process()
			d, err := first.inv.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			o := d.Options[0]
			addr, err := btcutil.DecodeAddress(o.Address, btcd.Params())
			if err != nil {
				t.Fatal(err)
			}
			btcd.Pay(t, addr, o.AmountDue.Int64())
			btcd.Mine(t, 2) // the payment's block and one above it

			// The next process follows the chain.
			next := process()
			next.start(ctx)
			defer next.stop()
			for {
				got, err := next.inv.Get(ctx, mid, d.Invoice.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Invoice.Status == string(invoices.StatusSettled) && len(got.Payments) == 1 {
					return
				}
				select {
				case <-ctx.Done():
					t.Fatalf("invoice %s is %s with %d payments: the payment's block was never scanned", d.Invoice.ID,
						got.Invoice.Status, len(got.Payments))
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
}
