package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
	"github.com/chainpay/chainpay/webhooks"
)

// genesis is the simulated clock's start: every seed starts at the same instant.
var genesis = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// rates are the fixed quotes, in USD per whole unit.
var rates = map[string]decimal.Decimal{"BTC": decimal.RequireFromString("50000"), "ETH": decimal.RequireFromString("2500")}

// quoter is an invoices.Quoter with fixed rates quoted at the simulated time.
type quoter struct{ clock *Clock }

func (q quoter) Quote(_ context.Context, base, _ string) (invoices.Quote, error) {
	r, ok := rates[base]
	if !ok {
		return invoices.Quote{}, invoices.ErrRatesUnavailable
	}
	return invoices.Quote{Rate: r, Source: "sim", At: q.clock.Peek(), Raw: "[]"}, nil
}

// evmChain is a deterministic invoices.Chain for an EVM-like chain: one address per
// derivation index of the merchant's wallet. name is the chain ("" is "ethereum").
type evmChain struct {
	confs int
	name  string
}

var _ invoices.Chain = evmChain{}

func (e evmChain) Assets(store.Wallet) ([]money.Asset, error) {
	a := money.ETH()
	if e.name != "" {
		a.Chain = e.name
	}
	return []money.Asset{a}, nil
}
func (evmChain) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	idx, err := tx.AllocateIndex(ctx, w.ID)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("0x%s%08x", w.Treasury[len(w.Treasury)-32:], idx), &idx, nil
}
func (evmChain) PaymentURI(o store.PaymentOption, amount *big.Int, _ string) string {
	return "ethereum:" + o.Address + "?value=" + amount.String()
}
func (e evmChain) Confirmations() int { return e.confs }

// snapshots renders an invoice for webhook payloads (webhooks.Snapshots).
type snapshots struct{ svc *invoices.Service }

func (s snapshots) Snapshot(ctx context.Context, id string) (json.RawMessage, error) {
	d, err := s.svc.Get(ctx, "", id)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": d.Invoice.ID, "status": d.Invoice.Status, "flags": d.Invoice.Flags})
}

// merchant is a simulated merchant with its webhook endpoint.
type merchant struct {
	id       string
	endpoint string
	secret   string
	// maxUSD is the store's maximum invoice amount in USD cents as another process last set
	// it (Config.ConfigChanges); 0: none.
	maxUSD int
}

// process is everything that lives in the memory of one chainpay process: a crash drops it
// and the simulation builds a new one from the store.
type process struct {
	svc       *invoices.Service
	ref       *refunds.Service    // the merchants' and customers' refunds (API, refund page)
	followers []*watcher.Follower // by chain index
	sources   []*Source
	relay     *ledger.Relay
	disp      *webhooks.Dispatcher
	deliv     *webhooks.Deliverer
}

// World is one seeded simulation: the simulated environment, the real components under test
// and the auditor.
type World struct {
	seed   uint64
	cfg    Config
	rng    *rand.Rand // the world's decisions
	frng   *rand.Rand // store faults (asked once per write transaction, in order)
	clock  *Clock
	raw    store.Store
	fs     *faultyStore
	chains []*Chain // bitcoin, ethereum
	sink   *checkSink
	hooks  *checkEndpoint
	log    *slog.Logger

	merchants []merchant
	invoices  []*simInvoice
	refunds   []*simRefund
	proc      *process
	gen       int // processes started
	// faultRate is the chance of a store fault per write transaction in this phase.
	faultRate float64
	crashes   int
	// externalsUntil is when the current outage of the sink or endpoints ends.
	externalsUntil time.Time
	// chainTime is, per chain, the latest chain time its follower could judge by.
	chainTime []time.Time
	// crashedInStep means the process crashed during the last step's work (a committed
	// change may lack the bookkeeping of the step that made it).
	crashedInStep bool

	trace   []string
	errs    map[string]string // component → its last error, traced once
	touched map[string]bool   // invoices a merchant acted on since the last audit
	ignored map[string]bool   // invariants whose (ignored) violation was traced
	step    int
	failure *Failure
	aud     auditor
	// last is the snapshot of the last audit and the store's write count when it was read.
	last struct {
		snap   snapshot
		writes int64
		valid  bool
	}
}

