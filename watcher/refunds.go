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
	// transaction; the follower adds them to its source's watch list.
	Destinations(ctx context.Context, chain string) ([]string, error)
	// BlockTx sees the transfers of block height (hash) on the best chain.
	BlockTx(ctx context.Context, tx store.Tx, chain string, height int64, hash string, transfers []Transfer) error
	// MempoolTx sees unconfirmed transfers (at tip height tip).
	MempoolTx(ctx context.Context, tx store.Tx, chain string, tip int64, transfers []Transfer) error
	// RewindTx is told that the chain rewound to ancestor: transactions in blocks above it
	// left their blocks.
	RewindTx(ctx context.Context, tx store.Tx, chain string, ancestor int64) error
}

// watchRefunds hands the refunds' destinations to the source on every refresh (adding an
// address twice is harmless; there are few open refunds). They are kept out of the
// follower's own address counts, so closing invoices never unwatches them.
func (f *Follower) watchRefunds(ctx context.Context) error {
	if f.cfg.Refunds == nil {
		return nil
	}
	addrs, err := f.cfg.Refunds.Destinations(ctx, f.src.Chain())
	if err != nil {
		return fmt.Errorf("refund destinations: %w", err)
	}
	if len(addrs) == 0 {
		return nil
	}
	return f.src.Watch(addrs)
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
