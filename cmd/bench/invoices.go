package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// mainnetZpub is the BIP84 account key of the README's quick start (watch-only).
const mainnetZpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"

// merchant is a store with an API key on a running chainpay.
type merchant struct {
	storeID, key string
}

// setupMerchant migrates the database and creates a store, a key and a Bitcoin wallet with
// the admin CLI, exactly as an operator would.
func setupMerchant(ctx context.Context, cp *chainpay, network, walletKey string) (merchant, error) {
	if _, err := cp.run(ctx, "migrate"); err != nil {
		return merchant{}, err
	}
	id, err := cp.run(ctx, "store", "create", "--name", "Bench Store")
	if err != nil {
		return merchant{}, err
	}
	key, err := cp.run(ctx, "apikey", "create", "--store", id)
	if err != nil {
		return merchant{}, err
	}
	if _, err := cp.run(ctx, "wallet", "add", "--store", id, "--chain", "bitcoin", "--network", network, "--key", walletKey); err != nil {
		return merchant{}, err
	}
	return merchant{storeID: id, key: key}, nil
}

// invoiceResponse is the part of a created invoice the benchmarks read.
type invoiceResponse struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	PaymentOptions []struct {
		Asset     string `json:"asset"`
		Address   string `json:"address"`
		AmountDue string `json:"amount_due_atomic"`
	} `json:"payment_options"`
}

// creation is the outcome of one POST /v1/invoices.
type creation struct {
	id      string
	latency time.Duration
	err     error
}

// httpClient has enough idle connections for every benchmark client.
func httpClient(clients int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = clients * 2
	tr.MaxIdleConnsPerHost = clients * 2
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// createOne posts one invoice with a unique Idempotency-Key.
func createOne(ctx context.Context, client *http.Client, cp *chainpay, m merchant, key string) creation {
	body := map[string]any{"amount": "25.00", "currency": "USD", "order_id": key}
	var out invoiceResponse
	start := time.Now()
	_, err := postJSON(ctx, client, cp.baseURL()+"/v1/invoices", m.key, key, body, &out)
	c := creation{id: out.ID, latency: time.Since(start), err: err}
	if err == nil && (out.ID == "" || len(out.PaymentOptions) == 0 || out.PaymentOptions[0].Address == "") {
		c.err = fmt.Errorf("invoice %q answered without a deposit address", out.ID)
	}
	return c
}

// closedLoop creates n invoices with `clients` clients back to back and returns the
// outcomes and the wall time. With several merchants the clients are spread evenly over
// them (client i creates for ms[i % len(ms)]).
func closedLoop(ctx context.Context, cp *chainpay, ms []merchant, prefix string, n, clients int) ([]creation, time.Duration) {
	client := httpClient(clients)
	out := make([]creation, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		m := ms[c%len(ms)]
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i] = createOne(ctx, client, cp, m, fmt.Sprintf("%s-%07d", prefix, i))
			}
		})
	}
	wg.Wait()
	return out, time.Since(start)
}

