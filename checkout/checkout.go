package checkout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets/checkout.css assets/checkout.js assets/refund.js
var assetFiles embed.FS

// Invoices is what the checkout page needs from the invoice service (*invoices.Service).
type Invoices interface {
	// GetTx returns the invoice with its options, payments, tips and progress ("" merchant
	// = any), or an error wrapping invoices.ErrNotFound.
	GetTx(ctx context.Context, tx store.Tx, merchantID, id string) (invoices.Details, error)
	// PaymentURI is the wallet URI for paying amount of the option's asset.
	PaymentURI(o store.PaymentOption, amount *big.Int, label string) string
}

var _ Invoices = (*invoices.Service)(nil)

// Config configures the checkout handler. Store and Invoices are required.
type Config struct {
	Store    store.Store
	Invoices Invoices
	Logger   *slog.Logger
	Now      func() time.Time
	// PollInterval is how often an open event stream re-reads the invoice (default 1 s).
	PollInterval time.Duration
	// Heartbeat is the interval of comment lines that keep idle event streams open through
	// proxies (default 15 s).
	Heartbeat time.Duration
	// MaxStream ends an event stream after this long; the browser reconnects by itself
	// (default 10 min). It bounds how long one connection pins a server.
	MaxStream time.Duration
	// RedirectDelay is how long the paid page shows before going to the merchant's redirect
	// URL (default 3 s).
	RedirectDelay time.Duration
	// MaxStreamsPerInvoice and MaxStreamsPerClient bound the live-status streams this
	// process holds open for one invoice (default 20) and for one client address (default
	// 50; behind a reverse proxy every client has the proxy's address, so raise it there).
	// A stream beyond either limit is refused with 429; the page then polls instead.
	MaxStreamsPerInvoice int
	MaxStreamsPerClient  int
	// Refunds enables the refund page /r/{id} (mount the handler at /r/ too); optional.
	Refunds Refunds
}

// Handler serves the hosted checkout page; see the package documentation for its routes.
// It keeps no per-invoice state, so any number of replicas may serve the same invoice.
type Handler struct {
	cfg     Config
	streams *streamLimiter
	mux     *http.ServeMux
	cat     *catalog
	page    *template.Template
	msgPage *template.Template
	css     asset
	js      asset
	// refund page (Config.Refunds)
	refundPage *template.Template
	refundJS   asset
}

var _ http.Handler = (*Handler)(nil)

type asset struct {
	body  []byte
	url   string // with a content hash, so browsers may cache it for a long time
	ctype string
}

// Route prefixes. The handler serves everything under /i/; mount it there.
const (
	cssPath = "/i/assets/checkout.css"
	jsPath  = "/i/assets/checkout.js"
)

// New returns the checkout handler. It panics when Config lacks Store or Invoices, as
// http.ServeMux.Handle panics on a nil handler: that is a wiring mistake, not bad input.
func New(cfg Config) http.Handler {
	h, err := newHandler(cfg)
	if err != nil {
		panic(err)
	}
	return h
}

func newHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("checkout: Config.Store is required")
	}
	if cfg.Invoices == nil {
		return nil, errors.New("checkout: Config.Invoices is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MaxStream <= 0 {
		cfg.MaxStream = 10 * time.Minute
	}
	if cfg.RedirectDelay <= 0 {
		cfg.RedirectDelay = 3 * time.Second
	}
	if cfg.MaxStreamsPerInvoice <= 0 {
		cfg.MaxStreamsPerInvoice = 20
	}
	if cfg.MaxStreamsPerClient <= 0 {
		cfg.MaxStreamsPerClient = 50
	}
	cat, err := loadCatalog()
	if err != nil {
		return nil, fmt.Errorf("checkout: %w", err)
	}
	h := &Handler{cfg: cfg, cat: cat, mux: http.NewServeMux(),
		streams: &streamLimiter{perKey: map[string]int{}, maxInvoice: cfg.MaxStreamsPerInvoice, maxClient: cfg.MaxStreamsPerClient}}
	if h.page, err = template.ParseFS(templateFiles, "templates/layout.html", "templates/page.html"); err != nil {
		return nil, fmt.Errorf("checkout: page template: %w", err)
	}
	if h.msgPage, err = template.ParseFS(templateFiles, "templates/layout.html", "templates/message.html"); err != nil {
		return nil, fmt.Errorf("checkout: message template: %w", err)
	}
	if h.css, err = loadAsset("assets/checkout.css", cssPath, "text/css; charset=utf-8"); err != nil {
		return nil, err
	}
	if h.js, err = loadAsset("assets/checkout.js", jsPath, "text/javascript; charset=utf-8"); err != nil {
		return nil, err
	}
	h.mux.HandleFunc("GET "+cssPath, h.serveAsset(h.css))
	h.mux.HandleFunc("GET "+jsPath, h.serveAsset(h.js))
	h.mux.HandleFunc("GET /i/{id}", h.servePage)
	h.mux.HandleFunc("GET /i/{id}/status", h.serveStatus)
	h.mux.HandleFunc("GET /i/{id}/events", h.serveEvents)
	h.mux.HandleFunc("GET /i/{id}/qr/{file}", h.serveQR)
	if cfg.Refunds != nil {
		if err := h.refundRoutes(); err != nil {
			return nil, fmt.Errorf("checkout: refund page: %w", err)
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r) })
	return h, nil
}

