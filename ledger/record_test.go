package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// cryptoRecord is a valid crypto settlement record built by hand (not by the builder), so
// the validation tests do not depend on it.
func cryptoRecord() Record {
	m := "sto_a"
	n := func(v int64) *big.Int { return big.NewInt(v) }
	return Record{
		IdempotencyKey: "crypto_payment:pay_1:settled", MerchantID: m, SourceType: SourceCryptoPayment, SourceID: "pay_1",
		ReportingCategory: CategoryCharge, Currency: "USD", Gross: n(2500), Fee: n(25), Net: n(2475),
		FeeDetails:   []FeeDetail{{Type: "processing_fee", Amount: n(25)}},
		Original:     &Original{Asset: "BTC/8@bitcoin", Amount: n(38987), Scale: 8},
		ExchangeRate: &ExchangeRate{Rate: "64123.450000000000000000", Source: "median", At: t0},
		FairValue:    &FairValue{Rate: "64000", Source: "coinbase", At: t0, Amount: n(2495)},
		OccurredAt:   t0,
		Chain:        &ChainEvidence{Chain: "bitcoin", TxID: "ab", OutputIndex: 1, BlockHeight: 10, Confirmations: 1},
		Postings: []Posting{
			{Account: AccountBalance(m), Asset: "USD/2", Amount: n(2475), Direction: Debit},
			{Account: AccountRevenue(m, SourceCryptoPayment), Asset: "USD/2", Amount: n(2475), Direction: Credit},
			{Account: AccountFees(m), Asset: "USD/2", Amount: n(25), Direction: Debit},
			{Account: AccountRevenue(m, SourceCryptoPayment), Asset: "USD/2", Amount: n(25), Direction: Credit},
			{Account: AccountWallet(m, "bitcoin"), Asset: "BTC/8@bitcoin", Amount: n(38987), Direction: Debit},
			{Account: AccountWorld, Asset: "BTC/8@bitcoin", Amount: n(38987), Direction: Credit},
		},
		Metadata: map[string]string{"invoice_id": "inv_1"},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := cryptoRecord().Validate(); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(r *Record)
		want   string
	}{
		{"no key", func(r *Record) { r.IdempotencyKey = "" }, "idempotency_key"},
		{"key with newline", func(r *Record) { r.IdempotencyKey = "a\nb" }, "idempotency_key"},
		{"no merchant", func(r *Record) { r.MerchantID = "" }, "merchant_id"},
		{"bad source type", func(r *Record) { r.SourceType = "Crypto Payment" }, "source_type"},
		{"no source id", func(r *Record) { r.SourceID = "" }, "source_id"},
		{"no category", func(r *Record) { r.ReportingCategory = "" }, "reporting_category"},
		{"no time", func(r *Record) { r.OccurredAt = time.Time{} }, "occurred_at"},
		{"unknown currency", func(r *Record) { r.Currency = "XXY" }, "currency"},
		{"nil gross", func(r *Record) { r.Gross = nil }, "gross is required"},
		{"net not gross minus fee", func(r *Record) { r.Net = big.NewInt(2476) }, "net 2476 is not gross 2500 minus fee 25"},
		{"fee details do not add up", func(r *Record) { r.FeeDetails[0].Amount = big.NewInt(24) }, "fee_details add up to 24"},
		{"too many digits", func(r *Record) {
			r.Gross = new(big.Int).Exp(big.NewInt(10), big.NewInt(80), nil)
		}, "more than 78 digits"},
		{"original without rate", func(r *Record) { r.ExchangeRate = nil }, "exchange_rate"},
		{"rate with exponent", func(r *Record) { r.ExchangeRate.Rate = "6.4e4" }, "plain decimal"},
		{"zero rate", func(r *Record) { r.ExchangeRate.Rate = "0.00" }, "must be positive"},
		{"scale mismatch", func(r *Record) { r.Original.Scale = 6 }, "original.scale 6"},
		{"bad asset", func(r *Record) { r.Original.Asset = "BTC" }, "original.asset"},
		{"crypto without chain", func(r *Record) { r.Chain = nil }, "chain evidence"},
		{"negative confirmations", func(r *Record) { r.Chain.Confirmations = -1 }, "not negative"},
		{"output index below -1", func(r *Record) { r.Chain.OutputIndex = -2 }, "output_index must be -1 or more"},
		{"unbalanced postings", func(r *Record) { r.Postings[5].Amount = big.NewInt(38986) }, "BTC/8@bitcoin do not balance: debits − credits = 1"},
		{"zero posting", func(r *Record) { r.Postings[0].Amount = big.NewInt(0) }, "must be positive"},
		{"bad direction", func(r *Record) { r.Postings[0].Direction = "left" }, "direction"},
		{"bad account", func(r *Record) { r.Postings[0].Account = "a b" }, "account"},
		{"no postings", func(r *Record) { r.Postings = nil }, "postings are required"},
		{"long metadata key", func(r *Record) { r.Metadata[strings.Repeat("k", 41)] = "v" }, "metadata key"},
		{"fair value without amount", func(r *Record) { r.FairValue.Amount = nil }, "fair_value.amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cryptoRecord()
			tc.mutate(&r)
			err := r.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid mentioning %q", err, tc.want)
			}
			if _, err := r.Encode(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode of an invalid record: got %v", err)
			}
		})
	}
}

