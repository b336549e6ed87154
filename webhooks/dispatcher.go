package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Snapshots renders the current state of an invoice as the JSON the merchant API returns
// for it; the payload of every event carries it. The API layer implements it.
type Snapshots interface {
	Snapshot(ctx context.Context, invoiceID string) (json.RawMessage, error)
}

// Payload is the JSON body of every webhook request. Its bytes are frozen when the event is
// fanned out, so every attempt and every endpoint gets the same body for an event.
type Payload struct {
	ID        string    `json:"id"` // the event id, stable across retries: dedupe on it
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		Invoice json.RawMessage `json:"invoice"`
		Details json.RawMessage `json:"details,omitempty"` // the event's own data
	} `json:"data"`
}

// DispatcherConfig configures a Dispatcher; zero fields take the defaults shown.
type DispatcherConfig struct {
	Now      func() time.Time // time.Now
	Logger   *slog.Logger     // discard
	Interval time.Duration    // 1 s between passes when there is nothing to do
	Batch    int              // 200 events per pass
	// Retry sets the retry window given to each new delivery; DefaultRetryPolicy().
	Retry RetryPolicy
}

// cursorName is the Dispatcher's row in webhook_cursors.
const cursorName = "events"

// Dispatcher fans stored events out into deliveries: one per (event, enabled endpoint of the
// event's merchant whose filter matches and that existed when the event happened, by their
// positions in the event feed).
//
// It learns about new events from the commit-ordered event feed (store.EventFeed), not
// from their times: its cursor is a feed position stored in webhook_cursors, and it moves
// only past events below the feed's horizon, so an event whose transaction commits late,
// or that a replica stamped with a clock minutes behind, is still fanned out. Events above
// the horizon are fanned out at once too (the feed returns only events not fanned out yet,
// so they are not read again). The store's unique (event, endpoint) key and the per-event
// fan-out record make each delivery exist exactly once even when several replicas dispatch
// at the same time, and the fan-out and the cursor move commit together.
type Dispatcher struct {
	st    store.Store
	snaps Snapshots
	cfg   DispatcherConfig

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// NewDispatcher returns a Dispatcher over st; snaps renders invoices for payloads.
func NewDispatcher(st store.Store, snaps Snapshots, cfg *DispatcherConfig) (*Dispatcher, error) {
	if st == nil || snaps == nil {
		return nil, errors.New("webhooks: NewDispatcher needs a store and Snapshots")
	}
	c := DispatcherConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Batch == 0 {
		c.Batch = 200
	}
	if c.Retry == (RetryPolicy{}) {
		c.Retry = DefaultRetryPolicy()
	}
	if c.Interval < 0 || c.Batch < 0 {
		return nil, fmt.Errorf("webhooks: negative dispatcher setting (interval %v, batch %d)", c.Interval, c.Batch)
	}
	if err := c.Retry.validate(); err != nil {
		return nil, err
	}
	return &Dispatcher{st: st, snaps: snaps, cfg: c}, nil
}

// Dispatch runs one fan-out pass over at most Batch events of the feed and returns how many
// it fanned out. It is safe to run concurrently with itself (other replicas). An event whose
// snapshot fails is left for the next pass and holds the cursor back.
func (d *Dispatcher) Dispatch(ctx context.Context) (int, error) {
	fanned, _, err := d.dispatch(ctx)
	return fanned, err
}

// dispatch is Dispatch; it also returns how many events it read, or 0 when it made no
// progress (nothing fanned out or recorded, the cursor did not move).
//
// A pass reads the feed twice. First outside any write, to render the invoices of the
// events that need it (their writer stored no snapshot) for an endpoint that receives them;
// rendering reads the store, so it cannot run inside the fan-out's transaction. Then in that
// transaction, after locking the cursor (Store.LockWebhookCursor: no endpoint is created or
// deleted meanwhile), it reads the feed and the endpoints again and fans out what it has a
// payload for; an event that gained a receiver in between is held for the next pass.
// Events nobody receives (the store has no endpoint, none subscribed, or none existed when
// the event was written) are not recorded: the cursor just passes them; those above the
// horizon, which it cannot pass yet, are recorded as fanned out to nobody.
func (d *Dispatcher) dispatch(ctx context.Context) (fanned, read int, _ error) {
	var (
		cursor  store.FeedPos
		events  []store.FeedEvent
		horizon int64
		pass    bool // the feed is empty but the cursor can pass events of stores without endpoints
		eps     = map[string][]store.WebhookEndpoint{}
	)
	err := d.st.View(ctx, func(tx store.Tx) (err error) {
		if cursor, err = tx.WebhookCursor(ctx, cursorName); err != nil {
			return err
		}
		if events, horizon, err = tx.EventFeed(ctx, cursor, d.cfg.Batch); err != nil {
			return err
		}
		if len(events) == 0 {
			if horizon <= 0 || !(store.FeedPos{XID: horizon - 1, Seq: math.MaxInt64}).After(cursor) {
				return nil
			}
			pass, err = tx.EventsBelow(ctx, cursor, horizon)
			return err
		}
		clear(eps)
		return endpointsOf(ctx, tx, events, eps)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read the event feed: %w", err)
	}
	if len(events) == 0 && !pass {
		return 0, 0, nil // no write while idle
	}
	var (
		rendered = map[string]json.RawMessage{} // snapshots by event id (an event new in the second read has none)
		invoice  = map[string]json.RawMessage{} // by invoice id: rendered once per pass
	)
	for _, e := range events {
		if e.Snapshot != "" || !receives(eps[e.MerchantID], e) {
			continue
		}
		snap, have := invoice[e.InvoiceID]
		if !have {
			var err error
			snap, err = d.snaps.Snapshot(ctx, e.InvoiceID)
			if err == nil && !json.Valid(snap) {
				err = errors.New("snapshot is not valid JSON")
			}
			if err != nil {
				d.cfg.Logger.Error("webhooks: invoice snapshot failed; event left for the next pass",
					"event", e.ID, "invoice", e.InvoiceID, "err", err)
				continue
			}
			invoice[e.InvoiceID] = snap
		}
		rendered[e.ID] = snap
	}
	now := d.cfg.Now().UTC().Truncate(time.Microsecond)
	err = d.st.Tx(ctx, func(tx store.Tx) error {
		fanned, read = 0, 0
		cursor, err := tx.LockWebhookCursor(ctx, cursorName, true)
		if err != nil {
			return err
		}
		events, horizon, err := tx.EventFeed(ctx, cursor, d.cfg.Batch)
		if err != nil {
			return err
		}
		read = len(events)
		eps := map[string][]store.WebhookEndpoint{}
		if err := endpointsOf(ctx, tx, events, eps); err != nil {
			return err
		}
		var (
			held   bool // an event has no payload: the cursor stays before it
			done   = cursor
			marked int // events recorded as fanned out to nobody
		)
		for _, e := range events {
			var to []store.WebhookEndpoint
			for _, ep := range eps[e.MerchantID] {
				if subscribed(ep, e) {
					to = append(to, ep)
				}
			}
			if len(to) == 0 && e.Pos.XID >= horizon {
				// Nobody receives it, and the cursor cannot pass it yet (a transaction below it
				// is still open): it is recorded as fanned out to nobody, so that it leaves the
				// feed's pages. Left there, enough of them would fill every page and hold back
				// the events after them until that transaction ended. (An endpoint enabled or
				// subscribed to its type afterwards does not get it, as for an event the
				// cursor passed: an update counts for the events read after it.)
				if _, err := tx.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: e.ID, MerchantID: e.MerchantID,
					Type: e.Type, CreatedAt: e.CreatedAt, DispatchedAt: now}); err != nil {
					return fmt.Errorf("record event %s: %w", e.ID, err)
				}
				marked++
			}
			if len(to) > 0 {
				snap := json.RawMessage(e.Snapshot)
				if len(snap) == 0 {
					snap = rendered[e.ID]
				}
				if len(snap) == 0 {
					held = true
					continue
				}
				ok, err := d.fanOut(ctx, tx, e.Event, snap, to, now)
				if err != nil {
					return err
				}
				if ok {
					fanned++
				}
			}
			if !held && e.Pos.XID < horizon {
				done = e.Pos
			}
		}
		if !held && len(events) < d.cfg.Batch && horizon > 0 {
			// Every event below the horizon not fanned out yet was in this read: the cursor
			// passes all of them, the ones fanned out before and those nobody receives included.
			if end := (store.FeedPos{XID: horizon - 1, Seq: math.MaxInt64}); end.After(done) {
				done = end
			}
		}
		if !done.After(cursor) {
			if fanned == 0 && marked == 0 {
				read = 0
			}
			return nil
		}
		return tx.AdvanceWebhookCursor(ctx, cursorName, done, now)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("fan out events: %w", err)
	}
	return fanned, read, nil
}

// endpointsOf reads the endpoints of the events' merchants into eps.
func endpointsOf(ctx context.Context, tx store.Tx, events []store.FeedEvent, eps map[string][]store.WebhookEndpoint) error {
	for _, e := range events {
		if _, have := eps[e.MerchantID]; have {
			continue
		}
		list, err := tx.WebhookEndpoints(ctx, e.MerchantID)
		if err != nil {
			return err
		}
		eps[e.MerchantID] = list
	}
	return nil
}

// receives reports whether any of eps receives e.
func receives(eps []store.WebhookEndpoint, e store.FeedEvent) bool {
	return slices.ContainsFunc(eps, func(ep store.WebhookEndpoint) bool { return subscribed(ep, e) })
}

// fanOut records e with its payload and creates its deliveries to the endpoints to; it
// reports false, changing nothing, when another dispatcher recorded e first.
func (d *Dispatcher) fanOut(ctx context.Context, tx store.Tx, e store.Event, snap json.RawMessage,
	to []store.WebhookEndpoint, now time.Time) (bool, error) {
	body, err := payloadOf(e, snap)
	if err != nil {
		return false, err
	}
	inserted, err := tx.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: e.ID, MerchantID: e.MerchantID,
		Type: e.Type, Payload: body, CreatedAt: e.CreatedAt, DispatchedAt: now})
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	if !inserted {
		return false, nil
	}
	// Due at the event's time (never later than now): an endpoint's deliveries are claimed
	// by (next attempt, id), so they go out in event order; ids made in one millisecond
	// would sort at random.
	due := e.CreatedAt
	if due.After(now) {
		due = now
	}
	for _, ep := range to {
		_, err := tx.CreateWebhookDelivery(ctx, store.WebhookDelivery{ID: store.NewID("wd", now),
			MerchantID: e.MerchantID, EndpointID: ep.ID, EventID: e.ID, EventType: e.Type,
			Status: store.WebhookPending, NextAttempt: due, RetryUntil: now.Add(d.cfg.Retry.Window),
			CreatedAt: now, UpdatedAt: now})
		if err != nil {
			return false, fmt.Errorf("create delivery of %s to %s: %w", e.ID, ep.ID, err)
		}
	}
	return true, nil
}

