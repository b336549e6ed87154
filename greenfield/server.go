package greenfield

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

// Version is the BTCPay Server version server/info reports. Plugins gate features on it:
// the WooCommerce plugin offers refunds from 1.7.6 on, and BTCPay 2.0 introduced the
// payment method ids ("BTC-CHAIN") and list shapes this package answers with.
const Version = "2.0.0"

// Config configures a Server.
type Config struct {
	Store    store.Store
	Invoices *invoices.Service
	Webhooks *webhooks.Service // optional: the webhook routes answer 503 without it
	Refunds  *refunds.Service  // optional: the refund routes answer 503 without it
	Logger   *slog.Logger
	Now      func() time.Time
	// PublicURL is the base of checkout links, e.g. "https://pay.example.com".
	PublicURL string
	// MaxBody bounds request bodies (default 64 KiB); BodyTimeout bounds the time to send
	// one (default 10 s).
	MaxBody     int64
	BodyTimeout time.Duration
	// MonitoringMinutes is the server-wide monitoring window after expiry that the invoices
	// service applies (default 1440): checkout.monitoringMinutes must equal it.
	MonitoringMinutes int64
	// ServerName is shown on the authorize page (default "chainpay").
	ServerName string
}

// Server serves the Greenfield routes. Handlers are stateless.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a Server.
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
	if cfg.MonitoringMinutes == 0 {
		cfg.MonitoringMinutes = 24 * 60
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "chainpay"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.routes()
	return s
}

// Paths lists the path patterns to mount the Server under (on a http.ServeMux).
func Paths() []string { return []string{"/api/v1/", "/api-keys/authorize", "/modal/btcpay.js"} }

func (s *Server) routes() {
	s.mux.Handle("GET /api/v1/api-keys/current", s.auth("", s.currentKey))
	s.mux.Handle("GET /api/v1/server/info", s.auth("", s.serverInfo))
	s.mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"synchronized": true}) // as server/info's fullySynched
	})
	s.mux.Handle("GET /api/v1/stores", s.auth(apikey.InvoicesRead, s.listStores))
	s.mux.Handle("GET /api/v1/stores/{storeId}", s.store(apikey.InvoicesRead, s.getStore))
	s.mux.Handle("GET /api/v1/stores/{storeId}/payment-methods", s.store(apikey.InvoicesRead, s.storePaymentMethods))
	s.mux.Handle("POST /api/v1/stores/{storeId}/invoices", s.store(apikey.InvoicesWrite, s.createInvoice))
	s.mux.Handle("GET /api/v1/stores/{storeId}/invoices/{id}", s.store(apikey.InvoicesRead, s.getInvoice))
	s.mux.Handle("GET /api/v1/stores/{storeId}/invoices/{id}/payment-methods", s.store(apikey.InvoicesRead, s.invoicePaymentMethods))
	s.mux.Handle("POST /api/v1/stores/{storeId}/invoices/{id}/status", s.store(apikey.InvoicesWrite, s.markInvoice))
	s.mux.Handle("POST /api/v1/stores/{storeId}/pull-payments", s.store(apikey.RefundsWrite, s.createPullPayment))
	s.mux.Handle("POST /api/v1/stores/{storeId}/invoices/{id}/refund", s.store(apikey.RefundsWrite, s.refundInvoice))
	s.mux.Handle("GET /api/v1/stores/{storeId}/pull-payments", s.store(apikey.RefundsRead, s.listPullPayments))
	s.mux.Handle("DELETE /api/v1/stores/{storeId}/pull-payments/{pullPaymentId}", s.store(apikey.RefundsWrite, s.archivePullPayment))
	s.mux.HandleFunc("GET /api/v1/pull-payments/{pullPaymentId}", s.getPullPayment)
	s.mux.HandleFunc("GET /api/v1/pull-payments/{pullPaymentId}/payouts", s.listPayouts)
	s.mux.Handle("GET /api/v1/stores/{storeId}/webhooks", s.store(apikey.WebhooksManage, s.listWebhooks))
	s.mux.Handle("POST /api/v1/stores/{storeId}/webhooks", s.store(apikey.WebhooksManage, s.createWebhook))
	s.mux.Handle("GET /api/v1/stores/{storeId}/webhooks/{id}", s.store(apikey.WebhooksManage, s.getWebhook))
	s.mux.Handle("PUT /api/v1/stores/{storeId}/webhooks/{id}", s.store(apikey.WebhooksManage, s.updateWebhook))
	s.mux.Handle("DELETE /api/v1/stores/{storeId}/webhooks/{id}", s.store(apikey.WebhooksManage, s.deleteWebhook))
	s.mux.HandleFunc("GET /api-keys/authorize", s.authorizePage)
	s.mux.HandleFunc("POST /api-keys/authorize", s.authorizeSubmit)
	s.mux.HandleFunc("GET /modal/btcpay.js", s.modalScript)
}