func TestEncodeIsCanonical(t *testing.T) {
	t.Parallel()
	r := cryptoRecord()
	b, err := r.Encode()
	must(t, err)
	// Keys sorted at every level, compact, amounts as strings.
	if !bytes.HasPrefix(b, []byte(`{"chain":{"block_height":10,"chain":"bitcoin","confirmations":1,"output_index":1,"txid":"ab"},"currency":"USD","exchange_rate":{"at":"2026-11-25T12:00:00.000000Z"`)) {
		t.Fatalf("not canonical: %s", b)
	}
	for _, s := range []string{`"gross":"2500"`, `"net":"2475"`, `"amount":"38987"`, `"scale":8`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("encoding lacks %s: %s", s, b)
		}
	}
	// Parsing and re-encoding gives the same bytes, also from a non-canonical input.
	var generic map[string]any
	must(t, json.Unmarshal(b, &generic))
	pretty, _ := json.MarshalIndent(generic, "", "  ")
	back, err := ParseRecord(pretty)
	must(t, err)
	b2, err := back.Encode()
	must(t, err)
	if !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs:\n%s\n%s", b, b2)
	}
	h1, _ := r.Hash()
	h2, _ := back.Hash()
	if h1 != h2 || len(h1) != 64 {
		t.Fatalf("hashes %s %s", h1, h2)
	}
	// A different amount changes the hash.
	r.Gross, r.Net = big.NewInt(2501), big.NewInt(2476)
	r.Postings[0].Amount, r.Postings[1].Amount = big.NewInt(2476), big.NewInt(2476)
	if h3, _ := r.Hash(); h3 == h1 {
		t.Fatal("hash ignores the amount")
	}
	// Times in other zones encode as the same UTC instant.
	r = cryptoRecord()
	r.OccurredAt = t0.In(time.FixedZone("X", 3600))
	b3, _ := r.Encode()
	if !bytes.Equal(b, b3) {
		t.Fatal("time zone changes the encoding")
	}
}

func TestParseRecordRejects(t *testing.T) {
	t.Parallel()
	good, err := cryptoRecord().Encode()
	must(t, err)
	tests := []struct{ name, in, want string }{
		{"unknown field", strings.Replace(string(good), `"currency"`, `"extra":1,"currency"`, 1), "unknown field"},
		{"amount as number", strings.Replace(string(good), `"gross":"2500"`, `"gross":2500`, 1), "gross"},
		{"leading zero", strings.Replace(string(good), `"gross":"2500"`, `"gross":"02500"`, 1), "integer string"},
		{"decimal amount", strings.Replace(string(good), `"gross":"2500"`, `"gross":"25.00"`, 1), "integer string"},
		{"negative zero", strings.Replace(string(good), `"fee":"25"`, `"fee":"-0"`, 1), "integer string"},
		{"bad time", strings.Replace(string(good), `"occurred_at":"2026-11-25T12:00:00.000000Z"`, `"occurred_at":"yesterday"`, 1), "RFC 3339"},
		{"trailing data", string(good) + `{}`, "trailing"},
		{"not json", `{`, "decode"},
		{"invalid after parse", strings.Replace(string(good), `"net":"2475"`, `"net":"2474"`, 1), "net 2474"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRecord([]byte(tc.in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	good, _ := cryptoRecord().Encode()
	f.Add(good)
	rev, _ := Reversal(cryptoRecord(), t0)
	b, _ := rev.Encode()
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"gross":"-1","fee":"0","net":"-1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// Whatever parses is valid, and its encoding is a fixed point.
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("parsed record does not encode: %v", err)
		}
		r2, err := ParseRecord(enc)
		if err != nil {
			t.Fatalf("own encoding does not parse: %v\n%s", err, enc)
		}
		enc2, _ := r2.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
	})
}
