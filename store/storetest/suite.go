package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Run runs the conformance suite against backend b (whose Open returns a fresh, migrated
// store per call) as subtests named after the backend.
func Run(t *testing.T, b Backend) {
	t.Run(b.Name, func(t *testing.T) { run(t, b.Open) })
}

// namedTest is one conformance test.
type namedTest struct {
	name string
	fn   func(*testing.T, store.Store)
}

func run(t *testing.T, open func(testing.TB) store.Store) {
	tests := []namedTest{
		{"MigrateTwice", testMigrateTwice},
		{"Merchant", testMerchant},
		{"APIKey", testAPIKey},
		{"WalletAllocateDense", testWalletAllocate},
		{"InvoiceRoundTrip", testInvoiceRoundTrip},
		{"InvoiceScopedToMerchant", testInvoiceScoped},
		{"InvoiceVersionConflict", testInvoiceVersion},
		{"InvoiceListFilterPaginate", testInvoiceList},
		{"PaymentOptionsUniqueAddress", testPaymentOptions},
		{"PaymentUpsertOnce", testPayments},
		{"PaymentConfirmedOnce", testPaymentConfirmedOnce},
		{"Events", testEvents},
		{"Leases", testLeases},
		{"WatcherQueries", testWatcherQueries},
		{"WatchedAt", testWatchedAt},
		{"ClosingOptions", testClosingOptions},
		{"ReviewByConfirmations", testReviewByConfirmations},
		{"ChainTime", testChainTime},
		{"FeedsCommitOrdered", testFeeds},
		{"EndpointSince", testEndpointSince},
		{"IdempotencyConcurrentClaims", testIdempotency},
		{"CursorAndBlocks", testCursor},
		{"CursorFinalHeight", testCursorFinal},
		{"OutboxClaimNoOverlap", testOutbox},
		{"RollbackOnError", testRollback},
		{"AmountsAreExact", testAmounts},
		{"BadStoredDataIsAnError", testConstraint},
	}
	tests = append(tests, ledgerTests()...)
	tests = append(tests, webhookTests()...)
	tests = append(tests, opsTests()...)
	tests = append(tests, retentionTests()...)
	tests = append(tests, namedTest{"BatchedReads", testBatchedReads})
	tests = append(tests, sweepTests()...)
	tests = append(tests, refundTests()...)
	tests = append(tests, heartbeatTests()...)
	tests = append(tests, pipelineTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tx(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	must(t, s.Tx(ctx, fn))
}

// seed creates a merchant with a bitcoin wallet and returns their ids.
func seed(t *testing.T, s store.Store, name string) (merchantID, walletID string) {
	t.Helper()
	merchantID, walletID = "sto_"+name, "wal_"+name
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: merchantID, Name: name, CreatedAt: t0}); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: walletID, MerchantID: merchantID, Chain: "bitcoin",
			Network: "regtest", Descriptor: "wpkh(tpub" + name + "/0/*)", CreatedAt: t0}) // one wallet per descriptor
	})
	return merchantID, walletID
}

func invoice(id, merchantID string, created time.Time) store.Invoice {
	return store.Invoice{
		ID: id, MerchantID: merchantID, Status: store.StatusNew, Price: big.NewInt(2500), Currency: "USD",
		OrderID: "order-" + id, Metadata: `{"sku":"a"}`, TolerancePercent: "0", ToleranceFloor: big.NewInt(0),
		Confirmations: `{"bitcoin":1}`, ExpiresAt: created.Add(15 * time.Minute),
		MonitorUntil: created.Add(24*time.Hour + 15*time.Minute), CreatedAt: created, UpdatedAt: created,
	}
}

func testMigrateTwice(t *testing.T, s store.Store) {
	must(t, s.Migrate(ctx))
	applied, latest, err := s.MigrationStatus(ctx)
	must(t, err)
	if applied != latest || latest < 1 {
		t.Fatalf("applied %d, latest %d", applied, latest)
	}
}

func testMerchant(t *testing.T, s store.Store) {
	m := store.Merchant{ID: "sto_1", Name: "Coffee & Co", Settings: `{"fee_bps":50}`, CreatedAt: t0}
	tx(t, s, func(x store.Tx) error { return x.CreateMerchant(ctx, m) })
	err := s.Tx(ctx, func(x store.Tx) error { return x.CreateMerchant(ctx, m) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate merchant: got %v, want ErrConflict", err)
	}
	var got store.Merchant
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetMerchant(ctx, "sto_1"); return }))
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	err = s.View(ctx, func(x store.Tx) error { _, err := x.GetMerchant(ctx, "sto_missing"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing merchant: got %v, want ErrNotFound", err)
	}
}

func testAPIKey(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "a")
	k := store.APIKey{ID: "key_1", MerchantID: mid, Prefix: "cp_abc", Hash: []byte{1, 2, 3, 0, 255},
		Permissions: []string{"invoices:read", "invoices:write"}, CreatedAt: t0}
	tx(t, s, func(x store.Tx) error { return x.CreateAPIKey(ctx, k) })
	dup := k
	dup.ID = "key_2"
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateAPIKey(ctx, dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate prefix: got %v, want ErrConflict", err)
	}
	var got store.APIKey
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.APIKeyByPrefix(ctx, "cp_abc"); return }))
	if !reflect.DeepEqual(got, k) {
		t.Fatalf("got %+v, want %+v", got, k)
	}
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tx(t, s, func(x store.Tx) error { return x.RevokeAPIKey(ctx, "key_1", t1) })
	tx(t, s, func(x store.Tx) error { return x.RevokeAPIKey(ctx, "key_1", t2) })
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.APIKeyByPrefix(ctx, "cp_abc"); return }))
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t1) {
		t.Fatalf("revoked at %v, want the first revocation %v", got.RevokedAt, t1)
	}
	if err := s.Tx(ctx, func(x store.Tx) error { return x.RevokeAPIKey(ctx, "key_nope", t1) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke missing key: got %v, want ErrNotFound", err)
	}
}

