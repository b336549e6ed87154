package greenfield_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store/storetest"
)

// TestBadInvoiceInputIsGreenfield422 sends invalid create-invoice bodies: each is answered
// with Greenfield's validation shape naming the field by its Greenfield path (or a
// ProblemDetails for a body that is not JSON), and no invoice is created.
func TestBadInvoiceInputIsGreenfield422(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Shop")
	path := "/api/v1/stores/" + m.id + "/invoices"
	for _, tc := range []struct {
		name, body string
		status     int
		field      string // the path of the (first) field error, or the problem code
	}{
		{"no amount (top-up)", `{"currency":"USD"}`, 422, "amount"},
		{"amount not a number", `{"amount":"abc","currency":"USD"}`, 422, "amount"},
		{"amount object", `{"amount":{},"currency":"USD"}`, 422, "amount"},
		{"negative amount", `{"amount":"-1","currency":"USD"}`, 422, "amount"},
		{"too many decimals", `{"amount":"1.001","currency":"USD"}`, 422, "amount"},
		{"no currency", `{"amount":"1"}`, 422, "currency"},
		{"unknown currency", `{"amount":"1","currency":"XXY"}`, 422, "currency"},
		{"metadata not an object", `{"amount":"1","currency":"USD","metadata":[1]}`, 422, "metadata"},
		{"orderId object", `{"amount":"1","currency":"USD","metadata":{"orderId":{"a":1}}}`, 422, "metadata.orderId"},
		{"orderId too long", `{"amount":"1","currency":"USD","metadata":{"orderId":"` + strings.Repeat("x", 201) + `"}}`, 422, "metadata.orderId"},
		{"bad speed policy", `{"amount":"1","currency":"USD","checkout":{"speedPolicy":"Fast"}}`, 422, "checkout.speedPolicy"},
		{"lightning", `{"amount":"1","currency":"USD","checkout":{"paymentMethods":["BTC-LN"]}}`, 422, "checkout.paymentMethods[0]"},
		{"unknown method", `{"amount":"1","currency":"USD","checkout":{"paymentMethods":["BTC-CHAIN","LTC-CHAIN"]}}`, 422, "checkout.paymentMethods[1]"},
		{"expiration fractional", `{"amount":"1","currency":"USD","checkout":{"expirationMinutes":1.5}}`, 422, "checkout.expirationMinutes"},
		{"expiration zero", `{"amount":"1","currency":"USD","checkout":{"expirationMinutes":0}}`, 422, "checkout.expirationMinutes"},
		{"expiration too long", `{"amount":"1","currency":"USD","checkout":{"expirationMinutes":50000}}`, 422, "checkout.expirationMinutes"},
		{"monitoring differs", `{"amount":"1","currency":"USD","checkout":{"monitoringMinutes":60}}`, 422, "checkout.monitoringMinutes"},
		{"tolerance 100", `{"amount":"1","currency":"USD","checkout":{"paymentTolerance":100}}`, 422, "checkout.paymentTolerance"},
		{"tolerance negative", `{"amount":"1","currency":"USD","checkout":{"paymentTolerance":-1}}`, 422, "checkout.paymentTolerance"},
		{"redirect not a URL", `{"amount":"1","currency":"USD","checkout":{"redirectURL":"javascript:alert(1)"}}`, 422, "checkout.redirectURL"},
		{"redirect invoice placeholder", `{"amount":"1","currency":"USD","checkout":{"redirectURL":"https://x.example/{InvoiceId}"}}`, 422, "checkout.redirectURL"},
		{"checkout type", `{"amount":"1","currency":"USD","checkout":{"checkoutType":"V3"}}`, 422, "checkout.checkoutType"},
		{"unknown field", `{"amount":"1","currency":"USD","price":1}`, 422, "price"},
		{"unknown checkout field", `{"amount":"1","currency":"USD","checkout":{"speed":"x"}}`, 422, "speed"},
		{"wrong type", `{"amount":"1","currency":5}`, 422, "currency"},
		{"not JSON", `amount=1`, 400, "invalid-request"},
		{"empty", ``, 400, "invalid-request"},
		{"two objects", `{"amount":"1","currency":"USD"}{}`, 400, "invalid-request"},
		{"array", `[]`, 400, "invalid-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", path, m.key, tc.body)
			if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 422 {
				var errs []gfFieldError
				decode(t, r, &errs)
				if len(errs) == 0 || errs[0].Path != tc.field || errs[0].Message == "" {
					t.Fatalf("errors %+v, want path %s", errs, tc.field)
				}
			} else {
				var p gfProblem
				decode(t, r, &p)
				if p.Code != tc.field || p.Message == "" {
					t.Fatalf("problem %+v", p)
				}
			}
		})
	}
	if n := e.countInvoices(m.id); n != 0 {
		t.Fatalf("%d invoices were created by bad requests", n)
	}
	// Rates down: 503 in Greenfield's shape, nothing created.
	e.q.mu.Lock()
	e.q.down = true
	e.q.mu.Unlock()
	r := e.do("POST", path, m.key, `{"amount":"1","currency":"USD"}`)
	var p gfProblem
	decode(t, r, &p)
	if r.status != 503 || p.Code != "rates-unavailable" || e.countInvoices(m.id) != 0 {
		t.Fatalf("rates down: %d %+v", r.status, p)
	}
}

