package refunds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// DefaultSyncWindow is Config.SyncWindow's default: how recently a chain's follower must
// have stood at the fresh tip of a synced node for chainpay to decide a refund on what it
// recorded of that chain. Followers poll every few seconds (5 s for Bitcoin, 2 s for EVM
// chains by default), so two minutes allow a slow step and a follower handover.
const DefaultSyncWindow = 2 * time.Minute

// ErrNotSynced is what NotSyncedError matches with errors.Is.
var ErrNotSynced = errors.New("the chain follower is not at the node's tip")

// NotSyncedError refuses to create (or prepare the payment of) a refund while what chainpay
// recorded of one of the invoice's chains may be stale: its follower has not stood at the
// fresh tip of a synced node within the sync window (the node is down or stuck, the
// follower is catching up after an outage, or no follower runs). A payment that a reorg
// took out while nobody watched still looks received until the follower catches up, so a
// refund decided then could pay back money the invoice never kept (seed 749427 of the
// simulator). The refusal is temporary: retry once the follower has caught up.
type NotSyncedError struct {
	Chain string
	// Synced is when the follower last stood at the node's fresh tip (its cursor's chain
	// time); zero when it never has.
	Synced time.Time
	Now    time.Time
	Window time.Duration
}

func (e *NotSyncedError) Error() string {
	if e.Synced.IsZero() {
		return fmt.Sprintf("chainpay's %s follower has not stood at the node's tip yet, so it cannot tell what the invoice received there; retry once it has caught up", e.Chain)
	}
	return fmt.Sprintf("chainpay's %s follower last stood at the node's tip %s ago (it must have within %s): the node is down or behind, or the follower is catching up, so what the invoice received may have changed; retry shortly",
		e.Chain, e.Now.Sub(e.Synced).Round(time.Second), e.Window)
}

// Is makes errors.Is(err, ErrNotSynced) true.
func (e *NotSyncedError) Is(target error) bool { return target == ErrNotSynced }

// checkSynced refuses (NotSyncedError) unless every chain of chains has a follower that stood
// at the fresh tip of a synced node within the sync window, by the cursors inside tx: the
// same snapshot the refund's balance is read from. A follower's cursor carries its chain
// time, which it sets to the wall clock at every poll at such a tip and otherwise leaves
// at the time of the newest block it applied (store.Cursor.ChainTime).
func (s *Service) checkSynced(ctx context.Context, tx store.Tx, chains []string) error {
	if s.cfg.SyncWindow < 0 || len(chains) == 0 {
		return nil
	}
	cs, err := tx.Cursors(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, chain := range chains {
		i := slices.IndexFunc(cs, func(c store.Cursor) bool { return c.Chain == chain })
		if i < 0 {
			return &NotSyncedError{Chain: chain, Now: now, Window: s.cfg.SyncWindow}
		}
		if at := cs[i].ChainTime; at.IsZero() || now.Sub(at) > s.cfg.SyncWindow {
			return &NotSyncedError{Chain: chain, Synced: at, Now: now, Window: s.cfg.SyncWindow}
		}
	}
	return nil
}

// chainsOf lists the chains a refund of d in chain depends on: its own and those of every
// payment of the invoice (what the invoice received is summed over all of them).
func chainsOf(d invoices.Details, chain string) []string {
	out := []string{chain}
	for _, p := range d.Payments {
		if !slices.Contains(out, p.Chain) {
			out = append(out, p.Chain)
		}
	}
	return out
}

// covered refuses to prepare the payment of refund r when the invoice no longer holds what
// its refunds reserve in r's asset or in its currency: a payment left the chain (a reorg
// deeper than the merchant waited for, a double spend of money refunded unconfirmed) after
// the refund was created. Paying it would send back more than was received; the merchant
// cancels it and refunds what remains.
func covered(d invoices.Details, r store.Refund) error {
	bal, err := Balance(d)
	if err != nil {
		return err
	}
	short := bal.ReservedFiat.Cmp(bal.ReceivedFiat) > 0
	for _, a := range bal.Assets {
		if a.Option.Asset == r.Asset && a.ReservedAtomic.Cmp(a.ReceivedAtomic) > 0 {
			short = true
		}
	}
	if !short {
		return nil
	}
	sc, code := bal.currency.Scale, bal.currency.Code
	return &invoices.StateError{Err: fmt.Errorf(
		"refund %s: invoice %s now holds less than its refunds reserve (received %s %s, reserved %s %s): a payment left the chain after the refund was created; cancel the refund and refund what remains",
		r.ID, r.InvoiceID, money.FormatAmount(bal.ReceivedFiat, sc), code, money.FormatAmount(bal.ReservedFiat, sc), code)}
}
