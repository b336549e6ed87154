package api_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// TestListMatchesGet (issue 22): the list endpoint reads a page in a fixed number of queries
// (invoices.Service.ListTx); every entry it returns is the invoice exactly as GET shows it,
// its payments counted.
func TestListMatchesGet(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Books")
		var ids []string
		for i := range 3 {
			r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": fmt.Sprintf("1%d.00", i), "currency": "USD"})
			if r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			ids = append(ids, r.json(t)["id"].(string))
		}
		// The middle invoice has a confirmed payment on an option's chain.
		inv := e.do("GET", "/v1/invoices/"+ids[1], m.key, nil).json(t)
		opt := inv["payment_options"].([]any)[0].(map[string]any)
		ctx, h, now := context.Background(), int64(7), time.Now().UTC()
		if err := e.st.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.UpsertPayment(ctx, store.Payment{ID: "pay_l", InvoiceID: ids[1], OptionID: opt["id"].(string),
				Chain: opt["chain"].(string), TxID: "tx_l", Address: opt["address"].(string), Asset: opt["asset"].(string),
				Amount: big.NewInt(1), Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: "b7",
				SeenAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return tx.SetCursor(ctx, store.Cursor{Chain: opt["chain"].(string), Height: h + 1, Hash: "b8", UpdatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", "/v1/invoices?limit=2", m.key, nil)
		page := r.json(t)
		data := page["data"].([]any)
		if r.status != http.StatusOK || len(data) != 2 || page["has_more"] != true {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		for i, want := range []string{ids[2], ids[1]} {
			got := data[i].(map[string]any)
			one := e.do("GET", "/v1/invoices/"+want, m.key, nil).json(t)
			if !reflect.DeepEqual(got, one) {
				t.Fatalf("list entry %d:\n%v\nGET:\n%v", i, got, one)
			}
		}
		// The payment counts: the listed option's remaining amount is one atomic unit less.
		lo := data[1].(map[string]any)["payment_options"].([]any)[0].(map[string]any)
		due, _ := new(big.Int).SetString(lo["amount_due_atomic"].(string), 10)
		if want := due.Sub(due, big.NewInt(1)).String(); lo["amount_remaining_atomic"] != want {
			t.Fatalf("listed option %v: remaining %v, want %s (the payment is missing)", lo["id"], lo["amount_remaining_atomic"], want)
		}
	})
}