func testWalletAllocate(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "w")
	err := s.Tx(ctx, func(x store.Tx) error {
		return x.CreateWallet(ctx, store.Wallet{ID: "wal_other", MerchantID: mid, Chain: "bitcoin", Network: "regtest", CreatedAt: t0})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second bitcoin wallet: got %v, want ErrConflict", err)
	}
	// A rolled-back allocation gives its index back.
	errRollback := errors.New("rollback")
	err = s.Tx(ctx, func(x store.Tx) error {
		if _, err := x.AllocateIndex(ctx, wid); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	const n = 40
	var (
		mu  sync.Mutex
		got []int
		wg  sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			var idx uint32
			err := s.Tx(ctx, func(x store.Tx) (err error) { idx, err = x.AllocateIndex(ctx, wid); return })
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, int(idx))
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Ints(got)
	for i, v := range got {
		if v != i {
			t.Fatalf("indexes not dense and unique: %v", got)
		}
	}
	var ws []store.Wallet
	must(t, s.View(ctx, func(x store.Tx) (err error) { ws, err = x.Wallets(ctx, mid); return }))
	if len(ws) != 1 || ws[0].NextIndex != n {
		t.Fatalf("wallets %+v, want one with NextIndex %d", ws, n)
	}
}

func testInvoiceRoundTrip(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "i")
	inv := invoice("inv_1", mid, t0)
	inv.Flags = []string{"paid_partial"}
	settled := t0.Add(time.Minute)
	inv.SettledAt = &settled
	tx(t, s, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) })
	var got store.Invoice
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetInvoice(ctx, mid, "inv_1"); return }))
	if !reflect.DeepEqual(got, inv) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, inv)
	}
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: got %v, want ErrConflict", err)
	}
}

func testInvoiceScoped(t *testing.T, s store.Store) {
	a, _ := seed(t, s, "a")
	b, _ := seed(t, s, "b")
	tx(t, s, func(x store.Tx) error { return x.CreateInvoice(ctx, invoice("inv_a", a, t0)) })
	err := s.View(ctx, func(x store.Tx) error { _, err := x.GetInvoice(ctx, b, "inv_a"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other merchant's invoice: got %v, want ErrNotFound", err)
	}
	must(t, s.View(ctx, func(x store.Tx) error { _, err := x.GetInvoice(ctx, "", "inv_a"); return err }))
	var list []store.Invoice
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		list, err = x.ListInvoices(ctx, store.InvoiceFilter{MerchantID: b})
		return
	}))
	if len(list) != 0 {
		t.Fatalf("merchant b lists %d invoices of merchant a", len(list))
	}
}

func testInvoiceVersion(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "v")
	inv := invoice("inv_v", mid, t0)
	tx(t, s, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) })
	upd := inv
	upd.Status, upd.Flags, upd.UpdatedAt = store.StatusProcessing, []string{"paid_over"}, t0.Add(time.Second)
	tx(t, s, func(x store.Tx) error { return x.UpdateInvoice(ctx, upd) })
	// A writer that read the old version loses.
	if err := s.Tx(ctx, func(x store.Tx) error { return x.UpdateInvoice(ctx, upd) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	var got store.Invoice
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetInvoice(ctx, mid, "inv_v"); return }))
	if got.Version != 1 || got.Status != store.StatusProcessing || !reflect.DeepEqual(got.Flags, []string{"paid_over"}) {
		t.Fatalf("after update: %+v", got)
	}
}

func testInvoiceList(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "l")
	tx(t, s, func(x store.Tx) error {
		for i := range 7 {
			inv := invoice(fmt.Sprintf("inv_%02d", i), mid, t0.Add(time.Duration(i/2)*time.Minute)) // pairs share a timestamp
			if i == 3 {
				inv.Status = store.StatusSettled
			}
			if err := x.CreateInvoice(ctx, inv); err != nil {
				return err
			}
		}
		return nil
	})
	// Page through 3 at a time: newest first, ties broken by id, nothing repeated or skipped.
	var all []string
	f := store.InvoiceFilter{MerchantID: mid, Limit: 3}
	for {
		var page []store.Invoice
		must(t, s.View(ctx, func(x store.Tx) (err error) { page, err = x.ListInvoices(ctx, f); return }))
		for _, inv := range page {
			all = append(all, inv.ID)
		}
		if len(page) < 3 {
			break
		}
		last := page[len(page)-1]
		f.BeforeCreated, f.BeforeID = &last.CreatedAt, last.ID
	}
	want := []string{"inv_06", "inv_05", "inv_04", "inv_03", "inv_02", "inv_01", "inv_00"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("pages %v, want %v", all, want)
	}
	var got []store.Invoice
	from, to := t0.Add(time.Minute), t0.Add(2*time.Minute)
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, CreatedFrom: &from, CreatedTo: &to})
		return
	}))
	if len(got) != 2 || got[0].ID != "inv_03" || got[1].ID != "inv_02" {
		t.Fatalf("created range: %v", ids(got))
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, Status: store.StatusSettled})
		return
	}))
	if len(got) != 1 || got[0].ID != "inv_03" {
		t.Fatalf("status filter: %v", ids(got))
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, OrderID: "order-inv_05"})
		return
	}))
	if len(got) != 1 || got[0].ID != "inv_05" {
		t.Fatalf("order filter: %v", ids(got))
	}
}

func ids(invs []store.Invoice) []string {
	var out []string
	for _, i := range invs {
		out = append(out, i.ID)
	}
	return out
}

func option(id, invoiceID, walletID, address string, idx uint32) store.PaymentOption {
	return store.PaymentOption{ID: id, InvoiceID: invoiceID, Asset: "BTC", Chain: "bitcoin", Network: "regtest",
		Scale: 8, Address: address, WalletID: walletID, DerivationIndex: &idx, AmountDue: big.NewInt(41234),
		Rate: "60630.000000000000000000", RateSource: "fixed", RateAt: t0, QuoteExpiresAt: t0.Add(15 * time.Minute),
		RawQuotes: `[{"source":"fixed","rate":"60630"}]`, Confirmations: 1, CreatedAt: t0}
}

