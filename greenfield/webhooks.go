package greenfield

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

// FormatName is the webhook endpoint format of Greenfield endpoints.
const FormatName = "greenfield"

// SignatureHeader is BTCPay's webhook signature header: "sha256=" + hex HMAC-SHA256 of the
// raw body keyed with the webhook's secret.
const SignatureHeader = "BTCPay-Sig"

// eventMap maps the Greenfield events chainpay delivers to chainpay event types.
var eventMap = []struct{ greenfield, chainpay string }{
	{"InvoiceCreated", webhooks.EventInvoiceCreated},
	{"InvoiceReceivedPayment", webhooks.EventInvoicePaymentReceived},
	{"InvoicePaymentSettled", webhooks.EventInvoicePaymentConfirmed},
	{"InvoiceProcessing", webhooks.EventInvoiceProcessing},
	{"InvoiceExpired", webhooks.EventInvoiceExpired},
	{"InvoiceSettled", webhooks.EventInvoiceSettled},
	{"InvoiceInvalid", webhooks.EventInvoiceInvalid},
}

// acceptedNotSent are Greenfield events a subscription may name that chainpay never sends
// (none today: every invoice event of Greenfield has a chainpay event).
var acceptedNotSent []string

func greenfieldEvent(chainpay string) string {
	for _, e := range eventMap {
		if e.chainpay == chainpay {
			return e.greenfield
		}
	}
	return ""
}

// authorizedEvents is Greenfield's subscription filter.
type authorizedEvents struct {
	Everything     *bool    `json:"everything"`
	SpecificEvents []string `json:"specificEvents"`
}

type webhookRequest struct {
	ID                  *string           `json:"id"` // ignored (BTCPay's schema allows it)
	Enabled             *bool             `json:"enabled"`
	AutomaticRedelivery *bool             `json:"automaticRedelivery"`
	URL                 *string           `json:"url"`
	AuthorizedEvents    *authorizedEvents `json:"authorizedEvents"`
	Secret              *string           `json:"secret"`
}

type authorizedEventsJSON struct {
	Everything     bool     `json:"everything"`
	SpecificEvents []string `json:"specificEvents"`
}

type webhookJSON struct {
	ID                  string               `json:"id"`
	Enabled             bool                 `json:"enabled"`
	AutomaticRedelivery bool                 `json:"automaticRedelivery"`
	URL                 string               `json:"url"`
	AuthorizedEvents    authorizedEventsJSON `json:"authorizedEvents"`
	Secret              string               `json:"secret,omitempty"`
}

// chainpayEvents converts a Greenfield filter; nil (absent) means everything.
func chainpayEvents(a *authorizedEvents) ([]string, []fieldError) {
	if a == nil || a.Everything == nil || *a.Everything {
		out := make([]string, 0, len(eventMap))
		for _, e := range eventMap {
			out = append(out, e.chainpay)
		}
		return out, nil
	}
	var (
		out []string
		bad []fieldError
	)
	for i, g := range a.SpecificEvents {
		found := false
		for _, e := range eventMap {
			if e.greenfield == g {
				found = true
				if !slices.Contains(out, e.chainpay) {
					out = append(out, e.chainpay)
				}
			}
		}
		if !found && !slices.Contains(acceptedNotSent, g) {
			bad = append(bad, fieldError{Path: fmt.Sprintf("authorizedEvents.specificEvents[%d]", i),
				Message: fmt.Sprintf("%q is not an event chainpay sends (it sends %s)", g, strings.Join(greenfieldNames2(), ", "))})
		}
	}
	if len(bad) == 0 && len(out) == 0 {
		bad = append(bad, fieldError{Path: "authorizedEvents.specificEvents", Message: "name at least one event chainpay sends, or set everything to true"})
	}
	return out, bad
}

func greenfieldNames2() []string {
	out := make([]string, 0, len(eventMap))
	for _, e := range eventMap {
		out = append(out, e.greenfield)
	}
	return out
}

func webhookView(e webhooks.Endpoint) webhookJSON {
	v := webhookJSON{ID: e.ID, Enabled: e.Enabled, AutomaticRedelivery: true, URL: e.URL, Secret: e.Secret,
		AuthorizedEvents: authorizedEventsJSON{SpecificEvents: []string{}}}
	all := true
	for _, m := range eventMap {
		if !slices.Contains(e.Events, m.chainpay) && !slices.Contains(e.Events, webhooks.AllEvents) {
			all = false
		}
	}
	if all {
		v.AuthorizedEvents.Everything = true
		return v
	}
	for _, ev := range e.Events {
		if g := greenfieldEvent(ev); g != "" {
			v.AuthorizedEvents.SpecificEvents = append(v.AuthorizedEvents.SpecificEvents, g)
		}
	}
	return v
}

