package sweeper_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"go.uber.org/goleak"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/sweeper"
)

var ctx = context.Background()

// fakeQueue is an in-memory Queue.
type fakeQueue struct {
	mu    sync.Mutex
	items []sweeper.Item
	swept map[string]common.Hash
	marks int
}

func newQueue(items ...sweeper.Item) *fakeQueue {
	return &fakeQueue{items: items, swept: map[string]common.Hash{}}
}

func (q *fakeQueue) Pending(_ context.Context, limit int) ([]sweeper.Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []sweeper.Item
	for _, it := range q.items {
		if _, ok := q.swept[it.ID]; !ok && len(out) < limit {
			out = append(out, it)
		}
	}
	return out, nil
}

func (q *fakeQueue) MarkSwept(_ context.Context, ids []string, h common.Hash) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.marks++
	for _, id := range ids {
		q.swept[id] = h
	}
	return nil
}

func (q *fakeQueue) sweptIDs() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for id := range q.swept {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

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
	c.backend = simulated.NewBackend(alloc)
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
	tabi := bindings.NewTestToken()
	v, err := tabi.UnpackBalanceOf(c.call(c.usdc, tabi.PackBalanceOf(a)))
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

func (c *chain) service(t *testing.T, q sweeper.Queue, maxBatch int) *sweeper.Service {
	t.Helper()
	s, err := sweeper.New(sweeper.Config{Client: c.client, Queue: q, Factory: c.factory, ChainID: 1337, Key: c.gasKey,
		MaxBatch: maxBatch, PollInterval: 5 * time.Millisecond, ReceiptTimeout: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *chain) sweep(t *testing.T, s *sweeper.Service) sweeper.Result {
	t.Helper()
	stop := c.mining()
	defer stop()
	res, err := s.SweepOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// gasSpent sums gas × price of the sweeps.
func gasSpent(res sweeper.Result) *big.Int {
	sum := new(big.Int)
	for _, s := range res.Sweeps {
		sum.Add(sum, new(big.Int).Mul(new(big.Int).SetUint64(s.GasUsed), s.GasPrice))
	}
	return sum
}

func TestSweepBatchesToTreasury(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	var items []sweeper.Item
	wantWei, wantUnits := new(big.Int), new(big.Int)
	for i := range 7 {
		id := fmt.Sprintf("inv_sweep_%d", i)
		wei, units := int64(1e15+i), int64(1_000_000*(i+1))
		c.pay(c.deposit(id, c.treasury), wei, units)
		wantWei.Add(wantWei, big.NewInt(wei))
		wantUnits.Add(wantUnits, big.NewInt(units))
		// Two queue items for the same invoice (its ETH and USDC options) are swept once.
		items = append(items, sweeper.Item{ID: "opt_eth_" + id, InvoiceID: id, Destination: c.treasury},
			sweeper.Item{ID: "opt_usdc_" + id, InvoiceID: id, Destination: c.treasury, Tokens: []common.Address{c.usdc}})
	}
	q := newQueue(items...)
	s := c.service(t, q, 3)
	gasBefore := c.balance(s.Address())
	res := c.sweep(t, s)
	if len(res.Sweeps) != 3 || len(res.Failed) != 0 {
		t.Fatalf("7 invoices with MaxBatch 3: %d sweeps, %d failures, want 3 and 0", len(res.Sweeps), len(res.Failed))
	}
	if got := c.balance(c.treasury); got.Cmp(wantWei) != 0 {
		t.Fatalf("treasury ETH %s, want %s", got, wantWei)
	}
	if got := c.tokenBalance(c.treasury); got.Cmp(wantUnits) != 0 {
		t.Fatalf("treasury USDC %s, want %s", got, wantUnits)
	}
	if got := len(q.sweptIDs()); got != len(items) {
		t.Fatalf("%d items marked swept, want %d", got, len(items))
	}
	if got, want := c.balance(s.Address()), new(big.Int).Sub(gasBefore, gasSpent(res)); got.Cmp(want) != 0 {
		t.Fatalf("sweeper balance %s, want %s (it only pays gas)", got, want)
	}
	for _, sw := range res.Sweeps {
		t.Logf("sweep of %d invoices (deploy + ETH + USDC each): %d gas, %d per invoice", len(sw.InvoiceIDs), sw.GasUsed, sw.GasUsed/uint64(len(sw.InvoiceIDs)))
	}
	// Nothing pending: the next round sends nothing.
	if res := c.sweep(t, s); len(res.Sweeps) != 0 {
		t.Fatalf("second round swept %d batches", len(res.Sweeps))
	}
}

// TestSweeperCannotRedirectFunds: whatever destination the sweeper is handed (an
// attacker's, its own gas account's), it computes other addresses and moves nothing; the
// funds stay at the deposit address until swept to the treasury it was derived for, and
// only the treasury's balance grows.
func TestSweeperCannotRedirectFunds(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	id := "inv_redirect"
	dep := c.deposit(id, c.treasury)
	c.pay(dep, 5e17, 42_000_000)
	q := newQueue()
	s := c.service(t, q, 0)
	for _, wrong := range []common.Address{c.attacker, s.Address(), addrOf(c.payer)} {
		if c.deposit(id, wrong) == dep {
			t.Fatalf("destination %s derives the same deposit address", wrong)
		}
		before := map[common.Address]*big.Int{wrong: c.balance(wrong), c.treasury: c.balance(c.treasury)}
		beforeUnits := c.tokenBalance(wrong)
		q.items = append(q.items, sweeper.Item{ID: "item_" + wrong.Hex(), InvoiceID: id, Destination: wrong, Tokens: []common.Address{c.usdc}})
		res := c.sweep(t, s)
		if len(res.Sweeps) != 1 {
			t.Fatalf("sweep to %s: %+v", wrong, res)
		}
		spent := new(big.Int)
		if wrong == s.Address() {
			spent = gasSpent(res)
		}
		if got, want := c.balance(wrong), new(big.Int).Sub(before[wrong], spent); got.Cmp(want) != 0 {
			t.Fatalf("%s balance %s after a sweep naming it, want %s", wrong, got, want)
		}
		if got := c.tokenBalance(wrong); got.Cmp(beforeUnits) != 0 {
			t.Fatalf("%s token balance %s, want %s", wrong, got, beforeUnits)
		}
		if c.balance(c.treasury).Cmp(before[c.treasury]) != 0 || c.balance(dep).Cmp(big.NewInt(5e17)) != 0 || c.tokenBalance(dep).Cmp(big.NewInt(42_000_000)) != 0 {
			t.Fatal("funds left the deposit address")
		}
	}
	// The right destination sweeps exactly the deposit to the treasury.
	q.items = append(q.items, sweeper.Item{ID: "item_ok", InvoiceID: id, Destination: c.treasury, Tokens: []common.Address{c.usdc}})
	c.sweep(t, s)
	if c.balance(c.treasury).Cmp(big.NewInt(5e17)) != 0 || c.tokenBalance(c.treasury).Cmp(big.NewInt(42_000_000)) != 0 {
		t.Fatalf("treasury got %s wei, %s units", c.balance(c.treasury), c.tokenBalance(c.treasury))
	}
	if c.balance(dep).Sign() != 0 || c.tokenBalance(dep).Sign() != 0 {
		t.Fatal("deposit address not emptied")
	}
}

// TestRevertingInvoiceIsSplitOut: a destination that refuses ETH (a contract without
// receive) makes the flush of an invoice holding ETH revert; the batch is split, the other
// invoices are swept and the bad one is reported and skipped.
func TestRevertingInvoiceIsSplitOut(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	refuser := c.usdc // the token contract has no receive function
	ids := []string{"inv_r0", "inv_r1", "inv_bad", "inv_r3"}
	var items []sweeper.Item
	for _, id := range ids {
		if id == "inv_bad" {
			c.pay(c.deposit(id, refuser), 1e15, 0)
		} else {
			c.pay(c.deposit(id, refuser), 0, 1_000_000)
		}
		items = append(items, sweeper.Item{ID: id, InvoiceID: id, Destination: refuser, Tokens: []common.Address{c.usdc}})
	}
	q := newQueue(items...)
	s := c.service(t, q, 0)
	res := c.sweep(t, s)
	if len(res.Failed) != 1 || res.Failed[0].InvoiceID != "inv_bad" || !errors.Is(res.Failed[0].Err, sweeper.ErrReverted) {
		t.Fatalf("failures %+v, want inv_bad reverting", res.Failed)
	}
	if got, want := q.sweptIDs(), []string{"inv_r0", "inv_r1", "inv_r3"}; !slices.Equal(got, want) {
		t.Fatalf("swept %v, want %v", got, want)
	}
	if got := c.tokenBalance(refuser); got.Cmp(big.NewInt(3_000_000)) != 0 {
		t.Fatalf("destination got %s units, want 3000000", got)
	}
	// Within RetryAfter the failed invoice is not attempted again.
	if res := c.sweep(t, s); len(res.Sweeps) != 0 || len(res.Failed) != 0 {
		t.Fatalf("second round %+v, want nothing", res)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	good := sweeper.Config{Client: c.client, Queue: newQueue(), Factory: c.factory, ChainID: 1337, Key: c.gasKey}
	for name, mut := range map[string]func(*sweeper.Config){
		"no client":    func(cfg *sweeper.Config) { cfg.Client = nil },
		"no queue":     func(cfg *sweeper.Config) { cfg.Queue = nil },
		"no factory":   func(cfg *sweeper.Config) { cfg.Factory = nil },
		"no chain id":  func(cfg *sweeper.Config) { cfg.ChainID = 0 },
		"no key":       func(cfg *sweeper.Config) { cfg.Key = nil },
		"negative":     func(cfg *sweeper.Config) { cfg.MaxBatch = -1 },
		"zero max fee": func(cfg *sweeper.Config) { cfg.MaxFeePerGas = new(big.Int) },
	} {
		cfg := good
		mut(&cfg)
		if _, err := sweeper.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := sweeper.New(good); err != nil {
		t.Fatal(err)
	}
	// A zero destination is an error naming the item, not a panic.
	s := c.service(t, newQueue(sweeper.Item{ID: "x", InvoiceID: "inv_x"}), 0)
	if _, err := s.SweepOnce(ctx); !errors.Is(err, ethereum.ErrZeroAddress) {
		t.Fatalf("zero destination: %v", err)
	}
}

func TestStartStop(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	// Runs last, after the backend closed. go-ethereum leaves a process-wide sender cache
	// and a leveldb pool drainer behind by design; they are not the Service's.
	t.Cleanup(func() {
		goleak.VerifyNone(t, ignore,
			goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
			goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
	})
	c := newChain(t)
	id := "inv_loop"
	c.pay(c.deposit(id, c.treasury), 1e15, 0)
	q := newQueue(sweeper.Item{ID: id, InvoiceID: id, Destination: c.treasury})
	s, err := sweeper.New(sweeper.Config{Client: c.client, Queue: q, Factory: c.factory, ChainID: 1337, Key: c.gasKey,
		Interval: 10 * time.Millisecond, PollInterval: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stop := c.mining()
	s.Start(ctx)
	s.Start(ctx) // no-op
	deadline := time.After(20 * time.Second)
	for len(q.sweptIDs()) == 0 {
		select {
		case <-deadline:
			t.Fatal("loop did not sweep")
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.Stop()
	s.Stop()
	stop()
	if c.balance(c.treasury).Cmp(big.NewInt(1e15)) != 0 {
		t.Fatal("treasury not paid by the loop")
	}
}
