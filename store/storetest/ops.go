package storetest

import (
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// opsTests are the conformance tests of store.OpsTx.
func opsTests() []namedTest {
	return []namedTest{
		{"OpsEmpty", testOpsEmpty},
		{"OpsInvoicesAndPayments", testOpsInvoicesPayments},
		{"OpsOutboxBacklog", testOpsOutbox},
		{"OpsWebhookBacklog", testOpsWebhooks},
		{"OpsCursorsLeasesWallets", testOpsCursorsLeases},
	}
}

// testOpsEmpty: an empty database answers with empty figures, not errors.
func testOpsEmpty(t *testing.T, s store.Store) {
	must(t, s.View(ctx, func(x store.Tx) error {
		inv, err := x.InvoiceCounts(ctx)
		if err != nil || len(inv) != 0 {
			return fmt.Errorf("invoice counts %v, %v", inv, err)
		}
		pc, err := x.PaymentCounts(ctx)
		if err != nil || len(pc) != 0 {
			return fmt.Errorf("payment counts %v, %v", pc, err)
		}
		ac, err := x.AwaitingConfirmation(ctx)
		if err != nil || len(ac) != 0 {
			return fmt.Errorf("awaiting confirmation %v, %v", ac, err)
		}
		ob, err := x.OutboxBacklog(ctx)
		if err != nil || len(ob) != 0 {
			return fmt.Errorf("outbox backlog %v, %v", ob, err)
		}
		wb, err := x.WebhookBacklog(ctx, store.FeedPos{})
		if want := (store.WebhookBacklog{Deliveries: store.Backlog{Name: "webhooks"}}); err != nil || !reflect.DeepEqual(wb, want) {
			return fmt.Errorf("webhook backlog %+v, %v", wb, err)
		}
		cs, err := x.Cursors(ctx)
		if err != nil || len(cs) != 0 {
			return fmt.Errorf("cursors %v, %v", cs, err)
		}
		ls, err := x.Leases(ctx)
		if err != nil || len(ls) != 0 {
			return fmt.Errorf("leases %v, %v", ls, err)
		}
		wc, err := x.WalletCounts(ctx)
		if err != nil || len(wc) != 0 {
			return fmt.Errorf("wallet counts %v, %v", wc, err)
		}
		return nil
	}))
}

func testOpsInvoicesPayments(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "ops")
	statuses := []string{store.StatusNew, store.StatusNew, store.StatusProcessing, store.StatusProcessing,
		store.StatusSettled, store.StatusExpired}
	tx(t, s, func(x store.Tx) error {
		for i, st := range statuses {
			inv := invoice(fmt.Sprintf("inv_%d", i), mid, t0)
			inv.Status = st
			if err := x.CreateInvoice(ctx, inv); err != nil {
				return err
			}
			if err := x.CreatePaymentOption(ctx, option(fmt.Sprintf("opt_%d", i), inv.ID, wid, fmt.Sprintf("bcrt1q%d", i), uint32(i))); err != nil {
				return err
			}
		}
		pay := func(n int, inv int, status string, seen time.Time) error {
			_, err := x.UpsertPayment(ctx, store.Payment{ID: fmt.Sprintf("pay_%d", n), InvoiceID: fmt.Sprintf("inv_%d", inv),
				OptionID: fmt.Sprintf("opt_%d", inv), Chain: "bitcoin", TxID: fmt.Sprintf("tx%d", n), OutputIndex: 0,
				Address: fmt.Sprintf("bcrt1q%d", inv), Asset: "BTC", Amount: big.NewInt(1000), Status: status,
				SeenAt: seen, UpdatedAt: seen})
			return err
		}
		for i, p := range []struct {
			inv    int
			status string
			seen   time.Time
		}{
			{0, store.PaymentMempool, t0},                       // a partial payment of a new invoice
			{2, store.PaymentMempool, t0.Add(2 * time.Minute)},  // processing: waits
			{2, store.PaymentRemoved, t0},                       // removed: does not wait
			{3, store.PaymentConfirmed, t0.Add(time.Minute)},    // processing: waits, oldest
			{4, store.PaymentConfirmed, t0.Add(-time.Hour)},     // settled: done
			{5, store.PaymentConfirmed, t0.Add(-2 * time.Hour)}, // expired (late): not processing
		} {
			if err := pay(i, p.inv, p.status, p.seen); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, s.View(ctx, func(x store.Tx) error {
		inv, err := x.InvoiceCounts(ctx)
		if err != nil {
			return err
		}
		if want := map[string]int64{"new": 2, "processing": 2, "settled": 1, "expired": 1}; !reflect.DeepEqual(inv, want) {
			return fmt.Errorf("invoice counts %v, want %v", inv, want)
		}
		pc, err := x.PaymentCounts(ctx)
		if err != nil {
			return err
		}
		want := []store.PaymentCount{{Chain: "bitcoin", Asset: "BTC", Status: "confirmed", Count: 3},
			{Chain: "bitcoin", Asset: "BTC", Status: "mempool", Count: 2}, {Chain: "bitcoin", Asset: "BTC", Status: "removed", Count: 1}}
		if !reflect.DeepEqual(pc, want) {
			return fmt.Errorf("payment counts %+v, want %+v", pc, want)
		}
		ac, err := x.AwaitingConfirmation(ctx)
		if err != nil {
			return err
		}
		if len(ac) != 1 || ac[0].Name != "bitcoin" || ac[0].Pending != 2 || ac[0].Oldest == nil || !ac[0].Oldest.Equal(t0.Add(time.Minute)) {
			return fmt.Errorf("awaiting confirmation %+v: want bitcoin, 2 payments, oldest seen %s", ac, t0.Add(time.Minute))
		}
		return nil
	}))
}

func testOpsOutbox(t *testing.T, s store.Store) {
	tx(t, s, func(x store.Tx) error {
		for i, m := range []struct {
			topic   string
			created time.Time
		}{
			{"ledger", t0.Add(3 * time.Minute)},
			{"ledger", t0.Add(time.Minute)}, // oldest pending
			{"ledger", t0},                  // delivered below: not backlog
			{"ledger", t0.Add(-time.Hour)},  // parked below: not pending
			{"other", t0.Add(5 * time.Minute)},
		} {
			if err := x.Enqueue(ctx, store.OutboxMessage{ID: fmt.Sprintf("obx_%d", i), Topic: m.topic, Key: fmt.Sprint(i),
				Payload: "{}", NextAttempt: m.created.Add(time.Hour), CreatedAt: m.created}); err != nil {
				return err
			}
		}
		if err := x.MarkDelivered(ctx, "obx_2", "", t0); err != nil { // never claimed: no holder
			return err
		}
		return x.Park(ctx, "obx_3", "", "conflict")
	})
	var got []store.Backlog
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.OutboxBacklog(ctx); return }))
	oldest, other := t0.Add(time.Minute), t0.Add(5*time.Minute)
	want := []store.Backlog{{Name: "ledger", Pending: 2, Parked: 1, Oldest: &oldest}, {Name: "other", Pending: 1, Oldest: &other}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox backlog %s, want %s", fmtBacklogs(got), fmtBacklogs(want))
	}
	// Only parked messages left: the topic stays visible, with no oldest pending.
	tx(t, s, func(x store.Tx) error {
		for _, id := range []string{"obx_0", "obx_1", "obx_4"} {
			if err := x.MarkDelivered(ctx, id, "", t0); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.OutboxBacklog(ctx); return }))
	if want := []store.Backlog{{Name: "ledger", Parked: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox backlog with only a parked message %s, want %s", fmtBacklogs(got), fmtBacklogs(want))
	}
}