func (s *Server) webhooksReady(w http.ResponseWriter) bool {
	if s.cfg.Webhooks == nil {
		writeError(w, http.StatusServiceUnavailable, "service-unavailable", "webhooks are not configured on this server")
		return false
	}
	return true
}

// webhookError maps the webhooks service's errors.
func (s *Server) webhookError(w http.ResponseWriter, r *http.Request, err error) {
	var inv *webhooks.InvalidError
	switch {
	case errors.As(err, &inv):
		path := inv.Field
		if strings.HasPrefix(path, "events") {
			path = "authorizedEvents"
		}
		writeValidation(w, []fieldError{{Path: path, Message: inv.Reason}})
	case errors.Is(err, webhooks.ErrNotFound):
		writeError(w, http.StatusNotFound, "webhook-not-found", "no such webhook in this store")
	case errors.Is(err, webhooks.ErrTooManyEndpoints):
		writeError(w, http.StatusBadRequest, "too-many-webhooks", err.Error())
	default:
		s.internal(w, r, err)
	}
}

// ownWebhook returns the store's Greenfield webhook id; chainpay-format endpoints of the
// same store are not visible here (404), so a Greenfield client never changes them.
func (s *Server) ownWebhook(w http.ResponseWriter, r *http.Request) (webhooks.Endpoint, bool) {
	e, err := s.cfg.Webhooks.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err == nil && e.Format != FormatName {
		err = webhooks.ErrNotFound
	}
	if err != nil {
		s.webhookError(w, r, err)
		return webhooks.Endpoint{}, false
	}
	return e, true
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w) {
		return
	}
	all, err := s.cfg.Webhooks.List(r.Context(), keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	out := []webhookJSON{}
	for _, e := range all {
		if e.Format == FormatName {
			out = append(out, webhookView(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w) {
		return
	}
	if e, ok := s.ownWebhook(w, r); ok {
		writeJSON(w, http.StatusOK, webhookView(e))
	}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w) {
		return
	}
	var req webhookRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	events, bad := chainpayEvents(req.AuthorizedEvents)
	if req.URL == nil || *req.URL == "" {
		bad = append(bad, fieldError{Path: "url", Message: "required"})
	}
	if len(bad) > 0 {
		writeValidation(w, bad)
		return
	}
	in := webhooks.NewEndpoint{URL: *req.URL, Events: events, Description: "Greenfield webhook", Format: FormatName,
		Disabled: req.Enabled != nil && !*req.Enabled}
	if req.Secret != nil {
		in.Secret = *req.Secret
	}
	e, err := s.cfg.Webhooks.CreateEndpoint(r.Context(), keyFrom(r.Context()).MerchantID, in)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView(e)) // with the secret, this once
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w) {
		return
	}
	var req webhookRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	u := webhooks.Update{URL: req.URL, Enabled: req.Enabled}
	if req.URL != nil && *req.URL == "" {
		writeValidation(w, []fieldError{{Path: "url", Message: "must not be empty"}})
		return
	}
	if req.AuthorizedEvents != nil {
		events, bad := chainpayEvents(req.AuthorizedEvents)
		if len(bad) > 0 {
			writeValidation(w, bad)
			return
		}
		u.Events = events
	}
	if req.Secret != nil && *req.Secret != "" {
		u.Secret = req.Secret
	}
	if _, ok := s.ownWebhook(w, r); !ok {
		return
	}
	e, err := s.cfg.Webhooks.Update(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"), u)
	if err != nil {
		s.webhookError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView(e))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w) {
		return
	}
	if _, ok := s.ownWebhook(w, r); !ok {
		return
	}
	if err := s.cfg.Webhooks.Delete(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id")); err != nil {
		s.webhookError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Sign returns the BTCPay-Sig value of body: "sha256=" + hex(HMAC-SHA256(secret, body)).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a BTCPay-Sig header against the raw body in constant time, as a receiver
// (and chainpay's tests) should.
func Verify(secret, header string, body []byte) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(strings.TrimSpace(header)))
}

// Formatter renders Greenfield webhook requests from chainpay's frozen event payloads. It
// is the webhooks.Formatter of FormatName: register it in webhooks.DelivererConfig.Formats.
type Formatter struct{}

var _ webhooks.Formatter = Formatter{}

// snapshot is the part of chainpay's invoice JSON (the payload's data.invoice) a Greenfield
// event needs.
type snapshot struct {
	ID             string          `json:"id"`
	OrderID        *string         `json:"order_id"`
	Metadata       json.RawMessage `json:"metadata"`
	ExpiresAt      time.Time       `json:"expires_at"`
	PaymentOptions []struct {
		Asset                 string `json:"asset"`
		Chain                 string `json:"chain"`
		Decimals              int32  `json:"decimals"`
		Address               string `json:"address"`
		ConfirmationsRequired int    `json:"confirmations_required"`
	} `json:"payment_options"`
}

