package sqldb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
)

// tx implements store.Tx over one Conn. Every error leaving it is translated by the driver.
type tx struct {
	c Conn
	d Driver
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	n, err := t.c.Exec(ctx, q, args...)
	return n, t.d.Translate(err)
}

// write runs a statement whose result the caller does not need. On a Conn that defers
// (Postgres) it travels with the transaction's next statement or its COMMIT, and its error
// is reported there; elsewhere it runs at once.
func (t *tx) write(ctx context.Context, q string, args ...any) error {
	if d, ok := t.c.(Deferrer); ok {
		d.Defer(q, args...)
		return nil
	}
	_, err := t.exec(ctx, q, args...)
	return err
}

func (t *tx) one(ctx context.Context, q string, args []any, dest ...any) error {
	return t.d.Translate(t.c.QueryRow(ctx, q, args...).Scan(dest...))
}

func (t *tx) many(ctx context.Context, q string, args []any, scan func(Rows) error) error {
	rows, err := t.c.Query(ctx, q, args...)
	if err != nil {
		return t.d.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return t.d.Translate(err)
		}
	}
	return t.d.Translate(rows.Err())
}

func mustAffect(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// --- merchants

func (t *tx) CreateMerchant(ctx context.Context, m store.Merchant) error {
	if m.Settings == "" {
		m.Settings = "{}"
	}
	_, err := t.exec(ctx, `INSERT INTO merchants (id, name, settings, created_at) VALUES ($1, $2, $3, $4)`,
		m.ID, m.Name, m.Settings, m.CreatedAt)
	return err
}

func (t *tx) GetMerchant(ctx context.Context, id string) (store.Merchant, error) {
	var m store.Merchant
	err := t.one(ctx, `SELECT id, name, settings, created_at FROM merchants WHERE id = $1`, []any{id},
		&m.ID, &m.Name, &m.Settings, timeCol{&m.CreatedAt})
	return m, err
}

func (t *tx) MerchantWallets(ctx context.Context, id string) (store.Merchant, []store.Wallet, error) {
	var (
		m     store.Merchant
		ws    []store.Wallet
		found bool
	)
	err := t.many(ctx, `SELECT m.id, m.name, m.settings, m.created_at, m.config_version,
			EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.merchant_id = m.id), `+prefixed("w.", walletCols)+`
		FROM merchants m LEFT JOIN wallets w ON w.merchant_id = m.id WHERE m.id = $1 ORDER BY w.chain, w.id`,
		[]any{id}, func(r Rows) error {
			var (
				w       store.Wallet
				next    *int64
				created *time.Time
			)
			if err := r.Scan(&m.ID, &m.Name, &m.Settings, timeCol{&m.CreatedAt}, &m.ConfigVersion, &m.HasWebhooks, nullStr{&w.ID}, nullStr{&w.MerchantID},
				nullStr{&w.Chain}, nullStr{&w.Network}, nullStr{&w.Descriptor}, nullStr{&w.Treasury}, listCol{&w.Tokens},
				nullInt{&next}, nullTimeCol{&created}); err != nil {
				return err
			}
			found = true
			if w.ID != "" {
				if next != nil {
					w.NextIndex = uint32(*next)
				}
				if created != nil {
					w.CreatedAt = *created
				}
				ws = append(ws, w)
			}
			return nil
		})
	if err == nil && !found {
		err = store.ErrNotFound
	}
	return m, ws, err
}

func (t *tx) GuardMerchantConfig(ctx context.Context, id string, version int64) error {
	if _, ok := t.c.(Deferrer); ok { // Postgres: merchant_config_guard raises CP001 (Translate)
		return t.write(ctx, `SELECT merchant_config_guard($1, $2)`, id, version)
	}
	var now int64
	err := t.one(ctx, `SELECT config_version FROM merchants WHERE id = $1`, []any{id}, &now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err != nil || now != version { // a store that is gone changed too
		return store.ErrConfigChanged
	}
	return nil
}

func (t *tx) SetMerchantSettings(ctx context.Context, id, settings string) error {
	n, err := t.exec(ctx, `UPDATE merchants SET settings = $2 WHERE id = $1`, id, settings)
	return mustAffect(n, err)
}

// --- API keys

func (t *tx) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (id, merchant_id, prefix, hash, permissions, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.MerchantID, k.Prefix, k.Hash, k.Permissions, k.CreatedAt, k.RevokedAt)
	return err
}

func (t *tx) APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error) {
	var k store.APIKey
	err := t.one(ctx, `SELECT id, merchant_id, prefix, hash, permissions, created_at, revoked_at
		FROM api_keys WHERE prefix = $1`, []any{prefix},
		&k.ID, &k.MerchantID, &k.Prefix, &k.Hash, listCol{&k.Permissions}, timeCol{&k.CreatedAt}, nullTimeCol{&k.RevokedAt})
	return k, err
}

