package refunds

import (
	"context"
	"errors"
	"fmt"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// followDepth is how many blocks below the tip a completed refund stays on the follower's
// watch list: a reorg deeper than that is not followed for refunds (the follower keeps
// fewer recorded blocks than this by default).
const followDepth = 144

// Follower returns the refunds' side of a chain follower (watcher.Config.Refunds).
func (s *Service) Follower() watcher.Refunds { return follower{s} }

type follower struct{ s *Service }

var _ watcher.Refunds = follower{}

// open lists the chain's refunds the follower must see at tip height.
func open(ctx context.Context, tx store.Tx, chain string, tip int64) ([]store.Refund, error) {
	return tx.OpenRefunds(ctx, chain, tip-followDepth)
}

func (f follower) Destinations(ctx context.Context, chain string) ([]string, error) {
	var out []string
	err := f.s.st.View(ctx, func(tx store.Tx) error {
		tip := int64(0)
		c, err := tx.Cursor(ctx, chain)
		switch {
		case err == nil:
			tip = c.Height
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		rs, err := open(ctx, tx, chain, tip)
		for _, r := range rs {
			if r.Destination != "" {
				out = append(out, r.Destination)
			}
		}
		return err
	})
	return out, err
}

// match returns the refunds paid by transfer t: same destination and asset.
func match(rs []store.Refund, t watcher.Transfer) []store.Refund {
	var out []store.Refund
	for _, r := range rs {
		if r.Destination == t.Address && r.Asset == t.Asset {
			out = append(out, r)
		}
	}
	return out
}

func (f follower) BlockTx(ctx context.Context, tx store.Tx, chain string, height int64, hash string, ts []watcher.Transfer) error {
	rs, err := open(ctx, tx, chain, height)
	if err != nil || len(rs) == 0 {
		return err
	}
	seen := map[string]bool{}
	for _, t := range ts {
		for _, r := range match(rs, t) {
			h := height
			ok, err := f.s.ObserveTx(ctx, tx, r.ID, Transfer{TxID: t.TxID, OutputIndex: t.Index, Amount: t.Amount, BlockHeight: &h, BlockHash: hash}, height)
			if err != nil {
				return fmt.Errorf("refund %s: %w", r.ID, err)
			}
			if ok {
				seen[r.ID] = true
			}
		}
	}
	// Confirmations moved for the refunds already in a block.
	for _, r := range rs {
		if !seen[r.ID] && r.Status == store.RefundSent && r.BlockHeight != nil {
			if _, err := f.s.ReviewTx(ctx, tx, r.ID, height); err != nil {
				return fmt.Errorf("refund %s: %w", r.ID, err)
			}
		}
	}
	return nil
}

func (f follower) MempoolTx(ctx context.Context, tx store.Tx, chain string, tip int64, ts []watcher.Transfer) error {
	rs, err := open(ctx, tx, chain, tip)
	if err != nil || len(rs) == 0 {
		return err
	}
	for _, t := range ts {
		for _, r := range match(rs, t) {
			if r.Status != store.RefundClaimed {
				continue // a refund already following its transaction keeps it
			}
			if _, err := f.s.ObserveTx(ctx, tx, r.ID, Transfer{TxID: t.TxID, OutputIndex: t.Index, Amount: t.Amount}, tip); err != nil {
				return fmt.Errorf("refund %s: %w", r.ID, err)
			}
		}
	}
	return nil
}

func (f follower) RewindTx(ctx context.Context, tx store.Tx, chain string, ancestor int64) error {
	rs, err := tx.OpenRefunds(ctx, chain, ancestor)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.BlockHeight != nil && *r.BlockHeight > ancestor {
			if err := f.s.OrphanedTx(ctx, tx, r.ID); err != nil {
				return fmt.Errorf("refund %s: %w", r.ID, err)
			}
		}
	}
	return nil
}
