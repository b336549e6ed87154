package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the SQLite run")

// TestGolden exports the fixture in every format on both backends; each output must equal
// testdata/<format>.golden byte for byte, so both backends produce identical files.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t, b, 2) // small pages: the golden output crosses many page boundaries
			for _, f := range export.Formats() {
				q := export.Query{MerchantID: mid, Period: period(t), Format: f}
				if f == export.FormatQuickBooks || f == export.FormatXero {
					q.Currency = "USD"
				}
				got, _ := run(t, fx.ex, q)
				path := filepath.Join("testdata", string(f)+".golden")
				if *update && b.Name == "sqlite" {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./export -run TestGolden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s export differs from %s:\n--- got\n%s\n--- want\n%s", f, path, got, want)
				}
			}
		})
	}
}

// TestPagingIsInvisible: page sizes from 1 (a keyset query per record, across records
// settled at the same instant) to larger than the period give identical output.
func TestPagingIsInvisible(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t, b, 1000)
			q := export.Query{MerchantID: mid, Period: period(t), Format: export.FormatCSV}
			want, sum := run(t, fx.ex, q)
			if sum.Records != 9 || sum.Lines != 9 { // the card row after the period is left out
				t.Fatalf("summary %+v, want 9 records and 9 lines", sum)
			}
			for _, size := range []int{1, 2, 3, 7, 8, 9, 10, 11} {
				ex := export.New(fx.st, export.Config{PageSize: size, Now: func() time.Time { return asOf }})
				if got, _ := run(t, ex, q); got != want {
					t.Errorf("page size %d:\n%s\nwant\n%s", size, got, want)
				}
			}
		})
	}
}

// TestCanonicalCSVAndJSONLAgree: the JSON Lines export has exactly the CSV header's keys, in
// order, and the same values (before the spreadsheet guard, which JSON does not need).
func TestCanonicalCSVAndJSONLAgree(t *testing.T) {
	t.Parallel()
	fx := setup(t, storetest.Backends()[0], 1000)
	q := export.Query{MerchantID: mid, Period: period(t), Format: export.FormatCSV}
	csvOut, _ := run(t, fx.ex, q)
	q.Format = export.FormatJSONL
	jsonOut, _ := run(t, fx.ex, q)

	cr := csv.NewReader(strings.NewReader(csvOut))
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("canonical CSV is not RFC 4180: %v", err)
	}
	if !equal(recs[0], export.Columns()) {
		t.Fatalf("CSV header %v, want %v", recs[0], export.Columns())
	}
	if !strings.Contains(csvOut, "\r\n") || strings.Count(csvOut, "\r\n") < len(recs) {
		t.Fatal("CSV lines must end in CRLF (RFC 4180)")
	}
	lines := strings.Split(strings.TrimSuffix(jsonOut, "\n"), "\n")
	if len(lines) != len(recs)-1 {
		t.Fatalf("%d JSON lines, %d CSV rows", len(lines), len(recs)-1)
	}
	guarded := 0
	for i, line := range lines {
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("line %d is not an object: %s", i+1, line)
		}
		for j := 0; dec.More(); j++ {
			k, _ := dec.Token()
			v, err := dec.Token()
			if err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			if k != export.Columns()[j] {
				t.Fatalf("line %d key %d is %v, want %s", i+1, j, k, export.Columns()[j])
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("line %d %s: value %v is not a string", i+1, k, v)
			}
			cell := recs[i+1][j]
			if cell != s {
				if cell != "'"+s {
					t.Fatalf("line %d %s: JSON %q, CSV %q", i+1, k, s, cell)
				}
				guarded++
			}
		}
	}
	// The fixture's hostile order id and descriptions, and nothing else (negative amounts
	// stay numbers).
	if guarded != 4 {
		t.Fatalf("%d cells were guarded, want 4 (the =SUM order id of the settlement and its reversal, the @SUM and -refund descriptions)", guarded)
	}
}

