package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

const lease = time.Minute

// env is one exactly-once scenario: a store with settled payments in the outbox, a clock,
// the journal that must end up with each record once, and optionally an HTTP receiver.
type env struct {
	t     *testing.T
	st    store.Store
	clock *clock
	j     *Journal
	order *OrderedSink // the journal behind a check that every payment's records arrive in order
	want  map[string]Record
	paid  map[string]paid
	rv    *receiver
	http  *HTTPSink
}

func newEnv(t *testing.T, b storetest.Backend, n int) *env {
	st := openStore(t, b, "sto_a")
	e := &env{t: t, st: st, clock: newClock(), paid: map[string]paid{}}
	e.j = NewJournal(st, e.clock.Now)
	e.order = NewOrderedSink(e.j)
	ps := fixture(t, "sto_a", n)
	e.want = enqueue(t, st, ps)
	for _, p := range ps {
		e.paid[SettlementKey(p.pay.ID)] = p
	}
	return e
}

// withHTTP puts an HTTP receiver (backed by the journal) in front of the journal.
func (e *env) withHTTP(timeout time.Duration) *env {
	e.rv = newReceiver(e.t, e.order, e.clock.Now)
	srv := httptest.NewServer(e.rv)
	e.t.Cleanup(srv.Close)
	sink, err := NewHTTPSink(HTTPSinkConfig{URL: srv.URL, Secret: testSecret, Timeout: timeout, Now: e.clock.Now})
	must(e.t, err)
	e.http = sink
	return e
}

func (e *env) sink() Sink {
	if e.http != nil {
		return e.http
	}
	return e.order
}

func (e *env) relay(sink Sink, holder string) *Relay {
	r, err := NewRelay(e.st, sink, RelayConfig{
		Holder: holder, Lease: lease, PostTimeout: 10 * time.Second, MinBackoff: time.Second, MaxBackoff: 10 * time.Second,
		PollInterval: 2 * time.Millisecond, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	must(e.t, err)
	return r
}

func (e *env) outbox(status string) []store.OutboxMessage {
	var out []store.OutboxMessage
	must(e.t, e.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.OutboxMessages(ctx, Topic, status); return }))
	return out
}

// drain runs rounds (a fresh relay claiming one batch) until nothing is pending, moving the
// clock past every backoff and lease between rounds. before runs ahead of each round.
func (e *env) drain(sink Sink, before func(round int, ctx context.Context) context.Context) {
	e.t.Helper()
	for round := 0; ; round++ {
		if round > 300 {
			e.t.Fatalf("outbox not drained after %d rounds: %d pending", round, len(e.outbox(store.OutboxPending)))
		}
		if len(e.outbox(store.OutboxPending)) == 0 {
			return
		}
		rctx := ctx
		if before != nil {
			rctx = before(round, ctx)
		}
		if _, err := e.relay(sink, fmt.Sprintf("relay-%d", round)).RunOnce(rctx); err != nil && rctx.Err() == nil {
			e.t.Fatal(err)
		}
		e.clock.Advance(lease + 10*time.Second)
	}
}

// checkExactlyOnce asserts the outcome: every outbox row delivered (except the keys in
// parked), the journal holds each record exactly once with the settled amounts, and the
// HTTP receiver saw each key only ever with the identical payload.
func (e *env) checkExactlyOnce(parked ...string) {
	t := e.t
	t.Helper()
	isParked := map[string]bool{}
	for _, k := range parked {
		isParked[k] = true
	}
	for _, m := range e.outbox("") {
		want := store.OutboxDelivered
		if isParked[m.Key] {
			want = store.OutboxParked
		}
		if m.Status != want {
			t.Errorf("outbox %s: status %s, want %s (last error %q)", m.Key, m.Status, want, m.LastError)
		}
	}
	var rows []store.LedgerRecord
	must(t, e.st.View(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.LedgerRecords(ctx, store.LedgerFilter{MerchantID: "sto_a"})
		return
	}))
	count := map[string]int{}
	for _, row := range rows {
		count[row.IdempotencyKey]++
		want, ok := e.want[row.IdempotencyKey]
		if !ok {
			continue
		}
		payload, _ := want.Encode()
		if row.Payload != string(payload) {
			t.Errorf("%s: journal payload differs from the enqueued one", row.IdempotencyKey)
		}
		wantGross := want.Gross
		if p, ok := e.paid[row.IdempotencyKey]; ok {
			wantGross = p.price
		}
		if row.Gross.Cmp(wantGross) != 0 || row.Net.Cmp(want.Net) != 0 {
			t.Errorf("%s: gross %s net %s, want %s and net %s", row.IdempotencyKey, row.Gross, row.Net, wantGross, want.Net)
		}
	}
	for key := range e.want {
		want := 1
		if isParked[key] {
			want = 0
		}
		if count[key] != want {
			t.Errorf("%s: %d journal records, want %d", key, count[key], want)
		}
	}
	if e.rv == nil {
		return
	}
	for key, bodies := range e.rv.bodies() {
		want, _ := e.want[key].Encode()
		for i, b := range bodies {
			if string(b) != string(want) {
				t.Errorf("%s: post %d carried a different payload:\n%s\nwant\n%s", key, i, b, want)
			}
		}
	}
}

