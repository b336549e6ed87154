package ledger

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Reasons a confirmed payment is an unapplied receipt (metadata unapplied_reason), and
// reasons a record reverses or clears an earlier one (metadata reversal_reason).
const (
	ReasonInvoiceNew        = "invoice_new"        // the invoice is not paid in full yet
	ReasonInvoiceProcessing = "invoice_processing" // the invoice waits for other payments' confirmations
	ReasonInvoiceExpired    = "invoice_expired"
	ReasonInvoiceInvalid    = "invoice_invalid"
	ReasonInvoiceCanceled   = "invoice_canceled"
	ReasonResolvedInvalid   = "resolved_invalid" // the merchant marked the invoice invalid
	ReasonBeyondPrice       = "beyond_price"     // the invoice was already paid in full before this payment
	ReasonAfterMonitoring   = "after_monitoring" // seen after the invoice's monitoring window ended
	ReasonReorg             = "reorg"            // the payment left the best chain (or lost depth)
	ReasonApplied           = "applied"          // an unapplied receipt is now applied to the invoice
	ReasonResolvedSettled   = "resolved_settled" // ... because the merchant marked the invoice settled
)

// Expectation is what the books must hold for one payment (the invariant of DESIGN §6,
// "Books follow money"): State is store.BookApplied (a charge of Amount), store.BookUnapplied
// (an unapplied receipt of Amount) or store.BookNone (Amount 0). Reason says why a payment
// is unapplied or not booked.
type Expectation struct {
	Payment store.Payment
	Option  store.PaymentOption
	State   string
	Amount  *big.Int // PaymentFiat of the payment; 0 when State is none
	Reason  string
	// First is true for the invoice's first applied payment in (seen_at, id) order: the
	// one that carries a fixed per-invoice fee.
	First bool
}

// Expect computes the expectation of every payment of the invoice. It is a pure function of
// the invoice (status, flags, monitoring end), its options (locked rate, required
// confirmations), its payments and the chains' tips, in payment (seen_at, id) order:
//
// A payment is booked only when it is confirmed: in a block of the best chain at a depth of
// at least its option's confirmations and at least 1. A confirmed payment is APPLIED when
// its invoice is settled (by the machine or by the merchant), it was seen no later than the
// end of the monitoring window, and the confirmed payments seen before it (in time, within
// the window) paid less than the full price (Σ amount/amount_due < 1). Every other
// confirmed payment is UNAPPLIED. The amount is PaymentFiat either way.
func Expect(d invoices.Details) ([]Expectation, error) {
	opts := make(map[string]store.PaymentOption, len(d.Options))
	for _, o := range d.Options {
		opts[o.ID] = o
	}
	pays := slices.Clone(d.Payments)
	sortPayments(pays)
	inv := d.Invoice
	until := inv.MonitorUntil
	if until.Before(inv.ExpiresAt) {
		until = inv.ExpiresAt
	}
	marked := slices.Contains(inv.Flags, string(invoices.FlagMarked))
	notAccepted := ""
	switch inv.Status {
	case store.StatusSettled:
	case store.StatusNew:
		notAccepted = ReasonInvoiceNew
	case store.StatusProcessing:
		notAccepted = ReasonInvoiceProcessing
	case store.StatusExpired:
		notAccepted = ReasonInvoiceExpired
	case store.StatusInvalid:
		switch {
		case slices.Contains(inv.Flags, string(invoices.FlagCanceled)):
			notAccepted = ReasonInvoiceCanceled
		case marked:
			notAccepted = ReasonResolvedInvalid
		default:
			notAccepted = ReasonInvoiceInvalid
		}
	default:
		notAccepted = "invoice_" + inv.Status
	}
	paid := new(big.Rat) // confirmed payments in the window so far, as a fraction of the price
	one := big.NewRat(1, 1)
	first := true
	out := make([]Expectation, 0, len(pays))
	for _, p := range pays {
		e := Expectation{Payment: p, State: store.BookNone, Amount: new(big.Int)}
		o, ok := opts[p.OptionID]
		if !ok || p.Amount == nil || p.Amount.Sign() <= 0 || o.AmountDue == nil || o.AmountDue.Sign() <= 0 {
			e.Reason = "not_a_payment_of_the_invoice"
			out = append(out, e)
			continue
		}
		e.Option = o
		if Depth(p, d.Tips[p.Chain]) < max(1, int64(o.Confirmations)) {
			e.Reason = "unconfirmed"
			out = append(out, e)
			continue
		}
		amt, err := PaymentFiat(inv, o, p.Amount)
		if err != nil {
			return nil, fmt.Errorf("payment %s: %w", p.ID, err)
		}
		e.Amount = amt
		inWindow := !p.SeenAt.After(until)
		before := new(big.Rat).Set(paid)
		if inWindow {
			paid.Add(paid, new(big.Rat).SetFrac(p.Amount, o.AmountDue))
		}
		switch {
		case notAccepted != "":
			e.State, e.Reason = store.BookUnapplied, notAccepted
		case !inWindow:
			e.State, e.Reason = store.BookUnapplied, ReasonAfterMonitoring
		case before.Cmp(one) >= 0:
			e.State, e.Reason = store.BookUnapplied, ReasonBeyondPrice
		default:
			e.State, e.First = store.BookApplied, first
			first = false
		}
		out = append(out, e)
	}
	return out, nil
}

