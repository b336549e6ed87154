package store

import (
	"context"
	"time"
)

// WebhookTx is the part of the storage contract that the webhooks package uses: endpoints,
// the fan-out of events into deliveries, the delivery queue and the attempt log. Its methods
// are implemented in sqldb/webhooks.go. It is wider than one consumer needs because the
// service, the dispatcher and the deliverer of the webhooks package share it.
type WebhookTx interface {
	// CreateWebhookEndpoint inserts an endpoint; a duplicate id is ErrConflict.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	// WebhookEndpoint returns the endpoint if it belongs to merchantID ("" means any
	// merchant, for the deliverer); ErrNotFound otherwise.
	WebhookEndpoint(ctx context.Context, merchantID, id string) (WebhookEndpoint, error)
	// WebhookEndpoints lists a merchant's endpoints, enabled or not, oldest first.
	WebhookEndpoints(ctx context.Context, merchantID string) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint writes the URL, description, secrets, event filter, enabled flag
	// and UpdatedAt of the merchant's endpoint e.ID; ErrNotFound when there is none.
	UpdateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error
	// DeleteWebhookEndpoint deletes the merchant's endpoint with its deliveries and their
	// attempts; ErrNotFound when there is none.
	DeleteWebhookEndpoint(ctx context.Context, merchantID, id string) error

	// WebhookCursor returns the named fan-out cursor, the zero position before it was first set.
	WebhookCursor(ctx context.Context, name string) (FeedPos, error)
	// AdvanceWebhookCursor moves the named cursor to pos (recording at as the time it moved)
	// unless it is already at or after pos.
	AdvanceWebhookCursor(ctx context.Context, name string, pos FeedPos, at time.Time) error
	// LockWebhookCursor locks the named cursor's row until the transaction ends, creating it
	// at the zero position when it is missing, and returns its position. A fan-out locks it
	// exclusively; creating or deleting an endpoint locks it shared, so no fan-out runs while
	// an endpoint is being created or deleted: a fan-out sees every endpoint whose creation
	// took its time before the fan-out began, and no endpoint goes away under it.
	LockWebhookCursor(ctx context.Context, name string, exclusive bool) (FeedPos, error)
	// EventFeed lists the events at feed positions after after that have no WebhookEvent yet
	// (not fanned out) and whose merchant has a webhook endpoint, in feed order, at most
	// limit, and the feed's horizon (see FeedPos and OptionFeed): every such event below
	// FeedPos{XID: horizon} is visible to this read.
	EventFeed(ctx context.Context, after FeedPos, limit int) ([]FeedEvent, int64, error)
	// EventsBelow reports whether any event, whatever its merchant, lies at a feed position
	// after after and below FeedPos{XID: horizon} (the events a fan-out cursor may pass).
	EventsBelow(ctx context.Context, after FeedPos, horizon int64) (bool, error)
	// RecordWebhookEvent stores the frozen payload of an event that has been fanned out. It
	// reports false (and changes nothing) when the event was recorded before.
	RecordWebhookEvent(ctx context.Context, e WebhookEvent) (inserted bool, err error)
	// CreateWebhookDelivery inserts a delivery. It reports false (and changes nothing) when
	// the (event, endpoint) pair already has one: fan-out is exactly once per pair.
	CreateWebhookDelivery(ctx context.Context, d WebhookDelivery) (inserted bool, err error)

	// DueWebhookEndpoints lists up to limit enabled endpoints that have pending deliveries
	// due at now and not leased, the most overdue first.
	DueWebhookEndpoints(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ClaimWebhookDelivery leases the endpoint's most overdue due delivery to holder until
	// leaseUntil and returns it with its payload; ErrNotFound when none is due. Concurrent
	// claims never return the same delivery while its lease runs.
	ClaimWebhookDelivery(ctx context.Context, endpointID, holder string, now, leaseUntil time.Time) (WebhookDelivery, error)
	// FinishWebhookDelivery appends attempt a to the log and, if holder still holds d's
	// lease, writes d's status, attempts, next attempt, last status and error, delivered
	// time and UpdatedAt and releases the lease. It reports whether the lease was still held.
	FinishWebhookDelivery(ctx context.Context, d WebhookDelivery, holder string, a WebhookAttempt) (bool, error)
	// ExtendWebhookLease moves holder's lease on a pending delivery to until (the heartbeat
	// of an attempt in flight); it reports false, changing nothing, when holder no longer
	// holds it.
	ExtendWebhookLease(ctx context.Context, id, holder string, until time.Time) (bool, error)
	// ReleaseWebhookDelivery gives up holder's lease on a delivery without recording an
	// attempt (shutdown in the middle of a request).
	ReleaseWebhookDelivery(ctx context.Context, id, holder string) error
	// RedeliverWebhook makes the merchant's delivery pending and due at now, as a manual
	// attempt, with a retry window lasting at least until retryUntil, and breaks any lease
	// (an attempt in flight then no longer writes the delivery); ErrNotFound when there is
	// none.
	RedeliverWebhook(ctx context.Context, merchantID, id string, now, retryUntil time.Time) error

	// WebhookDelivery returns the delivery with its payload if it belongs to merchantID.
	WebhookDelivery(ctx context.Context, merchantID, id string) (WebhookDelivery, error)
	// WebhookDeliveries lists deliveries, newest first, for cursor pagination.
	WebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]WebhookDelivery, error)
	// WebhookAttempts returns the attempts of the given deliveries, oldest first.
	WebhookAttempts(ctx context.Context, deliveryIDs []string) ([]WebhookAttempt, error)
}

