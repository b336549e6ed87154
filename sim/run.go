package sim

import (
	"context"
	"fmt"
	"github.com/chainpay/chainpay/watcher"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

// Config configures one run.
type Config struct {
	// Seed decides everything: the same seed runs the same simulation.
	Seed uint64
	// Steps is how many workload steps run before quiescence [150].
	Steps int
	// Open returns a fresh, migrated, empty store and a function that disposes of it
	// [SQLite in a new temporary directory].
	Open func(ctx context.Context) (store.Store, func(), error)
	// Trace, when set, receives every trace line as it happens.
	Trace io.Writer
	// Logger receives the components' logs [discarded].
	Logger *slog.Logger
	// Bugs turns on deliberately injected bugs (for the test that shows they are caught).
	Bugs Bugs
	// Off names parts of the workload to leave out (see Features), to narrow a search or
	// to look past a known defect.
	Off []string
	// Ignore lists invariants (by number, "3") whose violations are only traced, to look
	// past a known defect while its fix is under way. Never set in CI.
	Ignore []string
	// SecondEVM adds a second EVM chain, "base", beside "ethereum" (issue 26): its own
	// follower, cursor and wallet per merchant, paid, reorged and failed like the others.
	// Off by default, so that the seeds of the default world run as before.
	SecondEVM bool
	// ConfigChanges adds another process's changes of the stores' settings (chainpay store
	// set, another replica): a store's maximum invoice amount is set, changed or lifted
	// behind the simulated process's back, whose invoice service still has the old
	// settings cached; invariant 7 checks that no invoice is created against them. Off by
	// default, so that the seeds of the default world run as before.
	ConfigChanges bool
}

// Features are the parts of the workload Config.Off can leave out.
var Features = []string{
	"zero",        // zero-value outputs
	"dust",        // dust payments
	"overpay",     // payments beyond the amount due, and paying twice
	"rbf",         // replacements (RBF)
	"doublespend", // double spends
	"evict",       // mempool evictions
	"reorg",       // reorgs
	"outage",      // outages of hours to days
	"lag",         // nodes that answer behind
	"nodefail",    // nodes that are down or time out
	"cancel",      // merchants cancelling
	"resolve",     // merchants resolving
	"crash",       // process crashes
	"storefault",  // busy stores and retried transactions
	"sinkfault",   // failing ledger sinks and webhook endpoints
	"refund",      // refunds: created, claimed, sent (short, replaced, reorged), cancelled
}

// on reports whether the workload includes feature.
func (w *World) on(feature string) bool { return !slices.Contains(w.cfg.Off, feature) }

// Bugs are deliberately injected defects, for the test that shows the auditor catches each.
// The zero value injects none; only tests set them. They live in the simulated world's own
// seams (the node adapter, the sink wiring, the process clock, the endpoint's secret), so
// production code carries no switch.
type Bugs struct {
	// NodeLosesTransfers makes the node adapter lose the transfers of every fifth
	// transaction.
	NodeLosesTransfers bool
	// StaleBlockCache makes the node adapter cache blocks by height and never invalidate the
	// cache on a reorg.
	StaleBlockCache bool
	// RelayDropsRecords makes every third new ledger record count as posted without
	// reaching the sink.
	RelayDropsRecords bool
	// WallClockAhead gives the followers (and their invoice reviews) a clock an hour ahead
	// of the chains' time: payments and expiry are judged by a wall clock, not by chain time.
	WallClockAhead bool
	// WrongWebhookSecret signs the second merchant's webhooks with a secret the merchant
	// does not have.
	WrongWebhookSecret bool
	// ExpiryByWallClock configures the real followers to take any tip as fresh
	// (watcher.Config.TipFreshness of a century): chain time then follows the wall clock
	// even while the node is stuck behind, so expiry is judged by the wall clock.
	ExpiryByWallClock bool
	// DropOrphansAtOnce configures the real followers to mark a payment that a reorg took
	// out of its block removed after one block (watcher.Config.OrphanGraceBlocks 1) on
	// chains without a visible mempool.
	DropOrphansAtOnce bool
	// BookOnStatusChangeOnly hands an invoice to the ledger settler only when its status
	// changes, not when a payment of it confirms, reorgs or arrives late.
	BookOnStatusChangeOnly bool
	// RefundsIgnoreSender makes the node adapter report every transfer to a refund's
	// destination as sent by the refund's merchant (spending its coin, from its treasury):
	// refunds are then matched regardless of who sent the money.
	RefundsIgnoreSender bool
	// ConfigGuardOff makes the process's store skip the configuration guard of invoice
	// creations (store.Tx.GuardMerchantConfig): invoices are then created from the invoice
	// service's cached settings, however stale.
	ConfigGuardOff bool
}

// Failure is a violated invariant: the seed, the invariant, what was found, and the trace of
// the run up to it.
type Failure struct {
	Seed      uint64
	Step      int
	Invariant string
	Detail    string
	Trace     []string
	// Replay is the cmd/sim command line that replays the run (seed, steps, workload).
	Replay string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("seed %d, step %d: invariant %s\n  %s", f.Seed, f.Step, f.Invariant, f.Detail)
}

// Report is the failure with the last n lines of its trace and how to replay it.
func (f *Failure) Report(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\ntrace (last %d of %d lines):\n", f.Error(), min(n, len(f.Trace)), len(f.Trace))
	for _, l := range f.Trace[max(0, len(f.Trace)-n):] {
		b.WriteString("  " + l + "\n")
	}
	replay := f.Replay
	if replay == "" {
		replay = fmt.Sprintf("go run ./cmd/sim -seed %d -trace", f.Seed)
	}
	fmt.Fprintf(&b, "replay: %s\n", replay)
	return b.String()
}

// Result is the outcome of one run.
type Result struct {
	Seed    uint64
	Steps   int // workload steps and quiescence rounds run
	Crashes int
	// Failure is the first invariant violated; nil when the run passed.
	Failure *Failure
}

// fail records the first invariant violation of the run.
func (w *World) fail(invariant, format string, args ...any) {
	if w.failure != nil {
		return
	}
	detail := fmt.Sprintf(format, args...)
	if slices.ContainsFunc(w.cfg.Ignore, func(n string) bool { return strings.HasPrefix(invariant, n+".") }) {
		if !w.ignored[invariant] {
			w.ignored[invariant] = true
			w.tracef("ignored violation of invariant %s: %s", invariant[:1], detail)
		}
		return
	}
	w.tracef("VIOLATION of %s: %s", invariant, detail)
	w.failure = &Failure{Seed: w.seed, Step: w.step, Invariant: invariant, Detail: detail}
}

// OpenSQLite opens a fresh migrated SQLite store in a new temporary directory; the returned
// function closes and removes it.
func OpenSQLite(ctx context.Context) (store.Store, func(), error) {
	// The simulated crashes are the process's, not the machine's: on a memory file system
	// (when there is one) the database never waits for a disk.
	tmp := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		tmp = "/dev/shm"
	}
	dir, err := os.MkdirTemp(tmp, "chainpay-sim-")
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(filepath.Join(dir, "sim.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	done := func() { st.Close(); os.RemoveAll(dir) }
	if err := st.Migrate(ctx); err != nil {
		done()
		return nil, nil, err
	}
	return st, done, nil
}

// Run runs one seed: the workload for cfg.Steps steps, then quiescence (every fault healed,
// the chains mined past every confirmation and monitoring window, every queue drained), with
// the invariants checked after every step and at the end. An error means the simulation
// itself could not run; a violated invariant is Result.Failure.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Steps == 0 {
		cfg.Steps = 150
	}
	if cfg.Open == nil {
		cfg.Open = OpenSQLite
	}
	st, done, err := cfg.Open(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("open store: %w", err)
	}
	defer done()
	w, err := newWorld(cfg, st)
	if err != nil {
		return Result{}, err
	}
	defer w.proc.deliv.Stop()
	w.tracef("seed %d: fault rate %.2f", cfg.Seed, w.pickFaultRate())
	for w.step = 1; w.step <= cfg.Steps && w.failure == nil; w.step++ {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		touched := w.act(ctx)
		w.runProcess(ctx, touched)
	}
	if w.failure == nil {
		w.quiesce(ctx)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err // interrupted: whatever failed on the way failed for that
	}
	res := Result{Seed: cfg.Seed, Steps: w.step, Crashes: w.crashes, Failure: w.failure}
	if w.failure != nil {
		w.failure.Trace = w.trace
		w.failure.Replay = replayCommand(cfg)
	}
	return res, nil
}

