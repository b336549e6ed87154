package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// each runs fn as a parallel subtest per storage backend.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, b))
		})
	}
}

func TestCreateGetList(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Coffee")
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{
			"amount": "25.00", "currency": "USD", "order_id": "o-1", "metadata": map[string]any{"sku": "espresso"},
			"expires_in": 600, "redirect_url": "https://shop.example/thanks"})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		inv := r.json(t)
		id := inv["id"].(string)
		if inv["status"] != "new" || inv["amount"] != "25.00" || inv["currency"] != "USD" ||
			inv["checkout_url"] != "https://pay.example/i/"+id {
			t.Fatalf("created invoice: %s", r.body)
		}
		opt := inv["payment_options"].([]any)[0].(map[string]any)
		// 25.00 / 60000.12 = 0.000416665833..., rounded UP to 8 decimals.
		if opt["amount_due"] != "0.00041667" || opt["amount_due_atomic"] != "41667" || opt["asset"] != "TBTC" {
			t.Fatalf("option: %v", opt)
		}
		if !strings.HasPrefix(opt["address"].(string), "tst1") || opt["payment_uri"] != "test:"+opt["address"].(string)+"?amount=0.00041667" {
			t.Fatalf("address/uri: %v", opt)
		}
		g := e.do("GET", "/v1/invoices/"+id, m.key, nil)
		if g.status != http.StatusOK || string(g.body) != string(r.body) {
			t.Fatalf("get differs from create:\n%s\n%s", g.body, r.body)
		}
		for i := range 4 {
			if r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": fmt.Sprint(i + 1), "currency": "USD"}); r.status != 201 {
				t.Fatalf("create %d: %d %s", i, r.status, r.body)
			}
		}
		// Page through 2 at a time.
		var ids []string
		path := "/v1/invoices?limit=2"
		for pages := 0; ; pages++ {
			l := e.do("GET", path, m.key, nil)
			if l.status != 200 {
				t.Fatalf("list: %d %s", l.status, l.body)
			}
			v := l.json(t)
			for _, d := range v["data"].([]any) {
				ids = append(ids, d.(map[string]any)["id"].(string))
			}
			if v["has_more"] != true {
				break
			}
			path = "/v1/invoices?limit=2&cursor=" + url.QueryEscape(v["next_cursor"].(string))
		}
		if len(ids) != 5 || ids[4] != id {
			t.Fatalf("listed %v; want 5 invoices, the first created last", ids)
		}
		l := e.do("GET", "/v1/invoices?order_id=o-1&status=new", m.key, nil).json(t)
		if d := l["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != id {
			t.Fatalf("filter by order id: %v", l)
		}
		for _, sub := range []string{"payments", "events"} {
			r := e.do("GET", "/v1/invoices/"+id+"/"+sub, m.key, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", sub, r.status, r.body)
			}
			if sub == "events" {
				d := r.json(t)["data"].([]any)
				if len(d) != 1 || d[0].(map[string]any)["type"] != "invoice.created" {
					t.Fatalf("events: %s", r.body)
				}
			}
		}
	})
}

func TestIdempotencyParallel(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Idem")
		body := map[string]any{"amount": "10.00", "currency": "USD", "order_id": "same"}
		const n = 50
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ids      = map[string]int{}
			replayed int
		)
		for range n {
			wg.Go(func() {
				r := e.do("POST", "/v1/invoices", m.key, body, "Idempotency-Key", "order-same-1")
				mu.Lock()
				defer mu.Unlock()
				if r.status != http.StatusCreated {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				ids[r.json(t)["id"].(string)]++
				if r.header.Get("Idempotent-Replayed") == "true" {
					replayed++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || replayed != n-1 {
			t.Fatalf("%d distinct invoices (%v), %d replays; want 1 and %d", len(ids), ids, replayed, n-1)
		}
		l := e.do("GET", "/v1/invoices", m.key, nil).json(t)
		if got := len(l["data"].([]any)); got != 1 {
			t.Fatalf("store holds %d invoices, want 1", got)
		}
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "11.00", "currency": "USD"}, "Idempotency-Key", "order-same-1")
		if r.status != http.StatusConflict || r.json(t)["type"] != "/problems/idempotency-key-reused" {
			t.Fatalf("same key, other body: %d %s", r.status, r.body)
		}
		// Keys are per store: another merchant may use the same key.
		other := e.newMerchant("Other")
		if r := e.do("POST", "/v1/invoices", other.key, body, "Idempotency-Key", "order-same-1"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("other store, same key: %d %v", r.status, r.header)
		}
	})
}

