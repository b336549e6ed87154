package api_test

import (
	"context"
	"log/slog"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
)

// TestLedgerVerify: GET /v1/ledger/verify lists a payment whose books differ from the
// invariant (settled without its ledger records) with what was expected, enqueued and
// booked, only to its own store; once the records are enqueued and delivered it reports ok.
func TestLedgerVerify(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.newMerchant("A"), e.newMerchant("B")
		r := e.do("POST", "/v1/invoices", a.key, map[string]any{"amount": "25.00", "currency": "USD"})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		inv := r.json(t)
		id := inv["id"].(string)
		opt := inv["payment_options"].([]any)[0].(map[string]any)
		due, _ := new(big.Int).SetString(opt["amount_due_atomic"].(string), 10)
		// The payment confirms and the invoice settles through a service without a settler:
		// the books miss it.
		plain, err := invoices.New(e.st, invoices.Config{Chains: map[string]invoices.Chain{"testchain": testChain{}}, Quoter: e.quoter})
		if err != nil {
			t.Fatal(err)
		}
		h := int64(7)
		now := time.Now().UTC()
		review := func(svc *invoices.Service) {
			t.Helper()
			if err := e.st.Tx(ctx, func(tx store.Tx) error {
				if _, err := tx.UpsertPayment(ctx, store.Payment{ID: "pay_v", InvoiceID: id, OptionID: opt["id"].(string), Chain: "testchain",
					TxID: "tx_v", Address: opt["address"].(string), Asset: "TBTC", Amount: due, Status: store.PaymentConfirmed,
					BlockHeight: &h, BlockHash: "b7", SeenAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				if err := tx.SetCursor(ctx, store.Cursor{Chain: "testchain", Height: h, Hash: "b7", UpdatedAt: now}); err != nil {
					return err
				}
				_, err := svc.ReviewTx(ctx, tx, id)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		review(plain)
		v := e.do("GET", "/v1/ledger/verify", a.key, nil)
		body := v.json(t)
		diffs := body["differences"].([]any)
		if v.status != 200 || body["ok"] != false || len(diffs) != 1 {
			t.Fatalf("verify: %d %s", v.status, v.body)
		}
		d := diffs[0].(map[string]any)
		if d["payment_id"] != "pay_v" || d["invoice_id"] != id || d["expected"].(map[string]any)["applied"] != "25.00" ||
			d["booked"].(map[string]any)["applied"] != "0.00" || d["enqueued"].(map[string]any)["applied"] != "0.00" {
			t.Fatalf("difference: %v", d)
		}
		if o := e.do("GET", "/v1/ledger/verify", b.key, nil).json(t); o["ok"] != true {
			t.Fatalf("B sees A's payment: %v", o)
		}
		// The settler catches up on the next review; the relay delivers to the journal.
		withBooks, err := invoices.New(e.st, invoices.Config{Chains: map[string]invoices.Chain{"testchain": testChain{}}, Quoter: e.quoter,
			Settler: &ledger.Settler{}})
		if err != nil {
			t.Fatal(err)
		}
		review(withBooks)
		if o := e.do("GET", "/v1/ledger/verify?against=outbox", a.key, nil).json(t); o["ok"] != true || o["against"] != "outbox" {
			t.Fatalf("against the outbox: %v", o)
		}
		relay, err := ledger.NewRelay(e.st, ledger.NewJournal(e.st, nil), ledger.RelayConfig{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := relay.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("relay: %d %v", n, err)
		}
		if o := e.do("GET", "/v1/ledger/verify", a.key, nil).json(t); o["ok"] != true {
			t.Fatalf("after delivery: %v", o)
		}
		problem(t, "against=x", e.do("GET", "/v1/ledger/verify?against=x", a.key, nil), 400, "against", "")
		problem(t, "without exports:read", e.do("GET", "/v1/ledger/verify", e.addKey(a, apikey.InvoicesRead), nil), 403, "", apikey.ExportsRead)
	})
}
