package checkout_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// chromiumPath returns CHAINPAY_CHROMIUM or /usr/bin/chromium, and fails the test when
// there is no browser there: the page must be tested in a real one, never skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHAINPAY_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		t.Fatalf("no Chromium at %s (CHAINPAY_CHROMIUM or /usr/bin/chromium): install Debian's chromium "+
			"(apt-get install -y chromium) or run ./scripts/test, which does", p)
	}
	return p
}

// artifactDir is $CHAINPAY_ARTIFACTS/checkout, default <repo>/artifacts/checkout.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CHAINPAY_ARTIFACTS")
	if base == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatal("no go.mod above the test's directory")
			}
			dir = parent
		}
		base = filepath.Join(dir, "artifacts")
	}
	dir := filepath.Join(base, "checkout")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts headless Chromium with a fresh profile; it is closed when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	return tctx
}

// pageProbe records CSP violations and script errors from the first line of every document
// (DevTools-injected scripts are not subject to the page's CSP).
const pageProbe = `window.__problems = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__problems.push('CSP ' + e.violatedDirective + ' blocked ' + e.blockedURI);
});
window.addEventListener('error', function (e) { window.__problems.push('error ' + (e.message || e.target.src)); }, true);`

// contrastProbe returns the WCAG contrast ratio of each visible text element's colour against
// the first opaque background behind it.
const contrastProbe = `(function () {
  function rgb(s) { var m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
  function lum(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function bg(el) {
    for (; el; el = el.parentElement) { var c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0) { return c; } }
    return {r: 255, g: 255, b: 255, a: 1};
  }
  var out = [];
  document.querySelectorAll('h1, h2, p, dt, dd, code, span, a, button, time, li').forEach(function (el) {
    if (!el.offsetParent || !el.textContent.trim()) { return; }
    var l1 = lum(rgb(getComputedStyle(el).color)), l2 = lum(bg(el));
    var ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    out.push({what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''), ratio: ratio});
  });
  return out;
})()`

type contrast struct {
	What  string  `json:"what"`
	Ratio float64 `json:"ratio"`
}

