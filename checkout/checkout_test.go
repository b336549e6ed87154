package checkout_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store/storetest"
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func TestPageShowsInvoice(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	o := d.Options[0]
	resp, body := e.get(t, "/i/"+d.Invoice.ID)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if o.AmountDue.Int64() != 50_000 {
		t.Fatalf("fixture: amount due %s sats, want 50000", o.AmountDue)
	}
	page := html.UnescapeString(body)
	for _, want := range []string{
		`<html lang="en">`,
		"<h1 class=\"store\">" + storeName + "</h1>",
		`<span id="price">25.00 USD</span>`,
		`data-field="amount" class="amount">0.00050000</code> <span class="asset">BTC</span>`,
		`data-field="address" class="address">` + o.Address + `</code>`,
		`src="/i/` + d.Invoice.ID + `/qr/` + o.ID + `.png?a=50000"`,
		`alt="QR code for paying 0.00050000 BTC"`,
		`href="` + e.svc.PaymentURI(o, o.AmountDue, storeName) + `"`,
		`href="bitcoin:` + o.Address + `?amount=0.0005&label=Satoshi`,
		`<button type="button" class="copy" data-copy="amount-` + o.ID + `"`,
		`<button type="button" class="copy" data-copy="address-` + o.ID + `"`,
		`<dd>Bitcoin (regtest)</dd>`,
		`<time id="countdown" datetime="` + d.Invoice.ExpiresAt.UTC().Format(time.RFC3339) + `">15:00</time>`,
		`role="status" aria-live="polite"`,
		`<h2 id="status-title">Waiting for payment</h2>`,
		`data-state="waiting"`,
		`data-events-url="/i/` + d.Invoice.ID + `/events?lang=en"`,
		`data-status-url="/i/` + d.Invoice.ID + `/status?lang=en"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Nothing inline that the CSP would block, nothing from another origin.
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\sstyle=`), regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]`), regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)(?:src|href)="(?:https?:)?//`),
	} {
		if m := bad.FindString(body); m != "" {
			t.Errorf("page has %q", m)
		}
	}
	// The assets it links are served, with types browsers accept under nosniff.
	for _, re := range []string{`<link rel="stylesheet" href="([^"]+)">`, `<script src="([^"]+)" defer>`} {
		m := regexp.MustCompile(re).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("page lacks %s", re)
		}
		resp, asset := e.get(t, html.UnescapeString(m[1]))
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK || len(asset) < 500 ||
			!(strings.HasPrefix(ct, "text/css") || strings.HasPrefix(ct, "text/javascript")) {
			t.Errorf("asset %s: %d %s, %d bytes", m[1], resp.StatusCode, ct, len(asset))
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	id, opt := d.Invoice.ID, d.Options[0].ID
	for _, path := range []string{
		"/i/" + id, "/i/" + id + "/status", "/i/" + id + "/qr/" + opt + ".png", "/i/assets/checkout.css",
		"/i/assets/checkout.js", "/i/inv_unknown", "/i/" + id + "/nope", "/i/inv_unknown/status",
	} {
		resp, _ := e.get(t, path)
		for k, want := range map[string]string{
			"Content-Security-Policy": wantCSP, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-") {
			t.Errorf("%s: CSP allows unsafe sources", path)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	other := "inv_" + strings.Repeat("0", 26)
	for _, tc := range []struct {
		path, ctype string
	}{
		{"/i/" + other, "text/html; charset=utf-8"},
		{"/i/not-an-id", "text/html; charset=utf-8"},
		{"/i/INV_" + strings.ToUpper(d.Invoice.ID[4:]), "text/html; charset=utf-8"},
		{"/i/" + strings.Repeat("a", 500), "text/html; charset=utf-8"},
		{"/i/" + d.Invoice.ID + "/qr/opt_nope.png", "text/html; charset=utf-8"},
		{"/i/" + d.Invoice.ID + "/qr/" + d.Options[0].ID + ".gif", "text/html; charset=utf-8"},
		{"/i/" + other + "/qr/" + d.Options[0].ID + ".png", "text/html; charset=utf-8"},
		{"/i/" + other + "/status", "application/problem+json"},
		{"/i/" + other + "/events", "application/problem+json"},
		{"/i/" + d.Invoice.ID + "/elsewhere", "text/html; charset=utf-8"},
		{"/i/", "text/html; charset=utf-8"},
	} {
		resp, body := e.get(t, tc.path)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %s, want 404 %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if strings.Contains(body, storeName) || strings.Contains(html.UnescapeString(body), storeName) ||
			strings.Contains(body, d.Options[0].Address) || strings.Contains(body, "25.00") {
			t.Errorf("%s: the 404 answer shows invoice data: %s", tc.path, body)
		}
		if tc.ctype == "text/html; charset=utf-8" && !strings.Contains(body, "<h1>Invoice not found</h1>") {
			t.Errorf("%s: no not-found page: %s", tc.path, body)
		}
	}
	resp, body := e.get(t, "/i/"+other, "Accept-Language", "de")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Rechnung nicht gefunden") {
		t.Errorf("German 404: %d %s", resp.StatusCode, body)
	}
}

func TestLanguageSelection(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	for _, tc := range []struct {
		query, accept, lang, title string
	}{
		{"", "", "en", "Waiting for payment"},
		{"?lang=de", "", "de", "Warten auf Zahlung"},
		{"?lang=es", "de", "es", "Esperando el pago"},
		{"?lang=de-AT", "", "de", "Warten auf Zahlung"},
		{"", "es-ES,es;q=0.9,en;q=0.8", "es", "Esperando el pago"},
		{"", "fr-FR, fr;q=0.9, de;q=0.5, en;q=0.4", "de", "Warten auf Zahlung"},
		{"", "fr", "en", "Waiting for payment"},
		{"?lang=xx", "de", "de", "Warten auf Zahlung"},
		{"?lang=en", "de", "en", "Waiting for payment"},
		{"", "de;q=0, es;q=0.1", "es", "Esperando el pago"},
	} {
		resp, body := e.get(t, "/i/"+d.Invoice.ID+tc.query, "Accept-Language", tc.accept)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%q %q: %d", tc.query, tc.accept, resp.StatusCode)
		}
		if !strings.Contains(body, `<html lang="`+tc.lang+`">`) || resp.Header.Get("Content-Language") != tc.lang ||
			!strings.Contains(body, `<h2 id="status-title">`+tc.title+`</h2>`) ||
			!strings.Contains(body, `/events?lang=`+tc.lang+`"`) {
			t.Errorf("?lang %q, Accept-Language %q: want %s with %q", tc.query, tc.accept, tc.lang, tc.title)
		}
	}
	resp, body := e.get(t, "/i/"+d.Invoice.ID+"/status?lang=de")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"title":"Warten auf Zahlung"`) {
		t.Errorf("German status: %s", body)
	}
	// Every language is linked, the current one marked.
	_, body = e.get(t, "/i/"+d.Invoice.ID+"?lang=es")
	for _, want := range []string{`<a href="?lang=en" hreflang="en" lang="en">English</a>`,
		`<a href="?lang=de" hreflang="de" lang="de">Deutsch</a>`,
		`<a href="?lang=es" hreflang="es" lang="es" aria-current="true">Español</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("language links lack %s", want)
		}
	}
}

