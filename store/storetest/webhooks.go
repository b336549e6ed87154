package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// webhookTests are the conformance tests of store.WebhookTx.
func webhookTests() []namedTest {
	return []namedTest{
		{"WebhookEndpoints", testWebhookEndpoints},
		{"WebhookFanOutOnce", testWebhookFanOut},
		{"WebhookEventsOfStoresWithEndpoints", testWebhookFeedFilter},
		{"WebhookClaimNoOverlap", testWebhookClaim},
		{"WebhookFinishRedeliverList", testWebhookFinish},
	}
}

func webhookEndpoint(id, merchantID string, at time.Time) store.WebhookEndpoint {
	return store.WebhookEndpoint{ID: id, MerchantID: merchantID, URL: "https://hooks.example.com/" + id,
		Description: "orders", Secret: "whsec_" + id, Events: []string{"invoice.settled", "invoice.expired"},
		Enabled: true, CreatedAt: at, UpdatedAt: at}
}

func withSince(e store.WebhookEndpoint, since int64) store.WebhookEndpoint {
	e.Since = since
	return e
}

func testWebhookEndpoints(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "wh")
	other, _ := seed(t, s, "wh2")
	until := t0.Add(time.Hour)
	tx(t, s, func(x store.Tx) error {
		for _, id := range []string{"we_b", "we_a"} {
			if err := x.CreateWebhookEndpoint(ctx, webhookEndpoint(id, mid, t0)); err != nil {
				return err
			}
		}
		return x.CreateWebhookEndpoint(ctx, webhookEndpoint("we_other", other, t0))
	})
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, webhookEndpoint("we_a", mid, t0)) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate endpoint id: got %v, want ErrConflict", err)
	}
	var since int64
	must(t, s.View(ctx, func(x store.Tx) error {
		got, err := x.WebhookEndpoint(ctx, mid, "we_a")
		if err != nil {
			return err
		}
		since = got.Since
		if got.Since <= 0 {
			return fmt.Errorf("endpoint read with feed position %d, want one set by the store", got.Since)
		}
		if want := webhookEndpoint("we_a", mid, t0); !reflect.DeepEqual(got, withSince(want, got.Since)) {
			return fmt.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if _, err := x.WebhookEndpoint(ctx, other, "we_a"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("foreign endpoint: got %v, want ErrNotFound", err)
		}
		if _, err := x.WebhookEndpoint(ctx, "", "we_a"); err != nil {
			return fmt.Errorf("internal lookup: %w", err)
		}
		list, err := x.WebhookEndpoints(ctx, mid)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != "we_a" || list[1].ID != "we_b" {
			return fmt.Errorf("list %+v", list)
		}
		return nil
	}))
	upd := webhookEndpoint("we_a", mid, t0)
	upd.URL, upd.Events, upd.Enabled, upd.UpdatedAt = "https://new.example.com/x", []string{"*"}, false, t0.Add(time.Minute)
	upd.Secret, upd.PreviousSecret, upd.PreviousSecretUntil = "whsec_new", "whsec_we_a", &until
	tx(t, s, func(x store.Tx) error { return x.UpdateWebhookEndpoint(ctx, upd) })
	foreign := upd
	foreign.MerchantID = other
	if err := s.Tx(ctx, func(x store.Tx) error { return x.UpdateWebhookEndpoint(ctx, foreign) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a foreign endpoint: got %v, want ErrNotFound", err)
	}
	must(t, s.View(ctx, func(x store.Tx) error {
		got, err := x.WebhookEndpoint(ctx, mid, "we_a")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, withSince(upd, since)) { // an update keeps the feed position
			return fmt.Errorf("after update:\n got %+v\nwant %+v", got, upd)
		}
		return nil
	}))
	if err := s.Tx(ctx, func(x store.Tx) error { return x.DeleteWebhookEndpoint(ctx, other, "we_a") }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of a foreign endpoint: got %v, want ErrNotFound", err)
	}
	tx(t, s, func(x store.Tx) error { return x.DeleteWebhookEndpoint(ctx, mid, "we_a") })
	must(t, s.View(ctx, func(x store.Tx) error {
		if _, err := x.WebhookEndpoint(ctx, mid, "we_a"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deleted endpoint: got %v, want ErrNotFound", err)
		}
		return nil
	}))
}

