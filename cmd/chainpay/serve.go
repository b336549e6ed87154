package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	load := commonSettings(fs)
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
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	applied, _, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at schema version %d\n", st.Dialect(), applied)
	return nil
}

// serveSettings are the settings of `chainpay serve` beyond the common ones, as given.
type serveSettings struct {
	listen, publicURL, autoMigrate                                      string
	btcNetwork, btcConfs, btcRPC, btcPoll                               string
	ethRPC, ethWS, ethChainID, ethFactory, ethTokens, ethConfs, ethPoll string
	sweeperKeyFile, sweepInterval                                       string
	sweepMinMultiple, sweeperGasWarn                                    string
	ledgerSink, ledgerURL, ledgerSecret, ledgerSecretFile, feeBps       string
	idempotencyRetention                                                string
	webhooksAllowPrivate, metricsListen, metricsToken, pprof            string
	rates                                                               rateSettings
	// evmChains is CHAINPAY_EVM_CHAINS / evm_chains (see evmconfig.go).
	evmChains string
	// lookupEnv reads the per-chain CHAINPAY_EVM_<NAME>_* settings (nil: os.LookupEnv).
	lookupEnv func(string) (string, bool)
}

func (ss *serveSettings) register(fs *flag.FlagSet) {
	register(fs, []setting{
		{"listen", "CHAINPAY_LISTEN", "127.0.0.1:8080", "HTTP listen address", &ss.listen},
		{"public-url", "CHAINPAY_PUBLIC_URL", "", "public base URL of checkout links (default http://LISTEN)", &ss.publicURL},
		{"migrate", "CHAINPAY_AUTO_MIGRATE", "false", "apply migrations on start", &ss.autoMigrate},
		{"bitcoin-network", "CHAINPAY_BITCOIN_NETWORK", "mainnet", "mainnet, testnet, signet or regtest", &ss.btcNetwork},
		{"bitcoin-confirmations", "CHAINPAY_BITCOIN_CONFIRMATIONS", "1", "default confirmations for Bitcoin payments", &ss.btcConfs},
		{"bitcoin-rpc", "CHAINPAY_BITCOIN_RPC", "", "bitcoind/btcd JSON-RPC URLs, comma-separated, e.g. http://user:pass@127.0.0.1:8332 (enables the Bitcoin watcher)", &ss.btcRPC},
		{"bitcoin-poll", "CHAINPAY_BITCOIN_POLL", "5s", "how often the Bitcoin watcher polls the node", &ss.btcPoll},
		{"evm-chains", "CHAINPAY_EVM_CHAINS", "", "EVM chains: names (each set by CHAINPAY_EVM_<NAME>_RPC, _CHAIN_ID, _FACTORY, ...) or a JSON list; in the config file a list of mappings (docs/chains.md)", &ss.evmChains},
		{"ethereum-rpc", "CHAINPAY_ETHEREUM_RPC", "", "EVM JSON-RPC URLs, comma-separated (enables the EVM chain named ethereum; the single-chain form of CHAINPAY_EVM_CHAINS)", &ss.ethRPC},
		{"ethereum-ws", "CHAINPAY_ETHEREUM_WS", "", "EVM websocket URLs for newHeads notifications (default: the ws:// URLs of CHAINPAY_ETHEREUM_RPC)", &ss.ethWS},
		{"ethereum-chain-id", "CHAINPAY_ETHEREUM_CHAIN_ID", "1", "EIP-155 chain id the nodes must serve", &ss.ethChainID},
		{"ethereum-factory", "CHAINPAY_ETHEREUM_FACTORY", "", "ForwarderFactory contract address", &ss.ethFactory},
		{"ethereum-tokens", "CHAINPAY_ETHEREUM_TOKENS", "", "ERC-20 tokens, e.g. USDC=0xA0b8...eB48:6,USDT=0xdAC1...1ec7:6", &ss.ethTokens},
		{"ethereum-confirmations", "CHAINPAY_ETHEREUM_CONFIRMATIONS", "12", "default confirmations for EVM payments", &ss.ethConfs},
		{"ethereum-poll", "CHAINPAY_ETHEREUM_POLL", "2s", "how often the EVM watcher polls the node", &ss.ethPoll},
		{"sweeper-key-file", "CHAINPAY_SWEEPER_KEY_FILE", "", "file with the hex private key that PAYS GAS for sweeps (it can move no customer funds)", &ss.sweeperKeyFile},
		{"sweep-interval", "CHAINPAY_SWEEP_INTERVAL", "1m", "how often forwarders (deposit addresses) are read and swept by balance", &ss.sweepInterval},
		{"sweep-min-multiple", "CHAINPAY_SWEEP_MIN_MULTIPLE", strconv.Itoa(defaultSweepMinMultiple), "sweep a forwarder once it holds this many times the gas its sweep costs", &ss.sweepMinMultiple},
		{"sweeper-gas-warn", "CHAINPAY_SWEEPER_GAS_WARN", defaultSweeperGasWarn, "ETH balance of the sweeper key below which /readyz and metrics warn", &ss.sweeperGasWarn},
		{"ledger-sink", "CHAINPAY_LEDGER_SINK", "journal", "journal (built-in double-entry journal) or http (your ledger)", &ss.ledgerSink},
		{"ledger-url", "CHAINPAY_LEDGER_URL", "", "URL the http ledger sink posts records to", &ss.ledgerURL},
		{"ledger-secret", "CHAINPAY_LEDGER_SECRET", "", "HMAC secret of the http ledger sink (≥ 16 bytes)", &ss.ledgerSecret},
		{"ledger-secret-file", "CHAINPAY_LEDGER_SECRET_FILE", "", "file holding CHAINPAY_LEDGER_SECRET", &ss.ledgerSecretFile},
		{"fee-bps", "CHAINPAY_FEE_BPS", "0", "processing fee in basis points of each settlement", &ss.feeBps},
		{"idempotency-retention", "CHAINPAY_IDEMPOTENCY_RETENTION", "168h", "how long Idempotency-Key records are kept (a retry after it is a new request)", &ss.idempotencyRetention},
		{"metrics-listen", "CHAINPAY_METRICS_LISTEN", "127.0.0.1:9464", "listen address of /metrics alone (off: none); keep it off the public network", &ss.metricsListen},
		{"pprof", "CHAINPAY_PPROF", "false", "also serve Go's profiler, /debug/pprof/, on the metrics listener (CHAINPAY_METRICS_LISTEN must be on; keep it off the public network)", &ss.pprof},
		{"metrics-token", "CHAINPAY_METRICS_TOKEN", "", "also serve /metrics on the main listener, to requests with Authorization: Bearer <token> (at least 16 characters)", &ss.metricsToken},
		{"webhooks-allow-private", "CHAINPAY_WEBHOOKS_ALLOW_PRIVATE", "false", "allow webhook URLs on loopback, private and CGNAT networks (development only; link-local/metadata stays refused)", &ss.webhooksAllowPrivate},
	})
	register(fs, ss.rates.register())
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &settingError{name, fmt.Sprintf("%q is not true or false", v)}
	}
	return b, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, &settingError{name, fmt.Sprintf("%q is not a positive duration such as 5s", v)}
	}
	return d, nil
}

