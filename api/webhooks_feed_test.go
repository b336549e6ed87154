package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

// countingSnapshots counts the invoices the dispatcher renders itself.
type countingSnapshots struct {
	api *api.Server
	n   atomic.Int64
}

func (c *countingSnapshots) Snapshot(ctx context.Context, id string) (json.RawMessage, error) {
	c.n.Add(1)
	return c.api.Snapshot(ctx, id)
}

// signedReceiver records every request's body and whether its signature verifies.
type signedReceiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	bodies map[string][]byte // by event id
	bad    int
}

func newSignedReceiver(t *testing.T) *signedReceiver {
	rc := &signedReceiver{bodies: map[string][]byte{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if webhooks.Verify(rc.secret, r.Header.Get(webhooks.SignatureHeader), b.Bytes(), time.Minute, time.Now()) != nil {
			rc.bad++
		}
		rc.bodies[r.Header.Get("Chainpay-Event-Id")] = b.Bytes()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// TestCreateEventsReachWebhooksWithoutRereading (issue 23): a store without webhook endpoints
// gets its invoice.created events stored (the invoice's history) but nothing else: no
// snapshot in them, no fanned-out event, no delivery, no rendering by the dispatcher. A store
// with one gets exactly its events delivered, the invoice in each body byte for byte the
// create answer, with a valid signature, and the dispatcher renders nothing itself.
func TestCreateEventsReachWebhooksWithoutRereading(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withWebhooks(16)}, func(t *testing.T, e *env) {
		ctx := context.Background()
		plain, hooked := e.newMerchant("No hooks"), e.newMerchant("Hooks")
		rc := newSignedReceiver(t)
		dev, err := webhooks.NewService(e.st, &webhooks.Config{Guard: webhooks.Guard{AllowPrivate: true}})
		if err != nil {
			t.Fatal(err)
		}
		ep, err := dev.Create(ctx, hooked.id, rc.srv.URL+"/hook", []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		rc.secret = ep.Secret
		snaps := &countingSnapshots{api: e.api}
		disp, err := webhooks.NewDispatcher(e.st, snaps, nil)
		if err != nil {
			t.Fatal(err)
		}
		answers := map[string][]byte{} // the create answers of the hooked store, by invoice id
		var plainIDs []string
		for i := range 3 {
			for _, m := range []merchant{plain, hooked} {
				r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD",
					"order_id": fmt.Sprintf("o-%d", i)}, "Idempotency-Key", fmt.Sprintf("%s-%d", m.id, i))
				if r.status != 201 {
					t.Fatalf("create: %d %s", r.status, r.body)
				}
				id := r.json(t)["id"].(string)
				if m == hooked {
					answers[id] = bytes.TrimSuffix(r.body, []byte("\n"))
				} else {
					plainIDs = append(plainIDs, id)
				}
			}
		}
		// The feed holds the hooked store's events only, each carrying its create answer.
		var feed []store.FeedEvent
		if err := e.st.View(ctx, func(tx store.Tx) (err error) { feed, _, err = tx.EventFeed(ctx, store.FeedPos{}, 100); return }); err != nil {
			t.Fatal(err)
		}
		if len(feed) != 3 {
			t.Fatalf("feed has %d events, want the hooked store's 3", len(feed))
		}
		for _, f := range feed {
			if f.MerchantID != hooked.id || f.Snapshot != string(answers[f.InvoiceID]) {
				t.Fatalf("feed event %s of %s: snapshot %q, want the create answer", f.ID, f.MerchantID, f.Snapshot)
			}
		}
		if n, err := disp.Dispatch(ctx); err != nil || n != 3 {
			t.Fatalf("dispatch: %d, %v; want 3", n, err)
		}
		if n, err := disp.Dispatch(ctx); err != nil || n != 0 {
			t.Fatalf("second dispatch: %d, %v", n, err)
		}
		if n := snaps.n.Load(); n != 0 {
			t.Fatalf("the dispatcher rendered %d invoices itself", n)
		}
		// The store without endpoints: its events are its invoices' history, nothing more.
		errRollback := errors.New("rollback")
		err = e.st.Tx(ctx, func(tx store.Tx) error {
			for _, id := range plainIDs {
				evs, err := tx.Events(ctx, id)
				if err != nil {
					return err
				}
				if len(evs) != 1 || evs[0].Type != "invoice.created" {
					return fmt.Errorf("events of %s: %+v", id, evs)
				}
				// Not fanned out: recording it now would be the first time.
				first, err := tx.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: evs[0].ID, MerchantID: plain.id,
					Type: evs[0].Type, Payload: "{}", CreatedAt: evs[0].CreatedAt, DispatchedAt: evs[0].CreatedAt})
				if err != nil || !first {
					return fmt.Errorf("event %s was fanned out (%v, %v)", evs[0].ID, first, err)
				}
			}
			ds, err := tx.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: plain.id, Limit: 100})
			if err != nil || len(ds) != 0 {
				return fmt.Errorf("deliveries of the store without endpoints: %d, %v", len(ds), err)
			}
			b, err := tx.WebhookBacklog(ctx, store.FeedPos{})
			if err != nil || b.Undispatched != 0 {
				return fmt.Errorf("undispatched %d, %v", b.Undispatched, err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		// Delivered: exactly the hooked store's events, bodies carrying the create answers.
		del, err := webhooks.NewDeliverer(e.st, &webhooks.DelivererConfig{Guard: webhooks.Guard{AllowPrivate: true},
			PollInterval: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		del.Start(ctx)
		t.Cleanup(del.Stop)
		deadline := time.Now().Add(20 * time.Second)
		for {
			rc.mu.Lock()
			n := len(rc.bodies)
			rc.mu.Unlock()
			if n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of 3 events delivered", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		del.Stop()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.bad != 0 || len(rc.bodies) != 3 {
			t.Fatalf("%d bodies, %d bad signatures", len(rc.bodies), rc.bad)
		}
		for _, f := range feed {
			var p struct {
				ID   string `json:"id"`
				Data struct {
					Invoice json.RawMessage `json:"invoice"`
				} `json:"data"`
			}
			if err := json.Unmarshal(rc.bodies[f.ID], &p); err != nil || p.ID != f.ID {
				t.Fatalf("body of %s: %v %s", f.ID, err, rc.bodies[f.ID])
			}
			if !bytes.Equal(p.Data.Invoice, answers[f.InvoiceID]) {
				t.Fatalf("delivered invoice differs from the create answer:\n%s\n%s", p.Data.Invoice, answers[f.InvoiceID])
			}
		}
	})
}

// TestEndpointsChangingDuringCreates (issue 23): while clients create invoices and a
// dispatcher fans out, an endpoint is added and another deleted. The endpoint there all along
// gets every event. The added one gets every event of the invoices whose create request
// started after it was added (none is lost to the race between its transaction and the
// fan-out) and none of those whose request ended before it was added; for the requests that
// overlapped its creation either is right (issue 22: the event feed decides, not the times,
// which come from the replicas' clocks). The deletion breaks no fan-out.
func TestEndpointsChangingDuringCreates(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withWebhooks(16)}, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := e.newMerchant("Changing")
		dev, err := webhooks.NewService(e.st, &webhooks.Config{Guard: webhooks.Guard{AllowPrivate: true}})
		if err != nil {
			t.Fatal(err)
		}
		const url = "http://127.0.0.1:9/hook" // never called: only deliveries are checked
		always, err := dev.Create(ctx, m.id, url, []string{"*"}, "always")
		if err != nil {
			t.Fatal(err)
		}
		doomed, err := dev.Create(ctx, m.id, url, []string{"*"}, "deleted half-way")
		if err != nil {
			t.Fatal(err)
		}
		disp, err := webhooks.NewDispatcher(e.st, e.api, nil)
		if err != nil {
			t.Fatal(err)
		}
		const clients, each = 4, 15
		var (
			wg      sync.WaitGroup
			created atomic.Int64
			mu      sync.Mutex
			ids     []string
			stop    = make(chan struct{})
			// phase is 0 before the added endpoint is created, 1 while, 2 after; each
			// invoice's request records the phase at its start and at its end.
			phase   atomic.Int32
			started = map[string]int32{}
			ended   = map[string]int32{}
		)
		for c := range clients {
			wg.Go(func() {
				for i := range each {
					for i == each/2 && phase.Load() != 2 { // half of each client's requests after the endpoint is added
						time.Sleep(time.Millisecond)
					}
					p0 := phase.Load()
					r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "3.00", "currency": "USD"},
						"Idempotency-Key", fmt.Sprintf("c%d-%d", c, i))
					p1 := phase.Load()
					if r.status != 201 {
						t.Errorf("create: %d %s", r.status, r.body)
						return
					}
					id := r.json(t)["id"].(string)
					mu.Lock()
					ids = append(ids, id)
					started[id], ended[id] = p0, p1
					mu.Unlock()
					created.Add(1)
				}
			})
		}
		dispatched := make(chan struct{})
		go func() {
			defer close(dispatched)
			for {
				if _, err := disp.Dispatch(ctx); err != nil {
					t.Errorf("dispatch: %v", err)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		for created.Load() < clients*each/3 {
			time.Sleep(time.Millisecond)
		}
		phase.Store(1)
		added, err := dev.Create(ctx, m.id, url, []string{"*"}, "added half-way")
		if err != nil {
			t.Fatal(err)
		}
		phase.Store(2)
		for created.Load() < 2*clients*each/3 {
			time.Sleep(time.Millisecond)
		}
		if err := dev.Delete(ctx, m.id, doomed.ID); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(stop)
		<-dispatched
		for {
			n, err := disp.Dispatch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		var (
			all, after, before []string // every event; those of requests started after the endpoint was added; ended before
			got                = map[string][]string{}
		)
		err = e.st.View(ctx, func(tx store.Tx) error {
			for _, id := range ids {
				evs, err := tx.Events(ctx, id)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					all = append(all, ev.ID)
					switch {
					case started[id] == 2:
						after = append(after, ev.ID)
					case ended[id] == 0:
						before = append(before, ev.ID)
					}
				}
			}
			for _, ep := range []string{always.ID, added.ID, doomed.ID} {
				ds, err := tx.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: m.id, EndpointID: ep, Limit: 10000})
				if err != nil {
					return err
				}
				for _, d := range ds {
					got[ep] = append(got[ep], d.EventID)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(all)
		for ep := range got {
			slices.Sort(got[ep])
		}
		if len(all) != clients*each || !slices.Equal(got[always.ID], all) {
			t.Fatalf("the endpoint there all along got %d of %d events", len(got[always.ID]), len(all))
		}
		if len(after) == 0 || len(before) == 0 {
			t.Fatalf("%d events of requests started after the endpoint was added, %d of requests ended before: want some of each",
				len(after), len(before))
		}
		for _, id := range after {
			if _, ok := slices.BinarySearch(got[added.ID], id); !ok {
				t.Fatalf("the endpoint added half-way lacks %s, of a request started after it was added (it got %d of %d events)",
					id, len(got[added.ID]), len(all))
			}
		}
		for _, id := range before {
			if _, ok := slices.BinarySearch(got[added.ID], id); ok {
				t.Fatalf("the endpoint added half-way got %s, of a request ended before it was added", id)
			}
		}
		for _, id := range got[added.ID] {
			if _, ok := slices.BinarySearch(all, id); !ok {
				t.Fatalf("the endpoint added half-way got %s, no event of these invoices", id)
			}
		}
		if len(got[doomed.ID]) != 0 {
			t.Fatalf("the deleted endpoint kept %d deliveries", len(got[doomed.ID]))
		}
	})
}
