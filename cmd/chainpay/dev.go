package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

// devInfo is what `chainpay dev` writes to $CHAINPAY_DATA_DIR/dev.json.
type devInfo struct {
	APIURL        string `json:"api_url"`
	APIKey        string `json:"api_key"`
	StoreID       string `json:"store_id"`
	EVMRPCURL     string `json:"evm_rpc_url"`
	BaseRPCURL    string `json:"base_rpc_url"` // the second EVM dev chain, "base"
	BaseChainID   uint64 `json:"base_chain_id"`
	BitcoinRPCURL string `json:"bitcoin_rpc_url"`
	WebhookEcho   string `json:"webhook_echo_url"`
	USDC          string `json:"usdc_contract"`
}

// Demo settings of dev mode.
const (
	// devRates price every asset dev offers in every currency it refreshes (devCurrencies),
	// so no dev invoice waits for a rate that never comes.
	devRates = "BTC-USD=60000,ETH-USD=3000,USDC-USD=1,BTC-EUR=55000,ETH-EUR=2750,USDC-EUR=0.92," +
		"BTC-GBP=47000,ETH-GBP=2350,USDC-GBP=0.79"
	devCurrencies = "USD,EUR,GBP"
	devBTCConfs   = 1
	devEVMConfs   = 2
	devStoreName  = "Demo Store"
	// devBaseChainID is the chain id of the second EVM dev chain, named "base": not the id
	// of any real Base network, so a wallet never mistakes it for one.
	devBaseChainID = 1338
)

// devEVMChains are the names of dev mode's EVM chains, in the order they are started.
var devEVMChains = []string{"ethereum", "base"}