// benchInvoices measures POST /v1/invoices over HTTP on `chainpay serve` with Postgres
// against a raw pgx insert of the very rows those requests wrote (invoice, payment option,
// invoice.created event, idempotency record), one transaction per invoice, at the same
// concurrency (as many connections as clients), into copies of the tables with the same
// indexes (no foreign keys): closed loops at 1, 8 and o.clients clients, then an open loop
// offering half the raw insert's rate at o.clients clients, its latency counted from each
// request's scheduled send time.
func benchInvoices(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	sc, err := newSchema(ctx, o.pg, "bench_inv")
	if err != nil {
		return err
	}
	defer sc.drop()
	env := []string{"CHAINPAY_FIXED_RATES=BTC-USD=60000"}
	var profiler string // chainpay's metrics listener, serving /debug/pprof/ (-serve-cpuprofile)
	if o.serveProfile != "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		profiler = fmt.Sprintf("127.0.0.1:%d", port)
		env = append(env, "CHAINPAY_METRICS_LISTEN="+profiler, "CHAINPAY_PPROF=true")
	}
	cp, err := newChainpay(o.chainpay, dir, sc.url, env...)
	if err != nil {
		return err
	}
	defer cp.close()
	m, err := setupMerchant(ctx, cp, "mainnet", mainnetZpub)
	if err != nil {
		return err
	}
	if err := cp.start(ctx); err != nil {
		return err
	}
	if res, _ := closedLoop(ctx, cp, []merchant{m}, "warm", 200, o.clients); countErrors(res) > 0 {
		return fmt.Errorf("warm-up: %v", firstError(res))
	}
	type level struct {
		clients, n    int
		wall, rawWall time.Duration
		lat, rawLat   latencies
		rate, raw     float64
	}
	var levels []*level
	for _, c := range []int{1, 8, o.clients} {
		if c > o.clients || (len(levels) > 0 && levels[len(levels)-1].clients == c) {
			continue
		}
		// Fewer invoices at low concurrency: about the same wall time at each level. Each
		// level runs twice, the raw insert of a run's rows right after it (ABAB), so a change
		// in the machine's load during the run shifts both sides alike.
		n := max(o.invoices*c/o.clients, min(o.invoices, 400)) / 2
		l := &level{clients: c}
		for round := range 2 {
			res, wall := closedLoop(ctx, cp, []merchant{m}, fmt.Sprintf("bench%d-%d", c, round), n, c)
			if e := countErrors(res); e > 0 {
				return fmt.Errorf("%d clients: %d of %d requests failed, first: %v", c, e, len(res), firstError(res))
			}
			var ids []string
			for _, x := range res {
				l.lat = append(l.lat, x.latency)
				ids = append(ids, x.id)
			}
			rawWall, rawLat, err := rawInsert(ctx, sc, ids, c)
			if err != nil {
				return fmt.Errorf("raw pgx baseline, %d clients: %w", c, err)
			}
			l.n += len(res)
			l.wall += wall
			l.rawWall += rawWall
			l.rawLat = append(l.rawLat, rawLat...)
		}
		l.rate, l.raw = float64(l.n)/l.wall.Seconds(), float64(l.n)/l.rawWall.Seconds()
		levels = append(levels, l)
		progress(stderr, fmt.Sprintf("invoices: %d clients %.0f/s, raw %.0f/s", c, l.rate, l.raw))
	}
	oneRate, twoRate, err := storeSplit(ctx, cp, m, max(o.invoices/4, 500), o.clients)
	if err != nil {
		return fmt.Errorf("one store against two: %w", err)
	}
	top := levels[len(levels)-1]

	// Open loop at half the raw capacity at o.clients clients.
	openFor := 20 * time.Second
	if o.quick {
		openFor = 8 * time.Second
	}
	offered := top.raw / 2
	progress(stderr, fmt.Sprintf("invoices: open loop at %.0f/s (half the raw %.0f/s) for %s", offered, top.raw, openFor))
	checkpoint(ctx, sc, stderr)
	var profiled chan error
	if profiler != "" {
		profiled = make(chan error, 1)
		go func() { profiled <- fetchProfile(ctx, profiler, openFor, o.serveProfile) }()
	}
	client := httpClient(o.clients * 4)
	ol, err := openLoop(ctx, offered, openFor, o.clients*4, func(w, n int) (string, error) {
		c := createOne(ctx, client, cp, m, fmt.Sprintf("open-%03d-%07d", w, n))
		return c.id, c.err
	})
	if err != nil {
		return fmt.Errorf("open loop: %w", err)
	}
	if profiled != nil {
		if err := <-profiled; err != nil {
			return fmt.Errorf("-serve-cpuprofile: %w", err)
		}
		progress(stderr, "invoices: chainpay's CPU profile of the open loop written to "+o.serveProfile)
	}

	// The database's own latency at the same offered rate: the open loop's rows inserted
	// again, raw, on as many connections as clients.
	progress(stderr, fmt.Sprintf("invoices: raw open loop at %.0f/s for %s", offered, openFor))
	raw, err := newRawRunner(ctx, sc, ol.ids, o.clients)
	if err != nil {
		return fmt.Errorf("raw open loop: %w", err)
	}
	checkpoint(ctx, sc, stderr)
	var nextRaw atomic.Int64
	rol, err := openLoop(ctx, offered, openFor, o.clients, func(int, int) (string, error) {
		i := int(nextRaw.Add(1)) - 1
		if i >= len(ol.ids) {
			return "", fmt.Errorf("raw open loop: more operations than the %d rows of the open loop", len(ol.ids))
		}
		return ol.ids[i], raw.insert(ctx, i)
	})
	raw.close()
	if err != nil {
		return fmt.Errorf("raw open loop: %w", err)
	}

	r.section(fmt.Sprintf("POST /v1/invoices — chainpay serve on Postgres, closed loops (%s invoices), loopback HTTP", countsOf(levels, func(l *level) int { return l.n })))
	for _, l := range levels {
		goal := "as close to 1 as the work allows"
		if l == top {
			goal = "≥ 0.7"
		}
		r.ratio(fmt.Sprintf("%d clients: invoices/s (limit: raw pgx insert)", l.clients), l.rate, l.raw, "/s", goal)
		r.line(fmt.Sprintf("%d clients: HTTP p50 / p99 (raw p50 / p99)", l.clients), fmt.Sprintf("%.2f / %.2f ms (%.2f / %.2f ms)",
			ms(l.lat.quantile(0.5)), ms(l.lat.quantile(0.99)), ms(l.rawLat.quantile(0.5)), ms(l.rawLat.quantile(0.99))))
	}
	r.ratio(fmt.Sprintf("%d clients on one store (limit: on two stores)", o.clients), oneRate, twoRate, "/s",
		"≈ 1 (no per-store serialisation)")
	r.section(fmt.Sprintf("POST /v1/invoices — open loop at half the raw insert rate (%d clients), %s", o.clients, openFor))
	r.ratio("offered rate (limit: raw pgx insert)", offered, top.raw, "/s", "0.5 by construction")
	r.line("requests / achieved rate", fmt.Sprintf("%d / %.1f per s", ol.sent, ol.achieved))
	r.line("latency from schedule p50 / p99 / max", fmt.Sprintf("%.2f / %.2f / %.2f ms (goal: p99 ≤ 10 ms)",
		ms(ol.lat.quantile(0.5)), ms(ol.lat.quantile(0.99)), ms(ol.lat.quantile(1))))
	r.line("raw pgx insert, same rate and rows: p50 / p99 / max", fmt.Sprintf("%.2f / %.2f / %.2f ms (%d at %.1f per s)",
		ms(rol.lat.quantile(0.5)), ms(rol.lat.quantile(0.99)), ms(rol.lat.quantile(1)), rol.sent, rol.achieved))
	r.ratio("p99 latency (limit: raw pgx insert at the same rate)", ms(ol.lat.quantile(0.99)), ms(rol.lat.quantile(0.99)), " ms", "the database's own p99 bounds it")
	return nil
}

