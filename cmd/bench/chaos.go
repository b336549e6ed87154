package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/jackc/pgx/v5"

	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/webhooks"
)

// hookReceiver is the merchant's webhook endpoint: it verifies every request and records
// each event id with the hash of its body.
type hookReceiver struct {
	secret atomic.Pointer[string]
	mu     sync.Mutex
	bodies map[string][32]byte // event id → body hash of its first delivery
	count  map[string]int      // event id → deliveries
	bad    []string            // problems: bad signature, id changed, body changed
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	secret := h.secret.Load()
	if secret == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable) // retried
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhooks.Verify(*secret, r.Header.Get("Chainpay-Signature"), body, 5*time.Minute, time.Now()); err != nil {
		h.bad = append(h.bad, "bad signature: "+err.Error())
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev webhooks.Payload
	if err := jsonUnmarshal(body, &ev); err != nil || ev.ID == "" {
		h.bad = append(h.bad, fmt.Sprintf("body without an event id: %.100s", body))
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if hdr := r.Header.Get("Chainpay-Event-Id"); hdr != ev.ID {
		h.bad = append(h.bad, fmt.Sprintf("header event id %q differs from body id %q", hdr, ev.ID))
	}
	sum := sha256.Sum256(body)
	if prev, ok := h.bodies[ev.ID]; ok && prev != sum {
		h.bad = append(h.bad, "event "+ev.ID+" redelivered with another body")
	} else if !ok {
		h.bodies[ev.ID] = sum
	}
	h.count[ev.ID]++
	w.WriteHeader(http.StatusNoContent)
}

// runChaosSeries runs the chaos test o.chaosRuns times in a row, stopping at the first
// failure, and reports the recovery time of every passing run with their p99.
func runChaosSeries(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	var err error
	for i := 0; i < o.chaosRuns && err == nil; i++ {
		if o.chaosRuns > 1 {
			progress(stderr, fmt.Sprintf("chaos run %d of %d", i+1, o.chaosRuns))
		}
		var sub string
		if sub, err = os.MkdirTemp(dir, fmt.Sprintf("run%02d-", i+1)); err != nil {
			return err
		}
		if err = runChaos(ctx, o, sub, r, stderr); err != nil && o.chaosRuns > 1 {
			err = fmt.Errorf("run %d of %d: %w", i+1, o.chaosRuns, err)
		}
	}
	if len(o.recoveries) > 0 {
		var times []string
		for _, d := range o.recoveries {
			times = append(times, d.Round(100*time.Millisecond).String())
		}
		sorted := slices.Sorted(slices.Values(o.recoveries))
		p99 := sorted[(len(sorted)*99+99)/100-1] // nearest rank
		r.section(fmt.Sprintf("Crash chaos recovery over %d passing run(s) (bound %s)", len(sorted), o.chaosBound))
		r.line("recovery after the last fault", strings.Join(times, ", "))
		r.line("p99 / max", fmt.Sprintf("%s / %s", p99.Round(100*time.Millisecond), sorted[len(sorted)-1].Round(100*time.Millisecond)))
	}
	return err
}

// runChaos runs `chainpay serve` on Postgres with a btcd regtest node, creates and pays
// o.chaosInvoices invoices while killing serve with SIGKILL at random moments (exponential
// gaps with mean o.chaosKills) and restarting it, then checks in the database: every paid
// invoice settled exactly once, one payment and one journal record per payment, and every
// event delivered to the webhook receiver at least once under a stable id and body.
func runChaos(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	pgBase := o.pg
	var cluster *pgCluster
	if o.chaosPGRestart > 0 {
		var err error
		if cluster, err = startPGCluster(ctx); err != nil {
			return fmt.Errorf("private Postgres cluster: %w", err)
		}
		defer cluster.stop(o.keep)
		pgBase = cluster.url
		progress(stderr, fmt.Sprintf("chaos: private Postgres cluster on port %d (%s), restarted every %s on average", cluster.port, cluster.dir, o.chaosPGRestart))
	}
	sc, err := newSchema(ctx, pgBase, "bench_chaos")
	if err != nil {
		return err
	}
	if o.keep {
		progress(stderr, "chaos: keeping schema "+sc.name)
		defer sc.admin.Close()
	} else {
		defer sc.drop()
	}
	node, err := regtest.Start(ctx, regtest.Config{DataDir: dir + "/btcd"})
	if err != nil {
		return fmt.Errorf("start btcd (build it with scripts/tools.sh or set CHAINPAY_TOOLS_BIN): %w", err)
	}
	defer node.Stop()
	if err := node.Fund(ctx); err != nil {
		return err
	}
	tpub, err := regtestTpub()
	if err != nil {
		return err
	}
	var evm *evmChaos
	if o.chaosEVM {
		if evm, err = startEVMChaos(dir); err != nil {
			return err
		}
		defer evm.close()
	}
	recv := &hookReceiver{bodies: map[string][32]byte{}, count: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hookSrv := &http.Server{Handler: recv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hookSrv.Serve(ln) }()
	defer hookSrv.Close()

	env := []string{"CHAINPAY_FIXED_RATES=BTC-USD=60000,ETH-USD=3000,USDC-USD=1",
		"CHAINPAY_BITCOIN_NETWORK=regtest", "CHAINPAY_BITCOIN_RPC=" + node.RPCURL(), "CHAINPAY_BITCOIN_POLL=200ms",
		"CHAINPAY_BITCOIN_CONFIRMATIONS=1", "CHAINPAY_WEBHOOKS_ALLOW_PRIVATE=true", "CHAINPAY_LOG_LEVEL=info"}
	methods := []string{"BTC"} // the payment method of invoice i is methods[i%len(methods)]
	if evm != nil {
		env = append(env, evm.env()...)
		methods = []string{"BTC", "ETH", "USDC"}
	}
	cp, err := newChainpay(o.chainpay, dir, sc.url, env...)
	if err != nil {
		return err
	}
	defer cp.close()
	m, err := setupMerchant(ctx, cp, "regtest", tpub)
	if err != nil {
		return err
	}
	if evm != nil {
		// The treasury forwarders sweep into; no sweeper key is configured (sweeps are not
		// what this run checks).
		if _, err := cp.run(ctx, "wallet", "add", "--store", m.storeID, "--chain", "ethereum",
			"--treasury", "0x00000000000000000000000000000000c4a05000", "--tokens", "USDC"); err != nil {
			return err
		}
	}
	if err := cp.start(ctx); err != nil {
		return err
	}
	client := httpClient(4)
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if _, err := postJSON(ctx, client, cp.baseURL()+"/v1/webhooks", m.key, "chaos-hook",
		map[string]any{"url": "http://" + ln.Addr().String() + "/hook", "events": []string{"*"}}, &ep); err != nil {
		return err
	}
	recv.secret.Store(&ep.Secret)

	// The killer: SIGKILL at exponentially distributed moments, restart after up to 300 ms.
	var (
		mu        sync.Mutex // serialises kill/start against the final restart
		kills     int
		lastKill  time.Time
		selfExits int // serve exiting on its own (restarted as a supervisor would)
		// failedStarts counts restarts of serve that failed (it exited at start, say while
		// Postgres was away) and were tried again.
		failedStarts int
		killWG       sync.WaitGroup
	)
	kctx, stopKiller := context.WithCancel(ctx)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	// The supervisor: serve exiting on its own (say, while Postgres is away) is restarted,
	// as systemd would, and counted.
	killWG.Go(func() {
		for kctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			if exited := cp.exited; cp.proc != nil && exited != nil {
				select {
				case <-exited:
					selfExits++
					lastKill = time.Now()
					cp.proc = nil
					for cp.start(ctx) != nil && kctx.Err() == nil {
						failedStarts++
						cp.kill(syscall.SIGKILL)
						time.Sleep(200 * time.Millisecond)
					}
				default:
				}
			}
			mu.Unlock()
		}
	})
	// The database crasher: pg_ctl restart -m immediate every 0.5-1.5 × the mean interval
	// (uniform: the count over a pay phase is predictable enough to require a minimum).
	var (
		pgRestarts  int
		pgDowntimes []time.Duration
		lastRestart time.Time
		pgErr       error
	)
	if cluster != nil {
		prng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		killWG.Go(func() {
			for {
				select {
				case <-kctx.Done():
					return
				case <-time.After(time.Duration((0.5 + prng.Float64()) * float64(o.chaosPGRestart))):
				}
				d, err := cluster.restart(ctx)
				mu.Lock()
				if err != nil && pgErr == nil {
					pgErr = err
				}
				pgRestarts++
				pgDowntimes = append(pgDowntimes, d)
				lastRestart = time.Now()
				mu.Unlock()
			}
		})
	}
	killWG.Go(func() {
		for {
			gap := time.Duration(rng.ExpFloat64() * float64(o.chaosKills))
			select {
			case <-kctx.Done():
				return
			case <-time.After(gap):
			}
			mu.Lock()
			cp.kill(syscall.SIGKILL)
			kills++
			lastKill = time.Now()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			for cp.start(ctx) != nil && kctx.Err() == nil {
				failedStarts++
				cp.kill(syscall.SIGKILL)
				time.Sleep(200 * time.Millisecond)
			}
			mu.Unlock()
		}
	})

	// The customers: create (retrying under one Idempotency-Key), pay, mine now and then.
	var invoiceIDs []string
	paidAbove := map[string]int64{} // invoice id → the tip when it was paid: its block is higher
	start := time.Now()
	for i := range o.chaosInvoices {
		var inv invoiceResponse
		key := fmt.Sprintf("chaos-%05d", i)
		method := methods[i%len(methods)]
		for {
			_, err := postJSON(ctx, client, cp.baseURL()+"/v1/invoices", m.key, key,
				map[string]any{"amount": "25.00", "currency": "USD", "order_id": key, "payment_methods": []string{method}}, &inv)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				stopKiller()
				killWG.Wait()
				return ctx.Err()
			}
			time.Sleep(100 * time.Millisecond) // the server is down: the customer retries
		}
		if len(inv.PaymentOptions) == 0 {
			stopKiller()
			killWG.Wait()
			return fmt.Errorf("invoice %s has no payment option", inv.ID)
		}
		invoiceIDs = append(invoiceIDs, inv.ID)
		if method != "BTC" {
			units, ok := new(big.Int).SetString(inv.PaymentOptions[0].AmountDue, 10)
			if !ok || units.Sign() <= 0 || inv.PaymentOptions[0].Asset != method {
				stopKiller()
				killWG.Wait()
				return fmt.Errorf("invoice %s: option %s %q, want %s", inv.ID, inv.PaymentOptions[0].Asset, inv.PaymentOptions[0].AmountDue, method)
			}
			if err := evm.pay(method, inv.PaymentOptions[0].Address, units); err != nil {
				stopKiller()
				killWG.Wait()
				return fmt.Errorf("pay %s in %s: %w", inv.ID, method, err)
			}
			time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
			continue
		}
		addr, err := btcutil.DecodeAddress(inv.PaymentOptions[0].Address, &chaincfg.RegressionNetParams)
		if err != nil {
			stopKiller()
			killWG.Wait()
			return err
		}
		var sats int64
		if _, err := fmt.Sscan(inv.PaymentOptions[0].AmountDue, &sats); err != nil || sats <= 0 {
			stopKiller()
			killWG.Wait()
			return fmt.Errorf("invoice %s: amount_due_atomic %q", inv.ID, inv.PaymentOptions[0].AmountDue)
		}
		tip, err := node.TipHeight(ctx)
		if err != nil {
			stopKiller()
			killWG.Wait()
			return err
		}
		paidAbove[inv.ID] = tip
		if _, err := node.Pay(ctx, addr, sats); err != nil {
			stopKiller()
			killWG.Wait()
			return fmt.Errorf("pay %s: %w", inv.ID, err)
		}
		if i%3 == 2 {
			if _, err := node.Mine(ctx, 1); err != nil {
				stopKiller()
				killWG.Wait()
				return err
			}
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
	}
	// Keep killing while the last blocks are processed, then let the server run.
	if _, err := node.Mine(ctx, 1); err != nil {
		stopKiller()
		killWG.Wait()
		return err
	}
	time.Sleep(2 * o.chaosKills)
	stopKiller()
	killWG.Wait()
	if pgErr != nil {
		return fmt.Errorf("restart the private Postgres: %w", pgErr)
	}
	if cp.proc == nil {
		if err := cp.start(ctx); err != nil {
			return err
		}
	}
	if lastRestart.After(lastKill) {
		lastKill = lastRestart // recovery counts from the last fault of either kind
	}
	payPhase := time.Since(start)
	progress(stderr, fmt.Sprintf("chaos: %d invoices paid (%s) with %d SIGKILLs, %d Postgres restarts in %s; waiting for settlement and delivery",
		len(invoiceIDs), strings.Join(methods, "/"), kills, pgRestarts, payPhase.Round(time.Second)))

	conn, err := pgx.Connect(ctx, sc.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	n := len(invoiceIDs)
	var res chaosResult
	deadline := time.Now().Add(o.chaosWait)
	var recovery time.Duration
	for nextBlock := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		if res, err = checkChaos(ctx, conn, recv, m.storeID, invoiceIDs); err != nil {
			return err
		}
		if res.complete(n) {
			recovery = time.Since(lastKill)
			break
		}
		if time.Now().After(deadline) {
			break
		}
		if time.Now().After(nextBlock) { // confirmations keep moving, as on a real chain (and geth's ticker)
			if _, err := node.Mine(ctx, 1); err != nil {
				return err
			}
			nextBlock = time.Now().Add(2 * time.Second)
		}
	}
	chains := "btcd regtest"
	if evm != nil {
		chains += " + geth --dev (ETH, USDC)"
	}
	r.section(fmt.Sprintf("Crash chaos — chainpay serve on Postgres + %s, %d invoices paid (%s in turn), %d SIGKILLs in %s",
		chains, n, strings.Join(methods, ", "), kills, payPhase.Round(time.Second)))
	if cluster != nil {
		var most, sum time.Duration
		for _, d := range pgDowntimes {
			most, sum = max(most, d), sum+d
		}
		mean := time.Duration(0)
		if len(pgDowntimes) > 0 {
			mean = sum / time.Duration(len(pgDowntimes))
		}
		r.line("Postgres crash-restarts (pg_ctl restart -m immediate)", fmt.Sprintf("%d, back in %s on average, %s at most",
			pgRestarts, mean.Round(10*time.Millisecond), most.Round(10*time.Millisecond)))
	}
	r.line("serve exits on its own (restarted)", fmt.Sprint(selfExits))
	r.line("serve restarts that failed and were retried", fmt.Sprint(failedStarts))
	since := "recovery after the last SIGKILL"
	if cluster != nil {
		since = "recovery after the last SIGKILL or restart"
	}
	r.line("invoices settled", fmt.Sprintf("%d of %d", res.settled, n))
	r.line("invoice.settled events per invoice", fmt.Sprintf("%d invoices with exactly one, %d with more", res.settledOnce, res.settledTwice))
	r.line("payments recorded (one per tx)", fmt.Sprintf("%d for %d payments", res.payments, n))
	r.line("journal records per payment", fmt.Sprintf("%d payments with exactly one, %d with none, %d with more", res.journalOnce, res.journalNone, res.journalMore))
	r.line("events delivered at least once", fmt.Sprintf("%d of %d (redeliveries: %d)", res.delivered, res.events, res.redelivered))
	r.line("receiver problems", fmt.Sprint(len(res.bad)))
	if evm != nil {
		r.line("payments by asset", paymentsByAsset(ctx, conn, invoiceIDs))
	}
	if kills < max(o.chaosMinKills, 1) {
		return fmt.Errorf("%d SIGKILLs, fewer than the %d asked for: raise -chaos-invoices or lower -chaos-kill-every", kills, max(o.chaosMinKills, 1))
	}
	if cluster != nil && pgRestarts < max(o.chaosMinPGRestarts, 1) {
		return fmt.Errorf("%d Postgres restarts, fewer than the %d asked for: raise -chaos-invoices or lower -chaos-pg-restart-every", pgRestarts, max(o.chaosMinPGRestarts, 1))
	}
	if !res.complete(n) {
		r.line(since, fmt.Sprintf("NOT complete %s after it", time.Since(lastKill).Round(100*time.Millisecond)))
		dumpChaos(ctx, conn, r, invoiceIDs, paidAbove)
		return fmt.Errorf("invariants broken after %d SIGKILLs: %+v (serve log: %s)", kills, res, cp.log.Name())
	}
	r.line(since, fmt.Sprintf("%s (bound %s): everything recorded, settled, booked and delivered",
		recovery.Round(100*time.Millisecond), o.chaosBound))
	if err := verifyLedger(ctx, cp, m.storeID); err != nil {
		dumpChaos(ctx, conn, r, invoiceIDs, paidAbove)
		return fmt.Errorf("ledger verify after the chaos run: %w", err)
	}
	r.line("chainpay ledger verify", "every payment booked as the invariant requires")
	if recovery > o.chaosBound {
		dumpChaos(ctx, conn, r, invoiceIDs, paidAbove)
		return fmt.Errorf("recovery took %s, more than the bound %s (-chaos-recovery-bound; docs/operations.md)", recovery.Round(100*time.Millisecond), o.chaosBound)
	}
	o.recoveries = append(o.recoveries, recovery)
	return nil
}

// verifyLedger runs `chainpay ledger verify` for the chaos store once everything is booked:
// the books invariant recomputed from the database (branch books), each difference printed.
func verifyLedger(ctx context.Context, cp *chainpay, storeID string) error {
	_, err := cp.run(ctx, "ledger", "verify", "--store", storeID)
	return err
}

// dumpChaos prints what a failed chaos run left behind: leases, follower cursors and the
// first block each follower scanned, invoices without a payment (with the tip when they were
// paid), and the undelivered ledger outbox and webhook deliveries with holder, lease end,
// attempts and next attempt. Query errors are printed in place: the dump is best effort.
func dumpChaos(ctx context.Context, conn *pgx.Conn, r *report, ids []string, paidAbove map[string]int64) {
	table := func(title, sql string, args ...any) {
		r.section("  " + title)
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			r.line("query failed", err.Error())
			return
		}
		defer rows.Close()
		var cols []string
		for _, f := range rows.FieldDescriptions() {
			cols = append(cols, f.Name)
		}
		fmt.Fprintf(r.w, "    %s\n", strings.Join(cols, " | "))
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				r.line("row failed", err.Error())
				return
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				if t, ok := v.(time.Time); ok {
					cells[i] = t.UTC().Format("15:04:05.000")
				} else {
					cells[i] = fmt.Sprint(v)
				}
			}
			fmt.Fprintf(r.w, "    %s\n", strings.Join(cells, " | "))
		}
		if err := rows.Err(); err != nil {
			r.line("rows failed", err.Error())
		}
	}
	r.section(fmt.Sprintf("  Chaos dump at %s", time.Now().UTC().Format("15:04:05.000")))
	table("leases", `SELECT name, holder, expires_at FROM leases ORDER BY name`)
	table("follower cursors (first_block: the lowest block the follower recorded, where it started)",
		`SELECT c.chain, c.height, c.updated_at, (SELECT min(height) FROM chain_blocks b WHERE b.chain = c.chain) AS first_block
		FROM chain_cursors c ORDER BY c.chain`)
	var unpaid []string
	rows, err := conn.Query(ctx, `SELECT i.id FROM invoices i WHERE i.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = i.id) ORDER BY i.id`, ids)
	if err == nil {
		unpaid, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		r.line("invoices without a payment", "query failed: "+err.Error())
	} else if len(unpaid) > 0 {
		lo, hi := paidAbove[unpaid[0]], paidAbove[unpaid[0]]
		for _, id := range unpaid {
			lo, hi = min(lo, paidAbove[id]), max(hi, paidAbove[id])
		}
		r.line("invoices paid but without a payment", fmt.Sprintf("%d, paid when the tip was %d..%d (their blocks are above), e.g. %s",
			len(unpaid), lo, hi, unpaid[0]))
	}
	table("ledger outbox not delivered", `SELECT id, key, status, attempts, lease_holder, lease_until, next_attempt,
		left(last_error, 80) AS last_error FROM outbox WHERE status <> 'delivered' ORDER BY created_at, id LIMIT 50`)
	table("webhook deliveries not delivered", `SELECT id, event_type, status, attempts, lease_holder, lease_until,
		next_attempt, left(last_error, 80) AS last_error FROM webhook_deliveries WHERE status <> 'delivered'
		ORDER BY created_at, id LIMIT 50`)
}

