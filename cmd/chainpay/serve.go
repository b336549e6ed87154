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
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	load := commonSettings(fs)
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

// serveSettings are the settings of `chainpay serve` beyond the common ones.
type serveSettings struct {
	listen, publicURL, autoMigrate, btcNetwork, btcConfs string
	btcRPC, btcPoll                                      string
	rates                                                rateSettings
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load := commonSettings(fs)
	var ss serveSettings
	register(fs, []setting{
		{"listen", "CHAINPAY_LISTEN", "127.0.0.1:8080", "HTTP listen address", &ss.listen},
		{"public-url", "CHAINPAY_PUBLIC_URL", "", "public base URL of checkout links (default http://LISTEN)", &ss.publicURL},
		{"migrate", "CHAINPAY_AUTO_MIGRATE", "false", "apply migrations on start", &ss.autoMigrate},
		{"bitcoin-network", "CHAINPAY_BITCOIN_NETWORK", "mainnet", "mainnet, testnet, signet or regtest", &ss.btcNetwork},
		{"bitcoin-confirmations", "CHAINPAY_BITCOIN_CONFIRMATIONS", "1", "default confirmations for Bitcoin payments", &ss.btcConfs},
		{"bitcoin-rpc", "CHAINPAY_BITCOIN_RPC", "", "bitcoind/btcd JSON-RPC URLs, comma-separated, e.g. http://user:pass@127.0.0.1:8332 (enables the Bitcoin watcher)", &ss.btcRPC},
		{"bitcoin-poll", "CHAINPAY_BITCOIN_POLL", "5s", "how often the Bitcoin watcher polls the node", &ss.btcPoll},
	})
	register(fs, ss.rates.register())
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	c, err := load()
	if err != nil {
		return err
	}
	if err := validateListen(ss.listen); err != nil {
		return err
	}
	auto, err := strconv.ParseBool(ss.autoMigrate)
	if err != nil {
		return &settingError{"CHAINPAY_AUTO_MIGRATE", fmt.Sprintf("%q is not true or false", ss.autoMigrate)}
	}
	net, err := bitcoin.Params(bitcoin.Network(ss.btcNetwork))
	if err != nil || net == nil {
		return &settingError{"CHAINPAY_BITCOIN_NETWORK", fmt.Sprintf("%q is not mainnet, testnet, signet or regtest", ss.btcNetwork)}
	}
	confs, err := strconv.Atoi(ss.btcConfs)
	if err != nil || confs < 0 || confs > 1000 {
		return &settingError{"CHAINPAY_BITCOIN_CONFIRMATIONS", fmt.Sprintf("%q is not an integer from 0 to 1000", ss.btcConfs)}
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	rateSvc, pairs, err := ss.rates.build(logger)
	if err != nil {
		return err
	}
	public := ss.publicURL
	if public == "" {
		public = "http://" + ss.listen
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if auto {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	applied, latest, err := st.MigrationStatus(ctx)
	if err != nil || applied != latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `chainpay migrate` (or serve --migrate)", applied, latest)
	}
	svc, err := invoices.New(st, invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Network(ss.btcNetwork), confs)},
		Quoter: quoter{rateSvc}, Logger: logger,
	})
	if err != nil {
		return err
	}
	if err := rateSvc.Start(ctx, pairs, 30*time.Second); err != nil {
		return err
	}
	defer rateSvc.Stop()
	if ss.btcRPC != "" {
		r, err := bitcoinFollower(ctx, st, svc, &ss, logger)
		if err != nil {
			return err
		}
		r.Start(ctx)
		defer r.Stop()
	}
	handler := api.New(api.Config{Store: st, Invoices: svc, Rates: rateSvc, Logger: logger, PublicURL: public})
	return serveHTTP(ctx, ss.listen, handler, logger, st)
}

// serveHTTP listens on addr until ctx is canceled, then shuts down gracefully.
func serveHTTP(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, st store.Store) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (CHAINPAY_LISTEN): %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
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
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// bitcoinFollower connects to the configured nodes (checking their network) and returns the
// runner of the Bitcoin follower. On Postgres the follower takes a lease so that one replica
// follows the chain at a time.
func bitcoinFollower(ctx context.Context, st store.Store, svc *invoices.Service, ss *serveSettings, logger *slog.Logger) (*watcher.Runner, error) {
	poll, err := time.ParseDuration(ss.btcPoll)
	if err != nil || poll <= 0 {
		return nil, &settingError{"CHAINPAY_BITCOIN_POLL", fmt.Sprintf("%q is not a positive duration", ss.btcPoll)}
	}
	var urls []string
	for _, u := range strings.Split(ss.btcRPC, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	node, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: urls, Network: bitcoin.Network(ss.btcNetwork), Logger: logger})
	if err != nil {
		return nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := node.Check(cctx); err != nil {
		if errors.Is(err, bitcoin.ErrWrongNetwork) {
			return nil, &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
		}
		logger.Warn("bitcoin node not ready yet; the watcher keeps retrying", "err", err)
	}
	src, err := watcher.NewBitcoinSource(node, bitcoin.Network(ss.btcNetwork))
	if err != nil {
		return nil, err
	}
	holder := ""
	if st.Dialect() == "postgres" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.NewID("r", time.Now()))
	}
	f := watcher.NewFollower(st, src, svc, watcher.Config{Logger: logger, Holder: holder})
	return watcher.NewRunner(f, poll), nil
}