func testPaymentOptions(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "o")
	o := option("opt_1", "inv_o", wid, "bcrt1qaddr", 0)
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_o", mid, t0)); err != nil {
			return err
		}
		return x.CreatePaymentOption(ctx, o)
	})
	var got []store.PaymentOption
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.PaymentOptions(ctx, "inv_o"); return }))
	if len(got) != 1 || !reflect.DeepEqual(got[0], o) {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	again := option("opt_2", "inv_o", wid, "bcrt1qaddr", 1)
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreatePaymentOption(ctx, again) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("reused address: got %v, want ErrConflict", err)
	}
	again = option("opt_3", "inv_o", wid, "bcrt1qother", 0)
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreatePaymentOption(ctx, again) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("reused derivation index: got %v, want ErrConflict", err)
	}
}

func testPayments(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "p")
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_p", mid, t0)); err != nil {
			return err
		}
		return x.CreatePaymentOption(ctx, option("opt_p", "inv_p", wid, "bcrt1qp", 0))
	})
	p := store.Payment{ID: "pay_1", InvoiceID: "inv_p", OptionID: "opt_p", Chain: "bitcoin", TxID: "ab" + fmt.Sprint(1),
		OutputIndex: 1, Address: "bcrt1qp", Asset: "BTC", Amount: big.NewInt(41234), Status: store.PaymentMempool,
		SeenAt: t0, UpdatedAt: t0}
	var inserted bool
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { inserted, err = x.UpsertPayment(ctx, p); return }))
	if !inserted {
		t.Fatal("first upsert did not insert")
	}
	// The same output seen again (now mined, under another generated id) updates, never duplicates.
	h := int64(101)
	mined := p
	mined.ID, mined.Status, mined.BlockHeight, mined.BlockHash, mined.UpdatedAt = "pay_2", store.PaymentConfirmed, &h, "00ff", t0.Add(time.Minute)
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { inserted, err = x.UpsertPayment(ctx, mined); return }))
	if inserted {
		t.Fatal("second upsert of the same output inserted a row")
	}
	var got []store.Payment
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.Payments(ctx, "inv_p"); return }))
	want := p
	want.Status, want.BlockHeight, want.BlockHash, want.UpdatedAt = store.PaymentConfirmed, &h, "00ff", mined.UpdatedAt
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %+v, want [%+v]", got, want)
	}
}

// testPaymentConfirmedOnce: MarkPaymentConfirmed records a payment's confirmation once:
// not again when it is marked again, re-observed (UpsertPayment), reorged out and mined
// again, or marked by several transactions at the same time.
func testPaymentConfirmedOnce(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "pc")
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_pc", mid, t0)); err != nil {
			return err
		}
		return x.CreatePaymentOption(ctx, option("opt_pc", "inv_pc", wid, "bcrt1qpc", 0))
	})
	h := int64(20)
	p := store.Payment{ID: "pay_pc", InvoiceID: "inv_pc", OptionID: "opt_pc", Chain: "bitcoin", TxID: "tx-pc",
		Address: "bcrt1qpc", Asset: "BTC", Amount: big.NewInt(41234), Status: store.PaymentConfirmed,
		BlockHeight: &h, BlockHash: "b20", SeenAt: t0, UpdatedAt: t0}
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, p); return err })
	read := func() store.Payment {
		t.Helper()
		var pays []store.Payment
		must(t, s.View(ctx, func(x store.Tx) (err error) { pays, err = x.Payments(ctx, "inv_pc"); return }))
		if len(pays) != 1 {
			t.Fatalf("payments %+v", pays)
		}
		return pays[0]
	}
	mark := func(at time.Time) bool {
		t.Helper()
		var first bool
		must(t, s.Tx(ctx, func(x store.Tx) (err error) { first, err = x.MarkPaymentConfirmed(ctx, "pay_pc", at); return }))
		return first
	}
	if got := read().ConfirmedAt; got != nil {
		t.Fatalf("new payment confirmed at %v", got)
	}
	at := t0.Add(10 * time.Minute)
	if !mark(at) {
		t.Fatal("first mark did not record")
	}
	if got := read().ConfirmedAt; got == nil || !got.Equal(at) {
		t.Fatalf("confirmed at %v, want %v", got, at)
	}
	if mark(at.Add(time.Minute)) {
		t.Fatal("second mark recorded again")
	}
	// Re-observed, reorged out, mined again: still confirmed once, at the first time.
	again := p
	again.ID, again.UpdatedAt = "pay_pc_again", t0.Add(20*time.Minute)
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, again); return err })
	tx(t, s, func(x store.Tx) error {
		_, err := x.OrphanPayments(ctx, "bitcoin", 19, t0.Add(21*time.Minute))
		return err
	})
	if got := read(); got.Status != store.PaymentMempool || got.ConfirmedAt == nil || !got.ConfirmedAt.Equal(at) {
		t.Fatalf("after the reorg: status %s, confirmed at %v, want %v", got.Status, got.ConfirmedAt, at)
	}
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, again); return err })
	if mark(t0.Add(30 * time.Minute)) {
		t.Fatal("the re-mined payment was recorded as confirmed again")
	}
	if got := read().ConfirmedAt; got == nil || !got.Equal(at) {
		t.Fatalf("confirmed at %v after re-mining, want %v", got, at)
	}
	// Several transactions marking a fresh payment at once: exactly one records it.
	p2 := p
	p2.ID, p2.TxID = "pay_pc2", "tx-pc2"
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, p2); return err })
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		errs  []error
		start = make(chan struct{})
	)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var first bool
			err := s.Tx(ctx, func(x store.Tx) (err error) {
				first, err = x.MarkPaymentConfirmed(ctx, "pay_pc2", at)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if first {
				wins++
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || wins != 1 {
		t.Fatalf("concurrent marks: %d recorded, errors %v; want exactly 1, none", wins, errs)
	}
	var err error
	_ = s.Tx(ctx, func(x store.Tx) error { _, err = x.MarkPaymentConfirmed(ctx, "pay_nope", at); return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown payment: %v, want ErrNotFound", err)
	}
}

func testEvents(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "e")
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_e", mid, t0)); err != nil {
			return err
		}
		for i, typ := range []string{"invoice.created", "invoice.processing"} {
			e := store.Event{ID: fmt.Sprintf("evt_%d", i), MerchantID: mid, InvoiceID: "inv_e", Type: typ, Data: `{}`, CreatedAt: t0}
			if err := x.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	var got []store.Event
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.Events(ctx, "inv_e"); return }))
	if len(got) != 2 || got[0].Type != "invoice.created" || got[1].Type != "invoice.processing" {
		t.Fatalf("events %+v", got)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "k")
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
		replays []store.IdempotencyRecord
	)
	for range n {
		wg.Go(func() {
			err := s.Tx(ctx, func(x store.Tx) error {
				prev, err := x.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: mid, Key: "k1", RequestHash: []byte("h"), CreatedAt: t0})
				if err != nil {
					return err
				}
				if prev != nil {
					mu.Lock()
					replays = append(replays, *prev)
					mu.Unlock()
					return nil
				}
				mu.Lock()
				winners++
				mu.Unlock()
				return x.CompleteIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: mid, Key: "k1", ResponseStatus: 201, ResponseBody: []byte(`{"id":"inv"}`)})
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if winners != 1 || len(replays) != n-1 {
		t.Fatalf("winners %d, replays %d", winners, len(replays))
	}
	for _, r := range replays {
		// Every loser waited for the winner's commit, so it sees the finished response.
		if r.ResponseStatus != 201 || string(r.ResponseBody) != `{"id":"inv"}` || string(r.RequestHash) != "h" {
			t.Fatalf("replay %+v", r)
		}
	}
}

