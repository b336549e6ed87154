package sweeper_test

import (
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/sweeper"
)

var ctx = context.Background()

// chain is a simulated chain with the factory, a 6-decimal token and funded actors.
type chain struct {
	t        *testing.T
	backend  *simulated.Backend
	client   simulated.Client
	factory  *ethereum.Factory
	usdc     common.Address
	deployer *ecdsa.PrivateKey
	payer    *ecdsa.PrivateKey
	gasKey   *ecdsa.PrivateKey // the sweeper's key
	treasury common.Address
	attacker common.Address
	mu       sync.Mutex // serialises sends from the test (nonces)
}

func key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addrOf(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

func newChain(t *testing.T) *chain {
	t.Helper()
	c := &chain{t: t, deployer: key(t), payer: key(t), gasKey: key(t), treasury: addrOf(key(t)), attacker: addrOf(key(t))}
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{c.deployer, c.payer, c.gasKey} {
		alloc[addrOf(k)] = types.Account{Balance: ether(1000)}
	}
	// Osaka, the fork mainnet runs (the default dev config also enables unreleased forks
	// with other gas prices), so the gas figures are mainnet's.
	c.backend = simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) {
		cfg := *ec.Genesis.Config
		cfg.AmsterdamTime, cfg.BogotaTime, cfg.UBTTime = nil, nil, nil
		ec.Genesis.Config = &cfg
	})
	t.Cleanup(func() { _ = c.backend.Close() })
	c.client = c.backend.Client()
	fa := c.mustSend(c.deployer, nil, nil, common.FromHex(bindings.ForwarderFactoryMetaData.Bin)).ContractAddress
	fabi := bindings.NewForwarderFactory()
	impl, err := fabi.UnpackImplementation(c.call(fa, fabi.PackImplementation()))
	if err != nil {
		t.Fatal(err)
	}
	if c.factory, err = ethereum.NewFactory(fa, impl); err != nil {
		t.Fatal(err)
	}
	tabi := bindings.NewTestToken()
	c.usdc = c.mustSend(c.deployer, nil, nil, append(common.FromHex(bindings.TestTokenMetaData.Bin), tabi.PackConstructor("USD Coin", "USDC", 6, false)...)).ContractAddress
	c.mustSend(c.payer, &c.usdc, nil, tabi.PackMint(addrOf(c.payer), big.NewInt(1e12)))
	return c
}

func (c *chain) call(to common.Address, data []byte) []byte {
	c.t.Helper()
	out, err := c.client.CallContract(ctx, geth.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *chain) mustSend(from *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) *types.Receipt {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if value == nil {
		value = new(big.Int)
	}
	nonce, err := c.client.PendingNonceAt(ctx, addrOf(from))
	if err != nil {
		c.t.Fatal(err)
	}
	gas, err := c.client.EstimateGas(ctx, geth.CallMsg{From: addrOf(from), To: to, Value: value, Data: data})
	if err != nil {
		c.t.Fatalf("estimate: %v", err)
	}
	tx, err := types.SignNewTx(from, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: gas, To: to, Value: value, Data: data})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		c.t.Fatal(err)
	}
	c.backend.Commit()
	r, err := c.client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("transaction failed: %v %+v", err, r)
	}
	return r
}

func (c *chain) balance(a common.Address) *big.Int {
	c.t.Helper()
	b, err := c.client.BalanceAt(ctx, a, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *chain) tokenBalance(a common.Address) *big.Int {
	c.t.Helper()
	return c.balanceOf(c.usdc, a)
}

func (c *chain) balanceOf(token, a common.Address) *big.Int {
	c.t.Helper()
	tabi := bindings.NewTestToken()
	v, err := tabi.UnpackBalanceOf(c.call(token, tabi.PackBalanceOf(a)))
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

func (c *chain) deposit(invoiceID string, dest common.Address) common.Address {
	c.t.Helper()
	a, err := c.factory.DepositAddress(invoiceID, dest)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// pay sends wei and token units from the payer to a.
func (c *chain) pay(a common.Address, wei, units int64) {
	c.t.Helper()
	if wei > 0 {
		c.mustSend(c.payer, &a, big.NewInt(wei), nil)
	}
	if units > 0 {
		c.mustSend(c.payer, &c.usdc, nil, bindings.NewTestToken().PackTransfer(a, big.NewInt(units)))
	}
}

// mining commits a block every 2 ms until the returned stop is called, as a live chain
// would mine the sweeper's transactions.
func (c *chain) mining() (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				c.mu.Lock()
				c.backend.Commit()
				c.mu.Unlock()
			}
		}
	}()
	return func() { close(quit); <-done }
}