// replayCommand is the cmd/sim command line that replays cfg's run (but for injected bugs
// and the store: add -bug or -postgres as the run had them).
func replayCommand(cfg Config) string {
	cmd := fmt.Sprintf("go run ./cmd/sim -seed %d -steps %d", cfg.Seed, cfg.Steps)
	if len(cfg.Off) > 0 {
		cmd += " -off " + strings.Join(cfg.Off, ",")
	}
	if len(cfg.Ignore) > 0 {
		cmd += " -ignore " + strings.Join(cfg.Ignore, ",")
	}
	if cfg.SecondEVM {
		cmd += " -second-evm"
	}
	if cfg.ConfigChanges {
		cmd += " -config-changes"
	}
	return cmd + " -trace"
}

// pickFaultRate sets the chance of a store fault per write transaction for this seed.
func (w *World) pickFaultRate() float64 {
	w.faultRate = []float64{0, 0, 0.01, 0.03, 0.08}[w.rng.IntN(5)]
	if !w.on("storefault") && !w.on("crash") {
		w.faultRate = 0
	}
	return w.faultRate
}

// runProcess lets the process do its work for one step: the followers follow, the relay and
// the dispatcher run once, the deliverer drains every few steps; then the auditor checks.
func (w *World) runProcess(ctx context.Context, touched map[string]bool) {
	if w.failure != nil {
		return
	}
	for id := range touched {
		w.touched[id] = true
	}
	crashes := w.crashes
	fresh := make([]bool, len(w.chains))
	w.work(ctx, fresh)
	w.crashedInStep = w.crashes != crashes
	w.audit(ctx, fresh, w.touched)
	w.touched = map[string]bool{}
}