func fmtBacklogs(bs []store.Backlog) string {
	s := "["
	for _, b := range bs {
		o := "nil"
		if b.Oldest != nil {
			o = b.Oldest.Format(time.RFC3339Nano)
		}
		s += fmt.Sprintf("{%s pending %d parked %d oldest %s}", b.Name, b.Pending, b.Parked, o)
	}
	return s + "]"
}

func testOpsWebhooks(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "opsw")
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_w", mid, t0)); err != nil {
			return err
		}
		if err := x.CreateWebhookEndpoint(ctx, webhookEndpoint("we_1", mid, t0)); err != nil {
			return err
		}
		for i := range 5 {
			at := t0.Add(time.Duration(i) * time.Minute)
			if err := x.AppendEvent(ctx, store.Event{ID: fmt.Sprintf("evt_%d", i), MerchantID: mid, InvoiceID: "inv_w",
				Type: "invoice.settled", Data: "{}", CreatedAt: at}); err != nil {
				return err
			}
		}
		// Events 0-2 are fanned out; 0 is delivered, 1 failed, 2 pending.
		for i, status := range []string{store.WebhookDelivered, store.WebhookFailed, store.WebhookPending} {
			at := t0.Add(time.Duration(i) * time.Minute)
			if _, err := x.RecordWebhookEvent(ctx, store.WebhookEvent{EventID: fmt.Sprintf("evt_%d", i), MerchantID: mid,
				Type: "invoice.settled", Payload: "{}", CreatedAt: at, DispatchedAt: at}); err != nil {
				return err
			}
			if _, err := x.CreateWebhookDelivery(ctx, store.WebhookDelivery{ID: fmt.Sprintf("whd_%d", i), MerchantID: mid,
				EndpointID: "we_1", EventID: fmt.Sprintf("evt_%d", i), EventType: "invoice.settled", Status: status,
				NextAttempt: at, RetryUntil: at.Add(72 * time.Hour), CreatedAt: at.Add(time.Second), UpdatedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	var got store.WebhookBacklog
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.WebhookBacklog(ctx, store.FeedPos{}); return }))
	pendingAt, undispatchedAt := t0.Add(2*time.Minute+time.Second), t0.Add(3*time.Minute)
	want := store.WebhookBacklog{Deliveries: store.Backlog{Name: "webhooks", Pending: 1, Parked: 1, Oldest: &pendingAt},
		Undispatched: 2, OldestUndispatched: &undispatchedAt}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("webhook backlog %+v (oldest %v, undispatched %v), want %+v", got, got.Deliveries.Oldest, got.OldestUndispatched, want)
	}
	// Events at or before the dispatcher's position are not counted.
	var feed []store.FeedEvent
	must(t, s.View(ctx, func(x store.Tx) (err error) { feed, _, err = x.EventFeed(ctx, store.FeedPos{}, 10); return }))
	if len(feed) != 2 || feed[0].ID != "evt_3" {
		t.Fatalf("event feed %+v, want evt_3 and evt_4", feed)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.WebhookBacklog(ctx, feed[0].Pos); return }))
	last := t0.Add(4 * time.Minute)
	if got.Undispatched != 1 || got.OldestUndispatched == nil || !got.OldestUndispatched.Equal(last) {
		t.Fatalf("undispatched after %+v: %d, oldest %v", feed[0].Pos, got.Undispatched, got.OldestUndispatched)
	}
}

