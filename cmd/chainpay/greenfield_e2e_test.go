package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/greenfield"
)

// TestGreenfieldPluginJourneyOnDevChains runs `chainpay dev` (SQLite, btcd regtest, the EVM
// dev chain) and drives it the way BTCPay's WooCommerce plugin does (docs/greenfield.md,
// "The WooCommerce plugin's calls"): one-click key setup through /api-keys/authorize, key
// check, server info, stores, payment methods, webhook registration, invoices paid on
// regtest and on the EVM dev chain, signed webhooks received in order, invoices fetched as
// Settled, the payment-methods view, a refund through a pull payment (and an over-refund
// refused), and an invoice marked invalid.
func TestGreenfieldPluginJourneyOnDevChains(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chainpay")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	listen := freeAddr(t)
	env := append(os.Environ(), "CHAINPAY_DATA_DIR="+data, "CHAINPAY_DATABASE_URL=")
	dev := exec.Command(bin, "dev", "--listen", listen, "--evm-listen", freeAddr(t), "--base-listen", freeAddr(t),
		"--btc-block-every", "1s", "--evm-block-every", "300ms")
	dev.Env = env
	logf, err := os.Create(filepath.Join(data, "dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	dev.Stdout, dev.Stderr = logf, logf
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dev.Process.Kill()
		_ = dev.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(data, "dev.log"))
			t.Logf("chainpay dev log (tail):\n%s", tail(string(b), 4000))
		}
	})
	// Up when dev.json names the admin key and the Greenfield routes answer with it.
	var info devInfo
	base := "http://" + listen
	for deadline := time.Now().Add(4 * time.Minute); ; {
		if b, err := os.ReadFile(filepath.Join(data, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil && info.APIKey != "" {
			req, _ := http.NewRequest("GET", base+"/api/v1/server/info", nil)
			req.Header.Set("Authorization", "token "+info.APIKey)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("chainpay dev did not come up")
		}
		time.Sleep(300 * time.Millisecond)
	}
	call := func(method, path, key string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "token "+key)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
			}
		}
		return resp.StatusCode
	}

	// 1. One-click setup: the plugin opens /api-keys/authorize; the merchant approves with the
	// store's admin key; the key comes back in a form posted to the plugin.
	form := url.Values{"applicationName": {"WooCommerce"}, "redirect": {"https://shop.example/?btcpay-settings-callback"},
		"admin_key": {info.APIKey}, "permissions": {"btcpay.store.canviewinvoices", "btcpay.store.cancreateinvoice",
			"btcpay.store.canviewstoresettings", "btcpay.store.canmodifyinvoices", "btcpay.store.cancreatenonapprovedpullpayments",
			"btcpay.store.webhooks.canmodifywebhooks"}}
	resp, err := http.PostForm(base+"/api-keys/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="apiKey" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("authorize: %d %s", resp.StatusCode, page)
	}
	key := string(m[1])
	// 2. Key check, server info, stores, payment methods.
	var k struct {
		Permissions []string `json:"permissions"`
	}
	call("GET", "/api/v1/api-keys/current", key, nil, &k)
	s := info.StoreID
	if want := []string{"btcpay.store.cancreateinvoice:" + s, "btcpay.store.cancreatenonapprovedpullpayments:" + s, "btcpay.store.canmodifyinvoices:" + s, "btcpay.store.canviewinvoices:" + s,
		"btcpay.store.canviewstoresettings:" + s, "btcpay.store.webhooks.canmodifywebhooks:" + s}; !slices.Equal(k.Permissions, want) {
		t.Fatalf("permissions %v", k.Permissions)
	}
	var si struct {
		Version      string `json:"version"`
		FullySynched bool   `json:"fullySynched"`
	}
	call("GET", "/api/v1/server/info", key, nil, &si)
	var stores []struct {
		ID string `json:"id"`
	}
	call("GET", "/api/v1/stores", key, nil, &stores)
	var pms []struct {
		PaymentMethodID string `json:"paymentMethodId"`
		Enabled         bool   `json:"enabled"`
	}
	call("GET", "/api/v1/stores/"+s+"/payment-methods", key, nil, &pms)
	var ids []string
	for _, p := range pms {
		ids = append(ids, p.PaymentMethodID)
	}
	slices.Sort(ids)
	if si.Version != greenfield.Version || !si.FullySynched || len(stores) != 1 || stores[0].ID != s ||
		!slices.Equal(ids, []string{"BTC-CHAIN", "ETH-BASE", "ETH-ETHEREUM", "USDC-BASE", "USDC-ETHEREUM"}) {
		t.Fatalf("server info %+v, stores %+v, payment methods %v", si, stores, ids)
	}
	// 3. The webhook, received by the "shop" and verified with BTCPay-Sig.
	var (
		mu     sync.Mutex
		events []map[string]any
		forged int
		secret string
	)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		var ev map[string]any
		if !greenfield.Verify(secret, r.Header.Get("BTCPay-Sig"), body) || json.Unmarshal(body, &ev) != nil {
			forged++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		events = append(events, ev)
	}))
	defer shop.Close()
	var wh struct {
		ID, Secret string
	}
	mu.Lock()
	if st := call("POST", "/api/v1/stores/"+s+"/webhooks", key, map[string]any{"url": shop.URL + "/wc-api/btcpaygf_default",
		"enabled": true, "automaticRedelivery": true, "authorizedEvents": map[string]any{"everything": false, "specificEvents": []string{
			"InvoiceReceivedPayment", "InvoicePaymentSettled", "InvoiceProcessing", "InvoiceExpired", "InvoiceSettled", "InvoiceInvalid"}}},
		&wh); st != 200 || wh.Secret == "" {
		mu.Unlock()
		t.Fatalf("webhook: %d %+v", st, wh)
	}
	secret = wh.Secret
	mu.Unlock()
	// 4. An order paid on regtest and one on the EVM dev chain.
	type invoice struct {
		ID, Status, AdditionalStatus string
		Amount                       string
		Metadata                     map[string]any
	}
	invs := map[string]string{}
	for i, method := range []string{"BTC-CHAIN", "ETH-ETHEREUM"} {
		var inv invoice
		if st := call("POST", "/api/v1/stores/"+s+"/invoices", key, map[string]any{"amount": "25.00", "currency": "USD",
			"metadata": map[string]any{"orderId": fmt.Sprint(2001 + i), "buyerEmail": "buyer@example.com"},
			"checkout": map[string]any{"speedPolicy": "MediumSpeed", "paymentMethods": []string{method},
				"redirectURL": "https://shop.example/order-received/"}}, &inv); st != 200 || inv.Status != "New" {
			t.Fatalf("create %s invoice: %d %+v", method, st, inv)
		}
		invs[method] = inv.ID
		asset, network, _ := strings.Cut(method, "-")
		args := []string{"dev", "pay", inv.ID, "--asset", asset}
		if network != "CHAIN" {
			args = append(args, "--network", strings.ToLower(network))
		}
		pay := exec.Command(bin, args...)
		pay.Env = env
		if out, err := pay.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "paid ") {
			t.Fatalf("dev pay %s: %v %s", method, err, out)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for method, id := range invs {
		for {
			var inv invoice
			call("GET", "/api/v1/stores/"+s+"/invoices/"+id, key, nil, &inv)
			if inv.Status == "Settled" {
				if inv.AdditionalStatus != "None" || inv.Metadata["orderId"] == nil {
					t.Fatalf("%s invoice: %+v", method, inv)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s invoice %s is %s", method, id, inv.Status)
			}
			time.Sleep(300 * time.Millisecond)
		}
		var methods []struct {
			PaymentMethod     string `json:"paymentMethod"`
			PaymentMethodPaid string `json:"paymentMethodPaid"`
			Amount            string `json:"amount"`
			Payments          []struct {
				Status string `json:"status"`
				Value  string `json:"value"`
			} `json:"payments"`
		}
		call("GET", "/api/v1/stores/"+s+"/invoices/"+id+"/payment-methods", key, nil, &methods)
		if len(methods) != 1 || methods[0].PaymentMethod != method || methods[0].PaymentMethodPaid != methods[0].Amount ||
			len(methods[0].Payments) != 1 || methods[0].Payments[0].Status != "Settled" {
			t.Fatalf("%s payment methods: %+v", method, methods)
		}
	}
	// 5. The shop refunds part of the first order through a pull payment (the plugin names
	// the order in the pull payment's name); the customer's claim page is its viewLink.
	var pp struct {
		ID, Name, Amount, Currency, ViewLink string
	}
	if st := call("POST", "/api/v1/stores/"+s+"/pull-payments", key, map[string]any{
		"name": "Refund for order no.: 2001 reason: damaged", "amount": "10.00", "currency": "USD",
		"paymentMethods": []string{"BTC-CHAIN"}}, &pp); st != 200 || pp.ID == "" || pp.Amount != "10.00" ||
		pp.Currency != "USD" || !strings.Contains(pp.ViewLink, "/r/") {
		t.Fatalf("pull payment: %d %+v", st, pp)
	}
	claim, err := http.Get(base + pp.ViewLink[strings.Index(pp.ViewLink, "/r/"):])
	if err != nil {
		t.Fatal(err)
	}
	claim.Body.Close()
	if claim.StatusCode != 200 {
		t.Fatalf("claim page %s: %d", pp.ViewLink, claim.StatusCode)
	}
	// More than the 15.00 USD left is refused on amount.
	var gfErr []struct{ Path, Message string }
	if st := call("POST", "/api/v1/stores/"+s+"/pull-payments", key, map[string]any{
		"name": "Refund for order no.: 2001 reason: again", "amount": "20.00", "currency": "USD",
		"paymentMethods": []string{"BTC-CHAIN"}}, &gfErr); st != 422 || len(gfErr) != 1 || gfErr[0].Path != "amount" ||
		!strings.Contains(gfErr[0].Message, "15.00 USD") {
		t.Fatalf("over-refund: %d %+v", st, gfErr)
	}
	// 6. A third order is abandoned: the plugin marks its invoice invalid.
	var inv3 invoice
	call("POST", "/api/v1/stores/"+s+"/invoices", key, map[string]any{"amount": "5", "currency": "EUR"}, &inv3)
	if st := call("POST", "/api/v1/stores/"+s+"/invoices/"+inv3.ID+"/status", key, map[string]any{"status": "Invalid"}, &inv3); st != 200 ||
		inv3.Status != "Invalid" || inv3.AdditionalStatus != "Marked" {
		t.Fatalf("mark invalid: %d %+v", st, inv3)
	}
	// 7. The webhooks, in the order the plugin expects per invoice.
	// Each payment confirms once (InvoicePaymentSettled) before its invoice settles.
	want := map[string][]string{invs["BTC-CHAIN"]: {"InvoiceReceivedPayment", "InvoiceProcessing", "InvoicePaymentSettled", "InvoiceSettled"},
		invs["ETH-ETHEREUM"]: {"InvoiceReceivedPayment", "InvoicePaymentSettled", "InvoiceSettled"}, inv3.ID: {"InvoiceInvalid"}}
	for {
		mu.Lock()
		got := map[string][]string{}
		for _, ev := range events {
			id := ev["invoiceId"].(string)
			got[id] = append(got[id], ev["type"].(string))
		}
		bad := forged
		mu.Unlock()
		if bad > 0 {
			t.Fatalf("%d webhook requests did not verify", bad)
		}
		ok := true
		for id, w := range want {
			// Processing may be skipped when a payment confirms before the first review.
			g := slices.DeleteFunc(slices.Clone(got[id]), func(s string) bool { return s == "InvoiceProcessing" })
			w = slices.DeleteFunc(slices.Clone(w), func(s string) bool { return s == "InvoiceProcessing" })
			ok = ok && slices.Equal(g, w)
		}
		if ok {
			t.Logf("webhooks per invoice: %v", got)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks %v, want %v", got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range events {
		if ev["storeId"] != s || ev["webhookId"] != wh.ID || ev["deliveryId"] == "" {
			t.Fatalf("event %v", ev)
		}
		if ev["type"] == "InvoiceReceivedPayment" && (ev["afterExpiration"] != false || ev["payment"] == nil) {
			t.Fatalf("InvoiceReceivedPayment %v", ev)
		}
		if ev["type"] == "InvoicePaymentSettled" {
			p, _ := ev["payment"].(map[string]any)
			if ev["afterExpiration"] != false || p == nil || p["status"] != "Settled" || p["value"] == "" || p["destination"] == "" {
				t.Fatalf("InvoicePaymentSettled %v", ev)
			}
		}
	}
}