// Depth is a payment's number of confirmations at the chain tip: tip − height + 1 for a
// confirmed payment in a block at or below the tip, else 0.
func Depth(p store.Payment, tip int64) int64 {
	if p.Status != store.PaymentConfirmed || p.BlockHeight == nil || tip < *p.BlockHeight {
		return 0
	}
	return tip - *p.BlockHeight + 1
}

// PaymentFiat is THE fiat value of a payment: its atomic amount converted at the option's
// locked rate to the invoice currency's minor units, rounded half-even once
// (money.CheckedFiatFromCrypto); an invoice priced in the option's own asset settles in that
// asset at its rate (1). The API (invoice and payment views), the ledger records, the exports and
// the checkout all use this function, so one payment has one fiat value everywhere.
func PaymentFiat(inv store.Invoice, opt store.PaymentOption, amount *big.Int) (*big.Int, error) {
	cur, err := settlementCurrency(inv, opt)
	if err != nil {
		return nil, err
	}
	if amount == nil || amount.Sign() < 0 {
		return nil, fmt.Errorf("payment amount %v is not a non-negative integer", amount)
	}
	rate, err := parseRate(opt.Rate)
	if err != nil {
		return nil, fmt.Errorf("option %s: %w", opt.ID, err)
	}
	return money.CheckedFiatFromCrypto(amount, opt.Scale, rate, cur.Scale)
}

// settlementCurrency is the currency records of the invoice settle in: its ISO 4217
// currency, or the option's asset for an invoice priced in that asset.
func settlementCurrency(inv store.Invoice, opt store.PaymentOption) (money.Asset, error) {
	if cur, ok := money.Currency(inv.Currency); ok {
		return cur, nil
	}
	if inv.Currency != opt.Asset {
		return money.Asset{}, fmt.Errorf("invoice %s: currency %q is neither fiat nor the option's asset %s", inv.ID, inv.Currency, opt.Asset)
	}
	return money.Asset{Code: opt.Asset, Scale: opt.Scale, Chain: opt.Chain, Contract: opt.Contract}, nil
}

// seqSuffix is the key suffix of a payment's seq-th record: none for the first.
func seqSuffix(seq int64) string {
	if seq <= 1 {
		return ""
	}
	return fmt.Sprintf(":%d", seq)
}

// UnappliedKey is the idempotency key of the unapplied receipt that is the seq-th record of
// a payment: crypto_payment:{payment_id}:unapplied[:seq].
func UnappliedKey(paymentID string, seq int64) string {
	return SourceCryptoPayment + ":" + paymentID + ":unapplied" + seqSuffix(seq)
}

// bookedAt is the time records are stamped with.
func bookedAt(now time.Time) time.Time { return now.UTC().Truncate(time.Microsecond) }