// killer cancels the relay's context right after a successful post of a record it has not
// killed before: the relay "dies" between posting and marking delivered.
type killer struct {
	inner  Sink
	mu     sync.Mutex
	cancel context.CancelFunc
	killed map[string]bool
}

func (k *killer) arm(round int, parent context.Context) context.Context {
	c, cancel := context.WithCancel(parent)
	k.mu.Lock()
	k.cancel = cancel
	k.mu.Unlock()
	return c
}

func (k *killer) Post(ctx context.Context, rec Record) (Result, error) {
	res, err := k.inner.Post(ctx, rec)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil && !k.killed[rec.IdempotencyKey] {
		k.killed[rec.IdempotencyKey] = true
		k.cancel()
	}
	return res, err
}

// perKey counts calls per key.
type perKey struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *perKey) next(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[key]++
	return p.n[key]
}

func TestExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	const n = 12
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("JournalKilledBetweenPostAndMark", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n)
				k := &killer{inner: e.order, killed: map[string]bool{}}
				e.drain(k, k.arm)
				if len(k.killed) != len(e.want) {
					t.Fatalf("killed after %d posts, want %d", len(k.killed), len(e.want))
				}
				e.checkExactlyOnce()
			})
			t.Run("HTTPKilledBetweenPostAndMark", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n).withHTTP(5 * time.Second)
				k := &killer{inner: e.http, killed: map[string]bool{}}
				e.drain(k, k.arm)
				e.checkExactlyOnce()
				for key, bodies := range e.rv.bodies() {
					if len(bodies) != 2 {
						t.Errorf("%s posted %d times, want 2 (killed once, then replayed)", key, len(bodies))
					}
				}
			})
			t.Run("HTTPFailsThenRecovers", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n).withHTTP(5 * time.Second)
				var calls perKey
				e.rv.failing = func(_ int, key string) int {
					switch calls.next(key) {
					case 1:
						return 500
					case 2:
						return -1 // connection dropped
					case 3:
						return 502
					}
					return 0
				}
				e.drain(e.sink(), nil)
				e.checkExactlyOnce()
				// Three failures, then success. net/http itself resends a request carrying an
				// Idempotency-Key when a reused connection drops before any response, so one
				// relay attempt may reach the receiver twice: posts ≥ attempts.
				bodies := e.rv.bodies()
				for _, m := range e.outbox(store.OutboxDelivered) {
					if posts := len(bodies[m.Key]); posts != 4 || m.Attempts < 3 || m.Attempts > posts {
						t.Errorf("%s: %d posts, %d attempts; want 4 posts in 3 or 4 attempts", m.Key, posts, m.Attempts)
					}
				}
			})
			t.Run("HTTPTimesOutAfterCommitting", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n).withHTTP(300 * time.Millisecond)
				var calls perKey
				e.rv.hang = func(_ int, key string) bool { return calls.next(key) == 1 }
				e.drain(e.sink(), nil)
				e.checkExactlyOnce()
				for key, bodies := range e.rv.bodies() {
					// At least twice: timed out after the commit, then 409 already exists (a
					// slow database may add a timeout).
					if len(bodies) < 2 {
						t.Errorf("%s posted %d times, want at least 2", key, len(bodies))
					}
				}
			})
			t.Run("HTTP500ForAWhile", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n).withHTTP(5 * time.Second)
				var down atomic.Bool
				down.Store(true)
				e.rv.failing = func(int, string) int {
					if down.Load() {
						return 503
					}
					return 0
				}
				var backoffs []time.Duration
				e.drain(e.sink(), func(round int, c context.Context) context.Context {
					if round == 6 {
						// Retries back off exponentially while the ledger is down (the first
						// record of each payment; later ones wait for it).
						for _, m := range e.outbox(store.OutboxPending) {
							if _, first := e.paid[m.Key]; first {
								backoffs = append(backoffs, m.NextAttempt.Sub(e.clock.Now()))
							}
						}
						down.Store(false)
					}
					return c
				})
				e.checkExactlyOnce()
				if len(backoffs) != n {
					t.Fatalf("%d pending while down, want %d", len(backoffs), n)
				}
				for _, m := range e.outbox(store.OutboxDelivered) {
					if _, first := e.paid[m.Key]; !first {
						continue
					}
					if m.Attempts != 7 || !strings.Contains(m.LastError, "503") {
						t.Errorf("%s: attempts %d, last error %q", m.Key, m.Attempts, m.LastError)
					}
				}
			})
			t.Run("ConflictParksUntilRetried", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, b, n).withHTTP(5 * time.Second)
				// The victim heads a payment's chain: its reversal and second settlement
				// wait behind it while it is parked.
				victim := SettlementKey(fixture(t, "sto_a", n)[1].pay.ID)
				held := []string{ReversalKey(victim), SettlementKeyRound(fixture(t, "sto_a", n)[1].pay.ID, 3)}
				var conflicted atomic.Bool
				conflicted.Store(true)
				e.rv.failing = func(_ int, key string) int {
					if key == victim && conflicted.Load() {
						return 409 // the merchant's ledger holds another record under this key
					}
					return 0
				}
				// A payload that is not a record is parked as invalid.
				must(t, e.st.Tx(ctx, func(tx store.Tx) error {
					return tx.Enqueue(ctx, store.OutboxMessage{ID: "obx_bad", Topic: Topic, Key: "bad", Payload: `{"gross":1}`,
						NextAttempt: t0, CreatedAt: t0})
				}))
				for round := range 20 {
					_, err := e.relay(e.sink(), fmt.Sprintf("relay-%d", round)).RunOnce(ctx)
					must(t, err)
					e.clock.Advance(lease + 10*time.Second)
				}
				pending := e.outbox(store.OutboxPending)
				if len(pending) != len(held) || pending[0].Attempts != 0 || pending[1].Attempts != 0 {
					t.Fatalf("pending %+v, want only the victim's later records, never attempted", pending)
				}
				r := e.relay(e.sink(), "operator")
				parked, err := r.Parked(ctx)
				must(t, err)
				if len(parked) != 2 {
					t.Fatalf("parked %+v, want the conflict and the invalid payload", parked)
				}
				for _, m := range parked {
					want := ErrConflict.Error()
					if m.Key == "bad" {
						want = ErrInvalid.Error()
					}
					if !strings.Contains(m.LastError, want) {
						t.Errorf("%s parked with %q, want %q", m.Key, m.LastError, want)
					}
				}
				// Parked rows are not retried on their own.
				e.clock.Advance(24 * time.Hour)
				if got, _ := r.RunOnce(ctx); got != 0 {
					t.Fatalf("a relay claimed %d parked rows", got)
				}
				// The merchant fixes their ledger; the operator retries the conflict.
				conflicted.Store(false)
				for _, m := range parked {
					if m.Key == victim {
						must(t, r.Retry(ctx, m.ID))
					}
				}
				if err := r.Retry(ctx, "obx_missing"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("retry of an unknown id: got %v", err)
				}
				e.drain(e.sink(), nil)
				delete(e.want, "bad")
				e.checkExactlyOnce("bad")
			})
		})
	}
}

