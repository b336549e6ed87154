package refunds

import (
	"context"
	"fmt"
	"math/big"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
)

// Transfer is an on-chain transfer to a refund's destination, as a chain follower sees it.
type Transfer struct {
	TxID        string
	OutputIndex int64    // Bitcoin output, ERC-20 log index, or -1 for a native EVM transfer
	Amount      *big.Int // atomic units of the refund's asset
	BlockHeight *int64   // nil while in the mempool
	BlockHash   string
	// Fee is the transaction's network fee in the chain's native coin when known (nil
	// otherwise); a Bitcoin refund built from chainpay's PSBT has its fee recorded already.
	Fee *big.Int
}

// Due is what the destination must receive for the refund to count as paid: the amount,
// less the network fee when it is taken from the amount.
func Due(r store.Refund) *big.Int {
	due := new(big.Int).Set(r.AmountAtomic)
	if r.FeeFromAmount && r.NetworkFee != nil {
		due.Sub(due, r.NetworkFee)
	}
	return due
}

// ObserveTx records, inside tx, a transfer paying refund id (claimed or sent, its
// destination and asset checked by the caller): a claimed refund becomes sent with the
// transaction; a sent one follows its transaction into a block. A transfer smaller than
// Due, or another transaction while one is already followed, is ignored (false) — unless
// the followed one is in no block and the other is mined (a replacement). It then reviews
// the refund at the chain's tip. The caller checked that the merchant sent t.
func (s *Service) ObserveTx(ctx context.Context, tx store.Tx, id string, t Transfer, tip int64) (bool, error) {
	r, err := s.GetTx(ctx, tx, "", id)
	if err != nil {
		return false, err
	}
	if t.Amount == nil || t.Amount.Cmp(Due(r)) < 0 {
		return false, nil
	}
	switch r.Status {
	case store.RefundClaimed:
		r.TxID, r.OutputIndex, r.BlockHeight, r.BlockHash = t.TxID, &t.OutputIndex, t.BlockHeight, t.BlockHash
		if t.Fee != nil && r.NetworkFee == nil {
			r.NetworkFee = new(big.Int).Set(t.Fee)
		}
		if r, err = s.setStatus(ctx, tx, r, store.RefundSent); err != nil {
			return false, err
		}
	case store.RefundSent, store.RefundCompleted:
		if r.TxID != t.TxID {
			if r.Status != store.RefundSent || r.BlockHeight != nil || t.BlockHeight == nil {
				return false, nil
			}
			// The merchant's transaction followed is in no block and another one of theirs
			// paying the refund is mined (an RBF replacement, or a second send): the mined
			// one pays it, the other can no longer be needed.
			r.TxID, r.OutputIndex = t.TxID, &t.OutputIndex
			if t.Fee != nil {
				r.NetworkFee = new(big.Int).Set(t.Fee)
			}
		}
		if !sameBlock(r, t) {
			if r.Status == store.RefundCompleted {
				// The transaction is in another block than the one it completed in.
				if r, err = s.reverse(ctx, tx, r); err != nil {
					return false, err
				}
			}
			r.BlockHeight, r.BlockHash = t.BlockHeight, t.BlockHash
			if err := tx.UpdateRefund(ctx, r); err != nil {
				return false, err
			}
			r.Version++
		}
	default:
		return false, nil
	}
	_, err = s.reviewRefund(ctx, tx, r, tip)
	return err == nil, err
}

func sameBlock(r store.Refund, t Transfer) bool {
	if (r.BlockHeight == nil) != (t.BlockHeight == nil) {
		return false
	}
	return r.BlockHeight == nil || *r.BlockHeight == *t.BlockHeight && r.BlockHash == t.BlockHash
}

// ReviewTx completes refund id when its transaction has the chain's confirmations at tip
// (booking it once), inside tx. It reports whether the refund changed.
func (s *Service) ReviewTx(ctx context.Context, tx store.Tx, id string, tip int64) (bool, error) {
	r, err := s.GetTx(ctx, tx, "", id)
	if err != nil {
		return false, err
	}
	return s.reviewRefund(ctx, tx, r, tip)
}