func countsOf[T any](xs []T, f func(T) int) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprint(f(x)))
	}
	return strings.Join(parts, "/")
}

// openResult is the outcome of an open-loop run.
type openResult struct {
	sent     int
	achieved float64
	lat      latencies // from each request's scheduled send time
	ids      []string  // what each request created
}

// openLoop starts rate operations per second for d at a fixed pace, with up to workers
// in flight, and fails on any error. Latency counts from the scheduled start time, so
// queueing behind a slow operation is included. do(worker, n) runs the worker's n-th
// operation and returns the id of what it created.
func openLoop(ctx context.Context, rate float64, d time.Duration, workers int, do func(worker, n int) (string, error)) (openResult, error) {
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	due := make(chan time.Time, total)
	var (
		mu    sync.Mutex
		lat   latencies
		ids   []string
		first error
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			n := 0
			for at := range due {
				id, err := do(w, n)
				n++
				took := time.Since(at)
				mu.Lock()
				lat = append(lat, took)
				ids = append(ids, id)
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w):
			}
		}
		if ctx.Err() != nil {
			break
		}
		due <- at
	}
	close(due)
	wg.Wait()
	if ctx.Err() != nil {
		return openResult{}, ctx.Err()
	}
	if first != nil {
		return openResult{}, first
	}
	return openResult{sent: len(lat), achieved: float64(len(lat)) / time.Since(start).Seconds(), lat: lat, ids: ids}, nil
}

