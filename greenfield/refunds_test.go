package greenfield_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store/storetest"
)

// paidInvoice creates a 25.00 USD invoice with order id orderID and pays it in full,
// confirmed (60,000 USD/BTC: 0.00041667 BTC).
func (e *env) paidInvoice(m merchant, orderID string) string {
	e.t.Helper()
	var inv gfInvoice
	r := e.do("POST", "/api/v1/stores/"+m.id+"/invoices", m.key, map[string]any{"amount": "25.00", "currency": "USD",
		"metadata": map[string]any{"orderId": orderID}})
	decode(e.t, r, &inv)
	if r.status != 200 {
		e.t.Fatalf("create invoice: %d %s", r.status, r.body)
	}
	h := int64(10)
	e.pay(inv.ID, "pay_"+inv.ID, big.NewInt(41667), &h, 10)
	return inv.ID
}

// TestRefundVariants: the invoice refund route's variants become chainpay refunds with the
// documented amounts and rate policies.
func TestRefundVariants(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			m := e.newStore("Shop")
			cases := []struct {
				body             map[string]any
				amount, currency string // answered
				fiat, atomic     string // the chainpay refund
				policy           string
			}{
				{map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "RateThen"}, "0.00041667", "BTC", "2500", "41667", "original"},
				{map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "RateThen", "subtractPercentage": "10"}, "0.00037500", "BTC", "2250", "37500", "original"},
				{map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "CurrentRate"}, "25.00", "USD", "2500", "41667", "current"},
				{map[string]any{"paymentMethod": "BTC", "refundVariant": "Custom", "customAmount": "0.0001", "customCurrency": "BTC"}, "0.00010000", "BTC", "600", "10000", "original"},
				{map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "Custom", "customAmount": "5", "customCurrency": "usd"}, "5.00", "USD", "500", "8334", "current"},
			}
			for i, c := range cases {
				id := e.paidInvoice(m, "v"+string(rune('0'+i)))
				var pp gfPullPayment
				r := e.do("POST", "/api/v1/stores/"+m.id+"/invoices/"+id+"/refund", m.key, c.body)
				decode(t, r, &pp)
				refs := e.refundsOf(m.id)
				if r.status != 200 || pp.Amount != c.amount || pp.Currency != c.currency || pp.ViewLink != "https://pay.example/r/"+pp.ID ||
					len(refs) != i+1 || refs[0].ID != pp.ID || refs[0].InvoiceID != id || refs[0].AmountFiat.String() != c.fiat ||
					refs[0].AmountAtomic.String() != c.atomic || refs[0].RatePolicy != c.policy {
					t.Fatalf("case %d %v: %d %s; refund %+v", i, c.body, r.status, r.body, refs[0])
				}
			}
		})
	}
}

// TestBadRefundInputIsGreenfield422: refused refund requests answer Greenfield's shapes and
// create nothing.
func TestBadRefundInputIsGreenfield422(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Shop")
	id := e.paidInvoice(m, "2001")
	unpaid := ""
	{
		var inv gfInvoice
		decode(t, e.do("POST", "/api/v1/stores/"+m.id+"/invoices", m.key, map[string]any{"amount": "5", "currency": "USD",
			"metadata": map[string]any{"orderId": "2002"}}), &inv)
		unpaid = inv.ID
	}
	pp := "/api/v1/stores/" + m.id + "/pull-payments"
	ir := "/api/v1/stores/" + m.id + "/invoices/" + id + "/refund"
	ok := map[string]any{"name": "Refund for order no.: 2001 reason: x", "amount": "1.00", "currency": "USD", "paymentMethods": []string{"BTC-CHAIN"}}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range ok {
			out[a] = b
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name, path, key string
		body            any
		status          int
		field           string // 422: the path named; else the code
	}{
		{"no amount", pp, m.key, with("amount", nil), 422, "amount"},
		{"amount not a number", pp, m.key, with("amount", "ten"), 422, "amount"},
		{"negative amount", pp, m.key, with("amount", "-1"), 422, "amount"},
		{"over-refund", pp, m.key, with("amount", "25.01"), 422, "amount"},
		{"no currency", pp, m.key, with("currency", nil), 422, "currency"},
		{"foreign currency", pp, m.key, with("currency", "EUR"), 422, "currency"},
		{"recurring", pp, m.key, with("period", 604800), 422, "period"},
		{"lightning", pp, m.key, with("paymentMethods", []string{"BTC-LN"}), 422, "paymentMethods[0]"},
		{"no order in name", pp, m.key, with("name", "Refund"), 422, "name"},
		{"unknown order", pp, m.key, with("name", "Refund for order no.: 9999"), 422, "name"},
		{"unpaid order", pp, m.key, with("name", "Refund for order no.: 2002"), 422, "paymentMethods"},
		{"unknown field", pp, m.key, with("foo", 1), 422, "foo"},
		{"not JSON", pp, m.key, "{", 400, "invalid-request"},
		{"no refunds permission", pp, e.newKey(m.id, apikey.InvoicesRead, apikey.InvoicesWrite, apikey.WebhooksManage), ok, 403, "missing-permission"},
		{"another store", "/api/v1/stores/sto_other/pull-payments", m.key, ok, 404, "store-not-found"},
		{"invoice: no variant", ir, m.key, map[string]any{"paymentMethod": "BTC-CHAIN"}, 422, "refundVariant"},
		{"invoice: overpaid variant", ir, m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "OverpaidAmount"}, 422, "refundVariant"},
		{"invoice: no method", ir, m.key, map[string]any{"refundVariant": "RateThen"}, 422, "paymentMethod"},
		{"invoice: custom without amount", ir, m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "Custom", "customCurrency": "USD"}, 422, "customAmount"},
		{"invoice: custom too much", ir, m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "Custom", "customAmount": "0.001", "customCurrency": "BTC"}, 422, "amount"},
		{"invoice: percentage", ir, m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "RateThen", "subtractPercentage": "101"}, 422, "subtractPercentage"},
		{"invoice: unpaid", "/api/v1/stores/" + m.id + "/invoices/" + unpaid + "/refund", m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "RateThen"}, 422, "paymentMethod"},
		{"invoice: unknown", "/api/v1/stores/" + m.id + "/invoices/inv_nope/refund", m.key, map[string]any{"paymentMethod": "BTC-CHAIN", "refundVariant": "RateThen"}, 404, "invoice-not-found"},
	}
	for _, c := range cases {
		r := e.do("POST", c.path, c.key, c.body)
		if r.status != c.status {
			t.Fatalf("%s: %d, want %d\n%s", c.name, r.status, c.status, r.body)
		}
		if c.status == 422 {
			var fe []gfFieldError
			decode(t, r, &fe)
			found := false
			for _, f := range fe {
				found = found || f.Path == c.field
			}
			if !found {
				t.Fatalf("%s: %s, want a 422 on %s", c.name, r.body, c.field)
			}
		} else {
			var p gfProblem
			decode(t, r, &p)
			if p.Code != c.field {
				t.Fatalf("%s: %s, want code %s", c.name, r.body, c.field)
			}
		}
		if n := len(e.refundsOf(m.id)); n != 0 {
			t.Fatalf("%s: %d refunds created", c.name, n)
		}
	}
	_ = strings.Contains
}
