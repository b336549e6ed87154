package watcher_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
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
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/chains/ethereum/gethtest"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/sweeper"
	"github.com/chainpay/chainpay/watcher"
)

// evmQuoter prices ETH at 2000 and tokens at 1 of any fiat currency.
type evmQuoter struct{}

func (evmQuoter) Quote(_ context.Context, base, _ string) (invoices.Quote, error) {
	r := "1"
	if base == "ETH" {
		r = "2000"
	}
	return invoices.Quote{Rate: decimal.RequireFromString(r), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// evmShop is a merchant with an Ethereum wallet (treasury + USDC) and an invoice service.
type evmShop struct {
	st       store.Store
	svc      *invoices.Service
	mid      string
	treasury common.Address
}

func newEVMShop(t *testing.T, st store.Store, f *ethereum.Factory, chainID uint64, usdc common.Address) *evmShop {
	t.Helper()
	return newEVMShopFinality(t, st, f, chainID, usdc, "")
}

// newEVMShopFinality is newEVMShop on a chain whose payments settle on the block tag
// finality ("finalized", "safe"; "" for depth).
func newEVMShopFinality(t *testing.T, st store.Store, f *ethereum.Factory, chainID uint64, usdc common.Address, finality string) *evmShop {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: chainID, Factory: f, Finality: finality,
		Tokens: map[string]deposit.EVMToken{"USDC": {Contract: usdc, Decimals: 6}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"ethereum": evm}, Quoter: evmQuoter{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := &evmShop{st: st, svc: svc, mid: store.NewID("sto", time.Now()), treasury: crypto.PubkeyToAddress(k.PublicKey)}
	now := time.Now()
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: s.mid, Name: "evm shop", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: s.mid, Chain: "ethereum",
			Network: "dev", Treasury: s.treasury.Hex(), Tokens: []string{"USDC"}, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// invoice creates a USD invoice payable in asset only, needing confs confirmations, and
// returns it with its option.
//
// Each invoice offers one asset because the Follower keys its watch list by address alone
// (the first option loaded for an address wins), while an EVM invoice's ETH and token
// options share the invoice's one deposit address (reported to the lead: the follower must
// key options by address and asset).
func (s *evmShop) invoice(t *testing.T, price string, confs int, asset string) (string, store.PaymentOption) {
	t.Helper()
	d, err := s.svc.Create(ctx, s.mid, invoices.CreateRequest{Amount: price, Currency: "USD",
		Confirmations: map[string]int{"ethereum": confs}, PaymentMethods: []string{asset}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Options) != 1 || d.Options[0].Asset != asset {
		t.Fatalf("options %+v, want one %s option", d.Options, asset)
	}
	return d.Invoice.ID, d.Options[0]
}

func (s *evmShop) get(t *testing.T, id string) invoices.Details {
	t.Helper()
	d, err := s.svc.Get(ctx, s.mid, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// simEnv is a simulated chain with the contracts, a shop and a follower over JSON-RPC.
type simEnv struct {
	t        *testing.T
	backend  *simulated.Backend
	client   simulated.Client
	factory  *ethereum.Factory
	usdc     common.Address
	exchange common.Address // TestStipendPayer: pays by internal calls
	deployer *ecdsa.PrivateKey
	payer    *ecdsa.PrivateKey
	gasKey   *ecdsa.PrivateKey
	shop     *evmShop
	url      string
	src      *watcher.EthereumSource
	f        *watcher.Follower
	mu       sync.Mutex // serialises sends and commits
}

func evmKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func evmAddr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	e := &simEnv{t: t, deployer: evmKey(t), payer: evmKey(t), gasKey: evmKey(t)}
	funds := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	// The backend serves JSON-RPC over HTTP, so the source is tested as it runs in production.
	e.backend = simulated.NewBackend(types.GenesisAlloc{
		evmAddr(e.deployer): {Balance: funds}, evmAddr(e.payer): {Balance: funds}, evmAddr(e.gasKey): {Balance: funds}},
		func(nc *node.Config, _ *ethconfig.Config) {
			nc.HTTPHost, nc.HTTPPort, nc.HTTPModules = "127.0.0.1", port, []string{"eth", "net", "web3"}
		})
	t.Cleanup(func() { _ = e.backend.Close() })
	e.client = e.backend.Client()
	fa := e.send(e.deployer, nil, nil, common.FromHex(bindings.ForwarderFactoryMetaData.Bin), true).ContractAddress
	fabi := bindings.NewForwarderFactory()
	out, err := e.client.CallContract(ctx, geth.CallMsg{To: &fa, Data: fabi.PackImplementation()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	impl, err := fabi.UnpackImplementation(out)
	if err != nil {
		t.Fatal(err)
	}
	if e.factory, err = ethereum.NewFactory(fa, impl); err != nil {
		t.Fatal(err)
	}
	tabi := bindings.NewTestToken()
	e.usdc = e.send(e.deployer, nil, nil, append(common.FromHex(bindings.TestTokenMetaData.Bin), tabi.PackConstructor("USD Coin", "USDC", 6, false)...), true).ContractAddress
	e.exchange = e.send(e.deployer, nil, nil, common.FromHex(bindings.TestStipendPayerMetaData.Bin), true).ContractAddress
	e.send(e.payer, &e.usdc, nil, tabi.PackMint(evmAddr(e.payer), big.NewInt(1e12)), true)

	e.shop = newEVMShop(t, storetest.SQLite(t), e.factory, 1337, e.usdc)
	e.src = e.source(t, watcher.EthereumConfig{Chain: "ethereum", ChainID: 1337,
		Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: e.usdc, Decimals: 6}}})
	if err := e.src.Check(ctx); err != nil {
		t.Fatal(err)
	}
	e.f = watcher.NewFollower(e.shop.st, e.src, e.shop.svc, watcher.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return e
}

// source returns a source over the backend's HTTP JSON-RPC.
func (e *simEnv) source(t *testing.T, cfg watcher.EthereumConfig) *watcher.EthereumSource {
	t.Helper()
	cfg.URLs = append(cfg.URLs, e.url)
	src, err := watcher.NewEthereumSource(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	return src
}

// send signs and sends a transaction; with commit it mines it and checks success.
func (e *simEnv) send(from *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, commit bool) *types.Receipt {
	e.t.Helper()
	tx := e.sign(from, nil, to, value, data, 1)
	if !commit {
		return nil
	}
	e.commit(1)
	r, err := e.client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || r.Status != types.ReceiptStatusSuccessful {
		e.t.Fatalf("transaction %s failed: %v %+v", tx.Hash(), err, r)
	}
	return r
}

// sign sends a transaction with the given nonce (nil = next) and fee multiplier.
func (e *simEnv) sign(from *ecdsa.PrivateKey, nonce *uint64, to *common.Address, value *big.Int, data []byte, feeMul int64) *types.Transaction {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if value == nil {
		value = new(big.Int)
	}
	if nonce == nil {
		n, err := e.client.PendingNonceAt(ctx, evmAddr(from))
		if err != nil {
			e.t.Fatal(err)
		}
		nonce = &n
	}
	gas, err := e.client.EstimateGas(ctx, geth.CallMsg{From: evmAddr(from), To: to, Value: value, Data: data})
	if err != nil {
		e.t.Fatalf("estimate: %v", err)
	}
	tx, err := types.SignNewTx(from, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{ChainID: big.NewInt(1337),
		Nonce: *nonce, GasTipCap: big.NewInt(1e9 * feeMul), GasFeeCap: big.NewInt(100e9 * feeMul), Gas: gas, To: to, Value: value, Data: data})
	if err != nil {
		e.t.Fatal(err)
	}
	// After a Fork the pool moves to the fork point asynchronously; until it has, a
	// replacement at an old nonce is refused as "nonce too low" (bounded retry).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		err := e.client.SendTransaction(ctx, tx)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "nonce too low") || time.Now().After(deadline) {
			e.t.Fatalf("send: %v", err)
		}
	}
	// The simulated backend admits transactions to its pool asynchronously: wait until this
	// one is pending, or a Commit right after could seal a block without it (bounded).
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The pool's pending nonce moves past this one only once the transaction is executable
		// (a transaction merely known to the pool may still be queued, and not sealed).
		if n, err := e.client.PendingNonceAt(ctx, evmAddr(from)); err == nil && n > *nonce {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("transaction %s never reached the pool", tx.Hash())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return tx
}

func (e *simEnv) commit(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.backend.Commit()
	}
}

func (e *simEnv) step() {
	e.t.Helper()
	if _, err := e.f.Step(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *simEnv) payETH(to string, wei *big.Int, commit bool) *types.Receipt {
	e.t.Helper()
	a := common.HexToAddress(to)
	return e.send(e.payer, &a, wei, nil, commit)
}

func (e *simEnv) payUSDC(to string, units *big.Int, commit bool) *types.Receipt {
	e.t.Helper()
	return e.send(e.payer, &e.usdc, nil, bindings.NewTestToken().PackTransfer(common.HexToAddress(to), units), commit)
}

// payInternal pays wei to to through the exchange contract (a contract-internal call).
func (e *simEnv) payInternal(to string, wei *big.Int, commit bool) *types.Receipt {
	e.t.Helper()
	return e.send(e.payer, &e.exchange, wei, bindings.NewTestStipendPayer().PackPayWithCall(common.HexToAddress(to)), commit)
}

func (e *simEnv) balance(a common.Address) *big.Int {
	e.t.Helper()
	b, err := e.client.BalanceAt(ctx, a, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *simEnv) tokenBalance(a common.Address) *big.Int {
	e.t.Helper()
	tabi := bindings.NewTestToken()
	out, err := e.client.CallContract(ctx, geth.CallMsg{To: &e.usdc, Data: tabi.PackBalanceOf(a)}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := tabi.UnpackBalanceOf(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *simEnv) hasCode(a string) bool {
	e.t.Helper()
	c, err := e.client.CodeAt(ctx, common.HexToAddress(a), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(c) > 0
}

// sweep sweeps the store's forwarders by balance with the sweeper service (1
// confirmation) while a goroutine mines blocks, and returns its confirmed sweeps, which
// must cover the invoices ids.
func (e *simEnv) sweep(ids ...string) []store.EVMSweep {
	e.t.Helper()
	s, err := sweeper.New(sweeper.Config{Client: e.client, Store: e.shop.st, Chain: "ethereum", Factory: e.factory, ChainID: 1337,
		Key: e.gasKey, Tokens: []sweeper.Token{{Code: "USDC", Contract: e.usdc, Decimals: 6}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
				e.commit(1)
			}
		}
	}()
	defer func() { close(quit); <-done }()
	return sweepAll(e.t, s, ids)
}

// sweepAll runs sweeper rounds until sweeps covering ids are confirmed.
func sweepAll(t *testing.T, s *sweeper.Service, ids []string) []store.EVMSweep {
	t.Helper()
	var out []store.EVMSweep
	covered := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(covered) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("sweeps confirmed %+v do not cover %v", out, ids)
		}
		res, err := s.SweepOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Finished {
			if f.Status != store.SweepConfirmed {
				t.Fatalf("sweep %s: %s", f.TxHash, f.Status)
			}
			out = append(out, f)
			for _, id := range f.InvoiceIDs {
				if slices.Contains(ids, id) {
					covered[id] = true
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out
}

func confirmed(ps []store.Payment) []store.Payment {
	var out []store.Payment
	for _, p := range ps {
		if p.Status == store.PaymentConfirmed {
			out = append(out, p)
		}
	}
	return out
}

// TestEthereumPayBeforeDeploySettleSweep: ETH and a 6-decimal token paid to predicted
// addresses before any forwarder exists are detected, settle after 3 blocks, are swept to
// the treasury; the sweep itself creates no payment.
func TestEthereumPayBeforeDeploySettleSweep(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.step() // cursor at the tip
	idA, ethA := e.shop.invoice(t, "20.00", 3, "ETH")
	idB, usdcB := e.shop.invoice(t, "12.34", 3, "USDC")
	if ethA.AmountDue.Cmp(big.NewInt(1e16)) != 0 || usdcB.AmountDue.Cmp(big.NewInt(12_340_000)) != 0 {
		t.Fatalf("amounts due %s wei, %s units; want 1e16 and 12340000", ethA.AmountDue, usdcB.AmountDue)
	}
	if e.hasCode(ethA.Address) || e.hasCode(usdcB.Address) {
		t.Fatal("deposit addresses have code before any sweep")
	}
	ra := e.payETH(ethA.Address, ethA.AmountDue, false)
	rb := e.payUSDC(usdcB.Address, usdcB.AmountDue, false)
	_, _ = ra, rb
	e.commit(1)
	e.step()
	for _, id := range []string{idA, idB} {
		if d := e.shop.get(t, id); d.Invoice.Status != store.StatusProcessing || len(d.Payments) != 1 {
			t.Fatalf("invoice %s after one block: %s with %d payments", id, d.Invoice.Status, len(d.Payments))
		}
	}
	pa := e.shop.get(t, idA).Payments[0]
	if pa.Asset != "ETH" || pa.OutputIndex != -1 || pa.Amount.Cmp(ethA.AmountDue) != 0 || !strings.HasPrefix(pa.TxID, "0x") {
		t.Fatalf("ETH payment %+v", pa)
	}
	pb := e.shop.get(t, idB).Payments[0]
	if pb.Asset != "USDC" || pb.OutputIndex != 0 || pb.Amount.Cmp(usdcB.AmountDue) != 0 {
		t.Fatalf("USDC payment %+v", pb)
	}
	e.commit(2)
	e.step()
	for _, id := range []string{idA, idB} {
		if d := e.shop.get(t, id); d.Invoice.Status != store.StatusSettled {
			t.Fatalf("invoice %s after 3 confirmations: %s %v", id, d.Invoice.Status, d.Invoice.Flags)
		}
	}

	res := e.sweep(idA, idB)
	if got := e.balance(e.shop.treasury); got.Cmp(ethA.AmountDue) != 0 {
		t.Fatalf("treasury holds %s wei, want %s", got, ethA.AmountDue)
	}
	if got := e.tokenBalance(e.shop.treasury); got.Cmp(usdcB.AmountDue) != 0 {
		t.Fatalf("treasury holds %s USDC units, want %s", got, usdcB.AmountDue)
	}
	t.Logf("sweep of 2 invoices (deploy + ETH + USDC flush each): %d gas", *res[0].GasUsed)
	// Following the sweep blocks: the forwarders' balances fell, which is no payment.
	e.commit(1)
	e.step()
	for _, id := range []string{idA, idB} {
		if d := e.shop.get(t, id); len(d.Payments) != 1 || d.Invoice.Status != store.StatusSettled {
			t.Fatalf("invoice %s after the sweep: %s with %d payments", id, d.Invoice.Status, len(d.Payments))
		}
	}
	// A late top-level payment to a deployed forwarder is still seen (and forwarded).
	e.payETH(ethA.Address, big.NewInt(777), true)
	e.step()
	if d := e.shop.get(t, idA); len(d.Payments) != 2 {
		t.Fatalf("late payment to a deployed forwarder not recorded: %+v", d.Payments)
	}
	if got := e.balance(e.shop.treasury); got.Cmp(new(big.Int).Add(ethA.AmountDue, big.NewInt(777))) != 0 {
		t.Fatalf("treasury %s after a payment to a deployed forwarder", got)
	}
}

// TestEthereumInternalPaymentByReconciliation: ETH sent by a contract-internal call has no
// transaction to the deposit address; balance reconciliation reports it, once, and only
// the part not explained by a top-level payment in the same block.
func TestEthereumInternalPaymentByReconciliation(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.step()
	id, eth := e.shop.invoice(t, "20.00", 1, "ETH")
	top, internal := big.NewInt(4e15), new(big.Int).Sub(eth.AmountDue, big.NewInt(4e15))
	// Both in one block: a top-level payment and an exchange withdrawal (internal call).
	rt := e.payETH(eth.Address, top, false)
	_ = rt
	e.payInternal(eth.Address, internal, false)
	e.commit(1)
	tip, err := e.src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.step()
	b1, err := e.src.BlockAt(ctx, tip.Height)
	if err != nil {
		t.Fatal(err)
	}
	d := e.shop.get(t, id)
	if d.Invoice.Status != store.StatusSettled || len(d.Payments) != 2 {
		t.Fatalf("invoice %s with %d payments, want settled with 2: %+v", d.Invoice.Status, len(d.Payments), d.Payments)
	}
	var pseudo store.Payment
	for _, p := range d.Payments {
		if strings.HasPrefix(p.TxID, "balance:") {
			pseudo = p
		} else if p.Amount.Cmp(top) != 0 {
			t.Fatalf("top-level payment %s, want %s", p.Amount, top)
		}
	}
	want := "balance:" + strings.ToLower(tip.Hash) + ":" + strings.ToLower(eth.Address)
	if pseudo.TxID != want || pseudo.OutputIndex != -1 || pseudo.Amount.Cmp(internal) != 0 || pseudo.Asset != "ETH" {
		t.Fatalf("reconciled payment %+v, want %s index -1 amount %s", pseudo, want, internal)
	}
	// Re-reading the same block (a restarted follower) yields the same pseudo-transfer,
	// so the payments' unique key dedupes it; also with a cold balance cache.
	fresh := e.source(t, watcher.EthereumConfig{Chain: "ethereum", ChainID: 1337})
	if err := fresh.Watch([]string{eth.Address}); err != nil {
		t.Fatal(err)
	}
	for _, src := range []*watcher.EthereumSource{e.src, fresh} {
		b2, err := src.BlockAt(ctx, tip.Height)
		if err != nil {
			t.Fatal(err)
		}
		if !sameTransfers(b1.Transfers, b2.Transfers) {
			t.Fatalf("block %d read twice: %+v then %+v", tip.Height, b1.Transfers, b2.Transfers)
		}
	}
	// Empty blocks after it report nothing.
	e.commit(1)
	e.step()
	if n := len(e.shop.get(t, id).Payments); n != 2 {
		t.Fatalf("%d payments after an empty block", n)
	}
	// Unwatched addresses are neither matched nor reconciled.
	e.src.Unwatch([]string{eth.Address})
	e.payInternal(eth.Address, big.NewInt(5), true)
	b3, err := e.src.BlockAt(ctx, tip.Height+2)
	if err != nil {
		t.Fatal(err)
	}
	if len(b3.Transfers) != 0 {
		t.Fatalf("unwatched address reported: %+v", b3.Transfers)
	}
}

func sameTransfers(a, b []watcher.Transfer) bool {
	return slices.EqualFunc(a, b, func(x, y watcher.Transfer) bool {
		return x.TxID == y.TxID && x.Index == y.Index && x.Address == y.Address && x.Asset == y.Asset && x.Amount.Cmp(y.Amount) == 0
	})
}

// TestEthereumReorg: a reorg (simulated backend Fork) that replaces the paying transaction
// leaves the payment pending for the orphan grace, then removes it and the processing invoice
// becomes invalid; a reorg that re-includes a token
// payment in another block keeps the same payment (its key does not depend on the block).
func TestEthereumReorg(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.step()
	idA, ethA := e.shop.invoice(t, "20.00", 3, "ETH")
	idB, usdcB := e.shop.invoice(t, "5.00", 3, "USDC")
	e.commit(1)
	fork, err := e.src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := e.client.PendingNonceAt(ctx, evmAddr(e.payer))
	if err != nil {
		t.Fatal(err)
	}
	e.payETH(ethA.Address, ethA.AmountDue, false)
	tokenTx := e.sign(e.payer, nil, &e.usdc, nil, bindings.NewTestToken().PackTransfer(common.HexToAddress(usdcB.Address), usdcB.AmountDue), 1)
	e.commit(1)
	e.step()
	if s := e.shop.get(t, idA).Invoice.Status; s != store.StatusProcessing {
		t.Fatalf("invoice A %s before the reorg", s)
	}
	before := e.shop.get(t, idB).Payments
	if len(before) != 1 {
		t.Fatalf("invoice B payments %+v", before)
	}

	// Reorg: back to the fork point; the payer replaces the ETH payment (same nonce) by a
	// payment to itself; the token transfer (next nonce) is mined again; the new branch is longer.
	if err := e.backend.Fork(common.HexToHash(fork.Hash)); err != nil {
		t.Fatal(err)
	}
	self := evmAddr(e.payer)
	e.sign(e.payer, &nonce, &self, big.NewInt(1), nil, 3)
	// The very same token transaction is mined again (the pool may already hold it again).
	if err := e.client.SendTransaction(ctx, tokenTx); err != nil && !strings.Contains(err.Error(), "already known") {
		t.Fatalf("resend token transfer: %v", err)
	}
	e.commit(3)
	newTip, err := e.src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := e.src.HeaderAt(ctx, fork.Height+1); h.Parent != fork.Hash {
		t.Fatalf("new branch does not start at the fork point")
	}
	e.step()
	// DESIGN §4: an orphaned payment on a chain without a visible mempool stays pending for
	// OrphanGraceBlocks (12) blocks, in case it is mined again; the invoice stays processing.
	da := e.shop.get(t, idA)
	if da.Invoice.Status != store.StatusProcessing || len(da.Payments) != 1 || da.Payments[0].Status != store.PaymentMempool {
		t.Fatalf("invoice A right after the reorg: %s %+v, want processing with the payment pending", da.Invoice.Status, da.Payments)
	}
	e.commit(12)
	e.step()
	da = e.shop.get(t, idA)
	// Not mined again within the grace: processing → invalid, the payment vanished.
	if da.Invoice.Status != store.StatusInvalid || len(confirmed(da.Payments)) != 0 {
		t.Fatalf("invoice A after its payment was reorged out: %s %v %+v", da.Invoice.Status, da.Invoice.Flags, da.Payments)
	}
	if len(da.Payments) != 1 || da.Payments[0].Status != store.PaymentRemoved {
		t.Fatalf("invoice A payments %+v, want one removed", da.Payments)
	}
	db := e.shop.get(t, idB)
	if len(db.Payments) != 1 || db.Payments[0].ID != before[0].ID || db.Payments[0].Status != store.PaymentConfirmed ||
		db.Payments[0].BlockHash == before[0].BlockHash {
		t.Fatalf("invoice B payments after re-inclusion %+v (before %+v)", db.Payments, before)
	}
	if db.Invoice.Status != store.StatusSettled || *db.Payments[0].BlockHeight > newTip.Height-2 {
		t.Fatalf("invoice B %s at tip %d, payment at %d", db.Invoice.Status, newTip.Height, *db.Payments[0].BlockHeight)
	}
}

// TestEthereumSourceChecks: Check refuses a wrong chain id and wrong token decimals; the
// source fails over from a dead URL to a live one.
func TestEthereumSourceChecks(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	for name, cfg := range map[string]watcher.EthereumConfig{
		"chain id": {Chain: "ethereum", ChainID: 1},
		"decimals": {Chain: "ethereum", ChainID: 1337, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: e.usdc, Decimals: 18}}},
		"no token": {Chain: "ethereum", ChainID: 1337, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: common.Address{9}, Decimals: 6}}},
	} {
		if err := e.source(t, cfg).Check(ctx); !errors.Is(err, watcher.ErrChainMismatch) {
			t.Errorf("%s: Check error %v, want ErrChainMismatch", name, err)
		}
	}
	for name, cfg := range map[string]watcher.EthereumConfig{
		"no chain":     {ChainID: 1, URLs: []string{e.url}},
		"no chain id":  {Chain: "ethereum", URLs: []string{e.url}},
		"no URL":       {Chain: "ethereum", ChainID: 1},
		"bad URL":      {Chain: "ethereum", ChainID: 1, URLs: []string{"ftp://x"}},
		"zero token":   {Chain: "ethereum", ChainID: 1, URLs: []string{e.url}, Tokens: []watcher.EthereumToken{{Code: "X"}}},
		"native token": {Chain: "ethereum", ChainID: 1, URLs: []string{e.url}, Tokens: []watcher.EthereumToken{{Code: "ETH", Contract: common.Address{1}}}},
	} {
		if _, err := watcher.NewEthereumSource(ctx, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := e.src.Watch([]string{"0xnot-an-address"}); err == nil {
		t.Error("Watch accepted a malformed address")
	}
	// Failover: the first URL refuses connections; the second is a real node.
	node := gethtest.Start(t)
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: gethtest.ChainID,
		URLs: []string{"http://127.0.0.1:1", node.RPCURL()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Check(ctx); err == nil {
		t.Fatal("Check passed although one node is down: it must verify every node")
	}
	tip, err := src.Tip(ctx)
	if err != nil {
		t.Fatalf("no failover: %v", err)
	}
	if tip.Hash == "" {
		t.Fatal("empty tip")
	}
}

// TestEthereumGethEndToEnd runs the same flow against a real geth --dev node over HTTP
// JSON-RPC: ETH and USDC paid before deployment, an internal payment, settlement after
// 2 confirmations, a sweep to the treasury.
func TestEthereumGethEndToEnd(t *testing.T) {
	t.Parallel()
	node := gethtest.Start(t)
	f := node.DeployFactory(t)
	usdc := node.DeployToken(t, "USD Coin", "USDC", 6)
	exchange := node.Deploy(t, common.FromHex(bindings.TestStipendPayerMetaData.Bin))
	node.MintTokens(t, usdc, node.DevAddress(), big.NewInt(1e12))
	shop := newEVMShop(t, storetest.SQLite(t), f, gethtest.ChainID, usdc)
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: gethtest.ChainID,
		URLs: []string{node.RPCURL()}, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: usdc, Decimals: 6}}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Check(ctx); err != nil {
		t.Fatal(err)
	}
	fw := watcher.NewFollower(shop.st, src, shop.svc, watcher.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	step := func() {
		t.Helper()
		if _, err := fw.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	idA, ethA := shop.invoice(t, "20.00", 2, "ETH")
	idB, usdcB := shop.invoice(t, "7.50", 2, "USDC")
	idC, ethC := shop.invoice(t, "1.00", 2, "ETH")
	a := common.HexToAddress(ethA.Address)
	node.Fund(t, a, ethA.AmountDue)
	node.SendTokens(t, nil, usdc, common.HexToAddress(usdcB.Address), usdcB.AmountDue)
	node.MustSucceed(t, nil, &exchange, ethC.AmountDue, bindings.NewTestStipendPayer().PackPayWithCall(common.HexToAddress(ethC.Address)))
	step()
	node.Mine(t, 1)
	step()
	for _, id := range []string{idA, idB, idC} {
		d := shop.get(t, id)
		if d.Invoice.Status != store.StatusSettled || len(d.Payments) != 1 {
			t.Fatalf("invoice %s: %s with payments %+v", id, d.Invoice.Status, d.Payments)
		}
	}
	if tx := shop.get(t, idC).Payments[0].TxID; !strings.HasPrefix(tx, "balance:") {
		t.Fatalf("internal payment recorded as %s, want a balance: pseudo-transfer", tx)
	}

	gasKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, evmAddr(gasKey), big.NewInt(1e18))
	sw, err := sweeper.New(sweeper.Config{Client: node.Client(), Store: shop.st, Chain: "ethereum", Factory: f, ChainID: gethtest.ChainID,
		Key: gasKey, Tokens: []sweeper.Token{{Code: "USDC", Contract: usdc, Decimals: 6}}, Confirmations: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// geth --dev mines only with transactions: a background payer makes blocks.
	stopMining := mineGeth(t, node)
	res := sweepAll(t, sw, []string{idA, idB, idC})
	stopMining()
	if len(res) != 1 || len(res[0].Addresses) != 3 {
		t.Fatalf("sweeps %+v, want one batch of 3", res)
	}
	t.Logf("geth: sweep of 3 invoices (deploy + ETH + USDC flush each): %d gas, %d per invoice", *res[0].GasUsed, *res[0].GasUsed/3)
	wantWei := new(big.Int).Add(ethA.AmountDue, ethC.AmountDue)
	if got := node.Balance(t, shop.treasury); got.Cmp(wantWei) != 0 {
		t.Fatalf("treasury %s wei, want %s", got, wantWei)
	}
	if got := node.TokenBalance(t, usdc, shop.treasury); got.Cmp(usdcB.AmountDue) != 0 {
		t.Fatalf("treasury %s USDC units, want %s", got, usdcB.AmountDue)
	}
	step()
	for _, id := range []string{idA, idB, idC} {
		if n := len(shop.get(t, id).Payments); n != 1 {
			t.Fatalf("invoice %s has %d payments after the sweep", id, n)
		}
	}
}

// mineGeth makes geth --dev (which seals only when a transaction arrives) produce blocks
// until the returned stop is called.
func mineGeth(t *testing.T, node *gethtest.Node) (stop func()) {
	t.Helper()
	quit, done := make(chan struct{}), make(chan struct{})
	self := node.DevAddress()
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
				_, _ = node.TrySend(nil, &self, nil, nil, 21_000)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// TestEthereumGethFinalizedPolicy: on a real geth --dev node, a chain configured to settle
// on the `finalized` tag keeps a paid invoice processing while its payment's block is
// above the node's finalized block, however deep it is, and settles it at the step that
// sees the finalized block reach it (geth --dev moves finalized in steps of 32 blocks).
// The cursor's final height follows the node's finalized block, capped at the cursor.
func TestEthereumGethFinalizedPolicy(t *testing.T) {
	t.Parallel()
	node := gethtest.Start(t)
	f := node.DeployFactory(t)
	usdc := node.DeployToken(t, "USD Coin", "USDC", 6)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			// Not parallel: the subtests share the node and mine its blocks.
			shop := newEVMShopFinality(t, b.Open(t), f, gethtest.ChainID, usdc, "finalized")
			src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: gethtest.ChainID,
				URLs: []string{node.RPCURL()}, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: usdc, Decimals: 6}},
				Finality: "finalized"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if err := src.Check(ctx); err != nil {
				t.Fatalf("geth --dev serves the finalized tag: %v", err)
			}
			fw := watcher.NewFollower(shop.st, src, shop.svc, watcher.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			step := func() {
				t.Helper()
				if _, err := fw.Step(ctx); err != nil {
					t.Fatal(err)
				}
			}
			finalized := func() int64 {
				t.Helper()
				h, err := node.Client().HeaderByNumber(ctx, big.NewInt(int64(rpcFinalized)))
				if err != nil {
					t.Fatal(err)
				}
				return h.Number.Int64()
			}
			step()
			id, opt := shop.invoice(t, "20.00", 1, "ETH")
			if opt.Confirmations != 1 {
				t.Fatalf("option needs %d confirmations, want 1 (its block final)", opt.Confirmations)
			}
			node.Fund(t, common.HexToAddress(opt.Address), opt.AmountDue)
			step()
			d := shop.get(t, id)
			if len(d.Payments) != 1 || d.Invoice.Status != store.StatusProcessing {
				t.Fatalf("after the payment: %s with %+v", d.Invoice.Status, d.Payments)
			}
			paidAt := *d.Payments[0].BlockHeight
			deepest := int64(0) // the payment's depth while still not final
			for i := 0; ; i++ {
				if i > 200 {
					t.Fatalf("not settled after 200 blocks (finalized %d, payment at %d)", finalized(), paidAt)
				}
				node.Mine(t, 1)
				step()
				d = shop.get(t, id)
				var cur store.Cursor
				if err := shop.st.View(ctx, func(tx store.Tx) (err error) { cur, err = tx.Cursor(ctx, "ethereum"); return }); err != nil {
					t.Fatal(err)
				}
				if cur.Final > cur.Height || cur.Final > finalized() {
					t.Fatalf("cursor final %d above its height %d or the node's finalized %d", cur.Final, cur.Height, finalized())
				}
				if d.Invoice.Status == store.StatusSettled {
					if cur.Final < paidAt {
						t.Fatalf("settled with the final block at %d, below the payment's block %d", cur.Final, paidAt)
					}
					t.Logf("%s: payment at %d settled at tip %d once finalized reached %d; it was %d blocks deep and processing before",
						b.Name, paidAt, cur.Height, cur.Final, deepest)
					break
				}
				if cur.Final >= paidAt {
					t.Fatalf("final block %d reached the payment at %d, invoice still %s", cur.Final, paidAt, d.Invoice.Status)
				}
				deepest = cur.Height - paidAt + 1
			}
			if deepest < 12 {
				t.Fatalf("the payment settled %d blocks deep: the finalized tag, not a 12-block depth, must decide", deepest)
			}
		})
	}
}

// rpcFinalized is the block number go-ethereum's clients read as the "finalized" tag.
const rpcFinalized = -3
