package refunds

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/btcutil/psbt"

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

// byDestination groups refunds by destination address: a block or the mempool hands the
// follower every transfer (the Bitcoin source reports every output), so each is looked up
// instead of compared with every open refund.
func byDestination(rs []store.Refund) map[string][]store.Refund {
	out := make(map[string][]store.Refund, len(rs))
	for _, r := range rs {
		out[r.Destination] = append(out[r.Destination], r)
	}
	return out
}

// match returns the refunds transfer t may pay: same destination and asset, sent by the
// refund's merchant (fromMerchant) unless it is the transaction the refund already follows.
func (f follower) match(ctx context.Context, tx store.Tx, rs map[string][]store.Refund, t watcher.Transfer) ([]store.Refund, error) {
	var out []store.Refund
	for _, r := range rs[t.Address] {
		if r.Asset != t.Asset {
			continue
		}
		if r.TxID != t.TxID {
			ok, err := f.s.fromMerchant(ctx, tx, r, t)
			if err != nil {
				return nil, fmt.Errorf("refund %s: sender of %s: %w", r.ID, t.TxID, err)
			}
			if !ok {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// fromMerchant reports whether transfer t was sent by the merchant who owes refund r. On
// Bitcoin its transaction must spend a coin of the merchant's wallet: an output chainpay
// recorded as a payment to one of the merchant's deposit addresses, or an input of the
// refund's PSBT. On an EVM chain its sender must be the treasury of one of the merchant's
// wallets on that chain (the address PrepareEVM names as "from"). Anything else — another
// deposit to an exchange address the customer gave, a third party paying the amount — never
// pays a refund.
func (s *Service) fromMerchant(ctx context.Context, tx store.Tx, r store.Refund, t watcher.Transfer) (bool, error) {
	if r.Chain != "bitcoin" {
		if t.From == "" {
			return false, nil // sender unknown (a balance change): not provably the merchant's
		}
		ws, err := tx.Wallets(ctx, r.MerchantID)
		if err != nil {
			return false, err
		}
		for _, w := range ws {
			if w.Chain == r.Chain && w.Treasury != "" && strings.EqualFold(w.Treasury, t.From) {
				return true, nil
			}
		}
		return false, nil
	}
	if len(t.Spends) == 0 {
		return false, nil
	}
	for _, op := range psbtInputs(r.Prepared) {
		if slices.Contains(t.Spends, op) {
			return true, nil
		}
	}
	own, err := tx.MerchantCoins(ctx, r.MerchantID, r.Chain, t.Spends)
	return len(own) > 0, err
}

// psbtInputs lists the outpoints a refund's prepared PSBT spends (none when it has none).
func psbtInputs(prepared string) []string {
	if prepared == "" {
		return nil
	}
	p, err := psbt.NewFromRawBytes(strings.NewReader(prepared), true)
	if err != nil {
		return nil
	}
	out := make([]string, len(p.UnsignedTx.TxIn))
	for i, in := range p.UnsignedTx.TxIn {
		out[i] = in.PreviousOutPoint.String()
	}
	return out
}

func (f follower) BlockTx(ctx context.Context, tx store.Tx, chain string, height int64, hash string, ts []watcher.Transfer) error {
	rs, err := open(ctx, tx, chain, height)
	if err != nil || len(rs) == 0 {
		return err
	}
	seen := map[string]bool{}
	dest := byDestination(rs)
	for _, t := range ts {
		ms, err := f.match(ctx, tx, dest, t)
		if err != nil {
			return err
		}
		for _, r := range ms {
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
	dest := byDestination(rs)
	for _, t := range ts {
		ms, err := f.match(ctx, tx, dest, t)
		if err != nil {
			return err
		}
		for _, r := range ms {
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

func (f follower) InFlightTx(ctx context.Context, tx store.Tx, chain string) ([]watcher.InFlightRefund, error) {
	rs, err := tx.OpenRefunds(ctx, chain, math.MaxInt64) // claimed and sent ones only
	var out []watcher.InFlightRefund
	for _, r := range rs {
		if r.Status == store.RefundSent && r.BlockHeight == nil && r.TxID != "" {
			out = append(out, watcher.InFlightRefund{RefundID: r.ID, TxID: r.TxID})
		}
	}
	return out, err
}

func (f follower) VanishedTx(ctx context.Context, tx store.Tx, _ string, id string) error {
	return f.s.VanishedTx(ctx, tx, id)
}
