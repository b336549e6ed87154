package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/greenfield"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/retention"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
	"github.com/chainpay/chainpay/webhooks"
)

// wiring is the resolved configuration of one chainpay process: what serve builds from
// settings and dev builds from its local chains.
type wiring struct {
	publicURL string
	btc       *btcWiring
	evm       []*ethWiring // the EVM chains, each with its own follower and sweeper
	rates     *rates.Service
	pairs     []rates.Pair
	sink      ledger.Sink // nil: the built-in journal
	// refunds follows refund transactions with the chain followers (set by newApp).
	refunds watcher.Refunds
	feeBps  int64
	// idempotencyRetention is how long idempotency records are kept (0: retention.DefaultPeriod).
	idempotencyRetention time.Duration
	guard                webhooks.Guard
	holder               string // lease holder id ("" on SQLite: one process)
	// Metrics: on their own listener (metricsListen, "" for none), and on the main listener
	// only behind metricsToken or, in dev, openly (metricsOnMain).
	metricsListen string
	metricsToken  string
	pprof         bool // also /debug/pprof/ on metricsListen (CHAINPAY_PPROF)
	metricsOnMain bool
}

type btcWiring struct {
	network bitcoin.Network
	confs   int
	rpc     []string
	poll    time.Duration
}

type ethToken struct {
	code     string
	contract common.Address
	decimals uint8
}

// ethWiring is one EVM chain: its name is the network of its assets, the key of its
// cursor, lease, wallets and payment options.
type ethWiring struct {
	chain       string
	chainID     uint64
	native      string // native asset code ("" means ETH)
	rpc         []string
	ws          []string // websocket URLs for newHeads notifications (optional)
	factoryAddr common.Address
	factory     *ethereum.Factory
	tokens      []ethToken
	confs       int
	finality    string // block tag payments settle on ("finalized", "safe"); "" = confs deep
	poll        time.Duration
	// reconcilePerBlock: balances reconciled per block (watcher.EthereumConfig.ReconcilePerBlock).
	reconcilePerBlock int
	sweeperKey        *ecdsa.PrivateKey // nil: no sweeping
	sweepInterval     time.Duration
	// sweepMinMultiple: a forwarder is swept when it holds this many times its sweep's
	// gas (0: the sweeper's default); sweeperGasWarn: /readyz warns below this balance.
	sweepMinMultiple int64
	sweeperGasWarn   *big.Int
	// settingOf names the setting a key of this chain came from, for error messages
	// (nil: CHAINPAY_EVM_<NAME>_<KEY>).
	settingOf func(key string) string
}

// setting names the setting of key ("rpc", "chain_id", ...) of the chain.
func (e *ethWiring) setting(key string) string {
	if e.settingOf != nil {
		return e.settingOf(key)
	}
	return "CHAINPAY_EVM_" + strings.ToUpper(e.chain) + "_" + strings.ToUpper(key)
}

// background is a component with its own goroutines.
type background interface {
	Start(ctx context.Context)
	Stop()
}

// app is a wired chainpay process.
type app struct {
	log     *slog.Logger
	st      store.Store
	inv     *invoices.Service
	refunds *refunds.Service
	api     *api.Server
	hooks   *webhooks.Service
	relay   *ledger.Relay
	handler http.Handler
	metrics http.Handler // for the metrics listener
	bg      []background
	// sources are the followed chains; run fixes their cursors before serving (anchorCursors).
	sources []watcher.Source
	// indexes hands out Bitcoin derivation indexes from per-process blocks; stop gives the
	// unused tails back.
	indexes *deposit.Indexes
}

