package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// testFeeds (issue 22): the option and event feeds return every row committed after a
// consumer's cursor, in feed order, whatever the rows' created_at; a consumer that moves
// its cursor only past rows below the horizon never skips one. On Postgres a transaction
// that inserted first and commits last (open A, commit B, read, commit A) is the case a
// time window or a plain sequence gets wrong: B is read at once, the horizon keeps the
// cursor from passing A, and A is read once it commits. SQLite runs one writer at a time,
// so there the order of the numbers is the commit order.
func testFeeds(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "feed")
	// The event feed lists the events of stores with a webhook endpoint.
	tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, webhookEndpoint("we_feed", mid, t0)) })
	create := func(x store.Tx, id string, created time.Time, idx uint32) error {
		inv := invoice(id, mid, created)
		if err := x.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		if err := x.CreatePaymentOption(ctx, option("opt_"+id, id, wid, "bcrt1q"+id, idx)); err != nil {
			return err
		}
		return x.AppendEvent(ctx, store.Event{ID: "evt_" + id, MerchantID: mid, InvoiceID: id, Type: "invoice.created",
			Data: "{}", CreatedAt: created})
	}
	// consume reads both feeds after the cursors as the follower and the dispatcher do, and
	// returns the ids read; the cursors move only past rows below the horizon.
	var optCur, evCur store.FeedPos
	consume := func() (opts, evs []string) {
		t.Helper()
		must(t, s.View(ctx, func(x store.Tx) error {
			page, h, err := x.OptionFeed(ctx, "bitcoin", optCur, 100)
			if err != nil {
				return err
			}
			for _, o := range page {
				opts = append(opts, o.InvoiceID)
				if o.Pos.XID < h && !slices.ContainsFunc(page[:slices.IndexFunc(page, func(p store.WatchedOption) bool { return p.ID == o.ID })], func(p store.WatchedOption) bool { return p.Pos.XID >= h }) {
					optCur = o.Pos
				}
			}
			events, h, err := x.EventFeed(ctx, evCur, 100)
			if err != nil {
				return err
			}
			for i, e := range events {
				evs = append(evs, e.InvoiceID)
				if e.Pos.XID < h && !slices.ContainsFunc(events[:i], func(p store.FeedEvent) bool { return p.Pos.XID >= h }) {
					evCur = e.Pos
				}
			}
			return nil
		}))
		return opts, evs
	}

	// The first invoice is stamped 15 minutes after the second (a replica whose clock runs
	// ahead, or the second's commit came 15 minutes late): the feeds order by commit, not time.
	tx(t, s, func(x store.Tx) error { return create(x, "inv_f1", t0.Add(15*time.Minute), 1) })
	tx(t, s, func(x store.Tx) error { return create(x, "inv_f2", t0, 2) })
	opts, evs := consume()
	if !slices.Equal(opts, []string{"inv_f1", "inv_f2"}) || !slices.Equal(evs, []string{"inv_f1", "inv_f2"}) {
		t.Fatalf("feeds read %v and %v, want inv_f1 then inv_f2", opts, evs)
	}
	if s.Dialect() != "postgres" {
		tx(t, s, func(x store.Tx) error { return create(x, "inv_f3", t0.Add(-time.Hour), 3) })
		opts, evs = consume()
		if !slices.Contains(opts, "inv_f3") || !slices.Contains(evs, "inv_f3") || slices.Contains(opts, "inv_f1") {
			t.Fatalf("after a third invoice the feeds read %v and %v", opts, evs)
		}
		return
	}

	// Postgres: A inserts first (the smaller transaction id) and commits after B.
	inA, releaseA, doneA := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		doneA <- s.Tx(ctx, func(x store.Tx) error {
			if err := create(x, "inv_fa", t0.Add(-15*time.Minute), 4); err != nil {
				return err
			}
			select {
			case <-inA:
			default:
				close(inA)
			}
			<-releaseA
			return nil
		})
	}()
	<-inA
	tx(t, s, func(x store.Tx) error { return create(x, "inv_fb", t0, 5) })
	opts, evs = consume()
	if !slices.Contains(opts, "inv_fb") || slices.Contains(opts, "inv_fa") || !slices.Contains(evs, "inv_fb") {
		close(releaseA)
		t.Fatalf("with A open the feeds read %v and %v, want B and not A", opts, evs)
	}
	close(releaseA)
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	opts, evs = consume()
	if !slices.Contains(opts, "inv_fa") || !slices.Contains(evs, "inv_fa") {
		t.Fatalf("after A committed the feeds read %v and %v: A was skipped", opts, evs)
	}
	// Eventually (once no older transaction is open) the cursors pass both.
	deadline := time.Now().Add(30 * time.Second)
	for {
		opts, evs = consume()
		if len(opts) == 0 && len(evs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cursors never passed %v and %v (a transaction left open on the server?)", opts, evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testEndpointSince: an endpoint's feed position (WebhookEndpoint.Since, set by the store)
// orders it among the events by transaction, whatever the times they carry: an event
// written before it is below it, one written after it is at or above it, and an endpoint
// written after that event is above the event. The times say the opposite here (a replica
// whose clock is behind wrote the later event).
func testEndpointSince(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "since")
	event := func(id string, at time.Time) {
		t.Helper()
		tx(t, s, func(x store.Tx) error {
			if err := x.CreateInvoice(ctx, invoice(id, mid, at)); err != nil {
				return err
			}
			return x.AppendEvent(ctx, store.Event{ID: "evt_" + id, MerchantID: mid, InvoiceID: id, Type: "invoice.created",
				Data: "{}", CreatedAt: at})
		})
	}
	endpoint := func(id string, at time.Time) int64 {
		t.Helper()
		var e store.WebhookEndpoint
		tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, webhookEndpoint(id, mid, at)) })
		must(t, s.View(ctx, func(x store.Tx) (err error) { e, err = x.WebhookEndpoint(ctx, mid, id); return }))
		return e.Since
	}
	event("inv_since1", t0)
	first := endpoint("we_since1", t0.Add(time.Hour))
	event("inv_since2", t0.Add(30*time.Minute)) // stamped before the endpoint by a clock behind
	second := endpoint("we_since2", t0)
	var evs []store.FeedEvent
	must(t, s.View(ctx, func(x store.Tx) (err error) { evs, _, err = x.EventFeed(ctx, store.FeedPos{}, 10); return }))
	pos := map[string]int64{}
	for _, e := range evs {
		pos[e.ID] = e.Pos.XID
	}
	e1, ok1 := pos["evt_inv_since1"]
	e2, ok2 := pos["evt_inv_since2"]
	if !ok1 || !ok2 {
		t.Fatalf("event feed %+v lacks the two events", evs)
	}
	if !(e1 < first && first <= e2 && e2 < second) {
		t.Fatalf("positions: event 1 at %d, endpoint 1 since %d, event 2 at %d, endpoint 2 since %d; want them in that order",
			e1, first, e2, second)
	}
}
