package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// TestLateAndSkewedEventsDelivered (issue 22): the dispatcher reads the commit-ordered event
// feed, so an event stamped by a replica whose clock is 15 minutes behind, and (on Postgres)
// an event whose transaction commits 15 minutes after its created_at while newer events are
// dispatched, are fanned out and delivered. The old 10-minute look-back on created_at lost
// both. Every transaction closure runs twice (storetest.RetryTwice).
func TestLateAndSkewedEventsDelivered(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		raw := b.Open(t)
		bd := setupOn(t, storetest.RetryTwice(raw))
		rc := newReceiver(t, nil)
		ep := bd.endpoint(t, rc)
		bd.clock.Advance(time.Hour)
		want := []string{bd.event(t, "invoice.created", 0).ID}
		bd.dispatch(t)
		bd.clock.Advance(30 * time.Minute)
		want = append(want, bd.event(t, "invoice.processing", 0).ID)
		bd.dispatch(t)
		// A replica whose clock is 15 minutes behind.
		want = append(want, bd.event(t, "invoice.payment_received", -15*time.Minute).ID)
		if b.Name == "postgres" {
			// A transaction stamps its event, then commits 15 minutes (of the clock) later,
			// after a newer event was committed and dispatched. It runs on the raw store: run
			// again by RetryTwice, the closure would insert the event in a newer transaction,
			// after the newer event. The read after the insert makes the driver send the insert
			// (a pipelined batch would hold it until the commit): the row then has its feed
			// position, below the newer event's, before that event is written.
			late := store.Event{ID: store.NewID("evt", bd.clock.Now()), MerchantID: bd.merchant, InvoiceID: bd.invoice,
				Type: "invoice.settled", Data: `{}`, CreatedAt: bd.clock.Now()}
			release, held := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				var once sync.Once
				done <- raw.Tx(ctx, func(tx store.Tx) error {
					if err := tx.AppendEvent(ctx, late); err != nil {
						return err
					}
					if evs, err := tx.Events(ctx, late.InvoiceID); err != nil || !slices.ContainsFunc(evs, func(e store.Event) bool { return e.ID == late.ID }) {
						return fmt.Errorf("the late event is not in its own transaction: %v", err)
					}
					once.Do(func() { close(held) })
					<-release
					return nil
				})
			}()
			<-held
			bd.clock.Advance(15 * time.Minute)
			want = append(want, bd.event(t, "invoice.paid_late", 0).ID)
			for range 3 {
				bd.dispatch(t)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			want = append(want, late.ID)
		}
		for range 3 {
			bd.dispatch(t)
		}
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		bd.waitAll(t, ep.ID, len(want), "every event delivered", func(d webhooks.Delivery) bool { return d.Status == "delivered" })
		got, bad := rc.snapshot()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(got), want) || bad != 0 {
			t.Fatalf("received %v (bad %d), want %v", got, bad, want)
		}
	})
}

// TestEventFromSkewedReplicaAfterNewEndpoint (issue 22): an endpoint created at T receives an
// event written 5 minutes later by a replica whose clock is 15 minutes behind (stamped T−10
// min); an event written just before the endpoint by a replica whose clock is ahead (stamped
// after T) is history. Which events an endpoint gets follows the event feed, not the clocks.
func TestEventFromSkewedReplicaAfterNewEndpoint(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, nil)
		bd.clock.Advance(time.Hour)
		history := bd.event(t, "invoice.created", 10*time.Minute) // clock ahead
		ep := bd.endpoint(t, rc)
		bd.clock.Advance(5 * time.Minute)
		skewed := bd.event(t, "invoice.processing", -15*time.Minute) // clock behind
		for range 2 {
			bd.dispatch(t)
		}
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		bd.waitAll(t, ep.ID, 1, "the skewed replica's event delivered", func(d webhooks.Delivery) bool { return d.Status == "delivered" })
		var got []string
		for _, d := range bd.deliveries(t, ep.ID) {
			got = append(got, d.EventID)
		}
		if !slices.Equal(got, []string{skewed.ID}) {
			t.Fatalf("the endpoint got %v, want only %s (not %s, written before it)", got, skewed.ID, history.ID)
		}
	})
}

