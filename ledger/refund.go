package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// RefundKey is the idempotency key of the seq-th record of a refund that books it:
// crypto_refund:{refund_id}:refunded[:seq].
func RefundKey(refundID string, seq int64) string {
	return SourceCryptoRefund + ":" + refundID + ":refunded" + seqSuffix(seq)
}

// RefundReversalKey is the key of the seq-th record of a refund when it reverses the
// refund record (its transaction left the chain): crypto_refund:{refund_id}:reversed[:seq].
func RefundReversalKey(refundID string, seq int64) string {
	return SourceCryptoRefund + ":" + refundID + ":reversed" + seqSuffix(seq)
}

// RefundBooking is what RefundRecord needs to book a completed refund.
type RefundBooking struct {
	Invoice store.Invoice
	Refund  store.Refund
	// FromUnapplied is the part of the refund's fiat amount that pays back unapplied
	// receipts (money the invoice did not accept): it is taken out of the suspense
	// account, the rest out of revenue. 0 ≤ FromUnapplied ≤ Refund.AmountFiat.
	FromUnapplied *big.Int
	Tip           int64 // the refund chain's tip: confirmations = Tip − height + 1
	At            time.Time
	Seq           int64 // the record's place in the refund's books (≥ 1)
}

// RefundRecord builds the record of a completed refund, shaped like a card refund:
// source_type crypto_refund, reporting_category refund, gross = −the refund's fiat amount
// (at its rate policy's rate), fee = the network fee in the record's currency when the
// merchant pays it (fee_details type network_fee; none when the fee came out of the
// amount, or was paid in another asset), net = gross − fee; the original money is the
// asset amount sent (negative), the chain evidence its transaction. Postings: revenue (or
// suspense, FromUnapplied) debited, the balance credited; the wallet credited with what
// left it (amount, plus the fee when the merchant paid it).
func RefundRecord(b RefundBooking) (Record, error) {
	inv, r := b.Invoice, b.Refund
	fail := func(err error) (Record, error) {
		return Record{}, fmt.Errorf("ledger record of refund %s (invoice %s): %w", r.ID, inv.ID, err)
	}
	switch {
	case r.InvoiceID != inv.ID || r.MerchantID != inv.MerchantID:
		return fail(errors.New("the refund belongs to another invoice"))
	case r.AmountFiat == nil || r.AmountFiat.Sign() < 0 || r.AmountAtomic == nil || r.AmountAtomic.Sign() <= 0:
		return fail(errors.New("amounts missing or not positive"))
	case r.TxID == "" || r.BlockHeight == nil:
		return fail(errors.New("no confirmed transaction"))
	case b.At.IsZero() || b.Seq < 1:
		return fail(errors.New("time and sequence are required"))
	}
	from := b.FromUnapplied
	if from == nil {
		from = new(big.Int)
	}
	if from.Sign() < 0 || from.Cmp(r.AmountFiat) > 0 {
		return fail(fmt.Errorf("from_unapplied %s outside [0, %s]", from, r.AmountFiat))
	}
	asset := money.Asset{Code: r.Asset, Scale: r.Scale, Chain: r.Chain, Contract: r.Contract}
	if err := asset.Validate(); err != nil {
		return fail(err)
	}
	cur, err := settlementCurrency(inv, store.PaymentOption{Asset: r.Asset, Scale: r.Scale, Chain: r.Chain, Contract: r.Contract})
	if err != nil {
		return fail(err)
	}
	rate, err := parseRate(r.Rate)
	if err != nil {
		return fail(err)
	}
	out := new(big.Int).Set(r.AmountAtomic) // what left the merchant's wallet in the asset
	fee := new(big.Int)
	meta := map[string]string{"invoice_id": inv.ID, "refund_id": r.ID, "destination": r.Destination,
		"rate_policy": r.RatePolicy, "refund_sequence": strconv.FormatInt(b.Seq, 10), "from_unapplied": from.String()}
	if r.Reason != "" {
		meta["reason"] = truncate(r.Reason)
	}
	if inv.OrderID != "" {
		meta["order_id"] = truncate(inv.OrderID)
	}
	if r.Network != "" {
		meta["network"] = truncate(r.Network)
	}
	if nf := r.NetworkFee; nf != nil && nf.Sign() > 0 {
		meta["network_fee_atomic"] = nf.String()
		switch {
		case r.FeeFromAmount:
			meta["network_fee_paid_by"] = "customer"
		case r.Contract == "": // the fee is paid in the refund's own asset
			meta["network_fee_paid_by"] = "merchant"
			out.Add(out, nf)
			fee, err = money.CheckedFiatFromCrypto(nf, r.Scale, rate, cur.Scale)
			if err != nil {
				return fail(err)
			}
		default:
			meta["network_fee_paid_by"] = "merchant (in the native coin, not in this record)"
		}
	}
	gross := new(big.Int).Neg(r.AmountFiat)
	net := new(big.Int).Sub(gross, fee)
	rec := Record{
		IdempotencyKey:    RefundKey(r.ID, b.Seq),
		MerchantID:        inv.MerchantID,
		SourceType:        SourceCryptoRefund,
		SourceID:          r.ID,
		ReportingCategory: CategoryRefund,
		Description:       fmt.Sprintf("Refund in %s of invoice %s", asset.Code, inv.ID),
		Currency:          cur.Code,
		Gross:             gross,
		Fee:               fee,
		Net:               net,
		Original:          &Original{Asset: asset.String(), Amount: new(big.Int).Neg(r.AmountAtomic), Scale: asset.Scale},
		ExchangeRate:      &ExchangeRate{Rate: r.Rate, Source: r.RateSource, At: r.RateAt},
		OccurredAt:        b.At,
		Chain:             &ChainEvidence{Chain: r.Chain, TxID: r.TxID, OutputIndex: -1, BlockHeight: *r.BlockHeight, BlockHash: r.BlockHash},
		Metadata:          meta,
	}
	if r.OutputIndex != nil {
		rec.Chain.OutputIndex = *r.OutputIndex
	}
	if b.Tip >= *r.BlockHeight {
		rec.Chain.Confirmations = b.Tip - *r.BlockHeight + 1
	}
	if fee.Sign() != 0 {
		rec.FeeDetails = []FeeDetail{{Type: "network_fee", Amount: new(big.Int).Set(fee), Description: "network fee of the refund transaction"}}
	}
	fromRevenue := new(big.Int).Sub(r.AmountFiat, from)
	ps := appendPair(nil, AccountRevenue(inv.MerchantID, SourceCryptoPayment), AccountBalance(inv.MerchantID), cur.String(), fromRevenue)
	ps = appendPair(ps, AccountSuspense(inv.MerchantID), AccountBalance(inv.MerchantID), cur.String(), from)
	ps = appendPair(ps, AccountFees(inv.MerchantID), AccountBalance(inv.MerchantID), cur.String(), fee)
	rec.Postings = appendPair(ps, AccountWorld, AccountWallet(inv.MerchantID, asset.Chain), asset.String(), out)
	if err := rec.Validate(); err != nil {
		return fail(err)
	}
	return rec, nil
}