// TestBrowserPaysInvoice opens the checkout page in headless Chromium, reads what a
// customer would, pays the invoice on a real btcd regtest chain followed by the real
// watcher, and sees the page turn to paid without a reload. Screenshots of both sizes,
// before and after, go to the artifacts directory.
func TestBrowserPaysInvoice(t *testing.T) {
	t.Parallel()
	chromiumPath(t) // fail first when there is no browser
	node := btcdtest.Start(t)
	node.Fund(t)
	st := storetest.SQLite(t)
	e := newEnv(t, st, false, checkout.Config{PollInterval: 200 * time.Millisecond, RedirectDelay: 500 * time.Millisecond})
	shop := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<!doctype html><title>Thanks</title><p>Order received.")
	}))

	// The watcher, as chainpay serve runs it: a Bitcoin follower stepping in the background.
	n, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src, err := watcher.NewBitcoinSource(n, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	runner := watcher.NewRunner(watcher.NewFollower(st, src, e.svc, watcher.Config{}), 100*time.Millisecond)
	runner.Start(ctx)
	t.Cleanup(runner.Stop)
	// Started last so that it closes first: the page's event stream must end before the
	// test server's Close waits for its requests.
	bctx := newBrowser(t)

	d := e.invoice(t, invoices.CreateRequest{})
	o := d.Options[0]
	url := e.srv.URL + "/i/" + d.Invoice.ID
	dir := artifactDir(t)

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
	waitState := func(states ...string) {
		t.Helper()
		cond := `['` + strings.Join(states, `','`) + `'].indexOf(document.getElementById('checkout').dataset.state) >= 0`
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("page never reached %v (state %s, title %q): %v", states,
				eval(`document.getElementById('checkout').dataset.state`), eval(`document.getElementById('status-title').textContent`), err)
		}
	}
	shot := func(name string, w, h int64, scale float64) {
		t.Helper()
		run("viewport "+name, chromedp.EmulateViewport(w, h, chromedp.EmulateScale(scale)))
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d×%d): %s", name, w, h, p)
	}

	run("start the browser", chromedp.Navigate("about:blank"))
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbe}); err != nil {
		t.Fatal(err)
	}
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(bctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: browser.PermissionSettingGranted, Origin: e.srv.URL,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}

	// A phone opens the page.
	run("open the page", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(url))
	waitState("waiting")
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`(function () {
		var img = document.querySelector('img[data-field="qr"]'); return img.complete && img.naturalWidth > 0; })()`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the QR image did not load: %v", err)
	}
	if w := eval(`String(document.querySelector('img[data-field="qr"]').naturalWidth)`); w != "480" {
		t.Errorf("QR image natural width %s, want 480", w)
	}
	amount := eval(`document.querySelector('[data-field="amount"]').textContent`)
	if want := money.FormatAmount(o.AmountDue, o.Scale); amount != want || amount != "0.00050000" {
		t.Fatalf("page shows amount %q, want %s", amount, want)
	}
	if got := eval(`document.querySelector('[data-field="address"]').textContent`); got != o.Address {
		t.Fatalf("page shows address %q, want %s", got, o.Address)
	}
	if got := eval(`document.querySelector('[data-field="uri"]').getAttribute('href')`); got != e.svc.PaymentURI(o, o.AmountDue, storeName) {
		t.Errorf("wallet link %q", got)
	}
	if got := eval(`document.getElementById('price').textContent`); got != "25.00 USD" {
		t.Errorf("price %q", got)
	}
	countdown := eval(`document.getElementById('countdown').textContent`)
	if !regexp.MustCompile(`^1[45]:[0-5]\d$`).MatchString(countdown) {
		t.Errorf("countdown %q, want about 15 minutes", countdown)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](
		`document.getElementById('countdown').textContent !== '`+countdown+`'`, chromedp.WithPollingTimeout(3*time.Second))); err != nil {
		t.Errorf("countdown does not tick: %v", err)
	}

	// Keyboard: the first Tab stops are the wallet link and the copy buttons, in that
	// order, and the focused element has a visible outline.
	var order []string
	for range 3 {
		run("tab", chromedp.KeyEvent("\t"))
		order = append(order, eval(`(function () { var el = document.activeElement;
			var s = getComputedStyle(el); return el.tagName + ':' + el.textContent.trim() + ':' + s.outlineStyle + ':' + s.outlineWidth; })()`))
	}
	wantOrder := []string{"A:Open in wallet:solid:3px", "BUTTON:Copy amount:solid:3px", "BUTTON:Copy address:solid:3px"}
	if fmt.Sprint(order) != fmt.Sprint(wantOrder) {
		t.Errorf("focus order %q, want %q", order, wantOrder)
	}
	// Copy the amount with the keyboard's Enter on "Copy amount" (focused second).
	run("focus copy amount", chromedp.Focus(chromedp.CSS(`button[data-copy^="amount-"]`)), chromedp.KeyEvent("\r"))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById('copy-status').textContent !== ''`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("copy gave no feedback: %v", err)
	}
	if got := eval(`document.getElementById('copy-status').textContent`); got != "Copied to the clipboard." {
		t.Errorf("copy feedback %q", got)
	}
	clip, err := chromedp.Run(bctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil || clip != amount {
		t.Errorf("clipboard holds %q (%v), want %s", clip, err, amount)
	}

	checkContrast(t, bctx, "phone, waiting")
	shot("phone-before-payment", 390, 844, 2)
	shot("desktop-before-payment", 1280, 800, 1)
	checkContrast(t, bctx, "desktop, waiting")

	// Pay from the customer's wallet; the page must follow without a reload.
	eval(`window.__sameDocument = 'yes'; 'ok'`)
	addr, err := btcutil.DecodeAddress(o.Address, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	node.Pay(t, addr, o.AmountDue.Int64())
	waitState("detected")
	if got := eval(`document.getElementById('status-title').textContent`); got != "Payment detected" {
		t.Errorf("after broadcasting: title %q", got)
	}
	if hidden := eval(`String(document.getElementById('pay').hidden)`); hidden != "true" {
		t.Errorf("payment instructions still shown after paying in full")
	}
	node.Mine(t, 1)
	waitState("paid")
	if got := eval(`document.getElementById('status-title').textContent`); got != "Payment complete" {
		t.Errorf("after one confirmation: title %q", got)
	}
	if got := eval(`String(window.__sameDocument)`); got != "yes" {
		t.Fatalf("the page reloaded (marker %q)", got)
	}
	checkContrast(t, bctx, "desktop, paid")
	shot("desktop-after-payment", 1280, 800, 1)
	run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
	shot("phone-after-payment", 390, 844, 2)
	checkContrast(t, bctx, "phone, paid")

	if p := eval(`window.__problems.join('\n')`); p != "" {
		t.Errorf("the page reported problems:\n%s", p)
	}
	if got, err := e.svc.Get(ctx, "", d.Invoice.ID); err != nil || got.Invoice.Status != "settled" {
		t.Errorf("invoice after the test: %s %v", got.Invoice.Status, err)
	}

	// An invoice with a redirect URL sends the customer back to the shop once paid.
	d2 := e.invoice(t, invoices.CreateRequest{RedirectURL: shop.URL + "/thanks?order=42"})
	run("open the second page", chromedp.Navigate(e.srv.URL+"/i/"+d2.Invoice.ID+"?lang=de"))
	waitState("waiting")
	if got := eval(`document.getElementById('status-title').textContent`); got != "Warten auf Zahlung" {
		t.Errorf("German page title %q", got)
	}
	addr2, err := btcutil.DecodeAddress(d2.Options[0].Address, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	node.Pay(t, addr2, d2.Options[0].AmountDue.Int64())
	node.Mine(t, 1)
	// The navigation destroys the page's context mid-evaluation, so ask again until then.
	want := shop.URL + "/thanks?order=42"
	deadline := time.Now().Add(30 * time.Second)
	for {
		href, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href`))
		if err == nil && href == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no redirect to %s after payment: at %q (%v)", want, href, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkContrast(t *testing.T, bctx context.Context, when string) {
	t.Helper()
	cs, err := chromedp.Run(bctx, chromedp.Evaluate[[]contrast](contrastProbe))
	if err != nil {
		t.Fatalf("contrast probe: %v", err)
	}
	if len(cs) < 5 {
		t.Fatalf("%s: contrast probe saw only %d elements", when, len(cs))
	}
	for _, c := range cs {
		if c.Ratio < 4.5 {
			t.Errorf("%s: %s has contrast %.2f:1, want at least 4.5:1", when, c.What, c.Ratio)
		}
	}
}
