package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

// Settler turns invoice state changes into ledger records in the same transaction
// (invoices.Settler): on invoice.settled one settlement record per counted payment, on
// invoice.reorged a reversal of every settled record whose payment left the chain, and when
// the merchant resolves a settled invoice to invalid a reversal of all its settlements.
type Settler struct {
	// Fees returns the merchant's processing fee policy (nil: no fee).
	Fees func(ctx context.Context, tx store.Tx, merchantID string) (FeePolicy, error)
	// FairValue returns the market rate of asset in currency at receipt, for accounting
	// beside the locked rate (nil or ok=false: none recorded).
	FairValue func(ctx context.Context, asset, currency string) (Rate, bool)
}

var _ invoices.Settler = (*Settler)(nil)

// SettleTx implements invoices.Settler.
func (s *Settler) SettleTx(ctx context.Context, tx store.Tx, d invoices.Details, events []string, now time.Time) error {
	if slices.Contains(events, invoices.EventSettled) {
		if err := s.settled(ctx, tx, d, now); err != nil {
			return err
		}
	}
	if slices.Contains(events, invoices.EventReorged) {
		if err := s.reverse(ctx, tx, d, now, "reorg", func(p store.Payment) bool { return p.Status == store.PaymentRemoved }); err != nil {
			return err
		}
	}
	// A merchant who marks a settled invoice invalid (a refund made outside chainpay, a
	// fraud case) takes its money out of the books: every posted settlement is reversed.
	if slices.Contains(events, invoices.EventResolved) && d.Invoice.Status == string(invoices.StatusInvalid) {
		if err := s.reverse(ctx, tx, d, now, "resolved_invalid", func(store.Payment) bool { return true }); err != nil {
			return err
		}
	}
	return nil
}

// settled posts a settlement record for each payment that counts: confirmed ones (and
// unconfirmed ones on options that settle at 0 confirmations), seen by the monitoring end.
func (s *Settler) settled(ctx context.Context, tx store.Tx, d invoices.Details, now time.Time) error {
	fee := FeePolicy{}
	if s.Fees != nil {
		var err error
		if fee, err = s.Fees(ctx, tx, d.Invoice.MerchantID); err != nil {
			return err
		}
	}
	for _, o := range d.Options {
		var pays []store.Payment
		for _, p := range d.Payments {
			counts := p.Status == store.PaymentConfirmed || (p.Status == store.PaymentMempool && o.Confirmations == 0)
			if p.OptionID == o.ID && counts && !p.SeenAt.After(d.Invoice.MonitorUntil) {
				pays = append(pays, p)
			}
		}
		if len(pays) == 0 {
			continue // a merchant may resolve an invoice paid off-chain: nothing to post
		}
		fv := map[string]Rate{}
		if s.FairValue != nil {
			if r, ok := s.FairValue(ctx, o.Asset, d.Invoice.Currency); ok {
				for _, p := range pays {
					fv[p.ID] = r
				}
			}
		}
		round, err := s.round(ctx, tx, pays)
		if err != nil {
			return err
		}
		recs, err := SettlementRecords(Settlement{Invoice: d.Invoice, Option: o, Payments: pays, Tip: d.Tips[o.Chain],
			Fee: fee, FairValues: fv, SettledAt: now, Round: round})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := EnqueueTx(ctx, tx, r, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// round is 1 for a first settlement, or one more than the rounds already posted for these
// payments (a reorg reversed an earlier settlement and the payments confirmed again).
func (s *Settler) round(ctx context.Context, tx store.Tx, pays []store.Payment) (int, error) {
	round := 1
	for _, p := range pays {
		for r := 1; ; r++ {
			_, err := tx.OutboxByKey(ctx, Topic, SettlementKeyRound(p.ID, r))
			if errors.Is(err, store.ErrNotFound) {
				round = max(round, r)
				break
			}
			if err != nil {
				return 0, err
			}
		}
	}
	return round, nil
}

// reverse reverses the latest settlement of every selected payment that has one and no
// reversal yet (idempotent: running it twice posts nothing new).
// reason goes into the reversal's metadata (reversal_reason: reorg or resolved_invalid).
func (s *Settler) reverse(ctx context.Context, tx store.Tx, d invoices.Details, now time.Time, reason string, selected func(store.Payment) bool) error {
	for _, p := range d.Payments {
		if !selected(p) {
			continue
		}
		var last *store.OutboxMessage
		for r := 1; ; r++ {
			m, err := tx.OutboxByKey(ctx, Topic, SettlementKeyRound(p.ID, r))
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return err
			}
			last = &m
		}
		if last == nil {
			continue
		}
		if _, err := tx.OutboxByKey(ctx, Topic, ReversalKey(last.Key)); err == nil {
			continue // already reversed
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		rec, err := ParseRecord([]byte(last.Payload))
		if err != nil {
			return fmt.Errorf("settled record %s: %w", last.Key, err)
		}
		rev, err := Reversal(rec, now)
		if err != nil {
			return err
		}
		rev.Metadata["reversal_reason"] = reason
		if err := EnqueueTx(ctx, tx, rev, now); err != nil {
			return err
		}
	}
	return nil
}
