package ledger_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// books is one scenario of issue 20 driven through the real invoice service and state
// machine with the Settler wired in: a chain tip the test moves, payments it upserts, a
// relay delivering to the journal through a sink that rejects out-of-order records, and
// ledger.Verify at the end.
type books struct {
	t     testing.TB
	st    store.Store
	svc   *invoices.Service
	mu    sync.Mutex
	now   time.Time
	tip   int64
	sink  *ledger.OrderedSink
	relay *ledger.Relay
}

func newBooks(t testing.TB, b storetest.Backend) *books {
	t.Helper()
	w := &books{t: t, st: b.Open(t), now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), tip: 100}
	svc, err := invoices.New(w.st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": coin{}}, Quoter: rate{},
		Settler: &ledger.Settler{}, Now: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	w.tx(func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_b", Name: "b", CreatedAt: w.now}); err != nil {
			return err
		}
		if err := tx.CreateWallet(ctx, store.Wallet{ID: "wal_b", MerchantID: "sto_b", Chain: "bitcoin", Network: "regtest", CreatedAt: w.now}); err != nil {
			return err
		}
		return tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: w.tip, Hash: "b100", UpdatedAt: w.now})
	})
	w.sink = ledger.NewOrderedSink(ledger.NewJournal(w.st, w.clock))
	w.relay, err = ledger.NewRelay(w.st, w.sink, ledger.RelayConfig{Holder: "books", Now: w.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var ctx = context.Background()

func (w *books) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *books) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func (w *books) tx(fn func(store.Tx) error) {
	w.t.Helper()
	if err := w.st.Tx(ctx, fn); err != nil {
		w.t.Fatal(err)
	}
}

// invoice creates a USD invoice (100 USD at 50000 = 200000 sats) with tolerance pct.
func (w *books) invoice(pct string) invoices.Details {
	w.t.Helper()
	d, err := w.svc.Create(ctx, "sto_b", invoices.CreateRequest{Amount: "100.00", Currency: "USD", TolerancePercent: pct})
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// pay upserts a payment of sats to the invoice's option and reviews the invoice. height 0
// means in the mempool; status removed takes it off the chain.
func (w *books) pay(d invoices.Details, id string, sats int64, status string, height int64) {
	w.t.Helper()
	o := d.Options[0]
	p := store.Payment{ID: id, InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: "bitcoin", TxID: "tx_" + id, Address: o.Address,
		Asset: "BTC", Amount: big.NewInt(sats), Status: status, SeenAt: w.clock(), UpdatedAt: w.clock()}
	if height > 0 {
		p.BlockHeight, p.BlockHash = &height, fmt.Sprintf("b%d", height)
	}
	var seen []store.Payment
	w.tx(func(tx store.Tx) (err error) { seen, err = tx.Payments(ctx, d.Invoice.ID); return })
	for _, q := range seen {
		if q.ID == id {
			p.SeenAt = q.SeenAt // a later sighting keeps the first one's time
		}
	}
	w.tx(func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, p); err != nil {
			return err
		}
		_, err := w.svc.ReviewTx(ctx, tx, d.Invoice.ID)
		return err
	})
	w.advance(time.Second)
}