// TestUnreceivedEventsDoNotHoldBackTheFeed (issue 22, Postgres): while a transaction stays
// open below them (the feed's horizon cannot pass it), more events that no endpoint receives
// than one pass reads fill the feed; an event after them that the endpoint receives is still
// fanned out and delivered before that transaction ends.
func TestUnreceivedEventsDoNotHoldBackTheFeed(t *testing.T) {
	t.Parallel()
	raw := storetest.Postgres(t)
	bd := setupOn(t, raw)
	disp, err := webhooks.NewDispatcher(bd.st, bd.snaps, &webhooks.DispatcherConfig{Now: bd.clock.Now, Retry: testPolicy, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, nil)
	ep := bd.endpoint(t, rc, "invoice.settled")
	release, held := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- raw.Tx(ctx, func(tx store.Tx) error {
			if err := tx.AppendEvent(ctx, store.Event{ID: store.NewID("evt", bd.clock.Now()), MerchantID: bd.merchant,
				InvoiceID: bd.invoice, Type: "invoice.created", Data: `{}`, CreatedAt: bd.clock.Now()}); err != nil {
				return err
			}
			if _, err := tx.WebhookCursor(ctx, "hold"); err != nil { // sends the insert
				return err
			}
			once.Do(func() { close(held) })
			<-release
			return nil
		})
	}()
	<-held
	defer func() {
		close(release)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for range 12 { // more than two passes' worth
		bd.event(t, "invoice.processing", 0)
	}
	want := bd.event(t, "invoice.settled", 0)
	for range 5 {
		if _, err := disp.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, d := range bd.deliveries(t, ep.ID) {
		got = append(got, d.EventID)
	}
	if !slices.Equal(got, []string{want.ID}) {
		t.Fatalf("deliveries %v while the old transaction is open, want %s", got, want.ID)
	}
}

// crashOnce fails the first write transaction after its closure ran, as if the process
// died between the feed read and the commit of the fan-out and the cursor.
type crashOnce struct {
	store.Store
	mu      sync.Mutex
	crashed bool
}

var errCrash = errors.New("injected crash before commit")

func (s *crashOnce) Tx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.crashed {
			s.crashed = true
			return errCrash
		}
		return nil
	})
}

// TestDispatcherRestartBetweenReadAndCursor (issue 22): the process dies after a pass read
// the feed and before its fan-out and cursor move committed; a restarted dispatcher fans
// every event out exactly once.
func TestDispatcherRestartBetweenReadAndCursor(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, nil)
		ep := bd.endpoint(t, rc)
		want := []string{bd.event(t, "invoice.created", 0).ID, bd.event(t, "invoice.processing", 0).ID}
		cs := &crashOnce{Store: bd.st}
		d, err := webhooks.NewDispatcher(cs, bd.snaps, &webhooks.DispatcherConfig{Now: bd.clock.Now, Retry: testPolicy})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Dispatch(ctx); !errors.Is(err, errCrash) {
			t.Fatalf("first pass: %v, want the injected crash", err)
		}
		restarted, err := webhooks.NewDispatcher(cs, bd.snaps, &webhooks.DispatcherConfig{Now: bd.clock.Now, Retry: testPolicy})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := restarted.Dispatch(ctx); err != nil || n != 2 {
			t.Fatalf("after the restart: fanned out %d, %v; want 2", n, err)
		}
		if n, err := restarted.Dispatch(ctx); err != nil || n != 0 {
			t.Fatalf("again: fanned out %d, %v; want 0", n, err)
		}
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		bd.waitAll(t, ep.ID, len(want), "both delivered", func(d webhooks.Delivery) bool { return d.Status == "delivered" })
	})
}