// webhookEvents stores n events of one invoice at t0+i seconds and returns them.
func webhookEvents(t *testing.T, s store.Store, mid, invoiceID string, n int) []store.Event {
	t.Helper()
	var evs []store.Event
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice(invoiceID, mid, t0)); err != nil {
			return err
		}
		for i := range n {
			e := store.Event{ID: fmt.Sprintf("evt_%s_%02d", invoiceID, i), MerchantID: mid, InvoiceID: invoiceID,
				Type: "invoice.settled", Data: `{}`, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			if err := x.AppendEvent(ctx, e); err != nil {
				return err
			}
			evs = append(evs, e)
		}
		return nil
	})
	return evs
}

// fanOut records the events and one delivery of each to every endpoint, due at t0.
func fanOut(t *testing.T, s store.Store, evs []store.Event, endpoints ...store.WebhookEndpoint) []store.WebhookDelivery {
	t.Helper()
	var out []store.WebhookDelivery
	tx(t, s, func(x store.Tx) error {
		for _, e := range evs {
			if _, err := x.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: e.ID, MerchantID: e.MerchantID,
				Type: e.Type, Payload: `{"id":"` + e.ID + `"}`, CreatedAt: e.CreatedAt, DispatchedAt: t0}); err != nil {
				return err
			}
			for _, ep := range endpoints {
				d := store.WebhookDelivery{ID: "wd_" + e.ID + "_" + ep.ID, MerchantID: e.MerchantID, EndpointID: ep.ID,
					EventID: e.ID, EventType: e.Type, NextAttempt: e.CreatedAt, RetryUntil: t0.Add(72 * time.Hour),
					CreatedAt: t0, UpdatedAt: t0}
				if _, err := x.CreateWebhookDelivery(ctx, d); err != nil {
					return err
				}
				d.Status, d.Payload = store.WebhookPending, `{"id":"`+e.ID+`"}`
				out = append(out, d)
			}
		}
		return nil
	})
	return out
}

func testWebhookFanOut(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "whf")
	ep := webhookEndpoint("we_f", mid, t0)
	tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, ep) })
	evs := webhookEvents(t, s, mid, "inv_whf", 5)

	feed := func(after store.FeedPos, limit int) []store.FeedEvent {
		t.Helper()
		var out []store.FeedEvent
		must(t, s.View(ctx, func(x store.Tx) (err error) { out, _, err = x.EventFeed(ctx, after, limit); return }))
		return out
	}
	all := feed(store.FeedPos{}, 10)
	if ids := feedIDs(all); !reflect.DeepEqual(ids, eventIDs(evs)) {
		t.Fatalf("event feed %v, want the events in insertion order %v", ids, eventIDs(evs))
	}
	if ids := feedIDs(feed(all[0].Pos, 3)); !reflect.DeepEqual(ids, eventIDs(evs[1:4])) {
		t.Fatalf("event feed after the first, limit 3: %v", ids)
	}
	fanOut(t, s, evs[:2], ep)
	tx(t, s, func(x store.Tx) error {
		again, err := x.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: evs[0].ID, MerchantID: mid, Type: "x",
			Payload: `{"other":true}`, CreatedAt: t0, DispatchedAt: t0})
		if err != nil || again {
			return fmt.Errorf("second RecordWebhookEvent = %v, %v; want false, nil", again, err)
		}
		d := store.WebhookDelivery{ID: "wd_dup", MerchantID: mid, EndpointID: ep.ID, EventID: evs[0].ID,
			EventType: evs[0].Type, NextAttempt: t0, RetryUntil: t0, CreatedAt: t0, UpdatedAt: t0}
		inserted, err := x.CreateWebhookDelivery(ctx, d)
		if err != nil || inserted {
			return fmt.Errorf("second delivery of one (event, endpoint) = %v, %v; want false, nil", inserted, err)
		}
		return nil
	})
	if ids := feedIDs(feed(store.FeedPos{}, 10)); !reflect.DeepEqual(ids, eventIDs(evs[2:])) {
		t.Fatalf("event feed after fan-out of two: %v", ids)
	}
	var got []store.WebhookDelivery
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: mid})
		return
	}))
	if len(got) != 2 || got[0].Payload != `{"id":"`+evs[1].ID+`"}` {
		t.Fatalf("deliveries %+v", got)
	}

	must(t, s.View(ctx, func(x store.Tx) error {
		at, err := x.WebhookCursor(ctx, "events")
		if err != nil || at != (store.FeedPos{}) {
			return fmt.Errorf("unset cursor = %v, %v; want the zero position", at, err)
		}
		return nil
	}))
	for _, at := range []store.FeedPos{all[3].Pos, all[1].Pos} { // never moves back
		tx(t, s, func(x store.Tx) error { return x.AdvanceWebhookCursor(ctx, "events", at, t0) })
	}
	must(t, s.View(ctx, func(x store.Tx) error {
		at, err := x.WebhookCursor(ctx, "events")
		if err != nil || at != all[3].Pos {
			return fmt.Errorf("cursor = %v, %v; want %v", at, err, all[3].Pos)
		}
		return nil
	}))
}