func testCursor(t *testing.T, s store.Store) {
	err := s.View(ctx, func(x store.Tx) error { _, err := x.Cursor(ctx, "bitcoin"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cursor before first block: got %v, want ErrNotFound", err)
	}
	tx(t, s, func(x store.Tx) error {
		for h := int64(1); h <= 5; h++ {
			c := store.Cursor{Chain: "bitcoin", Height: h, Hash: fmt.Sprintf("h%d", h), ParentHash: fmt.Sprintf("h%d", h-1), UpdatedAt: t0}
			if err := x.SetCursor(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	var c store.Cursor
	must(t, s.View(ctx, func(x store.Tx) (err error) { c, err = x.Cursor(ctx, "bitcoin"); return }))
	if c.Height != 5 || c.Hash != "h5" || c.ParentHash != "h4" {
		t.Fatalf("cursor %+v", c)
	}
	tx(t, s, func(x store.Tx) error { return x.ForgetBlocksAbove(ctx, "bitcoin", 3) })
	var hs []store.Cursor
	must(t, s.View(ctx, func(x store.Tx) (err error) { hs, err = x.BlockHashes(ctx, "bitcoin", 10, 2); return }))
	if len(hs) != 2 || hs[0].Height != 3 || hs[0].Hash != "h3" || hs[1].Height != 2 {
		t.Fatalf("block hashes after rewind: %+v", hs)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	const n = 30
	tx(t, s, func(x store.Tx) error {
		for i := range n {
			m := store.OutboxMessage{ID: fmt.Sprintf("obx_%02d", i), Topic: "ledger", Key: fmt.Sprintf("k%d", i),
				Payload: `{"n":` + fmt.Sprint(i) + `}`, NextAttempt: t0, CreatedAt: t0}
			if err := x.Enqueue(ctx, m); err != nil {
				return err
			}
		}
		// Not due yet.
		return x.Enqueue(ctx, store.OutboxMessage{ID: "obx_later", Topic: "ledger", Key: "later", Payload: "{}", NextAttempt: t0.Add(time.Hour), CreatedAt: t0})
	})
	err := s.Tx(ctx, func(x store.Tx) error {
		return x.Enqueue(ctx, store.OutboxMessage{ID: "obx_dup", Topic: "ledger", Key: "k1", Payload: "{}", NextAttempt: t0, CreatedAt: t0})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate key: got %v, want ErrConflict", err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]string{}
	)
	for w := range 3 {
		wg.Go(func() {
			holder := fmt.Sprintf("relay-%d", w)
			for {
				var got []store.OutboxMessage
				err := s.Tx(ctx, func(x store.Tx) (err error) {
					got, err = x.ClaimDue(ctx, "ledger", holder, t0, t0.Add(time.Minute), 4)
					return
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					if prev, ok := claimed[m.ID]; ok {
						t.Errorf("%s claimed by %s and %s", m.ID, prev, holder)
					}
					claimed[m.ID] = holder
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Fatalf("claimed %d messages, want %d (the not-yet-due one excluded)", len(claimed), n)
	}
	// Leases expire: after the lease a message is claimable again; delivered ones never.
	// A holder that did not claim a message cannot finish it.
	if err := s.Tx(ctx, func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_00", "intruder", t0) }); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("finish by another holder: got %v, want ErrLeaseLost", err)
	}
	tx(t, s, func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_00", claimed["obx_00"], t0) })
	tx(t, s, func(x store.Tx) error { return x.Park(ctx, "obx_01", claimed["obx_01"], "conflict: payload differs") })
	tx(t, s, func(x store.Tx) error {
		return x.Reschedule(ctx, "obx_02", claimed["obx_02"], t0.Add(30*time.Minute), "timeout")
	})
	var again []store.OutboxMessage
	must(t, s.Tx(ctx, func(x store.Tx) (err error) {
		again, err = x.ClaimDue(ctx, "ledger", "relay-x", t0.Add(2*time.Minute), t0.Add(3*time.Minute), 100)
		return
	}))
	if len(again) != n-3 {
		t.Fatalf("reclaimed %d after lease expiry, want %d", len(again), n-3)
	}
	for _, m := range again {
		if m.Attempts != 2 || m.LeaseHolder != "relay-x" {
			t.Fatalf("reclaimed message %+v", m)
		}
	}
	// The first holder's lease expired and relay-x holds the message now: the stale holder
	// can no longer mark it delivered, park or reschedule it; relay-x can.
	stale := claimed["obx_03"]
	for name, fn := range map[string]func(store.Tx) error{
		"deliver":    func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_03", stale, t0) },
		"park":       func(x store.Tx) error { return x.Park(ctx, "obx_03", stale, "late") },
		"reschedule": func(x store.Tx) error { return x.Reschedule(ctx, "obx_03", stale, t0, "late") },
	} {
		if err := s.Tx(ctx, fn); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale holder %s: got %v, want ErrLeaseLost", name, err)
		}
	}
	tx(t, s, func(x store.Tx) error { return x.MarkDelivered(ctx, "obx_03", "relay-x", t0) })
	if err := s.Tx(ctx, func(x store.Tx) error { return x.Park(ctx, "obx_03", "relay-x", "twice") }); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("park after delivery: got %v, want ErrLeaseLost", err)
	}
	var parked []store.OutboxMessage
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		parked, err = x.OutboxMessages(ctx, "ledger", store.OutboxParked)
		return
	}))
	if len(parked) != 1 || parked[0].ID != "obx_01" || parked[0].LastError != "conflict: payload differs" {
		t.Fatalf("parked %+v", parked)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Tx(ctx, func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: "sto_rb", Name: "rb", CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	err = s.View(ctx, func(x store.Tx) error { _, err := x.GetMerchant(ctx, "sto_rb"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled-back merchant exists: %v", err)
	}
}

func testAmounts(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "m")
	huge, _ := new(big.Int).SetString("999999999999999999999999999999999999999999999999999999999999999999999999999999", 10) // 78 digits
	inv := invoice("inv_huge", mid, t0)
	inv.Price = huge
	inv.ToleranceFloor = big.NewInt(1)
	tx(t, s, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) })
	var got store.Invoice
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetInvoice(ctx, mid, "inv_huge"); return }))
	if got.Price.Cmp(huge) != 0 || got.ToleranceFloor.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("price %s, floor %s", got.Price, got.ToleranceFloor)
	}
}

func testConstraint(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "c")
	for _, price := range []*big.Int{big.NewInt(0), big.NewInt(-5)} {
		inv := invoice("inv_bad", mid, t0)
		inv.Price = price
		if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) }); err == nil {
			t.Fatalf("price %s accepted by the database", price)
		}
	}
	inv := invoice("inv_orphan", "sto_missing", t0)
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateInvoice(ctx, inv) }); err == nil {
		t.Fatal("invoice of a missing merchant accepted: foreign keys are off")
	}
}