// devRateSettings are the fixed rates of dev mode.
func devRateSettings() *rateSettings {
	return &rateSettings{sources: "none", fixed: devRates, minSources: "1", maxAge: "24h", currencies: devCurrencies}
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "pay" {
		return runDevPay(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	load := commonSettings(fs)
	var listen, evmListen, baseListen, btcEvery, evmEvery string
	register(fs, []setting{
		{"listen", "CHAINPAY_LISTEN", "127.0.0.1:8080", "HTTP listen address of the API and checkout", &listen},
		{"evm-listen", "CHAINPAY_DEV_EVM_LISTEN", "127.0.0.1:8545", "JSON-RPC address of the local EVM chain named ethereum (connect a wallet here)", &evmListen},
		{"base-listen", "CHAINPAY_DEV_BASE_LISTEN", "127.0.0.1:8546", "JSON-RPC address of the second local EVM chain, named base (chain id 1338)", &baseListen},
		{"btc-block-every", "CHAINPAY_DEV_BTC_BLOCK_EVERY", "10s", "mine a regtest block this often (also after every dev payment)", &btcEvery},
		{"evm-block-every", "CHAINPAY_DEV_EVM_BLOCK_EVERY", "2s", "produce an EVM block this often", &evmEvery},
	})
	fresh := fs.Bool("fresh", false, "start over: delete the dev database first")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	c, err := load()
	if err != nil {
		return err
	}
	if err := validateListen(listen); err != nil {
		return err
	}
	btcPeriod, err := parseDuration("CHAINPAY_DEV_BTC_BLOCK_EVERY", btcEvery)
	if err != nil {
		return err
	}
	evmPeriod, err := parseDuration("CHAINPAY_DEV_EVM_BLOCK_EVERY", evmEvery)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite://") {
		return &settingError{"CHAINPAY_DATABASE_URL", "dev mode runs on the embedded SQLite database; unset it"}
	}
	if err := checkFree(listen, "CHAINPAY_LISTEN"); err != nil {
		return err
	}
	if err := checkFree(evmListen, "CHAINPAY_DEV_EVM_LISTEN"); err != nil {
		return err
	}
	if err := checkFree(baseListen, "CHAINPAY_DEV_BASE_LISTEN"); err != nil {
		return err
	}
	unlock, err := lockDataDir(c.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	if *fresh {
		for _, f := range []string{"chainpay.db", "chainpay.db-wal", "chainpay.db-shm", "dev.json"} {
			_ = os.Remove(filepath.Join(c.DataDir, f))
		}
	}

	// The chains: btcd regtest as a child process, the EVM chain in-process. Each step says
	// what it does and how long it took, so a first run never sits silent.
	step := progress(stderr)
	btcd, err := regtest.FindBtcd()
	if err != nil {
		done := step("building the pinned btcd v0.24.2 from the Go module proxy (first run only; about 1-2 minutes, output below)")
		if btcd, err = regtest.BuildBtcd(ctx, stderr); err != nil {
			return fmt.Errorf("build btcd: %w (or run ./scripts/tools.sh)", err)
		}
		done()
	}
	done := step("starting btcd (regtest)")
	bnode, err := regtest.Start(ctx, regtest.Config{Binary: btcd, DataDir: filepath.Join(c.DataDir, "btcd"), Logger: logger})
	if err != nil {
		return fmt.Errorf("start btcd: %w", err)
	}
	defer bnode.Stop()
	done()
	done = step("funding the dev bitcoin wallet (mining past segwit activation)")
	if err := bnode.Fund(ctx); err != nil {
		return fmt.Errorf("fund the dev bitcoin wallet: %w", err)
	}
	done()
	done = step("starting the EVM dev chains (ethereum, base) and deploying the forwarder factory and USDC on each")
	evm, err := devchain.Start(ctx, devchain.Config{Listen: evmListen, BlockEvery: evmPeriod, Logger: logger})
	if err != nil {
		return fmt.Errorf("start the EVM dev chain: %w", err)
	}
	defer evm.Stop()
	base, err := devchain.Start(ctx, devchain.Config{Listen: baseListen, BlockEvery: evmPeriod, Logger: logger, ChainID: devBaseChainID})
	if err != nil {
		return fmt.Errorf("start the base EVM dev chain: %w", err)
	}
	defer base.Stop()
	evms := map[string]*devchain.Chain{"ethereum": evm, "base": base}
	done()

	done = step("opening the dev database " + filepath.Join(c.DataDir, "chainpay.db"))
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	done()
	// The dev chains start from genesis on every run: forget where the followers were.
	if err := st.Tx(ctx, func(tx store.Tx) error {
		for _, chain := range append([]string{"bitcoin"}, devEVMChains...) {
			if err := tx.DeleteCursor(ctx, chain); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}

	rateSvc, pairs, err := devRateSettings().build(logger)
	if err != nil {
		return err
	}
	apiURL := "http://" + listen
	w := &wiring{
		publicURL: apiURL, rates: rateSvc, pairs: pairs, guard: webhooks.Guard{AllowPrivate: true},
		metricsOnMain: true, // dev listens on loopback only
		btc:           &btcWiring{network: bitcoin.Regtest, confs: devBTCConfs, rpc: []string{bnode.RPCURL()}, poll: time.Second},
	}
	for _, name := range devEVMChains {
		c := evms[name]
		w.evm = append(w.evm, &ethWiring{chain: name, chainID: c.ChainID(), rpc: []string{c.RPCURL()}, ws: []string{c.WSURL()},
			factory: c.Factory(), tokens: []ethToken{{code: "USDC", contract: c.USDC(), decimals: 6}}, confs: devEVMConfs,
			poll: time.Second, sweeperKey: c.SweeperKey(), sweepInterval: 10 * time.Second})
	}
	a, err := buildApp(ctx, st, w, logger)
	if err != nil {
		return err
	}
	info, secret, err := devSetup(ctx, st, a, c.DataDir, apiURL, evms, bnode)
	if err != nil {
		return err
	}
	echo := &webhookEcho{secret: secret, log: logger}
	dev := &devServer{info: info, st: st, inv: a.inv, btc: bnode, evms: evms, log: logger}
	mux := http.NewServeMux()
	mux.Handle("/dev/", dev.routes(echo))
	mux.Handle("/", a.handler)

	// Bitcoin blocks on a timer, so confirmations move without a payment.
	go func() {
		t := time.NewTicker(btcPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := bnode.Mine(ctx, 1); err != nil && ctx.Err() == nil {
					logger.Warn("mine a regtest block", "err", err)
				}
			}
		}
	}()

	banner := func() {
		fmt.Fprintf(stdout, `chainpay dev is running (Ctrl-C stops everything)

  API            %s   (OpenAPI: %s/openapi.yaml)
  API key        %s
  store          %s (BTC on regtest; ETH and USDC on two local EVM chains, ethereum and base)
  EVM JSON-RPC   %s   (ethereum, chain id %d; connect MetaMask here)
                 %s   (base, chain id %d)
  Bitcoin RPC    %s
  webhooks       delivered to %s (see GET %s/dev/webhooks)
  dev.json       %s

Create an invoice:
  curl -s -X POST %s/v1/invoices -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{"amount":"25.00","currency":"USD"}'
Pay it from the dev wallets:
  go run ./cmd/chainpay dev pay INVOICE_ID --asset BTC     (or ETH, USDC; --network base; --amount for partial/over payments)
`, apiURL, apiURL, info.APIKey, info.StoreID, info.EVMRPCURL, evm.ChainID(), info.BaseRPCURL, base.ChainID(), info.BitcoinRPCURL,
			info.WebhookEcho, apiURL, filepath.Join(c.DataDir, "dev.json"), apiURL, info.APIKey)
	}
	return a.run(ctx, listen, mux, w, banner)
}

// progress returns a function that announces a step on w and returns the function that
// reports its end with the time it took ("chainpay dev: starting btcd ... done in 0.4s").
func progress(w io.Writer) func(what string) (done func()) {
	return func(what string) func() {
		start := time.Now()
		fmt.Fprintf(w, "chainpay dev: %s ...\n", what)
		return func() {
			fmt.Fprintf(w, "chainpay dev: %s: done in %.1fs\n", what, time.Since(start).Seconds())
		}
	}
}

// checkFree fails with a clear message when addr is already taken.
func checkFree(addr, setting string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &settingError{setting, fmt.Sprintf("cannot listen on %s: %v (is another chainpay dev running?)", addr, err)}
	}
	return ln.Close()
}

// devSeed is the demo merchant's wallet seed: the server only ever sees its public key.
var devSeed = sha256.Sum256([]byte("chainpay dev demo merchant wallet"))

// devSetup creates (or reuses) the demo store, its key, wallets and webhook endpoint, and
// writes dev.json. It returns the info and the webhook secret.
func devSetup(ctx context.Context, st store.Store, a *app, dataDir, apiURL string, evms map[string]*devchain.Chain, bnode *regtest.Node) (devInfo, string, error) {
	evm, base := evms["ethereum"], evms["base"]
	path := filepath.Join(dataDir, "dev.json")
	var prev devInfo
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &prev)
	}
	info := devInfo{APIURL: apiURL, EVMRPCURL: evm.RPCURL(), BaseRPCURL: base.RPCURL(), BaseChainID: base.ChainID(), BitcoinRPCURL: bnode.RPCURL(),
		WebhookEcho: apiURL + "/dev/webhooks", USDC: evm.USDC().Hex()}
	var exists bool
	if prev.StoreID != "" {
		err := st.View(ctx, func(tx store.Tx) error { _, err := tx.GetMerchant(ctx, prev.StoreID); return err })
		exists = err == nil
	}
	if exists {
		info.StoreID, info.APIKey = prev.StoreID, prev.APIKey
		// The endpoint URL follows the listen address of this run.
		eps, err := a.hooks.List(ctx, info.StoreID)
		if err != nil {
			return info, "", err
		}
		for _, ep := range eps {
			if err := a.hooks.Delete(ctx, info.StoreID, ep.ID); err != nil {
				return info, "", err
			}
		}
	} else {
		now := time.Now().UTC()
		m := store.Merchant{ID: store.NewID("sto", now), Name: devStoreName, CreatedAt: now}
		plain, k := apikey.New(m.ID, apikey.All(), now)
		if err := st.Tx(ctx, func(tx store.Tx) error {
			if err := tx.CreateMerchant(ctx, m); err != nil {
				return err
			}
			return tx.CreateAPIKey(ctx, k)
		}); err != nil {
			return info, "", err
		}
		info.StoreID, info.APIKey = m.ID, plain
		tpub, err := regtest.MerchantTpub(devSeed[:])
		if err != nil {
			return info, "", err
		}
		if _, err := a.inv.AddWallet(ctx, m.ID, invoices.WalletInput{Chain: "bitcoin", Key: tpub}); err != nil {
			return info, "", fmt.Errorf("dev bitcoin wallet: %w", err)
		}
	}
	// One treasury wallet per EVM chain (a dev database from before base existed gets its
	// base wallet now).
	ws, err := a.inv.Wallets(ctx, info.StoreID)
	if err != nil {
		return info, "", err
	}
	treasury := common.BytesToAddress(devSeed[:20])
	for _, name := range devEVMChains {
		if slices.ContainsFunc(ws, func(w store.Wallet) bool { return w.Chain == name }) {
			continue
		}
		if _, err := a.inv.AddWallet(ctx, info.StoreID, invoices.WalletInput{Chain: name,
			Treasury: ethereum.FormatAddress(treasury), Tokens: []string{"USDC"}}); err != nil {
			return info, "", fmt.Errorf("dev %s wallet: %w", name, err)
		}
	}
	ep, err := a.hooks.Create(ctx, info.StoreID, info.WebhookEcho, []string{"*"}, "chainpay dev webhook echo")
	if err != nil {
		return info, "", fmt.Errorf("dev webhook endpoint: %w", err)
	}
	// A new endpoint (and secret) each run: its URL follows this run's listen address.
	out, _ := json.MarshalIndent(struct {
		devInfo
		WebhookSecret string `json:"webhook_secret"`
	}{info, ep.Secret}, "", "  ")
	if err := os.WriteFile(path, append(out, '\n'), 0o600); err != nil {
		return info, "", err
	}
	return info, ep.Secret, nil
}

