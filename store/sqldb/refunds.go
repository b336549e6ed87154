package sqldb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/chainpay/chainpay/store"
)

const refundCols = `id, merchant_id, invoice_id, seq, status, asset, chain, network, contract, scale, currency,
	amount_fiat, amount_atomic, fee_from_amount, network_fee, rate_policy, rate, rate_source, rate_at, reason,
	destination, claimed_at, prepared, txid, output_index, block_height, block_hash, failure_reason,
	created_at, updated_at, completed_at, version`

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *tx) CreateRefund(ctx context.Context, r store.Refund) error {
	_, err := t.exec(ctx, `INSERT INTO refunds (`+refundCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, 1)`,
		r.ID, r.MerchantID, r.InvoiceID, r.Seq, r.Status, r.Asset, r.Chain, r.Network, r.Contract, r.Scale, r.Currency,
		r.AmountFiat, r.AmountAtomic, b01(r.FeeFromAmount), r.NetworkFee, r.RatePolicy, r.Rate, r.RateSource, r.RateAt,
		r.Reason, r.Destination, r.ClaimedAt, r.Prepared, r.TxID, r.OutputIndex, r.BlockHeight, r.BlockHash,
		r.FailureReason, r.CreatedAt, r.UpdatedAt, r.CompletedAt)
	return err
}

func (t *tx) UpdateRefund(ctx context.Context, r store.Refund) error {
	n, err := t.exec(ctx, `UPDATE refunds SET status = $3, amount_fiat = $4, amount_atomic = $5, network_fee = $6,
		destination = $7, claimed_at = $8, prepared = $9, txid = $10, output_index = $11, block_height = $12,
		block_hash = $13, failure_reason = $14, updated_at = $15, completed_at = $16, version = version + 1
		WHERE id = $1 AND version = $2`,
		r.ID, r.Version, r.Status, r.AmountFiat, r.AmountAtomic, r.NetworkFee, r.Destination, r.ClaimedAt, r.Prepared,
		r.TxID, r.OutputIndex, r.BlockHeight, r.BlockHash, r.FailureReason, r.UpdatedAt, r.CompletedAt)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("refund %s at version %d: %w", r.ID, r.Version, store.ErrConflict)
	}
	return nil
}

func (t *tx) GetRefund(ctx context.Context, merchantID, id string) (store.Refund, error) {
	rs, err := t.refunds(ctx, `SELECT `+refundCols+` FROM refunds WHERE id = $1 AND ($2 = '' OR merchant_id = $2)`, id, merchantID)
	if err != nil {
		return store.Refund{}, err
	}
	if len(rs) == 0 {
		return store.Refund{}, fmt.Errorf("refund %s: %w", id, store.ErrNotFound)
	}
	return rs[0], nil
}

func (t *tx) RefundsOfInvoice(ctx context.Context, invoiceID string) ([]store.Refund, error) {
	return t.refunds(ctx, `SELECT `+refundCols+` FROM refunds WHERE invoice_id = $1 ORDER BY created_at, id`, invoiceID)
}

func (t *tx) RefundsOfInvoices(ctx context.Context, invoiceIDs []string) ([]store.Refund, error) {
	var out []store.Refund
	err := t.chunks(invoiceIDs, func(chunk []string) error {
		cond, args := t.in("invoice_id", 1, chunk)
		rs, err := t.refunds(ctx, `SELECT `+refundCols+` FROM refunds WHERE `+cond+`
			ORDER BY invoice_id, created_at, id`, args...)
		out = append(out, rs...)
		return err
	})
	return out, err
}

func (t *tx) ListRefunds(ctx context.Context, f store.RefundFilter) ([]store.Refund, error) {
	where := []string{"merchant_id = $1"}
	args := []any{f.MerchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.InvoiceID != "" {
		add("invoice_id = ?", f.InvoiceID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.BeforeCreated != nil {
		args = append(args, *f.BeforeCreated, f.BeforeID)
		n := len(args)
		where = append(where, fmt.Sprintf("(created_at < $%d OR (created_at = $%d AND id < $%d))", n-1, n-1, n))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	return t.refunds(ctx, `SELECT `+refundCols+` FROM refunds WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)), args...)
}

