package ops

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
)

// dispatcherCursor is the webhooks Dispatcher's row in webhook_cursors (webhooks.cursorName).
const dispatcherCursor = "events"

// invoiceStatuses are always reported, with 0 when no invoice has them.
var invoiceStatuses = []string{store.StatusNew, store.StatusProcessing, store.StatusSettled, store.StatusExpired, store.StatusInvalid}

// Metrics is chainpay's Prometheus registry and the recorders the rest of the process
// calls. It is safe for concurrent use.
type Metrics struct {
	cfg Config
	reg *prometheus.Registry

	httpDur    *prometheus.HistogramVec
	rpcDur     *prometheus.HistogramVec
	rpcCalls   *prometheus.CounterVec
	refreshErr *prometheus.CounterVec
	skipped    *prometheus.CounterVec

	mu   sync.Mutex // serialises refreshes
	last *snapshot
}

// NewMetrics returns the metrics of a process configured by cfg, registered on a new
// registry.
func NewMetrics(cfg *Config) (*Metrics, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Metrics{cfg: c, reg: prometheus.NewRegistry()}
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "chainpay_http_request_duration_seconds",
		Help: "HTTP requests by route pattern, method and status code.",
		// Checkout event streams stay open for minutes; they land in +Inf.
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "code"})
	m.rpcDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chainpay_rpc_request_duration_seconds",
		Help:    "Node JSON-RPC requests by chain and endpoint (scheme://host, no credentials).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"chain", "endpoint"})
	m.rpcCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chainpay_rpc_requests_total",
		Help: "Node JSON-RPC requests by chain, endpoint and outcome (ok, error: no response or HTTP status >= 400).",
	}, []string{"chain", "endpoint", "outcome"})
	m.refreshErr = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chainpay_ops_refresh_errors_total",
		Help: "Reads behind the metrics that failed, by part (store, tip:<chain>, rates); the part is left out of that scrape.",
	}, []string{"part"})
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chainpay_watcher_transfers_skipped_total",
		Help: "Transfers to deposit addresses a follower refused to store (zero or negative amount, ...), by chain and reason.",
	}, []string{"chain", "reason"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "chainpay_build_info", Help: "Always 1; the version label names the build.",
		ConstLabels: prometheus.Labels{"version": c.Version}})
	build.Set(1)
	m.reg.MustRegister(m.httpDur, m.rpcDur, m.rpcCalls, m.refreshErr, m.skipped, build, &figures{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m, nil
}

// TransferSkipped returns the recorder a chain's follower calls for every transfer it
// refuses to store (watcher.Config.Skipped).
func (m *Metrics) TransferSkipped(chain string) func(reason string) {
	return func(reason string) { m.skipped.WithLabelValues(chain, reason).Inc() }
}

// Registry returns the registry, for tests and for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats (mount it at /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorLog: nil,
		ErrorHandling: promhttp.ContinueOnError, Timeout: 2*m.cfg.Timeout + 5*time.Second})
}

// GuardedHandler is Handler behind a bearer token, for serving the metrics on a public
// listener: a request without "Authorization: Bearer <token>" gets a 401 problem. The token
// is compared in constant time.
func (m *Metrics) GuardedHandler(token string) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + token))
	h := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chainpay metrics"`)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"/problems/unauthorized","title":"Unauthorized","status":401,"detail":"send the metrics token as Authorization: Bearer <token> (CHAINPAY_METRICS_TOKEN)"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// snapshot is what one refresh read.
type snapshot struct {
	at       time.Time
	storeOK  bool
	invoices map[string]int64
	payments []store.PaymentCount
	awaiting []store.Backlog
	outbox   []store.Backlog
	webhooks store.WebhookBacklog
	cursors  []store.Cursor
	gaps     []store.WalletGap
	tips     map[string]int64
	rates    []rateFigure
}

type rateFigure struct {
	pair    string
	ok      bool
	age     time.Duration // of the oldest quote used
	sources int
}

// current returns the cached snapshot, refreshing it when it is older than cfg.Refresh.
func (m *Metrics) current() *snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	if m.last != nil && now.Sub(m.last.at) < m.cfg.Refresh {
		return m.last
	}
	m.last = m.read(context.Background(), now)
	return m.last
}

func (m *Metrics) read(ctx context.Context, now time.Time) *snapshot {
	s := &snapshot{at: now, tips: map[string]int64{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := readStore(ctx, m.cfg, now, s); err != nil {
			m.fail("store", err)
			return
		}
		s.storeOK = true
	})
	tips := make([]*int64, len(m.cfg.Chains))
	for i, ch := range m.cfg.Chains {
		if ch.Tip == nil {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
			defer cancel()
			h, err := ch.Tip(cctx)
			if err != nil {
				m.fail("tip:"+ch.Name, err)
				return
			}
			tips[i] = &h
		})
	}
	wg.Go(func() {
		var failed bool
		s.rates, failed = readRates(ctx, m.cfg, now)
		if failed {
			m.fail("rates", errors.New("a pair has no fresh rate"))
		}
	})
	wg.Wait()
	for i, h := range tips {
		if h != nil {
			s.tips[m.cfg.Chains[i].Name] = *h
		}
	}
	return s
}