// Chains' fixed settings.
const (
	btcIdx = 0
	ethIdx = 1
	// ethConfirmations is the EVM-like chain's confirmations policy (12 on mainnet; fewer
	// keeps seeds short, the logic is the same).
	ethConfirmations = 3
)

func newWorld(cfg Config, st store.Store) (*World, error) {
	w := &World{seed: cfg.Seed, cfg: cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0001)),
		frng:  rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0002)),
		clock: NewClock(genesis), raw: st, errs: map[string]string{}, touched: map[string]bool{},
		ignored: map[string]bool{},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil))}
	if cfg.Logger != nil {
		w.log = cfg.Logger
	}
	w.fs = &faultyStore{Store: st, plan: w.planFault, onFault: w.noteFault, guardOff: cfg.Bugs.ConfigGuardOff}
	w.chains = []*Chain{
		NewChain("bitcoin", "BTC", true, genesis.Add(-2*time.Hour)),
		NewChain("ethereum", "ETH", false, genesis.Add(-2*time.Hour)),
	}
	if cfg.SecondEVM {
		w.chains = append(w.chains, NewChain("base", "ETH", false, genesis.Add(-2*time.Hour)))
	}
	for _, c := range w.chains {
		for i := range 3 {
			c.Mine(genesis.Add(time.Duration(i-3)*10*time.Minute), nil)
		}
	}
	w.chainTime = make([]time.Time, len(w.chains))
	w.sink = newCheckSink(w)
	w.hooks = newCheckEndpoint(w)
	w.aud = newAuditor()
	if err := w.setupMerchants(context.Background()); err != nil {
		return nil, fmt.Errorf("set up merchants: %w", err)
	}
	if err := w.build(); err != nil {
		return nil, err
	}
	return w, nil
}

// planFault picks the fault of the next write transaction.
func (w *World) planFault() storeFault {
	if w.faultRate == 0 || w.frng.Float64() >= w.faultRate {
		return faultNone
	}
	f := faultCrashAfter
	switch r := w.frng.IntN(10); {
	case r < 5:
		f = faultRetry
	case r < 7:
		f = faultBusy
	case r < 8:
		f = faultCrashBefore
	}
	if (f == faultRetry || f == faultBusy) && !w.on("storefault") {
		return faultNone
	}
	if (f == faultCrashBefore || f == faultCrashAfter) && !w.on("crash") {
		return faultNone
	}
	return f
}

func (w *World) noteFault(f storeFault) { w.tracef("store fault: %s", f) }

