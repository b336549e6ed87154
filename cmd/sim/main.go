// Command sim runs chainpay's deterministic simulator (package sim).
//
//	go run ./cmd/sim -seed 42 -trace      replay one seed, printing its trace
//	go run ./cmd/sim -seeds 100000        run seeds 1..100000, printing throughput
//	go run ./cmd/sim -seeds 300 -from 7   run seeds 7..306
//
// It exits 1 after the first failing seed, with the invariant, what was found and the trace.
// With -postgres it runs on the Postgres at CHAINPAY_TEST_POSTGRES_URL (a schema per seed).
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chainpay/chainpay/sim"
)

// bugs are the injectable bugs by name (sim.Bugs).
var bugs = map[string]func(*sim.Bugs){
	"node-loses-transfers":  func(b *sim.Bugs) { b.NodeLosesTransfers = true },
	"stale-block-cache":     func(b *sim.Bugs) { b.StaleBlockCache = true },
	"relay-drops-records":   func(b *sim.Bugs) { b.RelayDropsRecords = true },
	"wall-clock-ahead":      func(b *sim.Bugs) { b.WallClockAhead = true },
	"wrong-webhook-secret":  func(b *sim.Bugs) { b.WrongWebhookSecret = true },
	"expiry-by-wall-clock":  func(b *sim.Bugs) { b.ExpiryByWallClock = true },
	"drop-orphans-at-once":  func(b *sim.Bugs) { b.DropOrphansAtOnce = true },
	"book-on-status-change": func(b *sim.Bugs) { b.BookOnStatusChangeOnly = true },
	"config-guard-off":      func(b *sim.Bugs) { b.ConfigGuardOff = true }, // turns on -config-changes
	"refunds-ignore-sender": func(b *sim.Bugs) { b.RefundsIgnoreSender = true },
}

func main() {
	seed := flag.Uint64("seed", 0, "run this one seed")
	seeds := flag.Int("seeds", 0, "run this many seeds")
	from := flag.Uint64("from", 1, "first seed with -seeds")
	steps := flag.Int("steps", 150, "workload steps per seed")
	trace := flag.Bool("trace", false, "print the trace as the run goes")
	off := flag.String("off", "", "comma-separated workload features to leave out: "+strings.Join(sim.Features, ","))
	ignore := flag.String("ignore", "", "comma-separated invariant numbers whose violations are only traced (to look past a known defect)")
	bug := flag.String("bug", "", "inject a known bug: "+strings.Join(slices.Sorted(maps.Keys(bugs)), ", "))
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	pg := flag.Bool("postgres", false, "run on Postgres (CHAINPAY_TEST_POSTGRES_URL) instead of SQLite")
	keepGoing := flag.Bool("keep-going", false, "with -seeds, report a failing seed and go on (exit 1 at the end)")
	secondEVM := flag.Bool("second-evm", false, "add a second EVM chain, base, beside ethereum")
	configChanges := flag.Bool("config-changes", false, "add another process's changes of the stores' settings (invariant 7)")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// A run's heap is small and short-lived: collect less often.
		debug.SetGCPercent(400)
	}
	// SIGTERM too: an interrupted run removes its database (kept in memory on /dev/shm).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := sim.Config{Steps: *steps, SecondEVM: *secondEVM, ConfigChanges: *configChanges}
	if *bug != "" {
		set, ok := bugs[*bug]
		if !ok {
			fmt.Fprintf(os.Stderr, "sim: unknown bug %q\n", *bug)
			os.Exit(2)
		}
		set(&cfg.Bugs)
		if cfg.Bugs.ConfigGuardOff && !cfg.ConfigChanges {
			cfg.ConfigChanges = true // nothing else changes a store's settings
			fmt.Fprintln(os.Stderr, "sim: -bug config-guard-off turns on -config-changes")
		}
	}
	if *ignore != "" {
		cfg.Ignore = strings.Split(*ignore, ",")
	}
	if *off != "" {
		cfg.Off = strings.Split(*off, ",")
		for _, f := range cfg.Off {
			if !slices.Contains(sim.Features, f) {
				fmt.Fprintf(os.Stderr, "sim: unknown feature %q (features: %s)\n", f, strings.Join(sim.Features, ","))
				os.Exit(2)
			}
		}
	}
	if *trace {
		cfg.Trace = os.Stdout
	}
	if *pg {
		url := os.Getenv("CHAINPAY_TEST_POSTGRES_URL")
		if url == "" {
			fmt.Fprintln(os.Stderr, "sim: -postgres needs CHAINPAY_TEST_POSTGRES_URL")
			os.Exit(2)
		}
		cfg.Open = sim.OpenPostgres(url)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sim:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "sim:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	list := []uint64{*seed}
	if *seeds > 0 {
		list = nil
		for i := range *seeds {
			list = append(list, *from+uint64(i))
		}
	}
	start := time.Now()
	lastReport := start
	totalSteps := 0
	var failed []uint64
	for i, s := range list {
		cfg.Seed = s
		res, err := sim.Run(ctx, cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sim: seed %d: %v\n", s, err)
			os.Exit(2)
		}
		totalSteps += res.Steps
		if res.Failure != nil {
			fmt.Fprint(os.Stderr, res.Failure.Report(40))
			if !*keepGoing {
				os.Exit(1)
			}
			failed = append(failed, s)
		}
		if time.Since(lastReport) > 10*time.Second || i == len(list)-1 {
			lastReport = time.Now()
			el := time.Since(start).Seconds()
			fmt.Printf("%d seeds run (up to %d), %d failed, %d steps in %.1fs: %.0f steps/s, %.1f seeds/min\n",
				i+1, s, len(failed), totalSteps, el, float64(totalSteps)/el, float64(i+1)/el*60)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "sim: %d seeds failed: %v\n", len(failed), failed)
		os.Exit(1)
	}
}