func loadAsset(name, path, ctype string) (asset, error) {
	b, err := assetFiles.ReadFile(name)
	if err != nil {
		return asset{}, fmt.Errorf("checkout: asset %s: %w", name, err)
	}
	sum := sha256.Sum256(b)
	return asset{body: b, url: path + "?v=" + hex.EncodeToString(sum[:6]), ctype: ctype}, nil
}

// contentSecurityPolicy allows only this origin's script, style, images (plus data: URIs)
// and connections: no inline script or style, no frames, no forms, no plugins.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// modalContentSecurityPolicy is contentSecurityPolicy for the page in a checkout modal:
// framing allowed from any http(s) page.
const modalContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors http: https:"

// ServeHTTP implements http.Handler: it sets the security headers on every response, then
// routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.URL.Query().Get("view") == "modal" && strings.HasPrefix(r.URL.Path, "/i/") && strings.Count(r.URL.Path, "/") == 2 {
		// The page itself in a shop's checkout modal (/modal/btcpay.js, issue 27): any site
		// may frame it. It has no authenticated action to click-jack; it tells the framing
		// page the invoice's status, which whoever holds the link can read anyway.
		hd.Set("Content-Security-Policy", modalContentSecurityPolicy)
		hd.Del("X-Frame-Options")
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveAsset(a asset) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, _ = w.Write(a.body)
	}
}

// validID reports whether id can be an invoice id ("inv_" and base32), so that junk never
// reaches the database.
func validID(id string) bool {
	if len(id) < 5 || len(id) > 64 || !strings.HasPrefix(id, "inv_") {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// errNotFound means the invoice does not exist (or the id cannot be one).
var errNotFound = errors.New("invoice not found")

// snapshot is one consistent read of an invoice and its store's name.
type snapshot struct {
	details invoices.Details
	store   string
}

func (h *Handler) load(ctx context.Context, id string) (snapshot, error) {
	if !validID(id) {
		return snapshot{}, errNotFound
	}
	var s snapshot
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		d, err := h.cfg.Invoices.GetTx(ctx, tx, "", id)
		if err != nil {
			return err
		}
		m, err := tx.GetMerchant(ctx, d.Invoice.MerchantID)
		if err != nil {
			return fmt.Errorf("merchant of %s: %w", id, err)
		}
		s = snapshot{details: d, store: m.Name}
		return nil
	})
	if errors.Is(err, invoices.ErrNotFound) {
		return snapshot{}, errNotFound
	}
	if err != nil {
		return snapshot{}, fmt.Errorf("load invoice %s: %w", id, err)
	}
	return s, nil
}

