package webhooks_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

func ok(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }

func TestDispatchFansOutExactlyOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, ok)
		// Written before the endpoints existed, stamped after them (by a replica whose clock
		// is ahead): the feed order decides, not the time.
		before := bd.event(t, webhooks.EventInvoiceCreated, time.Minute)
		all := bd.endpoint(t, rc)
		settledOnly := bd.endpoint(t, rc, webhooks.EventInvoiceSettled)
		off := bd.endpoint(t, rc)
		if _, err := bd.svc.Update(ctx, bd.merchant, off.ID, webhooks.Update{Enabled: new(false)}); err != nil {
			t.Fatal(err)
		}
		bd.clock.Advance(time.Second)
		e1 := bd.event(t, webhooks.EventInvoiceProcessing, 0)
		e2 := bd.event(t, webhooks.EventInvoiceSettled, 0)

		// Dispatchers racing (replicas) and repeated passes create each delivery once.
		done := make(chan int, 3)
		for range 3 {
			go func() {
				n, err := bd.disp.Dispatch(ctx)
				if err != nil {
					t.Error(err)
				}
				done <- n
			}()
		}
		// The event from before the endpoints existed reaches nobody: it is not fanned out.
		total := <-done + <-done + <-done
		if total != 2 {
			t.Fatalf("racing dispatchers fanned out %d events, want 2", total)
		}
		if n := bd.dispatch(t); n != 0 {
			t.Fatalf("second pass fanned out %d events", n)
		}
		ids := func(ds []webhooks.Delivery) []string {
			var out []string
			for _, d := range ds {
				out = append(out, d.EventID)
			}
			return out
		}
		// Deliveries made in one pass share their creation time: compare them as sets.
		if got := ids(bd.deliveries(t, all.ID)); !slices.Equal(sorted(got), sorted([]string{e1.ID, e2.ID})) {
			t.Fatalf("'*' endpoint deliveries %v, want %v (not %s from before it existed)", got, []string{e1.ID, e2.ID}, before.ID)
		}
		if got := ids(bd.deliveries(t, settledOnly.ID)); !slices.Equal(got, []string{e2.ID}) {
			t.Fatalf("settled-only endpoint deliveries %v", got)
		}
		if got := bd.deliveries(t, off.ID); len(got) != 0 {
			t.Fatalf("disabled endpoint got %d deliveries", len(got))
		}
		var d webhooks.Delivery
		for _, x := range bd.deliveries(t, all.ID) {
			if x.EventID == e2.ID {
				d = x
			}
		}
		var p webhooks.Payload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != e2.ID || p.Type != webhooks.EventInvoiceSettled || !p.CreatedAt.Equal(e2.CreatedAt) ||
			string(p.Data.Invoice) != `{"id":"inv_a","status":"settled"}` || string(p.Data.Details) != e2.Data {
			t.Fatalf("payload %s", d.Payload)
		}

		// A transaction that read its clock earlier but committed after the pass (an event
		// older than the newest one fanned out) is still fanned out.
		bd.clock.Advance(time.Minute)
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		bd.dispatch(t)
		late := bd.event(t, webhooks.EventInvoicePaidLate, -30*time.Second)
		if n := bd.dispatch(t); n != 1 {
			t.Fatalf("late commit: fanned out %d, want 1", n)
		}
		if got := ids(bd.deliveries(t, all.ID)); !slices.Contains(got, late.ID) {
			t.Fatalf("late event %s missing from %v", late.ID, got)
		}

		// An event whose snapshot fails waits for the next pass.
		bd.snaps.fail = 1
		retried := bd.event(t, webhooks.EventInvoiceExpired, 0)
		if n := bd.dispatch(t); n != 0 {
			t.Fatalf("fanned out %d events while the snapshot failed", n)
		}
		if n := bd.dispatch(t); n != 1 {
			t.Fatalf("after the snapshot recovered: fanned out %d, want 1", n)
		}
		if got := ids(bd.deliveries(t, all.ID)); len(got) != 5 || !slices.Contains(got, retried.ID) {
			t.Fatalf("deliveries %v, want 5 with %s", got, retried.ID)
		}
	})
}