func (m *Metrics) fail(part string, err error) {
	m.refreshErr.WithLabelValues(part).Inc()
	m.cfg.Logger.Warn("ops: metrics read failed", "part", part, "err", err)
}

// readStore reads the database figures in one read-only transaction.
func readStore(ctx context.Context, cfg Config, now time.Time, s *snapshot) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	return cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		if s.invoices, err = tx.InvoiceCounts(ctx); err != nil {
			return err
		}
		if s.payments, err = tx.PaymentCounts(ctx); err != nil {
			return err
		}
		if s.awaiting, err = tx.AwaitingConfirmation(ctx); err != nil {
			return err
		}
		if s.outbox, err = tx.OutboxBacklog(ctx); err != nil {
			return err
		}
		if s.gaps, err = tx.WalletGaps(ctx); err != nil {
			return err
		}
		cur, err := tx.WebhookCursor(ctx, dispatcherCursor)
		if err != nil {
			return err
		}
		if s.webhooks, err = tx.WebhookBacklog(ctx, cur); err != nil {
			return err
		}
		s.cursors, err = tx.Cursors(ctx)
		return err
	})
}

// readRates quotes every configured pair; it reports whether a quoted pair had no rate.
func readRates(ctx context.Context, cfg Config, now time.Time) (out []rateFigure, failed bool) {
	for _, p := range cfg.Pairs {
		cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		agg, err := cfg.Rates.Quote(cctx, p)
		cancel()
		if errors.Is(err, rates.ErrUnsupportedPair) {
			continue
		}
		f := rateFigure{pair: p.String(), ok: err == nil}
		if err != nil {
			failed = true
		} else {
			f.sources = len(agg.Used)
			for _, q := range agg.Used {
				f.age = max(f.age, now.Sub(q.At))
			}
		}
		out = append(out, f)
	}
	return out, failed
}

// figures is the collector of the values read on scrape.
type figures struct{ m *Metrics }

var (
	descInvoices = prometheus.NewDesc("chainpay_invoices", "Invoices by status (database).", []string{"status"}, nil)
	descPayments = prometheus.NewDesc("chainpay_payments_detected_total",
		"Payments ever detected, by chain and asset (database; rows are never deleted).", []string{"chain", "asset"}, nil)
	descPaymentStatus = prometheus.NewDesc("chainpay_payments",
		"Payments by chain, asset and status: mempool, confirmed, removed (database).", []string{"chain", "asset", "status"}, nil)
	descAwaiting = prometheus.NewDesc("chainpay_confirmation_pending_payments",
		"Payments of processing invoices, waiting for confirmations (database).", []string{"chain"}, nil)
	descConfLag = prometheus.NewDesc("chainpay_confirmation_lag_seconds",
		"Age of the oldest payment still waiting for confirmations, 0 when none waits (database).", []string{"chain"}, nil)
	descOutboxPending = prometheus.NewDesc("chainpay_outbox_pending",
		"Queued side effects not yet delivered: ledger records, webhook deliveries, events not yet fanned out (database).", []string{"queue"}, nil)
	descOutboxParked = prometheus.NewDesc("chainpay_outbox_parked",
		"Side effects that need a human: parked ledger records, failed webhook deliveries (database).", []string{"queue"}, nil)
	descOutboxAge = prometheus.NewDesc("chainpay_outbox_oldest_pending_age_seconds",
		"Age of the oldest pending item of the queue, 0 when empty (database).", []string{"queue"}, nil)
	descCursor = prometheus.NewDesc("chainpay_chain_cursor_height",
		"Height of the last block the chain's follower processed (database).", []string{"chain"}, nil)
	descCursorAge = prometheus.NewDesc("chainpay_chain_cursor_age_seconds",
		"Time since the chain's cursor last moved (database).", []string{"chain"}, nil)
	descTip = prometheus.NewDesc("chainpay_chain_tip_height", "The node's best block height, as this replica reads it.", []string{"chain"}, nil)
	descLag = prometheus.NewDesc("chainpay_chain_lag_blocks",
		"Blocks between the node's tip and the follower's cursor.", []string{"chain"}, nil)
	descLeader = prometheus.NewDesc("chainpay_chain_follower_leader",
		"1 when this replica follows the chain, 0 when it stands by (another replica holds the lease).", []string{"chain"}, nil)
	descFailures = prometheus.NewDesc("chainpay_chain_follower_failures",
		"Consecutive failed follower steps on this replica (0 when the last one succeeded).", []string{"chain"}, nil)
	descLastOK = prometheus.NewDesc("chainpay_chain_follower_last_ok_timestamp_seconds",
		"Unix time of this replica's last successful follower step (0 before the first).", []string{"chain"}, nil)
	descRateOK = prometheus.NewDesc("chainpay_rate_available",
		"1 when the pair has a fresh rate (enough fresh agreeing sources), 0 when quoting it fails.", []string{"pair"}, nil)
	descRateAge = prometheus.NewDesc("chainpay_rate_age_seconds",
		"Age of the oldest source quote behind the pair's current rate.", []string{"pair"}, nil)
	descWalletGap = prometheus.NewDesc("chainpay_wallet_gap",
		"Derivation indexes handed out after the wallet's highest paid one (database). Wallets with a fixed gap limit of 20 "+
			"miss later payments once it reaches 20: alert on >= 20 (docs/wallets.md).", []string{"chain", "wallet"}, nil)
	descRateSources = prometheus.NewDesc("chainpay_rate_sources",
		"Source quotes behind the pair's current rate.", []string{"pair"}, nil)
)

