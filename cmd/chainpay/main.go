// Command chainpay is the chainpay payment processor: one binary for the server, the
// database migrations and the admin tasks. Run `chainpay help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the API and checkout server", runServe},
		{"dev", "run everything locally: SQLite, a regtest btcd, an EVM dev chain, demo store (dev pay INVOICE_ID pays)", runDev},
		{"migrate", "apply database migrations", runMigrate},
		{"config", "check the settings against the database, nodes and rate sources: config check [flags]", runConfig},
		{"version", "print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			fmt.Fprintln(out, "chainpay", version)
			return nil
		}},
		{"store", "manage stores: store create --name NAME; store set --store ID --max-amount USD=10000", runStore},
		{"apikey", "manage API keys: apikey create --store ID [--perm P,...] | apikey revoke KEY_ID", runAPIKey},
		{"wallet", "enable a chain for a store: wallet add --store ID --chain bitcoin --key XPUB_OR_DESCRIPTOR | wallet list --store ID", runWallet},
		{"bitcoin", "bitcoin tools: bitcoin derive --key KEY --index N [--network NET]", runBitcoin},
		{"export", "finance exports: export --store ID --from D --to D --format csv|jsonl|koinly|quickbooks|xero | export reconcile ...", runExport},
		{"sweep", "flush any ERC-20 from EVM deposit addresses to their treasuries: sweep --network CHAIN_ID --token 0x... [--invoice ID]", runSweep},
		{"ledger", "ledger dead letters and checks: ledger parked | ledger retry OUTBOX_ID | ledger verify [--store ID]", runLedger},
		{"refund", "refunds without custody: refund create --store ID --invoice ID [--amount D] | list | cancel | psbt | submit --refund ID", runRefund},
	}
}

// usageError is a mistake on the command line: exit code 2 with the message.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code: 0 success, 2 bad usage or bad
// setting, 1 any other failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var (
			se *settingError
			ue *usageError
		)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &se), errors.As(err, &ue):
			fmt.Fprintln(stderr, "chainpay "+c.name+": "+err.Error())
			return 2
		default:
			fmt.Fprintln(stderr, "chainpay "+c.name+": "+err.Error())
			return 1
		}
	}
	fmt.Fprintf(stderr, "chainpay: unknown command %q (run `chainpay help`)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: chainpay <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nEvery command takes -h for its flags. Settings come from flags, then CHAINPAY_* environment variables.")
}

// parseFlags parses args, turning flag errors into usage errors (exit 2).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}
