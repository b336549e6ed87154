package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/watcher"
)

// The watcher-scale benchmark (issue 22) measures whether the EVM follower's work per block
// and per poll grows with the history of the database. Two Postgres schemas are built in the
// same run:
//
//   - small: the live set alone — scaleLive invoices created through invoices.Service (each
//     offers BTC, ETH and USDC; 4 h expiry);
//   - large: the same live rows (copied from small) plus a background seeded in SQL:
//     o.scaleClosed closed invoices (2/3 settled with a confirmed payment, its ledger book
//     and delivered outbox message; 1/3 expired) created one a minute over the last ~2
//     years, and o.scaleOpen - scaleLive open ones: half of o.scaleOpen processing (paid
//     in BTC, the payment in the Bitcoin mempool) and the rest new (not yet due).
//
// Then the same blocks are applied to both by a real watcher.Follower for chain "ethereum"
// over an in-memory source (no RPC, so the figures are the follower's and the store's
// work). By default the source reports every transfer and the follower matches them in the
// store (the BitcoinSource's path: no address map); with -scale-watch-list it is a
// watcher.Watcher, as the EthereumSource is (its balance reconciliation needs the
// addresses): it keeps the watched addresses (a set, as the EthereumSource's watch set is a
// map; its reconciliation state per address is not modelled), and the follower hands them
// over and takes back those of closed invoices, keeping nothing per address. Each block
// pays scalePerBlock live invoices (half ETH, half USDC, exactly the amount due; 12
// confirmations), and after every block the follower polls once without a
// new block. Per block and per poll: wall time, allocations (runtime Mallocs/TotalAlloc
// deltas), invoices reviewed; per side: the follower's heap and the rows Postgres read per
// table (pg_stat_user_tables). Both sides must end with the same live invoices settled.
const (
	scaleLive     = 1000
	scalePerBlock = 10
	// scaleStart is the first EVM height of the benchmark's chain; the background's EVM
	// payments lie below it, in the past.
	scaleStart = 20_000_000
	// scaleBTCHeight is the Bitcoin cursor's height (the Bitcoin follower does not run).
	scaleBTCHeight = 900_000
)

var (
	scaleUSDC = common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	// No chain is contacted: the factory only derives deposit addresses.
	scaleFactory = common.HexToAddress("0x00000000000000000000000000000000000fac70")
	scaleImpl    = common.HexToAddress("0x0000000000000000000000000000000000001a57")
)

// scaleQuoter prices BTC at 60,000, ETH at 2,000 and USDC at 1 of any currency.
type scaleQuoter struct{}

func (scaleQuoter) Quote(_ context.Context, base, _ string) (invoices.Quote, error) {
	rate := map[string]int64{"BTC": 60000, "ETH": 2000}[base]
	if rate == 0 {
		rate = 1
	}
	return invoices.Quote{Rate: decimal.NewFromInt(rate), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

func scaleChains() (map[string]invoices.Chain, error) {
	f, err := ethereum.NewFactory(scaleFactory, scaleImpl)
	if err != nil {
		return nil, err
	}
	evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: 1337, Factory: f,
		Tokens: map[string]deposit.EVMToken{"USDC": {Contract: scaleUSDC, Decimals: 6}}})
	if err != nil {
		return nil, err
	}
	return map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 2), "ethereum": evm}, nil
}

