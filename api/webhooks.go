package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

var _ webhooks.Snapshots = (*Server)(nil)

// typeLimit is the problem type of a request refused because a per-store limit is reached.
const typeLimit = "/problems/limit-reached"

// createWebhookRequest is the body of POST /v1/webhooks.
type createWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

type webhookEndpointJSON struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Events      []string  `json:"events"`
	Enabled     bool      `json:"enabled"`
	Secret      *string   `json:"secret,omitempty"` // only in the answer to POST /v1/webhooks
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type webhookDeliveryJSON struct {
	ID             string               `json:"id"`
	Object         string               `json:"object"`
	EndpointID     string               `json:"endpoint_id"`
	EventID        string               `json:"event_id"`
	EventType      string               `json:"event_type"`
	Status         string               `json:"status"`
	Attempts       int                  `json:"attempts"`
	NextAttemptAt  *time.Time           `json:"next_attempt_at"`
	RetryUntil     time.Time            `json:"retry_until"`
	LastStatusCode *int                 `json:"last_status_code"`
	LastError      *string              `json:"last_error"`
	CreatedAt      time.Time            `json:"created_at"`
	UpdatedAt      time.Time            `json:"updated_at"`
	DeliveredAt    *time.Time           `json:"delivered_at"`
	Payload        jsonObject           `json:"payload"`
	AttemptLog     []webhookAttemptJSON `json:"attempt_log"`
}