// TestAuthAndScope: keys as Greenfield clients send them; every failure in Greenfield's
// shape; another store's id is a 404; a missing permission is a 403 naming BTCPay's name.
func TestAuthAndScope(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	a, b := e.newStore("A"), e.newStore("B")
	readOnly := e.newKey(a.id, apikey.InvoicesRead)
	check := func(name string, r response, status int, code string) {
		t.Helper()
		var p gfProblem
		decode(t, r, &p)
		if r.status != status || p.Code != code || p.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", name, r.status, p, status, code)
		}
	}
	req := func(auth string) response {
		rq, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stores", nil)
		if auth != "" {
			rq.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		return response{status: resp.StatusCode, header: resp.Header, body: body}
	}
	check("no header", req(""), 401, "unauthenticated")
	check("basic", req("Basic dXNlcjpwYXNz"), 401, "unauthenticated")
	check("garbage", req("token nope"), 401, "unauthenticated")
	wrong := "x" // a different last character (the key may end in x: this check was flaky)
	if strings.HasSuffix(a.key, "x") {
		wrong = "y"
	}
	check("wrong secret", req("token "+a.key[:len(a.key)-1]+wrong), 401, "unauthenticated")
	if r := req("Bearer " + a.key); r.status != 200 {
		t.Errorf("Bearer: %d", r.status)
	}
	if r := req("token " + a.key); r.status != 200 {
		t.Errorf("token: %d", r.status)
	}
	check("other store", e.do("GET", "/api/v1/stores/"+b.id+"/payment-methods", a.key, nil), 404, "store-not-found")
	check("other store invoice", e.do("POST", "/api/v1/stores/"+b.id+"/invoices", a.key, `{"amount":"1","currency":"USD"}`), 404, "store-not-found")
	check("read-only creates", e.do("POST", "/api/v1/stores/"+a.id+"/invoices", readOnly, `{"amount":"1","currency":"USD"}`), 403, "missing-permission")
	check("read-only webhooks", e.do("GET", "/api/v1/stores/"+a.id+"/webhooks", readOnly, nil), 403, "missing-permission")
	check("unknown invoice", e.do("GET", "/api/v1/stores/"+a.id+"/invoices/inv_nope", a.key, nil), 404, "invoice-not-found")
	check("not implemented", e.do("GET", "/api/v1/stores/"+a.id+"/payouts", a.key, nil), 501, "not-supported")
	if r := e.do("GET", "/api/v1/health", "", nil); r.status != 200 || !strings.Contains(string(r.body), `"synchronized":true`) {
		t.Errorf("health: %d %s", r.status, r.body)
	}
	check("invoice list", e.do("GET", "/api/v1/stores/"+a.id+"/invoices", a.key, nil), 501, "not-supported")
	check("archive", e.do("DELETE", "/api/v1/stores/"+a.id+"/invoices/inv_x", a.key, nil), 501, "not-supported")
	// B's invoice is invisible to A's key.
	var inv gfInvoice
	decode(t, e.do("POST", "/api/v1/stores/"+b.id+"/invoices", b.key, `{"amount":"1","currency":"USD"}`), &inv)
	check("foreign invoice", e.do("GET", "/api/v1/stores/"+a.id+"/invoices/"+inv.ID, a.key, nil), 404, "invoice-not-found")
	check("foreign mark", e.do("POST", "/api/v1/stores/"+a.id+"/invoices/"+inv.ID+"/status", a.key, `{"status":"Settled"}`), 404, "invoice-not-found")
	// The all-permissions key shows canmodifystoresettings, so the plugin would (rightly)
	// refuse it as broader than it needs.
	var k gfAPIKey
	decode(t, e.do("GET", "/api/v1/api-keys/current", a.key, nil), &k)
	if !strings.Contains(strings.Join(k.Permissions, " "), "btcpay.store.canmodifystoresettings:"+a.id) {
		t.Errorf("all-permission key: %v", k.Permissions)
	}
}

