package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// runLoad creates invoices on `chainpay serve` with Postgres for o.load at the highest
// sustainable rate: a closed-loop probe with o.clients clients measures the capacity, then
// an open-loop run offers 80% of it at a fixed pace (latency counts from the scheduled
// send time, so queueing is included). It fails on any error, on a duplicate address or
// derivation index in the database, or when the server cannot keep the pace.
func runLoad(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	sc, err := newSchema(ctx, o.pg, "bench_load")
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
	probeFor := 10 * time.Second
	if o.quick {
		probeFor = 3 * time.Second
	}
	capacity, err := probe(ctx, cp, m, o.clients, probeFor)
	if err != nil {
		return err
	}
	rate := 0.8 * capacity
	progress(stderr, fmt.Sprintf("load: capacity %.0f invoices/s with %d clients; offering %.0f/s for %s", capacity, o.clients, rate, o.load))

	client := httpClient(o.clients * 4)
	interval := time.Duration(float64(time.Second) / rate)
	total := int(o.load / interval)
	due := make(chan time.Time, total)
	var (
		mu      sync.Mutex
		lat     latencies
		errs    int
		firstEr error
		late    atomic.Int64 // sends that started more than a second behind schedule
	)
	var wg sync.WaitGroup
	for w := range o.clients * 4 {
		wg.Go(func() {
			n := 0
			for at := range due {
				if time.Since(at) > time.Second {
					late.Add(1)
				}
				c := createOne(ctx, client, cp, m, fmt.Sprintf("load-%03d-%07d", w, n))
				n++
				d := time.Since(at)
				mu.Lock()
				lat = append(lat, d)
				if c.err != nil {
					errs++
					if firstEr == nil {
						firstEr = c.err
					}
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		due <- at
	}
	close(due)
	wg.Wait()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	conn, err := pgx.Connect(ctx, sc.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var invoicesN, dupAddr, dupIndex int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE order_id LIKE 'load-%'`).Scan(&invoicesN); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT address FROM payment_options
		GROUP BY chain, network, contract, address HAVING count(*) > 1) d`).Scan(&dupAddr); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT wallet_id, derivation_index FROM payment_options
		GROUP BY wallet_id, derivation_index HAVING count(*) > 1) d`).Scan(&dupIndex); err != nil {
		return err
	}
	r.section(fmt.Sprintf("Load — POST /v1/invoices for %s at a fixed pace on chainpay serve + Postgres (loopback)", o.load.Round(time.Second)))
	r.ratio("offered rate (limit: closed-loop capacity)", rate, capacity, "/s", "0.8 by construction")
	r.line("requests sent / achieved rate", fmt.Sprintf("%d / %.1f per s over %s", len(lat), float64(len(lat))/wall.Seconds(), wall.Round(time.Millisecond)))
	r.line("latency from schedule p50 / p99", fmt.Sprintf("%.2f ms / %.2f ms (max %.2f ms)", ms(lat.quantile(0.5)), ms(lat.quantile(0.99)), ms(lat.quantile(1))))
	r.line("errors", fmt.Sprint(errs))
	r.line("invoices in the database", fmt.Sprint(invoicesN))
	r.line("duplicate addresses / indexes", fmt.Sprintf("%d / %d", dupAddr, dupIndex))
	r.line("sends > 1 s behind schedule", fmt.Sprint(late.Load()))
	switch {
	case errs > 0:
		return fmt.Errorf("%d requests failed, first: %v", errs, firstEr)
	case invoicesN != len(lat):
		return fmt.Errorf("%d invoices stored for %d successful requests", invoicesN, len(lat))
	case dupAddr > 0 || dupIndex > 0:
		return fmt.Errorf("%d duplicate addresses and %d duplicate derivation indexes", dupAddr, dupIndex)
	case late.Load() > int64(len(lat)/100):
		return fmt.Errorf("the server could not keep %.0f/s: %d sends started over a second late", rate, late.Load())
	}
	return nil
}

// probe runs a closed loop with `clients` clients for d and returns invoices per second.
func probe(ctx context.Context, cp *chainpay, m merchant, clients int, d time.Duration) (float64, error) {
	client := httpClient(clients)
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			for i := 0; pctx.Err() == nil; i++ {
				c := createOne(ctx, client, cp, m, fmt.Sprintf("probe-%03d-%07d", w, i))
				if c.err != nil {
					failed.CompareAndSwap(nil, c.err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, fmt.Errorf("probe: %w", err)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}