// env is a simulated chain, a store with one merchant's EVM wallet, and a sweeper over both.
type env struct {
	*chain
	st       store.Store
	merchant string
	wallet   string
	dai      common.Address // a token chainpay is not configured for
	now      time.Time
}

func setup(t *testing.T) *env {
	t.Helper()
	c := newChain(t)
	e := &env{chain: c, st: storetest.SQLite(t), merchant: "sto_sweep", wallet: "wal_sweep", now: time.Now().UTC()}
	tabi := bindings.NewTestToken()
	e.dai = c.mustSend(c.deployer, nil, nil, append(common.FromHex(bindings.TestTokenMetaData.Bin), tabi.PackConstructor("Dai", "DAI", 18, false)...)).ContractAddress
	c.mustSend(c.payer, &e.dai, nil, tabi.PackMint(addrOf(c.payer), ether(1000)))
	e.seed()
	return e
}

// seed stores the env's merchant and its EVM wallet paying into the treasury.
func (e *env) seed() {
	e.t.Helper()
	e.tx(func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: e.merchant, Name: "sweep", CreatedAt: e.now}); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: e.wallet, MerchantID: e.merchant, Chain: "ethereum", Network: "1337",
			Treasury: ethereum.FormatAddress(e.treasury), Tokens: []string{"USDC"}, CreatedAt: e.now})
	})
}

func (e *env) tx(fn func(store.Tx) error) {
	e.t.Helper()
	if err := e.st.Tx(ctx, fn); err != nil {
		e.t.Fatal(err)
	}
}

// invoice stores an invoice in status with one option per asset ("ETH", "USDC") and
// returns its deposit address. monitored false puts its monitoring window in the past.
func (e *env) invoice(id, status string, monitored bool, assets ...string) common.Address {
	e.t.Helper()
	return e.invoiceIn(e.merchant, e.wallet, e.deposit(id, e.treasury), id, status, monitored, assets...)
}

// wallet adds a merchant with an EVM wallet paying into treasury.
func (e *env) addWallet(merchant string, treasury common.Address) (walletID string) {
	e.t.Helper()
	walletID = "wal_" + merchant
	e.tx(func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: merchant, Name: merchant, CreatedAt: e.now}); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: walletID, MerchantID: merchant, Chain: "ethereum", Network: "1337",
			Treasury: ethereum.FormatAddress(treasury), Tokens: []string{"USDC"}, CreatedAt: e.now})
	})
	return walletID
}