// devServer serves the dev-only endpoints: paying invoices from the dev wallets and the
// webhook echo. They exist only in `chainpay dev`, on loopback.
type devServer struct {
	info devInfo
	st   store.Store
	inv  *invoices.Service
	btc  *regtest.Node
	evms map[string]*devchain.Chain // by chain name
	log  *slog.Logger
	mu   sync.Mutex // one payment at a time: the dev wallets are not concurrent
}

func (d *devServer) routes(echo *webhookEcho) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dev/pay", d.pay)
	mux.Handle("/dev/webhooks", echo)
	return mux
}

type devPayRequest struct {
	InvoiceID string `json:"invoice_id"`
	Asset     string `json:"asset"`
	Network   string `json:"network"` // chain name ("base"); "" = ethereum's option, else the first one of the asset
	Amount    string `json:"amount"`  // decimal in the asset; "" = the remaining amount
	Force     bool   `json:"force"`   // pay an invoice that takes no payment (settled, expired, cancelled)
}

type devPayResponse struct {
	TxID    string `json:"txid"`
	Asset   string `json:"asset"`
	Network string `json:"network"`
	Amount  string `json:"amount"`
	Address string `json:"address"`
}

func (d *devServer) pay(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(devProblem{Type: "/problems/dev-pay", Title: http.StatusText(status), Status: status, Detail: msg})
	}
	if r.Header.Get("Authorization") != "Bearer "+d.info.APIKey {
		fail(http.StatusUnauthorized, "send the dev API key")
		return
	}
	var req devPayRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	det, err := d.inv.Get(r.Context(), d.info.StoreID, req.InvoiceID)
	if err != nil {
		fail(http.StatusNotFound, "no invoice "+req.InvoiceID+" in the dev store")
		return
	}
	if why := closedBecause(det.Invoice); why != "" && !req.Force {
		fail(http.StatusConflict, fmt.Sprintf("invoice %s %s: paying it sends money the store would have to refund; pass --force to pay anyway", req.InvoiceID, why))
		return
	}
	var opt *store.PaymentOption
	for i := range det.Options {
		o := &det.Options[i]
		if o.Asset != req.Asset || (req.Network != "" && !strings.EqualFold(o.Chain, req.Network)) {
			continue
		}
		if opt == nil || (req.Network == "" && o.Chain == "ethereum") {
			opt = o
		}
	}
	if opt == nil {
		on := ""
		if req.Network != "" {
			on = " on " + req.Network
		}
		fail(http.StatusUnprocessableEntity, fmt.Sprintf("invoice %s has no %s payment option%s", req.InvoiceID, req.Asset, on))
		return
	}
	amount := det.Paid.Remaining[opt.ID]
	if amount == nil || amount.Sign() == 0 {
		amount = opt.AmountDue
	}
	if req.Amount != "" {
		if amount, err = money.ParseAmount(req.Amount, opt.Scale); err != nil || amount.Sign() == 0 {
			fail(http.StatusUnprocessableEntity, fmt.Sprintf("amount %q: not a positive %s amount", req.Amount, opt.Asset))
			return
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var txid string
	switch opt.Chain {
	case "bitcoin":
		addr, err := btcutil.DecodeAddress(opt.Address, &chaincfg.RegressionNetParams)
		if err != nil || !amount.IsInt64() {
			fail(http.StatusUnprocessableEntity, "cannot pay this address or amount")
			return
		}
		h, err := d.btc.Pay(r.Context(), addr, amount.Int64())
		if err != nil {
			fail(http.StatusBadGateway, "pay: "+err.Error())
			return
		}
		if _, err := d.btc.Mine(r.Context(), 1); err != nil {
			fail(http.StatusBadGateway, "mine: "+err.Error())
			return
		}
		txid = h.String()
	default:
		evm, ok := d.evms[opt.Chain]
		if !ok {
			fail(http.StatusUnprocessableEntity, "dev mode cannot pay on "+opt.Chain)
			return
		}
		to := common.HexToAddress(opt.Address)
		var h common.Hash
		if opt.Contract == "" {
			h, err = evm.PayETH(r.Context(), to, amount)
		} else {
			h, err = evm.PayToken(r.Context(), common.HexToAddress(opt.Contract), to, amount)
		}
		if err != nil {
			fail(http.StatusBadGateway, "pay: "+err.Error())
			return
		}
		evm.Commit() // one more block toward the dev confirmations
		txid = h.Hex()
	}
	d.log.Info("dev payment sent", "invoice", req.InvoiceID, "asset", opt.Asset, "network", opt.Chain, "amount", money.FormatAmount(amount, opt.Scale), "txid", txid)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(devPayResponse{TxID: txid, Asset: opt.Asset, Network: opt.Chain, Amount: money.FormatAmount(amount, opt.Scale), Address: opt.Address})
}

// devProblem is an RFC 9457 problem, as the API answers.
type devProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// closedBecause says why an invoice takes no payment ("is settled", "expired", "was
// cancelled"), or "" when it is open.
func closedBecause(inv store.Invoice) string {
	switch inv.Status {
	case store.StatusSettled:
		return "is settled"
	case store.StatusExpired:
		return "expired"
	case store.StatusInvalid:
		switch {
		case slices.Contains(inv.Flags, string(invoices.FlagCanceled)):
			return "was cancelled by the merchant"
		case slices.Contains(inv.Flags, string(invoices.FlagMarked)):
			return "was resolved invalid by the merchant"
		}
		return "is invalid"
	}
	return ""
}

// webhookEcho receives the dev store's webhooks, verifies their signature and keeps the last
// hundred for GET /dev/webhooks, listed in event order (created_at, then id: deliveries run
// concurrently and retry, so arrival order differs), each with whether its signature verified.
type webhookEcho struct {
	secret string
	log    *slog.Logger
	mu     sync.Mutex
	got    []echoEntry // in arrival order
}

// echoEntry is one received delivery as GET /dev/webhooks shows it.
type echoEntry struct {
	SignatureVerified bool            `json:"signature_verified"`
	SignatureError    string          `json:"signature_error,omitempty"`
	ReceivedAt        time.Time       `json:"received_at"`
	Event             json.RawMessage `json:"event"`
	id                string
	createdAt         time.Time
}

func (e *webhookEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		e.mu.Lock()
		out := append([]echoEntry{}, e.got...) // an empty list, never null, before the first delivery
		e.mu.Unlock()
		slices.SortStableFunc(out, func(a, b echoEntry) int {
			if c := a.createdAt.Compare(b.createdAt); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": out})
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		var ev struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			CreatedAt time.Time `json:"created_at"`
		}
		_ = json.Unmarshal(body, &ev)
		ent := echoEntry{SignatureVerified: true, ReceivedAt: time.Now().UTC(), id: ev.ID, createdAt: ev.CreatedAt}
		if json.Valid(body) {
			ent.Event = json.RawMessage(bytes.TrimSpace(body))
		} else {
			ent.Event, _ = json.Marshal(string(body))
		}
		verr := webhooks.Verify(e.secret, r.Header.Get("Chainpay-Signature"), body, 5*time.Minute, time.Now())
		if verr != nil {
			ent.SignatureVerified, ent.SignatureError = false, verr.Error()
			e.log.Warn("dev webhook echo: bad signature", "event", ev.ID, "err", verr)
		} else {
			e.log.Info("webhook received", "type", ev.Type, "event", ev.ID)
		}
		e.mu.Lock()
		e.got = append(e.got, ent)
		if len(e.got) > 100 {
			e.got = e.got[len(e.got)-100:]
		}
		e.mu.Unlock()
		if verr != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
	}
}

// runDevPay asks the running `chainpay dev` to pay an invoice from its dev wallets.
func runDevPay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev pay", flag.ContinueOnError)
	load := commonSettings(fs)
	asset := fs.String("asset", "BTC", "BTC, ETH or USDC")
	network := fs.String("network", "", "EVM chain to pay on: ethereum or base (default: ethereum)")
	amount := fs.String("amount", "", "amount in the asset (default: what is still due); less or more to test partial and over payments")
	force := fs.Bool("force", false, "pay even an invoice that takes no payment (settled, expired, cancelled)")
	// Flags may follow the invoice id: parse twice.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if id == "" {
		return &usageError{"usage: chainpay dev pay INVOICE_ID [--asset BTC|ETH|USDC] [--network ethereum|base] [--amount DECIMAL]"}
	}
	c, err := load()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir, "dev.json"))
	if err != nil {
		return fmt.Errorf("no dev.json in %s: is `chainpay dev` running with the same CHAINPAY_DATA_DIR?", c.DataDir)
	}
	var info devInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return fmt.Errorf("dev.json: %w", err)
	}
	body, _ := json.Marshal(devPayRequest{InvoiceID: id, Asset: strings.ToUpper(*asset), Network: strings.ToLower(*network), Amount: *amount, Force: *force})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, info.APIURL+"/dev/pay", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+info.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("reach chainpay dev at %s: %w", info.APIURL, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		var e devProblem
		_ = json.Unmarshal(out, &e)
		switch resp.StatusCode {
		case http.StatusUnprocessableEntity, http.StatusNotFound, http.StatusConflict:
			return &usageError{e.Detail}
		}
		return errors.New(e.Detail)
	}
	var r devPayResponse
	if err := json.Unmarshal(out, &r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "paid %s %s on %s to %s in %s\n", r.Amount, r.Asset, r.Network, r.Address, r.TxID)
	return nil
}
