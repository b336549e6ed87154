package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC)
	// asOf is after every fixture record was stored.
	asOf = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
)

const mid = "sto_golden"

// fixtureRecords are the ledger records of the golden files: a BTC settlement (with a fair
// value and an order id a spreadsheet would evaluate), a USDC invoice paid in two
// transactions settled at the same instant, the reversal of the BTC settlement after a
// reorg, an unapplied receipt and its clearing, Stripe card rows (a charge, a refund, a EUR charge) with hostile descriptions, and
// a card row after the period.
func fixtureRecords(t testing.TB) []ledger.Record {
	t.Helper()
	h := func(v int64) *int64 { return &v }
	btc, err := ledger.SettlementRecords(ledger.Settlement{
		Invoice: store.Invoice{ID: "inv_A", MerchantID: mid, Currency: "USD", Price: big.NewInt(2500), OrderID: "=SUM(A1:A9)"},
		Option: store.PaymentOption{ID: "opt_A", InvoiceID: "inv_A", Asset: "BTC", Scale: 8, Chain: "bitcoin",
			Rate: "64123.45", RateSource: "median(coinbase,kraken)", RateAt: t0},
		Payments: []store.Payment{{ID: "pay_A", InvoiceID: "inv_A", OptionID: "opt_A", Chain: "bitcoin",
			TxID: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90", OutputIndex: 1,
			Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Amount: big.NewInt(38987), BlockHeight: h(871203),
			BlockHash: "00000000000000000001c2f1a7c4e6a3d2b1f0e9d8c7b6a5f4e3d2c1b0a99887", SeenAt: t0.Add(time.Minute)}},
		Tip:        871204,
		Fee:        ledger.FeePolicy{BasisPoints: 100},
		FairValues: map[string]ledger.Rate{"pay_A": {Rate: "64200.00", Source: "coinbase", At: t0.Add(time.Minute)}},
		SettledAt:  t0.Add(10 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	usdc, err := ledger.SettlementRecords(ledger.Settlement{
		Invoice: store.Invoice{ID: "inv_B", MerchantID: mid, Currency: "USD", Price: big.NewInt(10000), OrderID: "1002"},
		Option: store.PaymentOption{ID: "opt_B", InvoiceID: "inv_B", Asset: "USDC", Scale: 6, Chain: "ethereum",
			Contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", Rate: "1.000000", RateSource: "peg", RateAt: t0},
		Payments: []store.Payment{
			{ID: "pay_B1", InvoiceID: "inv_B", OptionID: "opt_B", Chain: "ethereum", TxID: "0x" + strings.Repeat("b1", 32),
				OutputIndex: 7, Address: "0x1111111111111111111111111111111111111111", Amount: big.NewInt(60_000000),
				BlockHeight: h(21000000), BlockHash: "0x" + strings.Repeat("c1", 32), SeenAt: t0.Add(time.Hour)},
			{ID: "pay_B2", InvoiceID: "inv_B", OptionID: "opt_B", Chain: "ethereum", TxID: "0x" + strings.Repeat("b2", 32),
				OutputIndex: 0, Address: "0x1111111111111111111111111111111111111111", Amount: big.NewInt(40_000000),
				BlockHeight: h(21000003), BlockHash: "0x" + strings.Repeat("c2", 32), SeenAt: t0.Add(time.Hour + time.Minute)},
		},
		Tip:       21000014,
		Fee:       ledger.FeePolicy{BasisPoints: 100, Fixed: big.NewInt(30)},
		SettledAt: t0.Add(2 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := ledger.Reversal(btc[0], t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cards, err := ledger.ParseStripeCSV(strings.NewReader(
		"id,amount,fee,net,currency,created,reporting_category,source,description\n"+
			"txn_1,50.00,1.75,48.25,usd,2026-11-10 12:00:00,charge,ch_1,\"@SUM(1+1)*cmd|' /C calc'!A0\"\n"+
			"txn_2,-20.00,0.00,-20.00,usd,2026-11-10 13:00:00,refund,re_1,\"-refund, for \"\"order\"\" 7\"\n"+
			"txn_3,10.00,0.59,9.41,eur,2026-11-10 14:00:00,charge,ch_3,\"Tab\tinside, line\nbreak\"\n"+
			"txn_4,99.00,0.00,99.00,usd,2026-11-13 10:00:00,charge,ch_4,after the period\n"), mid)
	if err != nil {
		t.Fatal(err)
	}
	// Money paid to an expired invoice: an unapplied receipt, cleared when the merchant
	// accepted it.
	unapplied, err := ledger.UnappliedRecords(ledger.Settlement{
		Invoice: store.Invoice{ID: "inv_C", MerchantID: mid, Currency: "USD", Price: big.NewInt(1500)},
		Option: store.PaymentOption{ID: "opt_C", InvoiceID: "inv_C", Asset: "BTC", Scale: 8, Chain: "bitcoin",
			Rate: "64123.45", RateSource: "median(coinbase,kraken)", RateAt: t0},
		Payments: []store.Payment{{ID: "pay_C", InvoiceID: "inv_C", OptionID: "opt_C", Chain: "bitcoin",
			TxID: strings.Repeat("c3", 32), OutputIndex: 0, Address: "bc1qexpired", Amount: big.NewInt(23393),
			BlockHeight: h(871210), BlockHash: strings.Repeat("0c", 32), SeenAt: t0.Add(4 * time.Hour)}},
		Tip: 871211, SettledAt: t0.Add(4*time.Hour + time.Minute),
	}, ledger.ReasonInvoiceExpired)
	if err != nil {
		t.Fatal(err)
	}
	cleared, err := ledger.Reversal(unapplied[0], t0.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cleared.Metadata["reversal_reason"] = ledger.ReasonResolvedSettled
	out := append(btc, usdc...)
	out = append(out, rev, unapplied[0], cleared)
	return append(out, cards...)
}

// insertRecords stores recs the way ledger.Journal.Post does (canonical payload, its
// SHA-256, postings), but with deterministic ids lgr_0001, ... so that the order of records
// settled at the same instant, and the golden files, are stable. Each record is stored a
// minute after it occurred.
func insertRecords(t testing.TB, st store.Store, recs []ledger.Record) {
	t.Helper()
	err := st.Tx(ctx, func(tx store.Tx) error {
		for i, rec := range recs {
			row := journalRow(t, rec)
			row.ID = "lgr_" + pad4(i+1)
			if _, err := tx.InsertLedgerRecord(ctx, row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func journalRow(t testing.TB, rec ledger.Record) store.LedgerRecord {
	t.Helper()
	payload, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	row := store.LedgerRecord{IdempotencyKey: rec.IdempotencyKey, MerchantID: rec.MerchantID,
		SourceType: rec.SourceType, SourceID: rec.SourceID, ReportingCategory: rec.ReportingCategory,
		Currency: rec.Currency, Gross: rec.Gross, Fee: rec.Fee, Net: rec.Net, OccurredAt: rec.OccurredAt,
		Payload: string(payload), PayloadHash: sum[:], CreatedAt: rec.OccurredAt.Add(time.Minute)}
	for _, p := range rec.Postings {
		row.Postings = append(row.Postings, store.LedgerPosting{Account: p.Account, Asset: p.Asset, Amount: p.Amount, Direction: p.Direction})
	}
	return row
}

func pad4(n int) string {
	s := "000" + itoa(n)
	return s[len(s)-4:]
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func createMerchant(t testing.TB, st store.Store, id string) {
	t.Helper()
	err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateMerchant(ctx, store.Merchant{ID: id, Name: id, CreatedAt: t0.Add(-24 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a store holding the golden records.
type fixture struct {
	st store.Store
	ex *export.Exporter
}

func setup(t testing.TB, b storetest.Backend, pageSize int) fixture {
	t.Helper()
	st := b.Open(t)
	createMerchant(t, st, mid)
	createMerchant(t, st, "sto_other")
	insertRecords(t, st, fixtureRecords(t))
	return fixture{st: st, ex: export.New(st, export.Config{PageSize: pageSize, Now: func() time.Time { return asOf }})}
}

// period is the golden files' period: 10 and 11 November 2026 (to is an inclusive date).
func period(t testing.TB) export.Period {
	t.Helper()
	p, err := export.ParsePeriod("2026-11-10", "2026-11-11")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t testing.TB, ex *export.Exporter, q export.Query) (string, export.Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := ex.Write(ctx, &buf, q)
	if err != nil {
		t.Fatalf("export %s: %v", q.Format, err)
	}
	return buf.String(), sum
}
