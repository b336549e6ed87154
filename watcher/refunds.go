package watcher

import (
	"context"
	"fmt"

	"github.com/chainpay/chainpay/store"
)

// Refunds follows refund transactions on the follower's chain (package refunds, issue
// 25): the follower hands it each block's and the mempool's transfers to the refunds'
// destinations, and every rewind, inside the same transactions as the payments, so a
// refund moves with the same reorg handling as a payment. Its methods run inside the
// follower's write transactions and must do no network I/O.
type Refunds interface {
	// Destinations lists the addresses of the chain's refunds waiting for or carrying a
	// transaction; the follower adds them to a filtered source's watch list.
	Destinations(ctx context.Context, chain string) ([]string, error)
	// BlockTx sees the transfers of block height (hash) on the best chain.
	BlockTx(ctx context.Context, tx store.Tx, chain string, height int64, hash string, transfers []Transfer) error
	// MempoolTx sees unconfirmed transfers (at tip height tip).
	MempoolTx(ctx context.Context, tx store.Tx, chain string, tip int64, transfers []Transfer) error
	// RewindTx is told that the chain rewound to ancestor: transactions in blocks above it
	// left their blocks.
	RewindTx(ctx context.Context, tx store.Tx, chain string, ancestor int64) error
	// InFlightTx lists the chain's sent refunds whose transaction is in no block (in the
	// mempool, or taken out of its block by a reorg), ordered by refund id.
	InFlightTx(ctx context.Context, tx store.Tx, chain string) ([]InFlightRefund, error)
	// VanishedTx is told that refund id's transaction has been gone for the grace the
	// follower gives payments (see Follower.refundsVanishedTx): the refund is ready for
	// another transaction.
	VanishedTx(ctx context.Context, tx store.Tx, chain, id string) error
}

// InFlightRefund is a sent refund whose transaction is in no block.
type InFlightRefund struct{ RefundID, TxID string }

// watchRefunds adds the refunds' destinations to a filtered source's watch list (any other
// source reports every transfer, those to refund destinations included).
func (f *Follower) watchRefunds(ctx context.Context) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	addrs, err := f.cfg.Refunds.Destinations(ctx, f.src.Chain())
	if err != nil {
		return fmt.Errorf("refund destinations: %w", err)
	}
	var fresh []string
	for _, a := range addrs {
		if !f.refundTo[a] {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) > 0 {
		if err := f.watcher.Watch(fresh); err != nil {
			return fmt.Errorf("watch refund destinations: %w", err)
		}
	}
	for _, a := range fresh { // only once the source took them
		f.refundTo[a] = true
	}
	return nil
}

func (f *Follower) refundsBlockTx(ctx context.Context, tx store.Tx, b Block) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	return f.cfg.Refunds.BlockTx(ctx, tx, f.src.Chain(), b.Height, b.Hash, b.Transfers)
}

func (f *Follower) refundsMempoolTx(ctx context.Context, tx store.Tx, tip int64, ts []Transfer) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	return f.cfg.Refunds.MempoolTx(ctx, tx, f.src.Chain(), tip, ts)
}

func (f *Follower) refundsRewindTx(ctx context.Context, tx store.Tx, ancestor int64) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	return f.cfg.Refunds.RewindTx(ctx, tx, f.src.Chain(), ancestor)
}

// refundsGoneTx applies to refunds the rule that removes a vanished mempool payment, inside
// the mempool pass's transaction and before its transfers are matched (so a replacement
// in the same snapshot pays the refund at once): a sent refund whose transaction is in no
// block and missing from two consecutive snapshots taken at a stable tip has vanished
// (evicted, replaced by a transaction that pays elsewhere, or reorged out and dropped).
// missing is the pass's new count map (f.missing is replaced by it after commit).
func (f *Follower) refundsGoneTx(ctx context.Context, tx store.Tx, inPool map[string]bool, stable bool, missing map[string]int) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	fl, err := f.cfg.Refunds.InFlightTx(ctx, tx, f.src.Chain())
	if err != nil {
		return err
	}
	for _, r := range fl {
		if inPool[r.TxID] || !stable {
			continue // seen (or not judged): the count starts over
		}
		key := "refund:" + r.RefundID
		if n := f.missing[key] + 1; n < 2 {
			missing[key] = n
			continue
		}
		if err := f.cfg.Refunds.VanishedTx(ctx, tx, f.src.Chain(), r.RefundID); err != nil {
			return fmt.Errorf("refund %s: %w", r.RefundID, err)
		}
	}
	return nil
}

// refundsOrphanedTx is dropOrphans for refunds on a chain without a visible mempool: a sent
// refund whose transaction a reorg took out of its block vanishes when it is not mined
// again within OrphanGraceBlocks blocks of the height the follower first found it in no
// block. since is the pass's new map (f.refundSince is replaced by it after commit); it is
// in memory, so a restarted follower starts the grace again (later, never earlier).
func (f *Follower) refundsOrphanedTx(ctx context.Context, tx store.Tx, height int64, since map[string]int64) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	fl, err := f.cfg.Refunds.InFlightTx(ctx, tx, f.src.Chain())
	if err != nil {
		return err
	}
	for _, r := range fl {
		from, ok := f.refundSince[r.RefundID]
		if !ok {
			from = height
		}
		if height-from < f.cfg.OrphanGraceBlocks {
			since[r.RefundID] = from
			continue
		}
		if err := f.cfg.Refunds.VanishedTx(ctx, tx, f.src.Chain(), r.RefundID); err != nil {
			return fmt.Errorf("refund %s: %w", r.RefundID, err)
		}
	}
	return nil
}
