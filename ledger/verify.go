package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Booking is what a payment has on the books: the fiat amount applied (charges minus their
// reversals) and the amount unapplied (unapplied receipts minus their clearings), in minor
// units of Currency.
type Booking struct {
	Currency  string
	Applied   *big.Int
	Unapplied *big.Int
	// Refunded is, for a refund, the fiat amount its records book (refunds minus their
	// reversals, as a positive amount); 0 for payments.
	Refunded *big.Int
}

func newBooking(currency string) Booking {
	return Booking{Currency: currency, Applied: new(big.Int), Unapplied: new(big.Int), Refunded: new(big.Int)}
}

// Equal reports whether b and o book the same amounts.
func (b Booking) Equal(o Booking) bool {
	return b.Applied.Cmp(o.Applied) == 0 && b.Unapplied.Cmp(o.Unapplied) == 0 && b.Refunded.Cmp(o.Refunded) == 0
}

// String reads like "applied 25.00 USD", "unapplied 3.10 USD", "nothing" or both.
func (b Booking) String() string {
	f := func(v *big.Int) string {
		if c, ok := money.Currency(b.Currency); ok {
			return fmt.Sprintf("%s %s", money.FormatAmount(v, c.Scale), b.Currency)
		}
		return fmt.Sprintf("%s (atomic %s)", v, b.Currency)
	}
	switch {
	case b.Refunded.Sign() != 0:
		return "refunded " + f(b.Refunded)
	case b.Applied.Sign() == 0 && b.Unapplied.Sign() == 0:
		return "nothing"
	case b.Unapplied.Sign() == 0:
		return "applied " + f(b.Applied)
	case b.Applied.Sign() == 0:
		return "unapplied " + f(b.Unapplied)
	}
	return "applied " + f(b.Applied) + " + unapplied " + f(b.Unapplied)
}

// Difference is a payment whose books differ from the invariant.
type Difference struct {
	MerchantID string
	InvoiceID  string
	PaymentID  string  // "" for a refund's difference
	RefundID   string  // the refund whose books differ, or "" for a payment
	Expected   Booking // what the invariant requires (Expect)
	Enqueued   Booking // what the settler committed to post (the payment's latest book row)
	Booked     Booking // what the journal holds (zero when only the outbox is checked)
	Reason     string  // Expect's reason for the expected state
}

func (d Difference) String() string {
	if d.RefundID != "" {
		return fmt.Sprintf("refund %s (invoice %s): expected %s, enqueued %s, booked %s (%s)", d.RefundID, d.InvoiceID,
			d.Expected, d.Enqueued, d.Booked, d.Reason)
	}
	return fmt.Sprintf("payment %s (invoice %s): expected %s, enqueued %s, booked %s", d.PaymentID, d.InvoiceID,
		d.Expected, d.Enqueued, d.Booked)
}

// Verify recomputes the books invariant (DESIGN §6) for the merchant's payments ("" for
// every merchant) from the invoices, payments and chain tips, and compares it with both the
// outbox (what the settler enqueued: the payments' book rows) and the built-in journal (what
// was delivered). It returns every payment where either differs. Run it after the relay has
// drained the outbox; with an external sink use VerifyEnqueued.
func Verify(ctx context.Context, st store.Store, merchantID string) ([]Difference, error) {
	return verify(ctx, st, merchantID, true)
}

// VerifyEnqueued is Verify without the journal: for deployments whose sink is the
// merchant's own ledger, it checks what chainpay committed to deliver.
func VerifyEnqueued(ctx context.Context, st store.Store, merchantID string) ([]Difference, error) {
	return verify(ctx, st, merchantID, false)
}

func verify(ctx context.Context, st store.Store, merchantID string, journal bool) ([]Difference, error) {
	var mids []string
	if merchantID != "" {
		mids = []string{merchantID}
	} else if err := st.View(ctx, func(tx store.Tx) (err error) { mids, err = tx.MerchantIDs(ctx); return err }); err != nil {
		return nil, fmt.Errorf("ledger verify: %w", err)
	}
	var out []Difference
	for _, mid := range mids {
		diffs, err := verifyMerchant(ctx, st, mid, journal)
		if err != nil {
			return nil, fmt.Errorf("ledger verify of %s: %w", mid, err)
		}
		out = append(out, diffs...)
	}
	return out, nil
}

// verifyPage is how many invoices one read transaction of Verify covers.
const verifyPage = 200

func verifyMerchant(ctx context.Context, st store.Store, mid string, journal bool) ([]Difference, error) {
	enqueued := map[string]store.LedgerBook{}
	booked := map[string]Booking{}
	err := st.View(ctx, func(tx store.Tx) error {
		books, err := tx.MerchantLedgerBooks(ctx, mid)
		if err != nil {
			return err
		}
		for _, b := range books {
			enqueued[b.PaymentID] = b
		}
		if !journal {
			return nil
		}
		if err := journalRefunds(ctx, tx, mid, booked); err != nil {
			return err
		}
		return eachRecord(ctx, tx, mid, SourceCryptoPayment, func(r store.LedgerRecord) {
			b := bookingOf(booked, r)
			switch r.ReportingCategory {
			case CategoryCharge, CategoryChargeReversal:
				b.Applied.Add(b.Applied, r.Gross)
			case CategoryUnappliedReceipt, CategoryUnappliedCleared:
				b.Unapplied.Add(b.Unapplied, r.Gross)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	var (
		out    []Difference
		before *time.Time
		lastID string
	)
	for {
		var exps []Expectation
		var invs []store.Invoice
		var refs []store.Refund
		currency := map[string]string{}
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			invs, err = tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, BeforeCreated: before, BeforeID: lastID, Limit: verifyPage})
			if err != nil {
				return err
			}
			ids := make([]string, len(invs))
			for i, inv := range invs {
				ids[i] = inv.ID
			}
			if refs, err = tx.RefundsOfInvoices(ctx, ids); err != nil {
				return err
			}
			tips := map[string]int64{}
			for _, inv := range invs {
				currency[inv.ID] = inv.Currency
				d, err := details(ctx, tx, inv, tips)
				if err != nil {
					return err
				}
				e, err := Expect(d)
				if err != nil {
					return fmt.Errorf("invoice %s: %w", inv.ID, err)
				}
				exps = append(exps, e...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, refundDifferences(mid, refs, exps, currency, enqueued, booked, journal)...)
		for _, e := range exps {
			cur := currency[e.Payment.InvoiceID]
			want := newBooking(cur)
			switch e.State {
			case store.BookApplied:
				want.Applied.Set(e.Amount)
			case store.BookUnapplied:
				want.Unapplied.Set(e.Amount)
			}
			enq := newBooking(cur)
			if b, ok := enqueued[e.Payment.ID]; ok {
				switch b.State {
				case store.BookApplied:
					enq.Applied.Set(b.Amount)
				case store.BookUnapplied:
					enq.Unapplied.Set(b.Amount)
				}
			}
			got, ok := booked[e.Payment.ID]
			if !ok {
				got = newBooking(cur)
			}
			if !want.Equal(enq) || journal && !want.Equal(got) {
				out = append(out, Difference{MerchantID: mid, InvoiceID: e.Payment.InvoiceID, PaymentID: e.Payment.ID,
					Expected: want, Enqueued: enq, Booked: got, Reason: e.Reason})
			}
		}
		if len(invs) < verifyPage {
			return out, nil
		}
		last := invs[len(invs)-1]
		before, lastID = &last.CreatedAt, last.ID
	}
}

// details loads what Expect needs about an invoice; tips caches the chains' cursors.
func details(ctx context.Context, tx store.Tx, inv store.Invoice, tips map[string]int64) (invoices.Details, error) {
	opts, err := tx.PaymentOptions(ctx, inv.ID)
	if err != nil {
		return invoices.Details{}, err
	}
	pays, err := tx.Payments(ctx, inv.ID)
	if err != nil {
		return invoices.Details{}, err
	}
	for _, p := range pays {
		if _, ok := tips[p.Chain]; ok {
			continue
		}
		c, err := tx.Cursor(ctx, p.Chain)
		switch {
		case err == nil:
			tips[p.Chain] = c.Height
		case errors.Is(err, store.ErrNotFound):
			tips[p.Chain] = 0
		default:
			return invoices.Details{}, err
		}
	}
	return invoices.Details{Invoice: inv, Options: opts, Payments: pays, Tips: tips}, nil
}

// journalRefunds adds to booked, per refund id, the fiat amount the journal's refund records
// book (minus their reversals), as a positive Refunded amount.
func journalRefunds(ctx context.Context, tx store.Tx, mid string, booked map[string]Booking) error {
	return eachRecord(ctx, tx, mid, SourceCryptoRefund, func(r store.LedgerRecord) {
		b := bookingOf(booked, r)
		b.Refunded.Sub(b.Refunded, r.Gross)
	})
}

// bookingOf returns the booking of r's source in booked, adding an empty one.
func bookingOf(booked map[string]Booking, r store.LedgerRecord) Booking {
	b, ok := booked[r.SourceID]
	if !ok {
		b = newBooking(r.Currency)
		booked[r.SourceID] = b
	}
	return b
}

// eachRecord calls fn for every journal record of the merchant with the source type, page
// by page.
func eachRecord(ctx context.Context, tx store.Tx, mid, sourceType string, fn func(store.LedgerRecord)) error {
	f := store.LedgerFilter{MerchantID: mid, SourceType: sourceType, Limit: 1000}
	for {
		rows, err := tx.LedgerRecords(ctx, f)
		if err != nil {
			return err
		}
		for _, r := range rows {
			fn(r)
		}
		if len(rows) < f.Limit {
			return nil
		}
		last := rows[len(rows)-1]
		f.After = &store.LedgerCursor{OccurredAt: last.OccurredAt, ID: last.ID}
	}
}

// refundDifferences checks the refunds of a page of invoices: a completed refund must be
// booked once at its fiat amount, any other refund not at all (enqueued: its latest book
// row; booked: the journal, when checked); and per invoice the completed refunds must not
// exceed what the invoice received (its payments booked applied or unapplied), so
// received − refunded reconciles.
func refundDifferences(mid string, refs []store.Refund, exps []Expectation, currency map[string]string,
	enqueued map[string]store.LedgerBook, booked map[string]Booking, journal bool) []Difference {
	var out []Difference
	received := map[string]*big.Int{}
	for _, e := range exps {
		if e.State == store.BookNone {
			continue
		}
		v := received[e.Payment.InvoiceID]
		if v == nil {
			v = new(big.Int)
			received[e.Payment.InvoiceID] = v
		}
		v.Add(v, e.Amount)
	}
	refunded := map[string]*big.Int{}
	for _, r := range refs {
		cur := currency[r.InvoiceID]
		want := newBooking(cur)
		if r.Status == store.RefundCompleted {
			want.Refunded.Set(r.AmountFiat)
			v := refunded[r.InvoiceID]
			if v == nil {
				v = new(big.Int)
				refunded[r.InvoiceID] = v
			}
			v.Add(v, r.AmountFiat)
		}
		enq := newBooking(cur)
		if b, ok := enqueued[r.ID]; ok && b.State == store.BookApplied {
			enq.Refunded.Set(b.Amount)
		}
		got, ok := booked[r.ID]
		if !ok {
			got = newBooking(cur)
		}
		if !want.Equal(enq) || journal && !want.Equal(got) {
			out = append(out, Difference{MerchantID: mid, InvoiceID: r.InvoiceID, RefundID: r.ID, Expected: want,
				Enqueued: enq, Booked: got, Reason: "refund " + r.Status})
		}
	}
	for _, inv := range slices.Sorted(maps.Keys(refunded)) {
		v, rec := refunded[inv], received[inv]
		if rec == nil {
			rec = new(big.Int)
		}
		if v.Cmp(rec) > 0 {
			want := newBooking(currency[inv])
			want.Refunded.Set(rec)
			got := newBooking(currency[inv])
			got.Refunded.Set(v)
			out = append(out, Difference{MerchantID: mid, InvoiceID: inv, Expected: want, Enqueued: got, Booked: got,
				Reason: "completed refunds exceed what the invoice received"})
		}
	}
	return out
}