func TestRetryScheduleWithInjectedClock(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		})
		ep := bd.endpoint(t, rc)
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		bd.dispatch(t)
		created := bd.clock.Now()
		bd.deliverer(t, webhooks.DelivererConfig{}, false)

		// Rand 0.5, jitter 10%: each wait is 95% of 1, 2, 4 minutes (the maximum); attempts at
		// 0 s, 57 s, 171 s and 399 s.
		waits := []time.Duration{57 * time.Second, 114 * time.Second, 228 * time.Second}
		at := created
		for i, w := range waits {
			ds := bd.waitAll(t, ep.ID, 1, "attempt", func(d webhooks.Delivery) bool { return d.Attempts == i+1 })
			d := ds[0]
			at = at.Add(w)
			if d.Status != store.WebhookPending || d.NextAttempt == nil || !d.NextAttempt.Equal(at) {
				t.Fatalf("after attempt %d: status %s, next %v, want pending at %v", i+1, d.Status, d.NextAttempt, at)
			}
			a := d.Log[i]
			if a.Number != i+1 || a.StatusCode != 503 || a.Response != "maintenance\n" || a.Error != "HTTP 503" ||
				a.NextAttempt == nil || !a.NextAttempt.Equal(at) {
				t.Fatalf("attempt log %+v", a)
			}
			// Not due a moment before its time: no attempt happens.
			bd.clock.Advance(w - time.Second)
			time.Sleep(30 * time.Millisecond) // several polls; the assertion below is that nothing happened
			if got := bd.deliveries(t, ep.ID)[0].Attempts; got != i+1 {
				t.Fatalf("attempt %d made %v before it was due", got, time.Second)
			}
			bd.clock.Advance(time.Second)
		}
		// A retry after the fourth attempt would come at 627 s, after the 10-minute window:
		// the delivery fails.
		ds := bd.waitAll(t, ep.ID, 1, "failure", func(d webhooks.Delivery) bool { return d.Status == store.WebhookFailed })
		if d := ds[0]; d.Attempts != 4 || len(d.Log) != 4 || !strings.Contains(d.LastError, "retry window ended") ||
			d.NextAttempt != nil || d.Log[3].NextAttempt != nil {
			t.Fatalf("failed delivery %+v", d)
		}
		if got, bad := rc.snapshot(); len(got) != 4 || bad != 0 {
			t.Fatalf("receiver saw %d requests (%d badly signed), want 4", len(got), bad)
		}
	})
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		codes := []int{429, 408, 500, 404}
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "200") // beyond the 57 s backoff, below the 4 min maximum
			}
			w.WriteHeader(codes[min(n, len(codes))-1])
		})
		ep := bd.endpoint(t, rc)
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		bd.dispatch(t)
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		var d webhooks.Delivery
		for i := range codes {
			d = bd.waitAll(t, ep.ID, 1, "attempt", func(d webhooks.Delivery) bool { return d.Attempts == i+1 })[0]
			if i == 0 && !d.NextAttempt.Equal(start.Add(200*time.Second)) {
				t.Fatalf("after 429 with Retry-After 200: next attempt %v", d.NextAttempt)
			}
			if d.NextAttempt != nil {
				bd.clock.Advance(d.NextAttempt.Sub(bd.clock.Now()))
			}
		}
		var got []int
		for _, a := range d.Log {
			got = append(got, a.StatusCode)
		}
		if d.Status != store.WebhookFailed || !slices.Equal(got, codes) || !strings.Contains(d.LastError, "not retried") {
			t.Fatalf("delivery %s after %v: %s", d.Status, got, d.LastError)
		}
	})
}