// language picks the response language from ?lang= then Accept-Language.
func (h *Handler) language(r *http.Request) language {
	return h.cat.get(pickLanguage(r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"), h.cat.codes()))
}

// status builds the customer's view of the snapshot in lang.
func (h *Handler) status(s snapshot, lang language, now time.Time) Status {
	d := s.details
	v := evaluate(d, now)
	st := Status{
		InvoiceID: d.Invoice.ID, State: v.state, Title: lang.T("title." + string(v.state)),
		Payable: v.payable(), Confirmations: v.confs, ExpiresAt: d.Invoice.ExpiresAt.UTC(),
		Options: make([]OptionStatus, 0, len(d.Options)), RedirectURL: v.redirectURL, ServerTime: now.UTC(),
	}
	if v.confs != nil {
		st.Detail = lang.T(v.detail, "have", v.confs.Have, "need", v.confs.Need)
	} else {
		st.Detail = lang.T(v.detail)
	}
	for _, o := range d.Options {
		amt := v.amounts[o.ID]
		os := OptionStatus{
			ID: o.ID, Asset: o.Asset, Chain: o.Chain, Network: networkName(o.Chain, o.Network), Address: o.Address,
			AmountDue: money.FormatAmount(o.AmountDue, o.Scale), Amount: money.FormatAmount(amt, o.Scale), amount: amt,
		}
		if st.Payable {
			os.URI = h.cfg.Invoices.PaymentURI(o, amt, s.store)
			os.QR = "/i/" + url.PathEscape(d.Invoice.ID) + "/qr/" + url.PathEscape(o.ID) + ".png?a=" + amt.String()
		}
		st.Options = append(st.Options, os)
	}
	return st
}

// pageData is what templates/page.html renders.
type pageData struct {
	language
	Langs        []language
	CSS, JS      string
	Store        string
	Price        string
	Status       Status
	Options      []optionData
	TimeLeft     string
	StatusURL    string
	EventsURL    string
	RedirectMS   int64
	Title        string
	MessageTitle string // message pages
	MessageText  string
}

type optionData struct {
	OptionStatus
	WalletURL template.URL // URI vetted by walletURL
	// OnSeveral is set when the invoice offers the option's asset on more than one
	// network: the title then names the network, so the customer picks the one their
	// wallet holds the asset on ("Pay with USDC on Base").
	OnSeveral bool
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	lang := h.language(r)
	s, err := h.load(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	now := h.cfg.Now()
	st := h.status(s, lang, now)
	id := url.PathEscape(st.InvoiceID)
	q := "?lang=" + lang.Code
	data := pageData{
		language: lang, Langs: h.cat.langs, CSS: h.css.url, JS: h.js.url, Store: s.store,
		Price: priceText(s.details), Status: st, TimeLeft: timeLeft(st.ExpiresAt.Sub(now)),
		StatusURL: "/i/" + id + "/status" + q, EventsURL: "/i/" + id + "/events" + q,
		RedirectMS: h.cfg.RedirectDelay.Milliseconds(), Title: lang.T("page.title", "store", s.store),
	}
	perAsset := map[string]int{}
	for _, o := range st.Options {
		perAsset[o.Asset]++
	}
	for _, o := range st.Options {
		data.Options = append(data.Options, optionData{OptionStatus: o, WalletURL: walletURL(o.URI), OnSeveral: perAsset[o.Asset] > 1})
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang.Code)
	h.render(w, h.page, http.StatusOK, data)
}

// walletURL lets the template link a wallet URI only when its scheme is a payment scheme
// (html/template would otherwise replace it, rightly, since it cannot know the scheme).
func walletURL(uri string) template.URL {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "bitcoin", "ethereum":
		return template.URL(uri)
	}
	return ""
}

// timeLeft formats a duration as the countdown shows it: m:ss, h:mm:ss, or "0:00".
func timeLeft(d time.Duration) string {
	if d <= 0 {
		return "0:00"
	}
	s := int64((d + time.Second - 1) / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

func (h *Handler) render(w http.ResponseWriter, t *template.Template, code int, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.cfg.Logger.Error("checkout: render page", "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) message(w http.ResponseWriter, r *http.Request, code int, titleKey, textKey string) {
	lang := h.language(r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang.Code)
	h.render(w, h.msgPage, code, pageData{
		language: lang, Langs: h.cat.langs, CSS: h.css.url, Title: lang.T(titleKey),
		MessageTitle: lang.T(titleKey), MessageText: lang.T(textKey),
	})
}

// notFound answers 404 with a page that holds no invoice data.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusNotFound, "notfound.title", "notfound.detail")
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	h.cfg.Logger.Error("checkout: read invoice", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "30")
	h.message(w, r, http.StatusServiceUnavailable, "error.title", "error.detail")
}

// serveStatus answers the Status JSON (the fallback when event streams fail).
func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	s, err := h.load(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, errNotFound):
		writeJSONError(w, http.StatusNotFound, "invoice not found")
		return
	case err != nil && r.Context().Err() != nil:
		return // the client went away
	case err != nil:
		h.cfg.Logger.Error("checkout: status", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	b, err := json.Marshal(h.status(s, h.language(r), h.cfg.Now()))
	if err != nil {
		h.cfg.Logger.Error("checkout: encode status", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

// writeJSONError answers an RFC 9457 problem, like the merchant API.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	kind := map[int]string{http.StatusNotFound: "not-found", http.StatusServiceUnavailable: "unavailable",
		http.StatusTooManyRequests: "too-many-streams"}[code]
	if kind == "" {
		kind = "internal"
	}
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"/problems/" + kind, http.StatusText(code), code, msg})
	_, _ = w.Write(append(b, '\n'))
}