// TestInjectionGuard covers the guard cell by cell.
func TestInjectionGuard(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in      string
		numeric bool
		want    string
	}{
		{"=1+2", false, "'=1+2"},
		{"+1", false, "'+1"},
		{"-1", false, "'-1"},
		{"@SUM(A1)", false, "'@SUM(A1)"},
		{"\tx", false, "'\tx"},
		{"\rx", false, "'\rx"},
		{"a=1", false, "a=1"},
		{"", false, ""},
		{"'quoted", false, "'quoted"},
		{"-25.00", true, "-25.00"},
		{"-3", true, "-3"},
		{"25.00", true, "25.00"},
		{"-25.00", false, "'-25.00"}, // a text column: guarded even when it looks like a number
		{"-25.", true, "'-25."},
		{"-.5", true, "'-.5"},
		{"-1e5", true, "'-1e5"},
		{"-1+1", true, "'-1+1"},
		{"=-1", true, "'=-1"},
		{"+1", true, "'+1"}, // our numbers never carry '+'
		{"-", true, "'-"},
		{"--1", true, "'--1"},
		{"-1.2.3", true, "'-1.2.3"},
	} {
		if got := export.Guard(c.in, c.numeric); got != c.want {
			t.Errorf("Guard(%q, %v) = %q, want %q", c.in, c.numeric, got, c.want)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, c := range []struct {
		from, to string
		want     export.Period
		param    string // the parameter a failure must name
	}{
		{"2026-11-01", "2026-11-30", export.Period{d("2026-11-01T00:00:00Z"), d("2026-12-01T00:00:00Z")}, ""},
		{"2026-11-01", "2026-11-01", export.Period{d("2026-11-01T00:00:00Z"), d("2026-11-02T00:00:00Z")}, ""},
		{"2026-11-01T10:00:00+02:00", "2026-11-01T12:00:00Z", export.Period{d("2026-11-01T08:00:00Z"), d("2026-11-01T12:00:00Z")}, ""},
		{"", "2026-11-30", export.Period{}, "from"},
		{"2026-11-01", "", export.Period{}, "to"},
		{"2026-13-01", "2026-11-30", export.Period{}, "from"},
		{"01/11/2026", "2026-11-30", export.Period{}, "from"},
		{"2026-11-01", "tomorrow", export.Period{}, "to"},
		{"2026-11-30", "2026-11-01", export.Period{}, "to"},
		{"2026-11-01T12:00:00Z", "2026-11-01T12:00:00Z", export.Period{}, "to"},
		{"2026-11-01", "2026-11-01T00:00:00Z", export.Period{}, "to"},
		{"0000-12-31", "2026-11-01", export.Period{}, "from"},
		{"2026-11-01", "10000-01-01T00:00:00Z", export.Period{}, "to"},
		{"2026-11-01", "2026-11-01T00:00:00+25:00", export.Period{}, "to"},
	} {
		got, err := export.ParsePeriod(c.from, c.to)
		if c.param == "" {
			if err != nil || !got.From.Equal(c.want.From) || !got.To.Equal(c.want.To) {
				t.Errorf("ParsePeriod(%q, %q) = %v, %v; want %v", c.from, c.to, got, err, c.want)
			}
			continue
		}
		var pe *export.ParamError
		if !errors.As(err, &pe) || pe.Param != c.param || !errors.Is(err, export.ErrBadParam) {
			t.Errorf("ParsePeriod(%q, %q): error %v, want a ParamError naming %s", c.from, c.to, err, c.param)
		}
	}
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for _, f := range export.Formats() {
		if got, err := export.ParseFormat(strings.ToUpper(string(f))); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	for _, s := range []string{"", "xlsx", "csv ", "csv,jsonl"} {
		_, err := export.ParseFormat(s)
		var pe *export.ParamError
		if s == "csv " {
			if err != nil {
				t.Errorf("ParseFormat(%q): %v", s, err)
			}
			continue
		}
		if !errors.As(err, &pe) || pe.Param != "format" {
			t.Errorf("ParseFormat(%q): error %v, want one naming format", s, err)
		}
	}
}

// TestSingleCurrencyFormats: QuickBooks and Xero files hold one currency; it is inferred
// when the period has one and must be chosen when it has several.
func TestSingleCurrencyFormats(t *testing.T) {
	t.Parallel()
	fx := setup(t, storetest.Backends()[0], 1000)
	for _, f := range []export.Format{export.FormatQuickBooks, export.FormatXero} {
		_, err := fx.ex.Write(ctx, io.Discard, export.Query{MerchantID: mid, Period: period(t), Format: f})
		var pe *export.ParamError
		if !errors.As(err, &pe) || pe.Param != "currency" || !strings.Contains(pe.Detail, "EUR, USD") {
			t.Fatalf("%s over USD and EUR rows: error %v, want one naming currency and both codes", f, err)
		}
		eur, sum := run(t, fx.ex, export.Query{MerchantID: mid, Period: period(t), Format: f, Currency: "eur"})
		if sum.Records != 9 || sum.Lines != 2 || !strings.Contains(eur, "10.00") || !strings.Contains(eur, "-0.59") {
			t.Fatalf("%s in EUR: %+v\n%s", f, sum, eur)
		}
		// One currency in the period: inferred.
		p, _ := export.ParsePeriod("2026-11-10T10:00:00Z", "2026-11-10T13:30:00Z")
		usd, sum := run(t, fx.ex, export.Query{MerchantID: mid, Period: p, Format: f})
		if sum.Lines != 9 || strings.Contains(usd, "EUR") { // 5 records, 4 with a fee line
			t.Fatalf("%s with the currency inferred: %+v\n%s", f, sum, usd)
		}
	}
}

// TestSnapshot: records stored after the export's AsOf are left out, even inside the
// period, so every page of an export reads the same snapshot.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t, b, 2)
			before := time.Date(2026, 11, 10, 12, 30, 0, 0, time.UTC) // after the BTC, USDC and first card rows were stored
			_, sum := run(t, fx.ex, export.Query{MerchantID: mid, Period: period(t), Format: export.FormatCSV, AsOf: before})
			if sum.Records != 4 {
				t.Fatalf("as of %s: %d records, want 4", before, sum.Records)
			}
			if !sum.AsOf.Equal(before) {
				t.Fatalf("summary as of %s, want %s", sum.AsOf, before)
			}
			// Another store's export is empty: a header only.
			out, sum := run(t, fx.ex, export.Query{MerchantID: "sto_other", Period: period(t), Format: export.FormatCSV})
			if sum.Records != 0 || strings.Count(out, "\r\n") != 1 {
				t.Fatalf("another store: %+v\n%s", sum, out)
			}
		})
	}
}