// TestStatusProgress walks an invoice through partial payment, detection, confirmations and
// settlement with the real invoice service, checking the JSON shape and the page as it goes.
func TestStatusProgress(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{Confirmations: map[string]int{"bitcoin": 3},
		RedirectURL: "https://shop.example/thanks?order=7"})
	id, o := d.Invoice.ID, d.Options[0]

	// The JSON shape: field names, amounts as strings, times as RFC 3339.
	_, raw := e.get(t, "/i/"+id+"/status")
	var shape map[string]any
	if err := json.Unmarshal([]byte(raw), &shape); err != nil {
		t.Fatal(err)
	}
	for k, kind := range map[string]string{"invoice_id": "string", "state": "string", "title": "string",
		"detail": "string", "payable": "bool", "expires_at": "string", "server_time": "string", "options": "array"} {
		if got := jsonKind(shape[k]); got != kind {
			t.Errorf("status.%s is %s, want %s (%s)", k, got, kind, raw)
		}
	}
	if _, ok := shape["redirect_url"]; ok {
		t.Errorf("redirect_url before payment: %s", raw)
	}
	opt0 := shape["options"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "asset", "chain", "network", "address", "amount_due", "amount", "uri", "qr"} {
		if jsonKind(opt0[k]) != "string" {
			t.Errorf("option.%s is %s, want string", k, jsonKind(opt0[k]))
		}
	}

	st := e.status(t, id)
	if st.State != checkout.StateWaiting || !st.Payable || st.Options[0].Amount != "0.00050000" ||
		st.Options[0].AmountDue != "0.00050000" || st.Options[0].URI != e.svc.PaymentURI(o, o.AmountDue, storeName) {
		t.Fatalf("new invoice: %+v", st)
	}

	// A third arrives in the mempool: partial, the rest due to the same address.
	e.pay(t, d, 50_000/3, nil)
	st = e.status(t, id)
	rest := int64(50_000 - 50_000/3)
	if st.State != checkout.StatePartial || !st.Payable || st.Options[0].Amount != money.FormatAmount(bigInt(rest), 8) ||
		st.Options[0].Address != o.Address || !strings.HasSuffix(st.Options[0].QR, "?a=33334") ||
		st.Options[0].URI != e.svc.PaymentURI(o, bigInt(rest), storeName) || st.Title != "Partial payment received" {
		t.Fatalf("after a partial payment: %+v", st)
	}
	_, page := e.get(t, "/i/"+id)
	if !strings.Contains(page, `data-field="amount" class="amount">0.00033334</code>`) ||
		!strings.Contains(page, "Partial payment received") {
		t.Errorf("page after a partial payment does not show the remaining amount")
	}

	// The rest arrives in the mempool: detected, nothing more to pay.
	e.pay(t, d, rest, nil)
	st = e.status(t, id)
	if st.State != checkout.StateDetected || st.Payable || st.Confirmations == nil ||
		*st.Confirmations != (checkout.Confirmations{Have: 0, Need: 3}) || st.Options[0].URI != "" {
		t.Fatalf("paid in full, unconfirmed: %+v", st)
	}
	if resp, _ := e.get(t, "/i/"+id+"/qr/"+o.ID+".png"); resp.StatusCode != http.StatusGone {
		t.Errorf("QR of a paid invoice: %d, want 410", resp.StatusCode)
	}

	// A third payment (an overpayment) is mined in block 100 while the other two still
	// wait in the mempool: the least confirmed payment decides what the customer sees.
	e.pay(t, d, 50_000/3, ptr[int64](100))
	e.setTip(t, 100, id)
	st = e.status(t, id)
	if st.State != checkout.StateDetected {
		t.Fatalf("with a mempool payment left: %s", st.State)
	}
	e.confirmAll(t, e.get2(t, id), 100) // now all three are in block 100
	st = e.status(t, id)
	if st.State != checkout.StateConfirming || *st.Confirmations != (checkout.Confirmations{Have: 1, Need: 3}) ||
		st.Detail != "Your payment is in a block: 1 of 3 confirmations." {
		t.Fatalf("in a block at the tip: %+v", st)
	}
	_, page = e.get(t, "/i/"+id+"?lang=de")
	if !strings.Contains(page, "Ihre Zahlung ist in einem Block: 1 von 3 Bestätigungen.") {
		t.Errorf("German confirmations text missing")
	}
	e.setTip(t, 101, id)
	if st = e.status(t, id); *st.Confirmations != (checkout.Confirmations{Have: 2, Need: 3}) {
		t.Fatalf("tip 101: %+v", st.Confirmations)
	}
	e.setTip(t, 102, id)
	st = e.status(t, id)
	if st.State != checkout.StatePaid || st.RedirectURL != "https://shop.example/thanks?order=7" || st.Confirmations != nil ||
		st.Payable || st.Detail != "Thank you. Your payment is confirmed. You sent more than was due; contact the store about the difference." {
		t.Fatalf("settled: %+v", st)
	}
	_, page = e.get(t, "/i/"+id)
	if !strings.Contains(page, `<a id="redirect-link" href="https://shop.example/thanks?order=7">`) ||
		!strings.Contains(page, `<div id="pay" class="pay" hidden>`) {
		t.Errorf("settled page lacks the redirect link or still shows how to pay")
	}
}