// benchWatcherScale runs the benchmark described above and prints large/small ratios.
func benchWatcherScale(ctx context.Context, o *options, _ string, r *report, stderr io.Writer) error {
	if o.scaleOpen < 2*scaleLive || o.scaleClosed < 3 {
		return usageError{fmt.Sprintf("-scale-open must be at least %d and -scale-closed at least 3", 2*scaleLive)}
	}
	blocks := o.scaleBlocks
	if blocks*scalePerBlock > scaleLive {
		return usageError{fmt.Sprintf("-scale-blocks at most %d", scaleLive/scalePerBlock)}
	}
	small, err := newSchema(ctx, o.pg, "bench_scale_small")
	if err != nil {
		return err
	}
	large, err := newSchema(ctx, o.pg, "bench_scale_large")
	if err != nil {
		small.drop()
		return err
	}
	if o.keep { // for EXPLAIN ANALYZE afterwards; drop them by hand
		defer progress(stderr, fmt.Sprintf("watcher-scale: kept schemas %s and %s (-keep)", small.name, large.name))
		defer small.admin.Close()
		defer large.admin.Close()
	} else {
		defer small.drop()
		defer large.drop()
	}
	chains, err := scaleChains()
	if err != nil {
		return err
	}

	// The live set, through the service, on small.
	t0 := time.Now()
	live, err := scaleLiveSet(ctx, small.url, chains)
	if err != nil {
		return fmt.Errorf("live invoices: %w", err)
	}
	progress(stderr, fmt.Sprintf("watcher-scale: %d live invoices created through the service in %s", len(live), time.Since(t0).Round(time.Millisecond)))

	// The large schema: the same live rows, then the background.
	t0 = time.Now()
	if err := migrateSchema(ctx, large.url); err != nil {
		return err
	}
	if err := copyRows(ctx, small.admin, small.name, large.name); err != nil {
		return fmt.Errorf("copy live rows: %w", err)
	}
	seeded, err := seedBackground(ctx, large.url, live[0].invoiceID, o.scaleClosed, o.scaleOpen-scaleLive, o.scaleOpen/2, stderr)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(t0)
	progress(stderr, fmt.Sprintf("watcher-scale: seeded %s in %s", seeded, seedTime.Round(time.Second)))

	// The chain: block scaleStart is where the follower starts (its cursor); blocks after it
	// pay the live invoices in order.
	chain := scaleBlocksOf(live, blocks, time.Now())
	budget := o.scaleBudget
	var res [2]scaleResult
	for i, side := range []struct {
		name string
		sc   *schema
	}{{"small", small}, {"large", large}} {
		progress(stderr, fmt.Sprintf("watcher-scale: %d blocks and %d polls on %s", blocks, blocks, side.name))
		// The budget bounds the large side; the small side is the baseline and gets ten
		// times as long (a loaded machine must not leave the ratio without a denominator).
		profile, limit := "", 10*budget
		if side.name == "large" {
			profile, limit = o.scaleProfile, budget
		}
		if res[i], err = runScaleSide(ctx, side.sc, chains, chain, limit, profile, o.scaleWatch); err != nil {
			return fmt.Errorf("%s: %w", side.name, err)
		}
		progress(stderr, fmt.Sprintf("watcher-scale: %s done: %d blocks, %d polls in %s", side.name,
			len(res[i].block.times), len(res[i].poll.times), res[i].elapsed.Round(time.Millisecond)))
	}
	sm, lg := res[0], res[1]
	if err := ctx.Err(); err != nil {
		return err
	}

	path := "store-matched: the source reports every transfer, the follower matches them in the store"
	if o.scaleWatch {
		path = "watch list (-scale-watch-list): the source is a watcher.Watcher and keeps the watched addresses (a set)"
	}
	r.section(fmt.Sprintf("Watcher at scale — EVM follower on Postgres, in-memory source (%s); the same %d blocks (%d live invoices paid each, 12 confirmations) and a poll after each, on %d invoices (small) and on %s (large)",
		path, blocks, scalePerBlock, scaleLive, seeded))
	r.line("seeding (INSERT ... SELECT generate_series)", fmt.Sprintf("%s, then VACUUM ANALYZE", seedTime.Round(time.Second)))
	if lg.timedOut || sm.timedOut {
		r.line("budget (large side; small: 10×)", fmt.Sprintf("%s: small measured %d/%d blocks, %d polls; large %d/%d blocks, %d polls (the step in progress at the deadline was abandoned, lower bound %s)",
			budget, len(sm.block.times), blocks, len(sm.poll.times), len(lg.block.times), blocks, len(lg.poll.times), lg.abandoned.Round(time.Millisecond)))
	}
	r.ratio("first step: cursor + initial watch list", ms(lg.first), ms(sm.first), "ms", "(one-off)")
	if len(lg.block.times) == 0 {
		r.line("per block", fmt.Sprintf("FAILED TO MEASURE: the first large block did not finish within the budget (> %s; small p50 %.1f ms)",
			lg.abandoned.Round(time.Millisecond), ms(sm.block.times.quantile(0.5))))
	} else {
		r.ratio("per block p50", ms(lg.block.times.quantile(0.5)), ms(sm.block.times.quantile(0.5)), "ms", "≤ 1.2")
		r.ratio("per block mean", ms(lg.block.mean()), ms(sm.block.mean()), "ms", "≤ 1.2")
		r.ratio("allocations per block", lg.block.allocs(), sm.block.allocs(), "allocs", "≤ 1.2")
		r.ratio("bytes allocated per block", lg.block.kib(), sm.block.kib(), "KiB", "≤ 1.2")
		r.ratio("invoices reviewed per block", lg.block.reviewsPer(), sm.block.reviewsPer(), "reviews", "≤ 1.2")
	}
	if len(lg.poll.times) == 0 {
		r.line("per poll", "FAILED TO MEASURE: no large poll finished within the budget")
	} else {
		r.ratio("per poll p50", ms(lg.poll.times.quantile(0.5)), ms(sm.poll.times.quantile(0.5)), "ms", "≤ 1.2")
		r.ratio("allocations per poll", lg.poll.allocs(), sm.poll.allocs(), "allocs", "≤ 1.2")
		r.ratio("invoices reviewed per poll", lg.poll.reviewsPer(), sm.poll.reviewsPer(), "reviews", "≤ 1.2")
	}
	r.ratio("follower heap (live, after GC)", float64(lg.heap)/(1<<10), float64(sm.heap)/(1<<10), "KiB", "≤ 1.2")
	r.line("open EVM deposit addresses (small / large)", fmt.Sprintf("%d / %d (one per open invoice)", sm.watched, lg.watched))
	if sm.watched > 0 && lg.watched > 0 {
		r.ratio("follower heap per open address", float64(lg.heap)/float64(lg.watched), float64(sm.heap)/float64(sm.watched), "bytes", "≤ 1.2")
	}
	r.line("rows read per block+poll, large (small)", lg.tableReads(sm))
	if !lg.timedOut && !sm.timedOut {
		if sm.settled != lg.settled || sm.settled != scalePerBlock*max(0, blocks-11) {
			return fmt.Errorf("live invoices settled: small %d, large %d, want %d", sm.settled, lg.settled, scalePerBlock*max(0, blocks-11))
		}
		r.line("live invoices settled (small / large)", fmt.Sprintf("%d / %d (as expected after %d blocks)", sm.settled, lg.settled, blocks))
	}
	return nil
}

