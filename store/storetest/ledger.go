package storetest

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// ledgerTests are the conformance tests of store.LedgerTx.
func ledgerTests() []namedTest {
	return []namedTest{
		{"LedgerRecordRoundTrip", testLedgerRoundTrip},
		{"LedgerRecordInsertOnce", testLedgerInsertOnce},
		{"LedgerRecordsFilter", testLedgerRecordsFilter},
		{"LedgerBalancesExact", testLedgerBalances},
		{"LedgerOutboxByKeyAndRequeue", testLedgerOutbox},
		{"LedgerBadAmountRejected", testLedgerConstraint},
		{"LedgerRecordsKeysetAsOf", testLedgerKeyset},
		{"LedgerTotalsExact", testLedgerTotals},
		{"LedgerBooksLatestAndInOrderClaims", testLedgerBooks},
	}
}

func testLedgerKeyset(t *testing.T, s store.Store) {
	a, _ := seed(t, s, "a")
	b, _ := seed(t, s, "b")
	// Five records of a, two of them at the same instant (ids break the tie), one created
	// later than the others, and one record of b in between.
	tx(t, s, func(x store.Tx) error {
		for _, r := range []store.LedgerRecord{
			ledgerRecord("lgr_5", "k5", a, 500, 0, t0.Add(3*time.Hour)),
			ledgerRecord("lgr_2b", "k2b", a, 201, 0, t0.Add(time.Hour)),
			ledgerRecord("lgr_1", "k1", a, 100, 0, t0),
			ledgerRecord("lgr_2a", "k2a", a, 200, 0, t0.Add(time.Hour)),
			ledgerRecord("lgr_9", "k9", b, 900, 0, t0.Add(time.Hour)),
		} {
			if _, err := x.InsertLedgerRecord(ctx, r); err != nil {
				return err
			}
		}
		late := ledgerRecord("lgr_3", "k3", a, 300, 0, t0.Add(2*time.Hour))
		late.CreatedAt = t0.Add(24 * time.Hour)
		_, err := x.InsertLedgerRecord(ctx, late)
		return err
	})
	page := func(f store.LedgerFilter) []store.LedgerRecord {
		var rs []store.LedgerRecord
		must(t, s.View(ctx, func(x store.Tx) (err error) { rs, err = x.LedgerRecords(ctx, f); return }))
		return rs
	}
	walk := func(f store.LedgerFilter) []string {
		var keys []string
		for range 10 {
			rs := page(f)
			for _, r := range rs {
				keys = append(keys, r.IdempotencyKey)
			}
			if len(rs) < f.Limit {
				return keys
			}
			last := rs[len(rs)-1]
			f.After = &store.LedgerCursor{OccurredAt: last.OccurredAt, ID: last.ID}
		}
		t.Fatal("keyset pagination does not end")
		return nil
	}
	asOf := t0.Add(12 * time.Hour)
	from, to := t0.Add(time.Hour), t0.Add(3*time.Hour)
	for _, c := range []struct {
		f    store.LedgerFilter
		want []string
	}{
		{store.LedgerFilter{MerchantID: a, Limit: 2}, []string{"k1", "k2a", "k2b", "k3", "k5"}},
		{store.LedgerFilter{MerchantID: a, Limit: 1}, []string{"k1", "k2a", "k2b", "k3", "k5"}},
		{store.LedgerFilter{MerchantID: a, Limit: 2, AsOf: &asOf}, []string{"k1", "k2a", "k2b", "k5"}},
		{store.LedgerFilter{MerchantID: a, Limit: 1, From: &from, To: &to}, []string{"k2a", "k2b", "k3"}},
		{store.LedgerFilter{MerchantID: b, Limit: 1}, []string{"k9"}},
	} {
		if got := walk(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("pages of %+v: got %v, want %v", c.f, got, c.want)
		}
	}
	// The cursor is exclusive and compares the time first, then the id.
	got := page(store.LedgerFilter{MerchantID: a, Limit: 10, After: &store.LedgerCursor{OccurredAt: t0.Add(time.Hour), ID: "lgr_2a"}})
	if len(got) != 3 || got[0].IdempotencyKey != "k2b" {
		t.Fatalf("after (t0+1h, lgr_2a): got %d records starting %v", len(got), got)
	}
	var cur []string
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		cur, err = x.LedgerCurrencies(ctx, store.LedgerFilter{MerchantID: a, AsOf: &asOf})
		return
	}))
	if !reflect.DeepEqual(cur, []string{"USD"}) {
		t.Fatalf("currencies: got %v", cur)
	}
}