// watcherInvoices creates, for a new merchant (prefix), a new invoice (inv_<name>live), one
// whose monitoring window is over (...gone) and a processing one (...proc), each with a
// Bitcoin option opt_<invoice id> at address bcrt1q<invoice id>.
func watcherInvoices(t *testing.T, s store.Store, prefix, name string) (live, gone, proc store.Invoice) {
	t.Helper()
	mid, wid := seed(t, s, prefix)
	live = invoice("inv_"+name+"live", mid, t0)
	gone = invoice("inv_"+name+"gone", mid, t0.Add(-48*time.Hour)) // monitoring window over
	proc = invoice("inv_"+name+"proc", mid, t0)
	proc.Status = store.StatusProcessing
	tx(t, s, func(x store.Tx) error {
		for i, inv := range []store.Invoice{live, gone, proc} {
			if err := x.CreateInvoice(ctx, inv); err != nil {
				return err
			}
			o := option("opt_"+inv.ID, inv.ID, wid, "bcrt1q"+inv.ID, uint32(i))
			o.CreatedAt = inv.CreatedAt
			if err := x.CreatePaymentOption(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	return live, gone, proc
}

func testWatcherQueries(t *testing.T, s store.Store) {
	live, _, proc := watcherInvoices(t, s, "wq", "")
	// The watch list at start: options of invoices still monitored (or with a pending
	// payment, see testFeeds), and the feed position after them.
	var (
		opts  []store.WatchedOption
		start store.FeedPos
	)
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		opts, start, err = x.WatchList(ctx, "bitcoin", t0.Add(-time.Hour), 0)
		return
	}))
	if len(opts) != 2 || opts[0].InvoiceID != "inv_live" && opts[1].InvoiceID != "inv_live" {
		t.Fatalf("watched %+v, want the two monitored invoices' options", opts)
	}
	if !opts[0].MonitorUntil.Equal(live.MonitorUntil) && !opts[1].MonitorUntil.Equal(live.MonitorUntil) {
		t.Fatalf("watched %+v: monitor_until missing", opts)
	}
	// Every option of the list is below the position or read again from the feed after it
	// (on Postgres a transaction still open elsewhere holds the position back).
	var feed []store.WatchedOption
	must(t, s.View(ctx, func(x store.Tx) (err error) { feed, _, err = x.OptionFeed(ctx, "bitcoin", start, 10); return }))
	for _, o := range opts {
		if o.Pos.After(start) && !slices.ContainsFunc(feed, func(f store.WatchedOption) bool { return f.ID == o.ID }) {
			t.Fatalf("option %s at %+v is after the start %+v but not in the feed after it", o.ID, o.Pos, start)
		}
	}
	review := func(chain string, at time.Time, above, upTo int64) []string {
		t.Helper()
		var ids []string
		must(t, s.View(ctx, func(x store.Tx) (err error) { ids, err = x.InvoicesDue(ctx, chain, at, above, upTo); return }))
		return ids
	}
	if ids := review("bitcoin", t0.Add(time.Minute), 0, 0); !reflect.DeepEqual(ids, []string{"inv_gone"}) {
		t.Fatalf("due before expiry: %v", ids)
	}
	if ids := review("bitcoin", t0.Add(15*time.Minute), 0, 0); !reflect.DeepEqual(ids, []string{"inv_gone", "inv_live"}) {
		t.Fatalf("due at expiry: %v", ids)
	}
	if ids := review("bitcoin", proc.MonitorUntil.Add(time.Second), 0, 0); !reflect.DeepEqual(ids, []string{"inv_gone", "inv_live", "inv_proc"}) {
		t.Fatalf("due after the processing invoice's monitoring ended: %v", ids)
	}
	if ids := review("ethereum", t0.Add(15*time.Minute), 0, 0); len(ids) != 0 {
		t.Fatalf("invoices without an ethereum option reviewed by the ethereum follower: %v", ids)
	}

	// Payments: a mempool sighting never downgrades a confirmed payment; a reorg orphans.
	h := int64(7)
	p := store.Payment{ID: "pay_w", InvoiceID: "inv_live", OptionID: "opt_inv_live", Chain: "bitcoin", TxID: "tx1",
		Address: "bcrt1qinv_live", Asset: "BTC", Amount: big.NewInt(5), Status: store.PaymentConfirmed,
		BlockHeight: &h, BlockHash: "b7", SeenAt: t0, UpdatedAt: t0}
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, p); return err })
	stale := p
	stale.Status, stale.BlockHeight, stale.BlockHash = store.PaymentMempool, nil, ""
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, stale); return err })
	var pays []store.Payment
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		pays, err = x.PaymentsByStatus(ctx, "bitcoin", store.PaymentConfirmed)
		return
	}))
	if len(pays) != 1 || pays[0].BlockHash != "b7" {
		t.Fatalf("confirmed payment downgraded by a mempool sighting: %+v", pays)
	}
	var orphaned []string
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { orphaned, err = x.OrphanPayments(ctx, "bitcoin", 7, t0); return }))
	if len(orphaned) != 0 {
		t.Fatalf("rewind to the payment's own height orphaned %v", orphaned)
	}
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { orphaned, err = x.OrphanPayments(ctx, "bitcoin", 6, t0); return }))
	if !reflect.DeepEqual(orphaned, []string{"inv_live"}) {
		t.Fatalf("orphaned %v", orphaned)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		pays, err = x.PaymentsByStatus(ctx, "bitcoin", store.PaymentMempool)
		return
	}))
	if len(pays) != 1 || pays[0].BlockHeight != nil || pays[0].BlockHash != "" ||
		pays[0].OrphanedHeight == nil || *pays[0].OrphanedHeight != 6 {
		t.Fatalf("after reorg: %+v", pays)
	}
	// Mined again: no longer orphaned.
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, p); return err })
	must(t, s.View(ctx, func(x store.Tx) (err error) { pays, err = x.Payments(ctx, "inv_live"); return }))
	if len(pays) != 1 || pays[0].OrphanedHeight != nil || pays[0].Status != store.PaymentConfirmed {
		t.Fatalf("re-mined payment: %+v", pays)
	}
}

