package sim_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/sim"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var ctx = context.Background()

// regressionSeeds are seeds that once failed, with what they found (all on main before
// issues 19 and 20). Each must pass: with the full workload (only empty) or with the
// workload narrowed to the named features. They run with the CI budget (TestBudget's gate).
var regressionSeeds = []struct {
	seed  uint64
	steps int
	only  []string // the features left on; empty = all
	found string
}{
	{1, 150, nil, "issue 20 #2: an invoice resolved settled while its ETH payments were unconfirmed; they confirm and are never booked"},
	{3, 150, nil, "issue 19 #1: a zero-value Bitcoin output stops the Bitcoin follower for good (CHECK amount > 0)"},
	{4, 150, nil, "issue 19 #1: a zero-value EVM transfer stops the EVM follower for good"},
	{7, 150, nil, "issue 20 #1: a top-up paid after settlement confirms and is never booked"},
	{11, 150, nil, "issues 19 #2/#9: a payment on a 0-conf invoice ends removed although it is on the best chain"},
	{14, 150, nil, "issue 19 #5: the EVM node down for 29 h; a payment made in time is never recorded (watch list by wall clock)"},
	{21, 150, nil, "issue 19 #3: after EVM reorgs a re-mined payment stays removed"},
	{23, 150, nil, "issue 19 #5/#9: a payment seen in the mempool and mined during an outage ends removed"},
	{1, 100, []string{"lag"}, "issue 19 #2/#4: the EVM node answers 2 blocks behind; an invoice paid in time expires and stays expired"},
	{4, 100, []string{"nodefail"}, "issue 19 #4: the Bitcoin follower expires an ETH invoice paid in time while the EVM node is down"},
	{1, 100, []string{"outage"}, "issue 19 #4: after an outage a processing invoice goes invalid (monitoring window judged by the wall clock during catch-up)"},
	{4, 100, []string{"reorg"}, "issue 19 #3: an invoice paid in time ends expired after a reorg"},
	{15, 100, []string{"evict"}, "issue 20 #5: an evicted payment mined later on a settled, reorged invoice counts but is not booked"},
	{19, 100, []string{"rbf"}, "issue 20: a replaced payment's books differ from the invariant"},
	// Found after issues 19 and 20 landed (both fixed since):
	{43, 150, nil, "an EVM reorg above a payment's block rewinds the tip so that the payment, booked as an unapplied receipt at 3+ confirmations, has 1; ledger verify then expects nothing and the rewind posts no record"},
	{1167, 150, nil, "an EVM node stuck with an hour-old tip counted as fresh (2 h, the Bitcoin rule): an ETH-only invoice expired by the wall clock before its chain reached expiry"},
	// Found by the long run of this branch (fixed in store/sqlite; the failure hangs on a
	// race with a cancellation, so the seed rarely replays it: the deterministic regression
	// is store/sqlite's TestCanceledReadLeavesNoOpenTransaction):
	{100748, 60, nil, "a read transaction canceled as its BEGIN ran went back to the SQLite pool inside the transaction: every later read on that connection failed (\"cannot start a transaction within a transaction\")"},
	// Found by the 20,000-seed run on the head with refunds (issue 25; fixed by refunds'
	// sync rule, refunds.NotSyncedError):
	{749427, 60, nil, "a Bitcoin node down for 2 h while a reorg double-spent a payment; as the outage ended, before the follower caught up, the merchant refunded the invoice in full and paid it: completed refunds 178.10 USD against 89.05 received"},
	// Found by the 20,000-seed run of the fourth session (a simulator bug: the auditor's
	// chain time did not move when a follower step committed and then crashed):
	{774664, 60, nil, "an ETH-only invoice expired at a chain time the ethereum follower committed just before a crash (its tip then 6 min old, fresh); the auditor had kept the time of before the step and called the expiry early"},
	// Seed 7 (above) also failed once in a replay on a loaded machine, a simulator bug: a
	// follower step had a 30 s real-time bound, and its catch-up after a 50 h outage took
	// longer (now 10 min, see stepTimeout). Seed 5 at 80 steps (TestDeterministic) showed the
	// relay's record order varying between replays (TestDeterministic compares them as a set).
}