// chaosResult is what the database and the receiver hold after a chaos run.
type chaosResult struct {
	settled, settledOnce, settledTwice    int
	payments                              int
	journalOnce, journalNone, journalMore int
	events, delivered, redelivered        int
	bad                                   []string
}

func (c chaosResult) complete(n int) bool {
	return c.settled == n && c.settledOnce == n && c.settledTwice == 0 && c.payments == n &&
		c.journalOnce == n && c.journalNone == 0 && c.journalMore == 0 && c.delivered == c.events && c.events >= 2*n &&
		len(c.bad) == 0
}

func checkChaos(ctx context.Context, conn *pgx.Conn, recv *hookReceiver, storeID string, ids []string) (chaosResult, error) {
	var c chaosResult
	q := func(sql string, dst *int, args ...any) error {
		if err := conn.QueryRow(ctx, sql, args...).Scan(dst); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(strings.Fields(sql), " "), err)
		}
		return nil
	}
	steps := []struct {
		sql string
		dst *int
	}{
		{`SELECT count(*) FROM invoices WHERE id = ANY($1) AND status = 'settled'`, &c.settled},
		{`SELECT count(*) FROM (SELECT invoice_id FROM events WHERE invoice_id = ANY($1) AND type = 'invoice.settled'
			GROUP BY invoice_id HAVING count(*) = 1) x`, &c.settledOnce},
		{`SELECT count(*) FROM (SELECT invoice_id FROM events WHERE invoice_id = ANY($1) AND type = 'invoice.settled'
			GROUP BY invoice_id HAVING count(*) > 1) x`, &c.settledTwice},
		{`SELECT count(*) FROM payments WHERE invoice_id = ANY($1)`, &c.payments},
		{`SELECT count(*) FROM (SELECT p.id FROM payments p JOIN ledger_records l ON l.source_id = p.id
			AND l.reporting_category = 'charge' WHERE p.invoice_id = ANY($1) GROUP BY p.id HAVING count(*) = 1) x`, &c.journalOnce},
		{`SELECT count(*) FROM payments p WHERE p.invoice_id = ANY($1) AND NOT EXISTS
			(SELECT 1 FROM ledger_records l WHERE l.source_id = p.id AND l.reporting_category = 'charge')`, &c.journalNone},
		{`SELECT count(*) FROM (SELECT p.id FROM payments p JOIN ledger_records l ON l.source_id = p.id
			AND l.reporting_category = 'charge' WHERE p.invoice_id = ANY($1) GROUP BY p.id HAVING count(*) > 1) x`, &c.journalMore},
	}
	for _, s := range steps {
		if err := q(s.sql, s.dst, ids); err != nil {
			return c, err
		}
	}
	rows, err := conn.Query(ctx, `SELECT id FROM events WHERE invoice_id = ANY($1)`, ids)
	if err != nil {
		return c, err
	}
	events, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return c, err
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	c.events = len(events)
	for _, id := range events {
		if n := recv.count[id]; n > 0 {
			c.delivered++
			c.redelivered += n - 1
		}
	}
	c.bad = append([]string(nil), recv.bad...)
	return c, nil
}

// paymentsByAsset counts the run's payments per asset (best effort: a failed query is shown
// in place).
func paymentsByAsset(ctx context.Context, conn *pgx.Conn, ids []string) string {
	rows, err := conn.Query(ctx, `SELECT asset, count(*) FROM payments WHERE invoice_id = ANY($1) GROUP BY asset ORDER BY asset`, ids)
	if err != nil {
		return "query failed: " + err.Error()
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var asset string
		var n int
		if err := rows.Scan(&asset, &n); err != nil {
			return "query failed: " + err.Error()
		}
		parts = append(parts, fmt.Sprintf("%s %d", asset, n))
	}
	return strings.Join(parts, ", ")
}