// mine moves the tip up by n blocks and re-reviews the invoices (the follower re-reviews
// every invoice with a payment below its confirmations on each block).
func (w *books) mine(n int64, ds ...invoices.Details) {
	w.t.Helper()
	w.tip += n
	w.tx(func(tx store.Tx) error {
		if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: w.tip, Hash: fmt.Sprintf("b%d", w.tip), UpdatedAt: w.clock()}); err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := w.svc.ReviewTx(ctx, tx, d.Invoice.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *books) review(d invoices.Details) {
	w.t.Helper()
	w.tx(func(tx store.Tx) error { _, err := w.svc.ReviewTx(ctx, tx, d.Invoice.ID); return err })
}

func (w *books) resolve(d invoices.Details, to invoices.Status) {
	w.t.Helper()
	w.tx(func(tx store.Tx) error {
		_, err := w.svc.ResolveTx(ctx, tx, "sto_b", d.Invoice.ID, to, "decided by hand")
		return err
	})
	w.advance(time.Second)
}

// drain delivers the outbox to the journal and fails on anything parked.
func (w *books) drain() {
	w.t.Helper()
	for range 100 {
		n, err := w.relay.RunOnce(ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	parked, err := w.relay.Parked(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range parked {
		w.t.Errorf("parked %s: %s", m.Key, m.LastError)
	}
}

// booked returns the journal's applied and unapplied amounts of a payment, in cents.
func (w *books) booked(payID string) (applied, unapplied int64) {
	w.t.Helper()
	var rows []store.LedgerRecord
	w.tx(func(tx store.Tx) (err error) {
		rows, err = tx.LedgerRecords(ctx, store.LedgerFilter{MerchantID: "sto_b"})
		return
	})
	for _, r := range rows {
		if r.SourceID != payID {
			continue
		}
		switch r.ReportingCategory {
		case ledger.CategoryCharge, ledger.CategoryChargeReversal:
			applied += r.Gross.Int64()
		case ledger.CategoryUnappliedReceipt, ledger.CategoryUnappliedCleared:
			unapplied += r.Gross.Int64()
		}
	}
	return applied, unapplied
}

// want checks a payment's journal after draining.
func (w *books) want(payID string, applied, unapplied int64) {
	w.t.Helper()
	w.drain()
	if a, u := w.booked(payID); a != applied || u != unapplied {
		w.t.Fatalf("%s booked applied %d unapplied %d cents, want %d and %d", payID, a, u, applied, unapplied)
	}
}

// reasons lists the metadata reasons of a payment's records in sequence order.
func (w *books) reasons(payID string) []string {
	w.t.Helper()
	var msgs []store.OutboxMessage
	w.tx(func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return })
	var out []string
	for _, m := range msgs {
		r, err := ledger.ParseRecord([]byte(m.Payload))
		if err != nil {
			w.t.Fatal(err)
		}
		if r.SourceID != payID {
			continue
		}
		seq, err := strconv.Atoi(r.Metadata["payment_sequence"])
		if err != nil || seq < 1 {
			w.t.Fatalf("%s: payment_sequence %q", m.Key, r.Metadata["payment_sequence"])
		}
		for len(out) < seq {
			out = append(out, "")
		}
		out[seq-1] = r.ReportingCategory + "/" + r.Metadata["unapplied_reason"] + r.Metadata["reversal_reason"]
	}
	return out
}

// verify runs ledger.Verify and fails on any difference, logging its output.
func (w *books) verify() {
	w.t.Helper()
	w.drain()
	diffs, err := ledger.Verify(ctx, w.st, "")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range diffs {
		w.t.Errorf("ledger verify: %s", d)
	}
	w.t.Logf("ledger verify: %d differences", len(diffs))
}

// Case 1: a second payment (a tolerance top-up still in the mempool at settlement), confirmed
// after settlement, is booked; one more beyond the price is an unapplied receipt.
func TestBooksTopUpAfterSettlement(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			d := w.invoice("5")
			w.pay(d, "pay_1", 192000, store.PaymentConfirmed, w.tip) // 96 %: settles within 5 %
			w.pay(d, "pay_2", 8000, store.PaymentMempool, 0)         // the top-up, unconfirmed
			w.want("pay_1", 9600, 0)
			w.want("pay_2", 0, 0)
			w.mine(1)
			w.pay(d, "pay_2", 8000, store.PaymentConfirmed, w.tip)
			w.want("pay_2", 400, 0) // 50.00 received in the API = 50.00 in the books
			w.pay(d, "pay_3", 10000, store.PaymentConfirmed, w.tip)
			w.want("pay_3", 0, 500)
			if r := w.reasons("pay_3"); len(r) != 1 || r[0] != "unapplied_receipt/beyond_price" {
				t.Fatalf("pay_3 records %v", r)
			}
			w.verify()
		})
	}
}

// Case 2: a processing invoice the merchant marks settled books its payment when it
// confirms.
func TestBooksMarkedSettledBooksOnConfirmation(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			d := w.invoice("")
			w.pay(d, "pay_1", 200000, store.PaymentMempool, 0)
			w.resolve(d, invoices.StatusSettled) // ships on 0-conf
			w.want("pay_1", 0, 0)
			w.mine(1)
			w.pay(d, "pay_1", 200000, store.PaymentConfirmed, w.tip)
			w.want("pay_1", 10000, 0)
			w.verify()
		})
	}
}

