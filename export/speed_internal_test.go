package export

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
)

func benchRecord(b testing.TB) store.LedgerRecord {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := int64(871203)
	recs, err := ledger.SettlementRecords(ledger.Settlement{
		Invoice: store.Invoice{ID: "inv_A", MerchantID: "sto_x", Currency: "USD", Price: big.NewInt(2500), OrderID: "1001"},
		Option: store.PaymentOption{ID: "opt_A", InvoiceID: "inv_A", Asset: "BTC", Scale: 8, Chain: "bitcoin",
			Rate: "64123.45", RateSource: "median(coinbase,kraken)", RateAt: t0},
		Payments: []store.Payment{{ID: "pay_0000000001", InvoiceID: "inv_A", OptionID: "opt_A", Chain: "bitcoin",
			TxID: "abababababababababababababababababababababababababababab0000000001", OutputIndex: 1,
			Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Amount: big.NewInt(38987), BlockHeight: &h,
			BlockHash: "00000000000000000001c2f1a7c4e6a3d2b1f0e9d8c7b6a5f4e3d2c1b0a99887", SeenAt: t0}},
		Tip: 871204, Fee: ledger.FeePolicy{BasisPoints: 100},
		FairValues: map[string]ledger.Rate{"pay_0000000001": {Rate: "64200.00", Source: "coinbase", At: t0}},
		SettledAt:  t0,
	})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := recs[0].Encode()
	sum := sha256.Sum256(p)
	r := recs[0]
	stored, err := ledger.ParseRecord(p)
	if err != nil {
		b.Fatal(err)
	}
	return store.LedgerRecord{ID: "lgr_1", IdempotencyKey: r.IdempotencyKey, MerchantID: r.MerchantID, SourceType: r.SourceType,
		SourceID: r.SourceID, ReportingCategory: r.ReportingCategory, Currency: r.Currency, Gross: r.Gross, Fee: r.Fee, Net: r.Net,
		OccurredAt: t0, Payload: string(p), PayloadHash: sum[:], CreatedAt: t0, Projection: stored.Flat(hex.EncodeToString(sum[:]))}
}

// TestProjectionRowsEqualPayloadRows: a journal row exported from its projection gives the
// very row (every format's input) its payload gives; a projection made from another payload
// is an error, and one this version cannot read falls back to the payload.
func TestProjectionRowsEqualPayloadRows(t *testing.T) {
	t.Parallel()
	l := benchRecord(t)
	fromFlat, err := buildRow(l)
	if err != nil {
		t.Fatal(err)
	}
	bare := l
	bare.Projection = ""
	fromPayload, err := buildRow(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFlat, fromPayload) {
		t.Fatalf("from the projection:\n%+v\nfrom the payload:\n%+v", fromFlat, fromPayload)
	}
	other := l
	other.Projection = strings.Replace(l.Projection, hex.EncodeToString(l.PayloadHash), strings.Repeat("00", 32), 1)
	if _, err := buildRow(other); err == nil || !strings.Contains(err.Error(), "projection names payload") {
		t.Fatalf("projection of another payload: %v", err)
	}
	foreign := l
	foreign.Projection = "2:f9" + l.Projection[4:]
	if r, err := buildRow(foreign); err != nil || !reflect.DeepEqual(r, fromPayload) {
		t.Fatalf("foreign projection: %v", err)
	}
}

func BenchmarkBuildRow(b *testing.B) {
	l := benchRecord(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildRow(l); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteRow(b *testing.B) {
	l := benchRecord(b)
	r, _ := buildRow(l)
	w := newRowWriter(FormatCSV, io.Discard, "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.row(&r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	l := benchRecord(b)
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256([]byte(l.Payload))
	}
}