func (f *figures) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInvoices, descPayments, descPaymentStatus, descAwaiting, descConfLag,
		descOutboxPending, descOutboxParked, descOutboxAge, descCursor, descCursorAge, descTip, descLag, descLeader,
		descFailures, descLastOK, descRateOK, descRateAge, descRateSources, descWalletGap} {
		ch <- d
	}
}

func (f *figures) Collect(ch chan<- prometheus.Metric) {
	s := f.m.current()
	now := f.m.cfg.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	age := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return max(now.Sub(*t).Seconds(), 0)
	}
	cursors := map[string]store.Cursor{}
	if s.storeOK {
		for _, st := range invoiceStatuses {
			gauge(descInvoices, float64(s.invoices[st]), st)
		}
		for st, n := range s.invoices {
			if !isKnownStatus(st) {
				gauge(descInvoices, float64(n), st)
			}
		}
		detected := map[[2]string]int64{}
		for _, g := range s.gaps {
			gauge(descWalletGap, float64(invoices.Gap(g.NextIndex, g.HighestPaid)), g.Chain, g.WalletID)
		}
		for _, p := range s.payments {
			gauge(descPaymentStatus, float64(p.Count), p.Chain, p.Asset, p.Status)
			detected[[2]string{p.Chain, p.Asset}] += p.Count
		}
		for k, n := range detected {
			ch <- prometheus.MustNewConstMetric(descPayments, prometheus.CounterValue, float64(n), k[0], k[1])
		}
		awaiting := map[string]store.Backlog{}
		for _, b := range s.awaiting {
			awaiting[b.Name] = b
		}
		for _, c := range f.m.cfg.Chains {
			if _, ok := awaiting[c.Name]; !ok {
				awaiting[c.Name] = store.Backlog{Name: c.Name}
			}
		}
		for name, b := range awaiting {
			gauge(descAwaiting, float64(b.Pending), name)
			gauge(descConfLag, age(b.Oldest), name)
		}
		queues := map[string]store.Backlog{"ledger": {Name: "ledger"}}
		for _, b := range s.outbox {
			q := queueName(b.Name)
			sum := queues[q]
			sum.Pending += b.Pending
			sum.Parked += b.Parked
			if b.Oldest != nil && (sum.Oldest == nil || b.Oldest.Before(*sum.Oldest)) {
				sum.Oldest = b.Oldest
			}
			queues[q] = sum
		}
		queues["webhooks"] = s.webhooks.Deliveries
		queues["webhook_dispatch"] = store.Backlog{Pending: s.webhooks.Undispatched, Oldest: s.webhooks.OldestUndispatched}
		for q, b := range queues {
			gauge(descOutboxPending, float64(b.Pending), q)
			gauge(descOutboxParked, float64(b.Parked), q)
			gauge(descOutboxAge, age(b.Oldest), q)
		}
		for _, c := range s.cursors {
			cursors[c.Chain] = c
			gauge(descCursor, float64(c.Height), c.Chain)
			gauge(descCursorAge, age(&c.UpdatedAt), c.Chain)
		}
	}
	for _, c := range f.m.cfg.Chains {
		if tip, ok := s.tips[c.Name]; ok {
			gauge(descTip, float64(tip), c.Name)
			if cur, ok := cursors[c.Name]; ok {
				gauge(descLag, float64(max(tip-cur.Height, 0)), c.Name)
			}
		}
		if c.Follower != nil {
			st := c.Follower.Status()
			leader := 1.0
			if st.Standby {
				leader = 0
			}
			gauge(descLeader, leader, c.Name)
			gauge(descFailures, float64(st.Failures), c.Name)
			last := 0.0
			if !st.LastOK.IsZero() {
				last = float64(st.LastOK.UnixMilli()) / 1000
			}
			gauge(descLastOK, last, c.Name)
		}
	}
	for _, r := range s.rates {
		ok := 0.0
		if r.ok {
			ok = 1
			gauge(descRateAge, r.age.Seconds(), r.pair)
			gauge(descRateSources, float64(r.sources), r.pair)
		}
		gauge(descRateOK, ok, r.pair)
	}
}

func isKnownStatus(s string) bool {
	for _, k := range invoiceStatuses {
		if s == k {
			return true
		}
	}
	return false
}

// queueName maps an outbox topic to its queue label: the part before ':' ("ledger";
// "webhook:<endpoint>" would become "webhook"), so endpoint ids never become labels.
func queueName(topic string) string {
	q, _, _ := strings.Cut(topic, ":")
	return q
}