// Case 3: money paid to a canceled or an expired invoice is an unapplied receipt; accepting
// it later clears the receipt and books the charge.
func TestBooksUnappliedReceiptOnCanceledAndExpired(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			canceled := w.invoice("")
			w.tx(func(tx store.Tx) error { _, err := w.svc.CancelTx(ctx, tx, "sto_b", canceled.Invoice.ID); return err })
			expired := w.invoice("")
			w.advance(time.Hour)
			w.review(expired)
			w.pay(canceled, "pay_c", 200000, store.PaymentConfirmed, w.tip)
			w.pay(expired, "pay_e", 200000, store.PaymentConfirmed, w.tip)
			w.want("pay_c", 0, 10000)
			w.want("pay_e", 0, 10000)
			if r := w.reasons("pay_c"); len(r) != 1 || r[0] != "unapplied_receipt/invoice_canceled" {
				t.Fatalf("pay_c records %v", r)
			}
			if r := w.reasons("pay_e"); len(r) != 1 || r[0] != "unapplied_receipt/invoice_expired" {
				t.Fatalf("pay_e records %v", r)
			}
			w.resolve(expired, invoices.StatusSettled)
			w.want("pay_e", 10000, 0)
			if r := w.reasons("pay_e"); strings.Join(r, " ") != "unapplied_receipt/invoice_expired unapplied_receipt_cleared/resolved_settled charge/" {
				t.Fatalf("pay_e records %v", r)
			}
			w.verify()
		})
	}
}

// Case 4: re-settlement rounds: settled on p → resolved invalid → q arrives → resolved
// settled → resolved invalid: q's charge, first booked in a later round, is reversed too.
func TestBooksResettlementRounds(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			d := w.invoice("50")
			w.pay(d, "pay_p", 120000, store.PaymentConfirmed, w.tip) // 60 %: settles within 50 %
			w.want("pay_p", 6000, 0)
			w.resolve(d, invoices.StatusInvalid)
			w.want("pay_p", 0, 6000)
			w.pay(d, "pay_q", 80000, store.PaymentConfirmed, w.tip)
			w.want("pay_q", 0, 4000)
			w.resolve(d, invoices.StatusSettled)
			w.want("pay_p", 6000, 0)
			w.want("pay_q", 4000, 0)
			w.resolve(d, invoices.StatusInvalid)
			w.want("pay_p", 0, 6000)
			w.want("pay_q", 0, 4000)
			if r := w.reasons("pay_q"); len(r) != 5 || r[3] != "charge_reversal/resolved_invalid" {
				t.Fatalf("pay_q records %v", r)
			}
			w.verify()
		})
	}
}

// Case 5: a payment removed while the invoice still counts as paid is reversed, and so is a
// second loss on the same invoice.
func TestBooksRemovedWhileStillPaid(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			d := w.invoice("40")
			w.pay(d, "pay_1", 140000, store.PaymentConfirmed, w.tip) // 70 %: settled
			w.pay(d, "pay_2", 60000, store.PaymentConfirmed, w.tip)  // 30 %: applied
			w.want("pay_1", 7000, 0)
			w.want("pay_2", 3000, 0)
			w.pay(d, "pay_2", 60000, store.PaymentRemoved, 0) // still paid at 70 %
			w.want("pay_2", 0, 0)
			w.pay(d, "pay_1", 140000, store.PaymentRemoved, 0) // the second loss
			w.want("pay_1", 0, 0)
			for _, id := range []string{"pay_1", "pay_2"} {
				if r := w.reasons(id); len(r) != 2 || r[1] != "charge_reversal/reorg" {
					t.Fatalf("%s records %v", id, r)
				}
			}
			// A reorg that only lowers the depth below the confirmations reverses too.
			d2 := w.invoice("")
			w.pay(d2, "pay_3", 200000, store.PaymentConfirmed, w.tip)
			w.want("pay_3", 10000, 0)
			w.tx(func(tx store.Tx) error { // a reorg takes its block away
				if _, err := tx.OrphanPayments(ctx, "bitcoin", w.tip-1, w.clock()); err != nil {
					return err
				}
				_, err := w.svc.ReviewTx(ctx, tx, d2.Invoice.ID)
				return err
			})
			w.want("pay_3", 0, 0)
			w.pay(d2, "pay_3", 200000, store.PaymentConfirmed, w.tip)
			w.want("pay_3", 10000, 0)
			w.verify()
		})
	}
}

