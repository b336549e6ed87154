package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// Chain ids of the two simulated EVM chains (Base Sepolia's id stands for "base").
const (
	ethDevID  = 1337
	baseDevID = 84532
)

// multiChain is one chainpay process following Bitcoin and two EVM dev chains.
type multiChain struct {
	t         *testing.T
	ctx       context.Context
	st        store.Store
	app       *app
	btcd      *btcdtest.Node
	eth, base *devchain.Chain
	mid       string
	srv       *httptest.Server
}

// startMultiChain starts the two EVM chains ("ethereum" sealed by the test, "base" on a
// 50 ms timer), wires chainpay over st with both (and Bitcoin unless btcd is nil), and
// adds a wallet per chain.
func startMultiChain(t *testing.T, ctx context.Context, st store.Store, btcd *btcdtest.Node) *multiChain {
	t.Helper()
	m := &multiChain{t: t, ctx: ctx, st: st, btcd: btcd}
	var err error
	if m.eth, err = devchain.Start(ctx, devchain.Config{BlockEvery: time.Hour, ChainID: ethDevID}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.eth.Stop() })
	if m.base, err = devchain.Start(ctx, devchain.Config{BlockEvery: 50 * time.Millisecond, ChainID: baseDevID}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.base.Stop() })

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rateSvc, pairs := fixedRates(t, "BTC-USD=60000,ETH-USD=3000,USDC-USD=1")
	evm := func(name string, c *devchain.Chain, confs int) *ethWiring {
		return &ethWiring{chain: name, chainID: c.ChainID(), rpc: []string{c.RPCURL()}, factory: c.Factory(),
			tokens: []ethToken{{code: "USDC", contract: c.USDC(), decimals: 6}}, confs: confs, poll: 50 * time.Millisecond}
	}
	w := &wiring{publicURL: "http://127.0.0.1:0", rates: rateSvc, pairs: pairs, guard: webhooks.Guard{AllowPrivate: true},
		btc: &btcWiring{network: bitcoin.Regtest, confs: 1, poll: 100 * time.Millisecond},
		evm: []*ethWiring{evm("ethereum", m.eth, 2), evm("base", m.base, 2)}}
	if btcd != nil {
		w.btc.rpc = []string{btcd.RPCURL()}
	}
	if st.Dialect() == "postgres" {
		w.holder = holderID() // followers take one lease per chain
	}
	if m.app, err = buildApp(ctx, st, w, log); err != nil {
		t.Fatal(err)
	}
	if err := m.app.anchorCursors(ctx); err != nil {
		t.Fatal(err)
	}
	m.app.start(ctx)
	t.Cleanup(m.app.stop)
	m.srv = httptest.NewServer(m.app.handler)
	t.Cleanup(m.srv.Close)

	now := time.Now().UTC()
	m.mid = store.NewID("sto", now)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateMerchant(ctx, store.Merchant{ID: m.mid, Name: "shop", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	tpub, err := regtest.MerchantTpub(devSeed[:])
	if err != nil {
		t.Fatal(err)
	}
	treasury := ethereum.FormatAddress(common.BytesToAddress(devSeed[:20]))
	wallets := []invoices.WalletInput{{Chain: "ethereum", Treasury: treasury, Tokens: []string{"USDC"}},
		{Chain: "base", Treasury: treasury, Tokens: []string{"USDC"}}}
	if btcd != nil {
		wallets = append(wallets, invoices.WalletInput{Chain: "bitcoin", Key: tpub})
	}
	for _, in := range wallets {
		if _, err := m.app.inv.AddWallet(ctx, m.mid, in); err != nil {
			t.Fatalf("wallet %s: %v", in.Chain, err)
		}
	}
	return m
}

// invoice creates a 25 USD invoice and returns it with its option of asset on chain.
func (m *multiChain) invoice(asset, chain string) (invoices.Details, store.PaymentOption) {
	m.t.Helper()
	d, err := m.app.inv.Create(m.ctx, m.mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
	if err != nil {
		m.t.Fatal(err)
	}
	for _, o := range d.Options {
		if o.Asset == asset && o.Chain == chain {
			return d, o
		}
	}
	m.t.Fatalf("invoice %s has no %s option on %s: %+v", d.Invoice.ID, asset, chain, d.Options)
	return d, store.PaymentOption{}
}

// waitFor polls the invoice until ok, sealing an ethereum block each round when seal.
func (m *multiChain) waitFor(id, what string, seal bool, ok func(invoices.Details) bool) invoices.Details {
	m.t.Helper()
	// A follower whose node was down retries with a backoff of up to a minute (watcher.Runner).
	deadline := time.Now().Add(90 * time.Second)
	for {
		d, err := m.app.inv.Get(m.ctx, m.mid, id)
		if err != nil {
			m.t.Fatal(err)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("invoice %s never %s: status %s, flags %v, payments %+v", id, what, d.Invoice.Status, d.Invoice.Flags, d.Payments)
		}
		if seal {
			m.eth.Commit()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settled(d invoices.Details) bool { return d.Invoice.Status == store.StatusSettled }

// record is the settlement ledger record of the invoice's only payment.
func (m *multiChain) record(d invoices.Details) (chain, network string) {
	m.t.Helper()
	if len(d.Payments) != 1 {
		m.t.Fatalf("invoice %s: %d payments, want 1", d.Invoice.ID, len(d.Payments))
	}
	var msg store.OutboxMessage
	if err := m.st.View(m.ctx, func(tx store.Tx) (err error) {
		msg, err = tx.OutboxByKey(m.ctx, ledger.Topic, ledger.SettlementKey(d.Payments[0].ID))
		return
	}); err != nil {
		m.t.Fatalf("settlement record of %s: %v", d.Payments[0].ID, err)
	}
	var rec struct {
		Chain struct {
			Chain string `json:"chain"`
		} `json:"chain"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(msg.Payload), &rec); err != nil {
		m.t.Fatal(err)
	}
	return rec.Chain.Chain, rec.Metadata["network"]
}

// readyz returns the readiness checks by name.
func (m *multiChain) readyz() map[string]struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
} {
	m.t.Helper()
	resp, err := http.Get(m.srv.URL + "/readyz")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Checks map[string]struct {
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		m.t.Fatal(err)
	}
	return rep.Checks
}

// TestTwoEVMChainsAndBitcoin is issue 26's end-to-end test: one process follows Bitcoin
// and two EVM chains ("ethereum" id 1337, "base" id 84532), each with its own follower
// (and lease on Postgres). An invoice paid in USDC on base and one paid in ETH on
// ethereum settle, each booked with its chain and network; a reorg on ethereum that moves
// its payment leaves base's payment, invoice and books untouched; once base's node is
// down, /readyz shows it while ethereum and Bitcoin keep settling.
func TestTwoEVMChainsAndBitcoin(t *testing.T) {
	t.Parallel()
	btcd := btcdtest.Start(t)
	btcd.Fund(t)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			// Not parallel: the subtests share the Bitcoin node.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			m := startMultiChain(t, ctx, b.Open(t), btcd)

			// Deposit addresses: the factory is at the same address on both dev chains, so
			// an invoice's forwarder address is the same on both (docs/chains.md).
			dA, usdcBase := m.invoice("USDC", "base")
			for _, o := range dA.Options {
				if o.Chain == "ethereum" && o.Address != usdcBase.Address {
					t.Fatalf("ethereum address %s differs from base's %s", o.Address, usdcBase.Address)
				}
			}
			if usdcBase.Network != "84532" {
				t.Fatalf("base option network %q, want the chain id 84532", usdcBase.Network)
			}

			// USDC on base settles on base's own blocks.
			if _, err := m.base.PayToken(ctx, m.base.USDC(), common.HexToAddress(usdcBase.Address), usdcBase.AmountDue); err != nil {
				t.Fatal(err)
			}
			dA = m.waitFor(dA.Invoice.ID, "settled on base", false, settled)
			basePay := dA.Payments[0]
			if basePay.Chain != "base" || basePay.Asset != "USDC" {
				t.Fatalf("base payment: %+v", basePay)
			}
			if chain, network := m.record(dA); chain != "base" || network != "84532" {
				t.Fatalf("base settlement booked on chain %q network %q", chain, network)
			}

			// ETH on ethereum: seen in its block, then a reorg takes that block away.
			dB, ethOpt := m.invoice("ETH", "ethereum")
			if _, err := m.eth.PayETH(ctx, common.HexToAddress(ethOpt.Address), ethOpt.AmountDue); err != nil {
				t.Fatal(err)
			}
			dB = m.waitFor(dB.Invoice.ID, "seen on ethereum", false, func(d invoices.Details) bool { return len(d.Payments) == 1 })
			orig := dB.Payments[0]
			cl, err := ethclient.DialContext(ctx, m.eth.RPCURL())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			parent, err := cl.HeaderByNumber(ctx, big.NewInt(*orig.BlockHeight-1))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.eth.Fork(parent.Hash()); err != nil {
				t.Fatal(err)
			}
			for range 3 { // the new branch outgrows the old one
				m.eth.Commit()
			}
			dB = m.waitFor(dB.Invoice.ID, "moved by the reorg", true, func(d invoices.Details) bool {
				for _, p := range d.Payments {
					if p.ID == orig.ID && (p.BlockHash != orig.BlockHash || p.Status == store.PaymentRemoved) {
						return true
					}
				}
				return false
			})
			if p := dB.Payments[0]; p.BlockHeight != nil {
				t.Logf("ethereum payment after the reorg: %s at block %d %s (was block %d %s)", p.Status, *p.BlockHeight, p.BlockHash,
					*orig.BlockHeight, orig.BlockHash)
			} else {
				t.Logf("ethereum payment after the reorg: %s (was block %d %s)", p.Status, *orig.BlockHeight, orig.BlockHash)
			}
			if dB.Payments[0].Status == store.PaymentRemoved { // not re-mined from the pool: pay again
				if _, err := m.eth.PayETH(ctx, common.HexToAddress(ethOpt.Address), ethOpt.AmountDue); err != nil {
					t.Fatal(err)
				}
			}
			dB = m.waitFor(dB.Invoice.ID, "settled on ethereum after the reorg", true, settled)
			var ethPay store.Payment
			for _, p := range dB.Payments {
				if p.Status == store.PaymentConfirmed {
					ethPay = p
				}
			}
			if ethPay.Chain != "ethereum" || ethPay.BlockHash == orig.BlockHash {
				t.Fatalf("ethereum payment after the reorg: %+v (orphaned block %s)", ethPay, orig.BlockHash)
			}
			dB.Payments = []store.Payment{ethPay}
			if chain, network := m.record(dB); chain != "ethereum" || network != "1337" {
				t.Fatalf("ethereum settlement booked on chain %q network %q", chain, network)
			}

			// Base is untouched: same payment in the same block, still settled, no reversal.
			after := m.waitFor(dA.Invoice.ID, "still settled", false, settled)
			if len(after.Payments) != 1 || after.Payments[0].BlockHash != basePay.BlockHash || after.Payments[0].Status != store.PaymentConfirmed {
				t.Fatalf("base payment after ethereum's reorg: %+v, was %+v", after.Payments, basePay)
			}
			for _, f := range after.Invoice.Flags {
				if f == "reorged" {
					t.Fatalf("base invoice flagged reorged by ethereum's reorg")
				}
			}
			if err := m.st.View(ctx, func(tx store.Tx) error {
				_, err := tx.OutboxByKey(ctx, ledger.Topic, ledger.ReversalKey(ledger.SettlementKey(basePay.ID)))
				return err
			}); err == nil {
				t.Fatal("base settlement was reversed by ethereum's reorg")
			}

			// Base's node goes down: /readyz names it; ethereum and Bitcoin keep settling.
			if err := m.base.Stop(); err != nil {
				t.Fatal(err)
			}
			dC, usdcEth := m.invoice("USDC", "ethereum")
			if _, err := m.eth.PayToken(ctx, m.eth.USDC(), common.HexToAddress(usdcEth.Address), usdcEth.AmountDue); err != nil {
				t.Fatal(err)
			}
			dD, btcOpt := m.invoice("BTC", "bitcoin")
			addr, err := btcutil.DecodeAddress(btcOpt.Address, btcd.Params())
			if err != nil {
				t.Fatal(err)
			}
			btcd.Pay(t, addr, btcOpt.AmountDue.Int64())
			btcd.Mine(t, 1)
			m.waitFor(dC.Invoice.ID, "settled in USDC on ethereum with base down", true, settled)
			m.waitFor(dD.Invoice.ID, "settled in BTC with base down", false, settled)
			// The followers may be a few blocks behind the tests' sealing for a moment.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				checks := m.readyz()
				if c := checks["chain:base"]; !strings.Contains(c.Detail, "not answering") && !strings.Contains(c.Detail, "unreachable") {
					t.Fatalf("readyz chain:base = %+v, want the node down", c)
				}
				eth, btc := checks["chain:ethereum"], checks["chain:bitcoin"]
				if eth.OK && btc.OK && !strings.Contains(eth.Detail, "not answering") && !strings.Contains(btc.Detail, "not answering") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("readyz chain:ethereum = %+v, chain:bitcoin = %+v", eth, btc)
				}
			}
		})
	}
}

// TestPaymentMethodsPerNetwork: a payment method is an asset on a network. "USDC" offers
// USDC on every network the store accepts it on, "USDC-base" (any case) on base only, an
// unknown network is a 422 on payment_methods; the API names each option's method and
// chain, and the checkout titles an asset offered on two networks with its network and
// gives each an EIP-681 URI with that network's chain id.
func TestPaymentMethodsPerNetwork(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := startMultiChain(t, ctx, storetest.Backends()[0].Open(t), nil)
	methods := func(pm ...string) []string {
		t.Helper()
		d, err := m.app.inv.Create(ctx, m.mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", PaymentMethods: pm})
		if err != nil {
			t.Fatalf("%v: %v", pm, err)
		}
		var out []string
		for _, o := range d.Options {
			out = append(out, o.Asset+"-"+o.Chain)
		}
		slices.Sort(out) // wallet order
		return out
	}
	if got := methods("USDC"); !slices.Equal(got, []string{"USDC-base", "USDC-ethereum"}) {
		t.Fatalf("USDC: %v", got)
	}
	if got := methods("USDC-base"); !slices.Equal(got, []string{"USDC-base"}) {
		t.Fatalf("USDC-base: %v", got)
	}
	if got := methods("USDC-BASE", "ETH-ethereum"); !slices.Equal(got, []string{"ETH-ethereum", "USDC-base"}) {
		t.Fatalf("USDC-BASE, ETH-ethereum: %v", got)
	}
	if got := methods(); len(got) != 4 {
		t.Fatalf("every method: %v", got)
	}
	for _, bad := range []string{"USDC-polygon", "DAI", "USDC-"} {
		_, err := m.app.inv.Create(ctx, m.mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", PaymentMethods: []string{bad}})
		var ve *invoices.ValidationError
		if !errors.As(err, &ve) || ve.Fields["payment_methods"] == "" {
			t.Fatalf("%s: got %v, want a validation error on payment_methods", bad, err)
		}
	}

	// Over HTTP: the API with a key of the store, then the checkout page.
	now := time.Now().UTC()
	plain, k := apikey.New(m.mid, apikey.All(), now)
	if err := m.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateAPIKey(ctx, k) }); err != nil {
		t.Fatal(err)
	}
	post := func(body string) (int, []byte) {
		req, _ := http.NewRequest("POST", m.srv.URL+"/v1/invoices", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := post(`{"amount":"25.00","currency":"USD","payment_methods":["USDC"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	type optionView struct {
		PaymentMethod string `json:"payment_method"`
		Chain         string `json:"chain"`
		Network       string `json:"network"`
		URI           string `json:"payment_uri"`
	}
	var inv struct {
		ID      string       `json:"id"`
		Options []optionView `json:"payment_options"`
	}
	if err := json.Unmarshal(body, &inv); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(inv.Options, func(a, b optionView) int { return strings.Compare(a.PaymentMethod, b.PaymentMethod) })
	if len(inv.Options) != 2 || inv.Options[0].PaymentMethod != "USDC-base" || inv.Options[1].PaymentMethod != "USDC-ethereum" ||
		inv.Options[0].Chain != "base" || inv.Options[0].Network != "84532" ||
		!strings.Contains(inv.Options[0].URI, "@84532/transfer") || !strings.Contains(inv.Options[1].URI, "@1337/transfer") {
		t.Fatalf("options: %+v", inv.Options)
	}
	if code, body := post(`{"amount":"25.00","currency":"USD","payment_methods":["USDC-arbitrum"]}`); code != http.StatusUnprocessableEntity ||
		!strings.Contains(string(body), "payment_methods") {
		t.Fatalf("unknown network: %d %s", code, body)
	}
	resp, err := http.Get(m.srv.URL + "/i/" + inv.ID + "?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Pay with USDC on Ethereum (1337)", "Pay with USDC on Base (84532)", "@84532/transfer"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("checkout page lacks %q", want)
		}
	}
}

// TestWrongChainPaymentRecovered: the factory is at one address on both chains, so an
// invoice's deposit address is the same on both. An invoice that offered USDC on ethereum
// only is paid in USDC on base instead: base's follower does not count it (the invoice has
// no option there), and `chainpay sweep --network base --invoice ID` recovers it to the
// treasury on base through the invoice's ethereum forwarder (same address, derivation
// checked against base's factory). Without the sibling chain configured it finds nothing.
func TestWrongChainPaymentRecovered(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := startMultiChain(t, ctx, storetest.Backends()[0].Open(t), nil)
	d, err := m.app.inv.Create(ctx, m.mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", PaymentMethods: []string{"USDC-ethereum"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Options) != 1 || d.Options[0].Chain != "ethereum" {
		t.Fatalf("options %+v, want USDC on ethereum only", d.Options)
	}
	opt := d.Options[0]
	addr := common.HexToAddress(opt.Address)
	if _, err := m.base.PayToken(ctx, m.base.USDC(), addr, opt.AmountDue); err != nil {
		t.Fatal(err)
	}
	// Base's follower passes the payment's block without a payment for the invoice.
	cl, err := ethclient.DialContext(ctx, m.base.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	paidAt, err := cl.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var c store.Cursor
		if err := m.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "base"); return }); err != nil {
			t.Fatal(err)
		}
		if c.Height > int64(paidAt)+2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, _ := m.app.inv.Get(ctx, m.mid, d.Invoice.ID); len(got.Payments) != 0 {
		t.Fatalf("a payment on base was counted for an ethereum-only invoice: %+v", got.Payments)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	chain := func(name string, c *devchain.Chain) *ethWiring {
		return &ethWiring{chain: name, chainID: c.ChainID(), rpc: []string{c.RPCURL()}, factory: c.Factory(),
			tokens: []ethToken{{code: "USDC", contract: c.USDC(), decimals: 6}}, confs: 2, sweeperKey: c.SweeperKey(),
			sweepInterval: time.Minute, sweepMinMultiple: 3, sweeperGasWarn: big.NewInt(0)}
	}
	baseW, ethW := chain("base", m.base), chain("ethereum", m.eth)
	client, err := ethclient.DialContext(ctx, m.base.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	alone, err := newSweeper(m.st, &wiring{evm: []*ethWiring{baseW}}, baseW, client, log)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := alone.Flush(ctx, m.base.USDC(), d.Invoice.ID); err != nil || out.Holding != 0 {
		t.Fatalf("without the sibling chain: %+v %v, want nothing found", out, err)
	}
	svc, err := newSweeper(m.st, &wiring{evm: []*ethWiring{ethW, baseW}}, baseW, client, log)
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Flush(ctx, m.base.USDC(), d.Invoice.ID)
	if err != nil || out.Holding != 1 || len(out.Sweeps) != 1 || out.Sweeps[0].Status != store.SweepConfirmed || len(out.Failed) != 0 {
		t.Fatalf("flush on base: %+v %v", out, err)
	}
	treasury := common.BytesToAddress(devSeed[:20])
	if got, err := m.base.TokenBalanceAt(ctx, m.base.USDC(), treasury); err != nil || got.Cmp(opt.AmountDue) != 0 {
		t.Fatalf("treasury holds %v USDC on base (%v), want %s", got, err, opt.AmountDue)
	}
	if got, _ := m.base.TokenBalanceAt(ctx, m.base.USDC(), addr); got.Sign() != 0 {
		t.Fatalf("deposit address still holds %s USDC on base", got)
	}
}

// switchProxy forwards TCP connections to a node while on; off, it refuses them (and cuts
// the open ones): a node that is down, then back.
type switchProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	on     bool
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.set(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			on := p.on
			if on {
				p.conns = append(p.conns, c)
			}
			p.mu.Unlock()
			if !on {
				c.Close()
				continue
			}
			go func() {
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				p.mu.Lock()
				p.conns = append(p.conns, up)
				p.mu.Unlock()
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	return p
}

func (p *switchProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *switchProxy) set(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = on
	if !on {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestEVMChainDownAtStart: serve starts while one EVM chain's node is down (its settings
// resolve without it: the factory's addresses are derived, not read), follows the other
// chain, and shows the down chain in /readyz; once the node answers, that chain's follower
// checks it and follows, and an invoice paid there settles.
func TestEVMChainDownAtStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Blocks at a pace a follower catches up with after the outage, even under -race.
	eth, err := devchain.Start(ctx, devchain.Config{BlockEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eth.Stop() })
	base, err := devchain.Start(ctx, devchain.Config{BlockEvery: 250 * time.Millisecond, ChainID: baseDevID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = base.Stop() })
	proxy := newSwitchProxy(t, strings.TrimPrefix(base.RPCURL(), "http://"))
	tokens := func(c *devchain.Chain) string { return "USDC=" + c.USDC().Hex() + ":6" }
	ss := &serveSettings{sweepInterval: "1m", sweepMinMultiple: "3", sweeperGasWarn: "0.05",
		evmChains: `[{"name":"ethereum","chain_id":1337,"rpc":"` + eth.RPCURL() + `","factory":"` + eth.Factory().Address().Hex() +
			`","tokens":"` + tokens(eth) + `","confirmations":2,"poll":"50ms"},` +
			`{"name":"base","chain_id":84532,"rpc":"` + proxy.url() + `","factory":"` + base.Factory().Address().Hex() +
			`","tokens":"` + tokens(base) + `","confirmations":2,"poll":"50ms"}]`}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := storetest.Backends()[0].Open(t)

	// A first process anchors both cursors (a fresh database waits for every node).
	proxy.set(true)
	evm, err := ss.evmWirings(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	if evm[1].factory.InitCodeHash() != base.Factory().InitCodeHash() {
		t.Fatal("the derived factory differs from the dev chain's")
	}
	rateSvc, pairs := fixedRates(t, "ETH-USD=3000,USDC-USD=1")
	w := &wiring{publicURL: "http://127.0.0.1:0", rates: rateSvc, pairs: pairs, guard: webhooks.Guard{AllowPrivate: true},
		btc: &btcWiring{network: bitcoin.Regtest, confs: 1, poll: time.Second}, evm: evm}
	first, err := buildApp(ctx, st, w, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.anchorCursors(ctx); err != nil {
		t.Fatal(err)
	}
	first.stop()

	// base's node goes down; the next process starts anyway.
	proxy.set(false)
	if _, err := (&serveSettings{sweepInterval: "1m", sweepMinMultiple: "3", sweeperGasWarn: "0.05",
		evmChains: `[{"name":"base","chain_id":84532,"rpc":"` + proxy.url() + `","factory":"` + base.USDC().Hex() + `"}]`}).evmWirings(ctx, log); err != nil {
		t.Fatalf("a wrong factory address cannot be told from a right one while the node is down: %v", err)
	}
	evm, err = ss.evmWirings(ctx, log)
	if err != nil {
		t.Fatalf("settings with base's node down: %v", err)
	}
	w.evm = evm
	a, err := buildApp(ctx, st, w, log)
	if err != nil {
		t.Fatalf("start with base's node down: %v", err)
	}
	if err := a.anchorCursors(ctx); err != nil {
		t.Fatal(err)
	}
	a.start(ctx)
	t.Cleanup(a.stop)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	m := &multiChain{t: t, ctx: ctx, st: st, app: a, eth: eth, base: base, srv: srv}
	now := time.Now().UTC()
	m.mid = store.NewID("sto", now)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateMerchant(ctx, store.Merchant{ID: m.mid, Name: "shop", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	treasury := ethereum.FormatAddress(common.BytesToAddress(devSeed[:20]))
	for _, chain := range []string{"ethereum", "base"} {
		if _, err := a.inv.AddWallet(ctx, m.mid, invoices.WalletInput{Chain: chain, Treasury: treasury, Tokens: []string{"USDC"}}); err != nil {
			t.Fatal(err)
		}
	}
	dEth, ethOpt := m.invoice("USDC", "ethereum")
	dBase, baseOpt := m.invoice("USDC", "base") // addresses are derived: base's options exist while it is down
	if _, err := eth.PayToken(ctx, eth.USDC(), common.HexToAddress(ethOpt.Address), ethOpt.AmountDue); err != nil {
		t.Fatal(err)
	}
	if _, err := base.PayToken(ctx, base.USDC(), common.HexToAddress(baseOpt.Address), baseOpt.AmountDue); err != nil {
		t.Fatal(err)
	}
	m.waitFor(dEth.Invoice.ID, "settled on ethereum while base is down", false, settled)
	if c := m.readyz()["chain:base"]; !strings.Contains(c.Detail, "not answering") && !strings.Contains(c.Detail, "unreachable") {
		t.Fatalf("readyz chain:base = %+v, want the node down", c)
	}
	if d, _ := a.inv.Get(ctx, m.mid, dBase.Invoice.ID); len(d.Payments) != 0 {
		t.Fatalf("base invoice has payments while its node is down: %+v", d.Payments)
	}

	// base's node is back: its follower checks it and catches up.
	proxy.set(true)
	m.waitFor(dBase.Invoice.ID, "settled on base once its node is back", false, settled)
	// Readiness no longer reports the node down (it may report the follower catching up
	// the blocks of the outage for a while: lag is its own check).
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := m.readyz()["chain:base"]
		if !strings.Contains(c.Detail, "not answering") && !strings.Contains(c.Detail, "unreachable") &&
			!strings.Contains(c.Detail, "node check") && (c.OK || strings.Contains(c.Detail, "behind the node")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz chain:base after the node is back = %+v", c)
		}
	}
}

// fixedRates starts a rate service quoting only the fixed rates given (as
// CHAINPAY_RATES_FIXED: "BTC-USD=60000,..."), stopped when the test ends.
func fixedRates(t *testing.T, fixed string) (*rates.Service, []rates.Pair) {
	t.Helper()
	rs := rateSettings{sources: "none", fixed: fixed, minSources: "1", maxAge: "24h", currencies: "USD"}
	svc, pairs, err := rs.build(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background(), pairs, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc, pairs
}
