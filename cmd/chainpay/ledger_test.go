package main

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

// TestFairValueNeverCallsTheNetwork: the settler's fair value (called inside the write
// transaction that settles) answers from the rates cache only. With an empty cache it
// answers nothing and the rate source sees no request; once the cache was refreshed outside
// any transaction it answers the cached rate, still without a request.
func TestFairValueNeverCallsTheNetwork(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"amount":"64000.50","base":"BTC","currency":"USD"}}`))
	}))
	t.Cleanup(srv.Close)
	src, err := rates.NewCoinbase(rates.HTTPConfig{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rates.New([]rates.Source{src}, rates.Config{MinSources: 1, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	fair := cachedFairValue(svc)
	if r, ok := fair("BTC", "USD"); ok || hits.Load() != 0 {
		t.Fatalf("empty cache: %+v %v, %d requests (want none)", r, ok, hits.Load())
	}
	if err := svc.Refresh(context.Background(), []rates.Pair{{Base: "BTC", Quote: "USD"}}); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	r, ok := fair("BTC", "USD")
	if !ok || r.Rate != "64000.5" || hits.Load() != before {
		t.Fatalf("cached: %+v %v, %d requests after the refresh (want none)", r, ok, hits.Load()-before)
	}
	if cachedFairValue(nil) != nil {
		t.Fatal("no rates service: want no fair value function")
	}
}

// TestLedgerVerifyCommand: `chainpay ledger verify` prints the payment whose books differ
// (a settled invoice whose charge was never enqueued) and exits 1; once the settler and
// the relay caught up it exits 0.
func TestLedgerVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_DATABASE_URL": ""}
	if _, _, code := cli(t, env, "migrate"); code != 0 {
		t.Fatal("migrate failed")
	}
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(dir, "chainpay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := int64(3)
	inv := store.Invoice{ID: "inv_v", MerchantID: "sto_v", Status: store.StatusSettled, Price: big.NewInt(10000), Currency: "USD",
		TolerancePercent: "0", ToleranceFloor: new(big.Int), Confirmations: "{}", ExpiresAt: now.Add(time.Hour),
		MonitorUntil: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now, SettledAt: &now}
	opt := store.PaymentOption{ID: "opt_v", InvoiceID: "inv_v", Asset: "BTC", Chain: "bitcoin", Network: "regtest", Scale: 8,
		Address: "bcrt1qv", WalletID: "wal_v", AmountDue: big.NewInt(200000), Rate: "50000", RateSource: "fixed", RateAt: now,
		QuoteExpiresAt: now.Add(time.Hour), RawQuotes: "[]", Confirmations: 1, CreatedAt: now}
	pay := store.Payment{ID: "pay_v", InvoiceID: "inv_v", OptionID: "opt_v", Chain: "bitcoin", TxID: "tx_v", Address: "bcrt1qv",
		Asset: "BTC", Amount: big.NewInt(200000), Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: "b3", SeenAt: now, UpdatedAt: now}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_v", Name: "v", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateWallet(ctx, store.Wallet{ID: "wal_v", MerchantID: "sto_v", Chain: "bitcoin", Network: "regtest", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		if err := tx.CreatePaymentOption(ctx, opt); err != nil {
			return err
		}
		if _, err := tx.UpsertPayment(ctx, pay); err != nil {
			return err
		}
		return tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: h, Hash: "b3", UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, env, "ledger", "verify")
	if code != 1 || !strings.Contains(out, "pay_v") || !strings.Contains(out, "expected applied 100.00 USD") ||
		!strings.Contains(out, "booked nothing") || !strings.Contains(stderr, "1 payment(s) or refund(s) differ") {
		t.Fatalf("ledger verify: exit %d\n%s\n%s", code, out, stderr)
	}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return (&ledger.Settler{}).SettleTx(ctx, tx, invoices.Details{Invoice: inv, Options: []store.PaymentOption{opt},
			Payments: []store.Payment{pay}, Tips: map[string]int64{"bitcoin": h}}, nil, now)
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, code := cli(t, env, "ledger", "verify", "--enqueued-only"); code != 0 {
		t.Fatalf("enqueued-only after the settler: exit %d", code)
	}
	relay, err := ledger.NewRelay(st, ledger.NewJournal(st, nil), ledger.RelayConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := relay.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("relay: %d %v", n, err)
	}
	if out, _, code := cli(t, env, "ledger", "verify", "--store", "sto_v"); code != 0 || !strings.Contains(out, "every payment and refund is booked") {
		t.Fatalf("after delivery: exit %d %s", code, out)
	}
}