// TestBooksSettlerIsIdempotentAndCheap: reviewing again posts nothing, and a payment's
// sequence numbers are 1, 2, 3, ... in its records' metadata.
func TestBooksSettlerIsIdempotentAndCheap(t *testing.T) {
	t.Parallel()
	w := newBooks(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	d := w.invoice("")
	w.pay(d, "pay_1", 200000, store.PaymentConfirmed, w.tip)
	w.resolve(d, invoices.StatusInvalid)
	count := func() int {
		var msgs []store.OutboxMessage
		w.tx(func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, ledger.Topic, ""); return })
		if r := w.reasons("pay_1"); len(r) != len(msgs) || slices.Contains(r, "") {
			t.Fatalf("records %v are not numbered 1 to %d", r, len(msgs))
		}
		return len(msgs)
	}
	n := count()
	for range 3 {
		w.review(d)
		w.mine(1, d)
	}
	if got := count(); got != n || n != 3 {
		t.Fatalf("%d records after reviewing again, %d before (want 3: charge, reversal, receipt)", got, n)
	}
	w.verify()
}

// TestVerifyReportsDifferences: a payment whose books were tampered with (a record missing
// from the journal) is reported with what was expected and what is booked.
func TestVerifyReportsDifferences(t *testing.T) {
	t.Parallel()
	w := newBooks(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	d := w.invoice("")
	w.pay(d, "pay_1", 200000, store.PaymentConfirmed, w.tip)
	// Not drained: the journal has nothing yet.
	diffs, err := ledger.Verify(ctx, w.st, "sto_b")
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].PaymentID != "pay_1" || diffs[0].Expected.String() != "applied 100.00 USD" ||
		diffs[0].Booked.String() != "nothing" || diffs[0].Enqueued.String() != "applied 100.00 USD" {
		t.Fatalf("differences %v", diffs)
	}
	if diffs, err := ledger.VerifyEnqueued(ctx, w.st, "sto_b"); err != nil || len(diffs) != 0 {
		t.Fatalf("enqueued-only verify: %v %v", diffs, err)
	}
	w.verify()
}

// TestBooksAdoptLegacyRecords: a payment settled before the books existed (its record
// enqueued by the status-driven settler, without book rows) is adopted, not booked twice,
// and a later loss reverses that record.
func TestBooksAdoptLegacyRecords(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			w := newBooks(t, b)
			d := w.invoice("")
			settler := w.svc
			plain, err := invoices.New(w.st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": coin{}}, Quoter: rate{}, Now: w.clock})
			if err != nil {
				t.Fatal(err)
			}
			w.svc = plain
			w.pay(d, "pay_old", 200000, store.PaymentConfirmed, w.tip)
			w.svc = settler
			w.tx(func(tx store.Tx) error {
				got, err := settler.GetTx(ctx, tx, "sto_b", d.Invoice.ID)
				if err != nil {
					return err
				}
				recs, err := ledger.SettlementRecords(ledger.Settlement{Invoice: got.Invoice, Option: got.Options[0],
					Payments: got.Payments, Tip: w.tip, SettledAt: w.clock()})
				if err != nil {
					return err
				}
				return ledger.EnqueueTx(ctx, tx, recs[0], w.clock())
			})
			w.review(d)
			w.want("pay_old", 10000, 0)
			w.pay(d, "pay_old", 200000, store.PaymentRemoved, 0)
			w.want("pay_old", 0, 0)
			w.verify()
		})
	}
}

// BenchmarkSettleTxUnchanged is the settler's cost on a review where nothing changed (the
// follower re-reviews invoices on every block): one indexed read of the payments' latest
// book rows, inside the review's transaction.
func BenchmarkSettleTxUnchanged(b *testing.B) {
	w := newBooks(b, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	d := w.invoice("")
	w.pay(d, "pay_1", 120000, store.PaymentConfirmed, w.tip)
	w.pay(d, "pay_2", 80000, store.PaymentConfirmed, w.tip)
	var full invoices.Details
	w.tx(func(tx store.Tx) (err error) { full, err = w.svc.GetTx(ctx, tx, "sto_b", d.Invoice.ID); return })
	s := &ledger.Settler{}
	b.Run("settle", func(b *testing.B) {
		for range b.N {
			if err := w.st.Tx(ctx, func(tx store.Tx) error { return s.SettleTx(ctx, tx, full, nil, w.clock()) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("empty_tx", func(b *testing.B) { // the baseline: a write transaction doing nothing
		for range b.N {
			if err := w.st.Tx(ctx, func(store.Tx) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