// buildApp wires every component over st. Nothing runs until start.
func buildApp(ctx context.Context, st store.Store, w *wiring, log *slog.Logger) (*app, error) {
	a := &app{log: log, st: st}
	chains := map[string]invoices.Chain{}
	if w.btc != nil {
		chains["bitcoin"] = deposit.NewBitcoin(w.btc.network, w.btc.confs)
	}
	for _, e := range w.evm {
		toks := map[string]deposit.EVMToken{}
		for _, t := range e.tokens {
			toks[t.code] = deposit.EVMToken{Contract: t.contract, Decimals: t.decimals}
		}
		evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: e.chain, ChainID: e.chainID, Factory: e.factory,
			Native: e.native, Tokens: toks, Confirmations: e.confs, Finality: e.finality})
		if err != nil {
			return nil, err
		}
		if _, dup := chains[e.chain]; dup {
			return nil, fmt.Errorf("chain %s is configured twice", e.chain)
		}
		chains[e.chain] = evm
	}
	settler := &ledger.Settler{
		Fees: func(context.Context, store.Tx, string) (ledger.FeePolicy, error) {
			return ledger.FeePolicy{BasisPoints: w.feeBps}, nil
		},
		FairValue: cachedFairValue(w.rates),
	}
	a.indexes = deposit.NewIndexes(st, deposit.IndexesConfig{})
	inv, err := invoices.New(st, invoices.Config{Chains: chains, Quoter: quoter{w.rates}, Settler: settler, Logger: log,
		Indexes: a.indexes})
	if err != nil {
		return nil, err
	}
	a.inv = inv

	sink := w.sink
	if sink == nil {
		sink = ledger.NewJournal(st, nil)
	}
	if a.relay, err = ledger.NewRelay(st, sink, ledger.RelayConfig{Holder: w.holder, Logger: log}); err != nil {
		return nil, err
	}
	if a.hooks, err = webhooks.NewService(st, &webhooks.Config{Guard: w.guard}); err != nil {
		return nil, err
	}
	rcfg := refunds.Config{Invoices: inv, Quoter: quoter{w.rates}, PublicURL: w.publicURL, SyncWindow: syncWindow(w)}
	if w.btc != nil && len(w.btc.rpc) > 0 {
		// Refund PSBTs read coins and fee rates from the node and broadcast signed ones.
		node, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: w.btc.rpc, Network: w.btc.network, Logger: log})
		if err != nil {
			return nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
		}
		rcfg.Bitcoin = &refunds.BitcoinConfig{Node: node}
	}
	refs, err := refunds.New(st, rcfg)
	if err != nil {
		return nil, err
	}
	a.refunds = refs
	w.refunds = refs.Follower()
	a.api = api.New(api.Config{Store: st, Invoices: inv, Rates: w.rates, Webhooks: a.hooks, Ledger: a.relay,
		Logger: log, PublicURL: w.publicURL, Refunds: refs})
	disp, err := webhooks.NewDispatcher(st, a.api, &webhooks.DispatcherConfig{Logger: log})
	if err != nil {
		return nil, err
	}
	deliv, err := webhooks.NewDeliverer(st, &webhooks.DelivererConfig{Guard: w.guard, Logger: log, Holder: w.holder,
		Formats: map[string]webhooks.Formatter{greenfield.FormatName: greenfield.Formatter{}}})
	if err != nil {
		return nil, err
	}
	pruner, err := retention.New(st, retention.Config{Period: w.idempotencyRetention, Logger: log})
	if err != nil {
		return nil, err
	}
	a.bg = append(a.bg, a.relay, disp, deliv, pruner)

	// Operations: metrics and health see every chain follower.
	opsCfg := &ops.Config{Store: st, Rates: w.rates, Pairs: w.pairs, Version: version, Logger: log}
	metrics, err := ops.NewMetrics(opsCfg)
	if err != nil {
		return nil, err
	}
	if w.btc != nil && len(w.btc.rpc) > 0 {
		r, src, err := bitcoinRunner(ctx, st, inv, w, log, metrics)
		if err != nil {
			return nil, err
		}
		a.bg = append(a.bg, r)
		a.sources = append(a.sources, src)
		opsCfg.Chains = append(opsCfg.Chains, ops.Chain{Name: "bitcoin", Follower: r, Tip: tipOf(src)})
	}
	for _, e := range w.evm {
		if len(e.rpc) == 0 {
			continue
		}
		r, src, bg, err := ethereumRunners(ctx, st, inv, w, e, log, metrics)
		if err != nil {
			return nil, err
		}
		a.bg = append(a.bg, r)
		a.bg = append(a.bg, bg...)
		opsCfg.Sweepers = append(opsCfg.Sweepers, opsSweepers(e, bg)...)
		a.sources = append(a.sources, src)
		opsCfg.Chains = append(opsCfg.Chains, ops.Chain{Name: e.chain, Follower: r, Tip: tipOf(src)})
	}
	health, err := ops.NewHealth(opsCfg)
	if err != nil {
		return nil, err
	}
	sweeps, err := ops.NewSweepCollector(opsCfg) // after the chains: it sees their sweepers
	if err != nil {
		return nil, err
	}
	metrics.Registry().MustRegister(sweeps)

	mux := http.NewServeMux()
	pages := checkout.New(checkout.Config{Store: st, Invoices: inv, Logger: log, Refunds: a.refunds})
	mux.Handle("/i/", pages)
	mux.Handle("/r/", pages)
	a.metrics = metrics.Handler()
	switch {
	case w.metricsOnMain:
		mux.Handle("GET /metrics", metrics.Handler())
	case w.metricsToken != "":
		mux.Handle("GET /metrics", metrics.GuardedHandler(w.metricsToken))
	}
	mux.Handle("GET /healthz", health.Live())
	mux.Handle("GET /readyz", health.Ready())
	// BTCPay Greenfield compatibility (docs/greenfield.md): /api/v1/... and /api-keys/authorize.
	gf := greenfield.New(greenfield.Config{Store: st, Invoices: inv, Webhooks: a.hooks, Refunds: a.refunds, Logger: log, PublicURL: w.publicURL})
	for _, p := range greenfield.Paths() {
		mux.Handle(p, gf)
	}
	mux.Handle("/", a.api)
	a.handler = metrics.Instrument(mux)
	return a, nil
}