func parseInt(name, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &settingError{name, fmt.Sprintf("%q is not an integer from %d to %d", v, lo, hi)}
	}
	return n, nil
}

// wiring validates every setting and resolves it (it may read files and call the EVM node
// to read the factory).
func (ss *serveSettings) wiring(ctx context.Context, logger *slog.Logger, dialect string) (*wiring, error) {
	if err := validateListen(ss.listen); err != nil {
		return nil, err
	}
	w := &wiring{publicURL: ss.publicURL, metricsToken: ss.metricsToken}
	var err error
	if ss.metricsListen != "off" && ss.metricsListen != "" {
		if _, _, err := net.SplitHostPort(ss.metricsListen); err != nil {
			return nil, &settingError{"CHAINPAY_METRICS_LISTEN", fmt.Sprintf("%q is not host:port (or off)", ss.metricsListen)}
		}
		if ss.metricsListen == ss.listen {
			return nil, &settingError{"CHAINPAY_METRICS_LISTEN", "must differ from CHAINPAY_LISTEN (use CHAINPAY_METRICS_TOKEN to serve /metrics there)"}
		}
		w.metricsListen = ss.metricsListen
	}
	if w.pprof, err = parseBool("CHAINPAY_PPROF", ss.pprof); err != nil {
		return nil, err
	}
	if w.pprof && w.metricsListen == "" {
		return nil, &settingError{"CHAINPAY_PPROF", "needs CHAINPAY_METRICS_LISTEN (the profiler is served there, never on the main listener)"}
	}
	if ss.metricsToken != "" && len(ss.metricsToken) < 16 {
		return nil, &settingError{"CHAINPAY_METRICS_TOKEN", "must be at least 16 characters"}
	}
	if w.publicURL == "" {
		w.publicURL = "http://" + ss.listen
	}
	if dialect == "postgres" {
		w.holder = holderID()
	}
	// Bitcoin.
	if p, err := bitcoin.Params(bitcoin.Network(ss.btcNetwork)); err != nil || p == nil {
		return nil, &settingError{"CHAINPAY_BITCOIN_NETWORK", fmt.Sprintf("%q is not mainnet, testnet, signet or regtest", ss.btcNetwork)}
	}
	confs, err := parseInt("CHAINPAY_BITCOIN_CONFIRMATIONS", ss.btcConfs, 0, 1000)
	if err != nil {
		return nil, err
	}
	poll, err := parseDuration("CHAINPAY_BITCOIN_POLL", ss.btcPoll)
	if err != nil {
		return nil, err
	}
	w.btc = &btcWiring{network: bitcoin.Network(ss.btcNetwork), confs: int(confs), rpc: splitList(ss.btcRPC), poll: poll}
	// EVM chains.
	if w.evm, err = ss.evmWirings(ctx, logger); err != nil {
		return nil, err
	}
	// Rates.
	if w.rates, w.pairs, err = ss.rates.build(logger); err != nil {
		return nil, err
	}
	// Ledger.
	bps, err := parseInt("CHAINPAY_FEE_BPS", ss.feeBps, 0, 10000)
	if err != nil {
		return nil, err
	}
	w.feeBps = bps
	if w.idempotencyRetention, err = parseDuration("CHAINPAY_IDEMPOTENCY_RETENTION", ss.idempotencyRetention); err != nil {
		return nil, err
	}
	switch ss.ledgerSink {
	case "journal":
	case "http":
		secret := ss.ledgerSecret
		if ss.ledgerSecretFile != "" {
			b, err := os.ReadFile(ss.ledgerSecretFile)
			if err != nil {
				return nil, &settingError{"CHAINPAY_LEDGER_SECRET_FILE", err.Error()}
			}
			secret = strings.TrimSpace(string(b))
		}
		sink, err := ledger.NewHTTPSink(ledger.HTTPSinkConfig{URL: ss.ledgerURL, Secret: []byte(secret)})
		if err != nil {
			return nil, &settingError{"CHAINPAY_LEDGER_URL", err.Error()}
		}
		w.sink = sink
	default:
		return nil, &settingError{"CHAINPAY_LEDGER_SINK", fmt.Sprintf("%q is not journal or http", ss.ledgerSink)}
	}
	allow, err := parseBool("CHAINPAY_WEBHOOKS_ALLOW_PRIVATE", ss.webhooksAllowPrivate)
	if err != nil {
		return nil, err
	}
	w.guard = webhooks.Guard{AllowPrivate: allow}
	return w, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load := commonSettings(fs)
	var ss serveSettings
	ss.register(fs)
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
	auto, err := parseBool("CHAINPAY_AUTO_MIGRATE", ss.autoMigrate)
	if err != nil {
		return err
	}
	if err := validateListen(ss.listen); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := ss.wiring(ctx, logger, st.Dialect())
	if err != nil {
		return err
	}
	if auto {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	if applied, latest, err := st.MigrationStatus(ctx); err != nil || applied != latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `chainpay migrate` (or serve --migrate)", applied, latest)
	}
	a, err := buildApp(ctx, st, w, logger)
	if err != nil {
		return err
	}
	return a.run(ctx, ss.listen, a.handler, w, nil)
}