// setupMerchants creates two merchants with a Bitcoin and an EVM wallet and one webhook
// endpoint each, straight in the store (this is not what is under test).
func (w *World) setupMerchants(ctx context.Context) error {
	for i := range 2 {
		seed := make([]byte, 32)
		seed[0], seed[1] = byte(i+1), byte(w.seed)
		tpub, err := regtest.MerchantTpub(seed)
		if err != nil {
			return err
		}
		wal, err := bitcoin.ParseWallet(tpub, bitcoin.Regtest)
		if err != nil {
			return err
		}
		now := w.clock.Now()
		m := merchant{id: fmt.Sprintf("sto_sim%d", i+1), endpoint: fmt.Sprintf("we_sim%d", i+1),
			secret: fmt.Sprintf("whsec_sim_%d_%d", w.seed, i+1)}
		err = w.raw.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateMerchant(ctx, store.Merchant{ID: m.id, Name: m.id, CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateWallet(ctx, store.Wallet{ID: m.id + "_btc", MerchantID: m.id, Chain: "bitcoin",
				Network: string(bitcoin.Regtest), Descriptor: wal.Descriptor(), CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.CreateWallet(ctx, store.Wallet{ID: m.id + "_eth", MerchantID: m.id, Chain: "ethereum",
				Network: "sim", Treasury: fmt.Sprintf("0x%040x", i+1), CreatedAt: now}); err != nil {
				return err
			}
			if w.cfg.SecondEVM {
				if err := tx.CreateWallet(ctx, store.Wallet{ID: m.id + "_base", MerchantID: m.id, Chain: "base",
					Network: "sim-base", Treasury: fmt.Sprintf("0x%040x", 0xba5e00+i+1), CreatedAt: now}); err != nil {
					return err
				}
			}
			return tx.CreateWebhookEndpoint(ctx, store.WebhookEndpoint{ID: m.endpoint, MerchantID: m.id,
				URL: "https://" + m.id + ".sim/hooks", Secret: m.secret, Events: []string{"*"}, Enabled: true,
				CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			return err
		}
		w.merchants = append(w.merchants, m)
		w.hooks.secrets[m.id+".sim"] = m.secret
		if w.cfg.Bugs.WrongWebhookSecret && i == 1 {
			w.hooks.secrets[m.id+".sim"] = "whsec_the_merchant_never_got_this"
		}
	}
	return nil
}

// build starts a new process over the store: the real components, wired as cmd/chainpay
// wires them, with the simulated clock and nodes.
func (w *World) build() error {
	w.gen++
	w.fs.crashed = false
	p := &process{}
	chains := map[string]invoices.Chain{
		"bitcoin":  deposit.NewBitcoin(bitcoin.Regtest, 1),
		"ethereum": evmChain{confs: ethConfirmations},
	}
	if w.cfg.SecondEVM {
		chains["base"] = evmChain{confs: ethConfirmations, name: "base"}
	}
	var settler invoices.Settler = &ledger.Settler{}
	if w.cfg.Bugs.BookOnStatusChangeOnly {
		settler = statusChangeSettler{settler}
	}
	svc, err := invoices.New(w.fs, invoices.Config{Chains: chains,
		Quoter: quoter{w.clock}, Settler: settler, Now: w.clock.Now, Logger: w.log})
	if err != nil {
		return err
	}
	p.svc = svc
	if p.ref, err = refunds.New(w.fs, refunds.Config{Invoices: svc, Quoter: quoter{w.clock}, Now: w.clock.Now}); err != nil {
		return err
	}
	// The followers get their own service over the same store; with WallClockAhead they
	// and it judge by a clock an hour ahead of the chains.
	now := w.clock.Now
	if w.cfg.Bugs.WallClockAhead {
		now = func() time.Time { return w.clock.Now().Add(time.Hour) }
	}
	fsvc, err := invoices.New(w.fs, invoices.Config{Chains: chains, Quoter: quoter{w.clock}, Settler: settler,
		Now: now, Logger: w.log})
	if err != nil {
		return err
	}
	fref, err := refunds.New(w.fs, refunds.Config{Invoices: fsvc, Quoter: quoter{w.clock}, Now: now})
	if err != nil {
		return err
	}
	for _, c := range w.chains {
		src := c.Source()
		if w.cfg.Bugs.NodeLosesTransfers {
			src.Filter = loseEveryFifth
		}
		if w.cfg.Bugs.RefundsIgnoreSender {
			src.Filter = w.everyoneIsTheMerchant
		}
		src.gate = w.gate(c.Name)
		if w.cfg.Bugs.StaleBlockCache {
			src.cache = map[int64]watcher.Block{}
		}
		p.sources = append(p.sources, src)
		fcfg := watcher.Config{StartHeight: 1, ReorgDepth: 50, Now: now, Logger: w.log, TipFreshness: TipFreshness(c),
			Refunds: fref.Follower()}
		if w.cfg.Bugs.ExpiryByWallClock {
			fcfg.TipFreshness = 100 * 365 * 24 * time.Hour
		}
		if w.cfg.Bugs.DropOrphansAtOnce {
			fcfg.OrphanGraceBlocks = 1
		}
		// A chain without a mempool is EVM-like: its follower keeps the source's watch set,
		// as it does for the EthereumSource; the others match every transfer in the store.
		var fsrc watcher.Source = src
		if !c.Mempool {
			fsrc = src.Watching()
		}
		p.followers = append(p.followers, watcher.NewFollower(w.fs, fsrc, fsvc, fcfg))
	}
	jit := rand.New(rand.NewPCG(w.seed, uint64(w.gen)))
	var sink ledger.Sink = w.sink
	if w.cfg.Bugs.RelayDropsRecords {
		sink = &droppingSink{next: w.sink, seen: map[string]bool{}}
	}
	p.relay, err = ledger.NewRelay(w.fs, sink, ledger.RelayConfig{Holder: fmt.Sprintf("relay-%d", w.gen),
		BatchSize: 8, PostTimeout: 5 * time.Second, Lease: time.Minute, Now: w.clock.Now, Logger: w.log,
		Jitter: func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return time.Duration(jit.Int64N(int64(d)))
		}})
	if err != nil {
		return err
	}
	p.disp, err = webhooks.NewDispatcher(w.fs, snapshots{svc}, &webhooks.DispatcherConfig{Now: w.clock.Now, Logger: w.log})
	if err != nil {
		return err
	}
	// The deliverer runs goroutines: it gets the real store (its transactions are not
	// counted by the fault plan, whose order must not depend on scheduling) and a clock
	// that does not move while it runs.
	p.deliv, err = webhooks.NewDeliverer(w.raw, &webhooks.DelivererConfig{Now: w.clock.Peek, Logger: w.log,
		Client: &http.Client{Transport: w.hooks}, PollInterval: time.Millisecond, RequestTimeout: 10 * time.Second,
		Rand: func() float64 { return 0.5 }, Holder: fmt.Sprintf("deliverer-%d", w.gen)})
	if err != nil {
		return err
	}
	w.proc = p
	return nil
}

// gate makes the follower's read-ahead deterministic: block h is read only once the
// follower's cursor (as committed) is at h-1 or above, so each batch holds exactly the blocks
// ready when it starts, one at a time, whatever the goroutines' timing. It runs in the
// follower's read-ahead goroutine and reads the store without faults.
func (w *World) gate(chain string) func(ctx context.Context, h int64) error {
	return func(ctx context.Context, h int64) error {
		for {
			next := w.fs.commits()
			var cur store.Cursor
			err := w.raw.View(ctx, func(tx store.Tx) (err error) {
				cur, err = tx.Cursor(ctx, chain)
				return err
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil || h <= cur.Height+1 {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-next:
			}
		}
	}
}

// crashed reports whether the process died; if so it builds a new one.
func (w *World) crashed() bool {
	if !w.fs.crashed {
		return false
	}
	w.crashes++
	w.tracef("CRASH: process %d dies; process %d starts from the store", w.gen, w.gen+1)
	if err := w.build(); err != nil {
		w.fail("simulation", "restart: %v", err)
	}
	return true
}

// tracef records a line of the run's trace, stamped with the step and simulated time.
func (w *World) tracef(format string, args ...any) {
	line := fmt.Sprintf("#%-4d %s  %s", w.step, w.clock.Peek().Sub(genesis).Round(time.Second), fmt.Sprintf(format, args...))
	w.trace = append(w.trace, line)
	if w.cfg.Trace != nil {
		fmt.Fprintln(w.cfg.Trace, line)
	}
}

// statusChangeSettler is an injected bug: it books an invoice only when its status changes.
type statusChangeSettler struct{ next invoices.Settler }

func (s statusChangeSettler) SettleTx(ctx context.Context, tx store.Tx, d invoices.Details, events []string, now time.Time) error {
	for _, e := range events {
		switch e {
		case invoices.EventProcessing, invoices.EventSettled, invoices.EventExpired, invoices.EventInvalid, invoices.EventResolved:
			return s.next.SettleTx(ctx, tx, d, events, now)
		}
	}
	return nil
}
