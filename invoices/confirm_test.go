package invoices_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// coin is a bitcoin-like chain for these tests requiring confs confirmations.
type coin struct{ confs int }

func (coin) Assets(store.Wallet) ([]money.Asset, error) {
	return []money.Asset{{Code: "BTC", Scale: 8, Chain: "bitcoin"}}, nil
}
func (coin) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	i, err := tx.AllocateIndex(ctx, w.ID)
	return fmt.Sprintf("addr-%s-%d", w.ID, i), &i, err
}
func (coin) PaymentURI(store.PaymentOption, *big.Int, string) string { return "" }
func (c coin) Confirmations() int                                    { return c.confs }

type rate struct{}

func (rate) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("50000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// TestPaymentConfirmedOnce drives the review (what the watcher calls) on both backends, each
// closure run twice (RetryTwice): invoice.payment_confirmed is stored once per payment, when
// it reaches its option's confirmations (0: on sight, after its payment_received), and not
// again on re-review, re-observation, a restarted service, or a reorg that takes the
// payment out and mines it again.
func TestPaymentConfirmedOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.RetryTwice(b.Open(t))
			newService := func(confs int) *invoices.Service {
				svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": coin{confs}}, Quoter: rate{}})
				if err != nil {
					t.Fatal(err)
				}
				return svc
			}
			now := time.Now().UTC()
			if err := st.Tx(ctx, func(tx store.Tx) error {
				for _, m := range []string{"sto_2", "sto_0"} {
					if err := tx.CreateMerchant(ctx, store.Merchant{ID: m, Name: m, CreatedAt: now}); err != nil {
						return err
					}
					if err := tx.CreateWallet(ctx, store.Wallet{ID: "wal_" + m, MerchantID: m, Chain: "bitcoin", Network: "regtest", CreatedAt: now}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			svc := newService(2)
			d, err := svc.Create(ctx, "sto_2", invoices.CreateRequest{Amount: "100.00", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			o := d.Options[0]
			// observe stores the payment's sighting at height h (0: mempool, -1: removed)
			// with the tip at tip, and reviews the invoice, as a follower does.
			observe := func(svc *invoices.Service, inv string, o store.PaymentOption, h, tip int64) {
				t.Helper()
				p := store.Payment{ID: store.NewID("pay", time.Now()), InvoiceID: inv, OptionID: o.ID, Chain: "bitcoin", TxID: "tx-" + inv,
					Address: o.Address, Asset: "BTC", Amount: o.AmountDue, Status: store.PaymentMempool, SeenAt: now, UpdatedAt: time.Now().UTC()}
				switch {
				case h > 0:
					p.Status, p.BlockHeight, p.BlockHash = store.PaymentConfirmed, &h, fmt.Sprintf("b%d", h)
				case h < 0:
					p.Status = store.PaymentRemoved
				}
				if err := st.Tx(ctx, func(tx store.Tx) error {
					inserted, err := tx.UpsertPayment(ctx, p)
					if err != nil {
						return err
					}
					if inserted {
						if err := svc.PaymentReceivedTx(ctx, tx, p); err != nil {
							return err
						}
					}
					if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: tip, Hash: fmt.Sprintf("b%d", tip), UpdatedAt: now}); err != nil {
						return err
					}
					_, err = svc.ReviewTx(ctx, tx, inv)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			confirmed := func(inv string) []store.Event {
				t.Helper()
				var evs []store.Event
				if err := st.View(ctx, func(tx store.Tx) (err error) { evs, err = tx.Events(ctx, inv); return }); err != nil {
					t.Fatal(err)
				}
				var out []store.Event
				for _, e := range evs {
					if e.Type == invoices.EventPaymentConfirmed {
						out = append(out, e)
					}
				}
				return out
			}
			observe(svc, d.Invoice.ID, o, 0, 9) // mempool
			observe(svc, d.Invoice.ID, o, 10, 10)
			if n := len(confirmed(d.Invoice.ID)); n != 0 {
				t.Fatalf("1 of 2 confirmations: %d payment_confirmed events", n)
			}
			observe(svc, d.Invoice.ID, o, 10, 11)
			evs := confirmed(d.Invoice.ID)
			if len(evs) != 1 {
				t.Fatalf("2 of 2 confirmations: %d payment_confirmed events, want 1", len(evs))
			}
			var data struct {
				PaymentID     string `json:"payment_id"`
				TxID          string `json:"txid"`
				Amount        string `json:"amount_atomic"`
				Confirmations int    `json:"confirmations"`
				Required      int    `json:"confirmations_required"`
				BlockHeight   int64  `json:"block_height"`
			}
			if err := json.Unmarshal([]byte(evs[0].Data), &data); err != nil {
				t.Fatal(err)
			}
			got, err := svc.Get(ctx, "sto_2", d.Invoice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Invoice.Status != string(invoices.StatusSettled) || len(got.Payments) != 1 || got.Payments[0].ConfirmedAt == nil {
				t.Fatalf("after 2 confirmations: %s, payments %+v", got.Invoice.Status, got.Payments)
			}
			if data.PaymentID != got.Payments[0].ID || data.TxID != "tx-"+d.Invoice.ID || data.Amount != o.AmountDue.String() ||
				data.Confirmations != 2 || data.Required != 2 || data.BlockHeight != 10 {
				t.Fatalf("event data %s", evs[0].Data)
			}
			first := *got.Payments[0].ConfirmedAt
			// Re-reviewed at later tips, seen again, by a restarted service: nothing more.
			observe(svc, d.Invoice.ID, o, 10, 12)
			observe(newService(2), d.Invoice.ID, o, 10, 13)
			// Reorged out (back to the mempool), then mined again deeper than required.
			if err := st.Tx(ctx, func(tx store.Tx) error {
				if _, err := tx.OrphanPayments(ctx, "bitcoin", 9, now); err != nil {
					return err
				}
				_, err := svc.ReviewTx(ctx, tx, d.Invoice.ID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			observe(svc, d.Invoice.ID, o, 12, 14)
			if n := len(confirmed(d.Invoice.ID)); n != 1 {
				t.Fatalf("after re-review, restart, reorg and re-mining: %d payment_confirmed events, want 1", n)
			}
			if got, _ := svc.Get(ctx, "sto_2", d.Invoice.ID); !got.Payments[0].ConfirmedAt.Equal(first) {
				t.Fatalf("confirmed at %v after re-mining, want the first time %v", got.Payments[0].ConfirmedAt, first)
			}

			// 0 confirmations: confirmed on sight, right after its payment_received; a
			// removed payment never confirms.
			svc0 := newService(0)
			d0, err := svc0.Create(ctx, "sto_0", invoices.CreateRequest{Amount: "10.00", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			observe(svc0, d0.Invoice.ID, d0.Options[0], 0, 14)
			observe(svc0, d0.Invoice.ID, d0.Options[0], 15, 15)
			var all []store.Event
			if err := st.View(ctx, func(tx store.Tx) (err error) { all, err = tx.Events(ctx, d0.Invoice.ID); return }); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range all {
				types = append(types, e.Type)
			}
			want := fmt.Sprint([]string{invoices.EventCreated, invoices.EventPaymentReceived, invoices.EventPaymentConfirmed,
				invoices.EventSettled})
			if fmt.Sprint(types) != want {
				t.Fatalf("0-confirmation events %v, want %s", types, want)
			}
			d1, err := svc0.Create(ctx, "sto_0", invoices.CreateRequest{Amount: "10.00", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			observe(svc0, d1.Invoice.ID, d1.Options[0], -1, 15)
			if n := len(confirmed(d1.Invoice.ID)); n != 0 {
				t.Fatalf("a removed payment confirmed: %d events", n)
			}
		})
	}
}
