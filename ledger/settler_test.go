package ledger_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// coin is a chain for these tests: addresses from the real index allocator.
type coin struct{}

func (coin) Assets(store.Wallet) ([]money.Asset, error) {
	return []money.Asset{{Code: "BTC", Scale: 8, Chain: "bitcoin"}}, nil
}
func (coin) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	i, err := tx.AllocateIndex(ctx, w.ID)
	return fmt.Sprintf("addr-%d", i), &i, err
}
func (coin) PaymentURI(store.PaymentOption, *big.Int, string) string { return "" }
func (coin) Confirmations() int                                      { return 1 }

type rate struct{}

func (rate) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("50000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// TestSettlerPostsInTheSettlingTransaction drives an invoice through the real invoice service
// with the Settler wired in: settling enqueues one record per payment at the locked rate in
// the same transaction; a payment lost after settlement enqueues its reversal once.
func TestSettlerPostsInTheSettlingTransaction(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := b.Open(t)
			settler := &ledger.Settler{
				Fees: func(context.Context, store.Tx, string) (ledger.FeePolicy, error) {
					return ledger.FeePolicy{BasisPoints: 100}, nil
				},
				FairValue: func(string, string) (ledger.Rate, bool) {
					return ledger.Rate{Rate: "50100", Source: "test", At: time.Now().UTC()}, true
				},
			}
			svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": coin{}}, Quoter: rate{}, Settler: settler})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			if err := st.Tx(ctx, func(tx store.Tx) error {
				if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_l", Name: "l", CreatedAt: now}); err != nil {
					return err
				}
				return tx.CreateWallet(ctx, store.Wallet{ID: "wal_l", MerchantID: "sto_l", Chain: "bitcoin", Network: "regtest", CreatedAt: now})
			}); err != nil {
				t.Fatal(err)
			}
			d, err := svc.Create(ctx, "sto_l", invoices.CreateRequest{Amount: "100.00", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			o := d.Options[0] // 100 USD at 50000 = 0.002 BTC = 200000 sats
			h := int64(10)
			half := new(big.Int).Div(o.AmountDue, big.NewInt(2))
			pay := func(id, txid string, amt *big.Int, status string) {
				p := store.Payment{ID: id, InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: "bitcoin", TxID: txid, Address: o.Address,
					Asset: "BTC", Amount: amt, Status: status, SeenAt: now, UpdatedAt: time.Now().UTC()}
				if status == store.PaymentConfirmed {
					p.BlockHeight, p.BlockHash = &h, "b10"
				}
				if err := st.Tx(ctx, func(tx store.Tx) error {
					if _, err := tx.UpsertPayment(ctx, p); err != nil {
						return err
					}
					if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 10, Hash: "b10", UpdatedAt: now}); err != nil {
						return err
					}
					_, err := svc.ReviewTx(ctx, tx, d.Invoice.ID)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			pay("pay_a", "tx_a", half, store.PaymentConfirmed)
			pay("pay_b", "tx_b", new(big.Int).Sub(o.AmountDue, half), store.PaymentConfirmed)
			var msgs []store.OutboxMessage
			if err := st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return }); err != nil {
				t.Fatal(err)
			}
			// pay_a confirmed on an invoice not yet paid in full: an unapplied receipt; the
			// settlement clears it and charges both payments.
			if len(msgs) != 4 {
				t.Fatalf("%d ledger messages after settlement, want the receipt, its clearing and two charges", len(msgs))
			}
			gross := new(big.Int)
			for _, m := range msgs {
				r, err := ledger.ParseRecord([]byte(m.Payload))
				if err != nil {
					t.Fatal(err)
				}
				if r.IdempotencyKey != m.Key || r.MerchantID != "sto_l" || r.Currency != "USD" || r.FairValue == nil && r.Reverses == "" {
					t.Fatalf("record %+v", r)
				}
				if r.ReportingCategory == ledger.CategoryCharge {
					gross.Add(gross, r.Gross)
				}
			}
			if gross.Cmp(big.NewInt(10000)) != 0 {
				t.Fatalf("gross %s minor units, want exactly the price 10000", gross)
			}
			// The second payment is lost after settlement: one reversal, never two.
			for range 2 {
				pay("pay_b", "tx_b", new(big.Int).Sub(o.AmountDue, half), store.PaymentRemoved)
			}
			if err := st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return }); err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 5 || msgs[4].Key != ledger.ReversalKey(ledger.SettlementKey("pay_b")) {
				var keys []string
				for _, m := range msgs {
					keys = append(keys, m.Key)
				}
				t.Fatalf("after the reorg: %v", keys)
			}
			// The merchant then marks the invoice invalid (refunded outside chainpay): the
			// remaining settlement is reversed too, once.
			if err := st.Tx(ctx, func(tx store.Tx) error {
				_, err := svc.ResolveTx(ctx, tx, "sto_l", d.Invoice.ID, invoices.StatusInvalid, "refunded by bank transfer")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return }); err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, m := range msgs {
				keys[m.Key] = true
			}
			// pay_a leaves revenue (reversed) and, still being money the merchant holds on an
			// invoice that no longer accepts it, becomes an unapplied receipt.
			if len(msgs) != 7 || !keys[ledger.ReversalKey(ledger.SettlementKeyRound("pay_a", 3))] || !keys[ledger.UnappliedKey("pay_a", 5)] {
				t.Fatalf("after resolving to invalid: %v", keys)
			}
			for _, m := range msgs {
				r, err := ledger.ParseRecord([]byte(m.Payload))
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{ledger.ReversalKey(ledger.SettlementKeyRound("pay_a", 3)): "resolved_invalid",
					ledger.ReversalKey(ledger.SettlementKey("pay_b")): "reorg", ledger.ReversalKey(ledger.UnappliedKey("pay_a", 1)): "applied"}[m.Key]
				if r.Metadata["reversal_reason"] != want {
					t.Fatalf("%s: reversal_reason %q, want %q", m.Key, r.Metadata["reversal_reason"], want)
				}
				if m.Key == ledger.UnappliedKey("pay_a", 5) && (r.ReportingCategory != ledger.CategoryUnappliedReceipt ||
					r.Metadata["unapplied_reason"] != ledger.ReasonResolvedInvalid || r.Gross.Cmp(big.NewInt(5000)) != 0) {
					t.Fatalf("unapplied receipt %+v", r)
				}
			}
		})
	}
}

