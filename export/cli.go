package export

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chainpay/chainpay/store"
)

// UsageError is a command line that cannot run as given: an unknown flag, a missing or
// malformed value, an unknown store. cmd/chainpay maps it to exit status 2.
type UsageError struct {
	Flag   string // the flag at fault, without dashes; "" when not about one flag
	Detail string
}

func (e *UsageError) Error() string {
	if e.Flag == "" {
		return "export: " + e.Detail
	}
	return "export: --" + e.Flag + ": " + e.Detail
}

const cliUsage = `usage:
  chainpay export --store ID --from DATE --to DATE --format FORMAT [--currency CODE] [--out FILE]
  chainpay export reconcile --store ID --from DATE --to DATE [--file EXPORT.csv]

DATE is YYYY-MM-DD (to is inclusive: the period runs to the end of that day) or an RFC 3339
time (to is exclusive). FORMAT is csv, jsonl, koinly, quickbooks or xero. Without --out the
export goes to standard output. reconcile compares the canonical CSV export of the period
(or the given file) with the journal and fails when any total differs.
`

// RunCLI runs "chainpay export ..." with args being the arguments after "export". It
// writes the export to stdout or --out (through a temporary file renamed into place once
// complete, so a failed export never leaves a complete-looking file), and the reconciliation
// report to stdout. Bad command lines are *UsageError; a reconciliation that does not match
// wraps ErrMismatch.
func RunCLI(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "reconcile" {
		return runReconcile(ctx, st, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("chainpay export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	storeID := fs.String("store", "", "store (merchant) id")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339)")
	to := fs.String("to", "", "last day (inclusive) or end time (exclusive)")
	format := fs.String("format", "", "csv, jsonl, koinly, quickbooks or xero")
	currency := fs.String("currency", "", "the currency of a quickbooks or xero export")
	out := fs.String("out", "", "output file (default: standard output)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	f, err := ParseFormat(*format)
	if err != nil {
		return flagError(err)
	}
	p, err := ParsePeriod(*from, *to)
	if err != nil {
		return flagError(err)
	}
	if err := checkStore(ctx, st, *storeID); err != nil {
		return err
	}
	e := New(st, Config{})
	q, err := e.Prepare(ctx, Query{MerchantID: *storeID, Period: p, Format: f, Currency: *currency})
	if err != nil {
		return flagError(err)
	}
	if *out == "" {
		sum, err := e.Write(ctx, stdout, q)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "exported %d records (%d lines) of %s as of %s\n", sum.Records, sum.Lines, *storeID, fmtTime(sum.AsOf))
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.partial")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	sum, err := e.Write(ctx, tmp, q)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fmt.Errorf("export to %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "exported %d records (%d lines) of %s as of %s to %s\n", sum.Records, sum.Lines, *storeID, fmtTime(sum.AsOf), *out)
	return nil
}

func runReconcile(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chainpay export reconcile", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	storeID := fs.String("store", "", "store (merchant) id")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339)")
	to := fs.String("to", "", "last day (inclusive) or end time (exclusive)")
	file := fs.String("file", "", "a canonical CSV export to check (default: export the period now)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	p, err := ParsePeriod(*from, *to)
	if err != nil {
		return flagError(err)
	}
	if err := checkStore(ctx, st, *storeID); err != nil {
		return err
	}
	var in io.Reader
	if *file != "" {
		fh, err := os.Open(*file)
		if err != nil {
			return &UsageError{Flag: "file", Detail: err.Error()}
		}
		defer fh.Close()
		in = fh
	}
	res, err := New(st, Config{}).Reconcile(ctx, *storeID, p, in, time.Time{})
	printReconciliation(stdout, res)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "OK: the export reconciles with the journal")
	return nil
}

func printReconciliation(w io.Writer, r Reconciliation) {
	fmt.Fprintf(w, "store %s, settled %s to %s (exclusive), journal as of %s\n", r.MerchantID,
		fmtTime(r.Period.From), fmtTime(r.Period.To), fmtTime(r.AsOf))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "currency/asset\tcategory\tmeasure\texport\tjournal\t\t")
	for _, l := range r.Lines {
		what, status := l.Currency, "ok"
		if l.Asset != "" {
			what = l.Asset
		}
		if !l.Match {
			status = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", what, l.Category, l.Measure, l.Export, l.Journal, status)
	}
	tw.Flush()
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, cliUsage)
			return &UsageError{Detail: "help requested"}
		}
		return &UsageError{Detail: err.Error() + "\n" + cliUsage}
	}
	if fs.NArg() > 0 {
		return &UsageError{Detail: fmt.Sprintf("unexpected argument %q\n%s", clip(fs.Arg(0)), cliUsage)}
	}
	return nil
}

// flagError turns a *ParamError into a *UsageError naming the flag.
func flagError(err error) error {
	var pe *ParamError
	if errors.As(err, &pe) {
		return &UsageError{Flag: pe.Param, Detail: pe.Detail}
	}
	return err
}

func checkStore(ctx context.Context, st store.Store, id string) error {
	if strings.TrimSpace(id) == "" {
		return &UsageError{Flag: "store", Detail: "required: the store (merchant) id, e.g. sto_..."}
	}
	err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.GetMerchant(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return &UsageError{Flag: "store", Detail: fmt.Sprintf("no store %q", clip(id))}
	}
	if err != nil {
		return fmt.Errorf("export: look up store %s: %w", id, err)
	}
	return nil
}