// TestTwoRelaysShareTheOutbox runs two relays at once against one database: claims never
// overlap, so with no faults every record is posted exactly once.
func TestTwoRelaysShareTheOutbox(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b, 60).withHTTP(5 * time.Second)
			var relays []*Relay
			for i := range 2 {
				r, err := NewRelay(e.st, e.http, RelayConfig{Holder: fmt.Sprintf("replica-%d", i), BatchSize: 3,
					PollInterval: 2 * time.Millisecond, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				must(t, err)
				r.Start(ctx)
				relays = append(relays, r)
			}
			deadline := time.Now().Add(60 * time.Second)
			for len(e.outbox(store.OutboxDelivered)) < len(e.want) {
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d delivered", len(e.outbox(store.OutboxDelivered)), len(e.want))
				}
				time.Sleep(10 * time.Millisecond) // bounded polling
			}
			for _, r := range relays {
				r.Stop()
			}
			e.checkExactlyOnce()
			for key, bodies := range e.rv.bodies() {
				if len(bodies) != 1 {
					t.Errorf("%s posted %d times by two relays, want exactly 1", key, len(bodies))
				}
			}
			if len(e.rv.bodies()) != len(e.want) {
				t.Fatalf("receiver saw %d keys, want %d", len(e.rv.bodies()), len(e.want))
			}
		})
	}
}

func TestRelayLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite}, 3)
	r := e.relay(e.j, "solo")
	r.Stop() // before Start: nothing to stop
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.Start(cctx)
	r.Start(cctx) // already running: no second loop
	r.Wake()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.outbox(store.OutboxDelivered)) < len(e.want) {
		if time.Now().After(deadline) {
			t.Fatal("not delivered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.Stop()
	r.Stop()
	// Restartable after Stop; a cancelled parent context ends the loop too.
	r.Start(cctx)
	cancel()
	r.Stop()
	e.checkExactlyOnce()
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	r, err := NewRelay(storetest.SQLite(t), NewJournal(nil, nil), RelayConfig{MinBackoff: time.Second, MaxBackoff: 40 * time.Second,
		Jitter: func(d time.Duration) time.Duration { return d - 1 }})
	must(t, err)
	for _, c := range []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{6, 20 * time.Second, 40 * time.Second}, // capped
		{60, 20 * time.Second, 40 * time.Second},
	} {
		got := r.backoff(c.attempt)
		if got < c.lo || got >= c.hi {
			t.Errorf("attempt %d: %s outside [%s, %s)", c.attempt, got, c.lo, c.hi)
		}
	}
	r.cfg.Jitter = func(time.Duration) time.Duration { return 0 }
	if got := r.backoff(3); got != 2*time.Second {
		t.Errorf("no jitter: %s, want half of 4s", got)
	}
	if _, err := NewRelay(storetest.SQLite(t), NewJournal(nil, nil), RelayConfig{MinBackoff: time.Hour, MaxBackoff: time.Second}); err == nil {
		t.Error("MaxBackoff < MinBackoff accepted")
	}
}