// get2 reads the invoice's details from the service.
func (e *env) get2(t *testing.T, id string) invoices.Details {
	t.Helper()
	d, err := e.svc.Get(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// confirmAll moves every mempool payment of the invoice into block height.
func (e *env) confirmAll(t *testing.T, d invoices.Details, height int64) {
	t.Helper()
	for _, p := range d.Payments {
		if p.Status != "mempool" {
			continue
		}
		p.Status, p.BlockHeight, p.BlockHash, p.UpdatedAt = "confirmed", &height, "blk", time.Now()
		if err := e.st.Tx(ctx, func(tx storeTx) error {
			if _, err := tx.UpsertPayment(ctx, p); err != nil {
				return err
			}
			_, err := e.svc.ReviewTx(ctx, tx, d.Invoice.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}

func TestExpiredAndCanceled(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	id, o := d.Invoice.ID, d.Options[0]
	if resp, body := e.get(t, "/i/"+id+"/qr/"+o.ID+".png"); resp.StatusCode != http.StatusOK {
		t.Fatalf("QR while payable: %d %s", resp.StatusCode, body)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	// The clock says expired before the watcher reviewed the invoice.
	if st := e.status(t, id); st.State != checkout.StateExpired || st.Payable || st.Options[0].URI != "" ||
		!strings.Contains(st.Detail, "Do not send funds to this address") {
		t.Fatalf("past expiry, not reviewed: %+v", st)
	}
	e.review(t, id)
	if got := e.get2(t, id).Invoice.Status; got != "expired" {
		t.Fatalf("fixture: status %s after review", got)
	}
	st := e.status(t, id)
	if st.State != checkout.StateExpired || st.Title != "Invoice expired" || st.Payable {
		t.Fatalf("expired: %+v", st)
	}
	if resp, _ := e.get(t, "/i/"+id+"/qr/"+o.ID+".png"); resp.StatusCode != http.StatusGone {
		t.Errorf("QR of an expired invoice: %d, want 410", resp.StatusCode)
	}
	_, page := e.get(t, "/i/"+id)
	if !strings.Contains(page, `<div id="pay" class="pay" hidden>`) || !strings.Contains(page, "Invoice expired") ||
		!strings.Contains(page, `<p id="countdown-row" class="countdown" hidden>`) {
		t.Errorf("expired page still invites payment")
	}

	c := e.invoice(t, invoices.CreateRequest{})
	if err := e.st.Tx(ctx, func(tx storeTx) error {
		_, err := e.svc.CancelTx(ctx, tx, e.mid, c.Invoice.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, c.Invoice.ID); st.State != checkout.StateInvalid ||
		st.Detail != "The store canceled this invoice. Do not send funds to this address." || st.Payable {
		t.Fatalf("canceled: %+v", st)
	}
}

func TestQRImage(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	d := e.invoice(t, invoices.CreateRequest{})
	resp, body := e.get(t, "/i/"+d.Invoice.ID+"/qr/"+d.Options[0].ID+".png?a=50000")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 480 {
		t.Fatalf("QR is %v, want 480×480", b)
	}
}

// TestEventsStream opens the SSE stream, sees the first status, pays, and sees the update
// pushed without asking; heartbeats keep flowing; the handler ends when the client leaves.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	e := newEnv(t, st, false, checkout.Config{PollInterval: 20 * time.Millisecond, Heartbeat: 30 * time.Millisecond})
	d := e.invoice(t, invoices.CreateRequest{})

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, e.srv.URL+"/i/"+d.Invoice.ID+"/events?lang=es", nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		resp.Header.Get("Content-Security-Policy") != wantCSP {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	type frame struct {
		status    *checkout.Status
		heartbeat bool
	}
	frames := make(chan frame, 100)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		var data []byte
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.HasPrefix(line, []byte(": ")):
				frames <- frame{heartbeat: true}
			case bytes.HasPrefix(line, []byte("data: ")):
				data = append([]byte(nil), line[len("data: "):]...)
			case len(line) == 0 && data != nil:
				var s checkout.Status
				if err := json.Unmarshal(data, &s); err != nil {
					t.Errorf("event data %s: %v", data, err)
					return
				}
				frames <- frame{status: &s}
				data = nil
			}
		}
	}()
	next := func(what string) *checkout.Status {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("stream ended waiting for %s", what)
				}
				if f.status != nil {
					return f.status
				}
			case <-deadline:
				t.Fatalf("no event for %s", what)
			}
		}
	}
	if s := next("the first status"); s.State != checkout.StateWaiting || s.Title != "Esperando el pago" {
		t.Fatalf("first event: %+v", s)
	}
	e.pay(t, d, 10_000, nil)
	if s := next("the partial payment"); s.State != checkout.StatePartial || s.Options[0].Amount != "0.00040000" {
		t.Fatalf("after paying 10000 sats: %+v", s)
	}
	// Unchanged status: heartbeats only, no repeated events.
	beats := 0
	timeout := time.After(2 * time.Second)
	for beats < 3 {
		select {
		case f := <-frames:
			if f.status != nil {
				t.Fatalf("an event without a change: %+v", f.status)
			}
			beats++
		case <-timeout:
			t.Fatalf("%d heartbeats in 2 s, want 3 at 30 ms", beats)
		}
	}
	e.pay(t, d, 40_000, nil)
	if s := next("the full payment"); s.State != checkout.StateDetected || s.Payable {
		t.Fatalf("after paying in full: %+v", s)
	}
}

// TestEventsStopWhenClientLeaves checks that the stream handler returns once the client
// disconnects (no goroutine and database polling left behind).
func TestEventsStopWhenClientLeaves(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	e := newEnv(t, st, false, checkout.Config{PollInterval: 10 * time.Millisecond})
	d := e.invoice(t, invoices.CreateRequest{})
	h := checkout.New(checkout.Config{Store: st, Invoices: e.svc, PollInterval: 10 * time.Millisecond})
	done := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	}))
	sctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, srv.URL+"/i/"+d.Invoice.ID+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	select {
	case <-done:
		t.Fatal("handler returned while the client was connected")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream handler still runs 5 s after the client left")
	}
}