// TestWebhookCRUD covers the webhook routes: defaults, a chosen secret, update, delete,
// and that chainpay-format endpoints of the store are not reachable through them.
func TestWebhookCRUD(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Shop")
	base := "/api/v1/stores/" + m.id + "/webhooks"
	var wh gfWebhook
	r := e.do("POST", base, m.key, `{"url":"https://shop.example/hook","secret":"0123456789abcdef-secret"}`)
	decode(t, r, &wh)
	if r.status != 200 || !wh.AuthorizedEvents.Everything || wh.Secret != "0123456789abcdef-secret" || !wh.AutomaticRedelivery {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ body, path string }{
		{`{"url":""}`, "url"},
		{`{"url":"https://shop.example/h","secret":"short"}`, "secret"},
		{`{"url":"https://shop.example/h","authorizedEvents":{"everything":false,"specificEvents":["PayoutCreated"]}}`, "authorizedEvents.specificEvents[0]"},
		{`{"url":"https://shop.example/h","authorizedEvents":{"everything":false,"specificEvents":[]}}`, "authorizedEvents.specificEvents"},
		{`{"url":"ftp://shop.example/h"}`, "url"},
		{`{"url":"https://shop.example/h","enabled":"yes"}`, "enabled"},
	} {
		r := e.do("POST", base, m.key, tc.body)
		var errs []gfFieldError
		decode(t, r, &errs)
		if r.status != 422 || len(errs) == 0 || errs[0].Path != tc.path {
			t.Errorf("%s: %d %s", tc.body, r.status, r.body)
		}
	}
	// InvoicePaymentSettled alone is a subscription chainpay serves (invoice.payment_confirmed).
	var only gfWebhook
	r = e.do("POST", base, m.key, `{"url":"https://shop.example/settled","authorizedEvents":{"everything":false,"specificEvents":["InvoicePaymentSettled"]}}`)
	decode(t, r, &only)
	if r.status != 200 || only.AuthorizedEvents.Everything || strings.Join(only.AuthorizedEvents.SpecificEvents, ",") != "InvoicePaymentSettled" {
		t.Fatalf("InvoicePaymentSettled only: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", base+"/"+only.ID, m.key, nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = e.do("PUT", base+"/"+wh.ID, m.key, `{"url":"https://shop.example/hook2","enabled":false,"authorizedEvents":{"everything":false,"specificEvents":["InvoiceSettled"]}}`)
	wh = gfWebhook{}
	decode(t, r, &wh)
	if r.status != 200 || wh.URL != "https://shop.example/hook2" || wh.Enabled || wh.AuthorizedEvents.Everything ||
		strings.Join(wh.AuthorizedEvents.SpecificEvents, ",") != "InvoiceSettled" || wh.Secret != "" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	var list []gfWebhook
	decode(t, e.do("GET", base, m.key, nil), &list)
	if len(list) != 1 {
		t.Fatalf("list: %+v", list)
	}
	// A chainpay-format endpoint of the same store is not a Greenfield webhook.
	own, err := e.hooks.Create(context.Background(), m.id, "https://shop.example/chainpay", []string{"*"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", base+"/"+own.ID, m.key, nil); r.status != 404 {
		t.Fatalf("delete of a chainpay endpoint: %d", r.status)
	}
	decode(t, e.do("GET", base, m.key, nil), &list)
	if len(list) != 1 {
		t.Fatalf("list with a chainpay endpoint: %+v", list)
	}
	if r := e.do("DELETE", base+"/"+wh.ID, m.key, nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", base+"/"+wh.ID, m.key, nil); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
}

var hiddenInput = regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`)

// TestAuthorizeFlow is the plugin's one-click setup: the page lists what is asked, an admin
// key approves, the new key (with exactly the granted permissions) is POSTed back to the
// redirect URL. A shop key cannot approve, nothing is granted beyond the approver's
// permissions, and a bad redirect gets no key.
func TestAuthorizeFlow(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Shop") // m.key has every permission: an admin key
	q := url.Values{"applicationName": {"WooCommerce"}, "strict": {"true"}, "selectiveStores": {"true"},
		"redirect": {"https://shop.example/?btcpay-settings-callback"},
		"permissions": {"btcpay.store.canviewinvoices", "btcpay.store.cancreateinvoice", "btcpay.store.canviewstoresettings",
			"btcpay.store.canmodifyinvoices", "btcpay.store.cancreatenonapprovedpullpayments", "btcpay.store.webhooks.canmodifywebhooks"}}
	page := func(method string, form url.Values) response {
		var r *http.Request
		if method == "GET" {
			r, _ = http.NewRequest("GET", e.srv.URL+"/api-keys/authorize?"+form.Encode(), nil)
		} else {
			r, _ = http.NewRequest("POST", e.srv.URL+"/api-keys/authorize", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 8192)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return response{status: resp.StatusCode, header: resp.Header, body: []byte(sb.String())}
	}
	r := page("GET", q)
	body := string(r.body)
	if r.status != 200 || !strings.Contains(body, "WooCommerce") || !strings.Contains(body, "shop.example") ||
		!strings.Contains(body, "cancreatenonapprovedpullpayments</code> — chainpay <code>refunds:write</code>") ||
		r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("page: %d %s", r.status, body)
	}
	// Refusals: no key, a shop key, a bad redirect.
	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("admin_key", "cpk_nope")
	noKey := func(name string, r response, status int) {
		t.Helper()
		if r.status != status || strings.Contains(string(r.body), `name="apiKey"`) || strings.Contains(string(r.body), `id="key"`) {
			t.Fatalf("%s: %d, want %d and no key\n%s", name, r.status, status, r.body)
		}
	}
	noKey("bad admin key", page("POST", form), 401)
	form.Set("admin_key", e.newKey(m.id, apikey.InvoicesRead, apikey.InvoicesWrite, apikey.WebhooksManage))
	noKey("shop key approves", page("POST", form), 403)
	form.Set("admin_key", m.key)
	form.Set("redirect", "javascript:alert(1)")
	noKey("bad redirect", page("POST", form), 400)
	// Approval.
	form.Set("redirect", "https://shop.example/?btcpay-settings-callback")
	r = page("POST", form)
	body = string(r.body)
	if r.status != 200 || !strings.Contains(body, `action="https://shop.example/?btcpay-settings-callback"`) ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "form-action 'self' https://shop.example") {
		t.Fatalf("approve: %d %s", r.status, body)
	}
	var key string
	var perms []string
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		switch m[1] {
		case "apiKey":
			key = m[2]
		case "permissions[]":
			perms = append(perms, m[2])
		}
	}
	var k gfAPIKey
	decode(t, e.do("GET", "/api/v1/api-keys/current", key, nil), &k)
	if strings.Join(k.Permissions, ",") != strings.Join(perms, ",") || len(perms) != 6 || !slices.Contains(perms, "btcpay.store.cancreatenonapprovedpullpayments:"+m.id) {
		t.Fatalf("posted back %v, key has %v", perms, k.Permissions)
	}
	for _, p := range perms {
		if !strings.HasSuffix(p, ":"+m.id) || strings.Contains(p, "storesettings:") && !strings.Contains(p, "canview") {
			t.Fatalf("permission %s", p)
		}
	}
}