func feedIDs(evs []store.FeedEvent) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func eventIDs(evs []store.Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	return ids
}

func testWebhookClaim(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "whc")
	a, b, off := webhookEndpoint("we_ca", mid, t0), webhookEndpoint("we_cb", mid, t0), webhookEndpoint("we_off", mid, t0)
	off.Enabled = false
	tx(t, s, func(x store.Tx) error {
		for _, e := range []store.WebhookEndpoint{a, b, off} {
			if err := x.CreateWebhookEndpoint(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	evs := webhookEvents(t, s, mid, "inv_whc", 20)
	fanOut(t, s, evs, a, off)
	fanOut(t, s, nil, b)
	now := t0.Add(10 * time.Second) // events 0..10 are due
	var due []string
	must(t, s.View(ctx, func(x store.Tx) (err error) { due, err = x.DueWebhookEndpoints(ctx, now, 10); return }))
	if !reflect.DeepEqual(due, []string{a.ID}) {
		t.Fatalf("due endpoints %v, want only the enabled one with deliveries", due)
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]string{}
	)
	for w := range 3 {
		wg.Go(func() {
			holder := fmt.Sprintf("worker-%d", w)
			for {
				var d store.WebhookDelivery
				err := s.Tx(ctx, func(x store.Tx) (err error) {
					d, err = x.ClaimWebhookDelivery(ctx, a.ID, holder, now, now.Add(time.Minute))
					return
				})
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, ok := claimed[d.ID]; ok {
					t.Errorf("%s claimed by %s and %s", d.ID, prev, holder)
				}
				claimed[d.ID] = holder
				mu.Unlock()
				if d.LeaseHolder != holder || d.LeaseUntil == nil || !d.LeaseUntil.Equal(now.Add(time.Minute)) || d.Payload == "" {
					t.Errorf("claimed delivery %+v", d)
				}
			}
		})
	}
	wg.Wait()
	if len(claimed) != 11 {
		t.Fatalf("claimed %d deliveries, want the 11 due ones", len(claimed))
	}
	must(t, s.View(ctx, func(x store.Tx) error {
		due, err := x.DueWebhookEndpoints(ctx, now, 10)
		if err != nil || len(due) != 0 {
			return fmt.Errorf("due endpoints while all due deliveries are leased: %v, %v", due, err)
		}
		// The leases run out a minute later: everything due then is claimable again.
		due, err = x.DueWebhookEndpoints(ctx, now.Add(2*time.Minute), 10)
		if err != nil || !reflect.DeepEqual(due, []string{a.ID}) {
			return fmt.Errorf("due endpoints after the leases expired: %v, %v", due, err)
		}
		return nil
	}))
}

func testWebhookFinish(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "whd")
	other, _ := seed(t, s, "whd2")
	ep := webhookEndpoint("we_d", mid, t0)
	tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, ep) })
	evs := webhookEvents(t, s, mid, "inv_whd", 3)
	fanOut(t, s, evs, ep)

	claim := func(holder string, now time.Time) store.WebhookDelivery {
		t.Helper()
		var d store.WebhookDelivery
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			d, err = x.ClaimWebhookDelivery(ctx, ep.ID, holder, now, now.Add(time.Minute))
			return
		}))
		return d
	}
	d := claim("w1", t0)
	if d.EventID != evs[0].ID {
		t.Fatalf("claimed %s first, want the oldest due %s", d.EventID, evs[0].ID)
	}
	next := t0.Add(30 * time.Second)
	a1 := store.WebhookAttempt{ID: "wa_1", DeliveryID: d.ID, Number: 1, StartedAt: t0, Duration: 1500 * time.Microsecond,
		StatusCode: 503, Response: "down", Error: "HTTP 503", NextAttempt: &next}
	d.Attempts, d.NextAttempt, d.LastStatus, d.LastError, d.UpdatedAt = 1, next, 503, "HTTP 503", t0
	var ok bool
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { ok, err = x.FinishWebhookDelivery(ctx, d, "w1", a1); return }))
	if !ok {
		t.Fatal("finish by the lease holder reported a lost lease")
	}
	// A worker whose lease was taken over records its attempt but does not write the delivery.
	d2 := claim("w2", t0.Add(10*time.Second))
	if d2.ID == d.ID {
		t.Fatalf("claimed %s again before its retry time", d.ID)
	}
	must(t, s.Tx(ctx, func(x store.Tx) error {
		return x.RedeliverWebhook(ctx, mid, d2.ID, t0.Add(time.Minute), t0.Add(time.Hour))
	}))
	a2 := store.WebhookAttempt{ID: "wa_2", DeliveryID: d2.ID, Number: 1, StartedAt: t0.Add(time.Minute), StatusCode: 200}
	delivered := d2
	delivered.Status, delivered.Attempts, delivered.DeliveredAt = store.WebhookDelivered, 1, &a2.StartedAt
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { ok, err = x.FinishWebhookDelivery(ctx, delivered, "w2", a2); return }))
	if ok {
		t.Fatal("finish after a redelivery broke the lease reported the lease held")
	}
	if err := s.Tx(ctx, func(x store.Tx) error {
		return x.RedeliverWebhook(ctx, other, d.ID, t0, t0)
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("redeliver a foreign delivery: got %v, want ErrNotFound", err)
	}

	must(t, s.View(ctx, func(x store.Tx) error {
		got, err := x.WebhookDelivery(ctx, mid, d.ID)
		if err != nil {
			return err
		}
		d.LeaseHolder, d.LeaseUntil = "", nil
		if !reflect.DeepEqual(got, d) {
			return fmt.Errorf("finished delivery:\n got %+v\nwant %+v", got, d)
		}
		got2, err := x.WebhookDelivery(ctx, mid, d2.ID)
		if err != nil {
			return err
		}
		if got2.Status != store.WebhookPending || !got2.Manual || got2.LeaseHolder != "" ||
			!got2.NextAttempt.Equal(t0.Add(time.Minute)) || !got2.RetryUntil.Equal(t0.Add(72*time.Hour)) {
			return fmt.Errorf("redelivered delivery %+v", got2)
		}
		if _, err := x.WebhookDelivery(ctx, other, d.ID); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("foreign delivery: got %v, want ErrNotFound", err)
		}
		atts, err := x.WebhookAttempts(ctx, []string{d.ID, d2.ID})
		if err != nil {
			return err
		}
		if want := []store.WebhookAttempt{a1, a2}; !reflect.DeepEqual(atts, want) {
			return fmt.Errorf("attempts:\n got %+v\nwant %+v", atts, want)
		}
		page1, err := x.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: mid, EndpointID: ep.ID, Limit: 2})
		if err != nil {
			return err
		}
		if len(page1) != 2 {
			return fmt.Errorf("page 1: %d deliveries", len(page1))
		}
		page2, err := x.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: mid, EndpointID: ep.ID, Limit: 2, BeforeID: page1[1].ID})
		if err != nil {
			return err
		}
		if len(page2) != 1 || page2[0].ID != d.ID || page1[0].ID <= page1[1].ID || page1[1].ID <= page2[0].ID {
			return fmt.Errorf("pages %v / %v", page1, page2)
		}
		pending, err := x.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: mid, Status: store.WebhookPending})
		if err != nil || len(pending) != 3 {
			return fmt.Errorf("pending deliveries: %d, %v", len(pending), err)
		}
		return nil
	}))
	// Deleting the endpoint takes its deliveries and attempts with it.
	tx(t, s, func(x store.Tx) error { return x.DeleteWebhookEndpoint(ctx, mid, ep.ID) })
	must(t, s.View(ctx, func(x store.Tx) error {
		ds, err := x.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: mid})
		if err != nil || len(ds) != 0 {
			return fmt.Errorf("deliveries of a deleted endpoint: %d, %v", len(ds), err)
		}
		atts, err := x.WebhookAttempts(ctx, []string{d.ID})
		if err != nil || len(atts) != 0 {
			return fmt.Errorf("attempts of a deleted endpoint: %d, %v", len(atts), err)
		}
		return nil
	}))
}