// booksQuiet leaves out the parts of the workload that exercise what issue 20 (books follow
// money) fixes: with it, invariant 3 holds on main before that issue lands.
var booksQuiet = []string{"dust", "overpay", "rbf", "evict", "reorg", "resolve", "outage", "lag", "nodefail"}

// only returns the features other than the given ones (for Config.Off).
func only(features ...string) []string {
	return slices.DeleteFunc(slices.Clone(sim.Features), func(f string) bool { return slices.Contains(features, f) })
}

// run runs one seed and fails the test on a simulation error (not on a violated invariant).
func run(t *testing.T, cfg sim.Config) sim.Result {
	t.Helper()
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	return res
}

// TestDeterministic shows that a seed replays the same run: the same trace (but for when
// the relay posts each ledger record, see docs/invariants.md) and the same outcome.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	seeds, steps := []uint64{5, 1000}, 80
	if raceDetector {
		seeds, steps = seeds[:1], 25 // a smoke run of the goroutines the simulation starts
	}
	for _, seed := range seeds {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			var traces [2]bytes.Buffer
			var res [2]sim.Result
			for i := range 2 {
				res[i] = run(t, sim.Config{Seed: seed, Steps: steps, Trace: &traces[i]})
			}
			a, b := comparable(traces[0].String()), comparable(traces[1].String())
			if !slices.Equal(a, b) {
				for i := range min(len(a), len(b)) {
					if a[i] != b[i] {
						t.Fatalf("replay differs at line %d:\n first  %s\n second %s", i, a[i], b[i])
					}
				}
				t.Fatalf("replay has %d lines, first run %d", len(b), len(a))
			}
			if (res[0].Failure == nil) != (res[1].Failure == nil) ||
				(res[0].Failure != nil && res[0].Failure.Invariant != res[1].Failure.Invariant) {
				t.Fatalf("outcomes differ: %v / %v", res[0].Failure, res[1].Failure)
			}
		})
	}
}

// comparable returns the trace's lines with the ledger sink's lines taken out, stripped of
// their step and time, sorted and put at the end: the relay posts the records pending at one
// moment in the order of their random ids, a batch (8) at a time, so when a record reaches
// the sink may differ between replays (within a step, or by a step or an hour of simulated
// time when a backlog drains); which records reach it, with which amounts, may not.
func comparable(trace string) []string {
	var out, sink []string
	for _, l := range strings.Split(strings.TrimSpace(trace), "\n") {
		if _, rec, ok := strings.Cut(l, "ledger sink:"); ok {
			sink = append(sink, "ledger sink:"+rec)
		} else {
			out = append(out, l)
		}
	}
	slices.Sort(sink)
	return append(out, sink...)
}

