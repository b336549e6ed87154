package export_test

import (
	"bytes"
	"errors"
	"math/big"
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

// TestReconcileWithRealJournal posts the fixture through the real journal (ledger.Journal,
// the default sink) and reconciles the period on both backends: every total of the export
// equals the journal's, computed from the postings.
func TestReconcileWithRealJournal(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := b.Open(t)
			createMerchant(t, st, mid)
			j := ledger.NewJournal(st, func() time.Time { return t0.Add(time.Hour) })
			for _, rec := range fixtureRecords(t) {
				if _, err := j.Post(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			ex := export.New(st, export.Config{PageSize: 3})
			res, err := ex.Reconcile(ctx, mid, period(t), nil, time.Time{})
			if err != nil || !res.OK {
				t.Fatalf("reconcile: %v\n%+v", err, res.Lines)
			}
			want := map[string]string{
				"USD charge gross":          "175.00", // 25 + 60 + 40 + 50
				"USD charge fee":            "3.30",   // 0.25 + 0.90 + 0.40 + 1.75
				"USD charge net":            "171.70",
				"USD charge rows":           "4",
				"USD charge_reversal gross": "-25.00",
				"USD charge_reversal rows":  "1",
				"USD refund net":            "-20.00",
				"EUR charge net":            "9.41",
				"BTC/8@bitcoin amount":      "0.00000000", // received, then reversed
				"USDC/6@ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 amount": "100.000000",
			}
			seen := 0
			for _, l := range res.Lines {
				k := l.Currency + " " + l.Category + " " + l.Measure
				if l.Asset != "" {
					k = l.Asset + " " + l.Measure
				}
				if w, ok := want[k]; ok {
					seen++
					if l.Export != w || l.Journal != w || !l.Match {
						t.Errorf("%s: export %s, journal %s, want %s", k, l.Export, l.Journal, w)
					}
				}
			}
			if seen != len(want) {
				t.Fatalf("found %d of %d expected lines in %+v", seen, len(want), res.Lines)
			}
		})
	}
}