type webhookAttemptJSON struct {
	Number        int        `json:"number"`
	Manual        bool       `json:"manual"`
	At            time.Time  `json:"at"`
	DurationMS    int64      `json:"duration_ms"`
	StatusCode    *int       `json:"status_code"`
	Response      *string    `json:"response"`
	Error         *string    `json:"error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

// jsonObject is stored JSON written as is; empty is null.
type jsonObject []byte

func (j jsonObject) MarshalJSON() ([]byte, error) {
	if len(bytes.TrimSpace(j)) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func endpointView(e webhooks.Endpoint) webhookEndpointJSON {
	v := webhookEndpointJSON{ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Description: e.Description,
		Events: e.Events, Enabled: e.Enabled, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	if e.Secret != "" {
		v.Secret = &e.Secret
	}
	return v
}

func deliveryView(d webhooks.Delivery) webhookDeliveryJSON {
	v := webhookDeliveryJSON{ID: d.ID, Object: "webhook_delivery", EndpointID: d.EndpointID, EventID: d.EventID,
		EventType: d.EventType, Status: d.Status, Attempts: d.Attempts, NextAttemptAt: d.NextAttempt,
		RetryUntil: d.RetryUntil, LastStatusCode: intPtr(d.LastStatus), LastError: strPtr(d.LastError),
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeliveredAt: d.DeliveredAt, Payload: jsonObject(d.Payload),
		AttemptLog: []webhookAttemptJSON{}}
	for _, a := range d.Log {
		v.AttemptLog = append(v.AttemptLog, webhookAttemptJSON{Number: a.Number, Manual: a.Manual, At: a.At,
			DurationMS: a.DurationMS, StatusCode: intPtr(a.StatusCode), Response: strPtr(a.Response),
			Error: strPtr(a.Error), NextAttemptAt: a.NextAttempt})
	}
	return v
}

// webhooksService returns the configured service, or answers 503 and returns nil.
func (s *Server) webhooksService(w http.ResponseWriter) *webhooks.Service {
	if s.cfg.Webhooks == nil {
		writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "webhooks are not enabled on this server"})
	}
	return s.cfg.Webhooks
}

// typeUnavailable is the problem type of a feature this server runs without.
const typeUnavailable = "/problems/feature-unavailable"

// webhookError maps webhooks.Service errors to problems. Invalid fields are 422 for a body
// and 400 for query parameters.
func (s *Server) webhookError(w http.ResponseWriter, r *http.Request, err error, invalidStatus int) {
	var ie *webhooks.InvalidError
	switch {
	case errors.As(err, &ie):
		writeProblem(w, Problem{Type: typeValidation, Status: invalidStatus, Detail: "the request has invalid fields",
			Errors: []FieldError{{Field: ie.Field, Detail: ie.Reason}}})
	case errors.Is(err, webhooks.ErrNotFound):
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: notFoundDetail(err)})
	case errors.Is(err, webhooks.ErrTooManyEndpoints):
		_, why, _ := strings.Cut(err.Error(), webhooks.ErrTooManyEndpoints.Error()+": ")
		writeProblem(w, Problem{Type: typeLimit, Status: http.StatusConflict,
			Detail: "this store has as many webhook endpoints as allowed (" + why + "); delete one first"})
	default:
		s.internal(w, r, err)
	}
}

func notFoundDetail(err error) string {
	if strings.Contains(err.Error(), "webhook delivery") {
		return "no such webhook delivery"
	}
	return "no such webhook endpoint"
}

// createWebhook registers an endpoint and answers it with its secret, the only time the
// secret is shown.
//
// Idempotency-Key: webhooks.Service.Create commits in its own transaction, so it cannot run
// inside s.idempotent's (on SQLite the nested write transaction would wait for the outer one
// forever). The key is handled in three steps instead: a request whose key already has a
// response is replayed (or refused, with another body) without creating anything; otherwise
// the endpoint is created and then recorded as the key's response through s.idempotent; when
// that finds the key taken meanwhile (a concurrent retry won) or fails, the endpoint just
// created is deleted again and the winner's response (or the error) is sent. A crash between
// the creation and the recording can leave one extra endpoint, visible in GET /v1/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	var req createWebhookRequest
	raw, p := decodeBody(r, s.cfg.MaxBody, &req)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	k := keyFrom(r.Context())
	if s.replayed(w, r, k.MerchantID, raw) {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	ep, err := svc.Create(r.Context(), k.MerchantID, req.URL, req.Events, req.Description)
	if err != nil {
		s.webhookError(w, r, err, http.StatusUnprocessableEntity)
		return
	}
	view := endpointView(ep)
	if key == "" {
		writeJSON(w, http.StatusCreated, view)
		return
	}
	buf := &bufferedResponse{header: http.Header{}}
	_ = s.idempotent(buf, r, k.MerchantID, raw, func(store.Tx) (int, any, error) { return http.StatusCreated, view, nil })
	if buf.status != http.StatusCreated || buf.header.Get("Idempotent-Replayed") != "" {
		if err := svc.Delete(context.WithoutCancel(r.Context()), k.MerchantID, ep.ID); err != nil {
			s.cfg.Logger.Error("could not delete a webhook endpoint created twice for one Idempotency-Key",
				"endpoint", ep.ID, "err", err)
		}
	}
	buf.copyTo(w)
}

// errPeek rolls back the transaction of idempotencyRecord.
var errPeek = errors.New("peek only")

// idempotencyRecord returns the merchant's record of key, or nil when there is none. It
// claims the key in a transaction it always rolls back, so it changes nothing but waits for
// a transaction that holds the key.
func (s *Server) idempotencyRecord(ctx context.Context, merchantID, key string) (*store.IdempotencyRecord, error) {
	var prev *store.IdempotencyRecord
	err := s.cfg.Store.Tx(ctx, func(tx store.Tx) (err error) {
		prev, err = tx.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: merchantID, Key: key,
			RequestHash: []byte{0}, CreatedAt: s.cfg.Now().UTC()})
		if err != nil {
			return err
		}
		return errPeek
	})
	if errors.Is(err, errPeek) {
		return prev, nil
	}
	return nil, err
}

// bufferedResponse holds a response so it can be inspected before it is sent.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	eps, err := svc.List(r.Context(), keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	out := listJSON[webhookEndpointJSON]{Object: "list", Data: []webhookEndpointJSON{}}
	for _, e := range eps {
		out.Data = append(out.Data, endpointView(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	ep, err := svc.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, endpointView(ep))
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	if err := svc.Delete(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id")); err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	q := r.URL.Query()
	limit, bad := pageQuery(q)
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters", Errors: bad})
		return
	}
	page, next, err := svc.Deliveries(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"), q.Get("cursor"), limit)
	if err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	out := listJSON[webhookDeliveryJSON]{Object: "list", Data: []webhookDeliveryJSON{}, HasMore: next != "", NextCursor: strPtr(next)}
	for _, d := range page {
		out.Data = append(out.Data, deliveryView(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// redeliverWebhook makes a delivery of the endpoint pending and due now. A delivery of
// another endpoint (or store) is 404.
func (s *Server) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	svc := s.webhooksService(w)
	if svc == nil {
		return
	}
	if _, p := decodeOptionalBody(r, s.cfg.MaxBody); p != nil {
		writeProblem(w, *p)
		return
	}
	merchant, deliveryID := keyFrom(r.Context()).MerchantID, r.PathValue("delivery_id")
	d, err := svc.Delivery(r.Context(), merchant, deliveryID)
	if err == nil && d.EndpointID != r.PathValue("id") {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such webhook delivery"})
		return
	}
	if err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	if d, err = svc.Redeliver(r.Context(), merchant, deliveryID); err != nil {
		s.webhookError(w, r, err, http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, deliveryView(d))
}
