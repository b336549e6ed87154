package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/storetest"
)

// explainRows is how many invoices (each with an option, and the closed ones with a
// payment, a spend, an event, an outbox message and a ledger book) the EXPLAIN guard seeds:
// enough that Postgres prefers an index to a sequential scan wherever a usable one exists.
const explainRows = 20000

// guarded are the tables that grow with every invoice: a hot query must never scan them whole.
var guarded = map[string]bool{
	"invoices": true, "payment_options": true, "payments": true, "payment_spends": true,
	"events": true, "outbox": true, "ledger_books": true, "chain_blocks": true, "refunds": true,
}

// TestHotQueriesUseIndexes runs the follower's, settler's, outbox relay's and invoice list's
// queries through the real store methods on a seeded database and asserts with EXPLAIN
// (FORMAT JSON) that none of them plans a Seq Scan on a table that grows with the invoices.
func TestHotQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresSchemaURL(t)

	var (
		mu    sync.Mutex
		label string
		stmts []traced
	)
	db, err := postgres.OpenTraced(ctx, url, func(q string, args []any) {
		mu.Lock()
		defer mu.Unlock()
		if label != "" {
			stmts = append(stmts, traced{label: label, query: q, args: args})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	now := seedExplain(t, pool)

	run := func(name string, write bool, fn func(store.Tx) error) {
		t.Helper()
		mu.Lock()
		label = name
		mu.Unlock()
		do := db.View
		if write {
			do = db.Tx
		}
		if err := do(ctx, fn); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mu.Lock()
		label = ""
		mu.Unlock()
	}
	tip := int64(explainRows)
	var last store.FeedPos // the newest option's feed position
	run("OptionFeed", false, func(tx store.Tx) error {
		_, _, err := tx.OptionFeed(ctx, "bitcoin", store.FeedPos{}, 1000)
		return err
	})
	run("WatchList", false, func(tx store.Tx) error {
		opts, _, err := tx.WatchList(ctx, "bitcoin", now.Add(-6*time.Hour), tip-100)
		for _, o := range opts {
			if o.Pos.After(last) {
				last = o.Pos
			}
		}
		return err
	})
	run("WatchedAt", false, func(tx store.Tx) error {
		// A block's candidate addresses: a few of ours among others that are nobody's (a
		// small share of the table, as a block's are of a real one's).
		addrs := []string{"addr100", "addr19998", "addr" + fmt.Sprint(explainRows)}
		for i := range 40 {
			addrs = append(addrs, fmt.Sprintf("bc1qnobody%d", i))
		}
		opts, err := tx.WatchedAt(ctx, "bitcoin", addrs, now.Add(-6*time.Hour), tip-100)
		if err == nil && len(opts) == 0 {
			err = fmt.Errorf("no option watched at %v", addrs[:3])
		}
		return err
	})
	run("ClosingOptions", false, func(tx store.Tx) error {
		// One step's worth of closing: the invoices whose window ended in the last minutes.
		upTo := now.Add(-6 * time.Hour)
		opts, err := tx.ClosingOptions(ctx, "bitcoin", upTo.Add(-5*time.Minute), upTo)
		if err == nil && len(opts) == 0 {
			err = fmt.Errorf("no option closing in the 5 minutes up to %s", upTo)
		}
		return err
	})
	run("OptionFeed (at the end)", false, func(tx store.Tx) error {
		_, _, err := tx.OptionFeed(ctx, "bitcoin", last, 1000)
		return err
	})
	run("InvoicesDue (time)", false, func(tx store.Tx) error {
		_, err := tx.InvoicesDue(ctx, "bitcoin", now, tip, tip)
		return err
	})
	run("InvoicesDue (a block)", false, func(tx store.Tx) error {
		_, err := tx.InvoicesDue(ctx, "bitcoin", now, tip-1, tip)
		return err
	})
	run("InvoicesByID", false, func(tx store.Tx) error {
		_, err := tx.InvoicesByID(ctx, []string{"inv100", "inv101", "inv19999"})
		return err
	})
	run("EventFeed+WebhookBacklog", false, func(tx store.Tx) error {
		evs, _, err := tx.EventFeed(ctx, store.FeedPos{XID: 1 << 40}, 200)
		if err != nil || len(evs) > 0 {
			return fmt.Errorf("event feed at the end: %d events, %v", len(evs), err)
		}
		_, err = tx.WebhookBacklog(ctx, store.FeedPos{XID: 1 << 40})
		return err
	})
	// The webhook dispatcher's idle pass: its cursor at the newest event, the horizon above
	// it, so no event qualifies (where a sequential scan reads the whole table).
	var newest store.FeedPos
	if err := pool.QueryRow(ctx, `SELECT feed_xid, feed_seq FROM events ORDER BY feed_xid DESC, feed_seq DESC LIMIT 1`).
		Scan(&newest.XID, &newest.Seq); err != nil {
		t.Fatal(err)
	}
	run("EventsBelow (at the end)", false, func(tx store.Tx) error {
		below, err := tx.EventsBelow(ctx, newest, newest.XID+1)
		if err == nil && below {
			err = fmt.Errorf("an event after the newest one %+v", newest)
		}
		return err
	})
	run("PaymentsByStatus(mempool)", false, func(tx store.Tx) error {
		_, err := tx.PaymentsByStatus(ctx, "bitcoin", "mempool")
		return err
	})
	run("PaymentsSpending", false, func(tx store.Tx) error {
		_, err := tx.PaymentsSpending(ctx, "bitcoin", []string{"tx10:0", "tx12:0"})
		return err
	})
	run("OrphanPayments", true, func(tx store.Tx) error {
		_, err := tx.OrphanPayments(ctx, "bitcoin", tip-3, now)
		return err
	})
	run("Payments(invoice)", false, func(tx store.Tx) error {
		_, err := tx.Payments(ctx, "inv100")
		return err
	})
	run("LatestLedgerBooks", false, func(tx store.Tx) error {
		_, err := tx.LatestLedgerBooks(ctx, "inv100")
		return err
	})
	run("ClaimDue", true, func(tx store.Tx) error {
		_, err := tx.ClaimDue(ctx, "ledger", "h", now, now.Add(time.Minute), 10)
		return err
	})
	run("ClaimDueInOrder", true, func(tx store.Tx) error {
		_, err := tx.ClaimDueInOrder(ctx, "ledger", "h", now, now.Add(time.Minute), 10)
		return err
	})
	run("OutboxByKey", false, func(tx store.Tx) error {
		_, err := tx.OutboxByKey(ctx, "ledger", "k100")
		return err
	})
	run("Events(invoice)", false, func(tx store.Tx) error {
		_, err := tx.Events(ctx, "inv100")
		return err
	})
	run("ListInvoices page", false, func(tx store.Tx) error {
		_, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: "m1", Limit: 21})
		return err
	})
	run("ListInvoices by status", false, func(tx store.Tx) error {
		_, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: "m1", Status: "processing", Limit: 21})
		return err
	})
	run("PaymentOptionsOf+PaymentsOf", false, func(tx store.Tx) error {
		ids := []string{"inv100", "inv101", "inv19999"}
		if _, err := tx.PaymentOptionsOf(ctx, ids); err != nil {
			return err
		}
		_, err := tx.PaymentsOf(ctx, ids)
		return err
	})
	// The follower's pruning, a small batch of the lowest blocks (the later checks read
	// blocks near the tip only).
	run("ForgetBlocksBelow", true, func(tx store.Tx) error {
		n, err := tx.ForgetBlocksBelow(ctx, "bitcoin", tip-100, 10)
		if err == nil && n != 10 {
			err = fmt.Errorf("deleted %d blocks, want 10", n)
		}
		return err
	})
	run("RefundsOfInvoices", false, func(tx store.Tx) error {
		refs, err := tx.RefundsOfInvoices(ctx, []string{"inv100", "inv102", "inv19999"})
		if err == nil && len(refs) != 2 {
			err = fmt.Errorf("%d refunds of inv100, inv102 and inv19999, want 2", len(refs))
		}
		return err
	})
	run("SetCursor+BlockHashes", true, func(tx store.Tx) error {
		if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: tip + 1, Hash: "h", ParentHash: "p",
			UpdatedAt: now, ChainTime: now}); err != nil {
			return err
		}
		_, err := tx.BlockHashes(ctx, "bitcoin", tip+1, 10)
		return err
	})

	if len(stmts) < 24 {
		t.Fatalf("traced %d statements, want at least one per method", len(stmts))
	}
	// Each statement twice: the custom plan (its arguments' values known, as on a statement's
	// first runs) and the generic plan (pgx prepares statements and Postgres switches to a
	// generic plan after five runs; a range condition on a parameter then gets a default
	// selectivity, which once made InvoicesDue plan parallel workers on a large database).
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// Parallel workers are made free, so that a plan gathers them wherever a table allows it
	// (this database is far smaller than the ones where the cost model chose them).
	if _, err := conn.Exec(ctx, `SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
		SET min_parallel_table_scan_size = 0; SET min_parallel_index_scan_size = 0`); err != nil {
		t.Fatal(err)
	}
	for i, s := range stmts {
		var custom, generic []byte
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = auto"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+s.query, s.args...).Scan(&custom); err != nil {
			t.Fatalf("%s: explain: %v\n%s", s.label, err, s.query)
		}
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("hot%d", i)
		sd, err := conn.Conn().Prepare(ctx, name, s.query)
		if err != nil {
			t.Fatalf("%s: prepare: %v\n%s", s.label, err, s.query)
		}
		// A generic plan does not look at the values: NULLs stand in for the arguments.
		nulls := strings.TrimSuffix(strings.Repeat("NULL, ", len(sd.ParamOIDs)), ", ")
		if len(sd.ParamOIDs) > 0 {
			nulls = "(" + nulls + ")"
		}
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE "+name+nulls).Scan(&generic); err != nil {
			t.Fatalf("%s: explain generic plan: %v\n%s", s.label, err, s.query)
		}
		if err := conn.Conn().Deallocate(ctx, name); err != nil {
			t.Fatal(err)
		}
		plans := map[string][]byte{"custom": custom, "generic": generic}
		if onceOnly[s.label] {
			delete(plans, "generic")
		}
		for kind, raw := range plans {
			var plans []struct{ Plan planNode }
			if err := json.Unmarshal(raw, &plans); err != nil {
				t.Fatalf("%s: decode plan: %v", s.label, err)
			}
			for _, p := range plans {
				if bad := p.Plan.seqScans(); len(bad) > 0 {
					t.Errorf("%s (%s plan): Seq Scan on %s\nquery: %s\nplan:\n%s", s.label, kind, strings.Join(bad, ", "),
						oneLine(s.query), p.Plan.outline(""))
				}
				if p.Plan.parallel() {
					t.Errorf("%s (%s plan): parallel workers (Gather) for a query that reads a few index entries\nquery: %s\nplan:\n%s",
						s.label, kind, oneLine(s.query), p.Plan.outline(""))
				}
			}
		}
	}
}

