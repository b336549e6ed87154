package ledger

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"
)

// stripeCSV is shaped like Stripe's itemized balance change report (Reporting API column
// names; amounts in major units).
const stripeCSV = "\ufeffbalance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description\n" +
	"txn_1A,2026-11-01 10:00:00,2026-11-03 00:00:00,usd,25.00,1.03,23.97,charge,ch_1A,Order 1001\n" +
	"txn_1B,2026-11-02 11:30:00,2026-11-04 00:00:00,usd,-10.00,0.00,-10.00,refund,re_1B,\"Refund, order 1001\"\n" +
	"txn_1C,2026-11-03 09:15:00,2026-11-05 00:00:00,usd,-15.00,0.00,-15.00,dispute,dp_1C,Chargeback\n" +
	"txn_1D,2026-11-04 09:15:00,2026-11-06 00:00:00,jpy,1000,36,964,charge,ch_1D,Zero-decimal currency\n"

const stripeJSON = `{
  "object": "list",
  "url": "/v1/balance_transactions",
  "has_more": false,
  "data": [
    {
      "id": "txn_3N", "object": "balance_transaction", "amount": 1234, "available_on": 1764000000,
      "created": 1763900000, "currency": "usd", "description": "Payment from EUR",
      "exchange_rate": 1.0567, "fee": 66, "net": 1168, "reporting_category": "charge",
      "source": {"id": "ch_3N", "object": "charge"}, "status": "available", "type": "charge",
      "fee_details": [
        {"amount": 36, "application": null, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee"},
        {"amount": 30, "application": null, "currency": "usd", "description": "Currency conversion", "type": "stripe_fee"}
      ]
    },
    {
      "id": "txn_3O", "object": "balance_transaction", "amount": -500, "available_on": 1764000000,
      "created": 1763900100, "currency": "usd", "description": null, "exchange_rate": null,
      "fee": 0, "net": -500, "reporting_category": "refund", "source": "re_3O", "status": "pending",
      "type": "refund", "fee_details": []
    }
  ]
}`

func TestParseStripeCSV(t *testing.T) {
	t.Parallel()
	recs, err := ParseStripeCSV(strings.NewReader(stripeCSV), "sto_a")
	must(t, err)
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.IdempotencyKey != "card:stripe:txn_1A" || r.SourceType != SourceCardCharge || r.SourceID != "ch_1A" ||
		r.ReportingCategory != "charge" || r.Currency != "USD" || r.Gross.Int64() != 2500 || r.Fee.Int64() != 103 ||
		r.Net.Int64() != 2397 || !r.OccurredAt.Equal(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)) || r.Description != "Order 1001" {
		t.Fatalf("row 1: %+v", r)
	}
	if r := recs[1]; r.Gross.Int64() != -1000 || r.Net.Int64() != -1000 || r.ReportingCategory != "refund" || r.Description != "Refund, order 1001" {
		t.Fatalf("refund: %+v", r)
	}
	// A refund moves money out of the balance: credit balance, debit revenue.
	if p := recs[1].Postings[0]; p.Account != AccountRevenue("sto_a", SourceCardCharge) || p.Direction != Debit || p.Amount.Int64() != 1000 {
		t.Fatalf("refund postings: %+v", recs[1].Postings)
	}
	if r := recs[3]; r.Currency != "JPY" || r.Gross.Int64() != 1000 || r.Postings[0].Asset != "JPY/0" {
		t.Fatalf("JPY: %+v", r)
	}
	// The API field names work too, with Unix times.
	alt := "id,type,source,amount,fee,net,currency,created,description\n" +
		"txn_9,charge,ch_9,5.00,0.45,4.55,eur,1763900000,x\n"
	recs, err = ParseStripeCSV(strings.NewReader(alt), "sto_a")
	must(t, err)
	if len(recs) != 1 || recs[0].Gross.Int64() != 500 || recs[0].ReportingCategory != "charge" || recs[0].OccurredAt.Unix() != 1763900000 {
		t.Fatalf("alt header: %+v", recs)
	}
}

