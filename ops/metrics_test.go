package ops_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

func TestMetricsFromStoreAndProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.invoice(t, 1, store.StatusNew, "", time.Time{})
	b.invoice(t, 2, store.StatusProcessing, store.PaymentMempool, t0.Add(-90*time.Second))
	b.invoice(t, 3, store.StatusProcessing, store.PaymentConfirmed, t0.Add(-30*time.Second))
	b.invoice(t, 4, store.StatusSettled, store.PaymentConfirmed, t0.Add(-time.Hour))
	b.tx(t, func(x store.Tx) error {
		for i, created := range []time.Time{t0.Add(-5 * time.Minute), t0.Add(-time.Minute)} {
			if err := x.Enqueue(ctx, store.OutboxMessage{ID: "obx_" + string(rune('a'+i)), Topic: "ledger", Key: string(rune('a' + i)),
				Payload: "{}", NextAttempt: t0, CreatedAt: created}); err != nil {
				return err
			}
		}
		for range 10 { // indexes 0..9 handed out; 2, 3 and 4 paid above
			if _, err := x.AllocateIndex(ctx, "wal_ops"); err != nil {
				return err
			}
		}
		return x.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 100, Hash: "h100", ParentHash: "h99", UpdatedAt: t0.Add(-20 * time.Second)})
	})
	b.btcTip.set(104, nil)
	b.btc.set(watcher.Status{LastOK: t0.Add(-time.Second), Failures: 0})
	m, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := m.Registry()
	mustValue(t, reg, 1, "chainpay_invoices", "status", "new")
	mustValue(t, reg, 2, "chainpay_invoices", "status", "processing")
	mustValue(t, reg, 1, "chainpay_invoices", "status", "settled")
	mustValue(t, reg, 0, "chainpay_invoices", "status", "expired")
	mustValue(t, reg, 3, "chainpay_payments_detected_total", "chain", "bitcoin", "asset", "BTC")
	mustValue(t, reg, 2, "chainpay_payments", "chain", "bitcoin", "asset", "BTC", "status", "confirmed")
	mustValue(t, reg, 2, "chainpay_confirmation_pending_payments", "chain", "bitcoin")
	mustValue(t, reg, 90, "chainpay_confirmation_lag_seconds", "chain", "bitcoin")
	mustValue(t, reg, 2, "chainpay_outbox_pending", "queue", "ledger")
	mustValue(t, reg, 300, "chainpay_outbox_oldest_pending_age_seconds", "queue", "ledger")
	mustValue(t, reg, 0, "chainpay_outbox_pending", "queue", "webhooks")
	mustValue(t, reg, 100, "chainpay_chain_cursor_height", "chain", "bitcoin")
	mustValue(t, reg, 20, "chainpay_chain_cursor_age_seconds", "chain", "bitcoin")
	mustValue(t, reg, 104, "chainpay_chain_tip_height", "chain", "bitcoin")
	mustValue(t, reg, 4, "chainpay_chain_lag_blocks", "chain", "bitcoin")
	mustValue(t, reg, 1, "chainpay_chain_follower_leader", "chain", "bitcoin")
	mustValue(t, reg, float64(t0.Add(-time.Second).Unix()), "chainpay_chain_follower_last_ok_timestamp_seconds", "chain", "bitcoin")
	mustValue(t, reg, 1, "chainpay_rate_available", "pair", "BTC/USD")
	mustValue(t, reg, 1, "chainpay_rate_sources", "pair", "BTC/USD")
	mustValue(t, reg, 1, "chainpay_build_info", "version", "test")
	mustValue(t, reg, 5, "chainpay_wallet_gap", "chain", "bitcoin", "wallet", "wal_ops") // 5..9 unpaid
	if _, ok := value(t, reg, "chainpay_rate_available", "pair", "ETH/USD"); ok {
		t.Fatal("a pair no source quotes is reported")
	}

	// A standby replica reports 0 for leadership.
	b.btc.set(watcher.Status{Standby: true})
	mustValue(t, reg, 0, "chainpay_chain_follower_leader", "chain", "bitcoin")

	// The handler speaks the exposition format.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, `chainpay_invoices{status="processing"} 2`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics: %d\n%.2000s", rec.Code, body)
	}
}

func TestMetricsRefreshInterval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.Refresh = 15 * time.Second
	m, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := m.Registry()
	mustValue(t, reg, 0, "chainpay_invoices", "status", "new")
	b.invoice(t, 1, store.StatusNew, "", time.Time{})
	b.clk.Add(14 * time.Second)
	mustValue(t, reg, 0, "chainpay_invoices", "status", "new") // cached
	b.clk.Add(time.Second)
	mustValue(t, reg, 1, "chainpay_invoices", "status", "new") // refreshed
}

func TestMetricsFailedPartsAreLeftOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.btcTip.set(0, errors.New("connection refused"))
	b.quoteClk.Add(-10 * time.Minute) // every quote is stale
	m, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.Close(); err != nil {
		t.Fatal(err)
	}
	reg := m.Registry()
	if _, ok := value(t, reg, "chainpay_invoices", "status", "new"); ok {
		t.Fatal("invoice figures reported although the store could not be read")
	}
	if _, ok := value(t, reg, "chainpay_chain_tip_height", "chain", "bitcoin"); ok {
		t.Fatal("tip reported although the node failed")
	}
	mustValue(t, reg, 1, "chainpay_ops_refresh_errors_total", "part", "store")
	mustValue(t, reg, 1, "chainpay_ops_refresh_errors_total", "part", "tip:bitcoin")
	mustValue(t, reg, 1, "chainpay_ops_refresh_errors_total", "part", "rates")
	mustValue(t, reg, 0, "chainpay_rate_available", "pair", "BTC/USD")
}

func TestMetricsRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m1, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ops.NewMetrics(b.cfg) // would panic on a shared registry
	if err != nil {
		t.Fatal(err)
	}
	m1.ObserveRPC("bitcoin", "http://a", time.Millisecond, nil)
	if _, ok := value(t, m2.Registry(), "chainpay_rpc_requests_total", "chain", "bitcoin", "endpoint", "http://a", "outcome", "ok"); ok {
		t.Fatal("an observation on one Metrics shows on another")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, cfg := range map[string]*ops.Config{
		"nil":            nil,
		"no store":       {},
		"repeated chain": {Store: b.st, Chains: []ops.Chain{{Name: "bitcoin"}, {Name: "bitcoin"}}},
		"unnamed chain":  {Store: b.st, Chains: []ops.Chain{{}}},
		"pairs no rates": {Store: b.st, Pairs: b.cfg.Pairs},
		"negative lag":   {Store: b.st, Chains: []ops.Chain{{Name: "bitcoin", MaxLag: -1}}},
	} {
		if _, err := ops.NewMetrics(cfg); err == nil {
			t.Errorf("%s: NewMetrics accepted it", name)
		}
		if _, err := ops.NewHealth(cfg); err == nil {
			t.Errorf("%s: NewHealth accepted it", name)
		}
	}
}

func TestInstrumentRoutePatterns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	inner := http.NewServeMux()
	inner.HandleFunc("GET /v1/invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		// A middleware that copies the request (auth adding a context value) does not hide
		// the pattern: the mux set it on the request it was given.
		r = r.WithContext(r.Context())
		w.WriteHeader(http.StatusNotFound)
	})
	inner.HandleFunc("GET /i/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the instrumented writer: %v", err)
		}
		_, _ = io.WriteString(w, "data: x\n\n")
	})
	outer := http.NewServeMux()
	outer.Handle("/", inner)
	srv := httptest.NewServer(m.Instrument(outer))
	defer srv.Close()
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/invoices/inv_1"}, {"GET", "/v1/invoices/inv_2"}, {"GET", "/i/inv_1/events"},
		{"GET", "/no/such/path"}, {"BREW", "/v1/invoices/inv_3"},
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	reg := m.Registry()
	mustValue(t, reg, 2, "chainpay_http_request_duration_seconds", "route", "GET /v1/invoices/{id}", "method", "GET", "code", "404")
	mustValue(t, reg, 1, "chainpay_http_request_duration_seconds", "route", "GET /i/{id}/events", "method", "GET", "code", "200")
	mustValue(t, reg, 1, "chainpay_http_request_duration_seconds", "route", "unmatched", "method", "GET", "code", "404")
	mustValue(t, reg, 1, "chainpay_http_request_duration_seconds", "route", "unmatched", "method", "OTHER", "code", "405")
}

func TestRPCTransport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := ops.NewMetrics(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"result":1}`)
	}))
	u, _ := url.Parse(node.URL)
	client := &http.Client{Transport: m.RPCTransport("ethereum", nil)}
	for _, path := range []string{"/v3/SECRETKEY", "/v3/SECRETKEY", "/fail"} {
		resp, err := client.Post("http://user:pass@"+u.Host+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	node.Close()
	if _, err := client.Post(node.URL, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	reg := m.Registry()
	ep := "http://" + u.Host
	mustValue(t, reg, 2, "chainpay_rpc_requests_total", "chain", "ethereum", "endpoint", ep, "outcome", "ok")
	mustValue(t, reg, 2, "chainpay_rpc_requests_total", "chain", "ethereum", "endpoint", ep, "outcome", "error")
	mustValue(t, reg, 4, "chainpay_rpc_request_duration_seconds", "chain", "ethereum", "endpoint", ep)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); strings.Contains(body, "SECRETKEY") || strings.Contains(body, "user:pass") {
		t.Fatal("credentials or URL paths leak into metric labels")
	}
}