// FeedEvent is an event read from the event feed, with its position.
type FeedEvent struct {
	Event
	Pos FeedPos
}

// WebhookEndpoint is a merchant's webhook endpoint. Secret signs every request; while a
// rotated-out PreviousSecret is younger than PreviousSecretUntil, requests carry a second
// signature made with it.
type WebhookEndpoint struct {
	ID                  string
	MerchantID          string
	URL                 string
	Description         string
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil *time.Time
	Events              []string // event types, or "*" for all
	Enabled             bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
	// Format is the wire format of the endpoint's requests, fixed at creation: "" for
	// chainpay's own, or a name the deliverer has a webhooks.Formatter for ("greenfield").
	Format string
	// Since is the endpoint's position in the event feed (FeedPos.XID), set by the store when
	// it is created: it receives the events at or after it (FeedEvent.Pos.XID >= Since), so
	// which events it gets does not depend on any replica's clock (issue 22).
	Since int64
}

// WebhookEvent is an event that has been fanned out, with the payload every delivery of it
// sends (frozen at fan-out, so retries send the same bytes).
type WebhookEvent struct {
	EventID      string
	MerchantID   string
	Type         string
	Payload      string
	CreatedAt    time.Time // the event's time
	DispatchedAt time.Time
}

// Webhook delivery statuses.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// WebhookDelivery is one event to send to one endpoint, retried until delivered or failed.
type WebhookDelivery struct {
	ID          string
	MerchantID  string
	EndpointID  string
	EventID     string
	EventType   string
	Status      string
	Attempts    int
	NextAttempt time.Time
	RetryUntil  time.Time
	LeaseHolder string
	LeaseUntil  *time.Time
	LastStatus  int // HTTP status of the last attempt, 0 for none or no response
	LastError   string
	Manual      bool // the next attempt was asked for by a redelivery
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeliveredAt *time.Time
	Payload     string // read from the event; not written with the delivery
}

// WebhookAttempt is one HTTP request of a delivery.
type WebhookAttempt struct {
	ID          string
	DeliveryID  string
	Number      int
	Manual      bool // made because of a redelivery request
	StartedAt   time.Time
	Duration    time.Duration
	StatusCode  int    // 0 when no response arrived
	Response    string // the first bytes of the response body
	Error       string
	NextAttempt *time.Time // when a retry is scheduled
}

// WebhookDeliveryFilter selects deliveries of one merchant, newest first.
type WebhookDeliveryFilter struct {
	MerchantID string
	EndpointID string // "" for all the merchant's endpoints
	Status     string // "" for any
	BeforeID   string // pagination cursor: only deliveries with a smaller id
	Limit      int
}
