package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chainpay/chainpay/store"
)

// Event types a webhook endpoint can subscribe to (DESIGN §4: every invoice state change).
const (
	EventInvoiceCreated         = "invoice.created"
	EventInvoicePaymentReceived = "invoice.payment_received"
	// EventInvoicePaymentConfirmed: one payment reached the confirmations its option
	// requires; once per payment (data.details is the payment). Greenfield's
	// InvoicePaymentSettled.
	EventInvoicePaymentConfirmed = "invoice.payment_confirmed"
	EventInvoiceProcessing       = "invoice.processing"
	EventInvoiceSettled          = "invoice.settled"
	EventInvoiceExpired          = "invoice.expired"
	EventInvoiceInvalid          = "invoice.invalid"
	EventInvoicePaidLate         = "invoice.paid_late"
	EventInvoiceReorged          = "invoice.reorged"
	EventInvoiceResolved         = "invoice.resolved"
	// Refund events (package refunds, issue 25); data.details is the refund.
	EventRefundCreated   = "refund.created"
	EventRefundClaimed   = "refund.claimed"
	EventRefundSent      = "refund.sent"
	EventRefundCompleted = "refund.completed"
	EventRefundReversed  = "refund.reversed"
	EventRefundDropped   = "refund.dropped"
	EventRefundCancelled = "refund.cancelled"
	EventRefundFailed    = "refund.failed"
	// AllEvents subscribes an endpoint to every event type, including ones added later.
	AllEvents = "*"
)

// EventTypes returns the event types an endpoint can subscribe to.
func EventTypes() []string {
	return []string{EventInvoiceCreated, EventInvoicePaymentReceived, EventInvoicePaymentConfirmed, EventInvoiceProcessing, EventInvoiceSettled,
		EventInvoiceExpired, EventInvoiceInvalid, EventInvoicePaidLate, EventInvoiceReorged, EventInvoiceResolved,
		EventRefundCreated, EventRefundClaimed, EventRefundSent, EventRefundCompleted, EventRefundReversed,
		EventRefundDropped, EventRefundCancelled, EventRefundFailed}
}

// Service errors.
var (
	// ErrNotFound means the endpoint or delivery does not exist or belongs to another store.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrInvalid means the request is invalid; the error is an *InvalidError naming the field.
	ErrInvalid = errors.New("webhooks: invalid request")
	// ErrTooManyEndpoints means the store already has Config.MaxEndpoints endpoints.
	ErrTooManyEndpoints = errors.New("webhooks: too many endpoints")
)

// InvalidError names the request field that is wrong. It matches ErrInvalid and the cause
// (ErrBadURL, ErrForbiddenAddress) with errors.Is.
type InvalidError struct {
	Field  string
	Reason string
	Err    error // the cause, if any
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid and the cause.
func (e *InvalidError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// Endpoint is a merchant's webhook endpoint as the API shows it. Secret is set only in the
// results of Create and RotateSecret: the merchant sees it once.
type Endpoint struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Events      []string  `json:"events"`
	Enabled     bool      `json:"enabled"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Format      string    `json:"-"` // "" for chainpay's own; see NewEndpoint
}

// Delivery is one event sent (or to be sent) to one endpoint, with its attempt log.
type Delivery struct {
	ID          string          `json:"id"`
	EndpointID  string          `json:"endpoint_id"`
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	Status      string          `json:"status"` // pending, delivered or failed
	Attempts    int             `json:"attempts"`
	NextAttempt *time.Time      `json:"next_attempt_at"` // while pending
	RetryUntil  time.Time       `json:"retry_until"`
	LastStatus  int             `json:"last_status_code,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	DeliveredAt *time.Time      `json:"delivered_at"`
	Payload     json.RawMessage `json:"payload"`
	Log         []Attempt       `json:"attempt_log"`
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	Number      int           `json:"number"`
	Manual      bool          `json:"manual"` // asked for by a redelivery
	At          time.Time     `json:"at"`
	Duration    time.Duration `json:"-"`
	DurationMS  int64         `json:"duration_ms"`
	StatusCode  int           `json:"status_code,omitempty"` // 0: no response
	Response    string        `json:"response,omitempty"`    // at most 1 KiB of the body
	Error       string        `json:"error,omitempty"`
	NextAttempt *time.Time    `json:"next_attempt_at,omitempty"`
}

// Config configures a Service. The zero value is usable: it guards URLs against private
// addresses, uses the wall clock and allows 16 endpoints per store.
type Config struct {
	Guard        Guard
	Now          func() time.Time
	MaxEndpoints int
	// RetryWindow is how long a redelivered delivery may retry; default 72 h.
	RetryWindow time.Duration
}

// Service manages endpoints and exposes the delivery log; the API layer calls it. Every
// method is scoped to one merchant: another merchant's ids are ErrNotFound.
type Service struct {
	st  store.Store
	cfg Config
}

// NewService returns a Service over st.
func NewService(st store.Store, cfg *Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("webhooks: nil store")
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxEndpoints == 0 {
		c.MaxEndpoints = 16
	}
	if c.MaxEndpoints < 0 {
		return nil, fmt.Errorf("webhooks: MaxEndpoints %d is negative", c.MaxEndpoints)
	}
	if c.RetryWindow == 0 {
		c.RetryWindow = DefaultRetryPolicy().Window
	}
	if c.RetryWindow < 0 {
		return nil, fmt.Errorf("webhooks: RetryWindow %v is negative", c.RetryWindow)
	}
	return &Service{st: st, cfg: c}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// NewSecret returns a new endpoint signing secret, "whsec_" and 256 random bits.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// normalizeEvents validates an event filter: known types or "*", at least one; duplicates
// are dropped and "*" absorbs the rest.
func normalizeEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, &InvalidError{Field: "events", Reason: `list at least one event type, or "*" for all`}
	}
	known := EventTypes()
	var out []string
	for i, e := range events {
		switch {
		case e == AllEvents:
			return []string{AllEvents}, nil
		case !slices.Contains(known, e):
			return nil, &InvalidError{Field: fmt.Sprintf("events[%d]", i),
				Reason: fmt.Sprintf("unknown event type %q (known: %s, or \"*\")", clip(e), strings.Join(known, ", "))}
		case !slices.Contains(out, e):
			out = append(out, e)
		}
	}
	return out, nil
}