// details is the event's own data as the invoices package stores it: status events carry
// the status and flags at the time of the event; payment events the payment.
type details struct {
	Status       string   `json:"status"`
	Flags        []string `json:"flags"`
	PaymentID    string   `json:"payment_id"`
	TxID         string   `json:"txid"`
	Asset        string   `json:"asset"`
	AmountAtomic string   `json:"amount_atomic"`
	// SeenAt is when the payment was first seen (payment_confirmed carries it).
	SeenAt *time.Time `json:"seen_at"`
}

// Format implements webhooks.Formatter: the Greenfield event body of the delivery (the same
// bytes on every attempt; isRedelivery follows a merchant's redelivery request) and its
// BTCPay-Sig.
func (Formatter) Format(ep store.WebhookEndpoint, del store.WebhookDelivery) ([]byte, http.Header, error) {
	var p webhooks.Payload
	if err := json.Unmarshal([]byte(del.Payload), &p); err != nil {
		return nil, nil, fmt.Errorf("payload of %s: %w", del.EventID, err)
	}
	typ := greenfieldEvent(p.Type)
	if typ == "" {
		return nil, nil, fmt.Errorf("event type %s has no Greenfield equivalent", p.Type)
	}
	var inv snapshot
	if err := json.Unmarshal(p.Data.Invoice, &inv); err != nil {
		return nil, nil, fmt.Errorf("invoice of %s: %w", del.EventID, err)
	}
	var d details
	if len(p.Data.Details) > 0 {
		if err := json.Unmarshal(p.Data.Details, &d); err != nil {
			return nil, nil, fmt.Errorf("details of %s: %w", del.EventID, err)
		}
	}
	meta := map[string]json.RawMessage{}
	if len(inv.Metadata) > 0 && string(inv.Metadata) != "null" {
		_ = json.Unmarshal(inv.Metadata, &meta)
	}
	if _, ok := meta["orderId"]; !ok && inv.OrderID != nil {
		b, _ := json.Marshal(*inv.OrderID)
		meta["orderId"] = b
	}
	body := map[string]any{
		"deliveryId": del.ID, "webhookId": ep.ID, "originalDeliveryId": del.ID, "isRedelivery": del.Manual,
		"type": typ, "timestamp": p.CreatedAt.Unix(), "storeId": del.MerchantID, "invoiceId": inv.ID, "metadata": meta,
	}
	has := func(f string) bool { return slices.Contains(d.Flags, f) }
	// payment fills the fields of the two per-payment events: afterExpiration,
	// paymentMethodId and the payment (BTCPay's Payment: id, receivedDate, value, fee,
	// status, destination; transactionId beside them as BTCPay's own body has it).
	payment := func(status string) error {
		received := p.CreatedAt
		if d.SeenAt != nil {
			received = *d.SeenAt
		}
		body["afterExpiration"] = received.After(inv.ExpiresAt)
		for _, o := range inv.PaymentOptions {
			if o.Asset != d.Asset {
				continue
			}
			amt, ok := new(big.Int).SetString(d.AmountAtomic, 10)
			if !ok {
				return fmt.Errorf("payment amount %q of %s", d.AmountAtomic, del.EventID)
			}
			if status == "" {
				status = "Processing"
				if o.ConfirmationsRequired == 0 {
					status = "Settled"
				}
			}
			body["paymentMethodId"] = PaymentMethodID(o.Asset, o.Chain)
			body["payment"] = map[string]any{"id": d.PaymentID, "receivedDate": received.Unix(),
				"value": money.FormatAmount(amt, o.Decimals), "fee": "0", "status": status, "destination": o.Address,
				"transactionId": d.TxID}
			return nil
		}
		return nil // no option of the asset (never so for stored events): no payment fields
	}
	switch typ {
	case "InvoiceReceivedPayment":
		if err := payment(""); err != nil {
			return nil, nil, err
		}
	case "InvoicePaymentSettled":
		if err := payment("Settled"); err != nil {
			return nil, nil, err
		}
	case "InvoiceProcessing":
		body["overPaid"] = has("paid_over")
	case "InvoiceSettled":
		body["manuallyMarked"] = has("marked")
		body["overPaid"] = has("paid_over")
	case "InvoiceExpired":
		body["partiallyPaid"] = has("paid_partial")
	case "InvoiceInvalid":
		body["manuallyMarked"] = has("marked") || has("canceled")
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	h.Set(SignatureHeader, Sign(ep.Secret, b))
	return b, h, nil
}
