package api_test

import (
	"context"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
)

// withRefunds enables the refund endpoints over the test's invoice service.
func withRefunds(t *testing.T) func(*api.Config) {
	return func(c *api.Config) {
		svc, err := refunds.New(c.Store, refunds.Config{Invoices: c.Invoices, PublicURL: c.PublicURL})
		if err != nil {
			t.Fatal(err)
		}
		c.Refunds = svc
	}
}

// paidInvoice creates a 25.00 USD invoice for m and pays it in full, confirmed.
func (e *env) paidInvoice(m merchant) string {
	e.t.Helper()
	r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "25.00", "currency": "USD"})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	inv := r.json(e.t)
	id := inv["id"].(string)
	opt := inv["payment_options"].([]any)[0].(map[string]any)
	due, _ := new(big.Int).SetString(opt["amount_due_atomic"].(string), 10)
	ctx := context.Background()
	h := int64(7)
	now := time.Now().UTC()
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, store.Payment{ID: store.NewID("pay", now), InvoiceID: id, OptionID: opt["id"].(string),
			Chain: "testchain", TxID: "tx_" + id, Address: opt["address"].(string), Asset: "TBTC", Amount: due,
			Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: "b7", SeenAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		// The follower stands at the node's tip now (its chain time is the wall clock).
		return tx.SetCursor(ctx, store.Cursor{Chain: "testchain", Height: h, Hash: "b7", UpdatedAt: now, ChainTime: now})
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// TestRefundWhileChainNotSynced: while the follower of the invoice's chain has not stood at
// its node's tip within the sync window, creating a refund is a 503 chain-not-synced with
// Retry-After, and nothing is created.
func TestRefundWhileChainNotSynced(t *testing.T) {
	t.Parallel()
	stale := func(c *api.Config) {
		svc, err := refunds.New(c.Store, refunds.Config{Invoices: c.Invoices, PublicURL: c.PublicURL,
			Now: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		if err != nil {
			t.Fatal(err)
		}
		c.Refunds = svc
	}
	eachWith(t, []func(*api.Config){stale}, func(t *testing.T, e *env) {
		m := e.newMerchant("A")
		id := e.paidInvoice(m)
		r := e.do("POST", "/v1/invoices/"+id+"/refunds", m.key, map[string]any{"amount": "1.00"}, "Idempotency-Key", "k1")
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "30" ||
			r.json(t)["type"] != "/problems/chain-not-synced" || !strings.Contains(string(r.body), "testchain follower last stood at the node's tip 10m0s ago") {
			t.Fatalf("refund while the follower is behind: %d %v %s", r.status, r.header, r.body)
		}
		if l := e.do("GET", "/v1/invoices/"+id+"/refunds", m.key, nil).json(t); len(l["data"].([]any)) != 0 {
			t.Fatalf("a refused refund was created: %v", l)
		}
	})
}

func TestRefundsAPI(t *testing.T) {
	t.Parallel()
	eachWith(t, []func(*api.Config){withRefunds(t)}, func(t *testing.T, e *env) {
		m, other := e.newMerchant("A"), e.newMerchant("B")
		storefront := e.newMerchant("C", apikey.Storefront()...)
		id := e.paidInvoice(m)
		path := "/v1/invoices/" + id + "/refunds"

		if r := e.do("POST", path, storefront.key, map[string]any{"amount": "1.00"}); r.status != http.StatusForbidden {
			t.Fatalf("storefront key: %d %s", r.status, r.body)
		}
		unpaid := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD"}).json(t)["id"].(string)
		if r := e.do("POST", "/v1/invoices/"+unpaid+"/refunds", m.key, map[string]any{"amount": "1.00"}); r.status != http.StatusConflict {
			t.Fatalf("refund of an unpaid invoice: %d %s", r.status, r.body)
		}
		if r := e.do("POST", path, m.key, map[string]any{"amount": "1.00", "rate_policy": "yesterday"}); r.status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(r.body), "rate_policy") {
			t.Fatalf("bad rate policy: %d %s", r.status, r.body)
		}
		if r := e.do("POST", path, m.key, map[string]any{"amount": "1.00", "amout": "2"}); r.status != http.StatusBadRequest {
			t.Fatalf("unknown field: %d %s", r.status, r.body)
		}
		if r := e.do("POST", path, other.key, map[string]any{"amount": "1.00"}); r.status != http.StatusNotFound {
			t.Fatalf("another store's invoice: %d %s", r.status, r.body)
		}

		body := map[string]any{"amount": "10.00", "reason": "one cup returned"}
		first := e.do("POST", path, m.key, body, "Idempotency-Key", "refund-1")
		if first.status != http.StatusCreated {
			t.Fatalf("create: %d %s", first.status, first.body)
		}
		ref := first.json(t)
		if ref["status"] != "pending" || ref["amount"] != "10.00" || ref["currency"] != "USD" || ref["asset"] != "TBTC" ||
			ref["claim_url"] != "https://pay.example/r/"+ref["id"].(string) || ref["rate_policy"] != "original" {
			t.Fatalf("refund: %s", first.body)
		}
		again := e.do("POST", path, m.key, body, "Idempotency-Key", "refund-1")
		if again.status != http.StatusCreated || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s", again.status, again.body)
		}
		if r := e.do("POST", path, m.key, map[string]any{"amount": "11.00"}, "Idempotency-Key", "refund-1"); r.status != http.StatusConflict {
			t.Fatalf("same key, other body: %d %s", r.status, r.body)
		}
		over := e.do("POST", path, m.key, map[string]any{"amount": "15.01"})
		if over.status != http.StatusUnprocessableEntity || over.json(t)["type"] != "/problems/refund-exceeds-refundable" ||
			!strings.Contains(string(over.body), "remaining refundable amount of 15.00 USD") {
			t.Fatalf("over-refund: %d %s", over.status, over.body)
		}
		inv := e.do("GET", "/v1/invoices/"+id, m.key, nil).json(t)
		if inv["amount_refundable"] != "15.00" || inv["amount_refunded"] != "0.00" {
			t.Fatalf("invoice refund amounts: refundable %v refunded %v", inv["amount_refundable"], inv["amount_refunded"])
		}
		rid := ref["id"].(string)
		if r := e.do("GET", "/v1/refunds/"+rid, other.key, nil); r.status != http.StatusNotFound {
			t.Fatalf("another store reads the refund: %d", r.status)
		}
		if r := e.do("GET", "/v1/refunds/"+rid, m.key, nil); r.status != http.StatusOK || r.json(t)["id"] != rid {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		second := e.do("POST", path, m.key, map[string]any{"amount": "0.00010000", "currency": "TBTC"})
		if second.status != http.StatusCreated {
			t.Fatalf("refund in the asset: %d %s", second.status, second.body)
		}
		list := e.do("GET", path+"?limit=1", m.key, nil).json(t)
		if len(list["data"].([]any)) != 1 || list["has_more"] != true {
			t.Fatalf("list page: %v", list)
		}
		next := e.do("GET", "/v1/refunds?limit=1&cursor="+list["next_cursor"].(string), m.key, nil).json(t)
		if d := next["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != rid {
			t.Fatalf("second page: %v", next)
		}
		if r := e.do("GET", "/v1/refunds?cursor=bogus", m.key, nil); r.status != http.StatusBadRequest {
			t.Fatalf("bad cursor: %d", r.status)
		}
		if r := e.do("GET", "/v1/refunds", other.key, nil).json(t); len(r["data"].([]any)) != 0 {
			t.Fatalf("another store lists: %v", r)
		}
		c := e.do("POST", "/v1/refunds/"+rid+"/cancel", m.key, nil)
		if c.status != http.StatusOK || c.json(t)["status"] != "cancelled" {
			t.Fatalf("cancel: %d %s", c.status, c.body)
		}
		if r := e.do("POST", "/v1/refunds/"+rid+"/cancel", m.key, nil); r.status != http.StatusConflict {
			t.Fatalf("cancel twice: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/refunds/"+rid+"/fail", m.key, map[string]any{"reason": ""}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("fail without a reason: %d %s", r.status, r.body)
		}
		evs := e.do("GET", "/v1/invoices/"+id+"/events", m.key, nil).json(t)["data"].([]any)
		var types []string
		for _, ev := range evs {
			types = append(types, ev.(map[string]any)["type"].(string))
		}
		if got := strings.Join(types, ","); !strings.Contains(got, "refund.created,refund.created,refund.cancelled") {
			t.Fatalf("events %s", got)
		}
	})
}