func (t *tx) OpenRefunds(ctx context.Context, chain string, minHeight int64) ([]store.Refund, error) {
	return t.refunds(ctx, `SELECT `+refundCols+` FROM refunds WHERE chain = $1 AND (status IN ('claimed', 'sent')
		OR (status = 'completed' AND block_height > $2)) ORDER BY id`, chain, minHeight)
}

func (t *tx) refunds(ctx context.Context, q string, args ...any) ([]store.Refund, error) {
	var out []store.Refund
	err := t.many(ctx, q, args, func(rw Rows) error {
		var r store.Refund
		var fromAmount int64
		if err := rw.Scan(&r.ID, &r.MerchantID, &r.InvoiceID, &r.Seq, &r.Status, &r.Asset, &r.Chain, &r.Network, &r.Contract,
			&r.Scale, &r.Currency, bigCol{&r.AmountFiat}, bigCol{&r.AmountAtomic}, &fromAmount, bigCol{&r.NetworkFee},
			&r.RatePolicy, &r.Rate, &r.RateSource, timeCol{&r.RateAt}, &r.Reason, &r.Destination, nullTimeCol{&r.ClaimedAt},
			&r.Prepared, &r.TxID, nullInt{&r.OutputIndex}, nullInt{&r.BlockHeight}, &r.BlockHash, &r.FailureReason,
			timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, nullTimeCol{&r.CompletedAt}, &r.Version); err != nil {
			return err
		}
		r.FeeFromAmount = fromAmount == 1
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *tx) WalletCoins(ctx context.Context, walletID string, limit int) ([]store.WalletCoin, error) {
	var out []store.WalletCoin
	err := t.many(ctx, `SELECT p.id, p.invoice_id, p.option_id, p.chain, p.txid, p.output_index, p.address, p.asset,
		p.amount, p.status, p.block_height, p.block_hash, p.seen_at, p.updated_at, o.derivation_index
		FROM payment_options o JOIN payments p ON p.option_id = o.id
		WHERE o.wallet_id = $1 AND p.status = 'confirmed' AND o.derivation_index IS NOT NULL
		ORDER BY p.seen_at DESC, p.id DESC LIMIT $2`, []any{walletID, limit}, func(r Rows) error {
		var c store.WalletCoin
		var idx int64
		p := &c.Payment
		if err := r.Scan(&p.ID, &p.InvoiceID, &p.OptionID, &p.Chain, &p.TxID, &p.OutputIndex, &p.Address, &p.Asset,
			bigCol{&p.Amount}, &p.Status, nullInt{&p.BlockHeight}, &p.BlockHash, timeCol{&p.SeenAt}, timeCol{&p.UpdatedAt}, &idx); err != nil {
			return err
		}
		c.DerivationIndex = uint32(idx)
		out = append(out, c)
		return nil
	})
	return out, err
}

func (t *tx) MerchantCoins(ctx context.Context, merchantID, chain string, outpoints []string) ([]string, error) {
	want := map[string]bool{}
	var txids []string
	for _, op := range outpoints {
		i := strings.LastIndexByte(op, ':')
		if i <= 0 {
			continue
		}
		want[op] = true
		txids = append(txids, op[:i])
	}
	var out []string
	err := t.chunks(txids, func(chunk []string) error {
		cond, args := t.in("p.txid", 3, chunk)
		return t.many(ctx, `SELECT p.txid, p.output_index FROM payments p JOIN invoices i ON i.id = p.invoice_id
			WHERE p.chain = $1 AND i.merchant_id = $2 AND `+cond, append([]any{chain, merchantID}, args...), func(r Rows) error {
			var (
				txid string
				idx  int64
			)
			if err := r.Scan(&txid, &idx); err != nil {
				return err
			}
			if op := txid + ":" + strconv.FormatInt(idx, 10); want[op] {
				out = append(out, op)
			}
			return nil
		})
	})
	slices.Sort(out)
	return slices.Compact(out), err
}
