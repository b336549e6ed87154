package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// eachWith is each with setup options.
func eachWith(t *testing.T, opts []func(*api.Config), fn func(t *testing.T, e *env)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, b, opts...))
		})
	}
}

// names is a DNS stand-in for the SSRF guard: a public host and one that rebinds to a
// private address.
type names map[string]netip.Addr

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := n[host]; ok {
		return []netip.Addr{ip}, nil
	}
	return nil, errors.New("no such host")
}

var testNames = names{
	"hooks.example":   netip.MustParseAddr("93.184.216.34"),
	"rebind.example":  netip.MustParseAddr("10.0.0.7"),
	"metadata.rebind": netip.MustParseAddr("169.254.169.254"),
}

// withWebhooks gives the API a webhooks.Service with the production SSRF guard (over
// testNames) and at most maxEndpoints endpoints per store.
func withWebhooks(maxEndpoints int) func(*api.Config) {
	return func(c *api.Config) {
		svc, err := webhooks.NewService(c.Store, &webhooks.Config{Guard: webhooks.Guard{Resolver: testNames}, MaxEndpoints: maxEndpoints})
		if err != nil {
			panic(err)
		}
		c.Webhooks = svc
	}
}

// addKey gives m's store another key with perms and returns it.
func (e *env) addKey(m merchant, perms ...string) string {
	e.t.Helper()
	plain, k := apikey.New(m.id, perms, time.Now())
	if err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.CreateAPIKey(context.Background(), k) }); err != nil {
		e.t.Fatal(err)
	}
	return plain
}