// TestInjectedBugs turns on each injected bug alone and shows the auditor catches it
// within a bounded number of seeds, as a violation of the invariant it breaks; the same seed
// passes without the bug. The relay's bug runs with a workload that leaves out what the books
// issue changed (booksQuiet), so that its clean run isolates the relay.
func TestInjectedBugs(t *testing.T) {
	if raceDetector {
		t.Skip("too slow under the race detector; ./scripts/test runs it in its simulation step")
	}
	t.Parallel()
	const budget = 15
	bugs := []struct {
		name      string
		bugs      sim.Bugs
		off       []string // workload left out
		ignore    []string
		invariant string // the prefixes of the invariants it may break
	}{
		{"node loses transfers", sim.Bugs{NodeLosesTransfers: true}, nil, nil, "1."},
		{"stale block cache", sim.Bugs{StaleBlockCache: true}, nil, nil, "5."},
		{"relay drops records", sim.Bugs{RelayDropsRecords: true}, booksQuiet, nil, "3."},
		// Without the refunds' workload: a quarter of the steps spent on refunds leave fewer
		// invoices in the 100 steps, and the first seed that catches it is 16 (it was caught
		// within the budget before refunds joined the workload; off, the runs are the same).
		{"wall clock ahead", sim.Bugs{WallClockAhead: true}, []string{"refund"}, nil, "1. 2."},
		{"wrong webhook secret", sim.Bugs{WrongWebhookSecret: true}, nil, nil, "4."},
		{"expiry by wall clock (watcher TipFreshness)", sim.Bugs{ExpiryByWallClock: true}, only("nodefail"), nil, "2."},
		{"drop orphans at once (watcher OrphanGraceBlocks)", sim.Bugs{DropOrphansAtOnce: true}, only("reorg"), nil, "1."},
		{"book on status change only", sim.Bugs{BookOnStatusChangeOnly: true}, nil, nil, "3."},
		// The refunds' workload alone: a stranger's transfer to a refund's destination must
		// not pay it (issue 25).
		{"refunds matched regardless of sender", sim.Bugs{RefundsIgnoreSender: true}, only("refund"), nil, "6."},
		// With another process changing the stores' settings (Config.ConfigChanges).
		{"configuration guard off", sim.Bugs{ConfigGuardOff: true}, nil, nil, "7."},
	}
	for _, b := range bugs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= budget; seed++ {
				cfg := sim.Config{Seed: seed, Steps: 100, Off: b.off, Ignore: b.ignore, Bugs: b.bugs,
					ConfigChanges: b.bugs.ConfigGuardOff}
				res := run(t, cfg)
				if res.Failure == nil {
					continue
				}
				if !slices.ContainsFunc(strings.Fields(b.invariant), func(p string) bool { return strings.HasPrefix(res.Failure.Invariant, p) }) {
					t.Fatalf("seed %d: caught, but as invariant %s (want %s...):\n%s", seed, res.Failure.Invariant,
						b.invariant, res.Failure.Report(15))
				}
				cfg.Bugs = sim.Bugs{}
				if clean := run(t, cfg); clean.Failure != nil {
					t.Fatalf("seed %d fails without the bug too:\n%s", seed, clean.Failure.Report(20))
				}
				t.Logf("caught at seed %d step %d: %s", seed, res.Failure.Step, res.Failure.Detail)
				return
			}
			t.Fatalf("not caught within %d seeds", budget)
		})
	}
}

// TestBudget is the CI budget: CHAINPAY_SIM_SEEDS seeds on SQLite and CHAINPAY_SIM_PG_SEEDS
// on Postgres with the full workload, then the regression seeds. ./scripts/test runs it (with
// TestInjectedBugs and TestDeterministic, without the race detector) in its own step; without
// CHAINPAY_SIM_SEEDS it does not run.
func TestBudget(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("CHAINPAY_SIM_SEEDS"))
	if err != nil {
		t.Skip("set CHAINPAY_SIM_SEEDS (./scripts/test runs the simulator's budget in its own step)")
	}
	steps := 60
	if s, err := strconv.Atoi(os.Getenv("CHAINPAY_SIM_STEPS")); err == nil {
		steps = s
	}
	t.Run("sqlite", func(t *testing.T) { runSeeds(t, seedRange(1, n), steps, nil) })
	if m, err := strconv.Atoi(os.Getenv("CHAINPAY_SIM_PG_SEEDS")); err == nil && m > 0 {
		t.Run("postgres", func(t *testing.T) {
			runSeeds(t, seedRange(1, m), steps, sim.OpenPostgres(storetest.PostgresURL(t)))
		})
	}
	t.Run("regressions", func(t *testing.T) {
		for _, r := range regressionSeeds {
			cfg := sim.Config{Seed: r.seed, Steps: r.steps}
			if len(r.only) > 0 {
				cfg.Off = only(r.only...)
			}
			if res := run(t, cfg); res.Failure != nil {
				t.Errorf("regression seed %d %v (found: %s) fails:\n%s", r.seed, r.only, r.found, res.Failure.Report(20))
			}
		}
	})
}

func seedRange(from uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = from + uint64(i)
	}
	return out
}

