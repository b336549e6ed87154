package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
)

// runExport is `chainpay export ...`: the database comes from CHAINPAY_DATABASE_URL /
// CHAINPAY_DATA_DIR, everything else from the export flags.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	load := commonSettings(fs)
	c, err := load()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if applied, latest, err := st.MigrationStatus(ctx); err != nil || applied != latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `chainpay migrate` first", applied, latest)
	}
	err = export.RunCLI(ctx, st, args, stdout, stderr)
	var ue *export.UsageError
	if errors.As(err, &ue) {
		return &usageError{ue.Error()}
	}
	return err
}

// runLedger is `chainpay ledger parked` and `chainpay ledger retry ID`: the dead letters of
// the ledger outbox (conflicting or invalid records) and putting one back in the queue after
// the cause is fixed.
func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runLedgerVerify(ctx, args[1:], stdout, stderr)
	}
	verb, rest, err := sub(args, "parked", "retry", "verify")
	if err != nil {
		return err
	}
	return withStore(ctx, "ledger "+verb, rest, stderr, nil, func(fs *flag.FlagSet, st store.Store) error {
		relay, err := ledger.NewRelay(st, ledger.NewJournal(st, nil), ledger.RelayConfig{})
		if err != nil {
			return err
		}
		if verb == "retry" {
			if fs.NArg() != 1 {
				return &usageError{"usage: chainpay ledger retry OUTBOX_ID"}
			}
			if err := relay.Retry(ctx, fs.Arg(0)); err != nil {
				if errors.Is(err, ledger.ErrNotFound) {
					return &usageError{fmt.Sprintf("no parked ledger record %q", fs.Arg(0))}
				}
				return err
			}
			fmt.Fprintln(stderr, "queued again:", fs.Arg(0))
			return nil
		}
		msgs, err := relay.Parked(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			fmt.Fprintf(stdout, "%s\t%s\t%d attempts\t%s\n", m.ID, m.Key, m.Attempts, m.LastError)
		}
		if len(msgs) == 0 {
			fmt.Fprintln(stderr, "no parked ledger records")
		}
		return nil
	})
}
