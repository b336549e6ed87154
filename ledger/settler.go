package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

// Settler keeps the books of an invoice's payments equal to what they must be (Expect),
// inside the transaction that changed the invoice (invoices.Settler). It is a pure
// reconcile: per payment it compares the expected booked state with the payment's latest
// book row and posts exactly the records that move one to the other — a charge, an
// unapplied receipt, a reversal of the charge or a clearing of the receipt — each numbered
// in the payment's own sequence. Calling it again posts nothing; when nothing changed it
// costs one indexed read (LatestLedgerBooks).
type Settler struct {
	// Fees returns the merchant's processing fee policy (nil: no fee). Called only when a
	// charge is posted.
	Fees func(ctx context.Context, tx store.Tx, merchantID string) (FeePolicy, error)
	// FairValue returns the market rate of asset in currency at receipt, for accounting
	// beside the locked rate (nil or ok=false: none recorded). It is called inside a write
	// transaction, so it must answer from memory (a rates cache) and never do network I/O.
	FairValue func(asset, currency string) (Rate, bool)
}

var _ invoices.Settler = (*Settler)(nil)

// SettleTx implements invoices.Settler. events is not consulted: the books follow the
// payments and the invoice's current status, whatever changed.
func (s *Settler) SettleTx(ctx context.Context, tx store.Tx, d invoices.Details, _ []string, now time.Time) error {
	if len(d.Payments) == 0 {
		return nil
	}
	want, err := Expect(d)
	if err != nil {
		return err
	}
	books, err := tx.LatestLedgerBooks(ctx, d.Invoice.ID)
	if err != nil {
		return fmt.Errorf("books of invoice %s: %w", d.Invoice.ID, err)
	}
	latest := make(map[string]store.LedgerBook, len(books))
	for _, b := range books {
		latest[b.PaymentID] = b
	}
	var fee *FeePolicy
	at := bookedAt(now)
	for _, e := range want {
		cur, ok := latest[e.Payment.ID]
		if !ok {
			cur = store.LedgerBook{PaymentID: e.Payment.ID, State: store.BookNone, Amount: new(big.Int)}
			if e.State != store.BookNone || e.Payment.Status == store.PaymentRemoved {
				// Records enqueued before the books existed (by status changes) are adopted
				// first, so they are reversed rather than posted twice.
				if cur, err = adoptLegacy(ctx, tx, d, e.Payment.ID, at); err != nil {
					return err
				}
			}
		}
		if cur.State == e.State {
			continue
		}
		seq := cur.Seq
		// Take the payment out of its current state.
		if cur.State != store.BookNone {
			seq++
			if err := s.undo(ctx, tx, d, cur, e, seq, at); err != nil {
				return err
			}
		}
		if e.State == store.BookNone {
			continue
		}
		seq++
		b := booking{Invoice: d.Invoice, Option: e.Option, Payment: e.Payment, Tip: d.Tips[e.Payment.Chain], At: at, Seq: seq}
		if e.State == store.BookApplied {
			if fee == nil {
				fee = &FeePolicy{}
				if s.Fees != nil {
					f, err := s.Fees(ctx, tx, d.Invoice.MerchantID)
					if err != nil {
						return err
					}
					fee = &f
				}
			}
			b.Fee, b.FixedFee, b.Category, b.Key = *fee, e.First, CategoryCharge, SettlementKeyRound(e.Payment.ID, int(seq))
		} else {
			b.Category, b.Key, b.Reason = CategoryUnappliedReceipt, UnappliedKey(e.Payment.ID, seq), e.Reason
		}
		if s.FairValue != nil {
			if r, ok := s.FairValue(e.Option.Asset, d.Invoice.Currency); ok {
				b.FairValue = &r
			}
		}
		rec, err := paymentRecord(b)
		if err != nil {
			return err
		}
		if err := enqueueBook(ctx, tx, rec, store.LedgerBook{PaymentID: e.Payment.ID, Seq: seq, InvoiceID: d.Invoice.ID,
			MerchantID: d.Invoice.MerchantID, State: e.State, Amount: rec.Gross, RecordKey: rec.IdempotencyKey, CreatedAt: at}); err != nil {
			return err
		}
	}
	return nil
}