// testReviewByConfirmations: an invoice of any status with a confirmed payment is due for
// review at the height where the payment reaches its option's confirmations (the review
// that settles or books it), and again when a rewind gives that height up.
func testReviewByConfirmations(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "rc")
	inv := invoice("inv_rc", mid, t0)
	inv.Status = store.StatusSettled
	o := option("opt_rc", "inv_rc", wid, "bcrt1qrc", 0)
	o.Confirmations = 3
	h := int64(10)
	p := store.Payment{ID: "pay_rc", InvoiceID: "inv_rc", OptionID: "opt_rc", Chain: "bitcoin", TxID: "tx-rc",
		Address: "bcrt1qrc", Asset: "BTC", Amount: big.NewInt(5), Status: store.PaymentConfirmed,
		BlockHeight: &h, BlockHash: "b10", SeenAt: t0, UpdatedAt: t0, Spends: []string{"in:0", "in:1"}}
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		if err := x.CreatePaymentOption(ctx, o); err != nil {
			return err
		}
		_, err := x.UpsertPayment(ctx, p)
		return err
	})
	for tip, want := range map[int64]bool{10: false, 11: false, 12: true, 13: false, 40: false} {
		var ids []string
		must(t, s.View(ctx, func(x store.Tx) (err error) { ids, err = x.InvoicesDue(ctx, "bitcoin", t0, tip-1, tip); return }))
		if got := slices.Contains(ids, "inv_rc"); got != want {
			t.Fatalf("block %d (payment at 10, 3 confirmations, reached at 12): listed %v, want %v", tip, got, want)
		}
	}
	// A rewind from 14 to 11 gives up the height where it reached them: due again.
	for _, r := range []struct {
		above, upTo int64
		want        bool
	}{{11, 14, true}, {12, 14, false}, {5, 11, false}} {
		var ids []string
		must(t, s.View(ctx, func(x store.Tx) (err error) { ids, err = x.InvoicesDue(ctx, "bitcoin", t0, r.above, r.upTo); return }))
		if got := slices.Contains(ids, "inv_rc"); got != r.want {
			t.Fatalf("heights (%d, %d]: listed %v, want %v", r.above, r.upTo, got, r.want)
		}
	}
	// Conflicts: a payment spending one of the same outpoints is found; others are not.
	var got []store.Payment
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.PaymentsSpending(ctx, "bitcoin", []string{"other:0", "in:1"})
		return
	}))
	if len(got) != 1 || got[0].ID != "pay_rc" || !slices.Equal(got[0].Spends, []string{"in:0", "in:1"}) {
		t.Fatalf("payments spending in:1: %+v", got)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.PaymentsSpending(ctx, "ethereum", []string{"in:1"})
		return
	}))
	if len(got) != 0 {
		t.Fatalf("another chain's outpoint matched: %+v", got)
	}
}

// testChainTime: the cursor's chain time only moves forward.
func testChainTime(t *testing.T, s store.Store) {
	c := store.Cursor{Chain: "bitcoin", Height: 5, Hash: "h5", ParentHash: "h4", UpdatedAt: t0, ChainTime: t0}
	tx(t, s, func(x store.Tx) error { return x.SetCursor(ctx, c) })
	read := func() time.Time {
		t.Helper()
		var got store.Cursor
		must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.Cursor(ctx, "bitcoin"); return }))
		return got.ChainTime
	}
	c.Height, c.Hash, c.ChainTime = 6, "h6", t0.Add(-time.Hour) // an earlier block timestamp
	tx(t, s, func(x store.Tx) error { return x.SetCursor(ctx, c) })
	if got := read(); !got.Equal(t0) {
		t.Fatalf("chain time went back to %v", got)
	}
	tx(t, s, func(x store.Tx) error { return x.AdvanceChainTime(ctx, "bitcoin", t0.Add(time.Minute)) })
	tx(t, s, func(x store.Tx) error { return x.AdvanceChainTime(ctx, "bitcoin", t0) })
	if got := read(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("chain time %v, want t0+1m", got)
	}
	tx(t, s, func(x store.Tx) error { return x.AdvanceChainTime(ctx, "ethereum", t0) }) // no cursor: nothing
}