func testLedgerTotals(t *testing.T, s store.Store) {
	a, _ := seed(t, s, "a")
	b, _ := seed(t, s, "b")
	huge, _ := new(big.Int).SetString("123456789012345678901234567890123", 10)
	tx(t, s, func(x store.Tx) error {
		eur := ledgerRecord("lgr_4", "k4", a, 1000, 10, t0.Add(time.Minute))
		eur.Currency = "EUR"
		for i := range eur.Postings {
			eur.Postings[i].Asset = "EUR/2"
		}
		big1 := ledgerRecord("lgr_5", "k5", a, 0, 0, t0.Add(2*time.Minute))
		big1.Gross, big1.Net = huge, huge
		big1.Postings = []store.LedgerPosting{
			{Account: "m:balance", Asset: "USD/2", Amount: huge, Direction: store.Debit},
			{Account: "m:revenue", Asset: "USD/2", Amount: huge, Direction: store.Credit},
		}
		for _, r := range []store.LedgerRecord{
			ledgerRecord("lgr_1", "k1", a, 2500, 38, t0),
			ledgerRecord("lgr_2", "k2", a, 700, 0, t0.Add(time.Second)),
			ledgerRecord("lgr_3", "k3", a, -2500, -38, t0.Add(time.Hour)), // a reversal, below
			eur, big1,
			ledgerRecord("lgr_6", "k6", a, 999, 0, t0.Add(48*time.Hour)), // outside the period
			ledgerRecord("lgr_7", "k7", b, 555, 0, t0),                   // another merchant
		} {
			if r.ID == "lgr_3" {
				r.ReportingCategory = "charge_reversal"
			}
			if _, err := x.InsertLedgerRecord(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	from, to := t0, t0.Add(24*time.Hour)
	var got store.LedgerTotals
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.LedgerTotals(ctx, store.LedgerFilter{MerchantID: a, From: &from, To: &to, Limit: 1})
		return
	}))
	wantCounts := []store.LedgerRecordCount{
		{Currency: "EUR", ReportingCategory: "charge", Count: 1},
		{Currency: "USD", ReportingCategory: "charge", Count: 3},
		{Currency: "USD", ReportingCategory: "charge_reversal", Count: 1},
	}
	if !reflect.DeepEqual(got.Records, wantCounts) {
		t.Fatalf("record counts: got %+v, want %+v", got.Records, wantCounts)
	}
	n := func(v int64) *big.Int { return big.NewInt(v) }
	usdRevenue := new(big.Int).Add(huge, n(2500+700))
	usdBalance := new(big.Int).Add(huge, n(2462+700))
	want := []store.LedgerPostingTotal{
		{ReportingCategory: "charge", Account: "m:balance", Asset: "EUR/2", Debits: n(990), Credits: n(0)},
		{ReportingCategory: "charge", Account: "m:balance", Asset: "USD/2", Debits: usdBalance, Credits: n(0)},
		{ReportingCategory: "charge", Account: "m:fees", Asset: "EUR/2", Debits: n(10), Credits: n(0)},
		{ReportingCategory: "charge", Account: "m:fees", Asset: "USD/2", Debits: n(38), Credits: n(0)},
		{ReportingCategory: "charge", Account: "m:revenue", Asset: "EUR/2", Debits: n(0), Credits: n(1000)},
		{ReportingCategory: "charge", Account: "m:revenue", Asset: "USD/2", Debits: n(0), Credits: usdRevenue},
		{ReportingCategory: "charge_reversal", Account: "m:balance", Asset: "USD/2", Debits: n(0), Credits: n(2462)},
		{ReportingCategory: "charge_reversal", Account: "m:fees", Asset: "USD/2", Debits: n(0), Credits: n(38)},
		{ReportingCategory: "charge_reversal", Account: "m:revenue", Asset: "USD/2", Debits: n(2500), Credits: n(0)},
	}
	if len(got.Postings) != len(want) {
		t.Fatalf("got %d posting totals %+v, want %d", len(got.Postings), got.Postings, len(want))
	}
	for i, w := range want {
		g := got.Postings[i]
		if g.ReportingCategory != w.ReportingCategory || g.Account != w.Account || g.Asset != w.Asset ||
			g.Debits.Cmp(w.Debits) != 0 || g.Credits.Cmp(w.Credits) != 0 {
			t.Errorf("posting total %d: got %s %s %s %s/%s, want %s %s %s %s/%s", i, g.ReportingCategory, g.Account, g.Asset,
				g.Debits, g.Credits, w.ReportingCategory, w.Account, w.Asset, w.Debits, w.Credits)
		}
	}
	var cur []string
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		cur, err = x.LedgerCurrencies(ctx, store.LedgerFilter{MerchantID: a, From: &from, To: &to})
		return
	}))
	if !reflect.DeepEqual(cur, []string{"EUR", "USD"}) {
		t.Fatalf("currencies: got %v", cur)
	}
}