// tipOf reads a chain's best height from its source, for readiness and lag metrics.
// syncWindow is how recently the followers must have stood at their nodes' tips for a
// refund to be decided (refunds.Config.SyncWindow): the default, or three of the longest
// poll interval when that is longer.
func syncWindow(w *wiring) time.Duration {
	longest := time.Duration(0)
	if w.btc != nil && len(w.btc.rpc) > 0 {
		longest = w.btc.poll
	}
	for _, e := range w.evm {
		if len(e.rpc) > 0 {
			longest = max(longest, e.poll)
		}
	}
	return max(refunds.DefaultSyncWindow, 3*longest)
}

func tipOf(src watcher.Source) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		h, err := src.Tip(ctx)
		return h.Height, err
	}
}

// start runs the background components; stop ends them in reverse order.
func (a *app) start(ctx context.Context) {
	for _, b := range a.bg {
		b.Start(ctx)
	}
}

func (a *app) stop() {
	for i := len(a.bg) - 1; i >= 0; i-- {
		a.bg[i].Stop()
	}
	if a.indexes != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.indexes.Close(ctx); err != nil {
			a.log.Warn("could not give unused derivation indexes back (they stay a gap)", "err", err)
		}
	}
}

// bitcoinRunner connects to the configured nodes (checking their network) and returns the
// runner of the Bitcoin follower.
func bitcoinRunner(ctx context.Context, st store.Store, inv *invoices.Service, w *wiring, log *slog.Logger,
	m *ops.Metrics) (*watcher.Runner, watcher.Source, error) {
	node, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: w.btc.rpc, Network: w.btc.network, Logger: log,
		HTTPClient: &http.Client{Transport: m.RPCTransport("bitcoin", nil)}})
	if err != nil {
		return nil, nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := node.Check(cctx); err != nil {
		if errors.Is(err, bitcoin.ErrWrongNetwork) {
			return nil, nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
		}
		log.Warn("bitcoin node not ready yet; the watcher keeps retrying", "err", err)
	}
	src, err := watcher.NewBitcoinSource(node, w.btc.network)
	if err != nil {
		return nil, nil, err
	}
	f := watcher.NewFollower(st, src, inv, watcher.Config{Logger: log, Holder: w.holder, LeaseTTL: followerLease(w.btc.poll),
		Skipped: m.TransferSkipped("bitcoin"), Refunds: w.refunds})
	// btcd's websocket wakes the follower on each block (bitcoind: polling only, one warning).
	n, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: w.btc.rpc, Logger: log})
	if err != nil {
		return nil, nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
	}
	return watcher.NewRunner(f, w.btc.poll, watcher.WithNotifier(n)), src, nil
}

