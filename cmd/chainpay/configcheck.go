package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// runConfig dispatches `chainpay config SUBCOMMAND`.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if _, rest, err := sub(args, "check"); err != nil {
		return err
	} else {
		args = rest
	}
	return runConfigCheck(ctx, args, stdout, stderr)
}

// errCheckFailed is returned by `config check` when a check failed (exit 1).
var errCheckFailed = errors.New("configuration check failed")

// checkReport prints one line per check.
type checkReport struct {
	out    io.Writer
	failed int
}

func (r *checkReport) ok(name, format string, args ...any) {
	fmt.Fprintf(r.out, "✓ %s: %s\n", name, fmt.Sprintf(format, args...))
}

func (r *checkReport) fail(name, format string, args ...any) {
	r.failed++
	fmt.Fprintf(r.out, "✗ %s: %s\n", name, fmt.Sprintf(format, args...))
}

// runConfigCheck reads the settings of `chainpay serve` (flags, environment, configuration
// file) and checks them against the world: the database (reachable, schema current), every
// Bitcoin and EVM node separately (network or chain id, tip), the ForwarderFactory and
// token contracts on every EVM node, the sweeper key's gas balance, the stored wallets
// against the configured chains, the rates of the enabled assets, and the HTTP ledger
// sink's reachability. It prints one ✓ or ✗ line per check (a bad setting is the ✗
// settings line) and returns errCheckFailed (exit 1) when any failed. Flag syntax errors
// and an unreadable configuration file exit 2, as for serve.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	load := commonSettings(fs)
	var ss serveSettings
	ss.register(fs)
	timeout := fs.Duration("timeout", 15*time.Second, "time allowed for each check")
	if err := applyConfig(fs, args); err != nil {
		return err
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	c, err := load()
	if err != nil {
		return err
	}
	r := &checkReport{out: stdout}
	within := func(fn func(ctx context.Context)) {
		cctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		fn(cctx)
	}

	// The database.
	var st store.Store
	within(func(ctx context.Context) {
		st, err = openStore(ctx, c)
		if err != nil {
			r.fail("database", "%s: %v", redact(c.DatabaseURL), err)
			return
		}
		if err := st.Ping(ctx); err != nil {
			r.fail("database", "%s %s: %v", st.Dialect(), redact(c.DatabaseURL), err)
			return
		}
		applied, latest, err := st.MigrationStatus(ctx)
		switch {
		case err != nil:
			r.fail("database", "%s reachable, schema unknown: %v", st.Dialect(), err)
		case applied != latest:
			r.fail("database", "%s reachable, schema version %d, this build needs %d: run `chainpay migrate`", st.Dialect(), applied, latest)
		default:
			r.ok("database", "%s reachable, schema version %d", st.Dialect(), applied)
		}
	})
	if st != nil {
		defer st.Close()
	}
	dialect := "sqlite"
	if st != nil {
		dialect = st.Dialect()
	}

	// The settings as serve resolves them (this reads secret files and the factory).
	var w *wiring
	within(func(ctx context.Context) {
		w, err = ss.wiring(ctx, slog.New(slog.DiscardHandler), dialect)
	})
	if err != nil {
		r.fail("settings", "%v", err)
		return r.result()
	}
	r.ok("settings", "all valid")

	assets := map[string]bool{}
	if w.btc != nil && len(w.btc.rpc) > 0 {
		assets["BTC"] = true
		for _, u := range w.btc.rpc {
			within(func(ctx context.Context) { checkBitcoinNode(ctx, r, w.btc.network, u) })
		}
	}
	// Every EVM chain on its own: each node, the factory and tokens there, its sweeper.
	for _, e := range w.evm {
		assets[cmp.Or(e.native, "ETH")] = true
		for _, t := range e.tokens {
			assets[t.code] = true
		}
		for _, u := range e.rpc {
			within(func(ctx context.Context) { checkEVMNode(ctx, r, e, u) })
		}
		if e.sweeperKey != nil {
			within(func(ctx context.Context) { checkSweeper(ctx, r, e, e.rpc[0], e.sweeperKey) })
		} else {
			r.ok(e.chain+" sweeper", "no sweeper key (%s): deposits stay in their forwarders (safe) until a sweeper runs", e.setting("sweeper_key_file"))
		}
	}
	if len(w.evm) > 1 {
		checkSameFactory(r, w.evm)
	}
	if len(assets) == 0 {
		r.fail("chains", "no chain configured: set CHAINPAY_BITCOIN_RPC and/or CHAINPAY_EVM_CHAINS (or CHAINPAY_ETHEREUM_RPC)")
	}
	if st != nil {
		within(func(ctx context.Context) { checkWallets(ctx, r, st, w) })
	}
	within(func(ctx context.Context) { checkRates(ctx, r, w, assets) })
	within(func(ctx context.Context) { checkLedgerSink(ctx, r, &ss) })
	return r.result()
}

