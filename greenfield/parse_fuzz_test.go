package greenfield

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
)

// FuzzParseCreateInvoice feeds arbitrary bodies to the create-invoice parser (decodeBody
// and toCreateRequest) without a database, at fuzzing speed: it never panics, refusals
// name Greenfield paths, and what it accepts is consistent.
func FuzzParseCreateInvoice(f *testing.F) {
	for _, s := range []string{
		`{"amount":"25.00","currency":"usd","metadata":{"orderId":1001},"checkout":{"speedPolicy":"LowSpeed","paymentMethods":["BTC","USDC-ETHEREUM"],"expirationMinutes":30,"monitoringMinutes":1440,"paymentTolerance":"0.5","redirectURL":"https://x.example/?o={OrderId}"}}`,
		`{"amount":1e2,"currency":"BTC","checkout":{"paymentMethods":["BTC-LN"],"defaultPaymentMethod":"BTC-CHAIN","checkoutType":"V2"}}`,
		`{"amount":"5","currency":"USD","checkout":{"paymentMethods":["USDC-BASE"]}}`,
		`{"amount":null}`, `{"checkout":{"expirationMinutes":1.5}}`, `{"metadata":[]}`, `{"metadata":{"orderId":{}}}`,
	} {
		f.Add(s)
	}
	s := New(Config{})
	assets := []money.Asset{{Code: "BTC", Scale: 8, Chain: "bitcoin"}, {Code: "ETH", Scale: 18, Chain: "ethereum"},
		{Code: "USDC", Scale: 6, Chain: "ethereum"}, {Code: "USDC", Scale: 6, Chain: "base"}}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var req createInvoiceRequest
		if e := decodeBody(r, 64<<10, &req); e != nil {
			if e.status == 0 && len(e.fields) == 0 {
				t.Fatalf("%q: empty error", body)
			}
			return
		}
		cr, bad := s.toCreateRequest(req, assets)
		for _, b := range bad {
			if b.Path == "" || b.Message == "" {
				t.Fatalf("%q: field error without path or message: %+v", body, b)
			}
		}
		if len(bad) > 0 {
			return
		}
		if cr.Amount == "" || cr.Currency == "" || cr.Currency != strings.ToUpper(cr.Currency) {
			t.Fatalf("%q accepted as %+v", body, cr)
		}
		if cr.ExpiresIn < 0 || cr.ExpiresIn > 30*24*time.Hour {
			t.Fatalf("%q: expiry %v", body, cr.ExpiresIn)
		}
		for _, m := range cr.PaymentMethods {
			// An asset on its network, one the store accepts.
			if !slices.ContainsFunc(assets, func(a money.Asset) bool { return invoices.MethodID(a) == m }) {
				t.Fatalf("%q: payment method %q", body, m)
			}
		}
	})
}

// TestPaymentMethodIDsAreNetworkScoped: USDC-BASE offers USDC on base only, not USDC on
// ethereum (chainpay's method USDC-base).
func TestPaymentMethodIDsAreNetworkScoped(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	assets := []money.Asset{{Code: "USDC", Scale: 6, Chain: "ethereum"}, {Code: "USDC", Scale: 6, Chain: "base"},
		{Code: "BTC", Scale: 8, Chain: "bitcoin"}}
	for body, want := range map[string][]string{
		`{"amount":"5","currency":"USD","checkout":{"paymentMethods":["USDC-BASE"]}}`:             {"USDC-base"},
		`{"amount":"5","currency":"USD","checkout":{"paymentMethods":["USDC-ETHEREUM","BTC"]}}`:   {"USDC-ethereum", "BTC-bitcoin"},
		`{"amount":"5","currency":"USD","checkout":{"paymentMethods":["USDC-BASE","USDC-BASE"]}}`: {"USDC-base"},
	} {
		var req createInvoiceRequest
		if e := decodeBody(httptest.NewRequest("POST", "/", strings.NewReader(body)), 64<<10, &req); e != nil {
			t.Fatalf("%s: %+v", body, e)
		}
		cr, bad := s.toCreateRequest(req, assets)
		if len(bad) > 0 || !slices.Equal(cr.PaymentMethods, want) {
			t.Errorf("%s: methods %v (%+v), want %v", body, cr.PaymentMethods, bad, want)
		}
	}
	var req createInvoiceRequest
	_ = decodeBody(httptest.NewRequest("POST", "/", strings.NewReader(`{"amount":"5","currency":"USD","checkout":{"paymentMethods":["USDC-ARBITRUM"]}}`)), 64<<10, &req)
	if _, bad := s.toCreateRequest(req, assets); len(bad) != 1 || !strings.Contains(bad[0].Message, "USDC-BASE") {
		t.Fatalf("unknown network: %+v", bad)
	}
}
