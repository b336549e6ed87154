package sqldb

import (
	"context"

	"github.com/chainpay/chainpay/store"
)

// The queries of store.OpsTx. MIN over a time column yields a TIMESTAMPTZ on Postgres and
// INTEGER microseconds on SQLite; nullTimeCol reads both.

func (t *tx) InvoiceCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := t.many(ctx, `SELECT status, COUNT(*) FROM invoices GROUP BY status`, nil, func(r Rows) error {
		var (
			s string
			n int64
		)
		if err := r.Scan(&s, &n); err != nil {
			return err
		}
		out[s] = n
		return nil
	})
	return out, err
}

func (t *tx) PaymentCounts(ctx context.Context) ([]store.PaymentCount, error) {
	var out []store.PaymentCount
	err := t.many(ctx, `SELECT chain, asset, status, COUNT(*) FROM payments GROUP BY chain, asset, status
		ORDER BY chain, asset, status`, nil, func(r Rows) error {
		var c store.PaymentCount
		if err := r.Scan(&c.Chain, &c.Asset, &c.Status, &c.Count); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func (t *tx) AwaitingConfirmation(ctx context.Context) ([]store.Backlog, error) {
	var out []store.Backlog
	err := t.many(ctx, `SELECT p.chain, COUNT(*), MIN(p.seen_at) FROM payments p JOIN invoices i ON i.id = p.invoice_id
		WHERE i.status = 'processing' AND p.status <> 'removed' GROUP BY p.chain ORDER BY p.chain`, nil,
		func(r Rows) error {
			var b store.Backlog
			if err := r.Scan(&b.Name, &b.Pending, nullTimeCol{&b.Oldest}); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	return out, err
}

func (t *tx) OutboxBacklog(ctx context.Context) ([]store.Backlog, error) {
	var out []store.Backlog
	err := t.many(ctx, `SELECT topic,
			COUNT(CASE WHEN status = 'pending' THEN 1 END),
			COUNT(CASE WHEN status = 'parked' THEN 1 END),
			MIN(CASE WHEN status = 'pending' THEN created_at END)
		FROM outbox WHERE status IN ('pending', 'parked') GROUP BY topic ORDER BY topic`, nil,
		func(r Rows) error {
			var b store.Backlog
			if err := r.Scan(&b.Name, &b.Pending, &b.Parked, nullTimeCol{&b.Oldest}); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	return out, err
}

func (t *tx) WebhookBacklog(ctx context.Context, after store.FeedPos) (store.WebhookBacklog, error) {
	w := store.WebhookBacklog{Deliveries: store.Backlog{Name: "webhooks"}}
	d := &w.Deliveries
	err := t.one(ctx, `SELECT
			COUNT(CASE WHEN status = 'pending' THEN 1 END),
			COUNT(CASE WHEN status = 'failed' THEN 1 END),
			MIN(CASE WHEN status = 'pending' THEN created_at END)
		FROM webhook_deliveries WHERE status IN ('pending', 'failed')`, nil,
		&d.Pending, &d.Parked, nullTimeCol{&d.Oldest})
	if err != nil {
		return w, err
	}
	err = t.one(ctx, `SELECT COUNT(*), MIN(e.created_at) FROM events e
		WHERE (e.feed_xid, e.feed_seq) > ($1, $2) AND NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.event_id = e.id)
			AND EXISTS (SELECT 1 FROM webhook_endpoints p WHERE p.merchant_id = e.merchant_id)`,
		[]any{after.XID, after.Seq}, &w.Undispatched, nullTimeCol{&w.OldestUndispatched})
	return w, err
}

func (t *tx) Cursors(ctx context.Context) ([]store.Cursor, error) {
	var out []store.Cursor
	err := t.many(ctx, `SELECT chain, height, hash, parent_hash, updated_at, chain_time, final_height FROM chain_cursors ORDER BY chain`, nil,
		func(r Rows) error {
			var c store.Cursor
			if err := r.Scan(&c.Chain, &c.Height, &c.Hash, &c.ParentHash, timeCol{&c.UpdatedAt}, timeCol{&c.ChainTime}, &c.Final); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

func (t *tx) Leases(ctx context.Context) ([]store.Lease, error) {
	var out []store.Lease
	err := t.many(ctx, `SELECT name, holder, expires_at FROM leases ORDER BY name`, nil, func(r Rows) error {
		var l store.Lease
		if err := r.Scan(&l.Name, &l.Holder, timeCol{&l.ExpiresAt}); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

func (t *tx) WalletCounts(ctx context.Context) ([]store.WalletCount, error) {
	var out []store.WalletCount
	err := t.many(ctx, `SELECT chain, network, COUNT(*) FROM wallets GROUP BY chain, network ORDER BY chain, network`,
		nil, func(r Rows) error {
			var c store.WalletCount
			if err := r.Scan(&c.Chain, &c.Network, &c.Count); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

func (t *tx) WalletGaps(ctx context.Context) ([]store.WalletGap, error) {
	var out []store.WalletGap
	err := t.many(ctx, `SELECT w.id, w.merchant_id, w.chain, w.network, w.next_index,
		(SELECT o.derivation_index FROM payment_options o
			WHERE o.wallet_id = w.id AND o.derivation_index IS NOT NULL
			AND EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = o.invoice_id AND p.option_id = o.id)
			ORDER BY o.derivation_index DESC LIMIT 1)
		FROM wallets w WHERE w.descriptor <> '' ORDER BY w.chain, w.id`, nil, func(r Rows) error {
		var (
			g    store.WalletGap
			next int64
			paid *int64
		)
		if err := r.Scan(&g.WalletID, &g.MerchantID, &g.Chain, &g.Network, &next, nullInt{&paid}); err != nil {
			return err
		}
		g.NextIndex = uint32(next)
		if paid != nil {
			p := uint32(*paid)
			g.HighestPaid = &p
		}
		out = append(out, g)
		return nil
	})
	return out, err
}