// work runs the process's components once; it stops at a crash (the next process takes over
// at the next step).
func (w *World) work(ctx context.Context, fresh []bool) {
	for i, c := range w.chains {
		err := w.followStep(ctx, i)
		if w.failure != nil {
			return
		}
		if w.fs.crashed {
			// The step may have committed its chain time before the process died (a crash
			// after commit): what the follower may judge invoices by moved all the same
			// (seed 774664: the model kept the older time, and an expiry the committed
			// chain time justified looked early).
			w.advanceChainTime(ctx, i, false)
			w.crashed()
			return
		}
		w.noteErr(c.Name+" follower", err)
		fresh[i] = err == nil && c.Healthy()
		w.advanceChainTime(ctx, i, err == nil)
	}
	_, err := w.proc.relay.RunOnce(ctx)
	if w.crashed() {
		return
	}
	w.noteErr("relay", err)
	_, err = w.proc.disp.Dispatch(ctx)
	if w.crashed() {
		return
	}
	w.noteErr("dispatcher", err)
	if w.step%5 == 0 {
		w.deliver(ctx)
	}
}

// TipFreshness is DESIGN §4's "fresh tip of a synced node" for a chain, as the follower is
// configured with it (watcher.Config.TipFreshness): a tip block at most this old. Chains
// without a visible mempool are EVM-like, with blocks seconds apart: a node whose tip is
// more than EVMTipFreshness old is stuck, not synced.
func TipFreshness(c *Chain) time.Duration {
	if !c.Mempool {
		return watcher.EVMTipFreshness
	}
	return 2 * time.Hour
}