func checkDescription(d string) error {
	if len(d) > 500 || !utf8.ValidString(d) || strings.ContainsRune(d, 0) {
		return &InvalidError{Field: "description", Reason: "must be valid UTF-8 text of at most 500 bytes"}
	}
	return nil
}

func (s *Service) checkURL(ctx context.Context, raw string) error {
	if err := s.cfg.Guard.CheckURL(ctx, raw); err != nil {
		return &InvalidError{Field: "url", Reason: err.Error(), Err: err}
	}
	return nil
}

func endpointOf(e store.WebhookEndpoint) Endpoint {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	return Endpoint{ID: e.ID, URL: e.URL, Description: e.Description, Events: events, Enabled: e.Enabled,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Format: e.Format}
}

func notFound(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s %s", ErrNotFound, what, id)
	}
	return err
}

// Create adds an enabled endpoint for the merchant and returns it with its new secret (the
// only time the secret is shown). The URL is checked by the Guard.
func (s *Service) Create(ctx context.Context, merchantID, url string, events []string, description string) (Endpoint, error) {
	return s.CreateEndpoint(ctx, merchantID, NewEndpoint{URL: url, Events: events, Description: description})
}

// NewEndpoint is what CreateEndpoint needs. Secret and Format are optional: an empty Secret
// gets a new random one; Format "" is chainpay's own request format, other formats need a
// Formatter of that name in the Deliverer (package greenfield registers "greenfield").
type NewEndpoint struct {
	URL         string
	Events      []string
	Description string
	Secret      string
	Format      string
	Disabled    bool
}

// MinSecretLen is the shortest signing secret a merchant may choose.
const MinSecretLen = 16

func checkSecret(secret string) error {
	if len(secret) < MinSecretLen || len(secret) > 256 || !utf8.ValidString(secret) || strings.ContainsRune(secret, 0) {
		return &InvalidError{Field: "secret", Reason: fmt.Sprintf("must be %d to 256 bytes of text", MinSecretLen)}
	}
	return nil
}