// TestTamperedPayloadFails: a stored payload that no longer matches its hash stops the
// export with an error naming the record, with or without a projection (on Postgres the
// database checks the hash and sends no payload beside a projection); it is never exported.
func TestTamperedPayloadFails(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for _, withProjection := range []bool{false, true} {
				st := b.Open(t)
				createMerchant(t, st, mid)
				recs := fixtureRecords(t)
				row := journalRow(t, recs[0])
				row.ID = "lgr_bad"
				if withProjection {
					stored, err := ledger.ParseRecord([]byte(row.Payload))
					if err != nil {
						t.Fatal(err)
					}
					row.Projection = stored.Flat(hex.EncodeToString(row.PayloadHash))
				}
				row.Payload = strings.Replace(row.Payload, `"gross":"2500"`, `"gross":"2600"`, 1)
				if err := st.Tx(ctx, func(tx store.Tx) error { _, err := tx.InsertLedgerRecord(ctx, row); return err }); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				_, err := export.New(st, export.Config{}).Write(ctx, &buf, export.Query{MerchantID: mid, Period: period(t), Format: export.FormatCSV})
				if err == nil || !strings.Contains(err.Error(), "lgr_bad") || !strings.Contains(err.Error(), "sha256") {
					t.Fatalf("tampered payload (projection %v): error %v", withProjection, err)
				}
				if strings.Contains(buf.String(), "2600") {
					t.Fatal("the tampered amount was exported")
				}
			}
		})
	}
}

// TestUnreadableProjectionExportsFromPayload: a record whose projection this version cannot
// read (a later version's) is exported from its payload, on both backends.
func TestUnreadableProjectionExportsFromPayload(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := b.Open(t)
			createMerchant(t, st, mid)
			rec := fixtureRecords(t)[0]
			row := journalRow(t, rec)
			row.ID, row.Projection = "lgr_future", "2:f9rest"
			if err := st.Tx(ctx, func(tx store.Tx) error { _, err := tx.InsertLedgerRecord(ctx, row); return err }); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			sum, err := export.New(st, export.Config{}).Write(ctx, &buf, export.Query{MerchantID: mid, Period: period(t), Format: export.FormatCSV})
			if err != nil || sum.Records != 1 || !strings.Contains(buf.String(), "lgr_future") || !strings.Contains(buf.String(), rec.IdempotencyKey) {
				t.Fatalf("export: %+v %v\n%s", sum, err, buf.String())
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