// advanceChainTime records the chain time chain i's follower may judge invoices by after a
// step: the time of the block its committed cursor is at and, when its node answered (the
// step may still have failed later, on the store), the node's tip block's time, or the clock
// while that tip is fresh.
func (w *World) advanceChainTime(ctx context.Context, i int, ok bool) {
	ok = ok || (!w.chains[i].Down && !w.chains[i].Timeout)
	c := w.chains[i]
	var at time.Time
	var cur store.Cursor
	err := w.raw.View(ctx, func(tx store.Tx) (err error) {
		cur, err = tx.Cursor(ctx, c.Name)
		return err
	})
	if err == nil && cur.Height <= c.Height() {
		at = c.blocks[cur.Height].Time
	}
	if ok {
		tip := c.blocks[c.Visible()].Time
		if now := w.clock.Peek(); now.Sub(tip) <= TipFreshness(c) {
			tip = now
		}
		at = maxTime(at, tip)
	}
	w.chainTime[i] = maxTime(w.chainTime[i], at)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stepTimeout bounds one follower step in real time: a step that does not end is a
// follower stuck in a loop (the simulated nodes answer at once). It is a last resort, far
// above what a step takes on a loaded machine (a catch-up over days of blocks took over 30 s
// of real time with a dozen processes on two cores: seed 7 once failed so, and its replay
// failed at another block); a loop that calls the node is caught by callBudget, by count.
const stepTimeout = 10 * time.Minute

// followStep runs chain i's follower once.
func (w *World) followStep(ctx context.Context, i int) error {
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	w.proc.sources[i].calls.Store(0)
	_, err := w.proc.followers[i].Step(sctx)
	if w.proc.sources[i].calls.Load() > callBudget {
		w.fail(invCursor, "the %s follower's step is stuck in a loop (over %d node calls): %v", w.chains[i].Name, callBudget, err)
	}
	if sctx.Err() != nil && ctx.Err() == nil {
		w.fail(invCursor, "the %s follower's step did not end within %s (cursor stuck in a loop?): %v", w.chains[i].Name, stepTimeout, err)
	}
	return err
}

// noteErr traces a component's error when it differs from its last one.
func (w *World) noteErr(component string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if w.errs[component] == msg {
		return
	}
	w.errs[component] = msg
	if msg == "" {
		w.tracef("%s: works again", component)
	} else {
		w.tracef("%s: %s", component, msg)
	}
}

// audit runs the checks that hold after every step. When no write transaction began since
// the last audit, the store is as the last audit read it: its snapshot is reused, and the
// checks that depend on the store alone (transitions, books), which passed on it, are not
// repeated; the chains' checks run again, since the chains moved.
func (w *World) audit(ctx context.Context, fresh []bool, touched map[string]bool) {
	writes := w.fs.writes.Load()
	unchanged := w.last.valid && writes == w.last.writes
	s := w.last.snap
	if !unchanged {
		var err error
		if s, err = w.read(ctx, false); err != nil {
			w.fail("simulation", "read the store: %v", err)
			return
		}
		w.last.snap, w.last.writes, w.last.valid = s, writes, true
	}
	for i, c := range w.chains {
		if fresh[i] && w.failure == nil {
			w.checkChain(s, c)
		}
	}
	if w.failure == nil {
		w.checkRefunds(s, fresh, false)
	}
	if unchanged {
		return
	}
	if w.failure == nil {
		w.checkTransitions(s, touched)
	}
	if w.failure == nil {
		// ledger verify itself every tenth step and after a crash; the same check on the
		// snapshot at the others.
		w.checkBooks(ctx, s, w.step%10 == 0 || w.crashedInStep)
	}
}

// deliver runs the webhook deliverer until nothing is due at the simulated time. The world
// stands still meanwhile, so its goroutines' scheduling changes no decision.
func (w *World) deliver(ctx context.Context) {
	d := w.proc.deliv
	if !w.due(ctx) {
		return // the deliverer would find nothing to do
	}
	d.Start(ctx)
	defer d.Stop()
	deadline := time.Now().Add(time.Minute) // a last resort too, see stepTimeout
	last, quiet := -1, 0
	for time.Now().Before(deadline) && quiet < 3 {
		time.Sleep(200 * time.Microsecond)
		var due []string
		err := w.raw.View(ctx, func(tx store.Tx) (err error) {
			due, err = tx.DueWebhookEndpoints(ctx, w.clock.Peek(), 1)
			return err
		})
		if err != nil {
			w.fail("simulation", "read due deliveries: %v", err)
			return
		}
		w.hooks.mu.Lock()
		n := w.hooks.requests
		w.hooks.mu.Unlock()
		// Quiet: nothing due, no request since the last look and no worker in flight (a
		// claimed delivery is not due; stopping the deliverer during its request cut it short
		// and left it to a later round only on a loaded machine: TestDeterministic/5 once
		// replayed with one more 7-hour round).
		if len(due) == 0 && n == last && d.Idle() {
			quiet++
		} else {
			quiet = 0
		}
		last = n
	}
	w.hooks.mu.Lock()
	problem := w.hooks.problem
	w.hooks.mu.Unlock()
	if problem != "" {
		w.fail(invWebhooks, "%s", problem)
	}
}

// due reports whether a webhook delivery is due at the simulated time.
func (w *World) due(ctx context.Context) bool {
	n, err := w.count(ctx, func(tx store.Tx) (int, error) {
		ids, err := tx.DueWebhookEndpoints(ctx, w.clock.Peek(), 1)
		return len(ids), err
	})
	return err != nil || n > 0
}

// OpenPostgres returns a Config.Open that gives every run a new schema on the Postgres at
// url (dropped afterwards).
func OpenPostgres(url string) func(ctx context.Context) (store.Store, func(), error) {
	return func(ctx context.Context) (store.Store, func(), error) {
		return openPostgres(ctx, url)
	}
}