// CreateEndpoint is Create with a chosen secret, format and enabled state.
func (s *Service) CreateEndpoint(ctx context.Context, merchantID string, in NewEndpoint) (Endpoint, error) {
	evs, err := normalizeEvents(in.Events)
	if err != nil {
		return Endpoint{}, err
	}
	if err := checkDescription(in.Description); err != nil {
		return Endpoint{}, err
	}
	secret := in.Secret
	if secret == "" {
		secret = NewSecret()
	} else if err := checkSecret(secret); err != nil {
		return Endpoint{}, err
	}
	if err := s.checkURL(ctx, in.URL); err != nil {
		return Endpoint{}, err
	}
	var e store.WebhookEndpoint
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		// Locked first: no fan-out runs until this commits, so the endpoint's position in the
		// event feed (its transaction's, set by the store) comes after every event fanned out
		// without it: it misses no event written after it.
		if _, err := tx.LockWebhookCursor(ctx, cursorName, false); err != nil {
			return err
		}
		now := s.now()
		e = store.WebhookEndpoint{ID: store.NewID("we", now), MerchantID: merchantID, URL: in.URL,
			Description: in.Description, Secret: secret, Events: evs, Enabled: !in.Disabled, CreatedAt: now, UpdatedAt: now,
			Format: in.Format}
		have, err := tx.WebhookEndpoints(ctx, merchantID)
		if err != nil {
			return err
		}
		if len(have) >= s.cfg.MaxEndpoints {
			return fmt.Errorf("%w: the store has %d, the limit is %d", ErrTooManyEndpoints, len(have), s.cfg.MaxEndpoints)
		}
		return tx.CreateWebhookEndpoint(ctx, e)
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	out := endpointOf(e)
	out.Secret = e.Secret
	return out, nil
}

// List returns the merchant's endpoints, oldest first, without secrets.
func (s *Service) List(ctx context.Context, merchantID string) ([]Endpoint, error) {
	var rows []store.WebhookEndpoint
	if err := s.st.View(ctx, func(tx store.Tx) (err error) { rows, err = tx.WebhookEndpoints(ctx, merchantID); return }); err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := make([]Endpoint, 0, len(rows))
	for _, r := range rows {
		out = append(out, endpointOf(r))
	}
	return out, nil
}

// Get returns the merchant's endpoint without its secret.
func (s *Service) Get(ctx context.Context, merchantID, id string) (Endpoint, error) {
	var e store.WebhookEndpoint
	err := s.st.View(ctx, func(tx store.Tx) (err error) { e, err = tx.WebhookEndpoint(ctx, merchantID, id); return })
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint", id)
	}
	return endpointOf(e), nil
}

// Update is a partial change of an endpoint; nil fields are left alone.
type Update struct {
	URL         *string
	Events      []string
	Description *string
	Enabled     *bool
	Secret      *string // a secret the merchant chose (no overlap with the old one)
}

// Update changes the merchant's endpoint and returns it. A new URL is checked by the Guard.
// Disabling an endpoint pauses its pending deliveries (they resume, within their retry
// window, when it is enabled again) and stops new ones.
func (s *Service) Update(ctx context.Context, merchantID, id string, u Update) (Endpoint, error) {
	var evs []string
	if u.Events != nil {
		var err error
		if evs, err = normalizeEvents(u.Events); err != nil {
			return Endpoint{}, err
		}
	}
	if u.Description != nil {
		if err := checkDescription(*u.Description); err != nil {
			return Endpoint{}, err
		}
	}
	if u.URL != nil {
		if err := s.checkURL(ctx, *u.URL); err != nil {
			return Endpoint{}, err
		}
	}
	if u.Secret != nil {
		if err := checkSecret(*u.Secret); err != nil {
			return Endpoint{}, err
		}
	}
	var e store.WebhookEndpoint
	err := s.st.Tx(ctx, func(tx store.Tx) (err error) {
		if e, err = tx.WebhookEndpoint(ctx, merchantID, id); err != nil {
			return err
		}
		if u.URL != nil {
			e.URL = *u.URL
		}
		if evs != nil {
			e.Events = evs
		}
		if u.Description != nil {
			e.Description = *u.Description
		}
		if u.Enabled != nil {
			e.Enabled = *u.Enabled
		}
		if u.Secret != nil && *u.Secret != e.Secret {
			e.Secret, e.PreviousSecret, e.PreviousSecretUntil = *u.Secret, "", nil
		}
		e.UpdatedAt = s.now()
		return tx.UpdateWebhookEndpoint(ctx, e)
	})
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint", id)
	}
	return endpointOf(e), nil
}

// RotateSecret gives the endpoint a new secret and returns it (shown this once). For the
// overlap duration requests carry a second v1 signature made with the old secret, so the
// merchant can switch their verifier without losing events; overlap 0 drops it at once.
func (s *Service) RotateSecret(ctx context.Context, merchantID, id string, overlap time.Duration) (Endpoint, error) {
	if overlap < 0 || overlap > 7*24*time.Hour {
		return Endpoint{}, &InvalidError{Field: "overlap", Reason: "must be between 0 and 7 days"}
	}
	var e store.WebhookEndpoint
	err := s.st.Tx(ctx, func(tx store.Tx) (err error) {
		if e, err = tx.WebhookEndpoint(ctx, merchantID, id); err != nil {
			return err
		}
		now := s.now()
		e.PreviousSecret, e.PreviousSecretUntil = "", nil
		if overlap > 0 {
			until := now.Add(overlap)
			e.PreviousSecret, e.PreviousSecretUntil = e.Secret, &until
		}
		e.Secret, e.UpdatedAt = NewSecret(), now
		return tx.UpdateWebhookEndpoint(ctx, e)
	})
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint", id)
	}
	out := endpointOf(e)
	out.Secret = e.Secret
	return out, nil
}

