package checkout_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// lateRefunds lets the handler be built before the refunds service it serves.
type lateRefunds struct{ svc *refunds.Service }

func (l *lateRefunds) Get(ctx context.Context, mid, id string) (store.Refund, error) {
	return l.svc.Get(ctx, mid, id)
}

func (l *lateRefunds) Claim(ctx context.Context, id, dest string) (store.Refund, error) {
	return l.svc.Claim(ctx, id, dest)
}

// refundEnv is a paid invoice with a pending refund of 10.00 USD and the page serving it.
func refundEnv(t *testing.T) (*env, store.Refund) {
	t.Helper()
	late := &lateRefunds{}
	e := newEnv(t, storetest.SQLite(t), false, checkout.Config{Refunds: late})
	svc, err := refunds.New(e.st, refunds.Config{Invoices: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	late.svc = svc
	d := e.invoice(t, invoices.CreateRequest{})
	h := int64(500)
	e.pay(t, d, d.Options[0].AmountDue.Int64(), &h)
	e.setTip(t, h, d.Invoice.ID)
	// The follower stands at the node's fresh tip (refunds are decided on a synced view).
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.AdvanceChainTime(ctx, "bitcoin", time.Now().UTC().Truncate(time.Microsecond))
	}); err != nil {
		t.Fatal(err)
	}
	dr, err := svc.Prepare(ctx, e.mid, d.Invoice.ID, refunds.CreateRequest{Amount: "10.00"})
	if err != nil {
		t.Fatal(err)
	}
	var r store.Refund
	if err := e.st.Tx(ctx, func(tx store.Tx) (err error) { r, err = svc.CreateTx(ctx, tx, dr); return }); err != nil {
		t.Fatal(err)
	}
	return e, r
}

func regtestAddress(t *testing.T, b byte) string {
	t.Helper()
	h := make([]byte, 20)
	h[19] = b
	a, err := btcutil.NewAddressWitnessPubKeyHash(h, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// TestRefundPageHTTP: the page speaks the customer's language with the checkout's security
// headers; the claim endpoint takes JSON only, refuses a wrong-network address with a
// message, takes one claim and then refuses any other.
func TestRefundPageHTTP(t *testing.T) {
	t.Parallel()
	e, r := refundEnv(t)
	resp, body := e.get(t, "/r/"+r.ID, "Accept-Language", "de")
	if resp.StatusCode != 200 || !strings.Contains(body, "Wohin sollen wir Ihre Rückerstattung senden?") ||
		!strings.Contains(body, "10.00 USD") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'none'") {
		t.Fatalf("page: %d %s\n%s", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := e.get(t, "/r/ref_nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown refund: %d", resp.StatusCode)
	}
	post := func(ctype, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/r/"+r.ID+"/claim", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := post("application/x-www-form-urlencoded", "destination=x"); code != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d", code)
	}
	if code, b := post("application/json", `{"destination":"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}`); code != 422 || !strings.Contains(b, "network") {
		t.Fatalf("mainnet address: %d %s", code, b)
	}
	want := regtestAddress(t, 1)
	if code, b := post("application/json", `{"destination":"bitcoin:`+want+`?amount=5"}`); code != 200 || !strings.Contains(b, want) {
		t.Fatalf("claim: %d %s", code, b)
	}
	if code, _ := post("application/json", `{"destination":"`+regtestAddress(t, 2)+`"}`); code != http.StatusConflict {
		t.Fatalf("second claim: %d", code)
	}
	if _, body := e.get(t, "/r/"+r.ID); !strings.Contains(body, want) || !strings.Contains(body, `id="claim" class="option" hidden`) {
		t.Fatalf("claimed page:\n%s", body)
	}
}

// TestBrowserClaimsRefund: in headless Chromium, under the page's own CSP, the customer
// pastes a wrong address (told why), then a BIP21 URI; the page shows the locked address.
func TestBrowserClaimsRefund(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	e, r := refundEnv(t)
	bctx := newBrowser(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	wait := func(cond string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("never true: %s (%v); problems %s", cond, err, eval(`JSON.stringify(window.__problems)`))
		}
	}
	run("start the browser", chromedp.Navigate("about:blank"))
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbe}); err != nil {
		t.Fatal(err)
	}
	run("open the refund page", chromedp.Navigate(e.srv.URL+"/r/"+r.ID+"?lang=en"))
	if got := eval(`document.getElementById('status-title').textContent`); got != "Where should we send your refund?" {
		t.Fatalf("title %q", got)
	}
	eval(`(function(){document.getElementById('destination-input').value='bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq';
		document.getElementById('claim-button').click(); return ''})()`)
	wait(`!document.getElementById('claim-error').hidden`)
	if msg := eval(`document.getElementById('claim-error').textContent`); !strings.Contains(msg, "network") {
		t.Fatalf("error shown for a mainnet address: %q", msg)
	}
	want := regtestAddress(t, 7)
	eval(`(function(){document.getElementById('destination-input').value='bitcoin:` + want + `?amount=0.1';
		document.getElementById('claim-button').click(); return ''})()`)
	wait(`!!document.getElementById('destination')`)
	if got := eval(`document.getElementById('destination').textContent`); got != want {
		t.Fatalf("destination shown %q, want %q", got, want)
	}
	if got := eval(`document.getElementById('status-title').textContent`); got != "Refund on its way" {
		t.Fatalf("title after the claim %q", got)
	}
	if p := eval(`JSON.stringify(window.__problems)`); p != "[]" {
		t.Fatalf("CSP violations or script errors: %s", p)
	}
	run("reload", chromedp.Navigate(e.srv.URL+"/r/"+r.ID+"?lang=es"))
	if got := eval(`document.getElementById('claim').hidden ? document.getElementById('destination').textContent : 'form shown'`); got != want {
		t.Fatalf("after reload: %q", got)
	}
}
