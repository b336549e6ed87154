package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// heartbeatTests check the lease heartbeats: a holder moves its own leases forward, never
// another holder's, and a moved lease keeps the claim from other holders.
func heartbeatTests() []namedTest {
	return []namedTest{
		{"OutboxLeaseHeartbeat", testOutboxHeartbeat},
		{"WebhookLeaseHeartbeat", testWebhookHeartbeat},
	}
}

func testOutboxHeartbeat(t *testing.T, s store.Store) {
	tx(t, s, func(x store.Tx) error {
		for i := range 3 {
			if err := x.Enqueue(ctx, store.OutboxMessage{ID: fmt.Sprintf("obx_hb%d", i), Topic: "ledger",
				Key: fmt.Sprintf("hb%d", i), Payload: "{}", NextAttempt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	lease := 10 * time.Second
	var got []store.OutboxMessage
	must(t, s.Tx(ctx, func(x store.Tx) (err error) {
		got, err = x.ClaimDue(ctx, "ledger", "r1", t0, t0.Add(lease), 10)
		return
	}))
	if len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	tx(t, s, func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_hb0", "r1", t0) })
	extend := func(holder string, until time.Time) int {
		var n int
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			n, err = x.ExtendOutboxLeases(ctx, holder, []string{"obx_hb0", "obx_hb1", "obx_hb2", "obx_none"}, until)
			return
		}))
		return n
	}
	if n := extend("intruder", t0.Add(time.Hour)); n != 0 {
		t.Fatalf("another holder moved %d leases", n)
	}
	// r1 beats at t0+8s: its two pending messages stay leased past the first lease's end.
	if n := extend("r1", t0.Add(8*time.Second+lease)); n != 2 {
		t.Fatalf("heartbeat moved %d leases, want the 2 pending ones", n)
	}
	claim := func(holder string, at time.Time) []store.OutboxMessage {
		var out []store.OutboxMessage
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			out, err = x.ClaimDue(ctx, "ledger", holder, at, at.Add(lease), 10)
			return
		}))
		return out
	}
	if again := claim("r2", t0.Add(15*time.Second)); len(again) != 0 {
		t.Fatalf("r2 claimed %d messages whose lease was renewed", len(again))
	}
	// r1 dies: one lease after its last heartbeat the messages are free.
	if again := claim("r2", t0.Add(19*time.Second)); len(again) != 2 {
		t.Fatalf("r2 claimed %d messages after the renewed lease ended, want 2", len(again))
	}
	if n := extend("r1", t0.Add(time.Hour)); n != 0 {
		t.Fatalf("the dead holder moved %d leases it no longer holds", n)
	}
	if err := s.Tx(ctx, func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_hb1", "r1", t0) }); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("old holder finishing: %v, want ErrLeaseLost", err)
	}
}

func testWebhookHeartbeat(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "whb")
	ep := webhookEndpoint("we_hb", mid, t0)
	tx(t, s, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, ep) })
	fanOut(t, s, webhookEvents(t, s, mid, "inv_whb", 1), ep)
	lease := 10 * time.Second
	now := t0.Add(time.Second)
	claim := func(holder string, at time.Time) (store.WebhookDelivery, error) {
		var d store.WebhookDelivery
		err := s.Tx(ctx, func(x store.Tx) (err error) {
			d, err = x.ClaimWebhookDelivery(ctx, ep.ID, holder, at, at.Add(lease))
			return
		})
		return d, err
	}
	d, err := claim("w1", now)
	must(t, err)
	extend := func(holder string, until time.Time) bool {
		var ok bool
		must(t, s.Tx(ctx, func(x store.Tx) (err error) { ok, err = x.ExtendWebhookLease(ctx, d.ID, holder, until); return }))
		return ok
	}
	if extend("intruder", now.Add(time.Hour)) {
		t.Fatal("another holder moved the lease")
	}
	if !extend("w1", now.Add(8*time.Second+lease)) {
		t.Fatal("the holder could not move its lease")
	}
	if _, err := claim("w2", now.Add(15*time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim while the renewed lease runs: %v, want ErrNotFound", err)
	}
	d2, err := claim("w2", now.Add(19*time.Second))
	if err != nil || d2.ID != d.ID {
		t.Fatalf("claim after the renewed lease ended: %+v, %v", d2, err)
	}
	if extend("w1", now.Add(time.Hour)) {
		t.Fatal("the old holder moved a lease it no longer holds")
	}
}