// FuzzRequests sends arbitrary paths, languages and Accept-Language headers: the handler
// never panics or fails with a 5xx, and every answer carries the CSP.
func FuzzRequests(f *testing.F) {
	e := sqliteEnv(f)
	d := e.invoice(f, invoices.CreateRequest{})
	id, opt := d.Invoice.ID, d.Options[0].ID
	for _, s := range [][3]string{
		{"/i/" + id, "de", ""}, {"/i/" + id + "/status", "", "es;q=0.5"}, {"/i/" + id + "/qr/" + opt + ".png", "", ""},
		{"/i/" + id + "/qr/.png", "", ""}, {"/i/inv_%00", "\x00", "\xff"}, {"/i/assets/x", "", ""}, {"/i/" + id + "/", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	h := checkout.New(checkout.Config{Store: e.st, Invoices: e.svc})
	f.Fuzz(func(t *testing.T, path, lang, accept string) {
		if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/events") {
			return // not a request line a client can send; streams do not end by themselves
		}
		req, err := http.NewRequest(http.MethodGet, "http://pay.example"+path, nil)
		if err != nil {
			return
		}
		q := req.URL.Query()
		q.Set("lang", lang)
		req.URL.RawQuery = q.Encode()
		req.Header.Set("Accept-Language", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s ?lang=%q Accept-Language %q: %d %s", path, lang, accept, w.Code, w.Body)
		}
		if w.Header().Get("Content-Security-Policy") != wantCSP {
			t.Fatalf("%s: no CSP", path)
		}
	})
}

// TestEventStreamLimits: live-status streams are bounded per invoice and per client address;
// one beyond a limit is a 429 problem, and a closed stream frees its slot.
func TestEventStreamLimits(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	e := newEnv(t, st, false, checkout.Config{PollInterval: 10 * time.Millisecond, MaxStreamsPerInvoice: 2, MaxStreamsPerClient: 3})
	a, b := e.invoice(t, invoices.CreateRequest{}), e.invoice(t, invoices.CreateRequest{})
	open := func(id string) (*http.Response, context.CancelFunc) {
		t.Helper()
		sctx, cancel := context.WithCancel(ctx)
		req, _ := http.NewRequestWithContext(sctx, http.MethodGet, e.srv.URL+"/i/"+id+"/events", nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 200 {
			if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry: ") {
				t.Fatalf("first line %q, %v", line, err)
			}
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp, cancel
	}
	_, closeA1 := open(a.Invoice.ID)
	open(a.Invoice.ID)
	if r, _ := open(a.Invoice.ID); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("third stream of one invoice: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	open(b.Invoice.ID) // the client's third stream
	if r, _ := open(b.Invoice.ID); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth stream of one client: %d", r.StatusCode)
	}
	closeA1()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := open(a.Invoice.ID)
		if r.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's slot was not freed: %d", r.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