// onceOnly are the statements a process runs once (the follower's initial watch list), so
// always with a custom plan: their generic plans are not checked.
var onceOnly = map[string]bool{"WatchList": true}

type traced struct {
	label, query string
	args         []any
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Filter   string     `json:"Filter"`
	Plans    []planNode `json:"Plans"`
}

// outline renders the plan one node a line, for failure messages.
func (n planNode) outline(indent string) string {
	s := indent + n.NodeType
	if n.Relation != "" {
		s += " on " + n.Relation
	}
	if n.Index != "" {
		s += " using " + n.Index
	}
	if n.Filter != "" {
		s += " filter " + n.Filter
	}
	s += "\n"
	for _, c := range n.Plans {
		s += c.outline(indent + "  ")
	}
	return s
}

// seqScans returns the guarded relations that n or a node below it scans sequentially.
func (n planNode) seqScans() []string {
	var out []string
	if n.NodeType == "Seq Scan" && guarded[n.Relation] {
		out = append(out, n.Relation)
	}
	for _, c := range n.Plans {
		out = append(out, c.seqScans()...)
	}
	return out
}

// parallel reports whether n or a node below it gathers the work of parallel workers.
func (n planNode) parallel() bool {
	if strings.HasPrefix(n.NodeType, "Gather") {
		return true
	}
	return slices.ContainsFunc(n.Plans, planNode.parallel)
}

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }

