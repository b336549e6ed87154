package sqldb

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Commit-ordered feeds (issue 22): new payment options for the chain followers, new events
// for the webhook dispatcher. Each row carries its feed position (feed_xid, feed_seq), set by
// column defaults on Postgres and by a trigger on SQLite (migration 0012); a read returns
// the rows after a position together with the horizon below which nothing can appear any
// more (store.FeedPos). Nothing here depends on a row's created_at or on any clock.

// List is an argument holding several values for tx.in: one array parameter on Postgres,
// one parameter per value on SQLite.
type List []string

// listChunk bounds the values of one IN list on SQLite (its limit on parameters is 32766).
const listChunk = 2000

// in returns the condition "col is one of values" with its placeholders numbered from n and
// the arguments to append: `col = ANY($n)` with one array argument where the database has
// arrays, else `col IN ($n, $n+1, ...)`.
func (t *tx) in(col string, n int, values []string) (string, []any) {
	if t.d.Arrays() {
		return col + ` = ANY($` + strconv.Itoa(n) + `)`, []any{List(values)}
	}
	return col + ` IN (` + marks(n, len(values)) + `)`, anys(values)
}

// chunks calls fn with values in sorted order, all at once where the database binds arrays,
// else in chunks that fit an IN list; results of consecutive chunks stay in sorted order.
func (t *tx) chunks(values []string, fn func([]string) error) error {
	if len(values) == 0 {
		return nil
	}
	values = slices.Sorted(slices.Values(values))
	values = slices.Compact(values)
	size := len(values)
	if !t.d.Arrays() {
		size = listChunk
	}
	for start := 0; start < len(values); start += size {
		if err := fn(values[start:min(start+size, len(values))]); err != nil {
			return err
		}
	}
	return nil
}

// indexedBy names the index a table reference must use, on SQLite (" INDEXED BY index"), for
// a statement its planner, without statistics, would read through a worse one; "" elsewhere.
func (t *tx) indexedBy(index string) string {
	if t.d.Name() == "sqlite" {
		return " INDEXED BY " + index
	}
	return ""
}

// unionForSQLite is UNION ALL on SQLite, whose planner (without statistics) merges the two
// halves of a UNION in order, reading a side's table whole in its key order; the caller
// removes the duplicates. Postgres keeps UNION, planned with a hash.
func (t *tx) unionForSQLite() string {
	if t.d.Name() == "sqlite" {
		return "UNION ALL"
	}
	return "UNION"
}

// horizon reads the feed horizon of table. It runs before the read of the rows: a later
// statement sees every row committed below it.
func (t *tx) horizon(ctx context.Context, table string) (int64, error) {
	var h int64
	err := t.one(ctx, t.d.FeedHorizon(table), nil, &h)
	return h, err
}

const watchedCols = `, i.monitor_until, o.feed_xid, o.feed_seq`

