package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
)

// cachedFairValue is the settler's fair value at receipt, answered from the rates cache
// only: the settler runs inside a write transaction, where no network call may happen. A
// cancelled context makes every source without a fresh cached quote fail at once (net/http
// checks the context before dialing), so Quote aggregates the cached quotes or fails; a
// record without a fair value keeps its locked rate.
func cachedFairValue(r *rates.Service) func(asset, currency string) (ledger.Rate, bool) {
	if r == nil {
		return nil
	}
	return func(asset, currency string) (ledger.Rate, bool) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		q, err := r.Quote(ctx, rates.Pair{Base: asset, Quote: currency})
		if err != nil {
			return ledger.Rate{}, false
		}
		return ledger.Rate{Rate: q.Rate.String(), Source: q.Method, At: q.At.UTC()}, true
	}
}

// runLedgerVerify is `chainpay ledger verify [--store ID] [--enqueued-only]`: it recomputes
// the books invariant for every payment and prints each difference (payment, expected,
// booked); any difference is an error (exit 1).
func runLedgerVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var merchant string
	var enqueuedOnly bool
	return withStore(ctx, "ledger verify", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&merchant, "store", "", "verify one store (default: every store)")
		fs.BoolVar(&enqueuedOnly, "enqueued-only", false, "compare with the outbox only (the sink is not the built-in journal)")
	}, func(_ *flag.FlagSet, st store.Store) error {
		verify := ledger.Verify
		if enqueuedOnly {
			verify = ledger.VerifyEnqueued
		}
		diffs, err := verify(ctx, st, merchant)
		if err != nil {
			return err
		}
		return printDifferences(stdout, diffs)
	})
}

// printDifferences writes one line per difference and returns an error when there is any.
func printDifferences(w io.Writer, diffs []ledger.Difference) error {
	for _, d := range diffs {
		if d.RefundID != "" {
			d.PaymentID = d.RefundID // one column names what differs: a payment or a refund
		}
		fmt.Fprintf(w, "%s\t%s\t%s\texpected %s\tenqueued %s\tbooked %s\t%s\n", d.MerchantID, d.InvoiceID, d.PaymentID,
			d.Expected, d.Enqueued, d.Booked, d.Reason)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d payment(s) or refund(s) differ from the books invariant", len(diffs))
	}
	fmt.Fprintln(w, "ledger verify: every payment and refund is booked as the invariant requires")
	return nil
}