// problem checks r is a problem with the status, naming field (if any) with text in it.
func problem(t *testing.T, what string, r response, status int, field, text string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: got %d %s, want a %d problem: %s", what, r.status, r.header.Get("Content-Type"), status, r.body)
		return
	}
	if field == "" {
		if !strings.Contains(string(r.body), text) {
			t.Errorf("%s: problem does not say %q: %s", what, text, r.body)
		}
		return
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Errors {
		if f.Field == field && strings.Contains(f.Detail, text) {
			return
		}
	}
	t.Errorf("%s: no error for field %q saying %q: %s", what, field, text, r.body)
}

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withWebhooks(3)}, func(t *testing.T, e *env) {
		m, other := e.newMerchant("Hooks"), e.newMerchant("Other")
		r := e.do("POST", "/v1/webhooks", m.key, map[string]any{"url": "https://hooks.example/chainpay",
			"events": []string{"invoice.settled", "invoice.expired", "invoice.settled"}, "description": "production"})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		ep := r.json(t)
		id, secret := ep["id"].(string), ep["secret"].(string)
		if !strings.HasPrefix(id, "we_") || !strings.HasPrefix(secret, "whsec_") || ep["url"] != "https://hooks.example/chainpay" ||
			ep["enabled"] != true || ep["description"] != "production" || fmt.Sprint(ep["events"]) != "[invoice.settled invoice.expired]" {
			t.Fatalf("created endpoint: %s", r.body)
		}
		// The secret is shown once: never by GET.
		g := e.do("GET", "/v1/webhooks/"+id, m.key, nil)
		if g.status != 200 || strings.Contains(string(g.body), "secret") || g.json(t)["id"] != id {
			t.Fatalf("get: %d %s", g.status, g.body)
		}
		l := e.do("GET", "/v1/webhooks", m.key, nil)
		if d := l.json(t)["data"].([]any); l.status != 200 || len(d) != 1 || d[0].(map[string]any)["id"] != id || strings.Contains(string(l.body), secret) {
			t.Fatalf("list: %d %s", l.status, l.body)
		}

		// Another store sees nothing of it.
		if d := e.do("GET", "/v1/webhooks", other.key, nil).json(t)["data"].([]any); len(d) != 0 {
			t.Fatalf("other store lists %v", d)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/webhooks/" + id}, {"DELETE", "/v1/webhooks/" + id}, {"GET", "/v1/webhooks/" + id + "/deliveries"},
			{"POST", "/v1/webhooks/" + id + "/deliveries/wd_01jz0000000000000000000000/redeliver"},
		} {
			problem(t, "foreign "+c.method+" "+c.path, e.do(c.method, c.path, other.key, nil), 404, "", "no such webhook")
		}

		// Keys without webhooks:manage are refused, whatever else they may do.
		weak := e.addKey(m, apikey.InvoicesRead, apikey.InvoicesWrite, apikey.ExportsRead)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example/x", "events": []string{"*"}}},
			{"GET", "/v1/webhooks", nil}, {"GET", "/v1/webhooks/" + id, nil}, {"DELETE", "/v1/webhooks/" + id, nil},
			{"GET", "/v1/webhooks/" + id + "/deliveries", nil},
		} {
			problem(t, "weak key "+c.method+" "+c.path, e.do(c.method, c.path, weak, c.body), 403, "", apikey.WebhooksManage)
		}
		problem(t, "no key", e.do("GET", "/v1/webhooks", "", nil), 401, "", "Bearer")

		long := strings.Repeat("x", 501)
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
			text   string
		}{
			{"loopback", map[string]any{"url": "http://127.0.0.1:8080/hook", "events": []string{"*"}}, 422, "url", "loopback"},
			{"metadata", map[string]any{"url": "http://169.254.169.254/latest/meta-data/", "events": []string{"*"}}, 422, "url", "link-local"},
			{"private ipv6", map[string]any{"url": "https://[fd00::1]/hook", "events": []string{"*"}}, 422, "url", "unique local"},
			{"localhost", map[string]any{"url": "http://localhost/hook", "events": []string{"*"}}, 422, "url", "loopback"},
			{"resolves private", map[string]any{"url": "https://rebind.example/hook", "events": []string{"*"}}, 422, "url", "rebind.example resolves to a forbidden address"},
			{"resolves metadata", map[string]any{"url": "https://metadata.rebind/", "events": []string{"*"}}, 422, "url", "169.254.169.254"},
			{"unresolvable", map[string]any{"url": "https://nowhere.example/", "events": []string{"*"}}, 422, "url", "resolve nowhere.example"},
			{"scheme", map[string]any{"url": "ftp://hooks.example/x", "events": []string{"*"}}, 422, "url", "not http or https"},
			{"credentials", map[string]any{"url": "https://u:p@hooks.example/x", "events": []string{"*"}}, 422, "url", "credentials"},
			{"no url", map[string]any{"events": []string{"*"}}, 422, "url", "empty"},
			{"no events", map[string]any{"url": "https://hooks.example/x", "events": []string{}}, 422, "events", "at least one"},
			{"unknown event", map[string]any{"url": "https://hooks.example/x", "events": []string{"invoice.settled", "invoice.paid"}}, 422, "events[1]", `"invoice.paid"`},
			{"long description", map[string]any{"url": "https://hooks.example/x", "events": []string{"*"}, "description": long}, 422, "description", "500"},
			{"unknown field", map[string]any{"url": "https://hooks.example/x", "events": []string{"*"}, "secret": "mine"}, 400, "secret", "unknown field"},
			{"events not a list", map[string]any{"url": "https://hooks.example/x", "events": "*"}, 400, "events", "array of strings"},
			{"not json", "{url:", 400, "", "not valid JSON"},
		} {
			problem(t, c.name, e.do("POST", "/v1/webhooks", m.key, c.body), c.status, c.field, c.text)
		}

		// The store's limit (3 here), then delete.
		for i := range 2 {
			if r := e.do("POST", "/v1/webhooks", m.key, map[string]any{"url": fmt.Sprintf("https://hooks.example/%d", i), "events": []string{"*"}}); r.status != 201 {
				t.Fatalf("endpoint %d: %d %s", i+2, r.status, r.body)
			}
		}
		problem(t, "fourth endpoint", e.do("POST", "/v1/webhooks", m.key, map[string]any{"url": "https://hooks.example/4", "events": []string{"*"}}),
			409, "", "the limit is 3")
		if r := e.do("DELETE", "/v1/webhooks/"+id, m.key, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		problem(t, "get deleted", e.do("GET", "/v1/webhooks/"+id, m.key, nil), 404, "", "no such webhook endpoint")
		problem(t, "delete twice", e.do("DELETE", "/v1/webhooks/"+id, m.key, nil), 404, "", "no such webhook endpoint")
		if n := len(e.do("GET", "/v1/webhooks", m.key, nil).json(t)["data"].([]any)); n != 2 {
			t.Fatalf("%d endpoints after delete, want 2", n)
		}
	})
}