func testLeases(t *testing.T, s store.Store) {
	acquire := func(holder string, now time.Time) bool {
		var ok bool
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			ok, err = x.AcquireLease(ctx, "follower:bitcoin", holder, now, now.Add(10*time.Second))
			return
		}))
		return ok
	}
	holds := func(holder string, now time.Time) bool {
		var ok bool
		must(t, s.View(ctx, func(x store.Tx) (err error) { ok, err = x.HoldsLease(ctx, "follower:bitcoin", holder, now); return }))
		return ok
	}
	if !acquire("a", t0) || acquire("b", t0.Add(5*time.Second)) || !holds("a", t0.Add(9*time.Second)) {
		t.Fatal("a must hold the lease and b must not take it before expiry")
	}
	if !acquire("a", t0.Add(8*time.Second)) || acquire("b", t0.Add(17*time.Second)) {
		t.Fatal("a renews; b still waits")
	}
	// a stops renewing (died): b takes over once the lease expires, and a is fenced out.
	if !acquire("b", t0.Add(18*time.Second)) || holds("a", t0.Add(18*time.Second)) || !holds("b", t0.Add(18*time.Second)) {
		t.Fatal("b must take over an expired lease")
	}
	tx(t, s, func(x store.Tx) error { return x.ReleaseLease(ctx, "follower:bitcoin", "b") })
	if !acquire("c", t0.Add(19*time.Second)) {
		t.Fatal("a released lease is free")
	}
	// Concurrent takeovers of a free lease: exactly one wins.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			var ok bool
			now := t0.Add(time.Hour)
			if err := s.Tx(ctx, func(x store.Tx) (err error) {
				ok, err = x.AcquireLease(ctx, "follower:bitcoin", fmt.Sprint("r", i), now, now.Add(time.Minute))
				return
			}); err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d replicas took the lease at once", wins)
	}
}

// testCursorFinal: a cursor's final height is stored, only grows (a cursor written without
// it keeps it), follows a rewind below it down, and is never above the cursor's height.
func testCursorFinal(t *testing.T, s store.Store) {
	set := func(h, final int64) store.Cursor {
		t.Helper()
		c := store.Cursor{Chain: "base", Height: h, Hash: fmt.Sprintf("b%d", h), ParentHash: fmt.Sprintf("b%d", h-1), UpdatedAt: t0, Final: final,
			ChainTime: t0.Add(time.Duration(h) * time.Minute)}
		tx(t, s, func(x store.Tx) error { return x.SetCursor(ctx, c) })
		var got store.Cursor
		must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.Cursor(ctx, "base"); return }))
		var all []store.Cursor
		must(t, s.View(ctx, func(x store.Tx) (err error) { all, err = x.Cursors(ctx); return }))
		for _, a := range all {
			if a.Chain == "base" && (a.Final != got.Final || !a.ChainTime.Equal(got.ChainTime)) {
				t.Fatalf("Cursors final %d chain time %v, Cursor final %d chain time %v", a.Final, a.ChainTime, got.Final, got.ChainTime)
			}
		}
		return got
	}
	for _, step := range []struct{ height, final, want int64 }{
		{10, 0, 0},   // not followed
		{11, 5, 5},   // the node's finalized block
		{12, 0, 5},   // a block applied without reading the tag keeps it
		{13, 3, 5},   // never lowered by an older reading
		{14, 20, 14}, // never above the cursor
		{15, 9, 14},
		{8, 0, 8}, // a rewind below it takes it down
		{9, 0, 8},
	} {
		if got := set(step.height, step.final); got.Final != step.want {
			t.Fatalf("cursor at %d with final %d: stored final %d, want %d", step.height, step.final, got.Final, step.want)
		}
	}
}