// testWebhookFeedFilter (issue 23): the event feed and the webhook backlog leave out the
// events of stores without a webhook endpoint, EventsBelow still sees them (so the cursor can
// pass them), MerchantWallets tells whether the store has an endpoint, an event's snapshot
// round-trips through the feed, and LockWebhookCursor creates the cursor and returns it.
func testWebhookFeedFilter(t *testing.T, s store.Store) {
	with, _ := seed(t, s, "whx")
	without, _ := seed(t, s, "why")
	hasHooks := func(mid string) bool {
		t.Helper()
		var m store.Merchant
		must(t, s.View(ctx, func(x store.Tx) (err error) { m, _, err = x.MerchantWallets(ctx, mid); return }))
		return m.HasWebhooks
	}
	if hasHooks(with) || hasHooks(without) {
		t.Fatal("HasWebhooks before any endpoint")
	}
	tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, webhookEndpoint("we_x", with, t0)) })
	if !hasHooks(with) || hasHooks(without) {
		t.Fatalf("HasWebhooks = %v (with) and %v (without), want true and false", hasHooks(with), hasHooks(without))
	}
	tx(t, s, func(x store.Tx) error {
		for _, id := range []string{"inv_whx", "inv_why"} {
			mid := with
			if id == "inv_why" {
				mid = without
			}
			if err := x.CreateInvoice(ctx, invoice(id, mid, t0)); err != nil {
				return err
			}
			if err := x.AppendEvent(ctx, store.Event{ID: "evt_" + id, MerchantID: mid, InvoiceID: id, Type: "invoice.created",
				Data: "{}", CreatedAt: t0, Snapshot: `{"id":"` + id + `"}`}); err != nil {
				return err
			}
		}
		return nil
	})
	var (
		feed    []store.FeedEvent
		horizon int64
		below   bool
		backlog store.WebhookBacklog
	)
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		if feed, horizon, err = x.EventFeed(ctx, store.FeedPos{}, 10); err != nil {
			return err
		}
		if below, err = x.EventsBelow(ctx, store.FeedPos{}, horizon); err != nil {
			return err
		}
		backlog, err = x.WebhookBacklog(ctx, store.FeedPos{})
		return err
	}))
	if len(feed) != 1 || feed[0].ID != "evt_inv_whx" || feed[0].Snapshot != `{"id":"inv_whx"}` {
		t.Fatalf("event feed %+v, want evt_inv_whx with its snapshot only", feed)
	}
	if backlog.Undispatched != 1 {
		t.Fatalf("undispatched %d, want 1 (the store without endpoints does not count)", backlog.Undispatched)
	}
	if !below && s.Dialect() == "sqlite" { // Postgres: the horizon may still be held by another transaction
		t.Fatal("EventsBelow found no event below the horizon")
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		below, err = x.EventsBelow(ctx, feed[0].Pos, feed[0].Pos.XID)
		return err
	}))
	if below {
		t.Fatal("EventsBelow found an event below a horizon at the first event")
	}
	var pos store.FeedPos
	tx(t, s, func(x store.Tx) (err error) { pos, err = x.LockWebhookCursor(ctx, "events", true); return })
	if pos != (store.FeedPos{}) {
		t.Fatalf("new cursor at %+v", pos)
	}
	tx(t, s, func(x store.Tx) error { return x.AdvanceWebhookCursor(ctx, "events", feed[0].Pos, t0) })
	tx(t, s, func(x store.Tx) (err error) { pos, err = x.LockWebhookCursor(ctx, "events", false); return })
	if pos != feed[0].Pos {
		t.Fatalf("cursor at %+v after advancing to %+v", pos, feed[0].Pos)
	}
}
