package ledger

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// gateSink holds every Post until its context ends, telling entered about each.
type gateSink struct{ entered chan string }

func (g gateSink) Post(ctx context.Context, rec Record) (Result, error) {
	g.entered <- rec.IdempotencyKey
	<-ctx.Done()
	return Result{}, ctx.Err()
}

// TestRelayLeaseHeartbeat: a relay's claim is short and renewed while its batch is in
// flight, so a slow sink keeps its records (no second relay posts them meanwhile), and a
// relay that dies mid-batch frees them one lease after its last renewal, not minutes later.
func TestRelayLeaseHeartbeat(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			const leaseTTL = 300 * time.Millisecond
			e := newEnv(t, b, 3)
			mk := func(holder string, sink Sink) *Relay {
				r, err := NewRelay(e.st, sink, RelayConfig{Holder: holder, Lease: leaseTTL, PostTimeout: time.Hour,
					Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				must(t, err)
				return r
			}
			slow := gateSink{entered: make(chan string, 3)}
			r1ctx, kill := context.WithCancel(ctx)
			defer kill()
			r1done := make(chan int)
			go func() {
				n, _ := mk("r1", slow).RunOnce(r1ctx)
				r1done <- n
			}()
			<-slow.entered // r1 holds the batch and is posting its first record

			leaseEnd := func() time.Time { // the latest lease end of the pending records
				var end time.Time
				for _, m := range e.outbox(store.OutboxPending) {
					if m.LeaseUntil != nil && m.LeaseUntil.After(end) {
						end = *m.LeaseUntil
					}
				}
				return end
			}
			first := leaseEnd()
			if got := first.Sub(e.clock.Now()); got != leaseTTL {
				t.Fatalf("claimed for %s, want the lease TTL %s", got, leaseTTL)
			}
			// The clock moves past the first lease; the heartbeat renews it meanwhile.
			e.clock.Advance(leaseTTL * 2 / 3)
			deadline := time.Now().Add(10 * time.Second)
			for !leaseEnd().After(first) {
				if time.Now().After(deadline) {
					t.Fatal("the lease of a batch in flight was never renewed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			e.clock.Advance(leaseTTL * 2 / 3)
			r2 := mk("r2", e.sink())
			if n, err := r2.RunOnce(ctx); err != nil || n != 0 {
				t.Fatalf("second relay claimed %d records (%v) of a live relay whose first lease ran out", n, err)
			}
			// r1 dies: its heartbeat stops and nothing finishes its records.
			kill()
			if n := <-r1done; n != 3 {
				t.Fatalf("r1 claimed %d records, want 3", n)
			}
			end := leaseEnd()
			if d := end.Sub(e.clock.Now()); d > leaseTTL {
				t.Fatalf("a dead relay's records stay leased for %s, more than one lease %s", d, leaseTTL)
			}
			e.clock.Advance(end.Sub(e.clock.Now()) + time.Millisecond)
			// Postgres may still hold the row locks of r1's cancelled last transaction for a
			// moment (claims skip locked rows), so the takeover is polled, in real time only.
			// A round that comes after part of r1's records were delivered may also claim a
			// record ordered after them (a reversal, a later round), so what is checked is that
			// r1's three records are delivered, not the number of records claimed.
			held := map[string]bool{}
			for _, m := range e.outbox(store.OutboxPending) {
				if m.LeaseHolder == "r1" {
					held[m.ID] = true
				}
			}
			if len(held) != 3 {
				t.Fatalf("r1 holds %d pending records, want 3", len(held))
			}
			stillHeld := func() int {
				n := 0
				for _, m := range e.outbox(store.OutboxPending) {
					if held[m.ID] {
						n++
					}
				}
				return n
			}
			claimed := 0
			for deadline := time.Now().Add(10 * time.Second); stillHeld() > 0 && time.Now().Before(deadline); {
				n, err := r2.RunOnce(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if claimed += n; n == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if left := stillHeld(); left > 0 || claimed < 3 {
				t.Fatalf("one lease after the relay died, %d of r1's 3 records are still pending (the second relay claimed %d)", left, claimed)
			}
			e.drain(e.sink(), nil) // the records ordered after these (reversals, later rounds)
			e.checkExactlyOnce()
		})
	}
}