// testWatchedAt: the options a follower matches a block's addresses to, by the rule of
// WatchList (monitored after the given time, or a payment on the chain unconfirmed or
// confirmed above the given height), for any number of addresses (more than one IN list
// holds on SQLite).
func testWatchedAt(t *testing.T, s store.Store) {
	live, gone, proc := watcherInvoices(t, s, "wa", "wa")
	at := func(chain string, addrs []string, pendingAbove int64) []string {
		t.Helper()
		var opts []store.WatchedOption
		must(t, s.View(ctx, func(x store.Tx) (err error) {
			opts, err = x.WatchedAt(ctx, chain, addrs, t0.Add(-time.Hour), pendingAbove)
			return
		}))
		var ids []string
		for _, o := range opts {
			if o.Chain != chain || !slices.Contains(addrs, o.Address) || o.MonitorUntil.IsZero() {
				t.Fatalf("WatchedAt(%s, %v) returned %+v", chain, addrs, o)
			}
			ids = append(ids, o.ID)
		}
		return ids
	}
	all := []string{"bcrt1q" + live.ID, "bcrt1q" + gone.ID, "bcrt1q" + proc.ID, "bcrt1qunknown"}
	if got := at("bitcoin", all, 0); !slices.Equal(got, []string{"opt_" + live.ID, "opt_" + proc.ID}) { // by address
		t.Fatalf("watched at the addresses: %v, want the monitored invoices' options", got)
	}
	if got := at("ethereum", all, 0); len(got) != 0 {
		t.Fatalf("watched on another chain: %v", got)
	}
	if got := at("bitcoin", nil, 0); len(got) != 0 {
		t.Fatalf("watched at no address: %v", got)
	}
	many := make([]string, 0, 4500)
	for i := range 4500 {
		many = append(many, fmt.Sprintf("bcrt1qnone%04d", i))
	}
	many = append(many, "bcrt1q"+proc.ID)
	if got := at("bitcoin", many, 0); !slices.Equal(got, []string{"opt_" + proc.ID}) {
		t.Fatalf("watched among 4,501 addresses: %v", got)
	}
	// An invoice past its window with two options, a payment in the mempool on one: both
	// are watched (the rule is per invoice). Their addresses sort last, into the last of
	// several IN lists on SQLite.
	two := invoice("inv_watwo", live.MerchantID, t0.Add(-48*time.Hour))
	wid := opts0(t, s, live).WalletID
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, two); err != nil {
			return err
		}
		for i, addr := range []string{"bcrt1qzzz1", "bcrt1qzzz2"} {
			o := option(fmt.Sprintf("opt_watwo%d", i), two.ID, wid, addr, uint32(10+i))
			if err := x.CreatePaymentOption(ctx, o); err != nil {
				return err
			}
		}
		_, err := x.UpsertPayment(ctx, store.Payment{ID: "pay_watwo", InvoiceID: two.ID, OptionID: "opt_watwo0", Chain: "bitcoin",
			TxID: "tx-watwo", Address: "bcrt1qzzz1", Asset: "BTC", Amount: big.NewInt(5), Status: store.PaymentMempool, SeenAt: t0, UpdatedAt: t0})
		return err
	})
	many = append(many, "bcrt1qzzz1", "bcrt1qzzz2")
	if got := at("bitcoin", many, 0); !slices.Equal(got, []string{"opt_" + proc.ID, "opt_watwo0", "opt_watwo1"}) {
		t.Fatalf("watched among 4,503 addresses, the invoice with a pending payment on one of its two options: %v", got)
	}
	// The watch list at start follows the same rule: both options, not only the one paid.
	var list []store.WatchedOption
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		list, _, err = x.WatchList(ctx, "bitcoin", t0.Add(-time.Hour), 0)
		return
	}))
	for _, id := range []string{"opt_watwo0", "opt_watwo1"} {
		if !slices.ContainsFunc(list, func(o store.WatchedOption) bool { return o.ID == id }) {
			t.Fatalf("the watch list lacks %s of an invoice with a pending payment on its other option: %+v", id, list)
		}
	}
	// The invoice past its monitoring window is watched while it has a payment on the
	// chain in the mempool, then while that payment is confirmed above pendingAbove; a
	// payment on another chain does not count.
	pay := store.Payment{ID: "pay_wa", InvoiceID: gone.ID, OptionID: "opt_" + gone.ID, Chain: "ethereum", TxID: "tx-wa",
		Address: "bcrt1q" + gone.ID, Asset: "BTC", Amount: big.NewInt(5), Status: store.PaymentMempool, SeenAt: t0, UpdatedAt: t0}
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, pay); return err })
	if got := at("bitcoin", all[1:2], 0); len(got) != 0 {
		t.Fatalf("watched for another chain's payment: %v", got)
	}
	pay.ID, pay.Chain, pay.TxID = "pay_wb", "bitcoin", "tx-wb"
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, pay); return err })
	if got := at("bitcoin", all[1:2], 0); !slices.Equal(got, []string{"opt_" + gone.ID}) {
		t.Fatalf("with a mempool payment: %v", got)
	}
	h := int64(10)
	pay.Status, pay.BlockHeight, pay.BlockHash = store.PaymentConfirmed, &h, "blk10"
	tx(t, s, func(x store.Tx) error { _, err := x.UpsertPayment(ctx, pay); return err })
	if got := at("bitcoin", all[1:2], 9); !slices.Equal(got, []string{"opt_" + gone.ID}) {
		t.Fatalf("with a payment confirmed above 9: %v", got)
	}
	if got := at("bitcoin", all[1:2], 10); len(got) != 0 {
		t.Fatalf("with its payment buried at 10: %v", got)
	}
}

// testClosingOptions: the options of the invoices whose monitoring ends in a time range
// (after, upTo], on one chain, ordered by invoice: both bounds are exact.
func testClosingOptions(t *testing.T, s store.Store) {
	live, gone, proc := watcherInvoices(t, s, "co", "co")
	closing := func(chain string, after, upTo time.Time) []string {
		t.Helper()
		var opts []store.WatchedOption
		must(t, s.View(ctx, func(x store.Tx) (err error) { opts, err = x.ClosingOptions(ctx, chain, after, upTo); return }))
		var ids []string
		for _, o := range opts {
			if o.Chain != chain || o.MonitorUntil.IsZero() || o.MonitorUntil.After(upTo) || !o.MonitorUntil.After(after) {
				t.Fatalf("ClosingOptions(%s, %s, %s) returned %+v", chain, after, upTo, o)
			}
			ids = append(ids, o.ID)
		}
		return ids
	}
	end := gone.MonitorUntil
	if got := closing("bitcoin", end.Add(-time.Hour), end); !slices.Equal(got, []string{"opt_" + gone.ID}) {
		t.Fatalf("closing up to the end of the window: %v, want the gone invoice's option", got)
	}
	if got := closing("bitcoin", end, end.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("closing after the end of the window: %v, want none", got)
	}
	if got := closing("bitcoin", end.Add(time.Nanosecond), live.MonitorUntil); !slices.Equal(got, []string{"opt_" + live.ID, "opt_" + proc.ID}) {
		t.Fatalf("closing up to the open invoices' end: %v, want both, by invoice", got)
	}
	if got := closing("ethereum", end.Add(-time.Hour), live.MonitorUntil); len(got) != 0 {
		t.Fatalf("closing on another chain: %v", got)
	}
}

// opts0 returns the payment option of invoice inv (watcherInvoices made one each).
func opts0(t *testing.T, s store.Store, inv store.Invoice) store.PaymentOption {
	t.Helper()
	var ps []store.PaymentOption
	must(t, s.View(ctx, func(x store.Tx) (err error) { ps, err = x.PaymentOptions(ctx, inv.ID); return }))
	if len(ps) == 0 {
		t.Fatalf("invoice %s has no option", inv.ID)
	}
	return ps[0]
}
