// Package api is chainpay's merchant HTTP API under /v1: bearer-key authentication scoped to
// one store, strict JSON input, RFC 9457 problem errors, Idempotency-Key on creating POSTs,
// and the OpenAPI document at /openapi.yaml that the tests hold every handler to.
package api

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the embedded OpenAPI 3 document.
func OpenAPI() []byte { return openapiYAML }

// Config configures the API.
type Config struct {
	Store     store.Store
	Invoices  *invoices.Service
	Rates     Rates // optional: GET /v1/rates answers 503 without it
	Logger    *slog.Logger
	Webhooks  *webhooks.Service // optional: the /v1/webhooks endpoints answer 503 without it
	Ledger    LedgerAdmin       // optional (the ledger relay): /v1/ledger/parked answers 503 without it
	Now       func() time.Time
	PublicURL string // base of checkout URLs, e.g. "https://pay.example.com"
	MaxBody   int64  // request body limit in bytes; default 64 KiB
	// BodyTimeout bounds the time a client may take to send a request body (default 10 s);
	// a slower body is a 408. It is set per request, so streaming responses are not cut.
	BodyTimeout time.Duration
	// Exports serves GET /v1/exports/settlements; nil means an exporter over Store.
	Exports *export.Exporter
	// Refunds serves the refund endpoints (optional: they answer 503 without it).
	Refunds *refunds.Service
	// KeyCacheTTL is how long an API key read from the store authenticates requests
	// without reading it again (default 1 s; negative: read on every request). It bounds
	// how long a key revoked by `chainpay apikey revoke` keeps working on a running server.
	KeyCacheTTL time.Duration
}

// Server serves the API. Handlers are stateless: every replica may serve every request
// (the API key cache only saves reads; it holds a key for at most Config.KeyCacheTTL).
type Server struct {
	cfg Config
	mux *http.ServeMux

	keysMu sync.Mutex
	keys   map[string]cachedKey // by lookup prefix
}

// cachedKey is an API key row as read at a time.
type cachedKey struct {
	k  store.APIKey
	at time.Time
}

// maxCachedKeys bounds the key cache; past it the cache starts over.
const maxCachedKeys = 10000

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, mux: http.NewServeMux(), keys: map[string]cachedKey{}}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapiYAML)
	})
	s.mux.Handle("POST /v1/invoices", s.auth(apikey.InvoicesWrite, s.createInvoice))
	s.mux.Handle("GET /v1/invoices", s.auth(apikey.InvoicesRead, s.listInvoices))
	s.mux.Handle("GET /v1/invoices/{id}", s.auth(apikey.InvoicesRead, s.getInvoice))
	s.mux.Handle("POST /v1/invoices/{id}/cancel", s.auth(apikey.InvoicesWrite, s.cancelInvoice))
	s.mux.Handle("POST /v1/invoices/{id}/resolve", s.auth(apikey.InvoicesWrite, s.resolveInvoice))
	s.mux.Handle("GET /v1/invoices/{id}/payments", s.auth(apikey.InvoicesRead, s.invoicePayments))
	s.mux.Handle("GET /v1/invoices/{id}/events", s.auth(apikey.InvoicesRead, s.invoiceEvents))
	s.mux.Handle("POST /v1/invoices/{id}/refunds", s.auth(apikey.RefundsWrite, s.createRefund))
	s.mux.Handle("GET /v1/invoices/{id}/refunds", s.auth(apikey.RefundsRead, s.listRefunds))
	s.mux.Handle("GET /v1/refunds", s.auth(apikey.RefundsRead, s.listRefunds))
	s.mux.Handle("GET /v1/refunds/{id}", s.auth(apikey.RefundsRead, s.getRefund))
	s.mux.Handle("POST /v1/refunds/{id}/cancel", s.auth(apikey.RefundsWrite, s.cancelRefund))
	s.mux.Handle("POST /v1/refunds/{id}/fail", s.auth(apikey.RefundsWrite, s.failRefund))
	s.mux.Handle("GET /v1/refunds/{id}/psbt", s.auth(apikey.RefundsWrite, s.refundPSBT))
	s.mux.Handle("POST /v1/refunds/{id}/psbt", s.auth(apikey.RefundsWrite, s.submitRefundPSBT))
	s.mux.Handle("GET /v1/refunds/{id}/transaction", s.auth(apikey.RefundsWrite, s.refundTransaction))
	s.mux.Handle("GET /v1/rates", s.auth(apikey.InvoicesRead, s.getRate))
	s.mux.Handle("POST /v1/wallets", s.auth(apikey.WalletsWrite, s.createWallet))
	s.mux.Handle("GET /v1/wallets", s.auth(apikey.WalletsRead, s.listWallets))
	s.mux.Handle("GET /v1/exports/settlements", s.auth(apikey.ExportsRead, s.exportSettlements))
	s.mux.Handle("POST /v1/webhooks", s.auth(apikey.WebhooksManage, s.createWebhook))
	s.mux.Handle("GET /v1/webhooks", s.auth(apikey.WebhooksManage, s.listWebhooks))
	s.mux.Handle("GET /v1/webhooks/{id}", s.auth(apikey.WebhooksManage, s.getWebhook))
	s.mux.Handle("DELETE /v1/webhooks/{id}", s.auth(apikey.WebhooksManage, s.deleteWebhook))
	s.mux.Handle("GET /v1/webhooks/{id}/deliveries", s.auth(apikey.WebhooksManage, s.webhookDeliveries))
	s.mux.Handle("POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", s.auth(apikey.WebhooksManage, s.redeliverWebhook))
	s.mux.Handle("GET /v1/ledger/parked", s.auth(apikey.ExportsRead, s.listParked))
	s.mux.Handle("GET /v1/ledger/verify", s.auth(apikey.ExportsRead, s.verifyLedger))
	s.mux.Handle("POST /v1/ledger/parked/{id}/retry", s.auth(apikey.InvoicesWrite, s.retryParked))
}