// liveInvoice is an invoice of the live set with its EVM deposit address and amounts due.
type liveInvoice struct {
	invoiceID, address string
	eth, usdc          *big.Int
}

func migrateSchema(ctx context.Context, url string) error {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// scaleLiveSet migrates the small schema, creates a merchant with a Bitcoin (regtest) and an
// Ethereum (ETH + USDC) wallet, sets a Bitcoin cursor (the Bitcoin follower is not run), and
// creates scaleLive invoices through invoices.Service.
func scaleLiveSet(ctx context.Context, url string, chains map[string]invoices.Chain) ([]liveInvoice, error) {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	mid, err := regtestMerchant(ctx, st)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "ethereum",
			Network: "1337", Treasury: "0x000000000000000000000000000000000000bEEF", Tokens: []string{"USDC"}, CreatedAt: now}); err != nil {
			return err
		}
		return tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: scaleBTCHeight, Hash: "btc-tip", ParentHash: "btc-parent",
			UpdatedAt: now, ChainTime: now})
	})
	if err != nil {
		return nil, err
	}
	svc, err := invoices.New(st, invoices.Config{Chains: chains, Quoter: scaleQuoter{}, Settler: &ledger.Settler{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	out := make([]liveInvoice, 0, scaleLive)
	for range scaleLive {
		d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", ExpiresIn: 4 * time.Hour})
		if err != nil {
			return nil, err
		}
		li := liveInvoice{invoiceID: d.Invoice.ID}
		for _, o := range d.Options {
			switch o.Asset {
			case "ETH":
				li.address, li.eth = o.Address, o.AmountDue
			case "USDC":
				li.usdc = o.AmountDue
			}
		}
		if li.eth == nil || li.usdc == nil || len(d.Options) != 3 {
			return nil, fmt.Errorf("invoice %s has options %v, want BTC, ETH and USDC", d.Invoice.ID, d.Options)
		}
		out = append(out, li)
	}
	return out, nil
}

// copyRows copies every non-empty table of schema from into schema to (same migrations),
// parents first.
func copyRows(ctx context.Context, admin *pgxpool.Pool, from, to string) error {
	rows, err := admin.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, from)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	first := []string{"merchants", "api_keys", "wallets", "invoices", "payment_options", "payments", "payment_spends", "events"}
	rank := func(t string) int {
		if i := slices.Index(first, t); i >= 0 {
			return i
		}
		return len(first)
	}
	sort.SliceStable(tables, func(i, j int) bool {
		if ri, rj := rank(tables[i]), rank(tables[j]); ri != rj {
			return ri < rj
		}
		return tables[i] < tables[j]
	})
	for _, t := range tables {
		if t == "schema_migrations" {
			continue
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf(`INSERT INTO %[2]s.%[3]s SELECT * FROM %[1]s.%[3]s ON CONFLICT DO NOTHING`, from, to, t)); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	return nil
}

// seedBackground adds the history to the large schema in SQL, server side (INSERT ...
// SELECT over generate_series; every column not varied is copied from the live invoice
// tmpl and its options, so the rows are what the service writes): closed invoices
// 1..closed, then processing ones, then new ones, all with the three options of the
// template (BTC, ETH, USDC) at addresses of their own. It returns a description.
func seedBackground(ctx context.Context, url, tmpl string, closed, open, processing int, stderr io.Writer) (string, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	fresh := open - processing
	total := closed + open
	now := time.Now().UTC()
	// g: 1..closed closed (created a minute apart, ending 2 days ago: their monitoring ended);
	// then processing (created 60-20 min ago); then new (created 2 h to 15 min ago, 4 h expiry).
	created := fmt.Sprintf(`CASE WHEN g <= %[1]d THEN $1::timestamptz - interval '2 days' - (%[1]d - g) * interval '1 minute'
		WHEN g <= %[1]d + %[2]d THEN $1::timestamptz - interval '60 minutes' + (g - %[1]d) * (interval '40 minutes' / %[2]d)
		ELSE $1::timestamptz - interval '2 hours' + (g - %[1]d - %[2]d) * (interval '105 minutes' / %[3]d) END`, closed, processing, max(fresh, 1))
	steps := []struct{ what, sql string }{
		{"invoices", fmt.Sprintf(`INSERT INTO invoices (id, merchant_id, status, flags, price, currency, order_id, metadata,
			redirect_url, tolerance_percent, tolerance_floor, confirmations, expires_at, monitor_until, created_at, updated_at,
			settled_at, resolution_reason, version)
			SELECT 'bginv' || g, t.merchant_id, s.status, '', t.price, t.currency, 'bg-' || g, t.metadata, t.redirect_url,
				t.tolerance_percent, t.tolerance_floor, t.confirmations,
				s.c + CASE WHEN g <= %[1]d THEN interval '15 minutes' ELSE interval '4 hours' END,
				s.c + interval '1 day', s.c, s.c + interval '5 minutes',
				CASE WHEN s.status = 'settled' THEN s.c + interval '20 minutes' END, '', 2
			FROM invoices t, generate_series(1, %[2]d) g,
				LATERAL (SELECT %[3]s AS c,
					CASE WHEN g <= %[1]d THEN (CASE WHEN g %% 3 = 0 THEN 'expired' ELSE 'settled' END)
						WHEN g <= %[1]d + %[4]d THEN 'processing' ELSE 'new' END AS status) s
			WHERE t.id = $2`, closed, total, created, processing)},
		{"payment options", `INSERT INTO payment_options (id, invoice_id, asset, chain, network, contract, scale, address,
			wallet_id, derivation_index, amount_due, rate, rate_source, rate_at, quote_expires_at, raw_quotes, confirmations, created_at)
			SELECT 'bgopt' || lower(o.asset) || substr(i.id, 6), i.id, o.asset, o.chain, o.network, o.contract, o.scale,
				CASE WHEN o.chain = 'ethereum' THEN '0x' || lpad(to_hex(substr(i.id, 6)::bigint), 40, '0') ELSE 'bcrt1qbg' || substr(i.id, 6) END,
				o.wallet_id, CASE WHEN o.derivation_index IS NOT NULL THEN 1000000 + substr(i.id, 6)::bigint END,
				o.amount_due, o.rate, o.rate_source, i.created_at, i.created_at + interval '15 minutes', o.raw_quotes,
				o.confirmations, i.created_at
			FROM payment_options o, invoices i WHERE o.invoice_id = $2 AND i.id LIKE 'bginv%' AND $1::timestamptz IS NOT NULL`},
		// Settled: one confirmed payment, BTC for g%3=1, ETH or USDC for g%3=2, in the past of
		// both chains. Processing: a BTC payment in the Bitcoin mempool.
		{"payments", fmt.Sprintf(`INSERT INTO payments (id, invoice_id, option_id, chain, txid, output_index, address, asset,
			amount, status, block_height, block_hash, seen_at, updated_at)
			SELECT 'bgpay' || g, o.invoice_id, o.id, o.chain, 'bgtx' || g, CASE WHEN o.asset = 'ETH' THEN -1 ELSE 0 END,
				o.address, o.asset, o.amount_due, CASE WHEN g <= %[1]d THEN 'confirmed' ELSE 'mempool' END,
				CASE WHEN g > %[1]d THEN NULL WHEN o.chain = 'bitcoin' THEN %[3]d - 10 - (%[1]d - g) / 3 ELSE %[4]d - 100 - (%[1]d - g) END,
				CASE WHEN g <= %[1]d THEN 'bgblock' ELSE '' END,
				o.created_at + interval '5 minutes', o.created_at + interval '20 minutes'
			FROM generate_series(1, %[1]d + %[2]d) g
			JOIN payment_options o ON o.id = 'bgopt' || (CASE WHEN g > %[1]d OR g %% 3 = 1 THEN 'btc'
				WHEN (g / 3) %% 2 = 0 THEN 'eth' ELSE 'usdc' END) || g
			WHERE (g %% 3 <> 0 OR g > %[1]d) AND $1::timestamptz IS NOT NULL AND $2 <> ''`, closed, processing, scaleBTCHeight, scaleStart)},
		{"events", fmt.Sprintf(`INSERT INTO events (id, merchant_id, invoice_id, type, data, created_at)
			SELECT 'bgev' || substr(i.id, 6) || e.k, i.merchant_id, i.id, e.type, '{}', i.created_at + e.after
			FROM invoices i, (VALUES ('c', 'invoice.created', interval '0'), ('p', 'invoice.payment_received', interval '5 minutes'),
				('s', 'invoice.settled', interval '20 minutes')) e(k, type, after)
			WHERE i.id LIKE 'bginv%%' AND (e.k = 'c' OR (e.k = 'p' AND i.status IN ('settled', 'processing')) OR (e.k = 's' AND i.status = 'settled'))
				AND $1::timestamptz IS NOT NULL AND $2 <> ''`)},
		{"ledger books", `INSERT INTO ledger_books (payment_id, seq, invoice_id, merchant_id, state, amount, record_key, created_at)
			SELECT p.id, 1, p.invoice_id, i.merchant_id, 'applied', p.amount, 'bgrk' || p.id, p.updated_at
			FROM payments p JOIN invoices i ON i.id = p.invoice_id WHERE p.id LIKE 'bgpay%' AND p.status = 'confirmed'
				AND $1::timestamptz IS NOT NULL AND $2 <> ''`},
		{"outbox", fmt.Sprintf(`INSERT INTO outbox (id, topic, key, payload, status, next_attempt, created_at, delivered_at)
			SELECT 'bgob' || payment_id, '%s', record_key, '{}', 'delivered', created_at, created_at, created_at
			FROM ledger_books WHERE payment_id LIKE 'bgpay%%' AND $1::timestamptz IS NOT NULL AND $2 <> ''`, ledger.Topic)},
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	// A bulk load: the seeded tables' keys, unique constraints, foreign keys (theirs and
	// those pointing at them) and indexes are dropped and built again afterwards (one sort
	// each instead of millions of random insertions into indexes larger than the buffer
	// cache); the constraints are validated when they are added back.
	seeded := []string{"invoices", "payment_options", "payments", "events", "ledger_books", "outbox"}
	type ddl struct{ drop, create string }
	var fks, keys, indexes []ddl
	rows, err := conn.Query(ctx, `SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype::text FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace AND contype IN ('p', 'u', 'f')
			AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))`, seeded)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var table, name, def, typ string
		if err := rows.Scan(&table, &name, &def, &typ); err != nil {
			rows.Close()
			return "", err
		}
		d := ddl{fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", table, name), fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", table, name, def)}
		if typ == "f" {
			fks = append(fks, d)
		} else if slices.Contains(seeded, table) {
			keys = append(keys, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	rows, err = conn.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)`, seeded)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return "", err
		}
		indexes = append(indexes, ddl{"DROP INDEX " + name, def})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	for _, d := range slices.Concat(fks, keys, indexes) {
		if _, err := conn.Exec(ctx, d.drop); err != nil {
			return "", fmt.Errorf("%s: %w", d.drop, err)
		}
	}
	for _, s := range steps {
		start := time.Now()
		tag, err := conn.Exec(ctx, s.sql, now, tmpl)
		if err != nil {
			return "", fmt.Errorf("%s: %w\n%s", s.what, err, s.sql)
		}
		// Fresh statistics, so that the next step's joins are planned for the rows now there.
		if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
			return "", err
		}
		progress(stderr, fmt.Sprintf("watcher-scale: seeded %d %s in %s", tag.RowsAffected(), s.what, time.Since(start).Round(time.Millisecond)))
	}
	start := time.Now()
	for _, d := range slices.Concat(keys, indexes, fks) {
		if _, err := conn.Exec(ctx, d.create); err != nil {
			return "", fmt.Errorf("%s: %w", d.create, err)
		}
	}
	progress(stderr, fmt.Sprintf("watcher-scale: %d keys, %d indexes and %d foreign keys built again in %s",
		len(keys), len(indexes), len(fks), time.Since(start).Round(time.Millisecond)))
	start = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return "", err
	}
	progress(stderr, fmt.Sprintf("watcher-scale: VACUUM ANALYZE in %s", time.Since(start).Round(time.Millisecond)))
	return fmt.Sprintf("%d closed + %d open invoices (%d processing)", closed, open+scaleLive, processing), nil
}

// scaleSource is an in-memory EVM chain for the follower: blocks[i] is at height
// scaleStart+i, the node's tip is tip, and BlockAt reports every transfer of the block (as
// watcher.BitcoinSource does), or, as a watchingSource, those to watched addresses (as
// watcher.EthereumSource does).
type scaleSource struct {
	mu      sync.Mutex
	blocks  []watcher.Block
	tip     int64
	watched map[string]bool // nil: every address
}

// watchingSource is the scaleSource as a watcher.Watcher and watcher.Unwatcher.
type watchingSource struct{ *scaleSource }

var (
	_ watcher.Source    = (*scaleSource)(nil)
	_ watcher.Watcher   = watchingSource{}
	_ watcher.Unwatcher = watchingSource{}
)

func (s *scaleSource) Chain() string { return "ethereum" }

// Filtered implements watcher.Source: true for a watchingSource.
func (s *scaleSource) Filtered() bool { return s.watched != nil }

func (s watchingSource) Watch(addresses []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addresses {
		s.watched[a] = true
	}
	return nil
}

// Unwatch implements watcher.Unwatcher, as watcher.EthereumSource does.
func (s watchingSource) Unwatch(addresses []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addresses {
		delete(s.watched, a)
	}
}

func (s *scaleSource) at(height int64) (watcher.Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if height < scaleStart || height > s.tip {
		return watcher.Block{}, fmt.Errorf("%w at height %d", watcher.ErrBlockNotFound, height)
	}
	return s.blocks[height-scaleStart], nil
}

func (s *scaleSource) Tip(context.Context) (watcher.Header, error) {
	b, err := s.at(s.height())
	return b.Header, err
}

func (s *scaleSource) height() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tip
}

func (s *scaleSource) HeaderAt(_ context.Context, height int64) (watcher.Header, error) {
	b, err := s.at(height)
	return b.Header, err
}

func (s *scaleSource) BlockAt(_ context.Context, height int64) (watcher.Block, error) {
	b, err := s.at(height)
	if err != nil {
		return b, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := watcher.Block{Header: b.Header}
	for _, t := range b.Transfers {
		if s.watched == nil || s.watched[t.Address] {
			out.Transfers = append(out.Transfers, t)
		}
	}
	return out, nil
}

func (s *scaleSource) Mempool(context.Context) ([]watcher.Transfer, error) { return nil, nil }

// scaleBlocksOf builds the chain: the start block, then n blocks 2 s apart (the last one at
// about now), block i paying live invoices (i-1)*scalePerBlock.. in ETH (even) or USDC (odd).
func scaleBlocksOf(live []liveInvoice, n int, now time.Time) []watcher.Block {
	hash := func(h int64) string { return fmt.Sprintf("0x%064x", h) }
	out := make([]watcher.Block, n+1)
	first := now.Add(-2 * time.Second * time.Duration(n)).Truncate(time.Second)
	for i := range out {
		h := int64(scaleStart + i)
		b := watcher.Block{Header: watcher.Header{Height: h, Hash: hash(h), Parent: hash(h - 1), Time: first.Add(2 * time.Second * time.Duration(i))}}
		if i > 0 {
			for j := range scalePerBlock {
				k := (i-1)*scalePerBlock + j
				li := live[k]
				t := watcher.Transfer{TxID: fmt.Sprintf("0x%064x", 1_000_000+k), Address: li.address}
				if j%2 == 0 {
					t.Index, t.Asset, t.Amount = -1, "ETH", new(big.Int).Set(li.eth)
				} else {
					t.Index, t.Asset, t.Amount = 0, "USDC", new(big.Int).Set(li.usdc)
				}
				b.Transfers = append(b.Transfers, t)
			}
		}
		out[i] = b
	}
	return out
}

// countingInvoices counts the invoices the follower reviews.
type countingInvoices struct {
	watcher.Invoices
	reviews atomic.Int64
}

func (c *countingInvoices) ReviewManyTx(ctx context.Context, tx store.Tx, ids []string) (map[string][]string, error) {
	c.reviews.Add(int64(len(ids)))
	return c.Invoices.ReviewManyTx(ctx, tx, ids)
}

// scaleSteps are the measurements of one kind of step (blocks or polls).
type scaleSteps struct {
	times                latencies
	mallocs, bytes, revs []uint64
}

func (s *scaleSteps) add(d time.Duration, mallocs, bytes, reviews uint64) {
	s.times = append(s.times, d)
	s.mallocs = append(s.mallocs, mallocs)
	s.bytes = append(s.bytes, bytes)
	s.revs = append(s.revs, reviews)
}

func meanOf(v []uint64) float64 {
	if len(v) == 0 {
		return 0
	}
	var sum float64
	for _, x := range v {
		sum += float64(x)
	}
	return sum / float64(len(v))
}

func (s *scaleSteps) mean() time.Duration {
	var sum time.Duration
	for _, d := range s.times {
		sum += d
	}
	return sum / time.Duration(max(len(s.times), 1))
}
func (s *scaleSteps) allocs() float64     { return meanOf(s.mallocs) }
func (s *scaleSteps) kib() float64        { return meanOf(s.bytes) / 1024 }
func (s *scaleSteps) reviewsPer() float64 { return meanOf(s.revs) }

type scaleResult struct {
	first       time.Duration
	block, poll scaleSteps
	heap        uint64
	watched     int
	settled     int
	timedOut    bool
	abandoned   time.Duration // how long the abandoned step had run
	elapsed     time.Duration
	reads       map[string]int64 // rows read per table during the measured steps
}

// tableReads renders the tables the large side read most rows of per measured step, with
// the small side's figure.
func (r scaleResult) tableReads(small scaleResult) string {
	steps := func(x scaleResult) float64 { return float64(max(len(x.block.times)+len(x.poll.times), 1)) }
	type tr struct {
		name string
		n    int64
	}
	var all []tr
	for t, n := range r.reads {
		all = append(all, tr{t, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	var parts []string
	for _, t := range all[:min(len(all), 5)] {
		parts = append(parts, fmt.Sprintf("%s %.0f (%.0f)", t.name, float64(t.n)/steps(r), float64(small.reads[t.name])/steps(small)))
	}
	return strings.Join(parts, ", ")
}

// tableReadCounts returns rows read per table of the schema so far (sequential scans'
// tuples plus index fetches), from pg_stat_user_tables.
func tableReadCounts(ctx context.Context, sc *schema) (map[string]int64, error) {
	// A backend flushes its table statistics when it goes idle at least a second after its
	// last flush, or else 10 s later (PGSTAT_IDLE_INTERVAL): the first step's reads (the
	// initial watch list) were counted in the measured steps while this waited 1.2 s.
	time.Sleep(11 * time.Second)
	rows, err := sc.admin.Query(ctx, `SELECT relname, COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0)
		FROM pg_stat_user_tables WHERE schemaname = $1`, sc.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

// runScaleSide follows chain on one schema: a first step that creates the cursor and loads
// the watch list, then per block a step that applies it and a step without a new block
// (a poll), each timed with its allocations, until the chain ends or budget runs out.
func runScaleSide(ctx context.Context, sc *schema, chains map[string]invoices.Chain, chain []watcher.Block, budget time.Duration, profile string, watchList bool) (scaleResult, error) {
	var res scaleResult
	st, err := postgres.Open(ctx, sc.url)
	if err != nil {
		return res, err
	}
	defer st.Close()
	svc, err := invoices.New(st, invoices.Config{Chains: chains, Quoter: scaleQuoter{}, Settler: &ledger.Settler{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return res, err
	}
	inv := &countingInvoices{Invoices: svc}
	// Every connection of the pool is opened before the heap is measured: how many a side
	// happens to open (about 10 KiB of buffers each) is the driver's, not the follower's.
	if err := warmPool(ctx, st, scalePoolConns); err != nil {
		return res, err
	}
	var ms0, ms1 runtime.MemStats
	quiesce()
	runtime.ReadMemStats(&ms0)
	src := &scaleSource{blocks: chain, tip: scaleStart}
	var fsrc watcher.Source = src
	if watchList {
		src.watched = map[string]bool{}
		fsrc = watchingSource{src}
	}
	f := watcher.NewFollower(st, fsrc, inv, watcher.Config{StartHeight: scaleStart + 1, TipFreshness: watcher.EVMTipFreshness,
		Logger: slog.New(slog.DiscardHandler)})

	start := time.Now()
	rctx, cancel := context.WithDeadline(ctx, start.Add(budget))
	defer cancel()
	_, err = f.Step(rctx)
	res.first = time.Since(start)
	if err != nil {
		if rctx.Err() == nil || ctx.Err() != nil {
			return res, fmt.Errorf("first step: %w", err)
		}
		res.timedOut, res.abandoned = true, res.first
	}
	before, err := tableReadCounts(ctx, sc)
	if err != nil {
		return res, err
	}
	if profile != "" { // the measured blocks and polls
		pf, err := os.Create(profile)
		if err != nil {
			return res, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	step := func(into *scaleSteps, wantApplied int) (bool, error) {
		inv.reviews.Store(0)
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		t := time.Now()
		n, err := f.Step(rctx)
		d := time.Since(t)
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				res.timedOut, res.abandoned = true, d
				return false, nil
			}
			return false, err
		}
		runtime.ReadMemStats(&b)
		if n != wantApplied {
			return false, fmt.Errorf("step applied %d blocks, want %d", n, wantApplied)
		}
		into.add(d, b.Mallocs-a.Mallocs, b.TotalAlloc-a.TotalAlloc, uint64(inv.reviews.Load()))
		return true, nil
	}
	for i := 1; i < len(chain) && !res.timedOut; i++ {
		src.mu.Lock()
		src.tip = scaleStart + int64(i)
		src.mu.Unlock()
		ok, err := step(&res.block, 1)
		if err != nil || !ok {
			if err != nil {
				return res, fmt.Errorf("block %d: %w", i, err)
			}
			break
		}
		if ok, err = step(&res.poll, 0); err != nil || !ok {
			if err != nil {
				return res, fmt.Errorf("poll after block %d: %w", i, err)
			}
			break
		}
	}
	res.elapsed = time.Since(start)
	after, err := tableReadCounts(ctx, sc)
	if err != nil {
		return res, err
	}
	res.reads = map[string]int64{}
	for t, n := range after {
		if d := n - before[t]; d > 0 {
			res.reads[t] = d
		}
	}
	quiesce()
	runtime.ReadMemStats(&ms1)
	runtime.KeepAlive(f)
	if ms1.HeapAlloc > ms0.HeapAlloc {
		res.heap = ms1.HeapAlloc - ms0.HeapAlloc
	}
	// The open invoices' EVM addresses (one per invoice): what a follower must watch.
	if err := sc.admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(DISTINCT o.address) FROM %[1]s.payment_options o
		JOIN %[1]s.invoices i ON i.id = o.invoice_id WHERE o.chain = 'ethereum' AND i.status IN ('new', 'processing')`, sc.name)).Scan(&res.watched); err != nil {
		return res, err
	}
	// The live invoices settled (the background has no settled invoice on this chain's
	// blocks: its ids start with bginv).
	if err := sc.admin.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.invoices WHERE status = 'settled' AND id NOT LIKE 'bginv%%'`, sc.name)).Scan(&res.settled); err != nil {
		return res, err
	}
	if res.timedOut && errors.Is(ctx.Err(), context.Canceled) {
		return res, ctx.Err()
	}
	return res, nil
}

// scalePoolConns is the store's pool size here (pgxpool's default on 2 to 4 CPUs).
const scalePoolConns = 4

// warmPool holds n read transactions open at once, so the pool has opened n connections.
func warmPool(ctx context.Context, st store.Store, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var (
		wg   sync.WaitGroup
		open atomic.Int64
		all  = make(chan struct{})
		errs = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			errs[i] = st.View(ctx, func(store.Tx) error {
				if open.Add(1) == int64(n) {
					close(all)
				}
				select {
				case <-all:
					return nil
				case <-ctx.Done():
					return fmt.Errorf("warm the pool: only %d of %d connections opened", open.Load(), n)
				}
			})
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// quiesce collects garbage twice: objects parked in a sync.Pool (the database driver's
// buffers) survive one collection in the pool's victim cache and would count as the
// follower's heap.
func quiesce() {
	runtime.GC()
	runtime.GC()
}
