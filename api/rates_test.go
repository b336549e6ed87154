package api_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestRates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fresh, err := rates.NewFixed("fixed", map[rates.Pair]decimal.Decimal{{Base: "BTC", Quote: "USD"}: decimal.RequireFromString("61234.5")}, clock)
	if err != nil {
		t.Fatal(err)
	}
	// A source whose quotes are an hour old: stale for EUR.
	old, err := rates.NewFixed("old", map[rates.Pair]decimal.Decimal{{Base: "BTC", Quote: "EUR"}: decimal.RequireFromString("55000")},
		func() time.Time { return now.Add(-time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rates.New([]rates.Source{fresh, old}, rates.Config{MaxAge: time.Minute, MinSources: 1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	svc, err := invoices.New(e.st, invoices.Config{Chains: map[string]invoices.Chain{"testchain": testChain{}}, Quoter: e.quoter})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: e.st, Invoices: svc, Rates: rs}))
	t.Cleanup(srv.Close)
	e.srv = srv
	m := e.newMerchant("Rates")

	r := e.do("GET", "/v1/rates?base=BTC&quote=USD", m.key, nil)
	if r.status != 200 {
		t.Fatalf("BTC/USD: %d %s", r.status, r.body)
	}
	v := r.json(t)
	if v["rate"] != "61234.5" || v["method"] != "median" || len(v["sources"].([]any)) != 1 {
		t.Fatalf("BTC/USD: %s", r.body)
	}
	if r := e.do("GET", "/v1/rates?base=BTC&quote=EUR", m.key, nil); r.status != 503 || r.json(t)["type"] != "/problems/rates-unavailable" {
		t.Fatalf("stale BTC/EUR: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/rates?base=XMR&quote=USD", m.key, nil); r.status != 422 {
		t.Fatalf("unquoted pair: %d %s", r.status, r.body)
	}
	for _, q := range []string{"base=BTC", "base=btc&quote=USD", "base=BTC&quote=XXX", ""} {
		if r := e.do("GET", "/v1/rates?"+q, m.key, nil); r.status != 400 {
			t.Fatalf("?%s: %d %s", q, r.status, r.body)
		}
	}
	if r := e.do("GET", "/v1/rates?base=BTC&quote=USD", "", nil); r.status != 401 {
		t.Fatalf("no key: %d", r.status)
	}
}