// subscribed reports whether ep receives e: enabled, its filter matches, and it existed when
// the event happened (a new endpoint does not receive history): by their positions in the
// event feed (store.WebhookEndpoint.Since), not by their times, which come from the clocks
// of the replicas that wrote them (an event from a replica whose clock is behind, written
// after the endpoint, is the endpoint's).
func subscribed(ep store.WebhookEndpoint, e store.FeedEvent) bool {
	if !ep.Enabled || e.Pos.XID < ep.Since {
		return false
	}
	return slices.Contains(ep.Events, AllEvents) || slices.Contains(ep.Events, e.Type)
}

func payloadOf(e store.Event, snap json.RawMessage) (string, error) {
	p := Payload{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC()}
	p.Data.Invoice = snap
	if e.Data != "" && json.Valid([]byte(e.Data)) {
		p.Data.Details = json.RawMessage(e.Data)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode payload of %s: %w", e.ID, err)
	}
	return string(b), nil
}

// Start runs Dispatch in a loop until ctx ends or Stop is called: again at once after a full
// batch, after Interval otherwise. Calling Start again while it runs does nothing.
func (d *Dispatcher) Start(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return
	}
	d.started = true
	ctx, d.cancel = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A pass runs to completion once begun (Stop waits): a transaction abandoned at its
			// commit can leave a pooled SQLite connection inside it.
			_, n, err := d.dispatch(context.WithoutCancel(ctx))
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("webhooks: dispatch failed", "err", err)
			}
			wait := d.cfg.Interval
			if n >= d.cfg.Batch && err == nil {
				wait = 0
			}
			t.Reset(wait)
		}
	}()
}

// Stop ends the loop started by Start and waits for it. It is idempotent.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.started, d.cancel, d.done = false, nil, nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