func TestWebhookIdempotency(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withWebhooks(16)}, func(t *testing.T, e *env) {
		m := e.newMerchant("Idem")
		body := map[string]any{"url": "https://hooks.example/a", "events": []string{"*"}}
		first := e.do("POST", "/v1/webhooks", m.key, body, "Idempotency-Key", "hook-a")
		again := e.do("POST", "/v1/webhooks", m.key, body, "Idempotency-Key", "hook-a")
		if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) ||
			first.header.Get("Idempotent-Replayed") != "" || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay:\n%d %v %s\n%d %v %s", first.status, first.header, first.body, again.status, again.header, again.body)
		}
		problem(t, "same key, other body", e.do("POST", "/v1/webhooks", m.key,
			map[string]any{"url": "https://hooks.example/b", "events": []string{"*"}}, "Idempotency-Key", "hook-a"), 409, "", "different request body")
		problem(t, "empty key", e.do("POST", "/v1/webhooks", m.key,
			map[string]any{"url": "https://hooks.example/b", "events": []string{"*"}}, "Idempotency-Key", ""), 400, "", "Idempotency-Key")
		problem(t, "bad key", e.do("POST", "/v1/webhooks", m.key, body, "Idempotency-Key", "a b"), 400, "", "Idempotency-Key")
		// A failed creation stores nothing: the key stays free for the corrected request.
		problem(t, "invalid with key", e.do("POST", "/v1/webhooks", m.key,
			map[string]any{"url": "http://10.1.2.3/", "events": []string{"*"}}, "Idempotency-Key", "hook-c"), 422, "url", "private")
		if r := e.do("POST", "/v1/webhooks", m.key, map[string]any{"url": "https://hooks.example/c", "events": []string{"*"}},
			"Idempotency-Key", "hook-c"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("corrected request: %d %v %s", r.status, r.header, r.body)
		}

		// Concurrent retries of one request create one endpoint; every answer is the same.
		const n = 8
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			bodies = map[string]int{}
		)
		for range n {
			wg.Go(func() {
				r := e.do("POST", "/v1/webhooks", m.key, map[string]any{"url": "https://hooks.example/d", "events": []string{"*"}},
					"Idempotency-Key", "hook-d")
				mu.Lock()
				defer mu.Unlock()
				if r.status != 201 {
					t.Errorf("concurrent: %d %s", r.status, r.body)
				}
				bodies[string(r.body)]++
			})
		}
		wg.Wait()
		if len(bodies) != 1 {
			t.Fatalf("concurrent retries got %d different answers: %v", len(bodies), bodies)
		}
		var urls []string
		for _, d := range e.do("GET", "/v1/webhooks", m.key, nil).json(t)["data"].([]any) {
			urls = append(urls, d.(map[string]any)["url"].(string))
		}
		if fmt.Sprint(urls) != "[https://hooks.example/a https://hooks.example/c https://hooks.example/d]" {
			t.Fatalf("endpoints after retries: %v", urls)
		}
	})
}

// hookReceiver is a merchant's webhook endpoint on loopback: it answers 503 "busy" to the
// first request and 200 to the rest, and reports each request on got.
type hookReceiver struct {
	srv *httptest.Server
	got chan []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{got: make(chan []byte, 16)}
	var (
		mu sync.Mutex
		n  int
	)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("busy"))
		} else {
			_, _ = w.Write([]byte("ok"))
		}
		h.got <- b.Bytes()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitDelivery polls the API until the endpoint's newest delivery satisfies cond.