func TestEndpointDownThenUpGetsEveryEvent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		var up atomic.Bool
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if !up.Load() {
				w.WriteHeader(http.StatusBadGateway)
			}
		})
		ep := bd.endpoint(t, rc)
		const n = 12
		var want []string
		for range n {
			want = append(want, bd.event(t, webhooks.EventInvoiceSettled, 0).ID)
			bd.clock.Advance(time.Millisecond)
		}
		bd.dispatch(t)
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		bd.waitAll(t, ep.ID, n, "first attempts", func(d webhooks.Delivery) bool { return d.Attempts == 1 })
		bd.clock.Advance(time.Minute)
		bd.waitAll(t, ep.ID, n, "second attempts", func(d webhooks.Delivery) bool { return d.Attempts == 2 })
		up.Store(true)
		bd.clock.Advance(2 * time.Minute)
		ds := bd.waitAll(t, ep.ID, n, "delivery", func(d webhooks.Delivery) bool { return d.Status == store.WebhookDelivered })
		for _, d := range ds {
			if d.Attempts != 3 || d.Log[2].StatusCode != 200 || d.DeliveredAt == nil {
				t.Fatalf("delivery %+v", d)
			}
		}
		got, bad := rc.snapshot()
		if bad != 0 {
			t.Fatalf("%d requests failed signature or body checks", bad)
		}
		for _, id := range want {
			if c := count(got, id); c != 3 {
				t.Fatalf("event %s reached the endpoint %d times, want 3 (two failures, one success)", id, c)
			}
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestRestartInTheMiddleOfRetriesLosesNothing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		var up atomic.Bool
		failing := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if !up.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		hung := make(chan struct{}, 10)
		hanging := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				hung <- struct{}{}
				<-r.Context().Done() // hangs until the deliverer gives up on it
			}
		})
		epF, epH := bd.endpoint(t, failing), bd.endpoint(t, hanging)
		for range 5 {
			bd.event(t, webhooks.EventInvoiceSettled, 0)
			bd.clock.Advance(time.Millisecond)
		}
		bd.dispatch(t)

		first := bd.deliverer(t, webhooks.DelivererConfig{RequestTimeout: time.Hour, Holder: "first"}, false)
		bd.waitAll(t, epF.ID, 5, "failed first attempts", func(d webhooks.Delivery) bool { return d.Attempts == 1 })
		<-hung
		first.Stop() // a crash-like stop: one request in flight, five deliveries waiting for a retry
		first.Stop() // idempotent

		up.Store(true)
		bd.deliverer(t, webhooks.DelivererConfig{Holder: "second"}, false)
		// The request cut short by the stop was not an attempt: it is sent again at once.
		ds := bd.waitAll(t, epH.ID, 5, "hanging endpoint's events", func(d webhooks.Delivery) bool { return d.Status == store.WebhookDelivered })
		for _, d := range ds {
			if d.Attempts != 1 {
				t.Fatalf("delivery %s: %d attempts logged, want 1", d.ID, d.Attempts)
			}
		}
		bd.clock.Advance(time.Minute)
		bd.waitAll(t, epF.ID, 5, "retries after the restart", func(d webhooks.Delivery) bool {
			return d.Status == store.WebhookDelivered && d.Attempts == 2
		})
		for _, rc := range []*receiver{failing, hanging} {
			if _, bad := rc.snapshot(); bad != 0 {
				t.Fatalf("%d badly signed requests", bad)
			}
		}
	})
}

func TestHangingEndpointDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		var hanging atomic.Int32
		slow := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			hanging.Add(1)
			<-r.Context().Done()
		})
		fast := newReceiver(t, ok)
		epSlow, epFast := bd.endpoint(t, slow), bd.endpoint(t, fast)
		bd.event(t, webhooks.EventInvoiceCreated, 0)
		bd.dispatch(t)
		bd.deliverer(t, webhooks.DelivererConfig{RequestTimeout: time.Hour}, false)
		eventually(t, "the slow endpoint's first request", func() (bool, error) { return hanging.Load() == 1, nil })
		// Events that happen while the slow endpoint hangs reach the healthy one.
		for range 5 {
			bd.event(t, webhooks.EventInvoiceSettled, 0)
		}
		bd.dispatch(t)
		bd.waitAll(t, epFast.ID, 6, "the healthy endpoint's events", func(d webhooks.Delivery) bool { return d.Status == store.WebhookDelivered })
		// All of that happened while the slow endpoint still held its first request.
		if got := hanging.Load(); got != 1 {
			t.Fatalf("slow endpoint saw %d requests, want its first one still hanging", got)
		}
		for _, d := range bd.deliveries(t, epSlow.ID) {
			if d.Attempts != 0 || d.Status != store.WebhookPending {
				t.Fatalf("slow endpoint delivery %+v", d)
			}
		}
	})
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.WriteHeader(http.StatusGone) // not retried
			}
		})
		ep := bd.endpoint(t, rc)
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		bd.dispatch(t)
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		d := bd.waitAll(t, ep.ID, 1, "failure", func(d webhooks.Delivery) bool { return d.Status == store.WebhookFailed })[0]
		if _, err := bd.svc.Redeliver(ctx, "sto_other", d.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("redeliver another store's delivery: %v", err)
		}
		got, err := bd.svc.Redeliver(ctx, bd.merchant, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.WebhookPending || got.NextAttempt == nil {
			t.Fatalf("redelivered: %+v", got)
		}
		d = bd.waitAll(t, ep.ID, 1, "redelivery", func(d webhooks.Delivery) bool { return d.Status == store.WebhookDelivered })[0]
		if d.Attempts != 2 || d.Log[0].Manual || !d.Log[1].Manual || d.Log[1].StatusCode != 200 {
			t.Fatalf("log after redelivery %+v", d.Log)
		}
		ids, bad := rc.snapshot()
		if len(ids) != 2 || ids[0] != ids[1] || bad != 0 {
			t.Fatalf("receiver saw %v (%d bad): want the same event twice with the same body", ids, bad)
		}
	})
}

func TestGuardAtDeliveryTime(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		rc := newReceiver(t, ok)
		// The endpoint was saved while its name looked public; now "localhost" resolves to
		// loopback (DNS rebinding). The strict deliverer refuses to connect.
		port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":"):]
		svc, err := webhooks.NewService(bd.st, &webhooks.Config{Now: bd.clock.Now,
			Guard: webhooks.Guard{Resolver: fakeResolver{"rebind.example": {"93.184.215.14"}}}})
		if err != nil {
			t.Fatal(err)
		}
		ep, err := svc.Create(ctx, bd.merchant, "http://rebind.example"+port+"/hook", []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		local := "http://localhost" + port + "/hook"
		if _, err := bd.svc.Update(ctx, bd.merchant, ep.ID, webhooks.Update{URL: &local}); err != nil {
			t.Fatal(err) // bd.svc allows private addresses: stands in for the rebinding
		}
		lit, err := bd.svc.Create(ctx, bd.merchant, rc.srv.URL+"/hook", []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		bd.dispatch(t)
		bd.deliverer(t, webhooks.DelivererConfig{}, true)
		for _, id := range []string{ep.ID, lit.ID} {
			d := bd.waitAll(t, id, 1, "refused attempt", func(d webhooks.Delivery) bool { return d.Attempts == 1 })[0]
			if d.Status != store.WebhookPending || d.Log[0].StatusCode != 0 || !strings.Contains(d.LastError, "loopback") {
				t.Fatalf("delivery to a loopback address: %+v", d)
			}
		}
		if got, _ := rc.snapshot(); len(got) != 0 {
			t.Fatalf("the loopback endpoint received %d requests", len(got))
		}
	})
}
