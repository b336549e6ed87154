package sqldb

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/chainpay/chainpay/store"
)

// forwarderCols selects a store.Forwarder from payment_options o, wallets w and invoices i.
const forwarderCols = `o.chain, o.address, o.invoice_id, o.wallet_id, i.merchant_id, w.treasury, w.network`

func scanForwarders(out *[]store.Forwarder) func(Rows) error {
	return func(r Rows) error {
		var f store.Forwarder
		if err := r.Scan(&f.Chain, &f.Address, &f.InvoiceID, &f.WalletID, &f.MerchantID, &f.Treasury, &f.Network); err != nil {
			return err
		}
		*out = append(*out, f)
		return nil
	}
}

func (t *tx) SweepCandidates(ctx context.Context, chain string, since time.Time, limit int) ([]store.Forwarder, error) {
	var out []store.Forwarder
	err := t.many(ctx, `SELECT `+forwarderCols+` FROM invoices i
		JOIN payment_options o ON o.invoice_id = i.id JOIN wallets w ON w.id = o.wallet_id
		LEFT JOIN evm_forwarders f ON f.chain = o.chain AND f.address = o.address
		WHERE i.monitor_until >= $2 AND o.chain = $1 AND (f.checked_at IS NULL OR f.checked_at <= i.monitor_until)
		UNION
		SELECT f.chain, f.address, f.invoice_id, f.wallet_id, f.merchant_id, f.treasury, f.network FROM evm_forwarders f
		WHERE f.chain = $1 AND f.unswept = 1
		ORDER BY 2 LIMIT $3`, []any{chain, since, limit}, scanForwarders(&out))
	return out, err
}

func (t *tx) Forwarders(ctx context.Context, chain, invoiceID, after string, limit int) ([]store.Forwarder, error) {
	var out []store.Forwarder
	err := t.many(ctx, `SELECT DISTINCT `+forwarderCols+` FROM payment_options o
		JOIN invoices i ON i.id = o.invoice_id JOIN wallets w ON w.id = o.wallet_id
		WHERE o.chain = $1 AND ($2 = '' OR o.invoice_id = $2) AND o.address > $3
		ORDER BY o.address LIMIT $4`, []any{chain, invoiceID, after, limit}, scanForwarders(&out))
	return out, err
}

func (t *tx) RecordForwarder(ctx context.Context, f store.Forwarder, balances []store.ForwarderBalance, at time.Time) error {
	unswept := 0
	for _, b := range balances {
		if b.Amount == nil || b.Amount.Sign() < 0 {
			return fmt.Errorf("record forwarder %s: negative or missing balance of %q", f.Address, b.Asset)
		}
		if b.Amount.Sign() > 0 {
			unswept = 1
		}
	}
	if _, err := t.exec(ctx, `INSERT INTO evm_forwarders (chain, address, invoice_id, wallet_id, merchant_id, treasury, network, unswept, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (chain, address) DO UPDATE SET unswept = $8, checked_at = $9`,
		f.Chain, f.Address, f.InvoiceID, f.WalletID, f.MerchantID, f.Treasury, f.Network, unswept, at); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM evm_forwarder_balances WHERE chain = $1 AND address = $2`, f.Chain, f.Address); err != nil {
		return err
	}
	for _, b := range balances {
		if b.Amount.Sign() == 0 {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO evm_forwarder_balances (chain, address, contract, asset, scale, amount, read_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, f.Chain, f.Address, b.Contract, b.Asset, b.Scale, b.Amount, at); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) SweepWatermark(ctx context.Context, chain string) (time.Time, error) {
	var at time.Time
	err := t.one(ctx, `SELECT watermark FROM evm_sweep_marks WHERE chain = $1`, []any{chain}, timeCol{&at})
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	return at, err
}

func (t *tx) SetSweepWatermark(ctx context.Context, chain string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO evm_sweep_marks (chain, watermark) VALUES ($1, $2)
		ON CONFLICT (chain) DO UPDATE SET watermark = $2 WHERE evm_sweep_marks.watermark < $2`, chain, at)
	return err
}

const sweepCols = `tx_hash, chain, merchant_id, wallet_id, destination, sender, nonce, raw_tx, addresses, invoice_ids,
	tokens, status, block_number, block_hash, gas_used, fee, sent_at, finished_at`

