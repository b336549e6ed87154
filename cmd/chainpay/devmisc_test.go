package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// TestDevRatesCoverAdvertisedCurrencies: dev quotes every asset it offers in every currency
// it refreshes, so an EUR or GBP invoice is priced instead of answering 503 forever.
func TestDevRatesCoverAdvertisedCurrencies(t *testing.T) {
	t.Parallel()
	svc, pairs, err := devRateSettings().build(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Refresh(context.Background(), pairs); err != nil {
		t.Logf("refresh: %v", err) // USDT has no dev rate; it is not offered in dev
	}
	q := quoter{svc}
	for _, cur := range strings.Split(devCurrencies, ",") {
		for _, asset := range []string{"BTC", "ETH", "USDC"} {
			if _, err := q.Quote(context.Background(), asset, cur); err != nil {
				t.Errorf("dev has no %s/%s rate: %v", asset, cur, err)
			}
		}
	}
}

// TestDevPayRefusesClosedInvoices: `dev pay` on a cancelled, settled or expired invoice is a
// 409 problem that says why and names --force; with force the request passes that gate.
func TestDevPayRefusesClosedInvoices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: quoter{mustDevRates(t)}})
	if err != nil {
		t.Fatal(err)
	}
	tpub, err := regtest.RandomMerchantTpub()
	if err != nil {
		t.Fatal(err)
	}
	w, err := bitcoin.ParseWallet(tpub, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mid := store.NewID("sto", now)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "dev", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin", Network: "regtest",
			Descriptor: w.Descriptor(), CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tx(ctx, func(tx store.Tx) error { _, err := svc.CancelTx(ctx, tx, mid, d.Invoice.ID); return err }); err != nil {
		t.Fatal(err)
	}
	dev := &devServer{info: devInfo{APIKey: "k", StoreID: mid}, st: st, inv: svc, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(dev.routes(&webhookEcho{}))
	defer srv.Close()
	pay := func(req devPayRequest) (int, devProblem) {
		body, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", srv.URL+"/dev/pay", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p devProblem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		if resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("dev pay error is %s, not a problem", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, p
	}
	code, p := pay(devPayRequest{InvoiceID: d.Invoice.ID, Asset: "BTC"})
	if code != http.StatusConflict || !strings.Contains(p.Detail, "was cancelled by the merchant") || !strings.Contains(p.Detail, "--force") {
		t.Fatalf("pay a cancelled invoice: %d %+v", code, p)
	}
	// With force the gate opens (an unknown asset then stops it before any money moves).
	if code, p := pay(devPayRequest{InvoiceID: d.Invoice.ID, Asset: "DOGE", Force: true}); code != http.StatusUnprocessableEntity || !strings.Contains(p.Detail, "no DOGE payment option") {
		t.Fatalf("forced: %d %+v", code, p)
	}
	for status, why := range map[string]string{store.StatusSettled: "is settled", store.StatusExpired: "expired", store.StatusNew: ""} {
		if got := closedBecause(store.Invoice{Status: status}); got != why {
			t.Errorf("closedBecause(%s) = %q, want %q", status, got, why)
		}
	}
}

func mustDevRates(t *testing.T) *rates.Service {
	t.Helper()
	svc, pairs, err := devRateSettings().build(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_ = svc.Refresh(context.Background(), pairs)
	return svc
}

// TestDevWebhookEcho: GET /dev/webhooks lists deliveries in event order whatever order they
// arrived in, each saying whether its signature verified.
func TestDevWebhookEcho(t *testing.T) {
	t.Parallel()
	echo := &webhookEcho{secret: "whsec_test_0123456789abcdef", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(echo)
	defer srv.Close()
	t0 := time.Now().UTC().Truncate(time.Second)
	send := func(id string, at time.Time, secret string) int {
		body := []byte(`{"id":"` + id + `","type":"invoice.created","created_at":"` + at.Format(time.RFC3339Nano) + `"}`)
		r, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
		r.Header.Set("Chainpay-Signature", webhooks.Sign(secret, time.Now(), body))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	send("evt_3", t0.Add(2*time.Second), echo.secret)
	send("evt_1", t0, echo.secret)
	if c := send("evt_2", t0.Add(time.Second), "whsec_wrong_0123456789abcdef"); c != http.StatusBadRequest {
		t.Fatalf("bad signature answered %d", c)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []struct {
			SignatureVerified bool `json:"signature_verified"`
			Event             struct {
				ID string `json:"id"`
			} `json:"event"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range out.Data {
		got = append(got, d.Event.ID+map[bool]string{true: "+", false: "-"}[d.SignatureVerified])
	}
	if strings.Join(got, " ") != "evt_1+ evt_2- evt_3+" {
		t.Fatalf("echo lists %v, want evt_1+ evt_2- evt_3+ (event order, - for a bad signature)", got)
	}
}