func (t *tx) watched(ctx context.Context, q string, args ...any) ([]store.WatchedOption, error) {
	var out []store.WatchedOption
	err := t.many(ctx, q, args, func(r Rows) error {
		var w store.WatchedOption
		if err := scanOption(r, &w.PaymentOption, timeCol{&w.MonitorUntil}, &w.Pos.XID, &w.Pos.Seq); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	return out, err
}

func (t *tx) OptionFeed(ctx context.Context, chain string, after store.FeedPos, limit int) ([]store.WatchedOption, int64, error) {
	h, err := t.horizon(ctx, "payment_options")
	if err != nil {
		return nil, 0, err
	}
	opts, err := t.watched(ctx, `SELECT `+prefixed("o.", optionCols)+watchedCols+`
		FROM payment_options o JOIN invoices i ON i.id = o.invoice_id
		WHERE o.chain = $1 AND (o.feed_xid, o.feed_seq) > ($2, $3)
		ORDER BY o.feed_xid, o.feed_seq LIMIT $4`, chain, after.XID, after.Seq, limit)
	return opts, h, err
}

func (t *tx) WatchList(ctx context.Context, chain string, monitoredAfter time.Time, pendingAbove int64) ([]store.WatchedOption, store.FeedPos, error) {
	h, err := t.horizon(ctx, "payment_options")
	if err != nil {
		return nil, store.FeedPos{}, err
	}
	// CROSS JOIN: the invoices by their end of monitoring first (see ClosingOptions).
	opts, err := t.watched(ctx, `SELECT `+prefixed("o.", optionCols)+watchedCols+`
		FROM invoices i CROSS JOIN payment_options o
		WHERE o.invoice_id = i.id AND o.chain = $1 AND i.monitor_until > $2
		UNION
		SELECT `+prefixed("o.", optionCols)+watchedCols+`
		FROM payment_options o JOIN invoices i ON i.id = o.invoice_id
		WHERE o.chain = $1 AND o.invoice_id IN (SELECT p.invoice_id FROM payments p WHERE p.chain = $1 AND p.status = 'mempool'
			UNION SELECT p.invoice_id FROM payments p WHERE p.chain = $1 AND p.block_height > $3 AND p.status = 'confirmed')
		ORDER BY 1`, chain, monitoredAfter, pendingAbove)
	return opts, store.FeedPos{XID: h}, err
}

func (t *tx) ClosingOptions(ctx context.Context, chain string, after, upTo time.Time) ([]store.WatchedOption, error) {
	// The invoices by their end of monitoring first (invoices_monitor_until), then their
	// options on the chain. CROSS JOIN fixes that order for SQLite, which has no statistics
	// (it runs no ANALYZE) and planned the join the other way, reading every option on the
	// chain; Postgres plans it as the inner join it is.
	return t.watched(ctx, `SELECT `+prefixed("o.", optionCols)+watchedCols+`
		FROM invoices i CROSS JOIN payment_options o
		WHERE o.invoice_id = i.id AND o.chain = $1 AND i.monitor_until > $2 AND i.monitor_until <= $3
		ORDER BY o.invoice_id, o.id`, chain, after, upTo)
}

func (t *tx) WatchedAt(ctx context.Context, chain string, addresses []string, monitoredAfter time.Time, pendingAbove int64) ([]store.WatchedOption, error) {
	var out []store.WatchedOption
	err := t.chunks(addresses, func(chunk []string) error {
		cond, args := t.in("o.address", 4, chunk)
		// The payments of the option's invoice by payments_invoice: named for SQLite, which
		// has no statistics (it runs no ANALYZE) and took (chain) instead, reading every
		// payment on the chain for each option past its window.
		opts, err := t.watched(ctx, `SELECT `+prefixed("o.", optionCols)+watchedCols+`
			FROM payment_options o JOIN invoices i ON i.id = o.invoice_id
			WHERE o.chain = $1 AND `+cond+` AND (i.monitor_until > $2 OR EXISTS (SELECT 1 FROM payments p`+t.indexedBy("payments_invoice")+`
				WHERE p.invoice_id = o.invoice_id AND p.chain = $1
					AND (p.status = 'mempool' OR (p.status = 'confirmed' AND p.block_height > $3))))
			ORDER BY o.address, o.asset`, append([]any{chain, monitoredAfter, pendingAbove}, args...)...)
		out = append(out, opts...)
		return err
	})
	return out, err
}

func (t *tx) InvoicesDue(ctx context.Context, chain string, at time.Time, above, upTo int64) ([]string, error) {
	// A payment at height h reaches c confirmations at height h + c − 1, so the payments due
	// in (above, upTo] lie in blocks (above − maxConf + 1, upTo + 1]: that range, passed as
	// values, is an index range on payments (chain, block_height).
	var maxConf int64
	if upTo > above {
		if err := t.one(ctx, `SELECT COALESCE(MAX(confirmations), 0) FROM payment_options WHERE chain = $1`,
			[]any{chain}, &maxConf); err != nil {
			return nil, err
		}
	}
	var ids []string
	// The due time of an open invoice: a new one's expiry, a processing one's end of
	// monitoring (NULL for the others), one expression with its own index (invoices_due,
	// migration 0018): its statistics see only the open invoices, so the planner does not
	// take a third of them (or, with a value, most of history) to be due and scan them all.
	err := t.many(ctx, `SELECT i.id FROM invoices i
		WHERE (CASE i.status WHEN 'new' THEN i.expires_at WHEN 'processing' THEN i.monitor_until END) <= $2
			AND EXISTS (SELECT 1 FROM payment_options o WHERE o.invoice_id = i.id AND o.chain = $1)
		`+t.unionForSQLite()+`
		SELECT p.invoice_id FROM payments p JOIN payment_options o ON o.id = p.option_id
			WHERE p.chain = $1 AND p.block_height > $5 AND p.block_height <= $4 + 1 AND p.status = 'confirmed'
				AND p.block_height + o.confirmations - 1 > $3 AND p.block_height + o.confirmations - 1 <= $4`,
		[]any{chain, at, above, upTo, above - maxConf + 1}, func(r Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
	// Sorted and made unique here, not by ORDER BY (nor, on SQLite, UNION): SQLite merged
	// the two ordered halves, reading the invoices in id order, all of them, on every block
	// and poll (no statistics: it runs no ANALYZE).
	slices.Sort(ids)
	return slices.Compact(ids), err
}

func (t *tx) InvoicesByID(ctx context.Context, ids []string) ([]store.Invoice, error) {
	var out []store.Invoice
	err := t.chunks(ids, func(chunk []string) error {
		cond, args := t.in("id", 1, chunk)
		invs, err := t.invoices(ctx, `SELECT `+invoiceCols+` FROM invoices WHERE `+cond+` ORDER BY id`, args)
		out = append(out, invs...)
		return err
	})
	return out, err
}

// --- the event feed (webhooks)

func (t *tx) WebhookCursor(ctx context.Context, name string) (store.FeedPos, error) {
	var p store.FeedPos
	err := t.one(ctx, `SELECT position_xid, position_seq FROM webhook_cursors WHERE name = $1`, []any{name}, &p.XID, &p.Seq)
	if errors.Is(err, store.ErrNotFound) {
		return store.FeedPos{}, nil
	}
	return p, err
}

func (t *tx) AdvanceWebhookCursor(ctx context.Context, name string, pos store.FeedPos, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO webhook_cursors (name, position_at, position_xid, position_seq) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET position_at = excluded.position_at, position_xid = excluded.position_xid,
			position_seq = excluded.position_seq
		WHERE (webhook_cursors.position_xid, webhook_cursors.position_seq) < (excluded.position_xid, excluded.position_seq)`,
		name, at, pos.XID, pos.Seq)
	return err
}

func (t *tx) EventFeed(ctx context.Context, after store.FeedPos, limit int) ([]store.FeedEvent, int64, error) {
	h, err := t.horizon(ctx, "events")
	if err != nil {
		return nil, 0, err
	}
	var out []store.FeedEvent
	err = t.many(ctx, `SELECT e.id, e.merchant_id, e.invoice_id, e.type, e.data, e.created_at, e.snapshot, e.feed_xid, e.feed_seq
		FROM events e WHERE (e.feed_xid, e.feed_seq) > ($1, $2)
			AND NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.event_id = e.id)
			AND EXISTS (SELECT 1 FROM webhook_endpoints p WHERE p.merchant_id = e.merchant_id)
		ORDER BY e.feed_xid, e.feed_seq LIMIT $3`, []any{after.XID, after.Seq, limit}, func(r Rows) error {
		var e store.FeedEvent
		if err := r.Scan(&e.ID, &e.MerchantID, &e.InvoiceID, &e.Type, &e.Data, timeCol{&e.CreatedAt}, &e.Snapshot,
			&e.Pos.XID, &e.Pos.Seq); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, h, err
}

func (t *tx) EventsBelow(ctx context.Context, after store.FeedPos, horizon int64) (bool, error) {
	// The first event after the cursor in feed order: a walk of events_feed from the cursor
	// that stops at one row, or at once when the cursor is at the end of the feed. Without
	// the ORDER BY, the generic plan of a prepared statement (which guesses a third of the
	// table qualifies) read events sequentially, through every row when none did.
	var n int
	err := t.one(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE (feed_xid, feed_seq) > ($1, $2) AND feed_xid < $3
		ORDER BY feed_xid, feed_seq LIMIT 1) x`, []any{after.XID, after.Seq, horizon}, &n)
	return n > 0, err
}

func (t *tx) LockWebhookCursor(ctx context.Context, name string, exclusive bool) (store.FeedPos, error) {
	if _, err := t.exec(ctx, `INSERT INTO webhook_cursors (name, position_at, position_xid, position_seq)
		VALUES ($1, $2, 0, 0) ON CONFLICT (name) DO NOTHING`, name, time.Unix(0, 0).UTC()); err != nil {
		return store.FeedPos{}, err
	}
	lock := "" // SQLite: a write transaction already excludes every other writer
	if t.d.Name() == "postgres" {
		lock = " FOR SHARE"
		if exclusive {
			lock = " FOR UPDATE"
		}
	}
	var p store.FeedPos
	err := t.one(ctx, `SELECT position_xid, position_seq FROM webhook_cursors WHERE name = $1`+lock, []any{name}, &p.XID, &p.Seq)
	return p, err
}
