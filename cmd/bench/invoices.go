package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
// concurrency, into copies of the tables with the same indexes (no foreign keys).
func benchInvoices(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	sc, err := newSchema(ctx, o.pg, "bench_inv")
	if err != nil {
		return err
	}
	defer sc.drop()
	cp, err := newChainpay(o.chainpay, dir, sc.url, "CHAINPAY_FIXED_RATES=BTC-USD=60000")
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
	res, wall := closedLoop(ctx, cp, []merchant{m}, "bench", o.invoices, o.clients)
	if n := countErrors(res); n > 0 {
		return fmt.Errorf("%d of %d requests failed, first: %v", n, len(res), firstError(res))
	}
	var lat latencies
	ids := make([]string, 0, len(res))
	for _, c := range res {
		lat = append(lat, c.latency)
		ids = append(ids, c.id)
	}
	httpRate := float64(len(res)) / wall.Seconds()
	oneRate, twoRate, err := storeSplit(ctx, cp, m, max(o.invoices/4, 500), o.clients)
	if err != nil {
		return fmt.Errorf("one store against two: %w", err)
	}
	cp.kill(15)

	rawRate, rawLat, err := rawInsert(ctx, sc, ids, o.clients)
	if err != nil {
		return fmt.Errorf("raw pgx baseline: %w", err)
	}
	r.section(fmt.Sprintf("POST /v1/invoices — chainpay serve on Postgres, %d invoices, %d clients, loopback HTTP", len(res), o.clients))
	r.ratio("invoices/s (limit: raw pgx insert)", httpRate, rawRate, "/s", "as close to 1 as the work allows")
	r.line("HTTP latency p50 / p99", fmt.Sprintf("%.2f ms / %.2f ms", ms(lat.quantile(0.5)), ms(lat.quantile(0.99))))
	r.line("raw insert latency p50 / p99", fmt.Sprintf("%.2f ms / %.2f ms", ms(rawLat.quantile(0.5)), ms(rawLat.quantile(0.99))))
	r.ratio(fmt.Sprintf("%d clients on one store (limit: on two stores)", o.clients), oneRate, twoRate, "/s",
		"≈ 1 (no per-store serialisation)")
	return nil
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

// rawInsert copies the rows behind ids into fresh tables shaped like chainpay's and
// re-inserts them with `clients` workers, one transaction per invoice.
func rawInsert(ctx context.Context, sc *schema, ids []string, clients int) (float64, latencies, error) {
	pool, err := pgxpool.New(ctx, sc.url)
	if err != nil {
		return 0, nil, err
	}
	defer pool.Close()
	cols := [4][]string{}
	sets := make(map[string]*rowSet, len(ids))
	for _, id := range ids {
		sets[id] = &rowSet{}
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
			return 0, nil, err
		}
		for _, f := range rows.FieldDescriptions() {
			cols[t] = append(cols[t], f.Name)
		}
		n := 0
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				rows.Close()
				return 0, nil, err
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
			s := sets[id]
			s.tables[t] = append(s.tables[t], v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, nil, err
		}
		if n < len(ids) {
			return 0, nil, fmt.Errorf("%s: %d rows for %d invoices", rawTables[t], n, len(ids))
		}
	}
	for _, t := range rawTables {
		if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE raw_%s (LIKE %s INCLUDING ALL)", t, t)); err != nil {
			return 0, nil, err
		}
	}
	inserts := [4]string{}
	for t, name := range rawTables {
		ph := make([]string, len(cols[t]))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		inserts[t] = fmt.Sprintf("INSERT INTO raw_%s (%s) VALUES (%s)", name, strings.Join(cols[t], ", "), strings.Join(ph, ", "))
	}
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
				s := sets[ids[i]]
				t0 := time.Now()
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					for t := range rawTables {
						for _, row := range s.tables[t] {
							if _, err := tx.Exec(ctx, inserts[t], row...); err != nil {
								return fmt.Errorf("insert %s: %w", rawTables[t], err)
							}
						}
					}
					return nil
				})
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
	return float64(len(ids)) / wall.Seconds(), lat, nil
}