// run starts the rate refresh and the background components, serves HTTP until ctx ends,
// then shuts everything down.
func (a *app) run(ctx context.Context, listen string, h http.Handler, w *wiring, ready func()) error {
	if err := w.rates.Start(ctx, w.pairs, 30*time.Second); err != nil {
		return err
	}
	defer w.rates.Stop()
	if err := a.anchorCursors(ctx); err != nil {
		return err
	}
	a.start(ctx)
	defer a.stop()
	if w.metricsListen == "" {
		return serveHTTP(ctx, listen, h, a.log, a.st, ready)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, listen, h, a.log, a.st, ready) })
	g.Go(func() error {
		if err := serveHTTP(gctx, w.metricsListen, metricsMux(a.metrics, w.pprof), a.log, a.st, nil); err != nil {
			return fmt.Errorf("metrics listener (CHAINPAY_METRICS_LISTEN): %w", err)
		}
		return nil
	})
	return g.Wait()
}

// metricsMux is the metrics listener's handler: /metrics, and with pprof Go's profiler
// (net/http/pprof, CHAINPAY_PPROF) under /debug/pprof/; every other path is 404.
func metricsMux(metrics http.Handler, profiler bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if profiler {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// serveHTTP listens on addr until ctx is canceled, then shuts down gracefully. Long-lived
// requests (checkout event streams) end when shutdown begins.
// ready, when set, is called once the listener accepts connections.
func serveHTTP(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, st store.Store, ready func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (CHAINPAY_LISTEN): %w", addr, err)
	}
	if ready != nil {
		ready()
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, BaseContext: func(net.Listener) context.Context { return base }}
	logger.Info("chainpay serving", "addr", ln.Addr().String(), "database", st.Dialect(), "pid", os.Getpid())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down")
		cancelBase()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
