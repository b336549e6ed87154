package api_test

import (
	"context"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// cardCharge is a valid card settlement record of the merchant.
func cardCharge(t *testing.T, merchantID, key string, gross int64) ledger.Record {
	t.Helper()
	usd, _ := money.Currency("USD")
	g, fee := big.NewInt(gross), big.NewInt(30)
	net := new(big.Int).Sub(g, fee)
	rec := ledger.Record{IdempotencyKey: key, MerchantID: merchantID, SourceType: ledger.SourceCardCharge, SourceID: key,
		ReportingCategory: ledger.CategoryCharge, Currency: "USD", Gross: g, Fee: fee, Net: net,
		OccurredAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Postings:   ledger.MoneyPostings(merchantID, ledger.SourceCardCharge, usd, g, fee, net)}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestLedgerParked(t *testing.T) {
	t.Parallel()
	for _, bk := range storetest.Backends() {
		t.Run(bk.Name, func(t *testing.T) {
			t.Parallel()
			var relay *ledger.Relay
			e := setup(t, bk, func(c *api.Config) {
				var err error
				if relay, err = ledger.NewRelay(c.Store, ledger.NewJournal(c.Store, time.Now), ledger.RelayConfig{Logger: slog.New(slog.DiscardHandler)}); err != nil {
					t.Fatal(err)
				}
				c.Ledger = relay
			})
			testLedgerParked(t, e, relay)
		})
	}
}

func testLedgerParked(t *testing.T, e *env, relay *ledger.Relay) {
	ctx := context.Background()
	a, b := e.newMerchant("A"), e.newMerchant("B")
	journal := ledger.NewJournal(e.st, time.Now)
	// Each merchant's ledger already holds another record under the keys the outbox is
	// about to post: conflicts, which the relay parks for a human.
	at := time.Now().Add(-time.Minute)
	for i, c := range []struct {
		m   merchant
		key string
	}{{a, "card:a1"}, {b, "card:b1"}, {a, "card:a2"}} {
		if _, err := journal.Post(ctx, cardCharge(t, c.m.id, c.key, 999)); err != nil {
			t.Fatal(err)
		}
		// Distinct creation times, in the past (due now), so the order is known.
		created := at.Add(time.Duration(i) * time.Second)
		err := e.st.Tx(ctx, func(tx store.Tx) error { return ledger.EnqueueTx(ctx, tx, cardCharge(t, c.m.id, c.key, 1000), created) })
		if err != nil {
			t.Fatal(err)
		}
	}
	// A malformed row carries no merchant: no store sees it.
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.Enqueue(ctx, store.OutboxMessage{ID: store.NewID("obx", time.Now()), Topic: ledger.Topic, Key: "junk",
			Payload: `{"gross":1}`, Status: store.OutboxPending, NextAttempt: time.Now(), CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.RunOnce(ctx); err != nil || n != 4 {
		t.Fatalf("relay: %d %v", n, err)
	}
	if p, err := relay.Parked(ctx); err != nil || len(p) != 4 {
		t.Fatalf("parked: %d %v", len(p), err)
	}

	list := func(key, query string) map[string]any {
		t.Helper()
		r := e.do("GET", "/v1/ledger/parked"+query, key, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	idsOf := func(l map[string]any) (ids, idem []string) {
		for _, x := range l["data"].([]any) {
			ids = append(ids, x.(map[string]any)["id"].(string))
			idem = append(idem, x.(map[string]any)["idempotency_key"].(string))
		}
		return ids, idem
	}
	la := list(a.key, "")
	aIDs, aKeys := idsOf(la)
	if !slices.Equal(aKeys, []string{"card:a1", "card:a2"}) || la["has_more"] != false {
		t.Fatalf("A's parked records: %v", la)
	}
	first := la["data"].([]any)[0].(map[string]any)
	rec := first["record"].(map[string]any)
	if first["status"] != "parked" || first["last_error"] == "" || rec["merchant_id"] != a.id || rec["gross"] != "1000" {
		t.Fatalf("parked record: %v", first)
	}
	bIDs, bKeys := idsOf(list(b.key, ""))
	if !slices.Equal(bKeys, []string{"card:b1"}) {
		t.Fatalf("B's parked records: %v", bKeys)
	}
	// Page by page.
	var paged []string
	q := "?limit=1"
	for {
		l := list(a.key, q)
		ids, _ := idsOf(l)
		paged = append(paged, ids...)
		if l["has_more"] != true {
			break
		}
		q = "?limit=1&cursor=" + url.QueryEscape(l["next_cursor"].(string))
	}
	if !slices.Equal(paged, aIDs) {
		t.Fatalf("paged %v, want %v", paged, aIDs)
	}
	for _, c := range []struct{ query, field string }{{"?limit=0", "limit"}, {"?limit=x", "limit"}, {"?cursor=nope", "cursor"}, {"?status=parked", "status"}} {
		problem(t, c.query, e.do("GET", "/v1/ledger/parked"+c.query, a.key, nil), 400, c.field, "")
	}

	// Permissions: exports:read to look, invoices:write to retry.
	problem(t, "list without exports:read", e.do("GET", "/v1/ledger/parked", e.addKey(a, apikey.InvoicesRead, apikey.InvoicesWrite, apikey.WebhooksManage), nil),
		403, "", apikey.ExportsRead)
	problem(t, "retry without invoices:write", e.do("POST", "/v1/ledger/parked/"+aIDs[0]+"/retry", e.addKey(a, apikey.InvoicesRead, apikey.ExportsRead), nil),
		403, "", apikey.InvoicesWrite)

	// Another store's record, an unknown one: 404, and nothing is queued.
	problem(t, "foreign retry", e.do("POST", "/v1/ledger/parked/"+bIDs[0]+"/retry", a.key, nil), 404, "", "no parked ledger record")
	problem(t, "unknown retry", e.do("POST", "/v1/ledger/parked/obx_nope/retry", a.key, nil), 404, "", "no parked ledger record")
	problem(t, "retry with a body", e.do("POST", "/v1/ledger/parked/"+aIDs[0]+"/retry", a.key, map[string]any{"force": true}), 400, "force", "unknown field")
	if p, _ := relay.Parked(ctx); len(p) != 4 {
		t.Fatalf("refused retries changed the outbox: %d parked", len(p))
	}

	if r := e.do("POST", "/v1/ledger/parked/"+aIDs[0]+"/retry", a.key, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	var pending []store.OutboxMessage
	if err := e.st.View(ctx, func(tx store.Tx) (err error) {
		pending, err = tx.OutboxMessages(ctx, ledger.Topic, store.OutboxPending)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != aIDs[0] {
		t.Fatalf("pending after retry: %v", pending)
	}
	if _, keys := idsOf(list(a.key, "")); !slices.Equal(keys, []string{"card:a2"}) {
		t.Fatalf("A's parked after retry: %v", keys)
	}
	problem(t, "retry twice", e.do("POST", "/v1/ledger/parked/"+aIDs[0]+"/retry", a.key, nil), 404, "", "no parked ledger record")
	// The cause is not fixed, so the relay parks it again, with one more attempt.
	if n, err := relay.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("relay after retry: %d %v", n, err)
	}
	if ids, _ := idsOf(list(a.key, "")); !slices.Equal(ids, aIDs) {
		t.Fatalf("A's parked after the relay ran again: %v", ids)
	}
}