// ethereumRunners connects to the nodes of the EVM chain e (checking chain id and token decimals) and
// returns the follower's runner, its source and, with a sweeper key, the sweeper.
func ethereumRunners(ctx context.Context, st store.Store, inv *invoices.Service, w *wiring, e *ethWiring,
	log *slog.Logger, m *ops.Metrics) (*watcher.Runner, watcher.Source, []background, error) {
	var toks []watcher.EthereumToken
	for _, t := range e.tokens {
		toks = append(toks, watcher.EthereumToken{Code: t.code, Contract: t.contract, Decimals: t.decimals})
	}
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: e.chain, ChainID: e.chainID,
		URLs: e.rpc, Tokens: toks, Logger: log, Native: e.native, Finality: e.finality, ReconcilePerBlock: e.reconcilePerBlock, HTTPClient: &http.Client{Transport: m.RPCTransport(e.chain, nil)}})
	if err != nil {
		return nil, nil, nil, &settingError{e.setting("rpc"), err.Error()}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var fsrc watcher.Source = src
	if err := src.Check(cctx); err != nil {
		if errors.Is(err, watcher.ErrChainMismatch) {
			return nil, nil, nil, &settingError{e.setting("chain_id"), err.Error()}
		}
		// A chain whose node is down does not stop the others: its follower checks the
		// node before its first step instead, and /readyz shows the chain until it answers.
		log.Warn("EVM node not ready yet; its follower checks it before following", "chain", e.chain, "err", err)
		fsrc = &checkedSource{EthereumSource: src}
	}
	f := watcher.NewFollower(st, fsrc, inv, watcher.Config{Logger: log, Holder: w.holder, LeaseTTL: followerLease(e.poll),
		Skipped:      m.TransferSkipped(e.chain),
		TipFreshness: watcher.EVMTipFreshness, Refunds: w.refunds})
	var opts []watcher.RunnerOption
	if len(e.ws) > 0 {
		n, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: e.ws, Chain: e.chain, Logger: log})
		if err != nil {
			return nil, nil, nil, &settingError{e.setting("ws"), err.Error()}
		}
		opts = append(opts, watcher.WithNotifier(n))
	}
	runner := watcher.NewRunner(f, e.poll, opts...)
	var out []background
	if e.sweeperKey != nil {
		client, err := ethclient.DialContext(ctx, e.rpc[0])
		if err != nil {
			return nil, nil, nil, &settingError{e.setting("rpc"), err.Error()}
		}
		sw, err := newSweeper(st, w, e, client, log)
		if err != nil {
			return nil, nil, nil, err
		}
		out = append(out, sw)
	}
	return runner, fsrc, out, nil
}

// checkedSource is the source of an EVM chain whose node could not be checked at start
// (down, unreachable): its Tip, which every follower step and readiness check starts with,
// runs Check until it passes once, so nothing is read from a node of another chain or with
// other token decimals. Embedding keeps the source's other methods (Finalizer, Unwatcher).
type checkedSource struct {
	*watcher.EthereumSource
	ok atomic.Bool
}