func TestBadInputIsA4xxAndChangesNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Strict")
		cases := []struct {
			name, body string
			status     int
			field      string
		}{
			{"empty body", ``, 400, ""},
			{"malformed", `{"amount":"1.00",`, 400, ""},
			{"not an object", `["amount"]`, 400, ""},
			{"two objects", `{"amount":"1.00","currency":"USD"}{}`, 400, ""},
			{"unknown field", `{"amount":"1.00","currency":"USD","colour":"red"}`, 400, "colour"},
			{"amount as number", `{"amount":1.5,"currency":"USD"}`, 400, "amount"},
			{"currency as number", `{"amount":"1.00","currency":840}`, 400, "currency"},
			{"negative", `{"amount":"-1.00","currency":"USD"}`, 422, "amount"},
			{"zero", `{"amount":"0.00","currency":"USD"}`, 422, "amount"},
			{"too precise", `{"amount":"1.001","currency":"USD"}`, 422, "amount"},
			{"JPY has no decimals", `{"amount":"100.5","currency":"JPY"}`, 422, "amount"},
			{"exponent", `{"amount":"1e3","currency":"USD"}`, 422, "amount"},
			{"thousands separator", `{"amount":"1,000.00","currency":"USD"}`, 422, "amount"},
			{"missing amount", `{"currency":"USD"}`, 422, "amount"},
			{"missing currency", `{"amount":"1.00"}`, 422, "currency"},
			{"unknown currency", `{"amount":"1.00","currency":"XYZ"}`, 422, "currency"},
			{"metadata not object", `{"amount":"1.00","currency":"USD","metadata":[1]}`, 422, "metadata"},
			{"metadata too large", `{"amount":"1.00","currency":"USD","metadata":{"x":"` + strings.Repeat("a", 5000) + `"}}`, 422, "metadata"},
			{"expires_in too short", `{"amount":"1.00","currency":"USD","expires_in":5}`, 422, "expires_in"},
			{"expires_in negative", `{"amount":"1.00","currency":"USD","expires_in":-60}`, 422, "expires_in"},
			{"redirect not http", `{"amount":"1.00","currency":"USD","redirect_url":"javascript:alert(1)"}`, 422, "redirect_url"},
			{"method not enabled", `{"amount":"1.00","currency":"USD","payment_methods":["XMR"]}`, 422, "payment_methods"},
			{"bad tolerance", `{"amount":"1.00","currency":"USD","tolerance_percent":"150"}`, 422, "tolerance_percent"},
			{"confirmations unknown chain", `{"amount":"1.00","currency":"USD","confirmations":{"dogecoin":1}}`, 422, "confirmations"},
			{"body too large", `{"amount":"1.00","currency":"USD","order_id":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		}
		for _, tc := range cases {
			r := e.do("POST", "/v1/invoices", m.key, tc.body)
			if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: got %d %s %s, want %d problem", tc.name, r.status, r.header.Get("Content-Type"), truncate(r.body), tc.status)
				continue
			}
			p := r.json(t)
			if p["type"] == "" || p["detail"] == "" {
				t.Errorf("%s: problem lacks type/detail: %s", tc.name, r.body)
			}
			if tc.field != "" && !strings.Contains(string(r.body), `"field":"`+tc.field+`"`) {
				t.Errorf("%s: problem does not name field %q: %s", tc.name, tc.field, truncate(r.body))
			}
		}
		r := e.do("POST", "/v1/invoices", m.key, `{"amount":"1.00"}`, "Content-Type", "text/plain")
		if r.status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain body: %d", r.status)
		}
		for _, q := range []string{"status=paid", "limit=0", "limit=101", "limit=x", "created_from=yesterday", "cursor=%21%21", "colour=red"} {
			if r := e.do("GET", "/v1/invoices?"+q, m.key, nil); r.status != 400 {
				t.Errorf("list ?%s: %d %s", q, r.status, r.body)
			}
		}
		if r := e.do("DELETE", "/v1/invoices", m.key, nil); r.status != 405 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("DELETE /v1/invoices: %d %s", r.status, r.header.Get("Content-Type"))
		}
		l := e.do("GET", "/v1/invoices", m.key, nil).json(t)
		if n := len(l["data"].([]any)); n != 0 {
			t.Fatalf("bad requests created %d invoices", n)
		}
	})
}

func TestRatesUnavailableIs503(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Rates")
		e.quoter.mu.Lock()
		e.quoter.down = true
		e.quoter.mu.Unlock()
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD"})
		if r.status != 503 || r.json(t)["type"] != "/problems/rates-unavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		// A crypto-priced invoice needs no rate.
		r = e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "0.001", "currency": "TBTC"})
		if r.status != 201 || r.json(t)["payment_options"].([]any)[0].(map[string]any)["amount_due_atomic"] != "100000" {
			t.Fatalf("crypto-priced invoice: %d %s", r.status, r.body)
		}
	})
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.newMerchant("A")
		b := e.newMerchant("B")
		inv := e.do("POST", "/v1/invoices", a.key, map[string]any{"amount": "5.00", "currency": "USD"}).json(t)
		id := inv["id"].(string)

		last := "0"
		if strings.HasSuffix(a.key, "0") {
			last = "1"
		}
		for _, key := range []string{"", "cpk_notakey", a.key[:len(a.key)-1] + last, "Basic abc"} {
			if r := e.do("GET", "/v1/invoices/"+id, key, nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("key %q: got %d, want 401", key, r.status)
			}
		}
		// Store B sees nothing of store A: 404, never 403, for every verb.
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/invoices/" + id, ""},
			{"GET", "/v1/invoices/" + id + "/payments", ""},
			{"GET", "/v1/invoices/" + id + "/events", ""},
			{"POST", "/v1/invoices/" + id + "/cancel", ""},
			{"POST", "/v1/invoices/" + id + "/resolve", `{"status":"settled","reason":"paid by wire"}`},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			if r := e.do(c.method, c.path, b.key, body); r.status != 404 {
				t.Errorf("store B %s %s: got %d, want 404", c.method, c.path, r.status)
			}
		}
		if l := e.do("GET", "/v1/invoices", b.key, nil).json(t); len(l["data"].([]any)) != 0 {
			t.Errorf("store B lists store A's invoices")
		}
		// A's invoice is untouched by B's attempts.
		if got := e.do("GET", "/v1/invoices/"+id, a.key, nil).json(t); got["status"] != "new" {
			t.Errorf("store B changed store A's invoice: %v", got["status"])
		}
		// Missing permission: 403.
		ro := e.newMerchant("RO", apikey.InvoicesRead)
		if r := e.do("POST", "/v1/invoices", ro.key, map[string]any{"amount": "5.00", "currency": "USD"}); r.status != 403 {
			t.Errorf("read-only key creating: %d", r.status)
		}
		wo := e.newMerchant("WO", apikey.InvoicesWrite)
		if r := e.do("GET", "/v1/invoices", wo.key, nil); r.status != 403 {
			t.Errorf("write-only key listing: %d", r.status)
		}
	})
}

func TestCancelAndResolve(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Life")
		id := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD"}).json(t)["id"].(string)
		r := e.do("POST", "/v1/invoices/"+id+"/cancel", m.key, nil)
		if r.status != 200 || r.json(t)["status"] != "invalid" {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/invoices/"+id+"/cancel", m.key, nil); r.status != 409 {
			t.Fatalf("cancel twice: %d %s", r.status, r.body)
		}
		r = e.do("POST", "/v1/invoices/"+id+"/resolve", m.key, map[string]any{"status": "settled", "reason": "paid by bank transfer"})
		if r.status != 200 {
			t.Fatalf("resolve: %d %s", r.status, r.body)
		}
		v := r.json(t)
		if v["status"] != "settled" || v["resolution_reason"] != "paid by bank transfer" || !strings.Contains(fmt.Sprint(v["flags"]), "marked") {
			t.Fatalf("resolved: %s", r.body)
		}
		for _, body := range []string{`{"status":"settled"}`, `{"status":"paid","reason":"x"}`, `{"status":"settled","reason":"  "}`} {
			if r := e.do("POST", "/v1/invoices/"+id+"/resolve", m.key, body); r.status != 422 {
				t.Errorf("resolve %s: %d %s", body, r.status, r.body)
			}
		}
		if r := e.do("POST", "/v1/invoices/"+id+"/resolve", m.key, `{"status":"settled","reason":"again"}`); r.status != 409 {
			t.Errorf("resolve to the same status: %d %s", r.status, r.body)
		}
		evs := e.do("GET", "/v1/invoices/"+id+"/events", m.key, nil).json(t)["data"].([]any)
		var types []string
		for _, ev := range evs {
			types = append(types, ev.(map[string]any)["type"].(string))
		}
		if got := strings.Join(types, ","); got != "invoice.created,invoice.invalid,invoice.resolved,invoice.settled" {
			t.Fatalf("events %s", got)
		}
		if r := e.do("GET", "/v1/invoices/inv_doesnotexist", m.key, nil); r.status != 404 {
			t.Fatalf("unknown id: %d", r.status)
		}
	})
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	r := e.do("GET", "/openapi.yaml", "", nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "openapi: 3") {
		t.Fatalf("GET /openapi.yaml: %d", r.status)
	}
}

// TestIdempotentReplayIsFaithful: a key that holds a response replays it even when the
// request could not be priced or validated now; an empty or repeated header is a 400.
func TestIdempotentReplayIsFaithful(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Faithful")
		body := map[string]any{"amount": "10.00", "currency": "USD"}
		first := e.do("POST", "/v1/invoices", m.key, body, "Idempotency-Key", "k-1")
		if first.status != 201 {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		e.quoter.mu.Lock()
		e.quoter.down = true
		e.quoter.mu.Unlock()
		again := e.do("POST", "/v1/invoices", m.key, body, "Idempotency-Key", "k-1")
		if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, first.body) {
			t.Fatalf("retry while rates are down: %d %s", again.status, again.body)
		}
		problem(t, "same key, other body, rates down", e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "11.00", "currency": "USD"},
			"Idempotency-Key", "k-1"), 409, "", "different request body")
		// Without the key the rates outage shows.
		problem(t, "new request, rates down", e.do("POST", "/v1/invoices", m.key, body), 503, "", "retry shortly")
		// An empty key is not "no key".
		problem(t, "empty key", e.do("POST", "/v1/invoices", m.key, body, "Idempotency-Key", ""), 400, "", "Idempotency-Key")
	})
}

// TestAmountBounds: a tolerance floor at or above the price, an amount below a chain's dust
// limit and an amount above the store's maximum are 422s naming the field.
func TestAmountBounds(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Bounds")
		for _, floor := range []string{"5.00", "6.00"} {
			problem(t, "floor "+floor, e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "tolerance_floor": floor}),
				422, "tolerance_floor", "less than the amount")
		}
		if r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "tolerance_floor": "4.99"}); r.status != 201 {
			t.Errorf("floor below the price: %d %s", r.status, r.body)
		}

		// Dust: 0.01 USD is 17 sat at 60000.12 USD/BTC, below the 294 sat a P2WPKH output needs.
		if r := e.do("POST", "/v1/wallets", m.key, map[string]any{"chain": "bitcoin", "key": testZpub}); r.status != 201 {
			t.Fatalf("add wallet: %d %s", r.status, r.body)
		}
		problem(t, "17 sat asked for", e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "0.01", "currency": "USD", "payment_methods": []string{"BTC"}}),
			422, "amount", "0.00000017 BTC is below the smallest payable BTC amount (0.00000294)")
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "0.01", "currency": "USD"})
		if r.status != 201 {
			t.Fatalf("dust option among others: %d %s", r.status, r.body)
		}
		for _, o := range r.json(t)["payment_options"].([]any) {
			if o.(map[string]any)["asset"] == "BTC" {
				t.Errorf("an unpayable BTC option was offered: %v", o)
			}
		}
		r = e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "0.18", "currency": "USD", "payment_methods": []string{"BTC"}})
		if r.status != 201 {
			t.Errorf("300 sat: %d %s", r.status, r.body)
		}

		// A per-store maximum (chainpay store set --max-amount USD=100.00).
		if err := e.st.Tx(context.Background(), func(tx store.Tx) error {
			return tx.SetMerchantSettings(context.Background(), m.id, `{"max_amount":{"USD":"100.00"}}`)
		}); err != nil {
			t.Fatal(err)
		}
		problem(t, "above the maximum", e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "100.01", "currency": "USD"}),
			422, "amount", "above this store's maximum of 100.00 USD")
		for _, c := range []map[string]any{{"amount": "100.00", "currency": "USD"}, {"amount": "5000.00", "currency": "EUR"}} {
			if r := e.do("POST", "/v1/invoices", m.key, c); r.status != 201 {
				t.Errorf("%v: %d %s", c, r.status, r.body)
			}
		}
	})
}

// TestHostileInput: control characters and invalid UTF-8 (body, query, path), duplicate
// keys, keys in the wrong case and wrong types are 400s naming every bad field at once, and
// nothing is stored.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Hostile")
		fields := func(r response) []string {
			var p api.Problem
			_ = json.Unmarshal(r.body, &p)
			var out []string
			for _, f := range p.Errors {
				out = append(out, f.Field)
			}
			return out
		}
		for _, c := range []struct {
			name, body string
			status     int
			fields     []string
		}{
			{"NUL in order_id", `{"amount":"1.00","currency":"USD","order_id":"a\u0000b"}`, 400, []string{"order_id"}},
			{"escape in metadata", `{"amount":"1.00","currency":"USD","metadata":{"note":"x\u001by"}}`, 400, []string{"metadata.note"}},
			{"invalid UTF-8", "{\"amount\":\"1.00\",\"currency\":\"USD\",\"order_id\":\"\xff\xfe\"}", 400, nil},
			{"duplicate key", `{"amount":"1.00","amount":"1000.00","currency":"USD"}`, 400, []string{"amount"}},
			{"duplicate nested key", `{"amount":"1.00","currency":"USD","metadata":{"a":1,"a":2}}`, 400, []string{"metadata.a"}},
			{"key in another case", `{"Amount":"1.00","currency":"USD"}`, 400, []string{"Amount"}},
			{"two wrong types", `{"amount":1,"currency":2,"expires_in":"600"}`, 400, []string{"amount", "currency", "expires_in"}},
			{"every field error at once", `{"amount":"abc","currency":"USD","expires_in":-5,"redirect_url":"ftp://x","tolerance_percent":"150"}`, 422,
				[]string{"amount", "expires_in", "redirect_url", "tolerance_percent"}},
		} {
			r := e.do("POST", "/v1/invoices", m.key, c.body)
			if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %d %s", c.name, r.status, r.body)
				continue
			}
			if got := fields(r); fmt.Sprint(got) != fmt.Sprint(c.fields) {
				t.Errorf("%s: fields %v, want %v: %s", c.name, got, c.fields, r.body)
			}
		}
		for _, path := range []string{"/v1/invoices?order_id=a%00b", "/v1/invoices?order_id=%ff", "/v1/invoices/inv_%00", "/v1/invoices?x%01=1"} {
			problem(t, path, e.do("GET", path, m.key, nil), 400, "", "not allowed")
		}
		if l := e.do("GET", "/v1/invoices", m.key, nil).json(t); len(l["data"].([]any)) != 0 {
			t.Errorf("hostile requests stored invoices: %v", l["data"])
		}
	})
}

// TestSlowBodyTimesOut: a body trickling in one byte at a time is cut off after the body
// timeout with a 408 problem instead of holding the connection.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b, func(c *api.Config) { c.BodyTimeout = 300 * time.Millisecond })
			m := e.newMerchant("Slow")
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			fmt.Fprintf(conn, "POST /v1/invoices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", m.key)
			done := make(chan struct{})
			go func() { // one byte every 50 ms, for up to 10 s
				for range 200 {
					select {
					case <-done:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			defer close(done)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a slow body: %v", err)
			}
			resp.Body.Close()
			if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 2*time.Second {
				t.Fatalf("slow body: %d after %v, want 408 within 2 s", resp.StatusCode, took)
			}
		})
	}
}

// TestFormBodiesGetAHelpfulProblem: a form-encoded body (Stripe style, or curl -d) is a 415
// that explains JSON and major-unit decimal amounts, and creates nothing.
func TestFormBodiesGetAHelpfulProblem(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Form")
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			r := e.do("POST", "/v1/invoices", m.key, []byte("amount=2500&currency=usd"), "Content-Type", ct)
			problem(t, ct, r, 415, "", `\"2500\" means 2,500.00`)
		}
		// docs/migrating-from-btcpay.md: a Greenfield body is refused field by field.
		r := e.do("POST", "/v1/invoices", m.key, `{"amount":25,"currency":"USD","checkout":{"speedPolicy":"HighSpeed"}}`)
		var p api.Problem
		_ = json.Unmarshal(r.body, &p)
		if r.status != 400 || len(p.Errors) != 2 || p.Errors[0].Field != "amount" || p.Errors[1].Field != "checkout" {
			t.Errorf("Greenfield body: %d %s", r.status, r.body)
		}
		// docs/migrating-from-stripe.md: a lower-case currency says why.
		problem(t, "usd", e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "25.00", "currency": "usd"}), 422, "currency", "upper case")
		if l := e.do("GET", "/v1/invoices", m.key, nil).json(t); len(l["data"].([]any)) != 0 {
			t.Errorf("a form body created an invoice")
		}
	})
}