func testOpsCursorsLeases(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "opsc")
	tx(t, s, func(x store.Tx) error {
		for _, c := range []store.Cursor{
			{Chain: "ethereum", Height: 20, Hash: "e20", ParentHash: "e19", UpdatedAt: t0.Add(time.Second)},
			{Chain: "bitcoin", Height: 7, Hash: "b7", ParentHash: "b6", UpdatedAt: t0},
		} {
			if err := x.SetCursor(ctx, c); err != nil {
				return err
			}
		}
		if _, err := x.AcquireLease(ctx, "follower:bitcoin", "replica-a", t0, t0.Add(15*time.Second)); err != nil {
			return err
		}
		if _, err := x.AcquireLease(ctx, "follower:ethereum", "replica-b", t0, t0.Add(time.Second)); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: "wal_eth", MerchantID: mid, Chain: "ethereum", Network: "1",
			Treasury: "0x00000000000000000000000000000000000000aa", CreatedAt: t0})
	})
	must(t, s.View(ctx, func(x store.Tx) error {
		cs, err := x.Cursors(ctx)
		if err != nil {
			return err
		}
		want := []store.Cursor{
			{Chain: "bitcoin", Height: 7, Hash: "b7", ParentHash: "b6", UpdatedAt: t0},
			{Chain: "ethereum", Height: 20, Hash: "e20", ParentHash: "e19", UpdatedAt: t0.Add(time.Second)},
		}
		if !reflect.DeepEqual(cs, want) {
			return fmt.Errorf("cursors %+v, want %+v", cs, want)
		}
		ls, err := x.Leases(ctx)
		if err != nil {
			return err
		}
		wantL := []store.Lease{{Name: "follower:bitcoin", Holder: "replica-a", ExpiresAt: t0.Add(15 * time.Second)},
			{Name: "follower:ethereum", Holder: "replica-b", ExpiresAt: t0.Add(time.Second)}}
		if !reflect.DeepEqual(ls, wantL) {
			return fmt.Errorf("leases %+v, want %+v", ls, wantL)
		}
		wc, err := x.WalletCounts(ctx)
		if err != nil {
			return err
		}
		wantW := []store.WalletCount{{Chain: "bitcoin", Network: "regtest", Count: 1}, {Chain: "ethereum", Network: "1", Count: 1}}
		if !reflect.DeepEqual(wc, wantW) {
			return fmt.Errorf("wallet counts %+v, want %+v", wc, wantW)
		}
		return nil
	}))
}