// runSeeds runs seeds on GOMAXPROCS workers and reports every failure and the throughput.
func runSeeds(t *testing.T, seeds []uint64, steps int, open func(context.Context) (store.Store, func(), error)) {
	start := time.Now()
	var (
		mu       sync.Mutex
		failures []*sim.Failure
		total    int
		wg       sync.WaitGroup
		next     = make(chan uint64)
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range next {
				res, err := sim.Run(ctx, sim.Config{Seed: seed, Steps: steps, Open: open})
				mu.Lock()
				if err != nil {
					failures = append(failures, &sim.Failure{Seed: seed, Invariant: "simulation", Detail: err.Error()})
				} else if res.Failure != nil {
					failures = append(failures, res.Failure)
				}
				total += res.Steps
				mu.Unlock()
			}
		}()
	}
	for _, s := range seeds {
		next <- s
	}
	close(next)
	wg.Wait()
	el := time.Since(start).Seconds()
	t.Logf("%d seeds, %d steps in %.1fs: %.0f steps/s, %.0f seeds/min", len(seeds), total, el, float64(total)/el,
		float64(len(seeds))/el*60)
	slices.SortFunc(failures, func(a, b *sim.Failure) int { return int(a.Seed) - int(b.Seed) })
	for i, f := range failures {
		if i < 3 {
			t.Errorf("%s", f.Report(25))
		} else {
			t.Errorf("%s", f.Error())
		}
	}
	if len(failures) > 0 {
		t.Logf("%d of %d seeds failed", len(failures), len(seeds))
	}
}

// TestInvariantsDocumented checks that docs/invariants.md states each invariant in the words
// the auditor reports it with.
func TestInvariantsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/invariants.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range sim.Invariants() {
		if !bytes.Contains(doc, []byte("\n"+inv+"\n")) {
			t.Errorf("docs/invariants.md does not state, on its own line:\n%s", inv)
		}
	}
}

// TestSecondEVMChain runs the full workload with a second EVM chain, "base" (issue 26):
// its own follower, cursor and wallets, paid, reorged and failed with the others; every
// invariant holds and payments land on both EVM chains.
func TestSecondEVMChain(t *testing.T) {
	t.Parallel()
	seeds, steps := seedRange(1, 6), 60
	if raceDetector {
		seeds, steps = seeds[:1], 25
	}
	onBase := 0
	for _, seed := range seeds {
		var trace strings.Builder
		res := run(t, sim.Config{Seed: seed, Steps: steps, SecondEVM: true, Trace: &trace})
		if res.Failure != nil {
			t.Fatalf("seed %d with two EVM chains:\n%s", seed, res.Failure.Report(20))
		}
		onBase += strings.Count(trace.String(), " ETH on base in ")
	}
	if onBase == 0 {
		t.Fatal("no payment was made on base")
	}
	t.Logf("%d seeds, %d payments on base", len(seeds), onBase)
}

// TestConfigChanges runs the full workload with another process changing the stores'
// settings behind the invoice service's cache (invariant 7): every invariant holds, the
// settings changed, and some creations were refused for their amount (under the settings of
// that moment: invariant 7 checks each).
func TestConfigChanges(t *testing.T) {
	t.Parallel()
	seeds, steps := seedRange(1, 6), 60
	if raceDetector {
		seeds, steps = seeds[:1], 25
	}
	changes, refused := 0, 0
	for _, seed := range seeds {
		var trace strings.Builder
		res := run(t, sim.Config{Seed: seed, Steps: steps, ConfigChanges: true, Trace: &trace})
		if res.Failure != nil {
			t.Fatalf("seed %d with settings changes:\n%s", seed, res.Failure.Report(20))
		}
		changes += strings.Count(trace.String(), "another process sets merchant")
		refused += strings.Count(trace.String(), "failed: invalid invoice: amount: above this store")
	}
	if changes == 0 || refused == 0 {
		t.Fatalf("%d settings changes and %d creations refused by them: the workload did not exercise the guard", changes, refused)
	}
	t.Logf("%d seeds, %d settings changes, %d creations refused", len(seeds), changes, refused)
}
