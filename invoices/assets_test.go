package invoices_test

import (
	"testing"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
)

func TestMethodMatches(t *testing.T) {
	t.Parallel()
	usdcBase := money.Asset{Code: "USDC", Scale: 6, Chain: "base"}
	usdcEth := money.Asset{Code: "USDC", Scale: 6, Chain: "ethereum"}
	btc := money.Asset{Code: "BTC", Scale: 8, Chain: "bitcoin"}
	for _, tc := range []struct {
		m    string
		a    money.Asset
		want bool
	}{
		{"USDC", usdcBase, true}, {"USDC", usdcEth, true},
		{"USDC-base", usdcBase, true}, {"USDC-BASE", usdcBase, true}, {"USDC-Base", usdcBase, true},
		{"USDC-base", usdcEth, false}, {"USDC-ethereum", usdcEth, true},
		{"USDT-base", usdcBase, false}, {"usdc-base", usdcBase, false}, {"USDC-", usdcBase, false},
		{"-base", usdcBase, false}, {"USDC-base-x", usdcBase, false}, {"", usdcBase, false},
		{"BTC", btc, true}, {"BTC-bitcoin", btc, true}, {"BTC-CHAIN", btc, false},
	} {
		if got := invoices.MethodMatches(tc.m, tc.a); got != tc.want {
			t.Errorf("MethodMatches(%q, %s on %s) = %v, want %v", tc.m, tc.a.Code, tc.a.Chain, got, tc.want)
		}
	}
	if id := invoices.MethodID(usdcBase); id != "USDC-base" || !invoices.MethodMatches(id, usdcBase) {
		t.Fatalf("MethodID = %q", id)
	}
}