func (r *checkReport) result() error {
	if r.failed > 0 {
		fmt.Fprintf(r.out, "%d problem(s)\n", r.failed)
		return fmt.Errorf("%w: %d problem(s)", errCheckFailed, r.failed)
	}
	fmt.Fprintln(r.out, "all checks passed")
	return nil
}

// endpointName is a node URL without credentials, path or query (API keys live there).
func endpointName(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return ops.Endpoint(p)
}

func checkBitcoinNode(ctx context.Context, r *checkReport, network bitcoin.Network, u string) {
	name := "bitcoin node " + endpointName(u)
	node, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{u}, Network: network})
	if err != nil {
		r.fail(name, "%v", err)
		return
	}
	defer node.Close()
	if err := node.Check(ctx); err != nil {
		r.fail(name, "%v", err)
		return
	}
	h, _, err := node.TipHeight(ctx)
	if err != nil {
		r.fail(name, "network %s, but the tip: %v", network, err)
		return
	}
	r.ok(name, "network %s, tip %d", network, h)
}

func checkEVMNode(ctx context.Context, r *checkReport, w *ethWiring, u string) {
	name := w.chain + " node " + endpointName(u)
	var toks []watcher.EthereumToken
	var codes []string
	for _, t := range w.tokens {
		toks = append(toks, watcher.EthereumToken{Code: t.code, Contract: t.contract, Decimals: t.decimals})
		codes = append(codes, fmt.Sprintf("%s (%d decimals)", t.code, t.decimals))
	}
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: w.chain, ChainID: w.chainID, URLs: []string{u}, Tokens: toks,
		Finality: w.finality})
	if err != nil {
		r.fail(name, "%v", err)
		return
	}
	defer src.Close()
	if err := src.Check(ctx); err != nil {
		r.fail(name, "%v", err)
		return
	}
	tip, err := src.Tip(ctx)
	if err != nil {
		r.fail(name, "chain id %d, but the tip: %v", w.chainID, err)
		return
	}
	if _, err := readFactory(ctx, u, w.factory.Address()); err != nil {
		r.fail(name, "chain id %d, tip %d, but the factory: %v", w.chainID, tip.Height, err)
		return
	}
	tokens := "no tokens"
	if len(codes) > 0 {
		tokens = "tokens " + strings.Join(codes, ", ")
	}
	policy := fmt.Sprintf("settles %d blocks deep", cmp.Or(w.confs, 12))
	if w.finality != "" {
		fin, _ := src.FinalHeight(ctx) // Check read it already
		policy = fmt.Sprintf("settles on the %s block (now %d, %d behind the tip)", w.finality, fin, tip.Height-fin)
	}
	r.ok(name, "chain id %d, tip %d, %s, ForwarderFactory %s, %s", w.chainID, tip.Height, policy, w.factory.Address().Hex(), tokens)
}

func checkSweeper(ctx context.Context, r *checkReport, e *ethWiring, u string, key *ecdsa.PrivateKey) {
	addr := crypto.PubkeyToAddress(key.PublicKey)
	name := e.chain + " sweeper " + addr.Hex()
	native := cmp.Or(e.native, "ETH")
	client, err := ethclient.DialContext(ctx, u)
	if err != nil {
		r.fail(name, "%v", err)
		return
	}
	defer client.Close()
	bal, err := client.BalanceAt(ctx, addr, nil)
	if err != nil {
		r.fail(name, "balance: %v", err)
		return
	}
	if bal.Sign() == 0 {
		r.fail(name, "balance 0: it cannot pay gas for sweeps (it only pays gas; fund it with a little %s)", native)
		return
	}
	eth := new(big.Rat).SetFrac(bal, big.NewInt(1e18))
	r.ok(name, "balance %s %s for gas (the key can move no customer funds)", eth.FloatString(6), native)
}