func TestParseStripeCSVRejects(t *testing.T) {
	t.Parallel()
	h := "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
	tests := []struct{ name, in, want string }{
		{"missing column", "id,amount,fee,net,currency,created\n", "no category column"},
		{"net mismatch", h + "txn_1,2026-11-01 10:00:00,usd,25.00,1.00,23.00,charge\n", "net 2300 is not gross 2500 minus fee 100"},
		{"too precise", h + "txn_1,2026-11-01 10:00:00,usd,25.001,0.00,25.001,charge\n", "line 2: gross"},
		{"float syntax", h + "txn_1,2026-11-01 10:00:00,usd,2.5e1,0.00,25.00,charge\n", "gross"},
		{"bad currency", h + "txn_1,2026-11-01 10:00:00,zzz,25.00,0.00,25.00,charge\n", "currency"},
		{"bad time", h + "txn_1,yesterday,usd,25.00,0.00,25.00,charge\n", "created"},
		{"empty id", h + ",2026-11-01 10:00:00,usd,25.00,0.00,25.00,charge\n", "id is empty"},
		{"bad category", h + "txn_1,2026-11-01 10:00:00,usd,25.00,0.00,25.00,Charge Back!\n", "reporting_category"},
		{"empty", "", "header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStripeCSV(strings.NewReader(tc.in), "sto_a")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseStripeJSON(t *testing.T) {
	t.Parallel()
	recs, err := ParseStripeJSON([]byte(stripeJSON), "sto_a")
	must(t, err)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.IdempotencyKey != "card:stripe:txn_3N" || r.SourceID != "ch_3N" || r.Gross.Int64() != 1234 || r.Fee.Int64() != 66 ||
		len(r.FeeDetails) != 2 || r.FeeDetails[1].Amount.Int64() != 30 || r.ExchangeRate == nil || r.ExchangeRate.Rate != "1.0567" ||
		r.OccurredAt.Unix() != 1763900000 {
		t.Fatalf("charge: %+v", r)
	}
	if r := recs[1]; r.SourceID != "re_3O" || r.Net.Int64() != -500 || r.Description != "" || r.ExchangeRate != nil {
		t.Fatalf("refund: %+v", r)
	}
	// A bare array is accepted too.
	arr := `[{"id":"txn_1","amount":100,"fee":0,"net":100,"currency":"usd","created":1,"reporting_category":"charge","source":"ch_1"}]`
	recs, err = ParseStripeJSON([]byte(arr), "sto_a")
	must(t, err)
	if len(recs) != 1 || recs[0].Gross.Cmp(big.NewInt(100)) != 0 {
		t.Fatalf("array: %+v", recs)
	}
}

func TestParseStripeJSONRejects(t *testing.T) {
	t.Parallel()
	item := func(s string) string { return `{"object":"list","data":[` + s + `]}` }
	tests := []struct{ name, in, want string }{
		{"not a list", `{"object":"charge"}`, "expected a list"},
		{"float amount", item(`{"id":"t","amount":1.5,"fee":0,"net":1.5,"currency":"usd","created":1,"reporting_category":"charge"}`), "integer string"},
		{"net mismatch", item(`{"id":"t","amount":100,"fee":1,"net":100,"currency":"usd","created":1,"reporting_category":"charge"}`), "net 100"},
		{"fee details mismatch", item(`{"id":"t","amount":100,"fee":2,"net":98,"currency":"usd","created":1,"reporting_category":"charge","fee_details":[{"amount":1,"currency":"usd","type":"stripe_fee"}]}`), "fee_details add up to 1"},
		{"fee detail currency", item(`{"id":"t","amount":100,"fee":1,"net":99,"currency":"usd","created":1,"reporting_category":"charge","fee_details":[{"amount":1,"currency":"eur","type":"stripe_fee"}]}`), "differs"},
		{"wrong object", item(`{"id":"t","object":"charge"}`), "not a balance_transaction"},
		{"bad created", item(`{"id":"t","amount":1,"fee":0,"net":1,"currency":"usd","created":"soon","reporting_category":"charge"}`), "created"},
		{"bad source", item(`{"id":"t","amount":1,"fee":0,"net":1,"currency":"usd","created":1,"reporting_category":"charge","source":5}`), "source"},
		{"garbage", `nope`, "stripe json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStripeJSON([]byte(tc.in), "sto_a")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// checkParsed asserts what every successfully parsed card record must satisfy.
func checkParsed(t *testing.T, recs []Record) {
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			t.Fatalf("parser returned an invalid record: %v", err)
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("encoded card record does not parse: %v", err)
		}
		b2, _ := back.Encode()
		if !bytes.Equal(b, b2) {
			t.Fatal("card record encoding is not stable")
		}
	}
}

func FuzzParseStripeCSV(f *testing.F) {
	f.Add(stripeCSV)
	f.Add("id,amount,fee,net,currency,created,type\nt,1.00,0.00,1.00,usd,1,charge\n")
	f.Add("id,amount\n\"unterminated")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := ParseStripeCSV(strings.NewReader(in), "sto_a")
		if err != nil {
			return
		}
		checkParsed(t, recs)
	})
}

func FuzzParseStripeJSON(f *testing.F) {
	f.Add([]byte(stripeJSON))
	f.Add([]byte(`[{"id":"t","amount":1,"fee":0,"net":1,"currency":"usd","created":1,"reporting_category":"charge"}]`))
	f.Add([]byte(`{"object":"list","data":[{"exchange_rate":1e-300}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := ParseStripeJSON(in, "sto_a")
		if err != nil {
			return
		}
		checkParsed(t, recs)
	})
}
