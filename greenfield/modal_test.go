package greenfield_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/greenfield"
	"github.com/chainpay/chainpay/store/storetest"
)

// TestModalReportsSettledToTheShop opens chainpay's checkout from a plain HTML shop page on
// another origin through /modal/btcpay.js in headless Chromium, as the WooCommerce plugin's
// modal checkout does, pays the invoice, and waits for the page to tell the shop Settled.
func TestModalReportsSettledToTheShop(t *testing.T) {
	e := setup(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
	m := e.newStore("Shop")
	co := checkout.New(checkout.Config{Store: e.st, Invoices: e.inv, PollInterval: 100 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/i/", co)
	for _, p := range greenfield.Paths() {
		mux.Handle(p, e.h)
	}
	pay := httptest.NewServer(mux) // chainpay, on 127.0.0.1
	defer pay.Close()
	var inv gfInvoice
	decode(t, e.do("POST", "/api/v1/stores/"+m.id+"/invoices", m.key, `{"amount":"25","currency":"USD","checkout":{"redirectURL":"https://shop.example/done"}}`), &inv)
	// Only the modal view of the page may be framed.
	for q, framable := range map[string]bool{"": false, "?view=modal": true} {
		resp, err := http.Get(pay.URL + "/i/" + inv.ID + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if got := resp.Header.Get("X-Frame-Options") == "" && strings.Contains(csp, "frame-ancestors http: https:"); got != framable ||
			resp.StatusCode != 200 || strings.Contains(csp, "unsafe") {
			t.Fatalf("page%s: %d framable %v, CSP %q", q, resp.StatusCode, got, csp)
		}
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><h1>Shop</h1>
<script src="%[1]s/modal/btcpay.js"></script>
<script>
window.statuses = [];
window.btcpay.setApiUrlPrefix(%[1]q);
window.btcpay.onModalReceiveMessage(function (e) {
  if (e.data && e.data.status && e.data.invoiceId === %[2]q) { window.statuses.push(e.data.status); }
});
window.btcpay.showInvoice(%[2]q);
</script></body></html>`, pay.URL, inv.ID)
	}))
	defer shop.Close()
	// The shop on "localhost", chainpay on 127.0.0.1: different sites.
	shopURL := strings.Replace(shop.URL, "127.0.0.1", "localhost", 1)

	p := os.Getenv("CHAINPAY_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Chromium at %s (CHAINPAY_CHROMIUM): install Debian's chromium or run ./scripts/test", p)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(p), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	statuses := func() []string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.statuses || []`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			s := statuses()
			if len(s) > 0 && s[len(s)-1] == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the shop got %v, want %s last", s, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate(shopURL)); err != nil {
		t.Fatal(err)
	}
	waitFor("New")
	var methods []gfInvoicePaymentMethod
	decode(t, e.do("GET", "/api/v1/stores/"+m.id+"/invoices/"+inv.ID+"/payment-methods", m.key, nil), &methods)
	due, _ := new(big.Int).SetString(strings.ReplaceAll(methods[0].Amount, ".", ""), 10)
	e.pay(inv.ID, "pay_modal", due, nil, 200)
	waitFor("Processing")
	h := int64(201)
	e.pay(inv.ID, "pay_modal", due, &h, 201)
	waitFor("Settled")
	// The frame stays (the shop, not the frame, goes on after payment) and close works.
	time.Sleep(500 * time.Millisecond)
	frames, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#btcpay-modal iframe').length`))
	if err != nil || frames != 1 {
		t.Fatalf("frames after payment: %d %v", frames, err)
	}
	frames, err = chromedp.Run(ctx, chromedp.Evaluate[int](
		`document.querySelector('#btcpay-modal button').click(); document.querySelectorAll('#btcpay-modal').length`))
	if err != nil || frames != 0 {
		t.Fatalf("after close: %d %v", frames, err)
	}
}