// checkWallets compares the stored wallets with the configured chains.
func checkWallets(ctx context.Context, r *checkReport, st store.Store, w *wiring) {
	var counts []store.WalletCount
	if err := st.View(ctx, func(tx store.Tx) (err error) { counts, err = tx.WalletCounts(ctx); return }); err != nil {
		r.fail("wallets", "%v", err)
		return
	}
	if len(counts) == 0 {
		r.ok("wallets", "none yet (add one with `chainpay wallet add`)")
		return
	}
	for _, c := range counts {
		name := fmt.Sprintf("wallets %s/%s", c.Chain, c.Network)
		switch c.Chain {
		case "bitcoin":
			switch {
			case c.Network != string(w.btc.network):
				r.fail(name, "%d wallet(s) on %s, but CHAINPAY_BITCOIN_NETWORK is %s", c.Count, c.Network, w.btc.network)
			case len(w.btc.rpc) == 0:
				r.fail(name, "%d wallet(s), but no CHAINPAY_BITCOIN_RPC: their invoices cannot be paid", c.Count)
			default:
				r.ok(name, "%d wallet(s), watch-only keys", c.Count)
			}
		default:
			if !slices.ContainsFunc(w.evm, func(e *ethWiring) bool { return e.chain == c.Chain }) {
				r.fail(name, "%d wallet(s), but no EVM chain named %s is configured (configured: %s)", c.Count, c.Chain, evmChainNames(w.evm))
				continue
			}
			r.ok(name, "%d wallet(s), treasury addresses", c.Count)
		}
	}
}

// checkRates quotes every refreshed pair of an enabled asset.
func checkRates(ctx context.Context, r *checkReport, w *wiring, assets map[string]bool) {
	var pairs []rates.Pair
	for _, p := range w.pairs {
		if assets[p.Base] {
			pairs = append(pairs, p)
		}
	}
	if len(pairs) == 0 {
		return
	}
	_ = w.rates.Refresh(ctx, pairs) // failures show in the quotes below
	for _, p := range pairs {
		name := "rate " + p.String()
		agg, err := w.rates.Quote(ctx, p)
		if err != nil {
			r.fail(name, "%v", err)
			continue
		}
		var srcs []string
		for _, q := range agg.Used {
			srcs = append(srcs, q.Source)
		}
		if len(srcs) == 0 {
			srcs = []string{"peg"}
		}
		r.ok(name, "%s (%s of %s)", agg.Rate, agg.Method, strings.Join(srcs, ", "))
	}
}

// checkLedgerSink connects to the HTTP ledger sink's host (nothing is posted).
func checkLedgerSink(ctx context.Context, r *checkReport, ss *serveSettings) {
	if ss.ledgerSink != "http" {
		r.ok("ledger", "built-in journal in the database")
		return
	}
	u, err := url.Parse(ss.ledgerURL)
	if err != nil || u.Host == "" {
		r.fail("ledger", "CHAINPAY_LEDGER_URL %q is not a URL", ss.ledgerURL)
		return
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		r.fail("ledger", "http sink %s unreachable: %v", ops.Endpoint(u), err)
		return
	}
	conn.Close()
	r.ok("ledger", "http sink %s reachable (nothing posted)", ops.Endpoint(u))
}

// checkSameFactory reports whether every EVM chain has its ForwarderFactory (and its
// forwarder implementation) at the same address. Only then is an invoice's deposit address
// the same on every chain, so a payment sent on the wrong configured chain is recoverable
// by sweeping it there (docs/chains.md). Different addresses are allowed, with a warning.
func checkSameFactory(r *checkReport, evm []*ethWiring) {
	first := evm[0]
	for _, e := range evm[1:] {
		if e.factory.Address() != first.factory.Address() || e.factory.InitCodeHash() != first.factory.InitCodeHash() {
			r.ok("deposit addresses", "WARNING: %s and %s have their ForwarderFactory at different addresses (%s, %s): an invoice's deposit address differs per chain, and a payment sent on the wrong chain cannot be recovered by chainpay (deploy the factory deterministically, docs/chains.md)",
				first.chain, e.chain, first.factory.Address().Hex(), e.factory.Address().Hex())
			return
		}
	}
	r.ok("deposit addresses", "the ForwarderFactory is at %s on every EVM chain (%s): an invoice's deposit address is the same on all of them", first.factory.Address().Hex(), evmChainNames(evm))
}
