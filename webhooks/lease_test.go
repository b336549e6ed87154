package webhooks_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// TestDeliveryLeaseHeartbeat: a delivery's claim is short and renewed while its request is
// in flight, so a hanging endpoint keeps its one request (no second worker sends the event
// meanwhile); when the worker stops renewing (its process died), the delivery is free for
// another worker one lease after the last renewal.
func TestDeliveryLeaseHeartbeat(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		const leaseTTL = 300 * time.Millisecond
		bd := setup(t, b)
		var requests atomic.Int32
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			<-r.Context().Done()
		})
		ep := bd.endpoint(t, rc)
		bd.event(t, webhooks.EventInvoiceCreated, 0)
		bd.dispatch(t)
		ds := bd.deliveries(t, ep.ID)
		if len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1", len(ds))
		}
		id := ds[0].ID
		d1 := bd.deliverer(t, webhooks.DelivererConfig{RequestTimeout: time.Hour, Lease: leaseTTL, Holder: "w1"}, false)
		eventually(t, "the first request", func() (bool, error) { return requests.Load() == 1, nil })
		leaseEnd := func() time.Time {
			var d store.WebhookDelivery
			if err := bd.st.View(ctx, func(tx store.Tx) (err error) { d, err = tx.WebhookDelivery(ctx, bd.merchant, id); return }); err != nil {
				t.Fatal(err)
			}
			if d.LeaseUntil == nil || d.LeaseHolder != "w1" {
				t.Fatalf("delivery %s not leased to w1: %+v", id, d)
			}
			return *d.LeaseUntil
		}
		first := leaseEnd()
		if got := first.Sub(bd.clock.Now()); got != leaseTTL {
			t.Fatalf("claimed for %s, want the lease TTL %s", got, leaseTTL)
		}
		bd.clock.Advance(leaseTTL * 2 / 3)
		eventually(t, "the lease renewed while the request hangs", func() (bool, error) { return leaseEnd().After(first), nil })
		bd.clock.Advance(leaseTTL * 2 / 3) // past the first lease, within the renewed one
		claim := func() error {
			now := bd.clock.Now()
			return bd.st.Tx(ctx, func(tx store.Tx) error {
				_, err := tx.ClaimWebhookDelivery(ctx, ep.ID, "w2", now, now.Add(leaseTTL))
				return err
			})
		}
		if err := claim(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another worker claimed a delivery in flight whose first lease ran out: %v", err)
		}
		// A dead worker stops renewing: its claim ends at most one lease from now (the
		// store's conformance suite checks that an unrenewed lease frees the delivery).
		if d := leaseEnd().Sub(bd.clock.Now()); d > leaseTTL {
			t.Fatalf("lease runs %s ahead, more than one lease %s", d, leaseTTL)
		}
		// A worker that shuts down releases its claim at once.
		d1.Stop()
		if err := claim(); err != nil {
			t.Fatalf("claim after the worker stopped: %v", err)
		}
	})
}