func ledgerRecord(id, key, merchantID string, gross, fee int64, at time.Time) store.LedgerRecord {
	net := gross - fee
	abs := func(v int64) *big.Int { return new(big.Int).Abs(big.NewInt(v)) }
	dir := func(v int64, pos, neg string) string {
		if v < 0 {
			return neg
		}
		return pos
	}
	r := store.LedgerRecord{
		ID: id, IdempotencyKey: key, MerchantID: merchantID, SourceType: "crypto_payment", SourceID: "pay_" + id,
		ReportingCategory: "charge", Currency: "USD", Gross: big.NewInt(gross), Fee: big.NewInt(fee), Net: big.NewInt(net),
		OccurredAt: at, Payload: fmt.Sprintf(`{"key":%q}`, key), PayloadHash: []byte{0, 1, byte(gross), 255}, CreatedAt: at,
	}
	if net != 0 {
		r.Postings = append(r.Postings,
			store.LedgerPosting{Account: "m:balance", Asset: "USD/2", Amount: abs(net), Direction: dir(net, store.Debit, store.Credit)},
			store.LedgerPosting{Account: "m:revenue", Asset: "USD/2", Amount: abs(net), Direction: dir(net, store.Credit, store.Debit)})
	}
	if fee != 0 {
		r.Postings = append(r.Postings,
			store.LedgerPosting{Account: "m:fees", Asset: "USD/2", Amount: abs(fee), Direction: dir(fee, store.Debit, store.Credit)},
			store.LedgerPosting{Account: "m:revenue", Asset: "USD/2", Amount: abs(fee), Direction: dir(fee, store.Credit, store.Debit)})
	}
	return r
}

func getLedger(t *testing.T, s store.Store, key string) (store.LedgerRecord, error) {
	t.Helper()
	var got store.LedgerRecord
	err := s.View(ctx, func(x store.Tx) (err error) { got, err = x.LedgerRecordByKey(ctx, key); return })
	return got, err
}

func testLedgerRoundTrip(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "a")
	r := ledgerRecord("lgr_1", "crypto_payment:pay_1:settled", mid, 2500, 38, t0)
	// Amounts beyond int64 and negative ones must survive exactly.
	r.Gross, _ = new(big.Int).SetString("-123456789012345678901234567890", 10)
	r.Fee = big.NewInt(-10)
	r.Net = new(big.Int).Sub(r.Gross, r.Fee)
	var inserted bool
	must(t, s.Tx(ctx, func(x store.Tx) (err error) { inserted, err = x.InsertLedgerRecord(ctx, r); return }))
	if !inserted {
		t.Fatal("first insert reported not inserted")
	}
	got, err := getLedger(t, s, r.IdempotencyKey)
	must(t, err)
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if _, err := getLedger(t, s, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: got %v, want ErrNotFound", err)
	}
}