// latestRefundBook returns the refund's latest book row (State none, Seq 0 when it has
// none) and the latest rows of the invoice's other movements.
func latestRefundBook(ctx context.Context, tx store.Tx, r store.Refund) (store.LedgerBook, []store.LedgerBook, error) {
	books, err := tx.LatestLedgerBooks(ctx, r.InvoiceID)
	if err != nil {
		return store.LedgerBook{}, nil, fmt.Errorf("books of invoice %s: %w", r.InvoiceID, err)
	}
	cur := store.LedgerBook{PaymentID: r.ID, State: store.BookNone, Amount: new(big.Int)}
	for _, b := range books {
		if b.PaymentID == r.ID {
			cur = b
		}
	}
	return cur, books, nil
}

// BookRefundTx books a completed refund inside tx, the transaction that completes it:
// one refund record, numbered in the refund's own books (the ledger_books rows keyed by
// the refund id, so its records reach the sink in order). It is idempotent: a refund
// already booked posts nothing. The part paid from suspense is what the invoice's
// unapplied receipts (Expect) hold beyond what its other booked refunds took from them.
func BookRefundTx(ctx context.Context, tx store.Tx, d invoices.Details, r store.Refund, now time.Time) error {
	cur, books, err := latestRefundBook(ctx, tx, r)
	if err != nil {
		return err
	}
	if cur.State == store.BookApplied {
		return nil
	}
	exps, err := Expect(d)
	if err != nil {
		return err
	}
	room := new(big.Int)
	for _, e := range exps {
		if e.State == store.BookUnapplied {
			room.Add(room, e.Amount)
		}
	}
	for _, b := range books {
		if b.PaymentID == r.ID || b.State != store.BookApplied || !isRefundKey(b.RecordKey) {
			continue
		}
		m, err := tx.OutboxByKey(ctx, Topic, b.RecordKey)
		if err != nil {
			return fmt.Errorf("record %s: %w", b.RecordKey, err)
		}
		rec, err := ParseRecord([]byte(m.Payload))
		if err != nil {
			return fmt.Errorf("record %s: %w", b.RecordKey, err)
		}
		if took, ok := new(big.Int).SetString(rec.Metadata["from_unapplied"], 10); ok {
			room.Sub(room, took)
		}
	}
	from := minBig(r.AmountFiat, room)
	if from.Sign() < 0 {
		from.SetInt64(0)
	}
	at := bookedAt(now)
	seq := cur.Seq + 1
	rec, err := RefundRecord(RefundBooking{Invoice: d.Invoice, Refund: r, FromUnapplied: from, Tip: d.Tips[r.Chain], At: at, Seq: seq})
	if err != nil {
		return err
	}
	return enqueueBook(ctx, tx, rec, store.LedgerBook{PaymentID: r.ID, Seq: seq, InvoiceID: r.InvoiceID, MerchantID: r.MerchantID,
		State: store.BookApplied, Amount: new(big.Int).Set(r.AmountFiat), RecordKey: rec.IdempotencyKey, CreatedAt: at})
}