// otherXpub is a second watch-only account key (the BIP44 test vector's), for a second store:
// a key serves one wallet only.
const otherXpub = "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"

// storeSplit measures whether stores serialise: the same clients create n invoices on one
// store, then spread over two stores, alternating twice, and it returns the invoices/s of
// each arrangement over its two runs. With a per-store lock the one-store rate would fall
// well below the two-store rate; without one they are equal within noise.
func storeSplit(ctx context.Context, cp *chainpay, m merchant, n, clients int) (one, two float64, err error) {
	id, err := cp.run(ctx, "store", "create", "--name", "Bench Store 2")
	if err != nil {
		return 0, 0, err
	}
	key, err := cp.run(ctx, "apikey", "create", "--store", id)
	if err != nil {
		return 0, 0, err
	}
	if _, err := cp.run(ctx, "wallet", "add", "--store", id, "--chain", "bitcoin", "--network", "mainnet", "--key", otherXpub); err != nil {
		return 0, 0, err
	}
	m2 := merchant{storeID: id, key: key}
	var wall [2]time.Duration
	for round := range 2 {
		for i, ms := range [][]merchant{{m}, {m, m2}} {
			res, w := closedLoop(ctx, cp, ms, fmt.Sprintf("split%d%d", round, i), n, clients)
			if e := countErrors(res); e > 0 {
				return 0, 0, fmt.Errorf("%d requests failed, first: %v", e, firstError(res))
			}
			wall[i] += w
		}
	}
	return float64(2*n) / wall[0].Seconds(), float64(2*n) / wall[1].Seconds(), nil
}

func countErrors(res []creation) int {
	n := 0
	for _, c := range res {
		if c.err != nil {
			n++
		}
	}
	return n
}