func scanSweep(r Row, s *store.EVMSweep) error {
	return r.Scan(&s.TxHash, &s.Chain, &s.MerchantID, &s.WalletID, &s.Destination, &s.Sender, &s.Nonce, &s.RawTx,
		listCol{&s.Addresses}, listCol{&s.InvoiceIDs}, listCol{&s.Tokens}, &s.Status, nullInt{&s.BlockNumber}, &s.BlockHash,
		nullInt{&s.GasUsed}, bigCol{&s.Fee}, timeCol{&s.SentAt}, nullTimeCol{&s.FinishedAt})
}

func (t *tx) CreateEVMSweep(ctx context.Context, s store.EVMSweep) error {
	_, err := t.exec(ctx, `INSERT INTO evm_sweeps (`+sweepCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'sent', NULL, '', NULL, NULL, $12, NULL)`,
		s.TxHash, s.Chain, s.MerchantID, s.WalletID, s.Destination, s.Sender, s.Nonce, s.RawTx, s.Addresses, s.InvoiceIDs,
		s.Tokens, s.SentAt)
	return err
}

func (t *tx) OpenEVMSweeps(ctx context.Context, chain string) ([]store.EVMSweep, error) {
	var out []store.EVMSweep
	err := t.many(ctx, `SELECT `+sweepCols+` FROM evm_sweeps WHERE chain = $1 AND status = 'sent' ORDER BY sent_at, tx_hash`,
		[]any{chain}, func(r Rows) error {
			var s store.EVMSweep
			if err := scanSweep(r, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	return out, err
}

func (t *tx) GetEVMSweep(ctx context.Context, txHash string) (store.EVMSweep, error) {
	var s store.EVMSweep
	err := scanSweep(t.c.QueryRow(ctx, `SELECT `+sweepCols+` FROM evm_sweeps WHERE tx_hash = $1`, txHash), &s)
	return s, t.d.Translate(err)
}

func (t *tx) FinishEVMSweep(ctx context.Context, s store.EVMSweep) error {
	switch s.Status {
	case store.SweepConfirmed, store.SweepReverted, store.SweepDropped:
	default:
		return fmt.Errorf("finish sweep %s: status %q is not final", s.TxHash, s.Status)
	}
	n, err := t.exec(ctx, `UPDATE evm_sweeps SET status = $2, block_number = $3, block_hash = $4, gas_used = $5, fee = $6,
		finished_at = $7 WHERE tx_hash = $1 AND status = 'sent'`,
		s.TxHash, s.Status, s.BlockNumber, s.BlockHash, s.GasUsed, s.Fee, s.FinishedAt)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if _, err := t.GetEVMSweep(ctx, s.TxHash); err != nil {
		return err
	}
	return fmt.Errorf("finish sweep %s: %w: no longer sent", s.TxHash, store.ErrConflict)
}

func (t *tx) UnsweptBalances(ctx context.Context, merchantID string) ([]store.UnsweptBalance, error) {
	type key struct{ wallet, contract string }
	sums := map[key]*store.UnsweptBalance{}
	err := t.many(ctx, `SELECT f.merchant_id, f.wallet_id, f.chain, f.network, b.contract, b.asset, b.scale, b.amount
		FROM evm_forwarders f JOIN evm_forwarder_balances b ON b.chain = f.chain AND b.address = f.address
		WHERE f.unswept = 1 AND ($1 = '' OR f.merchant_id = $1)`, []any{merchantID}, func(r Rows) error {
		var u store.UnsweptBalance
		var amount *big.Int
		if err := r.Scan(&u.MerchantID, &u.WalletID, &u.Chain, &u.Network, &u.Contract, &u.Asset, &u.Scale, bigCol{&amount}); err != nil {
			return err
		}
		k := key{u.WalletID, u.Contract}
		if s, ok := sums[k]; ok {
			s.Amount.Add(s.Amount, amount)
			s.Forwarders++
			return nil
		}
		u.Amount, u.Forwarders = amount, 1
		sums[k] = &u
		return nil
	})
	out := make([]store.UnsweptBalance, 0, len(sums))
	for _, u := range sums {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].WalletID != out[j].WalletID {
			return out[i].WalletID < out[j].WalletID
		}
		return out[i].Contract < out[j].Contract
	})
	return out, err
}
