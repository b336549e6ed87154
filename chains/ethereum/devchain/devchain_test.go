package devchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"go.uber.org/goleak"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
)

// TestMain fails the run when goroutines outlive the tests. goleveldb's
// mpoolDrain (the in-memory node database of every go-ethereum node) lingers
// for up to one second after Close, so leaks are looked for until a deadline
// rather than once.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := goleak.Find(
				// Started once per process by go-ethereum's core package, never stopped.
				goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
			)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
				code = 1
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	os.Exit(code)
}

// waitFor bounds the conditions the tests wait for; it is not a performance
// assertion, only a guard against hanging.
const waitFor = 20 * time.Second

func start(t *testing.T, cfg Config) *Chain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}

func dial(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	cl, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

func randomAddress(t *testing.T) common.Address {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

func TestRPCAndBlockTimer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := start(t, Config{BlockEvery: 20 * time.Millisecond})
	if !strings.HasPrefix(c.RPCURL(), "http://127.0.0.1:") {
		t.Fatalf("RPCURL = %s, want http://127.0.0.1:<port>", c.RPCURL())
	}
	for _, url := range []string{c.RPCURL(), c.WSURL()} {
		cl := dial(t, url)
		id, err := cl.ChainID(ctx)
		if err != nil {
			t.Fatalf("%s: chain id: %v", url, err)
		}
		if id.Uint64() != 1337 || c.ChainID() != 1337 {
			t.Fatalf("%s: chain id %s (ChainID() %d), want 1337", url, id, c.ChainID())
		}
	}
	cl := dial(t, c.RPCURL())
	first, err := cl.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The timer produces blocks with nobody calling Commit.
	deadline := time.Now().Add(waitFor)
	for {
		n, err := cl.BlockNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n >= first+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("block number stuck at %d (started at %d) with a 20 ms timer", n, first)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPayETHAndTokenToDepositAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := start(t, Config{BlockEvery: time.Hour}) // only the payments seal blocks
	cl := dial(t, c.RPCURL())

	treasury := randomAddress(t)
	dep, err := c.Factory().DepositAddress("inv_devchain_test", treasury)
	if err != nil {
		t.Fatal(err)
	}
	// The chain's factory predicts the same address: Factory() describes it.
	fabi := bindings.NewForwarderFactory()
	key, err := ethereum.InvoiceKey("inv_devchain_test")
	if err != nil {
		t.Fatal(err)
	}
	fa := c.Factory().Address()
	out, err := cl.CallContract(ctx, geth.CallMsg{To: &fa, Data: fabi.PackPredict(key, treasury)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if predicted, err := fabi.UnpackPredict(out); err != nil || predicted != dep {
		t.Fatalf("factory.predict = %s (%v), Factory().DepositAddress = %s", predicted.Hex(), err, dep.Hex())
	}

	tabi := bindings.NewTestToken()
	usdc := c.USDC()
	out, err = cl.CallContract(ctx, geth.CallMsg{To: &usdc, Data: tabi.PackDecimals()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := tabi.UnpackDecimals(out); err != nil || d != USDCDecimals {
		t.Fatalf("USDC decimals = %d (%v), want 6", d, err)
	}
	tokenBalance := func(a common.Address) *big.Int {
		t.Helper()
		out, err := cl.CallContract(ctx, geth.CallMsg{To: &usdc, Data: tabi.PackBalanceOf(a)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tabi.UnpackBalanceOf(out)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	payerUSDC := tokenBalance(c.Payer())
	if want := new(big.Int).Mul(big.NewInt(1e9), big.NewInt(1e6)); payerUSDC.Cmp(want) != 0 {
		t.Fatalf("payer USDC = %s, want %s", payerUSDC, want)
	}

	before, err := cl.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	half := new(big.Int).Div(ether(1), big.NewInt(2))
	txETH, err := c.PayETH(ctx, dep, half)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cl.TransactionReceipt(ctx, txETH)
	if err != nil {
		t.Fatalf("receipt of PayETH over RPC: %v", err)
	}
	if r.Status != types.ReceiptStatusSuccessful || r.BlockNumber.Uint64() != before+1 {
		t.Fatalf("PayETH receipt status %d block %s, want success in block %d", r.Status, r.BlockNumber, before+1)
	}
	if got, err := cl.BalanceAt(ctx, dep, nil); err != nil || got.Cmp(half) != 0 {
		t.Fatalf("deposit address ETH = %s (%v), want %s", got, err, half)
	}

	units := big.NewInt(25_000_000) // 25 USDC
	txUSDC, err := c.PayToken(ctx, usdc, dep, units)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := cl.TransactionReceipt(ctx, txUSDC); err != nil || r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		t.Fatalf("PayToken receipt %+v (%v), want success with one Transfer log", r, err)
	}
	if got := tokenBalance(dep); got.Cmp(units) != 0 {
		t.Fatalf("deposit address USDC = %s, want %s", got, units)
	}
	if got := tokenBalance(c.Payer()); new(big.Int).Sub(payerUSDC, got).Cmp(units) != 0 {
		t.Fatalf("payer USDC %s -> %s, want a decrease of %s", payerUSDC, got, units)
	}
	// The helpers read the same balances.
	if got, err := c.BalanceAt(ctx, dep); err != nil || got.Cmp(half) != 0 {
		t.Fatalf("BalanceAt = %s (%v), want %s", got, err, half)
	}
	if got, err := c.TokenBalanceAt(ctx, usdc, dep); err != nil || got.Cmp(units) != 0 {
		t.Fatalf("TokenBalanceAt = %s (%v), want %s", got, err, units)
	}
	// The sweeper holds ETH for gas.
	if got, err := cl.BalanceAt(ctx, crypto.PubkeyToAddress(c.SweeperKey().PublicKey), nil); err != nil || got.Cmp(ether(1_000_000)) != 0 {
		t.Fatalf("sweeper ETH = %s (%v), want 1000000 ETH", got, err)
	}
}

// TestAddressesAreFixed: two chains, and a chain started again after Stop,
// have the same accounts and contracts; the pinned values are in doc.go.
func TestAddressesAreFixed(t *testing.T) {
	t.Parallel()
	type addrs struct{ deployer, payer, sweeper, factory, usdc common.Address }
	get := func(c *Chain) addrs {
		return addrs{c.Deployer(), c.Payer(), crypto.PubkeyToAddress(c.SweeperKey().PublicKey), c.Factory().Address(), c.USDC()}
	}
	a := start(t, Config{BlockEvery: time.Hour})
	b := start(t, Config{BlockEvery: time.Hour})
	if get(a) != get(b) {
		t.Fatalf("two chains differ: %+v vs %+v", get(a), get(b))
	}
	if a.Factory().InitCodeHash() != b.Factory().InitCodeHash() {
		t.Fatal("two chains have different forwarder implementations")
	}
	want := addrs{
		deployer: common.HexToAddress(pinnedDeployer),
		payer:    common.HexToAddress(pinnedPayer),
		sweeper:  common.HexToAddress(pinnedSweeper),
		factory:  common.HexToAddress(pinnedFactory),
		usdc:     common.HexToAddress(pinnedUSDC),
	}
	if got := get(a); got != want {
		t.Fatalf("addresses changed:\n got  %s\n want %s", show(got.deployer, got.payer, got.sweeper, got.factory, got.usdc),
			show(want.deployer, want.payer, want.sweeper, want.factory, want.usdc))
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	again := start(t, Config{BlockEvery: time.Hour})
	if get(again) != want {
		t.Fatalf("restarted chain differs: %+v", get(again))
	}
}

// Pinned addresses, also listed in doc.go.
const (
	pinnedDeployer = "0x73b0bD7E7e7f5ea52AF414EC50168c3094A42392"
	pinnedPayer    = "0x7C388c98474B7B8e1a6319D36ACee93Cb51181AC"
	pinnedSweeper  = "0x71e3Bdf31F76f737A0A43Ab325Ff4CeF3704f27e"
	pinnedFactory  = "0xB0154a3397d75344D1F74230C7dd76dC7215e656"
	pinnedUSDC     = "0xdE5F3887f0441c4649F21c38E8d9Cd0e04E2bef4"
)

func show(as ...common.Address) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s ", a.Hex())
	}
	return b.String()
}

// TestConcurrentUse drives the chain from many goroutines at once under the
// race detector: the block timer, Commit, PayETH from the chain's payer, and a
// wallet sending raw transactions from the sweeper key over HTTP.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c := start(t, Config{BlockEvery: 5 * time.Millisecond})
	cl := dial(t, c.RPCURL())

	const payers, walletTxs, commits = 6, 4, 20
	dests := make([]common.Address, payers)
	for i := range dests {
		dests[i] = randomAddress(t)
	}
	walletDest := randomAddress(t)
	var wg sync.WaitGroup
	errs := make(chan error, payers+walletTxs+1)
	for i := range payers {
		wg.Go(func() {
			if _, err := c.PayETH(ctx, dests[i], big.NewInt(int64(1000+i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Go(func() {
		for range commits {
			c.Commit()
		}
	})
	wg.Go(func() {
		// A wallet: its own nonces, fees from the node, waits for receipts.
		key := c.SweeperKey()
		from := crypto.PubkeyToAddress(key.PublicKey)
		signer := types.LatestSignerForChainID(big.NewInt(1337))
		for range walletTxs {
			nonce, err := cl.PendingNonceAt(ctx, from)
			if err != nil {
				errs <- err
				return
			}
			tip, err := cl.SuggestGasTipCap(ctx)
			if err != nil {
				errs <- err
				return
			}
			head, err := cl.HeaderByNumber(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: nonce,
				GasTipCap: tip, GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
				Gas: 21_000, To: &walletDest, Value: big.NewInt(7)})
			if err != nil {
				errs <- err
				return
			}
			if err := cl.SendTransaction(ctx, tx); err != nil {
				errs <- fmt.Errorf("wallet send: %w", err)
				return
			}
			for {
				r, err := cl.TransactionReceipt(ctx, tx.Hash())
				if err == nil {
					if r.Status != types.ReceiptStatusSuccessful {
						errs <- fmt.Errorf("wallet tx %s reverted", tx.Hash())
					}
					break
				}
				if ctx.Err() != nil {
					errs <- fmt.Errorf("wallet tx %s: no receipt: %w", tx.Hash(), err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, d := range dests {
		if got, err := cl.BalanceAt(ctx, d, nil); err != nil || got.Int64() != int64(1000+i) {
			t.Errorf("dest %d balance = %v (%v), want %d", i, got, err, 1000+i)
		}
	}
	if got, err := cl.BalanceAt(ctx, walletDest, nil); err != nil || got.Int64() != 7*walletTxs {
		t.Errorf("wallet destination balance = %v (%v), want %d", got, err, 7*walletTxs)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests
	busyAddr := busy.Addr().String()
	tests := []struct {
		name string
		cfg  Config
		want string
		is   error
	}{
		{"port in use", Config{Listen: busyAddr}, busyAddr, ErrPortInUse},
		{"no port", Config{Listen: "127.0.0.1"}, "want host:port", nil},
		{"empty host", Config{Listen: ":8545"}, "empty host", nil},
		{"bad port", Config{Listen: "127.0.0.1:http"}, "not a number", nil},
		{"port too big", Config{Listen: "127.0.0.1:70000"}, "not a number in 0-65535", nil},
		{"negative interval", Config{BlockEvery: -time.Second}, "must not be negative", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Start(context.Background(), tc.cfg)
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestFixedListenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c := start(t, Config{Listen: "127.0.0.1:" + strconv.Itoa(port), BlockEvery: time.Hour})
	if want := "http://127.0.0.1:" + strconv.Itoa(port); c.RPCURL() != want {
		t.Fatalf("RPCURL = %s, want %s", c.RPCURL(), want)
	}
	if _, err := dial(t, c.RPCURL()).ChainID(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPayErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := start(t, Config{BlockEvery: time.Hour})
	to := randomAddress(t)
	tooMuch := new(big.Int).Mul(big.NewInt(2e9), big.NewInt(1e6)) // 2 billion USDC; the payer has 1 billion
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"eth zero", func() error { _, err := c.PayETH(ctx, to, new(big.Int)); return err }, "must be positive"},
		{"eth negative", func() error { _, err := c.PayETH(ctx, to, big.NewInt(-1)); return err }, "must be positive"},
		{"eth nil", func() error { _, err := c.PayETH(ctx, to, nil); return err }, "must be positive"},
		{"eth zero address", func() error { _, err := c.PayETH(ctx, common.Address{}, big.NewInt(1)); return err }, "zero address"},
		{"token zero", func() error { _, err := c.PayToken(ctx, c.USDC(), to, new(big.Int)); return err }, "must be positive"},
		{"token zero token", func() error { _, err := c.PayToken(ctx, common.Address{}, to, big.NewInt(1)); return err }, "token: zero address"},
		{"token zero recipient", func() error { _, err := c.PayToken(ctx, c.USDC(), common.Address{}, big.NewInt(1)); return err }, "recipient: zero address"},
		{"token not a contract", func() error { _, err := c.PayToken(ctx, to, to, big.NewInt(1)); return err }, "no contract at"},
		{"token more than balance", func() error { _, err := c.PayToken(ctx, c.USDC(), to, tooMuch); return err }, "revert"},
		{"eth more than balance", func() error { _, err := c.PayETH(ctx, to, ether(2_000_000)); return err }, "insufficient funds"},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if got, err := c.BalanceAt(ctx, to); err != nil || got.Sign() != 0 {
		t.Fatalf("recipient balance after rejected payments = %s (%v), want 0", got, err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := Start(ctx, Config{BlockEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url := c.RPCURL()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if h := c.Commit(); h != (common.Hash{}) {
		t.Fatalf("Commit after Stop = %s, want the zero hash", h.Hex())
	}
	if _, err := c.PayETH(ctx, randomAddress(t), big.NewInt(1)); !errors.Is(err, ErrStopped) {
		t.Fatalf("PayETH after Stop: err = %v, want ErrStopped", err)
	}
	cl, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := cl.ChainID(cctx); err == nil {
		t.Fatal("JSON-RPC answered after Stop")
	}
	// The port is free again: a new chain can take it.
	again := start(t, Config{Listen: strings.TrimPrefix(url, "http://"), BlockEvery: time.Hour})
	if again.RPCURL() != url {
		t.Fatalf("restart on %s got %s", url, again.RPCURL())
	}
}

// TestChainOutlivesStartContext: the context given to Start bounds only the
// start; the timer keeps sealing blocks after it ends, until Stop.
func TestChainOutlivesStartContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := Start(ctx, Config{BlockEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cancel()
	cl := dial(t, c.RPCURL())
	first, err := cl.BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for {
		n, err := cl.BlockNumber(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n >= first+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no blocks after the Start context ended (stuck at %d)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("block timer still running after Stop returned")
	}
}

// TestTwoChainsWithOwnIDs: two dev chains with different chain ids run side by side, each
// serving its own id and signing with it, and — the deployer's nonces being the same —
// with the factory, its forwarder implementation and USDC at the same addresses, so an
// invoice's deposit address is the same on both.
func TestTwoChainsWithOwnIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := start(t, Config{BlockEvery: time.Hour})
	b := start(t, Config{BlockEvery: time.Hour, ChainID: 84532})
	for _, c := range []struct {
		chain *Chain
		want  uint64
	}{{a, 1337}, {b, 84532}} {
		id, err := dial(t, c.chain.RPCURL()).ChainID(ctx)
		if err != nil || id.Uint64() != c.want || c.chain.ChainID() != c.want {
			t.Fatalf("chain id %v (%v), ChainID() %d, want %d", id, err, c.chain.ChainID(), c.want)
		}
	}
	if a.Factory().Address() != b.Factory().Address() || a.Factory().InitCodeHash() != b.Factory().InitCodeHash() || a.USDC() != b.USDC() {
		t.Fatalf("contracts differ: factory %s/%s, USDC %s/%s", a.Factory().Address().Hex(), b.Factory().Address().Hex(), a.USDC().Hex(), b.USDC().Hex())
	}
	treasury := randomAddress(t)
	da, _ := a.Factory().DepositAddress("inv_two_chains", treasury)
	db, _ := b.Factory().DepositAddress("inv_two_chains", treasury)
	if da != db {
		t.Fatalf("deposit addresses differ: %s, %s", da.Hex(), db.Hex())
	}
	// A payment on b lands on b only.
	if _, err := b.PayETH(ctx, db, ether(1)); err != nil {
		t.Fatal(err)
	}
	if bal, _ := b.BalanceAt(ctx, db); bal.Cmp(ether(1)) != 0 {
		t.Fatalf("balance on b: %s", bal)
	}
	if bal, _ := a.BalanceAt(ctx, da); bal.Sign() != 0 {
		t.Fatalf("balance on a: %s", bal)
	}
	// A transaction signed for a's chain id is refused by b (EIP-155 replay protection).
	cl := dial(t, b.RPCURL())
	nonce, err := cl.PendingNonceAt(ctx, a.Payer())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := types.SignNewTx(a.PayerKey(), types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(1e11), Gas: 21000, To: &db, Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.SendTransaction(ctx, tx); err == nil {
		t.Fatal("b accepted a transaction signed for chain id 1337")
	}
}