// ServeHTTP implements http.Handler. A panic in a handler becomes a 500 problem, logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeProblem(w, Problem{Type: typeInternal, Status: http.StatusInternalServerError, Detail: "internal error"})
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody+1)
	if r.ContentLength != 0 { // a body follows (known length or chunked)
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)) == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
	}
	if p := checkURL(r); p != nil {
		writeProblem(w, *p)
		return
	}
	// ServeMux answers unknown paths and methods in plain text; answer them as problems.
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, Problem{Type: typeMethod, Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed on " + r.URL.Path})
			return
		}
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such endpoint: " + r.Method + " " + r.URL.Path})
		return
	}
	s.mux.ServeHTTP(w, r) // (not h.ServeHTTP: the mux sets the path values)
}

// deadlineBody clears the connection's read deadline once the body has been read: the deadline is for the body only, and a connection read that times out later
// would cancel the request's context.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.cleared { // after a timeout the deadline stays: the connection is done
		b.cleared = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }

type ctxKey struct{}

// keyFrom returns the authenticated API key of the request.
func keyFrom(ctx context.Context) store.APIKey { return ctx.Value(ctxKey{}).(store.APIKey) }

// auth authenticates the bearer key and requires perm. Unknown, malformed and revoked keys
// all get the same 401.
func (s *Server) auth(perm string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unauthorized := func(detail string) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chainpay"`)
			writeProblem(w, Problem{Type: typeUnauthorized, Status: http.StatusUnauthorized, Detail: detail})
		}
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
			unauthorized("send an API key as Authorization: Bearer <key>")
			return
		}
		prefix, err := apikey.Prefix(strings.TrimSpace(token))
		if err != nil {
			unauthorized("the API key is not valid")
			return
		}
		k, err := s.apiKey(r.Context(), prefix)
		if errors.Is(err, store.ErrNotFound) {
			unauthorized("the API key is not valid")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if apikey.Check(strings.TrimSpace(token), k) != nil {
			unauthorized("the API key is not valid")
			return
		}
		if !apikey.Has(k, perm) {
			writeProblem(w, Problem{Type: typeForbidden, Status: http.StatusForbidden, Detail: "this API key lacks the permission " + perm})
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, k)))
	})
}

// apiKey returns the key with the lookup prefix, from the cache while it is younger than
// KeyCacheTTL (by the wall clock of this process), else from the store. Unknown prefixes are
// not cached: a key created a moment ago works at once.
func (s *Server) apiKey(ctx context.Context, prefix string) (store.APIKey, error) {
	now := time.Now()
	s.keysMu.Lock()
	c, ok := s.keys[prefix]
	s.keysMu.Unlock()
	if ok && now.Sub(c.at) < s.cfg.KeyCacheTTL {
		return c.k, nil
	}
	var k store.APIKey
	err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		k, err = tx.APIKeyByPrefix(ctx, prefix)
		return err
	})
	if err != nil || s.cfg.KeyCacheTTL < 0 {
		return k, err
	}
	s.keysMu.Lock()
	if len(s.keys) >= maxCachedKeys {
		clear(s.keys)
	}
	s.keys[prefix] = cachedKey{k: k, at: now}
	s.keysMu.Unlock()
	return k, nil
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeProblem(w, Problem{Type: typeInternal, Status: http.StatusInternalServerError, Detail: "internal error; the server log has the cause"})
}