func testLedgerInsertOnce(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "a")
	const workers = 6
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted int
	)
	for w := range workers {
		wg.Go(func() {
			r := ledgerRecord(fmt.Sprintf("lgr_%d", w), "k", mid, 100+int64(w), 1, t0)
			var ok bool
			if err := s.Tx(ctx, func(x store.Tx) (err error) { ok, err = x.InsertLedgerRecord(ctx, r); return }); err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				inserted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if inserted != 1 {
		t.Fatalf("%d concurrent inserts of one key succeeded, want exactly 1", inserted)
	}
	got, err := getLedger(t, s, "k")
	must(t, err)
	var bal []store.LedgerBalance
	must(t, s.View(ctx, func(x store.Tx) (err error) { bal, err = x.LedgerBalances(ctx, mid); return }))
	// Only the winner's postings exist: the balance equals its net exactly.
	for _, b := range bal {
		if b.Account == "m:balance" && b.Balance.Cmp(got.Net) != 0 {
			t.Fatalf("balance %s, want the single winner's net %s", b.Balance, got.Net)
		}
	}
}

func testLedgerRecordsFilter(t *testing.T, s store.Store) {
	a, _ := seed(t, s, "a")
	b, _ := seed(t, s, "b")
	tx(t, s, func(x store.Tx) error {
		for i, r := range []store.LedgerRecord{
			ledgerRecord("lgr_3", "k3", a, 300, 0, t0.Add(2*time.Hour)),
			ledgerRecord("lgr_1", "k1", a, 100, 0, t0),
			ledgerRecord("lgr_2", "k2", a, 200, 0, t0.Add(time.Hour)),
			ledgerRecord("lgr_4", "k4", b, 400, 0, t0),
		} {
			if i == 2 {
				r.SourceType = "card_charge"
			}
			if _, err := x.InsertLedgerRecord(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	keys := func(f store.LedgerFilter) []string {
		var rs []store.LedgerRecord
		must(t, s.View(ctx, func(x store.Tx) (err error) { rs, err = x.LedgerRecords(ctx, f); return }))
		var out []string
		for _, r := range rs {
			if r.Postings != nil {
				t.Fatal("LedgerRecords must not load postings")
			}
			out = append(out, r.IdempotencyKey)
		}
		return out
	}
	from, to := t0.Add(time.Hour), t0.Add(2*time.Hour)
	for _, c := range []struct {
		f    store.LedgerFilter
		want []string
	}{
		{store.LedgerFilter{MerchantID: a}, []string{"k1", "k2", "k3"}},
		{store.LedgerFilter{MerchantID: a, SourceType: "card_charge"}, []string{"k2"}},
		{store.LedgerFilter{MerchantID: a, From: &from}, []string{"k2", "k3"}},
		{store.LedgerFilter{MerchantID: a, To: &to}, []string{"k1", "k2"}},
		{store.LedgerFilter{MerchantID: a, Limit: 1}, []string{"k1"}},
		{store.LedgerFilter{MerchantID: b}, []string{"k4"}},
		{store.LedgerFilter{MerchantID: "nobody"}, nil},
	} {
		if got := keys(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("filter %+v: got %v, want %v", c.f, got, c.want)
		}
	}
}

func testLedgerBalances(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "a")
	other, _ := seed(t, s, "b")
	big1, _ := new(big.Int).SetString("99999999999999999999999999999999999999", 10) // beyond float and int64
	tx(t, s, func(x store.Tx) error {
		r1 := ledgerRecord("lgr_1", "k1", mid, 2500, 38, t0)
		r2 := ledgerRecord("lgr_2", "k2", mid, -2500, -38, t0) // a reversal
		r3 := ledgerRecord("lgr_3", "k3", mid, 0, 0, t0)
		r3.Postings = []store.LedgerPosting{
			{Account: "m:wallet", Asset: "BTC/8@bitcoin", Amount: big1, Direction: store.Debit},
			{Account: "m:wallet", Asset: "BTC/8@bitcoin", Amount: big.NewInt(1), Direction: store.Debit},
			{Account: "world", Asset: "BTC/8@bitcoin", Amount: new(big.Int).Add(big1, big.NewInt(1)), Direction: store.Credit},
		}
		r4 := ledgerRecord("lgr_4", "k4", other, 700, 0, t0)
		for _, r := range []store.LedgerRecord{r1, r2, r3, r4} {
			if _, err := x.InsertLedgerRecord(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	var got []store.LedgerBalance
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.LedgerBalances(ctx, mid); return }))
	n := func(v int64) *big.Int { return big.NewInt(v) }
	sum := new(big.Int).Add(big1, n(1))
	want := []store.LedgerBalance{
		{Account: "m:balance", Asset: "USD/2", Debits: n(2462), Credits: n(2462), Balance: n(0)},
		{Account: "m:fees", Asset: "USD/2", Debits: n(38), Credits: n(38), Balance: n(0)},
		{Account: "m:revenue", Asset: "USD/2", Debits: n(2500), Credits: n(2500), Balance: n(0)},
		{Account: "m:wallet", Asset: "BTC/8@bitcoin", Debits: sum, Credits: n(0), Balance: sum},
		{Account: "world", Asset: "BTC/8@bitcoin", Debits: n(0), Credits: sum, Balance: new(big.Int).Neg(sum)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d balances %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Account != w.Account || g.Asset != w.Asset || g.Debits.Cmp(w.Debits) != 0 || g.Credits.Cmp(w.Credits) != 0 || g.Balance.Cmp(w.Balance) != 0 {
			t.Errorf("balance %d: got %s %s %s/%s=%s, want %s %s %s/%s=%s", i, g.Account, g.Asset, g.Debits, g.Credits, g.Balance,
				w.Account, w.Asset, w.Debits, w.Credits, w.Balance)
		}
	}
}

func testLedgerOutbox(t *testing.T, s store.Store) {
	tx(t, s, func(x store.Tx) error {
		for _, m := range []store.OutboxMessage{
			{ID: "obx_1", Topic: "ledger", Key: "k1", Payload: `{"a":1}`, NextAttempt: t0, CreatedAt: t0},
			{ID: "obx_2", Topic: "webhook:x", Key: "k1", Payload: `{"b":2}`, NextAttempt: t0, CreatedAt: t0},
		} {
			if err := x.Enqueue(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	var m store.OutboxMessage
	must(t, s.View(ctx, func(x store.Tx) (err error) { m, err = x.OutboxByKey(ctx, "ledger", "k1"); return }))
	if m.ID != "obx_1" || m.Payload != `{"a":1}` || m.Status != store.OutboxPending {
		t.Fatalf("OutboxByKey: got %+v", m)
	}
	err := s.View(ctx, func(x store.Tx) error { _, err := x.OutboxByKey(ctx, "ledger", "k2"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing key: got %v, want ErrNotFound", err)
	}
	// Only a parked message of the topic can be requeued.
	err = s.Tx(ctx, func(x store.Tx) error { return x.RequeueOutbox(ctx, "ledger", "obx_1", t0) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("requeue of a pending message: got %v, want ErrNotFound", err)
	}
	var claimed []store.OutboxMessage
	must(t, s.Tx(ctx, func(x store.Tx) (err error) {
		claimed, err = x.ClaimDue(ctx, "ledger", "r1", t0, t0.Add(time.Minute), 10)
		return
	}))
	if len(claimed) != 1 {
		t.Fatalf("claimed %d", len(claimed))
	}
	tx(t, s, func(x store.Tx) error { return x.Park(ctx, "obx_1", "r1", "conflict") })
	err = s.Tx(ctx, func(x store.Tx) error { return x.RequeueOutbox(ctx, "webhook:x", "obx_1", t0) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("requeue under another topic: got %v, want ErrNotFound", err)
	}
	later := t0.Add(time.Hour)
	tx(t, s, func(x store.Tx) error { return x.RequeueOutbox(ctx, "ledger", "obx_1", later) })
	must(t, s.View(ctx, func(x store.Tx) (err error) { m, err = x.OutboxByKey(ctx, "ledger", "k1"); return }))
	if m.Status != store.OutboxPending || !m.NextAttempt.Equal(later) || m.LastError != "conflict" || m.Attempts != 1 || m.LeaseUntil != nil {
		t.Fatalf("requeued: got %+v", m)
	}
	// Due again only at the new time.
	must(t, s.Tx(ctx, func(x store.Tx) (err error) {
		claimed, err = x.ClaimDue(ctx, "ledger", "r2", later.Add(-time.Second), later, 10)
		return
	}))
	if len(claimed) != 0 {
		t.Fatalf("claimed %d before the requeue time", len(claimed))
	}
	must(t, s.Tx(ctx, func(x store.Tx) (err error) {
		claimed, err = x.ClaimDue(ctx, "ledger", "r2", later, later.Add(time.Minute), 10)
		return
	}))
	if len(claimed) != 1 || claimed[0].ID != "obx_1" {
		t.Fatalf("claimed %+v at the requeue time", claimed)
	}
}

func testLedgerConstraint(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "a")
	r := ledgerRecord("lgr_1", "k1", mid, 100, 0, t0)
	r.Postings[0].Amount = big.NewInt(0)
	err := s.Tx(ctx, func(x store.Tx) error { _, err := x.InsertLedgerRecord(ctx, r); return err })
	if err == nil {
		t.Fatal("a zero posting amount was stored")
	}
	// Nothing of the failed transaction remains.
	if _, err := getLedger(t, s, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a failed insert: got %v, want ErrNotFound", err)
	}
	r = ledgerRecord("lgr_2", "k2", "sto_unknown", 100, 0, t0)
	if err := s.Tx(ctx, func(x store.Tx) error { _, err := x.InsertLedgerRecord(ctx, r); return err }); err == nil {
		t.Fatal("a record of an unknown merchant was stored")
	}
}

func testLedgerBooks(t *testing.T, s store.Store) {
	a, _ := seed(t, s, "a")
	b, _ := seed(t, s, "b")
	book := func(pay string, seq int64, inv, mid, state string, amount int64, key string) store.LedgerBook {
		return store.LedgerBook{PaymentID: pay, Seq: seq, InvoiceID: inv, MerchantID: mid, State: state,
			Amount: big.NewInt(amount), RecordKey: key, CreatedAt: t0}
	}
	// Payment p1 of invoice i1 has three records, p2 one; p3 belongs to another merchant.
	rows := []store.LedgerBook{
		book("p1", 1, "i1", a, store.BookApplied, 2500, "p1:settled"),
		book("p1", 2, "i1", a, store.BookNone, 0, "p1:reversed"),
		book("p1", 3, "i1", a, store.BookUnapplied, 2500, "p1:unapplied:3"),
		book("p2", 1, "i1", a, store.BookApplied, 1, "p2:settled"),
		book("p3", 1, "i3", b, store.BookApplied, 7, "p3:settled"),
	}
	tx(t, s, func(x store.Tx) error {
		// Enqueued with due times and ids in reverse, so plain ClaimDue would take p1's
		// third record first.
		for i := len(rows) - 1; i >= 0; i-- {
			r := rows[i]
			at := t0.Add(time.Duration(i) * time.Second)
			if err := x.Enqueue(ctx, store.OutboxMessage{ID: fmt.Sprintf("obx_%d", 9-i), Topic: "ledger", Key: r.RecordKey,
				Payload: "{}", NextAttempt: at, CreatedAt: at}); err != nil {
				return err
			}
			if err := x.AppendLedgerBook(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Tx(ctx, func(x store.Tx) error {
		return x.AppendLedgerBook(ctx, book("p1", 3, "i1", a, store.BookNone, 0, "other"))
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second record 3 of p1: got %v, want ErrConflict", err)
	}
	var latest []store.LedgerBook
	must(t, s.View(ctx, func(x store.Tx) (err error) { latest, err = x.LatestLedgerBooks(ctx, "i1"); return }))
	if len(latest) != 2 || latest[0].PaymentID != "p1" || latest[0].Seq != 3 || latest[0].State != store.BookUnapplied ||
		latest[0].Amount.Cmp(big.NewInt(2500)) != 0 || latest[1].PaymentID != "p2" || latest[1].RecordKey != "p2:settled" {
		t.Fatalf("LatestLedgerBooks(i1) = %+v", latest)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { latest, err = x.MerchantLedgerBooks(ctx, b); return }))
	if len(latest) != 1 || latest[0].PaymentID != "p3" {
		t.Fatalf("MerchantLedgerBooks(b) = %+v", latest)
	}
	// Claims deliver each payment's records in order: one at a time per payment.
	claim := func() []string {
		var got []store.OutboxMessage
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			got, err = x.ClaimDueInOrder(ctx, "ledger", "r", t0.Add(time.Hour), t0.Add(time.Hour+time.Minute), 10)
			return
		}))
		var keys []string
		for _, m := range got {
			keys = append(keys, m.Key)
			must(t, s.Tx(ctx, func(x store.Tx) error { return x.MarkDelivered(ctx, m.ID, "r", t0) }))
		}
		sort.Strings(keys)
		return keys
	}
	for i, want := range [][]string{{"p1:settled", "p2:settled", "p3:settled"}, {"p1:reversed"}, {"p1:unapplied:3"}, nil} {
		if got := claim(); !reflect.DeepEqual(got, want) {
			t.Fatalf("claim %d: %v, want %v", i+1, got, want)
		}
	}
	var ids []string
	must(t, s.View(ctx, func(x store.Tx) (err error) { ids, err = x.MerchantIDs(ctx); return }))
	if !reflect.DeepEqual(ids, []string{a, b}) {
		t.Fatalf("MerchantIDs = %v", ids)
	}
}
