// Command bench measures chainpay against its limits and prints every figure as a ratio to
// a baseline measured in the same run, on the same machine:
//
//   - block matching: decoding the real mainnet block in ../shared/testdata and matching it
//     against 1,000,000 watched scripts, over decoding alone;
//   - POST /v1/invoices over HTTP on `chainpay serve` with Postgres, 32 clients, over a raw
//     pgx insert of the same rows by 32 clients;
//   - watcher catch-up over a btcd regtest chain of 2,000 blocks, over fetching the same
//     raw blocks over RPC alone;
//   - watcher at scale (issue 22): the EVM follower's time, allocations and reviews per block
//     and per poll, and its heap, on a Postgres database seeded with 1,000,000 closed and
//     100,000 open invoices, over the same blocks on a database of 1,000 invoices;
//   - export rows/s on Postgres over a raw COPY of the same journal rows, and the peak heap.
//
// With -load it also creates invoices for 60 seconds at the highest sustainable rate, and
// with -chaos it pays invoices while killing `chainpay serve` with SIGKILL (scripts/chaos).
//
// Usage (from the repository root):
//
//	export CHAINPAY_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//	go run ./cmd/bench            # every benchmark at full size
//	go run ./cmd/bench -quick     # the short form CI runs
//	go run ./cmd/bench -only match,export
//	go run ./cmd/bench -only watcher-scale          # add -quick for 100k closed / 10k open
//	go run ./cmd/bench -only none -load 60s
//	go run ./cmd/bench -only none -chaos            # long form; scripts/chaos --short is the CI form
//
// Postgres comes from CHAINPAY_TEST_POSTGRES_URL (or -pg); each run works in its own schema
// and drops it. btcd is the pinned build of scripts/tools.sh (CHAINPAY_TOOLS_BIN).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	quick    bool
	pg       string
	chainpay string // prebuilt binary; "" builds ./cmd/chainpay
	only     map[string]bool
	block    string

	watched       int
	invoices      int
	clients       int
	chainBlocks   int
	exportRows    int
	load          time.Duration
	chaos         bool
	chaosInvoices int
	chaosKills    time.Duration
	chaosWait     time.Duration
	chaosBound    time.Duration
	chaosRuns     int
	chaosMinKills int
	scaleClosed   int
	scaleOpen     int
	scaleBlocks   int
	scaleBudget   time.Duration
	scaleProfile  string
	scaleWatch    bool
	// chaosEVM also pays ETH and USDC invoices on a geth --dev node; chaosPGRestart > 0
	// runs on a private Postgres cluster restarted (-m immediate) at that mean interval.
	chaosEVM           bool
	chaosPGRestart     time.Duration
	chaosMinPGRestarts int
	keep               bool
	cpuProfile         string
	serveProfile       string // CPU profile of chainpay serve during the invoices' open loop

	recoveries []time.Duration // of the passing chaos runs
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var only string
	fs.BoolVar(&o.quick, "quick", false, "scaled-down sizes for CI (100k watched scripts, 2,000 invoices, 600 blocks, 100k export rows)")
	fs.StringVar(&o.pg, "pg", os.Getenv("CHAINPAY_TEST_POSTGRES_URL"), "PostgreSQL URL (default $CHAINPAY_TEST_POSTGRES_URL)")
	fs.StringVar(&o.chainpay, "chainpay", "", "chainpay binary to run (default: go build ./cmd/chainpay)")
	fs.StringVar(&only, "only", "match,invoices,watcher,watcher-scale,export", "benchmarks to run: match, invoices, watcher, watcher-scale, export (or none)")
	fs.StringVar(&o.block, "block", "", "raw mainnet block (default: ../shared/testdata/mainnet_block_*.raw)")
	fs.IntVar(&o.watched, "watched", 0, "watched scripts for block matching (default 1,000,000; -quick 100,000)")
	fs.IntVar(&o.invoices, "invoices", 0, "invoices created per side of the invoice benchmark (default 10,000; -quick 2,000)")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients of the invoice benchmark and the load run")
	fs.IntVar(&o.chainBlocks, "blocks", 0, "regtest blocks the watcher catches up over (default 2,000; -quick 600)")
	fs.IntVar(&o.exportRows, "export-rows", 0, "journal rows exported (default 1,000,000; -quick 100,000)")
	fs.DurationVar(&o.load, "load", 0, "also run the load test for this long (e.g. 60s)")
	fs.BoolVar(&o.chaos, "chaos", false, "also run the crash-chaos test (scripts/chaos)")
	fs.IntVar(&o.chaosInvoices, "chaos-invoices", 0, "invoices paid during the chaos run (default 200; -quick 40)")
	fs.DurationVar(&o.chaosKills, "chaos-kill-every", 0, "mean time between SIGKILLs in the chaos run (default 2s; -quick 1.5s)")
	fs.DurationVar(&o.chaosWait, "chaos-wait", 4*time.Minute, "how long the chaos run waits after the last SIGKILL for everything to be recorded and delivered")
	fs.DurationVar(&o.chaosBound, "chaos-recovery-bound", 60*time.Second, "longest accepted time from the last SIGKILL to everything recorded, settled, booked and delivered")
	fs.IntVar(&o.chaosRuns, "chaos-runs", 1, "chaos runs in a row (each with a fresh schema and node); the report ends with the recovery times and their p99")
	fs.IntVar(&o.chaosMinKills, "chaos-min-kills", 1, "fewest SIGKILLs a chaos run must have had to count")
	fs.IntVar(&o.scaleClosed, "scale-closed", 0, "watcher-scale: closed invoices seeded in the large database (default 1,000,000; -quick 100,000)")
	fs.IntVar(&o.scaleOpen, "scale-open", 0, "watcher-scale: open invoices in the large database, half of them processing (default 100,000; -quick 10,000)")
	fs.IntVar(&o.scaleBlocks, "scale-blocks", 0, "watcher-scale: blocks applied to each database, a poll after each (default 30; -quick 15; at most 100)")
	fs.DurationVar(&o.scaleBudget, "scale-budget", 0, "watcher-scale: longest time the blocks and polls may take on the large database (the small one gets 10 times as long; default 3m; -quick 1m)")
	fs.BoolVar(&o.scaleWatch, "scale-watch-list", false, "watcher-scale: the source keeps the watched addresses (a watcher.Watcher, as the EthereumSource is; the follower keeps nothing per address); default: the source reports every transfer and the follower matches them in the store (as for the BitcoinSource)")
	fs.StringVar(&o.scaleProfile, "scale-cpuprofile", "", "watcher-scale: write a CPU profile of the large database's blocks and polls to this file (go tool pprof)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs), the chaos run's, watcher-scale's and export's Postgres schemas after the run")
	fs.BoolVar(&o.chaosEVM, "chaos-evm", false, "chaos: also pay ETH and USDC invoices (one in three each) on a geth --dev node")
	fs.DurationVar(&o.chaosPGRestart, "chaos-pg-restart-every", 0, "chaos: run on a private Postgres cluster (initdb in a temp dir) and crash-restart it with pg_ctl restart -m immediate every 0.5-1.5 times this interval (0: the shared Postgres, no restarts)")
	fs.IntVar(&o.chaosMinPGRestarts, "chaos-min-pg-restarts", 1, "with -chaos-pg-restart-every, fewest Postgres restarts a chaos run must have had to count")
	fs.StringVar(&o.serveProfile, "serve-cpuprofile", "", "invoices: write a CPU profile of chainpay serve during the open loop to this file (served by CHAINPAY_PPROF)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process (the export runs in it) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		switch s = strings.TrimSpace(s); s {
		case "match", "invoices", "watcher", "watcher-scale", "export":
			o.only[s] = true
		case "none", "":
		default:
			return usageError{fmt.Sprintf("-only: unknown benchmark %q (want match, invoices, watcher, watcher-scale, export or none)", s)}
		}
	}
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	def(&o.watched, 1_000_000, 100_000)
	def(&o.invoices, 10_000, 2_000)
	def(&o.chainBlocks, 2_000, 600)
	def(&o.exportRows, 1_000_000, 100_000)
	def(&o.chaosInvoices, 200, 40)
	def(&o.scaleClosed, 1_000_000, 100_000)
	def(&o.scaleOpen, 100_000, 10_000)
	def(&o.scaleBlocks, 30, 15)
	if o.scaleBudget == 0 {
		o.scaleBudget = 3 * time.Minute
		if o.quick {
			o.scaleBudget = time.Minute
		}
	}
	if o.chaosKills == 0 {
		o.chaosKills = 2 * time.Second
		if o.quick {
			o.chaosKills = 1500 * time.Millisecond
		}
	}
	if o.scaleBlocks < 1 || o.scaleBlocks > 100 || o.scaleBudget <= 0 {
		return usageError{"-scale-blocks must be 1..100 and -scale-budget positive"}
	}
	if o.chaosRuns < 1 || o.chaosBound <= 0 || o.chaosWait <= 0 {
		return usageError{"-chaos-runs, -chaos-recovery-bound and -chaos-wait must be positive"}
	}
	if o.clients < 1 || o.watched < 1 || o.invoices < 1 || o.chainBlocks < 1 || o.exportRows < 10 || o.chaosInvoices < 1 {
		return usageError{"-clients, -watched, -invoices, -blocks, -chaos-invoices must be positive and -export-rows at least 10"}
	}

	work, err := os.MkdirTemp("", "chainpay-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r := &report{w: stdout}
	r.header(o)
	needBinary := o.only["invoices"] || o.load > 0 || o.chaos
	if needBinary && o.chainpay == "" {
		progress(stderr, "building chainpay")
		if o.chainpay, err = buildChainpay(ctx, work); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		on   bool
		fn   func(context.Context, *options, string, *report, io.Writer) error
	}{
		{"match", o.only["match"], benchMatch},
		{"invoices", o.only["invoices"], benchInvoices},
		{"watcher", o.only["watcher"], benchWatcher},
		{"watcher-scale", o.only["watcher-scale"], benchWatcherScale},
		{"export", o.only["export"], benchExport},
		{"load", o.load > 0, runLoad},
		{"chaos", o.chaos, runChaosSeries},
	}
	var failed []string
	for _, s := range steps {
		if !s.on {
			continue
		}
		dir, err := os.MkdirTemp(work, s.name+"-")
		if err != nil {
			return err
		}
		progress(stderr, "running "+s.name)
		start := time.Now()
		if err := s.fn(ctx, &o, dir, r, stderr); err != nil {
			fmt.Fprintf(stderr, "bench: %s failed: %v\n", s.name, err)
			r.line(s.name, "FAILED: "+err.Error())
			failed = append(failed, s.name)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		progress(stderr, fmt.Sprintf("%s done in %s", s.name, time.Since(start).Round(time.Second)))
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func progress(w io.Writer, msg string) {
	fmt.Fprintf(w, "== %s %s\n", time.Now().Format("15:04:05"), msg)
}

// report prints the results as they come.
type report struct{ w io.Writer }

func (r *report) header(o options) {
	host, _ := os.Hostname()
	fmt.Fprintf(r.w, "chainpay bench — %s, %s/%s, %d CPUs (GOMAXPROCS %d), %s, quick=%v\n",
		host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), o.quick)
}

func (r *report) section(title string) { fmt.Fprintf(r.w, "\n%s\n", title) }

func (r *report) line(name, value string) { fmt.Fprintf(r.w, "  %-42s %s\n", name, value) }

// ratio prints a measured figure, its limit and their ratio with the goal.
func (r *report) ratio(name string, got, limit float64, unit, goal string) {
	fmt.Fprintf(r.w, "  %-42s %12.1f %-9s limit %12.1f %-9s ratio %6.3f   goal %s\n", name, got, unit, limit, unit, got/limit, goal)
}
