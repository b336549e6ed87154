package api_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// TestWalletsUnswept: GET /v1/wallets shows what a wallet's deposit addresses still hold,
// as last read by the sweeper, to its own merchant only.
func TestWalletsUnswept(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Unswept")
		other := e.newMerchant("Other")
		inv := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD"}).json(t)
		opt := inv["payment_options"].([]any)[0].(map[string]any)
		var ws []store.Wallet
		ctx := context.Background()
		if err := e.st.View(ctx, func(tx store.Tx) (err error) { ws, err = tx.Wallets(ctx, m.id); return }); err != nil {
			t.Fatal(err)
		}
		f := store.Forwarder{Chain: "testchain", Address: opt["address"].(string), InvoiceID: inv["id"].(string),
			WalletID: ws[0].ID, MerchantID: m.id, Treasury: "0xTreasury", Network: "testnet"}
		bal := []store.ForwarderBalance{{Contract: "0xToken", Asset: "USDC", Scale: 6, Amount: big.NewInt(12_500_000)}}
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.RecordForwarder(ctx, f, bal, time.Now()) }); err != nil {
			t.Fatal(err)
		}
		l := e.do("GET", "/v1/wallets", m.key, nil).json(t)["data"].([]any)
		if len(l) != 1 {
			t.Fatalf("wallets %v", l)
		}
		u := l[0].(map[string]any)["unswept"].([]any)
		if len(u) != 1 {
			t.Fatalf("unswept %v, want one balance", u)
		}
		got := u[0].(map[string]any)
		if got["asset"] != "USDC" || got["amount"] != "12.500000" || got["amount_atomic"] != "12500000" ||
			got["contract"] != "0xToken" || got["deposit_addresses"] != float64(1) || got["network"] != "testnet" {
			t.Fatalf("unswept balance %v", got)
		}
		for _, w := range e.do("GET", "/v1/wallets", other.key, nil).json(t)["data"].([]any) {
			if n := len(w.(map[string]any)["unswept"].([]any)); n != 0 {
				t.Fatalf("another merchant sees %d unswept balances", n)
			}
		}
	})
}