func waitDelivery(t *testing.T, e *env, key, endpoint string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.do("GET", "/v1/webhooks/"+endpoint+"/deliveries", key, nil)
		if r.status != 200 {
			t.Fatalf("deliveries: %d %s", r.status, r.body)
		}
		if d := r.json(t)["data"].([]any); len(d) > 0 && cond(d[0].(map[string]any)) {
			return d[0].(map[string]any)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; deliveries: %s", r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withWebhooks(16)}, func(t *testing.T, e *env) {
		ctx := context.Background()
		m, other := e.newMerchant("Deliveries"), e.newMerchant("Other")
		// The endpoint listens on loopback, which the API's guard refuses: register it through
		// a service that allows private addresses (development mode).
		rc := newHookReceiver(t)
		dev, err := webhooks.NewService(e.st, &webhooks.Config{Guard: webhooks.Guard{AllowPrivate: true}})
		if err != nil {
			t.Fatal(err)
		}
		ep, err := dev.Create(ctx, m.id, rc.srv.URL+"/hook", []string{"*"}, "dev")
		if err != nil {
			t.Fatal(err)
		}
		spare, err := dev.Create(ctx, m.id, rc.srv.URL+"/spare", []string{"invoice.settled"}, "")
		if err != nil {
			t.Fatal(err)
		}
		// The real dispatcher renders payloads with the API's Snapshot; the real deliverer
		// sends them. Retries wait an hour, so the second attempt only comes from a redelivery.
		disp, err := webhooks.NewDispatcher(e.st, e.api, nil)
		if err != nil {
			t.Fatal(err)
		}
		del, err := webhooks.NewDeliverer(e.st, &webhooks.DelivererConfig{Guard: webhooks.Guard{AllowPrivate: true},
			PollInterval: 5 * time.Millisecond, Retry: webhooks.RetryPolicy{Base: time.Hour, Max: time.Hour, Window: 72 * time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		del.Start(ctx)
		t.Cleanup(del.Stop)

		inv := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "12.50", "currency": "USD", "order_id": "hook-1"})
		if inv.status != 201 {
			t.Fatalf("invoice: %d %s", inv.status, inv.body)
		}
		invID := inv.json(t)["id"].(string)
		if n, err := disp.Dispatch(ctx); err != nil || n != 1 {
			t.Fatalf("dispatch: %d %v", n, err)
		}
		sent := <-rc.got
		d := waitDelivery(t, e, m.key, ep.ID, func(d map[string]any) bool { return d["attempts"] == float64(1) })
		log := d["attempt_log"].([]any)
		a := log[0].(map[string]any)
		if d["status"] != "pending" || d["event_type"] != "invoice.created" || d["last_status_code"] != float64(503) ||
			d["next_attempt_at"] == nil || len(log) != 1 || a["status_code"] != float64(503) || a["response"] != "busy" ||
			a["manual"] != false || a["duration_ms"].(float64) < 0 {
			t.Fatalf("after a failed attempt: %v", d)
		}
		// The payload is what was sent, and its invoice is exactly what GET returns.
		var sentJSON, payload any
		if err := json.Unmarshal(sent, &sentJSON); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(d["payload"])
		_ = json.Unmarshal(raw, &payload)
		if !reflect.DeepEqual(sentJSON, payload) {
			t.Fatalf("logged payload differs from the request body:\n%s\n%s", sent, raw)
		}
		got := e.do("GET", "/v1/invoices/"+invID, m.key, nil).json(t)
		if !reflect.DeepEqual(payload.(map[string]any)["data"].(map[string]any)["invoice"], any(got)) {
			t.Fatalf("payload invoice differs from GET:\n%s\n%v", raw, got)
		}

		// Redelivery: refused for another store, another endpoint, unknown ids; then sent at once.
		redeliver := "/v1/webhooks/" + ep.ID + "/deliveries/" + d["id"].(string) + "/redeliver"
		problem(t, "other store", e.do("POST", redeliver, other.key, nil), 404, "", "no such webhook")
		problem(t, "other endpoint", e.do("POST", "/v1/webhooks/"+spare.ID+"/deliveries/"+d["id"].(string)+"/redeliver", m.key, nil), 404, "", "no such webhook delivery")
		problem(t, "unknown delivery", e.do("POST", "/v1/webhooks/"+ep.ID+"/deliveries/wd_nope/redeliver", m.key, nil), 404, "", "no such webhook delivery")
		problem(t, "body", e.do("POST", redeliver, m.key, map[string]any{"now": true}), 400, "now", "unknown field")
		problem(t, "weak key", e.do("POST", redeliver, e.addKey(m, apikey.InvoicesWrite), nil), 403, "", apikey.WebhooksManage)
		r := e.do("POST", redeliver, m.key, nil)
		if r.status != 200 || r.json(t)["status"] != "pending" || r.json(t)["id"] != d["id"] {
			t.Fatalf("redeliver: %d %s", r.status, r.body)
		}
		if again := <-rc.got; !bytes.Equal(again, sent) {
			t.Fatalf("redelivery sent another body:\n%s\n%s", again, sent)
		}
		d = waitDelivery(t, e, m.key, ep.ID, func(d map[string]any) bool { return d["status"] == "delivered" })
		log = d["attempt_log"].([]any)
		if d["attempts"] != float64(2) || d["delivered_at"] == nil || d["next_attempt_at"] != nil || len(log) != 2 ||
			log[1].(map[string]any)["manual"] != true || log[1].(map[string]any)["status_code"] != float64(200) {
			t.Fatalf("after redelivery: %v", d)
		}

		// A second event, then the list page by page, newest first.
		if r := e.do("POST", "/v1/invoices/"+invID+"/cancel", m.key, nil); r.status != 200 {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		if n, err := disp.Dispatch(ctx); err != nil || n != 1 {
			t.Fatalf("dispatch: %d %v", n, err)
		}
		<-rc.got
		newest := waitDelivery(t, e, m.key, ep.ID, func(d map[string]any) bool {
			return d["event_type"] == "invoice.invalid" && d["status"] == "delivered"
		})
		var ids []string
		path := "/v1/webhooks/" + ep.ID + "/deliveries?limit=1"
		for {
			l := e.do("GET", path, m.key, nil).json(t)
			for _, x := range l["data"].([]any) {
				ids = append(ids, x.(map[string]any)["id"].(string))
			}
			if l["has_more"] != true {
				break
			}
			path = "/v1/webhooks/" + ep.ID + "/deliveries?limit=1&cursor=" + url.QueryEscape(l["next_cursor"].(string))
		}
		if fmt.Sprint(ids) != fmt.Sprint([]string{newest["id"].(string), d["id"].(string)}) {
			t.Fatalf("paged deliveries %v", ids)
		}
		for _, q := range []struct{ query, field string }{
			{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=ten", "limit"}, {"cursor=nope", "cursor"}, {"status=failed", "status"},
		} {
			problem(t, q.query, e.do("GET", "/v1/webhooks/"+ep.ID+"/deliveries?"+q.query, m.key, nil), 400, q.field, "")
		}
	})
}

func TestSnapshotIsTheInvoiceView(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Snap")
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "7.25", "currency": "EUR", "metadata": map[string]any{"a": "<b>"}})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		g := e.do("GET", "/v1/invoices/"+id, m.key, nil)
		snap, err := e.api.Snapshot(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if string(snap) != strings.TrimSuffix(string(g.body), "\n") {
			t.Fatalf("snapshot differs from GET:\n%s\n%s", snap, g.body)
		}
		if _, err := e.api.Snapshot(context.Background(), "inv_unknown"); !errors.Is(err, invoices.ErrNotFound) {
			t.Fatalf("unknown invoice: %v", err)
		}
	})
}

