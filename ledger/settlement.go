package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Topic is the outbox topic of ledger records.
const Topic = "ledger"

// Accounts of the chart every record posts to. Card and crypto records share them, so a
// merchant's balance and fees read the same whichever way the customer paid.
func AccountBalance(merchantID string) string { return "merchants:" + merchantID + ":balance" }

// AccountFees is the merchant's processing-fee expense account.
func AccountFees(merchantID string) string { return "merchants:" + merchantID + ":fees" }

// AccountRevenue is the merchant's gross revenue from one source type.
func AccountRevenue(merchantID, sourceType string) string {
	return "merchants:" + merchantID + ":revenue:" + sourceType
}

// AccountWallet holds the crypto a merchant received on a chain (their own wallet: chainpay
// never holds the funds; the journal mirrors them).
func AccountWallet(merchantID, chain string) string {
	return "merchants:" + merchantID + ":wallets:" + chain
}

// AccountSuspense holds the merchant's unapplied receipts: money received that no accepted
// invoice claims yet (a liability until applied or refunded).
func AccountSuspense(merchantID string) string {
	return "merchants:" + merchantID + ":suspense:unapplied"
}

// AccountWorld is the outside world, where received money comes from.
const AccountWorld = "world"

// MoneyPostings returns the balanced fiat postings of a settlement: gross credited to
// revenue, fee debited to fees, net debited to the balance. Negative amounts (refunds,
// reversals) swap the direction; zero amounts post nothing.
func MoneyPostings(merchantID, sourceType string, currency money.Asset, gross, fee, net *big.Int) []Posting {
	var ps []Posting
	ps = appendPair(ps, AccountBalance(merchantID), AccountRevenue(merchantID, sourceType), currency.String(), net)
	ps = appendPair(ps, AccountFees(merchantID), AccountRevenue(merchantID, sourceType), currency.String(), fee)
	return ps
}

// appendPair appends a debit of amount to debit and a credit to credit (swapped when
// amount is negative; nothing when zero).
func appendPair(ps []Posting, debit, credit, asset string, amount *big.Int) []Posting {
	switch amount.Sign() {
	case 0:
		return ps
	case -1:
		debit, credit = credit, debit
	}
	abs := new(big.Int).Abs(amount)
	return append(ps,
		Posting{Account: debit, Asset: asset, Amount: abs, Direction: Debit},
		Posting{Account: credit, Asset: asset, Amount: new(big.Int).Set(abs), Direction: Credit})
}

// FeePolicy is a store's processing fee: BasisPoints of the gross (1 bp = 0.01 %), rounded
// half-even to the minor unit, plus Fixed minor units charged once per invoice.
type FeePolicy struct {
	BasisPoints int64    // 0 to 10000
	Fixed       *big.Int // minor units of the invoice currency; nil means none
}

// Fee returns the fee on gross: round_half_even(gross × bp / 10000) + fixed (when charged).
func (f FeePolicy) Fee(gross *big.Int, withFixed bool) *big.Int {
	fee := roundHalfEven(new(big.Int).Mul(gross, big.NewInt(f.BasisPoints)), big.NewInt(10000))
	if withFixed && f.Fixed != nil {
		fee.Add(fee, f.Fixed)
	}
	return fee
}

func (f FeePolicy) validate() error {
	if f.BasisPoints < 0 || f.BasisPoints > 10000 {
		return fmt.Errorf("fee basis points %d outside [0, 10000]", f.BasisPoints)
	}
	if f.Fixed != nil && f.Fixed.Sign() < 0 {
		return fmt.Errorf("fixed fee %s is negative", f.Fixed)
	}
	return nil
}