// UnbookRefundTx reverses the refund's record inside tx (its transaction left the chain):
// a refund_reversal mirroring it, the next record of the refund's books. Idempotent: a
// refund not booked posts nothing.
func UnbookRefundTx(ctx context.Context, tx store.Tx, r store.Refund, now time.Time) error {
	cur, _, err := latestRefundBook(ctx, tx, r)
	if err != nil || cur.State != store.BookApplied {
		return err
	}
	m, err := tx.OutboxByKey(ctx, Topic, cur.RecordKey)
	if err != nil {
		return fmt.Errorf("record %s of refund %s: %w", cur.RecordKey, r.ID, err)
	}
	rec, err := ParseRecord([]byte(m.Payload))
	if err != nil {
		return fmt.Errorf("record %s: %w", cur.RecordKey, err)
	}
	at := bookedAt(now)
	rev, err := Reversal(rec, at)
	if err != nil {
		return err
	}
	seq := cur.Seq + 1
	rev.IdempotencyKey = RefundReversalKey(r.ID, seq)
	rev.Metadata["refund_sequence"] = strconv.FormatInt(seq, 10)
	rev.Metadata["reversal_reason"] = ReasonReorg
	if err := rev.Validate(); err != nil {
		return err
	}
	return enqueueBook(ctx, tx, rev, store.LedgerBook{PaymentID: r.ID, Seq: seq, InvoiceID: r.InvoiceID, MerchantID: r.MerchantID,
		State: store.BookNone, Amount: new(big.Int), RecordKey: rev.IdempotencyKey, CreatedAt: at})
}

func isRefundKey(key string) bool {
	return len(key) > len(SourceCryptoRefund) && key[:len(SourceCryptoRefund)+1] == SourceCryptoRefund+":"
}

func minBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}
