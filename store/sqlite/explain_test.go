package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

// TestHotQueriesUseIndexes is Postgres's EXPLAIN guard (store/postgres) for the embedded
// default: it runs the follower's, dispatcher's, settler's and invoice list's queries through
// the real store methods and asserts with EXPLAIN QUERY PLAN that none reads a table that
// grows with the invoices whole (SCAN), or all of a chain's rows (a SEARCH on chain alone).
// SQLite keeps no statistics here (the store runs no ANALYZE), so its plans depend on the
// schema and the statements only, not on the rows: an empty database shows them. It found
// four: InvoicesDue read every invoice (on every block and poll), ClosingOptions and the
// start-up WatchList every option on the chain, WatchedAt every payment on it.
func TestHotQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "plans.db")
	var (
		mu    sync.Mutex
		label string
		stmts []traced
	)
	db, err := sqlite.OpenTraced(path, func(q string, args []any) {
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
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const tip = 20
	// A little history, so that every method sends each of its statements.
	run("", true, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "m1", Name: "m", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateWallet(ctx, store.Wallet{ID: "w1", MerchantID: "m1", Chain: "bitcoin", Network: "regtest",
			Descriptor: "wpkh(tpubx/0/*)", CreatedAt: now}); err != nil {
			return err
		}
		for h := int64(1); h <= tip; h++ {
			if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: h, Hash: fmt.Sprintf("h%d", h),
				ParentHash: fmt.Sprintf("h%d", h-1), UpdatedAt: now, ChainTime: now}); err != nil {
				return err
			}
		}
		for i := range 3 {
			id := fmt.Sprintf("inv%d", i)
			created := now.Add(time.Duration(i-3) * 24 * time.Hour)
			if err := tx.CreateInvoice(ctx, store.Invoice{ID: id, MerchantID: "m1", Status: store.StatusNew, Price: big.NewInt(100),
				Currency: "USD", TolerancePercent: "0", ToleranceFloor: big.NewInt(0), Confirmations: "{}",
				ExpiresAt: created.Add(15 * time.Minute), MonitorUntil: created.Add(24 * time.Hour), CreatedAt: created, UpdatedAt: created}); err != nil {
				return err
			}
			idx := uint32(i)
			if err := tx.CreatePaymentOption(ctx, store.PaymentOption{ID: "opt" + id, InvoiceID: id, Asset: "BTC", Chain: "bitcoin",
				Network: "regtest", Scale: 8, Address: "addr" + id, WalletID: "w1", DerivationIndex: &idx, AmountDue: big.NewInt(1000),
				Rate: "1", RateSource: "x", RateAt: created, QuoteExpiresAt: created, Confirmations: 1, CreatedAt: created}); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, store.Event{ID: "ev" + id, MerchantID: "m1", InvoiceID: id, Type: "invoice.created",
				Data: "{}", CreatedAt: created}); err != nil {
				return err
			}
		}
		return nil
	})

	var last store.FeedPos
	run("OptionFeed", false, func(tx store.Tx) error {
		opts, _, err := tx.OptionFeed(ctx, "bitcoin", store.FeedPos{}, 1000)
		for _, o := range opts {
			last = o.Pos
		}
		return err
	})
	run("WatchList", false, func(tx store.Tx) error {
		_, _, err := tx.WatchList(ctx, "bitcoin", now.Add(-6*time.Hour), tip-5)
		return err
	})
	run("WatchedAt", false, func(tx store.Tx) error {
		_, err := tx.WatchedAt(ctx, "bitcoin", []string{"addrinv0", "addrinv1", "nobody"}, now.Add(-6*time.Hour), tip-5)
		return err
	})
	run("ClosingOptions", false, func(tx store.Tx) error {
		_, err := tx.ClosingOptions(ctx, "bitcoin", now.Add(-72*time.Hour), now)
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
		_, err := tx.InvoicesByID(ctx, []string{"inv0", "inv1"})
		return err
	})
	run("EventFeed+WebhookBacklog", false, func(tx store.Tx) error {
		if _, _, err := tx.EventFeed(ctx, store.FeedPos{}, 200); err != nil {
			return err
		}
		_, err := tx.WebhookBacklog(ctx, store.FeedPos{})
		return err
	})
	run("EventsBelow", false, func(tx store.Tx) error {
		_, err := tx.EventsBelow(ctx, store.FeedPos{XID: 2, Seq: 2}, 10)
		return err
	})
	run("PaymentsByStatus(mempool)", false, func(tx store.Tx) error {
		_, err := tx.PaymentsByStatus(ctx, "bitcoin", "mempool")
		return err
	})
	run("PaymentsSpending", false, func(tx store.Tx) error {
		_, err := tx.PaymentsSpending(ctx, "bitcoin", []string{"tx1:0", "tx2:0"})
		return err
	})
	run("OrphanPayments", true, func(tx store.Tx) error {
		_, err := tx.OrphanPayments(ctx, "bitcoin", tip-3, now)
		return err
	})
	run("Payments(invoice)", false, func(tx store.Tx) error {
		_, err := tx.Payments(ctx, "inv0")
		return err
	})
	run("LatestLedgerBooks", false, func(tx store.Tx) error {
		_, err := tx.LatestLedgerBooks(ctx, "inv0")
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
		if _, err := tx.OutboxByKey(ctx, "ledger", "k1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("outbox by key: %v, want not found", err)
		}
		return nil
	})
	run("Events(invoice)", false, func(tx store.Tx) error {
		_, err := tx.Events(ctx, "inv0")
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
		ids := []string{"inv0", "inv1"}
		if _, err := tx.PaymentOptionsOf(ctx, ids); err != nil {
			return err
		}
		_, err := tx.PaymentsOf(ctx, ids)
		return err
	})
	run("RefundsOfInvoices", false, func(tx store.Tx) error {
		_, err := tx.RefundsOfInvoices(ctx, []string{"inv0", "inv1"})
		return err
	})
	run("ForgetBlocksBelow", true, func(tx store.Tx) error {
		n, err := tx.ForgetBlocksBelow(ctx, "bitcoin", tip-10, 5)
		if err == nil && n != 5 {
			err = fmt.Errorf("deleted %d blocks, want 5", n)
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
	if len(stmts) < 28 {
		t.Fatalf("traced %d statements, want at least one per method", len(stmts))
	}

	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		rows, err := raw.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.query, s.args...)
		if err != nil {
			t.Fatalf("%s: explain: %v\n%s", s.label, err, s.query)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if bad := badSteps(s.query, plan); len(bad) > 0 {
			t.Errorf("%s: %s\nquery: %s\nplan:\n  %s", s.label, strings.Join(bad, "; "), strings.Join(strings.Fields(s.query), " "),
				strings.Join(plan, "\n  "))
		}
	}
}

type traced struct {
	label, query string
	args         []any
}

var (
	scanStep  = regexp.MustCompile(`^SCAN (\w+)`)
	chainOnly = regexp.MustCompile(`^SEARCH (\w+) USING (?:COVERING )?INDEX \w+ \(chain=\?\)$`)
	ownStep   = regexp.MustCompile(`^(?:CO-ROUTINE|MATERIALIZE) (\w+)`)
	// minMaxOnly is a statement that selects only the MAX or MIN of one column.
	minMaxOnly = regexp.MustCompile(`^SELECT (?:COALESCE\()?(?:MAX|MIN)\(\w+\)(?:, \d+\))? FROM \w+ WHERE`)
)

// badSteps returns the steps of query's plan that read a growing table whole or a whole
// chain's rows. SCAN names the table or its alias in the statement; the small tables (a row
// per merchant, wallet, endpoint, chain or lease) and the statement's own subqueries
// (CO-ROUTINE, MATERIALIZE) may be scanned. A MAX or MIN alone on an index reads one entry.
func badSteps(query string, plan []string) []string {
	own := map[string]bool{}
	for _, step := range plan {
		if m := ownStep.FindStringSubmatch(step); m != nil {
			own[m[1]] = true
		}
	}
	minMax := len(plan) == 1 && minMaxOnly.MatchString(query)
	var bad []string
	for _, step := range plan {
		if m := scanStep.FindStringSubmatch(step); m != nil && !smallTables[m[1]] && !own[m[1]] {
			bad = append(bad, step)
		}
		if chainOnly.MatchString(step) && !minMax {
			bad = append(bad, step)
		}
	}
	return bad
}

var smallTables = map[string]bool{
	"merchants": true, "m": true, "wallets": true, "w": true, "webhook_endpoints": true, "chain_cursors": true,
	"leases": true, "webhook_cursors": true, "CONSTANT": true,
}