// Settlement is what SettlementRecords needs about a settled invoice.
type Settlement struct {
	Invoice store.Invoice
	// Option is the payment option the payments went to; its locked Rate converts them.
	Option store.PaymentOption
	// Payments are the option's confirmed payments counted for settlement. Their order
	// does not matter: records are built in (SeenAt, ID) order.
	Payments []store.Payment
	// Tip is the height of the best block of the option's chain when the invoice settled;
	// a payment's confirmations are Tip − BlockHeight + 1 (0 when unknown).
	Tip int64
	Fee FeePolicy
	// FairValues holds, per payment id, the market rate when the payment was received.
	// Optional: a payment without one gets no fair_value.
	FairValues map[string]Rate
	// SettledAt is when the invoice settled: the records' occurred_at.
	SettledAt time.Time
	// Round numbers a settlement of the same payments after a reversal (a reorg took the
	// payment out, then it confirmed again): 0 or 1 for the first settlement, 2 for the
	// second, ... It keeps the keys of successive settlements distinct (SettlementKeyRound),
	// since a key once used is never reused with another payload.
	Round int
}

// Rate is an exchange rate observation: the price of one whole crypto unit in the
// invoice currency, as a plain decimal string.
type Rate struct {
	Rate   string
	Source string
	At     time.Time
}

// SettlementKey is the idempotency key of a payment's (first) settlement record:
// crypto_payment:{payment_id}:settled.
func SettlementKey(paymentID string) string {
	return SourceCryptoPayment + ":" + paymentID + ":settled"
}

// SettlementKeyRound is the key of the round-th settlement of a payment: SettlementKey for
// round ≤ 1, crypto_payment:{payment_id}:settled:{round} after that.
func SettlementKeyRound(paymentID string, round int) string {
	if round <= 1 {
		return SettlementKey(paymentID)
	}
	return SettlementKey(paymentID) + ":" + strconv.Itoa(round)
}

// ReversalKey is the idempotency key of the record that reverses (or clears) the record with
// key: its last ":settled" becomes ":reversed" (crypto_payment:p:settled:2 →
// crypto_payment:p:reversed:2), its last ":unapplied" becomes ":cleared"; other keys get
// ":reversed" appended.
func ReversalKey(key string) string {
	for _, r := range [][2]string{{":settled", ":reversed"}, {":unapplied", ":cleared"}} {
		if i := strings.LastIndex(key, r[0]); i >= 0 {
			return key[:i] + r[1] + key[i+len(r[0]):]
		}
	}
	return key + ":reversed"
}