// invoiceIn is invoice for any merchant and wallet, with the options at dep.
func (e *env) invoiceIn(merchant, wallet string, dep common.Address, id, status string, monitored bool, assets ...string) common.Address {
	e.t.Helper()
	created := e.now.Add(-time.Hour)
	until := e.now.Add(24 * time.Hour)
	if !monitored {
		created, until = e.now.Add(-72*time.Hour), e.now.Add(-time.Hour)
	}
	inv := store.Invoice{ID: id, MerchantID: merchant, Status: status, Price: big.NewInt(2500), Currency: "USD",
		TolerancePercent: "0", ToleranceFloor: new(big.Int), Confirmations: "{}", ExpiresAt: created.Add(15 * time.Minute),
		MonitorUntil: until, CreatedAt: created, UpdatedAt: created}
	if status == store.StatusInvalid {
		inv.Flags, inv.ResolutionReason = []string{"marked"}, "canceled by the merchant"
	}
	e.tx(func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		for _, a := range assets {
			o := store.PaymentOption{ID: "opt_" + id + "_" + a, InvoiceID: id, Asset: a, Chain: "ethereum", Network: "1337",
				Scale: 18, Address: ethereum.FormatAddress(dep), WalletID: wallet, AmountDue: big.NewInt(1), Rate: "1",
				RateSource: "fixed", RateAt: created, QuoteExpiresAt: created, RawQuotes: "[]", Confirmations: 3, CreatedAt: created}
			if a == "USDC" {
				o.Contract, o.Scale = ethereum.FormatAddress(e.usdc), 6
			}
			if err := x.CreatePaymentOption(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	return dep
}

// service returns a sweeper with 3 confirmations that books fees through the ledger outbox.
func (e *env) service(mut func(*sweeper.Config)) *sweeper.Service {
	e.t.Helper()
	eth := money.Asset{Code: "ETH", Scale: 18, Chain: "ethereum"}
	cfg := sweeper.Config{Client: e.client, Store: e.st, Chain: "ethereum", Factory: e.factory, ChainID: 1337, Key: e.gasKey,
		Tokens: []sweeper.Token{{Code: "USDC", Contract: e.usdc, Decimals: 6}}, Confirmations: 3,
		PollInterval: 5 * time.Millisecond, ReceiptTimeout: 30 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnFinished: func(ctx context.Context, tx store.Tx, s store.EVMSweep, confs int64) error {
			rec, err := ledger.CollectionFeeRecord(ledger.CollectionFee{MerchantID: s.MerchantID, Native: eth, Network: "1337",
				TxHash: s.TxHash, BlockHeight: *s.BlockNumber, BlockHash: s.BlockHash, Confirmations: confs, Fee: s.Fee,
				Forwarders: len(s.Addresses), Reverted: s.Status == store.SweepReverted, OccurredAt: *s.FinishedAt})
			if err != nil {
				return err
			}
			return ledger.EnqueueTx(ctx, tx, rec, *s.FinishedAt)
		}}
	if mut != nil {
		mut(&cfg)
	}
	s, err := sweeper.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// round runs one sweeper round and mines a block after it.
func (e *env) round(s *sweeper.Service) sweeper.Result {
	e.t.Helper()
	res, err := s.SweepOnce(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.backend.Commit()
	e.mu.Unlock()
	return res
}

// settle runs rounds (a block each) until no sweep is open and nothing new is sent, and
// returns every sweep finished meanwhile.
func (e *env) settle(s *sweeper.Service) []store.EVMSweep {
	e.t.Helper()
	var done []store.EVMSweep
	for range 20 {
		res := e.round(s)
		done = append(done, res.Finished...)
		if len(res.Sent) == 0 && len(e.open()) == 0 {
			return done
		}
	}
	e.t.Fatal("sweeps did not settle in 20 rounds")
	return nil
}

func (e *env) open() []store.EVMSweep {
	e.t.Helper()
	var out []store.EVMSweep
	if err := e.st.View(ctx, func(x store.Tx) (err error) { out, err = x.OpenEVMSweeps(ctx, "ethereum"); return }); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// feeRecords returns the ledger outbox's collection-fee records by source (tx hash).
func (e *env) feeRecords() map[string]ledger.Record {
	e.t.Helper()
	var msgs []store.OutboxMessage
	if err := e.st.View(ctx, func(x store.Tx) (err error) {
		msgs, err = x.OutboxMessages(ctx, ledger.Topic, store.OutboxPending)
		return
	}); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]ledger.Record{}
	for _, m := range msgs {
		r, err := ledger.ParseRecord([]byte(m.Payload))
		if err != nil {
			e.t.Fatal(err)
		}
		if r.SourceType == ledger.SourceEVMCollection {
			out[r.SourceID] = r
		}
	}
	return out
}

func (e *env) unswept() map[string]*big.Int {
	e.t.Helper()
	var us []store.UnsweptBalance
	if err := e.st.View(ctx, func(x store.Tx) (err error) { us, err = x.UnsweptBalances(ctx, e.merchant); return }); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*big.Int{}
	for _, u := range us {
		out[u.Asset] = u.Amount
	}
	return out
}

func (e *env) daiBalance(a common.Address) *big.Int {
	e.t.Helper()
	return e.balanceOf(e.dai, a)
}
