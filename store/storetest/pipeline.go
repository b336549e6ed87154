package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/chainpay/chainpay/store"
)

// pipelineTests cover what invoice creation relies on to run without a per-store lock and
// in few round trips: index reservations, the idempotency record written once with its
// response, the merchant read with its wallets, and writes deferred to the commit.
func pipelineTests() []namedTest {
	return []namedTest{
		{"ReserveIndexesDisjoint", testReserveIndexes},
		{"ReturnIndexesOnlyTheTail", testReturnIndexes},
		{"PutIdempotencyKeyOnce", testPutIdempotencyKey},
		{"MerchantWallets", testMerchantWallets},
		{"MerchantConfigVersion", testMerchantConfigVersion},
		{"DeferredWriteErrors", testDeferredWrites},
	}
}

// testReserveIndexes: concurrent reservations (each its own transaction, as separate
// processes or replicas make them) never overlap, and a reservation whose holder vanished
// (a crash) is never handed out again: the next one starts after it.
func testReserveIndexes(t *testing.T, s store.Store) {
	_, wid := seed(t, s, "r")
	const n = 24
	var (
		mu     sync.Mutex
		ranges [][2]uint32
		wg     sync.WaitGroup
	)
	for i := range n {
		size := uint32(i%5 + 1)
		wg.Go(func() {
			var first uint32
			err := s.Tx(ctx, func(x store.Tx) (err error) { first, err = x.ReserveIndexes(ctx, wid, size); return })
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ranges = append(ranges, [2]uint32{first, first + size})
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	next := uint32(0)
	for _, r := range ranges {
		if r[0] != next {
			t.Fatalf("reservations overlap or leave holes: %v", ranges)
		}
		next = r[1]
	}
	// The holder of the last range crashed: its indexes are lost, never reused.
	var first uint32
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { first, err = x.ReserveIndexes(ctx, wid, 1); return }))
	if first != next {
		t.Fatalf("after a lost reservation the next index is %d, want %d", first, next)
	}
	// A rolled-back reservation reserves nothing.
	boom := errors.New("boom")
	err := s.Tx(ctx, func(x store.Tx) error {
		if _, err := x.ReserveIndexes(ctx, wid, 7); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { first, err = x.ReserveIndexes(ctx, wid, 1); return }))
	if first != next+1 {
		t.Fatalf("after a rolled-back reservation the next index is %d, want %d", first, next+1)
	}
	err = s.Tx(ctx, func(x store.Tx) error { _, err := x.ReserveIndexes(ctx, "wal_missing", 1); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown wallet: %v", err)
	}
}

// testReturnIndexes: an unused tail goes back only while nothing was reserved after it.
func testReturnIndexes(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "ret")
	reserve := func(n uint32) uint32 {
		var first uint32
		must(t, s.Tx(ctx, func(x store.Tx) (err error) { first, err = x.ReserveIndexes(ctx, wid, n); return }))
		return first
	}
	give := func(from, end uint32) bool {
		var ok bool
		must(t, s.Tx(ctx, func(x store.Tx) (err error) { ok, err = x.ReturnIndexes(ctx, wid, from, end); return }))
		return ok
	}
	a := reserve(10) // [0, 10): 0..3 used
	if !give(a+4, a+10) {
		t.Fatal("the tail of the latest reservation was not taken back")
	}
	b := reserve(10) // [4, 14)
	if b != 4 {
		t.Fatalf("next reservation starts at %d, want 4", b)
	}
	c := reserve(5) // [14, 19)
	if give(b+2, b+10) {
		t.Fatal("a tail with a reservation after it was taken back: its indexes would be handed out twice")
	}
	if !give(c, c+5) || reserve(1) != c {
		t.Fatal("the whole latest reservation was not taken back")
	}
	var ws []store.Wallet
	must(t, s.View(ctx, func(x store.Tx) (err error) { ws, err = x.Wallets(ctx, mid); return }))
	if ws[0].NextIndex != c+1 {
		t.Fatalf("next index %d, want %d", ws[0].NextIndex, c+1)
	}
}

// testPutIdempotencyKey: of concurrent transactions writing an invoice and the same key,
// exactly one commits; the others fail with ErrConflict and leave nothing behind.
func testPutIdempotencyKey(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "pk")
	const n = 12
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won       []string
		conflicts int
	)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("inv_pk%02d", i)
			err := s.Tx(ctx, func(x store.Tx) error {
				if err := x.CreateInvoice(ctx, invoice(id, mid, t0)); err != nil {
					return err
				}
				return x.PutIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: mid, Key: "k", RequestHash: []byte("h"),
					ResponseStatus: 201, ResponseBody: []byte(id), CreatedAt: t0})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, id)
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 || conflicts != n-1 {
		t.Fatalf("%d commits (%v), %d conflicts; want 1 and %d", len(won), won, conflicts, n-1)
	}
	var rec store.IdempotencyRecord
	must(t, s.View(ctx, func(x store.Tx) (err error) { rec, err = x.IdempotencyKey(ctx, mid, "k"); return }))
	if string(rec.ResponseBody) != won[0] || rec.ResponseStatus != 201 || string(rec.RequestHash) != "h" {
		t.Fatalf("record %+v, want the winner's response %s", rec, won[0])
	}
	var invs []store.Invoice
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		invs, err = x.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, Limit: 100})
		return
	}))
	if len(invs) != 1 || invs[0].ID != won[0] {
		t.Fatalf("invoices %v, want only the winner's", ids(invs))
	}
	err := s.View(ctx, func(x store.Tx) error { _, err := x.IdempotencyKey(ctx, mid, "other"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}

func testMerchantWallets(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "mw")
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: "sto_bare", Name: "bare", CreatedAt: t0}); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: "wal_mweth", MerchantID: mid, Chain: "ethereum", Network: "1",
			Treasury: "0xabc", Tokens: []string{"USDC", "USDT"}, CreatedAt: t0})
	})
	var (
		m  store.Merchant
		ws []store.Wallet
		wl []store.Wallet
	)
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		if m, ws, err = x.MerchantWallets(ctx, mid); err != nil {
			return err
		}
		wl, err = x.Wallets(ctx, mid)
		return err
	}))
	if m.ID != mid || m.Settings != "{}" || len(ws) != 2 || ws[0].ID != wid || fmt.Sprint(ws) != fmt.Sprint(wl) {
		t.Fatalf("merchant %+v wallets %+v, want the merchant and %+v", m, ws, wl)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { m, ws, err = x.MerchantWallets(ctx, "sto_bare"); return }))
	if m.ID != "sto_bare" || len(ws) != 0 {
		t.Fatalf("bare merchant %+v wallets %+v", m, ws)
	}
	err := s.View(ctx, func(x store.Tx) error { _, _, err := x.MerchantWallets(ctx, "sto_missing"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown merchant: %v", err)
	}
}

// testDeferredWrites: an insert that fails fails its transaction, whether its error comes
// at once, with a later statement or with the commit, and nothing of that transaction stays.
func testDeferredWrites(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "dw")
	tx(t, s, func(x store.Tx) error { return x.CreateInvoice(ctx, invoice("inv_dw", mid, t0)) })
	// The duplicate is the last write: its error comes at the latest with the commit.
	err := s.Tx(ctx, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_dw2", mid, t0)); err != nil {
			return err
		}
		return x.CreateInvoice(ctx, invoice("inv_dw", mid, t0))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate invoice: got %v, want ErrConflict", err)
	}
	// A read after the duplicate reports it (or the insert did).
	readErr := store.ErrConflict // stays when the insert itself reports the conflict
	err = s.Tx(ctx, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_dw", mid, t0)); err != nil {
			return err
		}
		_, readErr = x.GetInvoice(ctx, mid, "inv_dw")
		return readErr
	})
	if !errors.Is(err, store.ErrConflict) || !errors.Is(readErr, store.ErrConflict) {
		t.Fatalf("duplicate then read: got %v (read %v), want ErrConflict", err, readErr)
	}
	err = s.View(ctx, func(x store.Tx) error { _, err := x.GetInvoice(ctx, mid, "inv_dw2"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed transaction's other invoice exists: %v", err)
	}
	// Writes then reads in one transaction see each other.
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_dw3", mid, t0)); err != nil {
			return err
		}
		if err := x.AppendEvent(ctx, store.Event{ID: "evt_dw3", MerchantID: mid, InvoiceID: "inv_dw3", Type: "invoice.created",
			Data: "{}", CreatedAt: t0}); err != nil {
			return err
		}
		evs, err := x.Events(ctx, "inv_dw3")
		if err != nil || len(evs) != 1 {
			return fmt.Errorf("events of a write in the same transaction: %v %v", evs, err)
		}
		return nil
	})
}