// SettlementRecords builds one charge record per payment of a settled invoice (key
// SettlementKeyRound(payment_id, Round)). Each payment's gross is its own PaymentFiat (the
// locked rate, one half-even rounding per payment: the one rounding rule shared by the API,
// the ledger, the exports and the checkout), so a payment's record never depends on the
// other payments. The fee is FeePolicy.Fee of each gross, the fixed part on the first
// payment only. The records are valid (Validate passes) or an error says what input is
// wrong; nothing is priced from a live rate.
func SettlementRecords(s Settlement) ([]Record, error) {
	inv := s.Invoice
	if len(s.Payments) == 0 {
		return nil, fmt.Errorf("settlement of invoice %s: no payments", inv.ID)
	}
	pays := append([]store.Payment(nil), s.Payments...)
	sortPayments(pays)
	out := make([]Record, 0, len(pays))
	for i, p := range pays {
		var fv *Rate
		if r, ok := s.FairValues[p.ID]; ok {
			fv = &r
		}
		rec, err := paymentRecord(booking{Invoice: inv, Option: s.Option, Payment: p, Tip: s.Tip, Fee: s.Fee,
			FixedFee: i == 0, FairValue: fv, At: s.SettledAt, Key: SettlementKeyRound(p.ID, s.Round), Category: CategoryCharge})
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// UnappliedRecords builds one unapplied receipt per payment (key UnappliedKey(payment_id,
// Round)): confirmed money on an invoice that does not accept it, valued like
// SettlementRecords (PaymentFiat) but without a fee and credited to the merchant's suspense
// account. reason goes into the records' metadata unapplied_reason.
func UnappliedRecords(s Settlement, reason string) ([]Record, error) {
	if len(s.Payments) == 0 {
		return nil, fmt.Errorf("unapplied receipts of invoice %s: no payments", s.Invoice.ID)
	}
	pays := append([]store.Payment(nil), s.Payments...)
	sortPayments(pays)
	out := make([]Record, 0, len(pays))
	for _, p := range pays {
		rec, err := paymentRecord(booking{Invoice: s.Invoice, Option: s.Option, Payment: p, Tip: s.Tip, At: s.SettledAt,
			Key: UnappliedKey(p.ID, int64(s.Round)), Category: CategoryUnappliedReceipt, Reason: reason})
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// booking is what paymentRecord needs to book one payment.
type booking struct {
	Invoice   store.Invoice
	Option    store.PaymentOption
	Payment   store.Payment
	Tip       int64 // the option's chain tip: confirmations = Tip − height + 1
	Fee       FeePolicy
	FixedFee  bool  // charge the policy's fixed fee on this record
	FairValue *Rate // market rate at receipt; nil for none
	At        time.Time
	Key       string
	Category  string // CategoryCharge or CategoryUnappliedReceipt
	Seq       int64  // the record's place in the payment's books (0: not numbered)
	Reason    string // unapplied_reason of an unapplied receipt
}

// paymentRecord builds the record that books one payment: a charge (gross PaymentFiat,
// fee per the policy, credited to revenue) or an unapplied receipt (gross PaymentFiat, no
// fee, credited to the merchant's suspense account). Both debit the received asset to the
// merchant's wallet account.
func paymentRecord(b booking) (Record, error) {
	inv, opt, p := b.Invoice, b.Option, b.Payment
	fail := func(err error) (Record, error) {
		return Record{}, fmt.Errorf("ledger record of payment %s (invoice %s): %w", p.ID, inv.ID, err)
	}
	if err := b.Fee.validate(); err != nil {
		return fail(err)
	}
	if b.At.IsZero() {
		return fail(errors.New("settled_at is required"))
	}
	asset := money.Asset{Code: opt.Asset, Scale: opt.Scale, Chain: opt.Chain, Contract: opt.Contract}
	if err := asset.Validate(); err != nil {
		return fail(fmt.Errorf("option %s: %w", opt.ID, err))
	}
	cur, err := settlementCurrency(inv, opt)
	if err != nil {
		return fail(err)
	}
	if p.OptionID != opt.ID || p.InvoiceID != inv.ID {
		return fail(fmt.Errorf("payment belongs to option %s of invoice %s", p.OptionID, p.InvoiceID))
	}
	if p.Amount == nil || p.Amount.Sign() <= 0 {
		return fail(errors.New("no positive amount"))
	}
	gross, err := PaymentFiat(inv, opt, p.Amount)
	if err != nil {
		return fail(err)
	}
	fee := new(big.Int)
	desc := fmt.Sprintf("Invoice %s paid in %s", inv.ID, asset.Code)
	if b.Category == CategoryCharge {
		fee = b.Fee.Fee(gross, b.FixedFee)
	} else {
		desc = fmt.Sprintf("Unapplied receipt in %s on invoice %s", asset.Code, inv.ID)
	}
	net := new(big.Int).Sub(gross, fee)
	rec := Record{
		IdempotencyKey:    b.Key,
		MerchantID:        inv.MerchantID,
		SourceType:        SourceCryptoPayment,
		SourceID:          p.ID,
		ReportingCategory: b.Category,
		Description:       desc,
		Currency:          cur.Code,
		Gross:             gross,
		Fee:               fee,
		Net:               net,
		Original:          &Original{Asset: asset.String(), Amount: new(big.Int).Set(p.Amount), Scale: asset.Scale},
		ExchangeRate:      &ExchangeRate{Rate: opt.Rate, Source: opt.RateSource, At: opt.RateAt},
		OccurredAt:        b.At,
		Chain:             &ChainEvidence{Chain: p.Chain, TxID: p.TxID, OutputIndex: p.OutputIndex, BlockHash: p.BlockHash},
		Metadata:          map[string]string{"invoice_id": inv.ID, "option_id": opt.ID, "address": p.Address},
	}
	if opt.Network != "" {
		rec.Metadata["network"] = truncate(opt.Network)
	}
	if len(inv.Flags) > 0 {
		rec.Metadata["exception_flags"] = truncate(strings.Join(inv.Flags, " "))
	}
	if inv.OrderID != "" {
		rec.Metadata["order_id"] = truncate(inv.OrderID)
	}
	if b.Seq > 0 {
		rec.Metadata["payment_sequence"] = strconv.FormatInt(b.Seq, 10)
	}
	if b.Reason != "" {
		rec.Metadata["unapplied_reason"] = b.Reason
	}
	if p.BlockHeight == nil {
		// Booked unconfirmed (SettlementRecords for a 0-confirmation store): no block yet
		// (height 0, 0 confirmations), said so in the metadata.
		rec.Metadata["unconfirmed"] = "true"
	} else {
		rec.Chain.BlockHeight = *p.BlockHeight
		if b.Tip >= *p.BlockHeight {
			rec.Chain.Confirmations = b.Tip - *p.BlockHeight + 1
		}
	}
	if fee.Sign() != 0 {
		rec.FeeDetails = []FeeDetail{{Type: "processing_fee", Amount: new(big.Int).Set(fee), Description: "chainpay processing fee"}}
	}
	if fv := b.FairValue; fv != nil {
		d, err := parseRate(fv.Rate)
		if err != nil {
			return fail(fmt.Errorf("fair value: %w", err))
		}
		amt, err := money.CheckedFiatFromCrypto(p.Amount, asset.Scale, d, cur.Scale)
		if err != nil {
			return fail(fmt.Errorf("fair value: %w", err))
		}
		rec.FairValue = &FairValue{Rate: fv.Rate, Source: fv.Source, At: fv.At, Amount: amt}
	}
	if b.Category == CategoryCharge {
		rec.Postings = MoneyPostings(inv.MerchantID, SourceCryptoPayment, cur, gross, fee, net)
	} else {
		rec.Postings = appendPair(nil, AccountBalance(inv.MerchantID), AccountSuspense(inv.MerchantID), cur.String(), gross)
	}
	rec.Postings = appendPair(rec.Postings, AccountWallet(inv.MerchantID, asset.Chain), AccountWorld, asset.String(), p.Amount)
	if err := rec.Validate(); err != nil {
		return fail(err)
	}
	return rec, nil
}

func sortPayments(ps []store.Payment) {
	for i := 1; i < len(ps); i++ { // insertion sort: a handful of payments
		for j := i; j > 0 && paymentBefore(ps[j], ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func paymentBefore(a, b store.Payment) bool {
	if !a.SeenAt.Equal(b.SeenAt) {
		return a.SeenAt.Before(b.SeenAt)
	}
	return a.ID < b.ID
}

// Reversal returns the record that undoes rec at the given time: key ReversalKey(rec key),
// category charge_reversal (unapplied_receipt_cleared for an unapplied receipt), every
// amount negated, every posting mirrored (direction
// swapped), Reverses set to rec's key. Exchange rate, original asset and chain evidence are
// rec's: a reversal is priced exactly like what it reverses, never re-priced.
func Reversal(rec Record, at time.Time) (Record, error) {
	if err := rec.Validate(); err != nil {
		return Record{}, fmt.Errorf("reverse: %w", err)
	}
	if rec.Reverses != "" {
		return Record{}, fmt.Errorf("reverse %s: %w: a reversal is not reversed again", rec.IdempotencyKey, ErrInvalid)
	}
	neg := func(v *big.Int) *big.Int { return new(big.Int).Neg(v) }
	r := rec
	r.IdempotencyKey = ReversalKey(rec.IdempotencyKey)
	r.ReportingCategory = CategoryChargeReversal
	r.Description = "Reversal of " + rec.IdempotencyKey
	switch rec.ReportingCategory {
	case CategoryUnappliedReceipt:
		r.ReportingCategory = CategoryUnappliedCleared
		r.Description = "Clearing of " + rec.IdempotencyKey
	case CategoryRefund:
		r.ReportingCategory = CategoryRefundReversal
	}
	r.Gross, r.Fee, r.Net = neg(rec.Gross), neg(rec.Fee), neg(rec.Net)
	r.FeeDetails = nil
	for _, f := range rec.FeeDetails {
		r.FeeDetails = append(r.FeeDetails, FeeDetail{Type: f.Type, Amount: neg(f.Amount), Description: f.Description})
	}
	if o := rec.Original; o != nil {
		r.Original = &Original{Asset: o.Asset, Amount: neg(o.Amount), Scale: o.Scale}
	}
	if f := rec.FairValue; f != nil {
		c := *f
		c.Amount = neg(f.Amount)
		r.FairValue = &c
	}
	if c := rec.Chain; c != nil {
		cc := *c
		r.Chain = &cc
	}
	if x := rec.ExchangeRate; x != nil {
		xx := *x
		r.ExchangeRate = &xx
	}
	r.OccurredAt = at
	r.Postings = make([]Posting, len(rec.Postings))
	for i, p := range rec.Postings {
		d := Debit
		if p.Direction == Debit {
			d = Credit
		}
		r.Postings[i] = Posting{Account: p.Account, Asset: p.Asset, Amount: new(big.Int).Set(p.Amount), Direction: d}
	}
	r.Metadata = map[string]string{}
	for k, v := range rec.Metadata {
		r.Metadata[k] = v
	}
	delete(r.Metadata, "unapplied_reason") // a clearing says why in reversal_reason
	r.Reverses = rec.IdempotencyKey
	if err := r.Validate(); err != nil {
		return Record{}, fmt.Errorf("reverse %s: %w", rec.IdempotencyKey, err)
	}
	return r, nil
}

// EnqueueTx puts rec into the ledger outbox inside tx, the transaction that records the fact
// (an invoice settling, a reorg). The payload is rec's canonical encoding, so its rates and
// amounts are frozen: a retry never re-prices. It is idempotent: enqueuing the same record
// again is a no-op; a different record under the same key is ErrConflict.
func EnqueueTx(ctx context.Context, tx store.Tx, rec Record, now time.Time) error {
	payload, err := rec.Encode()
	if err != nil {
		return fmt.Errorf("enqueue ledger record: %w", err)
	}
	existing, err := tx.OutboxByKey(ctx, Topic, rec.IdempotencyKey)
	switch {
	case err == nil:
		if existing.Payload == string(payload) {
			return nil
		}
		return fmt.Errorf("enqueue ledger record %s: %w (outbox %s holds another payload)", rec.IdempotencyKey, ErrConflict, existing.ID)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("enqueue ledger record %s: %w", rec.IdempotencyKey, err)
	}
	err = tx.Enqueue(ctx, store.OutboxMessage{
		ID: store.NewID("obx", now), Topic: Topic, Key: rec.IdempotencyKey, Payload: string(payload),
		Status: store.OutboxPending, NextAttempt: now, CreatedAt: now,
	})
	if err != nil {
		return fmt.Errorf("enqueue ledger record %s: %w", rec.IdempotencyKey, err)
	}
	return nil
}

// roundHalfEven returns num/den rounded to the nearest integer, ties to even, den > 0.
func roundHalfEven(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	if c := twice.Cmp(den); c > 0 || c == 0 && q.Bit(0) == 1 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