// undo posts the reversal of the charge (or the clearing of the unapplied receipt) that put
// the payment in its current state, as the seq-th record of the payment.
func (s *Settler) undo(ctx context.Context, tx store.Tx, d invoices.Details, cur store.LedgerBook, e Expectation, seq int64, at time.Time) error {
	m, err := tx.OutboxByKey(ctx, Topic, cur.RecordKey)
	if err != nil {
		return fmt.Errorf("record %s of payment %s: %w", cur.RecordKey, cur.PaymentID, err)
	}
	rec, err := ParseRecord([]byte(m.Payload))
	if err != nil {
		return fmt.Errorf("record %s: %w", cur.RecordKey, err)
	}
	rev, err := Reversal(rec, at)
	if err != nil {
		return err
	}
	rev.Metadata["reversal_reason"] = undoReason(d, cur, e)
	rev.Metadata["payment_sequence"] = strconv.FormatInt(seq, 10)
	delete(rev.Metadata, "unapplied_reason")
	return enqueueBook(ctx, tx, rev, store.LedgerBook{PaymentID: cur.PaymentID, Seq: seq, InvoiceID: d.Invoice.ID,
		MerchantID: d.Invoice.MerchantID, State: store.BookNone, Amount: new(big.Int), RecordKey: rev.IdempotencyKey, CreatedAt: at})
}

// undoReason says why a payment leaves its booked state cur for e.
func undoReason(d invoices.Details, cur store.LedgerBook, e Expectation) string {
	switch {
	case e.State == store.BookNone:
		return ReasonReorg // a confirmed payment only loses its depth to a reorg
	case e.State == store.BookApplied && slices.Contains(d.Invoice.Flags, string(invoices.FlagMarked)):
		return ReasonResolvedSettled
	case e.State == store.BookApplied:
		return ReasonApplied
	default: // applied → unapplied: why it is unapplied now
		return e.Reason
	}
}

// enqueueBook puts rec into the outbox (EnqueueTx) and records it as the b.Seq-th record of
// the payment's books, in tx.
func enqueueBook(ctx context.Context, tx store.Tx, rec Record, b store.LedgerBook) error {
	if err := EnqueueTx(ctx, tx, rec, b.CreatedAt); err != nil {
		return err
	}
	if err := tx.AppendLedgerBook(ctx, b); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("books of payment %s: record %d written concurrently: %w", b.PaymentID, b.Seq, store.ErrBusy)
		}
		return fmt.Errorf("books of payment %s: %w", b.PaymentID, err)
	}
	return nil
}

// adoptLegacy writes book rows for a payment's records enqueued before the books existed
// (keys crypto_payment:{id}:settled[:round] and their reversals, one round after another)
// and returns the latest row; with none it returns the empty state. One indexed read when
// the payment has no legacy record.
func adoptLegacy(ctx context.Context, tx store.Tx, d invoices.Details, paymentID string, at time.Time) (store.LedgerBook, error) {
	cur := store.LedgerBook{PaymentID: paymentID, State: store.BookNone, Amount: new(big.Int)}
	for round := 1; ; round++ {
		key := SettlementKeyRound(paymentID, round)
		m, err := tx.OutboxByKey(ctx, Topic, key)
		if errors.Is(err, store.ErrNotFound) {
			return cur, nil
		}
		if err != nil {
			return cur, err
		}
		rec, err := ParseRecord([]byte(m.Payload))
		if err != nil {
			return cur, fmt.Errorf("legacy record %s: %w", key, err)
		}
		steps := []store.LedgerBook{{State: store.BookApplied, Amount: rec.Gross, RecordKey: key}}
		if _, err := tx.OutboxByKey(ctx, Topic, ReversalKey(key)); err == nil {
			steps = append(steps, store.LedgerBook{State: store.BookNone, Amount: new(big.Int), RecordKey: ReversalKey(key)})
		} else if !errors.Is(err, store.ErrNotFound) {
			return cur, err
		}
		for _, b := range steps {
			b.PaymentID, b.Seq, b.InvoiceID, b.MerchantID, b.CreatedAt = paymentID, cur.Seq+1, d.Invoice.ID, d.Invoice.MerchantID, at
			if err := tx.AppendLedgerBook(ctx, b); err != nil {
				return cur, fmt.Errorf("books of payment %s: adopt %s: %w", paymentID, b.RecordKey, err)
			}
			cur = b
		}
	}
}
