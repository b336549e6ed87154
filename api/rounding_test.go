package api_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// TestOneRoundingRule: for random payments, the fiat value the API shows for a payment
// (amount_fiat), the gross of its ledger record and the gross of its export row are the
// same string: ledger.PaymentFiat, rounded once. The invoice's amount_paid is their sum.
func TestOneRoundingRule(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backends()[0])
	ctx := context.Background()
	m := e.newMerchant("R")
	rng := rand.New(rand.NewPCG(20, 26))
	for round := range 5 {
		r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": fmt.Sprintf("%d.%02d", 1+rng.IntN(500), rng.IntN(100)),
			"currency": "USD", "expires_in": 3600})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		var d struct {
			inv  store.Invoice
			opt  store.PaymentOption
			pays []store.Payment
		}
		now := time.Now().UTC()
		if err := e.st.Tx(ctx, func(tx store.Tx) error {
			var err error
			if d.inv, err = tx.GetInvoice(ctx, "", id); err != nil {
				return err
			}
			opts, err := tx.PaymentOptions(ctx, id)
			if err != nil {
				return err
			}
			d.opt = opts[0]
			for i := range 4 {
				p := store.Payment{ID: fmt.Sprintf("pay_r%d_%d", round, i), InvoiceID: id, OptionID: d.opt.ID, Chain: d.opt.Chain,
					TxID: fmt.Sprintf("tx_r%d_%d", round, i), Address: d.opt.Address, Asset: d.opt.Asset,
					Amount: big.NewInt(1 + rng.Int64N(d.opt.AmountDue.Int64())), Status: store.PaymentMempool, SeenAt: now, UpdatedAt: now}
				if _, err := tx.UpsertPayment(ctx, p); err != nil {
					return err
				}
				d.pays = append(d.pays, p)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		api := map[string]string{}
		for _, p := range e.do("GET", "/v1/invoices/"+id+"/payments", m.key, nil).json(t)["data"].([]any) {
			p := p.(map[string]any)
			api[p["id"].(string)] = p["amount_fiat"].(string)
		}
		recs, err := ledger.SettlementRecords(ledger.Settlement{Invoice: d.inv, Option: d.opt, Payments: d.pays, SettledAt: now})
		if err != nil {
			t.Fatal(err)
		}
		journal := ledger.NewJournal(e.st, nil)
		for _, rec := range recs {
			if _, err := journal.Post(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		rows := map[string]string{}
		p, err := export.ParsePeriod(now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		if err := export.New(e.st, export.Config{}).Rows(ctx, export.Query{MerchantID: m.id, Period: p, Format: export.FormatCSV},
			func(r *export.Row) error { rows[r.Get("payment_id")] = r.Get("gross"); return nil }); err != nil {
			t.Fatal(err)
		}
		sum := new(big.Int)
		for _, rec := range recs {
			fiat, err := ledger.PaymentFiat(d.inv, d.opt, rec.Original.Amount)
			if err != nil {
				t.Fatal(err)
			}
			sum.Add(sum, fiat)
			want := money.FormatAmount(fiat, 2)
			if got := money.FormatAmount(rec.Gross, 2); got != want || api[rec.SourceID] != want || rows[rec.SourceID] != want {
				t.Fatalf("payment %s of %s sats at %s: PaymentFiat %s, API %s, ledger %s, export %s", rec.SourceID,
					rec.Original.Amount, d.opt.Rate, want, api[rec.SourceID], got, rows[rec.SourceID])
			}
		}
		if got := e.do("GET", "/v1/invoices/"+id, m.key, nil).json(t)["amount_paid"]; got != money.FormatAmount(sum, 2) {
			t.Fatalf("amount_paid %v, want the sum of the payments' values %s", got, money.FormatAmount(sum, 2))
		}
	}
}