// seedExplain fills the schema with explainRows invoices, one a minute up to now: the newest
// 400 open (new or processing, half of the processing ones with a mempool payment), the rest
// closed with a confirmed payment at the invoice's height, its spend, an event, a delivered
// outbox message and a ledger book, and a refund (completed) for every other one; the last
// 50 outbox messages are pending. It returns now.
func seedExplain(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, open := explainRows, 400
	stmts := []string{
		`INSERT INTO merchants (id, name, created_at) VALUES ('m1', 'm', $1)`,
		`INSERT INTO wallets (id, merchant_id, chain, network, created_at) VALUES ('w1', 'm1', 'bitcoin', 'main', $1)`,
		fmt.Sprintf(`INSERT INTO invoices (id, merchant_id, status, price, currency, expires_at, monitor_until,
			created_at, updated_at)
			SELECT 'inv' || g, 'm1',
				CASE WHEN g <= %[1]d - %[2]d THEN (CASE WHEN g %% 3 = 0 THEN 'expired' ELSE 'settled' END)
					WHEN g %% 2 = 0 THEN 'processing' ELSE 'new' END,
				100, 'USD', c + interval '15 minutes', c + interval '1 day', c, c
			FROM generate_series(1, %[1]d) g, LATERAL (SELECT $1::timestamptz - (%[1]d - g) * interval '1 minute' AS c) t`, n, open),
		fmt.Sprintf(`INSERT INTO payment_options (id, invoice_id, asset, chain, network, scale, address, wallet_id,
			derivation_index, amount_due, rate, rate_source, rate_at, quote_expires_at, confirmations, created_at)
			SELECT 'opt' || g, 'inv' || g, 'BTC', CASE WHEN g %% 2 = 0 THEN 'bitcoin' ELSE 'ethereum' END, 'main', 8,
				'addr' || g, 'w1', g, 1000, '1', 'x', c, c, 2, c
			FROM generate_series(1, %[1]d) g, LATERAL (SELECT $1::timestamptz - (%[1]d - g) * interval '1 minute' AS c) t`, n),
		fmt.Sprintf(`INSERT INTO payments (id, invoice_id, option_id, chain, txid, output_index, address, asset,
			amount, status, block_height, block_hash, seen_at, updated_at, spends)
			SELECT 'pay' || g, 'inv' || g, 'opt' || g, CASE WHEN g %% 2 = 0 THEN 'bitcoin' ELSE 'ethereum' END,
				'tx' || g, 0, 'addr' || g, 'BTC', 1000,
				CASE WHEN g <= %[1]d - %[2]d THEN 'confirmed' ELSE 'mempool' END,
				CASE WHEN g <= %[1]d - %[2]d THEN g END, 'h', c, c, 'tx' || (g - 1) || ':0'
			FROM generate_series(1, %[1]d) g, LATERAL (SELECT $1::timestamptz - (%[1]d - g) * interval '1 minute' AS c) t
			WHERE g <= %[1]d - %[2]d OR g %% 4 = 0`, n, open),
		`INSERT INTO payment_spends (chain, outpoint, payment_id) SELECT chain, spends, id FROM payments WHERE $1::timestamptz IS NOT NULL`,
		fmt.Sprintf(`INSERT INTO events (id, merchant_id, invoice_id, type, data, created_at)
			SELECT 'ev' || g, 'm1', 'inv' || g, 'invoice.created', '{}', $1::timestamptz - (%[1]d - g) * interval '1 minute'
			FROM generate_series(1, %[1]d) g`, n),
		fmt.Sprintf(`INSERT INTO outbox (id, topic, key, payload, status, next_attempt, created_at, delivered_at)
			SELECT 'ob' || g, 'ledger', 'k' || g, '{}', CASE WHEN g > %[1]d - 50 THEN 'pending' ELSE 'delivered' END,
				c, c, CASE WHEN g <= %[1]d - 50 THEN c END
			FROM generate_series(1, %[1]d) g, LATERAL (SELECT $1::timestamptz - (%[1]d - g) * interval '1 minute' AS c) t`, n),
		`INSERT INTO ledger_books (payment_id, seq, invoice_id, merchant_id, state, amount, record_key, created_at)
			SELECT id, 1, invoice_id, 'm1', 'applied', amount, 'k' || substr(id, 4), seen_at FROM payments
			WHERE $1::timestamptz IS NOT NULL`,
		fmt.Sprintf(`INSERT INTO refunds (id, merchant_id, invoice_id, seq, status, asset, chain, network, scale,
			currency, amount_fiat, amount_atomic, fee_from_amount, rate_policy, rate, rate_source, rate_at,
			txid, output_index, block_height, block_hash, created_at, updated_at, completed_at)
			SELECT 'ref' || g, 'm1', 'inv' || g, 1, 'completed', 'BTC', 'bitcoin', 'main', 8, 'USD', 100, 1000, 0,
				'original', '1', 'x', c, 'rtx' || g, 0, g, 'h', c, c, c
			FROM generate_series(2, %[1]d - %[2]d, 2) g, LATERAL (SELECT $1::timestamptz - (%[1]d - g) * interval '1 minute' AS c) t`, n, open),
		fmt.Sprintf(`INSERT INTO chain_blocks (chain, height, hash, parent_hash)
			SELECT 'bitcoin', g, 'h' || g, 'h' || (g - 1) FROM generate_series(1, %[1]d) g
			WHERE $1::timestamptz IS NOT NULL`, n),
	}
	for _, q := range stmts {
		if _, err := pool.Exec(context.Background(), q, now); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
	if _, err := pool.Exec(context.Background(), `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	return now
}