func firstError(res []creation) error {
	for _, c := range res {
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

// rowSet is the rows one invoice creation wrote, table by table.
type rowSet struct {
	tables [4][][]any
}

var rawTables = [4]string{"invoices", "payment_options", "events", "idempotency_keys"}

// rawRunner re-inserts the rows chainpay wrote for some invoices into fresh tables shaped
// like chainpay's (same columns and indexes, no foreign keys), one transaction per invoice:
// the database's own cost of a creation, the limit the invoice benchmark compares with.
type rawRunner struct {
	pool    *pgxpool.Pool
	ids     []string
	sets    map[string]*rowSet
	inserts [4]string
}

// newRawRunner reads the rows behind ids and creates the raw tables (dropping earlier ones);
// conns is the pool's size. Close it after use.
func newRawRunner(ctx context.Context, sc *schema, ids []string, conns int) (*rawRunner, error) {
	pcfg, err := pgxpool.ParseConfig(sc.url)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	r := &rawRunner{pool: pool, ids: ids, sets: make(map[string]*rowSet, len(ids))}
	if err := r.load(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := warm(ctx, pool, conns); err != nil {
		pool.Close()
		return nil, err
	}
	return r, nil
}

// warm opens conns connections of pool before a timed run, as chainpay's pool is open by
// then: a cold pool starts each backend inside the first inserts (about a second of them
// in the open loop). It releases them all before returning (pool.Close waits for them).
func warm(ctx context.Context, pool *pgxpool.Pool, conns int) error {
	held := make([]*pgxpool.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	return nil
}

func (r *rawRunner) close() { r.pool.Close() }

func (r *rawRunner) load(ctx context.Context) error {
	ids, pool := r.ids, r.pool
	cols := [4][]string{}
	for _, id := range ids {
		r.sets[id] = &rowSet{}
	}
	queries := [4]string{
		`SELECT * FROM invoices WHERE id = ANY($1)`,
		`SELECT * FROM payment_options WHERE invoice_id = ANY($1)`,
		`SELECT * FROM events WHERE invoice_id = ANY($1)`,
		// The idempotency key of each request is its invoice's order id.
		`SELECT k.* FROM idempotency_keys k JOIN invoices i ON i.merchant_id = k.merchant_id AND i.order_id = k.key WHERE i.id = ANY($1)`,
	}
	owner := [4]string{"id", "invoice_id", "invoice_id", ""}
	for t, q := range queries {
		rows, err := pool.Query(ctx, q, ids)
		if err != nil {
			return err
		}
		for _, f := range rows.FieldDescriptions() {
			cols[t] = append(cols[t], f.Name)
		}
		n := 0
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				rows.Close()
				return err
			}
			n++
			id := ""
			if owner[t] == "" {
				id = ids[(n-1)%len(ids)] // any invoice: one record per invoice either way
			} else {
				for i, c := range cols[t] {
					if c == owner[t] {
						id = v[i].(string)
					}
				}
			}
			s := r.sets[id]
			s.tables[t] = append(s.tables[t], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n < len(ids) {
			return fmt.Errorf("%s: %d rows for %d invoices", rawTables[t], n, len(ids))
		}
	}
	for _, t := range rawTables {
		if _, err := pool.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS raw_%s; CREATE TABLE raw_%s (LIKE %s INCLUDING ALL)", t, t, t)); err != nil {
			return err
		}
	}
	for t, name := range rawTables {
		ph := make([]string, len(cols[t]))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		r.inserts[t] = fmt.Sprintf("INSERT INTO raw_%s (%s) VALUES (%s)", name, strings.Join(cols[t], ", "), strings.Join(ph, ", "))
	}
	return nil
}

// insert writes invoice i's rows in one transaction.
func (r *rawRunner) insert(ctx context.Context, i int) error {
	s := r.sets[r.ids[i]]
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		for t := range rawTables {
			for _, row := range s.tables[t] {
				if _, err := tx.Exec(ctx, r.inserts[t], row...); err != nil {
					return fmt.Errorf("insert %s: %w", rawTables[t], err)
				}
			}
		}
		return nil
	})
}

// rawInsert re-inserts the rows behind ids with `clients` workers and as many connections,
// back to back, and returns the wall time of the inserts and their latencies.
func rawInsert(ctx context.Context, sc *schema, ids []string, clients int) (time.Duration, latencies, error) {
	r, err := newRawRunner(ctx, sc, ids, clients)
	if err != nil {
		return 0, nil, err
	}
	defer r.close()
	lat := make(latencies, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := r.insert(ctx, i)
				lat[i] = time.Since(t0)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if firstErr != nil {
		return 0, nil, firstErr
	}
	return wall, lat, nil
}

// checkpoint asks Postgres for a checkpoint, so that an open loop (20 s) starts with the
// WAL of the runs before it flushed, rather than meeting a checkpoint they triggered
// (max_wal_size) part of the way through; each open loop gets one. It needs superuser or
// pg_checkpoint; without, the bench says so and goes on.
func checkpoint(ctx context.Context, sc *schema, stderr io.Writer) {
	if _, err := sc.admin.Exec(ctx, "CHECKPOINT"); err != nil {
		progress(stderr, fmt.Sprintf("invoices: CHECKPOINT before the open loop refused (%v); latencies may include one", err))
	}
}

// fetchProfile writes a CPU profile of d from the profiler chainpay serves at addr to file.
func fetchProfile(ctx context.Context, addr string, d time.Duration, file string) error {
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