// TestSettlerZeroConfirmations: a store that settles at 0 confirmations settles the invoice
// on a mempool payment (the review must not fail: that would stall the follower) and books
// the payment when it confirms.
func TestSettlerZeroConfirmations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": coin{}}, Quoter: rate{},
		Settler: &ledger.Settler{}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_z", Name: "z", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: "wal_z", MerchantID: "sto_z", Chain: "bitcoin", Network: "regtest", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Create(ctx, "sto_z", invoices.CreateRequest{Amount: "10.00", Currency: "USD", Confirmations: map[string]int{"bitcoin": 0}})
	if err != nil {
		t.Fatal(err)
	}
	o := d.Options[0]
	p := store.Payment{ID: "pay_z", InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: "bitcoin", TxID: "tx_z", Address: o.Address,
		Asset: "BTC", Amount: o.AmountDue, Status: store.PaymentMempool, SeenAt: now, UpdatedAt: now}
	var evs []string
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, p); err != nil {
			return err
		}
		evs, err = svc.ReviewTx(ctx, tx, d.Invoice.ID)
		return err
	}); err != nil {
		t.Fatalf("review of a 0-confirmation settlement: %v", err)
	}
	var msgs []store.OutboxMessage
	if err := st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return }); err != nil {
		t.Fatal(err)
	}
	// Settled at 0 confirmations, booked on the first: the journal holds confirmed money.
	if len(msgs) != 0 || len(evs) == 0 {
		t.Fatalf("events %v, ledger messages %+v before the payment confirmed", evs, msgs)
	}
	h := int64(5)
	p.Status, p.BlockHeight, p.BlockHash = store.PaymentConfirmed, &h, "b5"
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, p); err != nil {
			return err
		}
		if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 5, Hash: "b5", UpdatedAt: now}); err != nil {
			return err
		}
		evs, err = svc.ReviewTx(ctx, tx, d.Invoice.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return }); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Key != ledger.SettlementKey("pay_z") || strings.Contains(msgs[0].Payload, `"unconfirmed"`) {
		t.Fatalf("events %v, ledger messages %+v after the confirmation", evs, msgs)
	}
}