// testMerchantConfigVersion: a store's configuration version changes with its settings, its
// wallets and its set of webhook endpoints, and with nothing else an invoice creation does
// (allocating indexes); a transaction guarded with an older version fails with
// ErrConfigChanged, whether the guard's error comes at once or with the commit, and none of
// its writes stay.
func testMerchantConfigVersion(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "cv")
	version := func() int64 {
		t.Helper()
		var m store.Merchant
		must(t, s.View(ctx, func(x store.Tx) (err error) { m, _, err = x.MerchantWallets(ctx, mid); return }))
		return m.ConfigVersion
	}
	step := func(what string, changes bool, fn func(x store.Tx) error) {
		t.Helper()
		before := version()
		tx(t, s, fn)
		if after := version(); (after != before) != changes {
			t.Fatalf("%s: config version %d -> %d, want a change: %v", what, before, after, changes)
		}
	}
	step("reserve indexes", false, func(x store.Tx) error { _, err := x.ReserveIndexes(ctx, wid, 5); return err })
	step("allocate an index", false, func(x store.Tx) error { _, err := x.AllocateIndex(ctx, wid); return err })
	step("the same settings again", false, func(x store.Tx) error { return x.SetMerchantSettings(ctx, mid, "{}") })
	step("new settings", true, func(x store.Tx) error { return x.SetMerchantSettings(ctx, mid, `{"max_amount":{"USD":"1.00"}}`) })
	step("a wallet added", true, func(x store.Tx) error {
		return x.CreateWallet(ctx, store.Wallet{ID: "wal_cveth", MerchantID: mid, Chain: "ethereum", Network: "1",
			Treasury: "0xabc", CreatedAt: t0})
	})
	ep := webhookEndpoint("whe_cv", mid, t0)
	step("a webhook endpoint added", true, func(x store.Tx) error { return x.CreateWebhookEndpoint(ctx, ep) })
	ep.Enabled, ep.Description = false, "paused"
	step("a webhook endpoint disabled", false, func(x store.Tx) error { return x.UpdateWebhookEndpoint(ctx, ep) })
	step("a webhook endpoint deleted", true, func(x store.Tx) error { return x.DeleteWebhookEndpoint(ctx, mid, ep.ID) })
	other, _ := seed(t, s, "cvother")
	step("another store's settings", false, func(x store.Tx) error { return x.SetMerchantSettings(ctx, other, `{"a":1}`) })

	now := version()
	tx(t, s, func(x store.Tx) error {
		if err := x.GuardMerchantConfig(ctx, mid, now); err != nil {
			return err
		}
		return x.CreateInvoice(ctx, invoice("inv_cvok", mid, t0))
	})
	for _, stale := range []int64{now - 1, now + 1} {
		id := fmt.Sprintf("inv_cvstale%d", stale)
		err := s.Tx(ctx, func(x store.Tx) error {
			if err := x.GuardMerchantConfig(ctx, mid, stale); err != nil {
				return err
			}
			return x.CreateInvoice(ctx, invoice(id, mid, t0))
		})
		if !errors.Is(err, store.ErrConfigChanged) {
			t.Fatalf("guarded with version %d at %d: %v, want ErrConfigChanged", stale, now, err)
		}
		err = s.View(ctx, func(x store.Tx) error { _, err := x.GetInvoice(ctx, mid, id); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the stale transaction's invoice: %v, want ErrNotFound", err)
		}
	}
	err := s.Tx(ctx, func(x store.Tx) error { return x.GuardMerchantConfig(ctx, "sto_cvmissing", 0) })
	if !errors.Is(err, store.ErrConfigChanged) {
		t.Fatalf("guard of an unknown store: %v, want ErrConfigChanged", err)
	}
	must(t, s.View(ctx, func(x store.Tx) error { _, err := x.GetInvoice(ctx, mid, "inv_cvok"); return err }))
}