func TestWebhooksAndLedgerDisabled(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Plain")
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example/x", "events": []string{"*"}}},
			{"GET", "/v1/webhooks", nil}, {"GET", "/v1/webhooks/we_x", nil}, {"DELETE", "/v1/webhooks/we_x", nil},
			{"GET", "/v1/webhooks/we_x/deliveries", nil}, {"POST", "/v1/webhooks/we_x/deliveries/wd_x/redeliver", nil},
			{"GET", "/v1/ledger/parked", nil}, {"POST", "/v1/ledger/parked/obx_x/retry", nil},
		} {
			problem(t, c.method+" "+c.path, e.do(c.method, c.path, m.key, c.body), 503, "", "not")
			problem(t, "no key "+c.method+" "+c.path, e.do(c.method, c.path, "", c.body), 401, "", "Bearer")
		}
	})
}

// FuzzWebhookAndLedgerInput sends arbitrary bodies to POST /v1/webhooks and arbitrary cursors
// to the webhook and ledger lists: every answer is a 2xx or a 4xx problem, never a 5xx.
func FuzzWebhookAndLedgerInput(f *testing.F) {
	ctx := context.Background()
	st := storetest.SQLite(f)
	inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"testchain": testChain{}}, Quoter: &quoter{}})
	if err != nil {
		f.Fatal(err)
	}
	relay, err := ledger.NewRelay(st, ledger.NewJournal(st, time.Now), ledger.RelayConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	cfg := api.Config{Store: st, Invoices: inv, Ledger: relay, Logger: slog.New(slog.DiscardHandler)}
	withWebhooks(4)(&cfg)
	srv := api.New(cfg)
	now := time.Now()
	m := store.Merchant{ID: store.NewID("sto", now), Name: "fuzz", CreatedAt: now}
	key, k := apikey.New(m.ID, apikey.All(), now)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, m); err != nil {
			return err
		}
		return tx.CreateAPIKey(ctx, k)
	}); err != nil {
		f.Fatal(err)
	}
	ep, err := cfg.Webhooks.Create(ctx, m.ID, "https://hooks.example/fuzz", []string{"*"}, "")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ body, cursor string }{
		{`{"url":"https://hooks.example/x","events":["*"]}`, ""},
		{`{"url":"https://hooks.example/x","events":["invoice.settled"],"description":"d"}`, "wd_01jz0000000000000000000000"},
		{`{"url":"http://[::1]/","events":["*"]}`, "MTIzfG9ieF94"},
		{`{"url":"https://rebind.example/","events":[]}`, "wd_"},
		{`{"url":"https://hooks.example:0/","events":["*","x"]}`, "\x00"},
		{`{"url":1}`, "%%"}, {`[]`, "|"}, {`{"events":null} {}`, ""}, {``, ""}, {`{"url":"` + strings.Repeat("a", 70000) + `"}`, ""},
	} {
		f.Add([]byte(s.body), s.cursor)
	}
	send := func(t *testing.T, method, target string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte, cursor string) {
		q := url.Values{"cursor": {cursor}}.Encode()
		for _, c := range []struct {
			method, target string
			body           []byte
			ok             []int
		}{
			{"POST", "/v1/webhooks", body, []int{201, 400, 409, 413, 415, 422}},
			{"GET", "/v1/webhooks/" + ep.ID + "/deliveries?" + q, nil, []int{200, 400}},
			{"GET", "/v1/ledger/parked?" + q, nil, []int{200, 400}},
		} {
			rec := send(t, c.method, c.target, c.body)
			if !slices.Contains(c.ok, rec.Code) {
				t.Fatalf("%s %s with %q: %d %s", c.method, c.target, body, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && ct != "application/problem+json" {
				t.Fatalf("%s %s: %d with Content-Type %q", c.method, c.target, rec.Code, ct)
			}
		}
	})
}