func (s *Service) reviewRefund(ctx context.Context, tx store.Tx, r store.Refund, tip int64) (bool, error) {
	if r.Status != store.RefundSent || r.BlockHeight == nil || tip < *r.BlockHeight {
		return false, nil
	}
	d, err := s.cfg.Invoices.GetTx(ctx, tx, r.MerchantID, r.InvoiceID)
	if err != nil {
		return false, err
	}
	if tip-*r.BlockHeight+1 < int64(confirmationsOf(d, r)) {
		return false, nil
	}
	now := s.now()
	r.CompletedAt = &now
	if r, err = s.setStatus(ctx, tx, r, store.RefundCompleted); err != nil {
		return false, err
	}
	if d.Tips == nil {
		d.Tips = map[string]int64{}
	}
	d.Tips[r.Chain] = tip
	if err := ledger.BookRefundTx(ctx, tx, d, r, now); err != nil {
		return false, fmt.Errorf("book refund %s: %w", r.ID, err)
	}
	return true, nil
}

// confirmationsOf is what a refund needs to complete: the confirmations the invoice's
// option of the same asset required of payments, at least 1.
func confirmationsOf(d invoices.Details, r store.Refund) int {
	for _, o := range d.Options {
		if o.Asset == r.Asset && o.Chain == r.Chain {
			return max(1, o.Confirmations)
		}
	}
	return 1
}

// OrphanedTx records, inside tx, that a reorg took refund id's transaction out of its
// block (it may be mined again): a completed refund goes back to sent and its record is
// reversed; a sent one keeps waiting in the mempool.
func (s *Service) OrphanedTx(ctx context.Context, tx store.Tx, id string) error {
	r, err := s.GetTx(ctx, tx, "", id)
	if err != nil {
		return err
	}
	switch r.Status {
	case store.RefundCompleted:
		if r, err = s.reverse(ctx, tx, r); err != nil {
			return err
		}
	case store.RefundSent:
	default:
		return nil
	}
	if r.BlockHeight == nil {
		return nil
	}
	r.BlockHeight, r.BlockHash = nil, ""
	r.UpdatedAt = s.now()
	if err := tx.UpdateRefund(ctx, r); err != nil {
		return err
	}
	return nil
}

// VanishedTx records, inside tx, that refund id's transaction is neither in a block nor in
// the mempool any more (evicted, replaced by one that pays elsewhere, reorged out and not
// mined again — the chain follower decides, after the grace it gives payments): a sent
// refund goes back to claimed with a refund.dropped event, ready for another transaction
// (its record reversed first if it had completed). Other statuses are left alone.
func (s *Service) VanishedTx(ctx context.Context, tx store.Tx, id string) error {
	r, err := s.GetTx(ctx, tx, "", id)
	if err != nil {
		return err
	}
	if r.Status == store.RefundCompleted {
		if r, err = s.reverse(ctx, tx, r); err != nil {
			return err
		}
	}
	if r.Status != store.RefundSent {
		return nil
	}
	r.TxID, r.OutputIndex, r.BlockHeight, r.BlockHash = "", nil, nil, ""
	_, err = s.setStatus(ctx, tx, r, store.RefundClaimed)
	return err
}

// reverse takes a completed refund back to sent and reverses its record.
func (s *Service) reverse(ctx context.Context, tx store.Tx, r store.Refund) (store.Refund, error) {
	r.CompletedAt = nil
	r, err := s.setStatus(ctx, tx, r, store.RefundSent)
	if err != nil {
		return r, err
	}
	if err := ledger.UnbookRefundTx(ctx, tx, r, s.now()); err != nil {
		return r, fmt.Errorf("reverse the record of refund %s: %w", r.ID, err)
	}
	return r, nil
}
