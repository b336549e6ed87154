package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

var ctx = context.Background()

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// snapshots renders an invoice as {"id": ...}; fail makes the next n calls fail.
type snapshots struct {
	mu   sync.Mutex
	fail int
}

func (s *snapshots) Snapshot(_ context.Context, invoiceID string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return nil, errors.New("snapshot unavailable")
	}
	return json.RawMessage(fmt.Sprintf(`{"id":%q,"status":"settled"}`, invoiceID)), nil
}

// bundle is one test's store, clock, merchant with an invoice, service and dispatcher.
type bundle struct {
	st       store.Store
	clock    *clock
	merchant string
	invoice  string
	snaps    *snapshots
	svc      *webhooks.Service
	disp     *webhooks.Dispatcher
}

var start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, b storetest.Backend) *bundle {
	t.Helper()
	return setupOn(t, b.Open(t))
}

// setupOn is setup on the store st.
func setupOn(t *testing.T, st store.Store) *bundle {
	t.Helper()
	bd := &bundle{st: st, clock: &clock{t: start}, merchant: "sto_a", invoice: "inv_a", snaps: &snapshots{}}
	err := bd.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: bd.merchant, Name: "a", CreatedAt: start}); err != nil {
			return err
		}
		return tx.CreateInvoice(ctx, store.Invoice{ID: bd.invoice, MerchantID: bd.merchant, Status: store.StatusNew,
			Price: big.NewInt(2500), Currency: "USD", TolerancePercent: "0", ToleranceFloor: big.NewInt(0),
			Confirmations: "{}", ExpiresAt: start.Add(15 * time.Minute), MonitorUntil: start.Add(24 * time.Hour),
			CreatedAt: start, UpdatedAt: start})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Tests run endpoints on loopback: the service allows private addresses; deliverers
	// get their own guard.
	bd.svc, err = webhooks.NewService(bd.st, &webhooks.Config{Guard: webhooks.Guard{AllowPrivate: true}, Now: bd.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	bd.disp, err = webhooks.NewDispatcher(bd.st, bd.snaps, &webhooks.DispatcherConfig{Now: bd.clock.Now, Retry: testPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return bd
}

// testPolicy: 1 min doubling to 4 min, 10% jitter, for 10 minutes.
var testPolicy = webhooks.RetryPolicy{Base: time.Minute, Max: 4 * time.Minute, Window: 10 * time.Minute, Jitter: 0.1}

// event stores an event of the invoice at the clock's time (plus offset) and returns it.
func (b *bundle) event(t *testing.T, typ string, offset time.Duration) store.Event {
	t.Helper()
	at := b.clock.Now().Add(offset)
	e := store.Event{ID: store.NewID("evt", at), MerchantID: b.merchant, InvoiceID: b.invoice, Type: typ,
		Data: `{"invoice_id":"` + b.invoice + `"}`, CreatedAt: at}
	if err := b.st.Tx(ctx, func(tx store.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	return e
}

func (b *bundle) dispatch(t *testing.T) int {
	t.Helper()
	n, err := b.disp.Dispatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// deliverer starts a Deliverer on the bundle's store and clock, stopped when the test ends.
// Test endpoints listen on loopback, so the guard allows private addresses unless strict.
func (b *bundle) deliverer(t *testing.T, cfg webhooks.DelivererConfig, strict bool) *webhooks.Deliverer {
	t.Helper()
	cfg.Now = b.clock.Now
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.Retry == (webhooks.RetryPolicy{}) {
		cfg.Retry = testPolicy
	}
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0.5 }
	}
	cfg.Guard.AllowPrivate = !strict
	d, err := webhooks.NewDeliverer(b.st, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(ctx)
	t.Cleanup(d.Stop)
	return d
}

// receiver is a merchant endpoint that verifies signatures and records the events.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time // the test's clock, which signed the requests
	secret   string
	bodies   map[string][]byte // event id -> body
	received []string          // event ids, in arrival order (with repeats)
	badSig   int
	respond  func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{bodies: map[string][]byte{}, respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.received) + 1
		now := start
		if rc.now != nil {
			now = rc.now()
		}
		err := webhooks.Verify(rc.secret, r.Header.Get(webhooks.SignatureHeader), body, 5*time.Minute, now)
		var p webhooks.Payload
		if err != nil || json.Unmarshal(body, &p) != nil || p.ID != r.Header.Get("Chainpay-Event-Id") {
			rc.badSig++
		}
		rc.received = append(rc.received, p.ID)
		if prev, ok := rc.bodies[p.ID]; ok && string(prev) != string(body) {
			rc.badSig++ // a retry must send the same bytes
		}
		rc.bodies[p.ID] = body
		respond := rc.respond
		rc.mu.Unlock()
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) snapshot() (received []string, badSig int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.received...), rc.badSig
}

// endpoint registers rc for the bundle's merchant.
func (b *bundle) endpoint(t *testing.T, rc *receiver, events ...string) webhooks.Endpoint {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	ep, err := b.svc.Create(ctx, b.merchant, rc.srv.URL+"/hook", events, "test")
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret, rc.now = ep.Secret, b.clock.Now
	rc.mu.Unlock()
	return ep
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliveries returns every delivery of the endpoint, oldest first.
func (b *bundle) deliveries(t *testing.T, endpointID string) []webhooks.Delivery {
	t.Helper()
	var all []webhooks.Delivery
	cursor := ""
	for {
		page, next, err := b.svc.Deliveries(ctx, b.merchant, endpointID, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// waitStatus waits until every delivery of the endpoint satisfies cond.
func (b *bundle) waitAll(t *testing.T, endpointID string, n int, what string, cond func(webhooks.Delivery) bool) []webhooks.Delivery {
	t.Helper()
	var ds []webhooks.Delivery
	eventually(t, what, func() (bool, error) {
		ds = b.deliveries(t, endpointID)
		if len(ds) != n {
			return false, fmt.Errorf("%d deliveries, want %d", len(ds), n)
		}
		for _, d := range ds {
			if !cond(d) {
				return false, nil
			}
		}
		return true, nil
	})
	return ds
}

func backends(t *testing.T, fn func(t *testing.T, b storetest.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}