// TestReconcileFailsLoudly: a journal whose postings disagree with its records, and export
// files with a row removed or an amount edited, all fail with ErrMismatch naming what differs.
func TestReconcileFailsLoudly(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fx := setup(t, b, 4)
			p := period(t)
			good, _ := run(t, fx.ex, export.Query{MerchantID: mid, Period: p, Format: export.FormatCSV})
			if _, err := fx.ex.Reconcile(ctx, mid, p, strings.NewReader(good), asOf); err != nil {
				t.Fatalf("the untouched export: %v", err)
			}
			lines := strings.SplitAfter(good, "\r\n")
			for _, c := range []struct {
				name, file, want string
			}{
				{"row removed", strings.Join(append(append([]string{}, lines[:3]...), lines[4:]...), ""), "USD charge rows: export 3, journal 4"},
				{"amount edited", strings.Replace(good, ",USD,50.00,1.75,48.25,", ",USD,50.00,1.75,48.20,", 1), "USD charge net: export 171.65, journal 171.70"},
				{"crypto edited", strings.Replace(good, ",0.00038987,38987,", ",0.00038988,38988,", 1), "BTC/8@bitcoin amount: export 0.00000001, journal 0.00000000"},
			} {
				res, err := fx.ex.Reconcile(ctx, mid, p, strings.NewReader(c.file), asOf)
				if !errors.Is(err, export.ErrMismatch) || !strings.Contains(err.Error(), c.want) || res.OK {
					t.Errorf("%s: error %v, want ErrMismatch with %q", c.name, err, c.want)
				}
			}
			// Not a canonical export at all: an error, not a match.
			qb, _ := run(t, fx.ex, export.Query{MerchantID: mid, Period: p, Format: export.FormatQuickBooks, Currency: "USD"})
			if _, err := fx.ex.Reconcile(ctx, mid, p, strings.NewReader(qb), asOf); err == nil || !strings.Contains(err.Error(), "header") {
				t.Errorf("a QuickBooks file: error %v, want one about the header", err)
			}
			// crypto_amount and crypto_amount_atomic must agree.
			bad := strings.Replace(good, ",0.00038987,38987,", ",0.00038987,38988,", 1)
			if _, err := fx.ex.Reconcile(ctx, mid, p, strings.NewReader(bad), asOf); err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Errorf("inconsistent crypto amounts: error %v, want one naming line 2", err)
			}

			// A journal entry whose postings say 24.00 net where its record says 24.75.
			rec := fixtureRecords(t)[0]
			rec.IdempotencyKey = "crypto_payment:pay_X:settled"
			rec.SourceID = "pay_X"
			row := journalRow(t, rec)
			row.ID = "lgr_9999"
			for i, q := range row.Postings {
				if q.Account == ledger.AccountBalance(mid) {
					row.Postings[i].Amount = big.NewInt(2400)
				}
				if q.Account == ledger.AccountFees(mid) {
					row.Postings[i].Amount = big.NewInt(100)
				}
			}
			if err := fx.st.Tx(ctx, func(tx store.Tx) error { _, err := tx.InsertLedgerRecord(ctx, row); return err }); err != nil {
				t.Fatal(err)
			}
			_, err := fx.ex.Reconcile(ctx, mid, p, nil, time.Time{})
			if !errors.Is(err, export.ErrMismatch) || !strings.Contains(err.Error(), "USD charge fee: export 3.55, journal 4.30") {
				t.Fatalf("postings disagreeing with the record: error %v", err)
			}
		})
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	fx := setup(t, storetest.Backends()[0], 1000)
	dir := t.TempDir()
	runCLI := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := export.RunCLI(ctx, fx.st, args, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// Usage errors name the flag.
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--from", "2026-11-10", "--to", "2026-11-11", "--format", "csv"}, "store"},
		{[]string{"--store", "sto_nobody", "--from", "2026-11-10", "--to", "2026-11-11", "--format", "csv"}, "store"},
		{[]string{"--store", mid, "--from", "25.11.2026", "--to", "2026-11-11", "--format", "csv"}, "from"},
		{[]string{"--store", mid, "--from", "2026-11-10", "--format", "csv"}, "to"},
		{[]string{"--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--format", "xls"}, "format"},
		{[]string{"--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--format", "xero"}, "currency"},
		{[]string{"--store", mid, "--bogus"}, ""},
		{[]string{"--store", mid, "extra"}, ""},
		{[]string{"reconcile", "--store", mid, "--from", "2026-11-10"}, "to"},
		{[]string{"reconcile", "--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--file", filepath.Join(dir, "missing.csv")}, "file"},
	} {
		_, _, err := runCLI(c.args...)
		var ue *export.UsageError
		if !errors.As(err, &ue) || ue.Flag != c.flag {
			t.Errorf("%v: error %v, want a UsageError about %q", c.args, err, c.flag)
		}
	}
	// --out writes the same bytes as the golden CSV (the CLI's clock is real, and every
	// fixture record was stored long before now).
	out := filepath.Join(dir, "nov.csv")
	if _, msg, err := runCLI("--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--format", "csv", "--out", out); err != nil || !strings.Contains(msg, "exported 9 records") {
		t.Fatalf("export: %v %s", err, msg)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(filepath.Join("testdata", "csv.golden"))
	if !bytes.Equal(got, want) {
		t.Fatalf("CLI export differs from the golden file:\n%s", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*partial")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	stdout, _, err := runCLI("--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--format", "koinly")
	if err != nil || !strings.HasPrefix(stdout, "Date,Sent Amount,") {
		t.Fatalf("export to stdout: %v\n%s", err, stdout)
	}
	// reconcile: of the period now, then of the file, then of an edited file.
	stdout, _, err = runCLI("reconcile", "--store", mid, "--from", "2026-11-10", "--to", "2026-11-11")
	if err != nil || !strings.Contains(stdout, "OK: the export reconciles") || strings.Contains(stdout, "MISMATCH") {
		t.Fatalf("reconcile: %v\n%s", err, stdout)
	}
	if testing.Verbose() {
		t.Log("\n" + stdout)
	}
	if stdout, _, err = runCLI("reconcile", "--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--file", out); err != nil {
		t.Fatalf("reconcile --file: %v\n%s", err, stdout)
	}
	if err := os.WriteFile(out, bytes.Replace(got, []byte(",USD,-20.00,0.00,-20.00,"), []byte(",USD,-2.00,0.00,-2.00,"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runCLI("reconcile", "--store", mid, "--from", "2026-11-10", "--to", "2026-11-11", "--file", out)
	if !errors.Is(err, export.ErrMismatch) || !strings.Contains(stdout, "MISMATCH") || !strings.Contains(stdout, "-20.00") {
		t.Fatalf("reconcile of an edited file: %v\n%s", err, stdout)
	}
}
