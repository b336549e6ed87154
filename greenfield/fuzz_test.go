package greenfield_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/store/storetest"
)

// FuzzRequestBodies sends arbitrary bodies to every Greenfield route that parses one: the
// answer is never a 5xx, always JSON in Greenfield's shapes, and a refused create-invoice
// or create-webhook leaves nothing behind.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"amount":"25.00","currency":"USD","metadata":{"orderId":"1001"},"checkout":{"speedPolicy":"MediumSpeed","paymentMethods":["BTC-CHAIN"]}}`,
		`{"amount":25.5,"currency":"eur","checkout":{"expirationMinutes":30,"monitoringMinutes":1440,"paymentTolerance":0.5,"redirectURL":"https://x.example/{OrderId}"}}`,
		`{"amount":"1e3","currency":"USD"}`, `{"amount":null}`, `{"checkout":null,"receipt":{"enabled":true}}`,
		`{"url":"https://shop.example/h","authorizedEvents":{"everything":false,"specificEvents":["InvoiceSettled"]},"secret":"0123456789abcdefghij"}`,
		`{"status":"Settled"}`, `{"status":"Invalid"}`, `[]`, `null`, `"x"`, `{"amount":{"$gt":1}}`, "{\"amount\":\"1\x00\"}",
		`{"metadata":{"orderId":12345678901234567890}}`, `{"checkout":{"expirationMinutes":"1e400"}}`,
		`{"amount":"0.000000001","currency":"BTC"}`, `{"amount":"99999999999999999999999999","currency":"USD"}`,
	} {
		f.Add(s)
	}
	e := setup(f, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Fuzz")
	var inv gfInvoice
	decode(f, e.do("POST", "/api/v1/stores/"+m.id+"/invoices", m.key, `{"amount":"5","currency":"USD"}`), &inv)
	routes := []string{"/invoices", "/webhooks", "/invoices/" + inv.ID + "/status"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, route := range routes {
			before := e.countIn(t, m.id)
			hooksBefore := len(mustList(t, e, m.id))
			req := httptest.NewRequest("POST", "/api/v1/stores/"+m.id+route, strings.NewReader(body))
			req.Header.Set("Authorization", "token "+m.key)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %q: %d %s", route, body, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("%s %q: not JSON: %s", route, body, rec.Body)
			}
			if rec.Code != http.StatusOK {
				var p struct {
					Code, Message string
				}
				var errs []struct{ Path, Message string }
				if json.Unmarshal(rec.Body.Bytes(), &p) != nil && json.Unmarshal(rec.Body.Bytes(), &errs) != nil {
					t.Fatalf("%s %q: %d is not a Greenfield error: %s", route, body, rec.Code, rec.Body)
				}
				if e.countIn(t, m.id) != before || len(mustList(t, e, m.id)) != hooksBefore {
					t.Fatalf("%s %q: refused (%d) but changed something", route, body, rec.Code)
				}
			}
		}
	})
}

func mustList(t testing.TB, e *env, storeID string) []string {
	eps, err := e.hooks.List(t.Context(), storeID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ep := range eps {
		ids = append(ids, ep.ID)
	}
	return ids
}