// ServeHTTP implements http.Handler. A panic becomes a 500 in Greenfield's shape, logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("greenfield handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal-error", "internal error")
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody+1)
	if r.ContentLength != 0 {
		// A client gets BodyTimeout to send its body (the server has no ReadTimeout); the
		// handlers read the whole body before answering, so the deadline is cleared after.
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)) == nil {
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// The rest of Greenfield (other paths, and other methods on these paths such as the
		// invoice list, update and archive): answered clearly rather than with a parse error.
		writeError(w, http.StatusNotImplemented, "not-supported",
			"chainpay does not implement "+r.Method+" "+r.URL.Path+" of the BTCPay Greenfield API (see docs/greenfield.md for what it supports)")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// problem is Greenfield's ProblemDetails.
type problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fieldError is one element of Greenfield's ValidationProblemDetails.
type fieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, problem{Code: code, Message: message})
}

// writeValidation answers 422 with one entry per wrong field, as BTCPay does.
func writeValidation(w http.ResponseWriter, errs []fieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, errs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("greenfield request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal-error", "internal error; the server log has the cause")
}

type ctxKey struct{}

func keyFrom(ctx context.Context) store.APIKey { return ctx.Value(ctxKey{}).(store.APIKey) }

// tokenOf returns the key of an Authorization header: "token <key>" as Greenfield clients
// send it, or "Bearer <key>".
func tokenOf(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || (!strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "Bearer")) {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// authenticate checks a presented chainpay key. Unknown, malformed and revoked keys are
// all ErrInvalid, so callers answer the same 401 whatever was wrong.
func (s *Server) authenticate(ctx context.Context, token string) (store.APIKey, error) {
	prefix, err := apikey.Prefix(token)
	if err != nil {
		return store.APIKey{}, apikey.ErrInvalid
	}
	var k store.APIKey
	err = s.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		k, err = tx.APIKeyByPrefix(ctx, prefix)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, apikey.ErrInvalid
	}
	if err != nil {
		return store.APIKey{}, err
	}
	if apikey.Check(token, k) != nil {
		return store.APIKey{}, apikey.ErrInvalid
	}
	return k, nil
}

// auth authenticates the key and requires the chainpay permission perm ("" for none).
func (s *Server) auth(perm string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := tokenOf(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `token realm="chainpay"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated",
				"send a chainpay API key as Authorization: token <key> (Basic authentication is not supported)")
			return
		}
		k, err := s.authenticate(r.Context(), token)
		if errors.Is(err, apikey.ErrInvalid) {
			w.Header().Set("WWW-Authenticate", `token realm="chainpay"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "the API key is not valid")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if perm != "" && !apikey.Has(k, perm) {
			writeError(w, http.StatusForbidden, "missing-permission",
				"this API key lacks the permission "+greenfieldNames(perm)+" (chainpay: "+perm+")")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, k)))
	})
}

// store is auth for routes under stores/{storeId}: the key's own store only; any other id
// is a 404, whether or not that store exists.
func (s *Server) store(perm string, next http.HandlerFunc) http.Handler {
	return s.auth(perm, func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("storeId") != keyFrom(r.Context()).MerchantID {
			writeError(w, http.StatusNotFound, "store-not-found", "no such store for this API key")
			return
		}
		next(w, r)
	})
}

//go:embed modal.js
var modalJS []byte

// modalScript serves BTCPay's checkout modal API (window.btcpay) for chainpay's checkout
// page: see modal.js. Shops load it from their own pages, so it may be cached briefly.
func (s *Server) modalScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(modalJS)
}