// Delete removes the merchant's endpoint with its deliveries and their log. An attempt in
// flight finishes but is not recorded.
func (s *Service) Delete(ctx context.Context, merchantID, id string) error {
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		// Locked: no fan-out runs meanwhile, so none creates a delivery to a deleted endpoint.
		if _, err := tx.LockWebhookCursor(ctx, cursorName, false); err != nil {
			return err
		}
		return tx.DeleteWebhookEndpoint(ctx, merchantID, id)
	})
	return notFound(err, "webhook endpoint", id)
}

func deliveryOf(d store.WebhookDelivery, atts []store.WebhookAttempt) Delivery {
	out := Delivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, RetryUntil: d.RetryUntil, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeliveredAt: d.DeliveredAt, Payload: json.RawMessage(d.Payload),
		Log: []Attempt{}}
	if d.Status == store.WebhookPending {
		next := d.NextAttempt
		out.NextAttempt = &next
	}
	for _, a := range atts {
		if a.DeliveryID != d.ID {
			continue
		}
		out.Log = append(out.Log, Attempt{Number: a.Number, Manual: a.Manual, At: a.StartedAt, Duration: a.Duration,
			DurationMS: a.Duration.Milliseconds(), StatusCode: a.StatusCode, Response: a.Response, Error: a.Error,
			NextAttempt: a.NextAttempt})
	}
	return out
}

// Deliveries lists the deliveries of the merchant's endpoint, newest first, each with its
// attempt log. cursor is "" for the first page, then the returned next cursor; next is ""
// after the last page. limit defaults to 20 and is at most 100.
func (s *Service) Deliveries(ctx context.Context, merchantID, endpointID, cursor string, limit int) (page []Delivery, next string, err error) {
	switch {
	case limit == 0:
		limit = 20
	case limit < 0 || limit > 100:
		return nil, "", &InvalidError{Field: "limit", Reason: "must be between 1 and 100"}
	}
	if cursor != "" && (!strings.HasPrefix(cursor, "wd_") || len(cursor) > 64) {
		return nil, "", &InvalidError{Field: "cursor", Reason: "not a cursor returned by this list"}
	}
	var (
		rows []store.WebhookDelivery
		atts []store.WebhookAttempt
	)
	err = s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.WebhookEndpoint(ctx, merchantID, endpointID); err != nil {
			return err
		}
		var err error
		rows, err = tx.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: merchantID,
			EndpointID: endpointID, BeforeID: cursor, Limit: limit + 1})
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(rows))
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		atts, err = tx.WebhookAttempts(ctx, ids)
		return err
	})
	if err != nil {
		return nil, "", notFound(err, "webhook endpoint", endpointID)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	page = make([]Delivery, 0, len(rows))
	for _, r := range rows {
		page = append(page, deliveryOf(r, atts))
	}
	return page, next, nil
}

// Delivery returns the merchant's delivery with its attempt log.
func (s *Service) Delivery(ctx context.Context, merchantID, deliveryID string) (Delivery, error) {
	var (
		d    store.WebhookDelivery
		atts []store.WebhookAttempt
	)
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		if d, err = tx.WebhookDelivery(ctx, merchantID, deliveryID); err != nil {
			return err
		}
		atts, err = tx.WebhookAttempts(ctx, []string{d.ID})
		return err
	})
	if err != nil {
		return Delivery{}, notFound(err, "webhook delivery", deliveryID)
	}
	return deliveryOf(d, atts), nil
}

// Redeliver asks for a new attempt of the merchant's delivery, whatever its status: it is
// made pending and due now (the Deliverer sends it on its next poll, with the same event id
// and body), and it may retry for RetryWindow from now if that attempt fails.
func (s *Service) Redeliver(ctx context.Context, merchantID, deliveryID string) (Delivery, error) {
	now := s.now()
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		return tx.RedeliverWebhook(ctx, merchantID, deliveryID, now, now.Add(s.cfg.RetryWindow))
	})
	if err != nil {
		return Delivery{}, notFound(err, "webhook delivery", deliveryID)
	}
	return s.Delivery(ctx, merchantID, deliveryID)
}
