package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
)

// Refunds is what the refund page needs from the refunds service (*refunds.Service).
type Refunds interface {
	// Get returns the refund ("" merchant = any) or an error wrapping refunds.ErrNotFound.
	Get(ctx context.Context, merchantID, id string) (store.Refund, error)
	// Claim records the customer's destination once; a refused destination is an
	// *invoices.ValidationError, a refund already claimed an *invoices.StateError.
	Claim(ctx context.Context, id, destination string) (store.Refund, error)
}

var _ Refunds = (*refunds.Service)(nil)

const refundJSPath = "/i/assets/refund.js"

// refundView is the customer's view of a refund.
type refundView struct {
	ID, InvoiceID, State, Title, Detail string
	Amount, Asset, Network, Destination string
	ClaimURL                            string
	Claimable                           bool
}

type refundPage struct {
	pageData
	Refund refundView
}

// validRefundID reports whether id can be a refund id.
func validRefundID(id string) bool {
	return len(id) > 4 && validID("inv_"+strings.TrimPrefix(id, "ref_")) && strings.HasPrefix(id, "ref_")
}

func (h *Handler) refundRoutes() error {
	var err error
	if h.refundPage, err = template.ParseFS(templateFiles, "templates/layout.html", "templates/refund.html"); err != nil {
		return err
	}
	if h.refundJS, err = loadAsset("assets/refund.js", refundJSPath, "text/javascript; charset=utf-8"); err != nil {
		return err
	}
	h.mux.HandleFunc("GET "+refundJSPath, h.serveAsset(h.refundJS))
	h.mux.HandleFunc("GET /r/{id}", h.serveRefund)
	h.mux.HandleFunc("POST /r/{id}/claim", h.claimRefund)
	return nil
}

func (h *Handler) loadRefund(ctx context.Context, id string) (store.Refund, string, error) {
	if !validRefundID(id) {
		return store.Refund{}, "", errNotFound
	}
	r, err := h.cfg.Refunds.Get(ctx, "", id)
	if errors.Is(err, refunds.ErrNotFound) {
		return store.Refund{}, "", errNotFound
	}
	if err != nil {
		return store.Refund{}, "", err
	}
	var name string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		m, err := tx.GetMerchant(ctx, r.MerchantID)
		name = m.Name
		return err
	})
	return r, name, err
}

func (h *Handler) refundView(r store.Refund, lang language) refundView {
	scale := r.Scale
	if c, ok := money.Currency(r.Currency); ok {
		scale = c.Scale
	}
	amount := money.FormatAmount(r.AmountFiat, scale) + " " + r.Currency
	if r.Currency != r.Asset {
		amount += " (" + money.FormatAmount(r.AmountAtomic, r.Scale) + " " + r.Asset + ")"
	}
	return refundView{ID: r.ID, InvoiceID: r.InvoiceID, State: r.Status, Title: lang.T("refund.title." + r.Status),
		Detail: lang.T("refund.detail." + r.Status), Amount: amount, Asset: r.Asset, Network: networkName(r.Chain, r.Network),
		Destination: r.Destination, ClaimURL: "/r/" + url.PathEscape(r.ID) + "/claim", Claimable: r.Status == store.RefundPending}
}

func (h *Handler) serveRefund(w http.ResponseWriter, r *http.Request) {
	lang := h.language(r)
	ref, name, err := h.loadRefund(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	data := refundPage{
		pageData: pageData{language: lang, Langs: h.cat.langs, CSS: h.css.url, JS: h.refundJS.url, Store: name,
			Title: lang.T("refund.page.title", "store", name)},
		Refund: h.refundView(ref, lang),
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang.Code)
	h.render(w, h.refundPage, http.StatusOK, data)
}

// claimRefund takes {"destination": "..."} as JSON (a cross-site form cannot send it without
// a CORS preflight this handler never answers) and records it once.
func (h *Handler) claimRefund(w http.ResponseWriter, r *http.Request) {
	lang := h.language(r)
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSONProblem(w, http.StatusUnsupportedMediaType, "send the destination as application/json")
		return
	}
	var body struct {
		Destination string `json:"destination"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeJSONProblem(w, http.StatusBadRequest, `send {"destination": "<address>"}`)
		return
	}
	if !validRefundID(r.PathValue("id")) {
		writeJSONError(w, http.StatusNotFound, "refund not found")
		return
	}
	ref, err := h.cfg.Refunds.Claim(r.Context(), r.PathValue("id"), body.Destination)
	var (
		ve *invoices.ValidationError
		se *invoices.StateError
	)
	switch {
	case errors.Is(err, refunds.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, "refund not found")
		return
	case errors.As(err, &ve):
		writeJSONProblem(w, http.StatusUnprocessableEntity, ve.Fields["destination"])
		return
	case errors.As(err, &se):
		writeJSONProblem(w, http.StatusConflict, lang.T("refund.detail.claimed"))
		return
	case err != nil:
		h.cfg.Logger.Error("checkout: claim refund", "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	v := h.refundView(ref, lang)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"state": v.State, "title": v.Title, "detail": v.Detail,
		"destination": v.Destination, "address_label": lang.T("label.address")})
}

// writeJSONProblem answers a problem whose detail the refund page shows the customer.
func writeJSONProblem(w http.ResponseWriter, code int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "/problems/refund-claim", "title": http.StatusText(code),
		"status": code, "detail": detail})
}