func (c *checkedSource) Tip(ctx context.Context) (watcher.Header, error) {
	if !c.ok.Load() {
		if err := c.Check(ctx); err != nil {
			return watcher.Header{}, fmt.Errorf("node check: %w", err)
		}
		c.ok.Store(true)
	}
	return c.EthereumSource.Tip(ctx)
}

// factoryAt is the ForwarderFactory at addr as it is on every chain: its constructor's one
// CREATE makes the forwarder implementation at CREATE(addr, 1) (a contract's nonce starts
// at 1, EIP-161), so the deposit addresses are known without asking a node.
func factoryAt(addr common.Address) (*ethereum.Factory, error) {
	return ethereum.NewFactory(addr, crypto.CreateAddress(addr, 1))
}

// errNoFactory reports an address where the node answers but no ForwarderFactory is.
var errNoFactory = errors.New("no ForwarderFactory there")

// readFactory reads the forwarder implementation of the factory at addr from the chain.
func readFactory(ctx context.Context, rpcURL string, addr common.Address) (*ethereum.Factory, error) {
	client, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	abi := bindings.NewForwarderFactory()
	out, err := client.CallContract(ctx, geth.CallMsg{To: &addr, Data: abi.PackImplementation()}, nil)
	if err != nil {
		return nil, fmt.Errorf("read factory %s: %w", addr.Hex(), err)
	}
	impl, err := abi.UnpackImplementation(out)
	if err != nil {
		return nil, fmt.Errorf("factory %s: %w: %v", addr.Hex(), errNoFactory, err)
	}
	return ethereum.NewFactory(addr, impl)
}

// followerLease is the follower lease's TTL for a poll interval: the follower renews it at
// every step (at least once per poll), so three polls leave room for a slow step, and a
// replica killed while following delays the chain by at most this long (5 s at least, 15 s
// at the default 5 s poll).
func followerLease(poll time.Duration) time.Duration {
	return max(5*time.Second, 3*poll)
}

// anchorCursors makes sure every followed chain has a cursor before the API hands out a
// deposit address, so every payment lands in a block after the cursor. The follower would
// create a missing cursor at the node's tip on its first step, but that step can come much
// later than the first invoice: a process killed before it, or one waiting out the lease of
// a killed predecessor, starts at a tip above blocks that already paid invoices, and those
// payments are never seen (issue 29, run 1). With cursors in place this is one read per
// chain; on a fresh database it waits for each node, retrying until ctx ends.
func (a *app) anchorCursors(ctx context.Context) error {
	for _, src := range a.sources {
		for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
			err := anchorCursor(ctx, a.st, src)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.log.Warn("fixing where the follower starts before serving; retrying", "chain", src.Chain(), "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// anchorCursor creates src's cursor at the node's tip (scanning from the tip block, as the
// follower's first step does) unless the chain has one.
func anchorCursor(ctx context.Context, st store.Store, src watcher.Source) error {
	chain := src.Chain()
	exists := func(tx store.Tx) (bool, error) {
		_, err := tx.Cursor(ctx, chain)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	var ok bool
	if err := st.View(ctx, func(tx store.Tx) (err error) { ok, err = exists(tx); return }); err != nil || ok {
		return err
	}
	nctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tip, err := src.Tip(nctx)
	if err != nil {
		return fmt.Errorf("%s tip: %w", chain, err)
	}
	h, err := src.HeaderAt(nctx, max(tip.Height-1, 0))
	if err != nil {
		return fmt.Errorf("%s header %d: %w", chain, max(tip.Height-1, 0), err)
	}
	return st.Tx(ctx, func(tx store.Tx) error {
		if ok, err := exists(tx); err != nil || ok { // another replica was first
			return err
		}
		now := time.Now().UTC()
		return tx.SetCursor(ctx, store.Cursor{Chain: chain, Height: h.Height, Hash: h.Hash, ParentHash: h.Parent,
			UpdatedAt: now, ChainTime: watcher.BlockTime(h, now)})
	})
}

// holderID names this process in leases.
func holderID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.NewID("p", time.Now()))
}