func (t *tx) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	n, err := t.exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, at)
	return mustAffect(n, err)
}

// --- wallets

const walletCols = `id, merchant_id, chain, network, descriptor, treasury, tokens, next_index, created_at`

func scanWallet(r interface{ Scan(...any) error }, w *store.Wallet) error {
	var next int64
	err := r.Scan(&w.ID, &w.MerchantID, &w.Chain, &w.Network, &w.Descriptor, &w.Treasury,
		listCol{&w.Tokens}, &next, timeCol{&w.CreatedAt})
	w.NextIndex = uint32(next)
	return err
}

func (t *tx) CreateWallet(ctx context.Context, w store.Wallet) error {
	_, err := t.exec(ctx, `INSERT INTO wallets (`+walletCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.ID, w.MerchantID, w.Chain, w.Network, w.Descriptor, w.Treasury, w.Tokens, int64(w.NextIndex), w.CreatedAt)
	return err
}

func (t *tx) Wallets(ctx context.Context, merchantID string) ([]store.Wallet, error) {
	var out []store.Wallet
	err := t.many(ctx, `SELECT `+walletCols+` FROM wallets WHERE merchant_id = $1 ORDER BY chain, id`,
		[]any{merchantID}, func(r Rows) error {
			var w store.Wallet
			if err := scanWallet(r, &w); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
	return out, err
}

func (t *tx) AllocateIndex(ctx context.Context, walletID string) (uint32, error) {
	// The UPDATE takes the row lock (Postgres) or runs under the write lock (SQLite), so
	// concurrent allocations serialise; the index is only consumed if the caller commits.
	var next int64
	err := t.one(ctx, `UPDATE wallets SET next_index = next_index + 1 WHERE id = $1 RETURNING next_index`,
		[]any{walletID}, &next)
	if err != nil {
		return 0, err
	}
	if next-1 > int64(^uint32(0)>>1) {
		return 0, fmt.Errorf("wallet %s: derivation indexes exhausted (non-hardened limit 2^31)", walletID)
	}
	return uint32(next - 1), nil
}

func (t *tx) ReserveIndexes(ctx context.Context, walletID string, n uint32) (uint32, error) {
	if n == 0 {
		return 0, fmt.Errorf("wallet %s: reserve at least one index", walletID)
	}
	// One short statement: the row is locked only until this transaction commits, which
	// the caller does at once (it holds nothing else).
	var end int64
	err := t.one(ctx, `UPDATE wallets SET next_index = next_index + $2 WHERE id = $1 RETURNING next_index`,
		[]any{walletID, int64(n)}, &end)
	if err != nil {
		return 0, err
	}
	if end-1 > int64(^uint32(0)>>1) {
		return 0, fmt.Errorf("wallet %s: derivation indexes exhausted (non-hardened limit 2^31)", walletID)
	}
	return uint32(end - int64(n)), nil
}

func (t *tx) ReturnIndexes(ctx context.Context, walletID string, from, end uint32) (bool, error) {
	if from >= end {
		return false, nil
	}
	n, err := t.exec(ctx, `UPDATE wallets SET next_index = $2 WHERE id = $1 AND next_index = $3`,
		walletID, int64(from), int64(end))
	return n == 1, err
}

func (t *tx) HighestPaidIndex(ctx context.Context, walletID string) (*uint32, error) {
	// Walks the (wallet_id, derivation_index) index downwards and stops at the first paid one.
	var idx *int64
	err := t.one(ctx, `SELECT o.derivation_index FROM payment_options o
		WHERE o.wallet_id = $1 AND o.derivation_index IS NOT NULL
		AND EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = o.invoice_id AND p.option_id = o.id)
		ORDER BY o.derivation_index DESC LIMIT 1`, []any{walletID}, nullInt{&idx})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || idx == nil {
		return nil, err
	}
	v := uint32(*idx)
	return &v, nil
}

// --- invoices

const invoiceCols = `id, merchant_id, status, flags, price, currency, order_id, metadata, redirect_url,
	tolerance_percent, tolerance_floor, confirmations, expires_at, monitor_until, created_at, updated_at,
	settled_at, resolution_reason, version`

func scanInvoice(r interface{ Scan(...any) error }, inv *store.Invoice) error {
	return r.Scan(&inv.ID, &inv.MerchantID, &inv.Status, listCol{&inv.Flags}, bigCol{&inv.Price}, &inv.Currency,
		&inv.OrderID, &inv.Metadata, &inv.RedirectURL, &inv.TolerancePercent, bigCol{&inv.ToleranceFloor},
		&inv.Confirmations, timeCol{&inv.ExpiresAt}, timeCol{&inv.MonitorUntil}, timeCol{&inv.CreatedAt},
		timeCol{&inv.UpdatedAt}, nullTimeCol{&inv.SettledAt}, &inv.ResolutionReason, &inv.Version)
}

func (t *tx) CreateInvoice(ctx context.Context, inv store.Invoice) error {
	return t.write(ctx, `INSERT INTO invoices (`+invoiceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		inv.ID, inv.MerchantID, inv.Status, inv.Flags, inv.Price, inv.Currency, inv.OrderID, inv.Metadata,
		inv.RedirectURL, inv.TolerancePercent, inv.ToleranceFloor, inv.Confirmations, inv.ExpiresAt,
		inv.MonitorUntil, inv.CreatedAt, inv.UpdatedAt, inv.SettledAt, inv.ResolutionReason, inv.Version)
}

func (t *tx) GetInvoice(ctx context.Context, merchantID, id string) (store.Invoice, error) {
	var inv store.Invoice
	q := `SELECT ` + invoiceCols + ` FROM invoices WHERE id = $1 AND ($2 = '' OR merchant_id = $2)`
	err := scanInvoice(t.c.QueryRow(ctx, q, id, merchantID), &inv)
	return inv, t.d.Translate(err)
}

func (t *tx) ListInvoices(ctx context.Context, f store.InvoiceFilter) ([]store.Invoice, error) {
	var (
		where = []string{"merchant_id = $1"}
		args  = []any{f.MerchantID}
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.OrderID != "" {
		add("order_id = ?", f.OrderID)
	}
	if f.CreatedFrom != nil {
		add("created_at >= ?", *f.CreatedFrom)
	}
	if f.CreatedTo != nil {
		add("created_at < ?", *f.CreatedTo)
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
	q := `SELECT ` + invoiceCols + ` FROM invoices WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	return t.invoices(ctx, q, args)
}

// invoices runs q, which selects invoiceCols.
func (t *tx) invoices(ctx context.Context, q string, args []any) ([]store.Invoice, error) {
	var out []store.Invoice
	err := t.many(ctx, q, args, func(r Rows) error {
		var inv store.Invoice
		if err := scanInvoice(r, &inv); err != nil {
			return err
		}
		out = append(out, inv)
		return nil
	})
	return out, err
}

func (t *tx) UpdateInvoice(ctx context.Context, inv store.Invoice) error {
	n, err := t.exec(ctx, `UPDATE invoices SET status = $3, flags = $4, updated_at = $5, settled_at = $6,
		resolution_reason = $7, version = version + 1 WHERE id = $1 AND version = $2`,
		inv.ID, inv.Version, inv.Status, inv.Flags, inv.UpdatedAt, inv.SettledAt, inv.ResolutionReason)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("invoice %s at version %d: %w", inv.ID, inv.Version, store.ErrConflict)
	}
	return nil
}

// --- payment options

const optionCols = `id, invoice_id, asset, chain, network, contract, scale, address, wallet_id, derivation_index,
	amount_due, rate, rate_source, rate_at, quote_expires_at, raw_quotes, confirmations, created_at`

func (t *tx) CreatePaymentOption(ctx context.Context, o store.PaymentOption) error {
	return t.write(ctx, `INSERT INTO payment_options (`+optionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		o.ID, o.InvoiceID, o.Asset, o.Chain, o.Network, o.Contract, o.Scale, o.Address, o.WalletID,
		o.DerivationIndex, o.AmountDue, o.Rate, o.RateSource, o.RateAt, o.QuoteExpiresAt, o.RawQuotes,
		o.Confirmations, o.CreatedAt)
}

func (t *tx) PaymentOptions(ctx context.Context, invoiceID string) ([]store.PaymentOption, error) {
	return t.options(ctx, `SELECT `+optionCols+` FROM payment_options WHERE invoice_id = $1 ORDER BY id`, invoiceID)
}

func (t *tx) PaymentOptionsOf(ctx context.Context, invoiceIDs []string) ([]store.PaymentOption, error) {
	var out []store.PaymentOption
	err := t.chunks(invoiceIDs, func(ids []string) error {
		cond, args := t.in("invoice_id", 1, ids)
		opts, err := t.options(ctx, `SELECT `+optionCols+` FROM payment_options WHERE `+cond+` ORDER BY invoice_id, id`, args...)
		out = append(out, opts...)
		return err
	})
	return out, err
}

// marks returns n placeholders from $first: "$1, $2, ...".
func marks(first, n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(out, ", ")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (t *tx) options(ctx context.Context, q string, args ...any) ([]store.PaymentOption, error) {
	var out []store.PaymentOption
	err := t.many(ctx, q, args, func(r Rows) error {
		var o store.PaymentOption
		if err := scanOption(r, &o); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// scanOption scans the optionCols of a row into o, then the columns after them into extra.
func scanOption(r Rows, o *store.PaymentOption, extra ...any) error {
	var idx *int64
	if err := r.Scan(append([]any{&o.ID, &o.InvoiceID, &o.Asset, &o.Chain, &o.Network, &o.Contract, &o.Scale,
		&o.Address, &o.WalletID, nullInt{&idx}, bigCol{&o.AmountDue}, &o.Rate, &o.RateSource,
		timeCol{&o.RateAt}, timeCol{&o.QuoteExpiresAt}, &o.RawQuotes, &o.Confirmations,
		timeCol{&o.CreatedAt}}, extra...)...); err != nil {
		return err
	}
	if idx != nil {
		v := uint32(*idx)
		o.DerivationIndex = &v
	}
	return nil
}

// --- payments

const paymentCols = `id, invoice_id, option_id, chain, txid, output_index, address, asset, amount, status,
	block_height, block_hash, seen_at, updated_at, spends, orphaned_height`

// paymentRead is paymentCols and the columns a payment's writer does not set.
const paymentRead = paymentCols + `, confirmed_at`

func (t *tx) UpsertPayment(ctx context.Context, p store.Payment) (bool, error) {
	n, err := t.exec(ctx, `INSERT INTO payments (`+paymentCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (chain, txid, output_index) DO NOTHING`,
		p.ID, p.InvoiceID, p.OptionID, p.Chain, p.TxID, p.OutputIndex, p.Address, p.Asset, p.Amount, p.Status,
		p.BlockHeight, p.BlockHash, p.SeenAt, p.UpdatedAt, p.Spends, p.OrphanedHeight)
	if err != nil {
		return false, err
	}
	if n == 1 {
		for _, op := range p.Spends {
			if _, err := t.exec(ctx, `INSERT INTO payment_spends (chain, outpoint, payment_id) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, p.Chain, op, p.ID); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	// A mempool sighting never downgrades a confirmed payment (the snapshot may predate the
	// block); only OrphanPayments takes a payment out of a block.
	_, err = t.exec(ctx, `UPDATE payments SET status = $4, block_height = $5, block_hash = $6, updated_at = $7,
		orphaned_height = $8
		WHERE chain = $1 AND txid = $2 AND output_index = $3 AND NOT (status = 'confirmed' AND $4 = 'mempool')`,
		p.Chain, p.TxID, p.OutputIndex, p.Status, p.BlockHeight, p.BlockHash, p.UpdatedAt, p.OrphanedHeight)
	return false, err
}

func (t *tx) Payments(ctx context.Context, invoiceID string) ([]store.Payment, error) {
	return t.payments(ctx, `SELECT `+paymentRead+` FROM payments WHERE invoice_id = $1 ORDER BY seen_at, id`, invoiceID)
}

func (t *tx) PaymentsOf(ctx context.Context, invoiceIDs []string) ([]store.Payment, error) {
	var out []store.Payment
	err := t.chunks(invoiceIDs, func(ids []string) error {
		cond, args := t.in("invoice_id", 1, ids)
		pays, err := t.payments(ctx, `SELECT `+paymentRead+` FROM payments WHERE `+cond+` ORDER BY invoice_id, seen_at, id`, args...)
		out = append(out, pays...)
		return err
	})
	return out, err
}

func (t *tx) payments(ctx context.Context, q string, args ...any) ([]store.Payment, error) {
	var out []store.Payment
	err := t.many(ctx, q, args, func(r Rows) error {
		var p store.Payment
		if err := r.Scan(&p.ID, &p.InvoiceID, &p.OptionID, &p.Chain, &p.TxID, &p.OutputIndex, &p.Address,
			&p.Asset, bigCol{&p.Amount}, &p.Status, nullInt{&p.BlockHeight}, &p.BlockHash,
			timeCol{&p.SeenAt}, timeCol{&p.UpdatedAt}, listCol{&p.Spends}, nullInt{&p.OrphanedHeight},
			nullTimeCol{&p.ConfirmedAt}); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (t *tx) PaymentsByStatus(ctx context.Context, chain, status string) ([]store.Payment, error) {
	return t.payments(ctx, `SELECT `+paymentRead+` FROM payments WHERE chain = $1 AND status = $2 ORDER BY seen_at, id`, chain, status)
}

func (t *tx) PaymentsSpending(ctx context.Context, chain string, outpoints []string) ([]store.Payment, error) {
	if len(outpoints) == 0 {
		return nil, nil
	}
	args := append([]any{chain}, anys(outpoints)...)
	return t.payments(ctx, `SELECT `+paymentRead+` FROM payments WHERE id IN (
		SELECT payment_id FROM payment_spends WHERE chain = $1 AND outpoint IN (`+marks(2, len(outpoints))+`))
		ORDER BY seen_at, id`, args...)
}

func (t *tx) MarkPaymentConfirmed(ctx context.Context, paymentID string, at time.Time) (bool, error) {
	// The guard makes this a compare-and-set: a concurrent transaction that marked the row
	// first makes this one affect nothing (Postgres re-checks the row after the other
	// commits; SQLite has one writer).
	n, err := t.exec(ctx, `UPDATE payments SET confirmed_at = $2 WHERE id = $1 AND confirmed_at IS NULL`, paymentID, at)
	if err != nil || n == 1 {
		return n == 1, err
	}
	var one int
	if err := t.one(ctx, `SELECT 1 FROM payments WHERE id = $1`, []any{paymentID}, &one); err != nil {
		return false, err
	}
	return false, nil
}

func (t *tx) OrphanPayments(ctx context.Context, chain string, height int64, at time.Time) ([]string, error) {
	var ids []string
	err := t.many(ctx, `UPDATE payments SET status = 'mempool', block_height = NULL, block_hash = '', updated_at = $3,
		orphaned_height = $2
		WHERE chain = $1 AND block_height > $2 RETURNING invoice_id`, []any{chain, height, at}, func(r Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// --- events

func (t *tx) AppendEvent(ctx context.Context, e store.Event) error {
	return t.write(ctx, `INSERT INTO events (id, merchant_id, invoice_id, type, data, created_at, snapshot)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, e.MerchantID, e.InvoiceID, e.Type, e.Data, e.CreatedAt, e.Snapshot)
}

func (t *tx) Events(ctx context.Context, invoiceID string) ([]store.Event, error) {
	var out []store.Event
	err := t.many(ctx, `SELECT id, merchant_id, invoice_id, type, data, created_at FROM events
		WHERE invoice_id = $1 ORDER BY created_at, id`, []any{invoiceID}, func(r Rows) error {
		var e store.Event
		if err := r.Scan(&e.ID, &e.MerchantID, &e.InvoiceID, &e.Type, &e.Data, timeCol{&e.CreatedAt}); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// --- idempotency

func (t *tx) ClaimIdempotencyKey(ctx context.Context, r store.IdempotencyRecord) (*store.IdempotencyRecord, error) {
	n, err := t.exec(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, response_status, response_body, created_at)
		VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (merchant_id, key) DO NOTHING`,
		r.MerchantID, r.Key, r.RequestHash, []byte{}, r.CreatedAt)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		return nil, nil
	}
	var got store.IdempotencyRecord
	err = t.one(ctx, `SELECT merchant_id, key, request_hash, response_status, response_body, created_at
		FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, []any{r.MerchantID, r.Key},
		&got.MerchantID, &got.Key, &got.RequestHash, &got.ResponseStatus, &got.ResponseBody, timeCol{&got.CreatedAt})
	if err != nil {
		return nil, err
	}
	return &got, nil
}

func (t *tx) CompleteIdempotencyKey(ctx context.Context, r store.IdempotencyRecord) error {
	n, err := t.exec(ctx, `UPDATE idempotency_keys SET response_status = $3, response_body = $4
		WHERE merchant_id = $1 AND key = $2`, r.MerchantID, r.Key, r.ResponseStatus, r.ResponseBody)
	return mustAffect(n, err)
}

func (t *tx) PutIdempotencyKey(ctx context.Context, r store.IdempotencyRecord) error {
	if r.ResponseBody == nil {
		r.ResponseBody = []byte{}
	}
	return t.write(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, response_status, response_body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.MerchantID, r.Key, r.RequestHash, r.ResponseStatus, r.ResponseBody, r.CreatedAt)
}

func (t *tx) IdempotencyKey(ctx context.Context, merchantID, key string) (store.IdempotencyRecord, error) {
	var got store.IdempotencyRecord
	err := t.one(ctx, `SELECT merchant_id, key, request_hash, response_status, response_body, created_at
		FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, []any{merchantID, key},
		&got.MerchantID, &got.Key, &got.RequestHash, &got.ResponseStatus, &got.ResponseBody, timeCol{&got.CreatedAt})
	return got, err
}

func (t *tx) DeleteIdempotencyKeysBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	return t.exec(ctx, `DELETE FROM idempotency_keys WHERE (merchant_id, key) IN (
		SELECT merchant_id, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
		before, limit)
}

// --- chain cursors

func (t *tx) Cursor(ctx context.Context, chain string) (store.Cursor, error) {
	var c store.Cursor
	err := t.one(ctx, `SELECT chain, height, hash, parent_hash, updated_at, chain_time, final_height FROM chain_cursors WHERE chain = $1`,
		[]any{chain}, &c.Chain, &c.Height, &c.Hash, &c.ParentHash, timeCol{&c.UpdatedAt}, timeCol{&c.ChainTime}, &c.Final)
	return c, err
}

func (t *tx) AdvanceChainTime(ctx context.Context, chain string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE chain_cursors SET chain_time = $2 WHERE chain = $1 AND chain_time < $2`, chain, at)
	return err
}

func (t *tx) SetCursor(ctx context.Context, c store.Cursor) error {
	// The final height only grows (a cursor that does not know it passes 0), but never
	// stays above the cursor (a rewind below it takes it down with it).
	final := min(c.Final, c.Height)
	if _, err := t.exec(ctx, `INSERT INTO chain_cursors (chain, height, hash, parent_hash, updated_at, chain_time, final_height)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (chain) DO UPDATE SET height = $2, hash = $3, parent_hash = $4, updated_at = $5,
			chain_time = CASE WHEN chain_cursors.chain_time > $6 THEN chain_cursors.chain_time ELSE $6 END,
			final_height = CASE WHEN chain_cursors.final_height > $2 THEN $2
				WHEN chain_cursors.final_height > $7 THEN chain_cursors.final_height ELSE $7 END`,
		c.Chain, c.Height, c.Hash, c.ParentHash, c.UpdatedAt, c.ChainTime, final); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO chain_blocks (chain, height, hash, parent_hash) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chain, height) DO UPDATE SET hash = $3, parent_hash = $4`,
		c.Chain, c.Height, c.Hash, c.ParentHash)
	return err
}

func (t *tx) BlockHashes(ctx context.Context, chain string, from int64, limit int) ([]store.Cursor, error) {
	var out []store.Cursor
	err := t.many(ctx, `SELECT chain, height, hash, parent_hash FROM chain_blocks
		WHERE chain = $1 AND height <= $2 ORDER BY height DESC LIMIT $3`, []any{chain, from, limit},
		func(r Rows) error {
			var c store.Cursor
			if err := r.Scan(&c.Chain, &c.Height, &c.Hash, &c.ParentHash); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

func (t *tx) ForgetBlocksAbove(ctx context.Context, chain string, height int64) error {
	_, err := t.exec(ctx, `DELETE FROM chain_blocks WHERE chain = $1 AND height > $2`, chain, height)
	return err
}

func (t *tx) ForgetBlocksBelow(ctx context.Context, chain string, height int64, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	// The lowest recorded height, then a range of at most limit heights from it (a chain's
	// heights are unique): two walks of the primary key. A DELETE ... IN (SELECT ... ORDER
	// BY height LIMIT $3) had a generic plan that hashed a sequential scan of the table.
	var low *int64
	if err := t.one(ctx, `SELECT MIN(height) FROM chain_blocks WHERE chain = $1 AND height < $2`,
		[]any{chain, height}, nullInt{&low}); err != nil || low == nil {
		return 0, err
	}
	upTo := height
	if int64(limit) < height-*low {
		upTo = *low + int64(limit)
	}
	return t.exec(ctx, `DELETE FROM chain_blocks WHERE chain = $1 AND height >= $2 AND height < $3`,
		chain, *low, upTo)
}

func (t *tx) DeleteCursor(ctx context.Context, chain string) error {
	if _, err := t.exec(ctx, `DELETE FROM chain_blocks WHERE chain = $1`, chain); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM chain_cursors WHERE chain = $1`, chain)
	return err
}

// --- leases

func (t *tx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	n, err := t.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $4)
		ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $4
		WHERE leases.holder = $2 OR leases.expires_at <= $3`, name, holder, now, until)
	return n == 1, err
}

func (t *tx) HoldsLease(ctx context.Context, name, holder string, now time.Time) (bool, error) {
	var n int
	err := t.one(ctx, `SELECT COUNT(*) FROM leases WHERE name = $1 AND holder = $2 AND expires_at > $3`,
		[]any{name, holder, now}, &n)
	return n == 1, err
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := t.exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

// --- outbox

const outboxCols = `id, topic, key, payload, status, attempts, next_attempt, lease_holder, lease_until,
	last_error, created_at, delivered_at`

func scanOutbox(r interface{ Scan(...any) error }, m *store.OutboxMessage) error {
	return r.Scan(&m.ID, &m.Topic, &m.Key, &m.Payload, &m.Status, &m.Attempts, timeCol{&m.NextAttempt},
		&m.LeaseHolder, nullTimeCol{&m.LeaseUntil}, &m.LastError, timeCol{&m.CreatedAt}, nullTimeCol{&m.DeliveredAt})
}

func (t *tx) Enqueue(ctx context.Context, m store.OutboxMessage) error {
	if m.Status == "" {
		m.Status = store.OutboxPending
	}
	_, err := t.exec(ctx, `INSERT INTO outbox (`+outboxCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		m.ID, m.Topic, m.Key, m.Payload, m.Status, m.Attempts, m.NextAttempt, m.LeaseHolder, m.LeaseUntil,
		m.LastError, m.CreatedAt, m.DeliveredAt)
	return err
}

func (t *tx) ClaimDue(ctx context.Context, topic, holder string, now, leaseUntil time.Time, limit int) ([]store.OutboxMessage, error) {
	return t.claim(ctx, "", topic, holder, now, leaseUntil, limit)
}

// claim leases due messages of topic that also satisfy the condition extra (on the outbox
// row aliased o; "" for none).
func (t *tx) claim(ctx context.Context, extra, topic, holder string, now, leaseUntil time.Time, limit int) ([]store.OutboxMessage, error) {
	var ids []string
	err := t.many(ctx, `SELECT o.id FROM outbox o WHERE o.topic = $1 AND o.status = 'pending' AND o.next_attempt <= $2
		AND (o.lease_until IS NULL OR o.lease_until < $2) `+extra+` ORDER BY o.next_attempt, o.id LIMIT $3 `+t.d.SkipLocked(),
		[]any{topic, now, limit}, func(r Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
	if err != nil {
		return nil, err
	}
	out := make([]store.OutboxMessage, 0, len(ids))
	for _, id := range ids {
		var m store.OutboxMessage
		err := scanOutbox(t.c.QueryRow(ctx, `UPDATE outbox SET lease_holder = $2, lease_until = $3, attempts = attempts + 1
			WHERE id = $1 RETURNING `+outboxCols, id, holder, leaseUntil), &m)
		if err != nil {
			return nil, t.d.Translate(err)
		}
		out = append(out, m)
	}
	return out, nil
}

func (t *tx) MarkDelivered(ctx context.Context, id, holder string, at time.Time) error {
	return leased(t.exec(ctx, `UPDATE outbox SET status = 'delivered', delivered_at = $3, lease_holder = '',
		lease_until = NULL WHERE id = $1 AND status = 'pending' AND lease_holder = $2`, id, holder, at))
}

func (t *tx) Reschedule(ctx context.Context, id, holder string, next time.Time, lastError string) error {
	return leased(t.exec(ctx, `UPDATE outbox SET next_attempt = $3, last_error = $4, lease_holder = '',
		lease_until = NULL WHERE id = $1 AND status = 'pending' AND lease_holder = $2`, id, holder, next, lastError))
}

func (t *tx) Park(ctx context.Context, id, holder, reason string) error {
	return leased(t.exec(ctx, `UPDATE outbox SET status = 'parked', last_error = $3, lease_holder = '',
		lease_until = NULL WHERE id = $1 AND status = 'pending' AND lease_holder = $2`, id, holder, reason))
}

// leased turns "no row updated" into store.ErrLeaseLost: the message is no longer pending
// under this holder's lease (another relay took it over after the lease expired).
func leased(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

func (t *tx) OutboxMessages(ctx context.Context, topic, status string) ([]store.OutboxMessage, error) {
	var out []store.OutboxMessage
	err := t.many(ctx, `SELECT `+outboxCols+` FROM outbox WHERE topic = $1 AND ($2 = '' OR status = $2)
		ORDER BY created_at, id`, []any{topic, status}, func(r Rows) error {
		var m store.OutboxMessage
		if err := scanOutbox(r, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}
