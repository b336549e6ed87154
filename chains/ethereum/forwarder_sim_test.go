package ethereum_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
)

// chain is one in-process simulated chain with the forwarder contracts deployed.
type chain struct {
	t        *testing.T
	backend  *simulated.Backend
	client   simulated.Client
	chainID  *big.Int
	deployer *ecdsa.PrivateKey
	payer    *ecdsa.PrivateKey // a customer
	sweeper  *ecdsa.PrivateKey // pays gas for sweeps only
	attacker *ecdsa.PrivateKey

	treasury common.Address // merchant destination: an EOA that never sends a transaction
	factory  *ethereum.Factory
	impl     common.Address
	usdc     common.Address // 6 decimals, returns bool
	usdt     common.Address // 6 decimals, returns nothing from transfer

	factoryABI   *bindings.ForwarderFactory
	forwarderABI *bindings.Forwarder
	tokenABI     *bindings.TestToken
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

func addr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

// forkOsaka returns a simulated-backend option that stops the chain at Osaka, the
// fork Ethereum mainnet runs, instead of the default dev config that also enables
// unreleased forks with different gas prices (state-creation pricing).
func forkOsaka() func(*node.Config, *ethconfig.Config) {
	return func(_ *node.Config, ec *ethconfig.Config) {
		cfg := *ec.Genesis.Config
		cfg.AmsterdamTime, cfg.BogotaTime, cfg.UBTTime = nil, nil, nil
		ec.Genesis.Config = &cfg
	}
}

// setup starts a simulated chain, funds the actors and deploys the factory and two 6-decimal tokens.
func setup(t *testing.T, opts ...func(*node.Config, *ethconfig.Config)) *chain {
	t.Helper()
	c := &chain{
		t:            t,
		deployer:     newKey(t),
		payer:        newKey(t),
		sweeper:      newKey(t),
		attacker:     newKey(t),
		treasury:     addr(newKey(t)),
		factoryABI:   bindings.NewForwarderFactory(),
		forwarderABI: bindings.NewForwarder(),
		tokenABI:     bindings.NewTestToken(),
	}
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{c.deployer, c.payer, c.sweeper, c.attacker} {
		alloc[addr(k)] = types.Account{Balance: ether(1_000_000)}
	}
	c.backend = simulated.NewBackend(alloc, opts...)
	t.Cleanup(func() { _ = c.backend.Close() })
	c.client = c.backend.Client()
	id, err := c.client.ChainID(context.Background())
	if err != nil {
		t.Fatalf("chain id: %v", err)
	}
	c.chainID = id

	factoryAddr := c.deploy(bindings.ForwarderFactoryMetaData.Bin, nil)
	c.impl = unpack(t, c.call(factoryAddr, c.factoryABI.PackImplementation()), c.factoryABI.UnpackImplementation)
	c.factory, err = ethereum.NewFactory(factoryAddr, c.impl)
	if err != nil {
		t.Fatalf("new factory: %v", err)
	}
	c.usdc = c.deploy(bindings.TestTokenMetaData.Bin, c.tokenABI.PackConstructor("USD Coin", "USDC", 6, false))
	c.usdt = c.deploy(bindings.TestTokenMetaData.Bin, c.tokenABI.PackConstructor("Tether USD", "USDT", 6, true))
	for _, tok := range []common.Address{c.usdc, c.usdt} {
		if d := unpack(t, c.call(tok, c.tokenABI.PackDecimals()), c.tokenABI.UnpackDecimals); d != 6 {
			t.Fatalf("token %s decimals = %d, want 6", tok, d)
		}
		c.mustSend(c.payer, tok, nil, c.tokenABI.PackMint(addr(c.payer), big.NewInt(1e15)))
	}
	return c
}

func unpack[T any](t *testing.T, data []byte, fn func([]byte) (T, error)) T {
	t.Helper()
	v, err := fn(data)
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return v
}

func (c *chain) deploy(binHex string, ctorArgs []byte) common.Address {
	c.t.Helper()
	opts := bind.NewKeyedTransactor(c.deployer, c.chainID)
	a, tx, err := bind.DeployContract(opts, common.FromHex(binHex), c.client, ctorArgs)
	if err != nil {
		c.t.Fatalf("deploy: %v", err)
	}
	c.backend.Commit()
	if r := c.receipt(tx); r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("deploy reverted")
	}
	return a
}

// send signs, sends and mines one transaction. gas 0 means estimate (which fails on a revert).
func (c *chain) send(from *ecdsa.PrivateKey, to common.Address, value *big.Int, data []byte, gas uint64) (*types.Receipt, error) {
	c.t.Helper()
	ctx := context.Background()
	if value == nil {
		value = new(big.Int)
	}
	nonce, err := c.client.PendingNonceAt(ctx, addr(from))
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	if gas == 0 {
		gas, err = c.client.EstimateGas(ctx, geth.CallMsg{From: addr(from), To: &to, Value: value, Data: data})
		if err != nil {
			return nil, fmt.Errorf("estimate gas: %w", err)
		}
	}
	tx, err := types.SignNewTx(from, types.LatestSignerForChainID(c.chainID), &types.DynamicFeeTx{
		ChainID:   c.chainID,
		Nonce:     nonce,
		GasTipCap: big.NewInt(1e9),
		GasFeeCap: big.NewInt(100e9),
		Gas:       gas,
		To:        &to,
		Value:     value,
		Data:      data,
	})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	c.backend.Commit()
	return c.receipt(tx), nil
}

func (c *chain) mustSend(from *ecdsa.PrivateKey, to common.Address, value *big.Int, data []byte) *types.Receipt {
	c.t.Helper()
	r, err := c.send(from, to, value, data, 0)
	if err != nil {
		c.t.Fatalf("transaction to %s: %v", to, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("transaction to %s reverted", to)
	}
	return r
}

// mustRevert sends with a fixed gas limit so that the transaction is mined, and checks it reverted.
func (c *chain) mustRevert(from *ecdsa.PrivateKey, to common.Address, value *big.Int, data []byte) {
	c.t.Helper()
	r, err := c.send(from, to, value, data, 1_000_000)
	if err != nil {
		c.t.Fatalf("transaction to %s: %v", to, err)
	}
	if r.Status != types.ReceiptStatusFailed {
		c.t.Fatalf("transaction to %s succeeded, want a revert", to)
	}
}

func (c *chain) receipt(tx *types.Transaction) *types.Receipt {
	c.t.Helper()
	r, err := c.client.TransactionReceipt(context.Background(), tx.Hash())
	if err != nil {
		c.t.Fatalf("receipt %s: %v", tx.Hash(), err)
	}
	return r
}

func (c *chain) call(to common.Address, data []byte) []byte {
	c.t.Helper()
	out, err := c.tryCall(common.Address{}, to, data)
	if err != nil {
		c.t.Fatalf("call %s: %v", to, err)
	}
	return out
}

func (c *chain) tryCall(from, to common.Address, data []byte) ([]byte, error) {
	return c.client.CallContract(context.Background(), geth.CallMsg{From: from, To: &to, Data: data}, nil)
}

// revertSelector returns the 4-byte custom error selector a failed call reverted with.
func revertSelector(t *testing.T, err error) [4]byte {
	t.Helper()
	var de rpc.DataError
	if !errors.As(err, &de) {
		t.Fatalf("error %v carries no revert data", err)
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		t.Fatalf("revert data %T is not a hex string", de.ErrorData())
	}
	b, derr := hexutil.Decode(s)
	if derr != nil || len(b) < 4 {
		t.Fatalf("revert data %q: %v", s, derr)
	}
	return [4]byte(b[:4])
}

func (c *chain) expectCallError(from, to common.Address, data []byte, want common.Hash, name string) {
	c.t.Helper()
	_, err := c.tryCall(from, to, data)
	if err == nil {
		c.t.Fatalf("call to %s succeeded, want %s", to, name)
	}
	if got := revertSelector(c.t, err); got != [4]byte(want[:4]) {
		c.t.Fatalf("call to %s reverted with %x, want %s (%x)", to, got, name, want[:4])
	}
}

func (c *chain) balance(a common.Address) *big.Int {
	c.t.Helper()
	b, err := c.client.BalanceAt(context.Background(), a, nil)
	if err != nil {
		c.t.Fatalf("balance %s: %v", a, err)
	}
	return b
}

func (c *chain) tokenBalance(token, a common.Address) *big.Int {
	c.t.Helper()
	return unpack(c.t, c.call(token, c.tokenABI.PackBalanceOf(a)), c.tokenABI.UnpackBalanceOf)
}

func (c *chain) hasCode(a common.Address) bool {
	c.t.Helper()
	code, err := c.client.CodeAt(context.Background(), a, nil)
	if err != nil {
		c.t.Fatalf("code %s: %v", a, err)
	}
	return len(code) > 0
}

func (c *chain) depositAddress(id string, dest common.Address) common.Address {
	c.t.Helper()
	a, err := c.factory.DepositAddress(id, dest)
	if err != nil {
		c.t.Fatalf("deposit address %q: %v", id, err)
	}
	return a
}

func invoiceKey(t *testing.T, id string) [32]byte {
	t.Helper()
	k, err := ethereum.InvoiceKey(id)
	if err != nil {
		t.Fatalf("invoice key %q: %v", id, err)
	}
	return k
}

// pay sends wei and units of each token (nil to skip) from the payer to a.
func (c *chain) pay(a common.Address, wei *big.Int, units map[common.Address]*big.Int) {
	c.t.Helper()
	if wei != nil {
		c.mustSend(c.payer, a, wei, nil)
	}
	for tok, n := range units {
		c.mustSend(c.payer, tok, nil, c.tokenABI.PackTransfer(a, n))
	}
}

// sweep sends ForwarderFactory.deployAndFlush from the sweeper key.
func (c *chain) sweep(ids []string, dest common.Address, tokens []common.Address) *types.Receipt {
	c.t.Helper()
	data, err := ethereum.DeployAndFlushCalldata(ids, dest, tokens)
	if err != nil {
		c.t.Fatalf("calldata: %v", err)
	}
	return c.mustSend(c.sweeper, c.factory.Address(), nil, data)
}

func TestPredictMatchesFactory(t *testing.T) {
	t.Parallel()
	c := setup(t)
	onChainHash := unpack(t, c.call(c.factory.Address(), c.factoryABI.PackInitCodeHash()), c.factoryABI.UnpackInitCodeHash)
	if common.Hash(onChainHash) != c.factory.InitCodeHash() {
		t.Fatalf("factory initCodeHash %x, Go computes %x", onChainHash, c.factory.InitCodeHash())
	}
	dests := []common.Address{c.treasury, addr(c.attacker), common.HexToAddress("0x00000000000000000000000000000000000000ff")}
	for _, id := range []string{"inv_01", "inv_02", "inv_01JD3QZ8K4M9X", "ünïcødé", strings.Repeat("x", ethereum.MaxInvoiceIDLen)} {
		for _, dest := range dests {
			key := invoiceKey(t, id)
			gotSalt := unpack(t, c.call(c.factory.Address(), c.factoryABI.PackSalt(key, dest)), c.factoryABI.UnpackSalt)
			if common.Hash(gotSalt) != ethereum.Salt(key, dest) {
				t.Errorf("salt(%q, %s): contract %x, Go %x", id, dest, gotSalt, ethereum.Salt(key, dest))
			}
			onChain := unpack(t, c.call(c.factory.Address(), c.factoryABI.PackPredict(key, dest)), c.factoryABI.UnpackPredict)
			if got := c.depositAddress(id, dest); got != onChain {
				t.Errorf("DepositAddress(%q, %s) = %s, factory.predict = %s", id, dest, got, onChain)
			}
		}
	}
	// The deployed clone lands exactly at the predicted address.
	want := c.depositAddress("inv_deployed", c.treasury)
	r := c.mustSend(c.sweeper, c.factory.Address(), nil, c.factoryABI.PackDeploy(invoiceKey(t, "inv_deployed"), c.treasury))
	ev := deployedEvents(t, c, r)
	if len(ev) != 1 || ev[0].Forwarder != want || ev[0].Destination != c.treasury {
		t.Fatalf("ForwarderDeployed events %+v, want one for %s", ev, want)
	}
	if !c.hasCode(want) {
		t.Fatalf("no code at predicted address %s after deploy", want)
	}
	if got := unpack(t, c.call(want, c.forwarderABI.PackDestination()), c.forwarderABI.UnpackDestination); got != c.treasury {
		t.Fatalf("forwarder destination %s, want treasury %s", got, c.treasury)
	}
}

func deployedEvents(t *testing.T, c *chain, r *types.Receipt) []*bindings.ForwarderFactoryForwarderDeployed {
	t.Helper()
	var out []*bindings.ForwarderFactoryForwarderDeployed
	for _, l := range r.Logs {
		if l.Address != c.factory.Address() {
			continue
		}
		ev, err := c.factoryABI.UnpackForwarderDeployedEvent(l)
		if err == nil {
			out = append(out, ev)
		}
	}
	return out
}

// TestSweepFundsSentBeforeDeployment is the main flow: customers pay ETH, a
// returning token and a non-returning (USDT-like) token to counterfactual
// addresses; one batched deployAndFlush moves exactly those sums to the treasury.
func TestSweepFundsSentBeforeDeployment(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ids := []string{"inv_a", "inv_b", "inv_c", "inv_d", "inv_e"}
	sumWei, sumUSDC, sumUSDT := new(big.Int), new(big.Int), new(big.Int)
	deposits := make([]common.Address, len(ids))
	for i, id := range ids {
		deposits[i] = c.depositAddress(id, c.treasury)
		if c.hasCode(deposits[i]) {
			t.Fatalf("deposit address %s already has code", deposits[i])
		}
		wei := new(big.Int).Add(ether(int64(i+1)), big.NewInt(int64(i)*7+1)) // odd amounts, exact to the wei
		usdc := big.NewInt(int64(25_000_000 + i))                            // 25.00000i USDC
		usdt := big.NewInt(int64(1_000_001 * (i + 1)))
		if i == 2 {
			usdt = new(big.Int) // one invoice paid no USDT: flushing a zero balance must be a no-op
		}
		c.pay(deposits[i], wei, map[common.Address]*big.Int{c.usdc: usdc, c.usdt: usdt})
		sumWei.Add(sumWei, wei)
		sumUSDC.Add(sumUSDC, usdc)
		sumUSDT.Add(sumUSDT, usdt)
	}
	for _, d := range deposits {
		if c.hasCode(d) {
			t.Fatalf("paying %s deployed code there", d)
		}
	}
	if c.balance(c.treasury).Sign() != 0 {
		t.Fatal("treasury has funds before the sweep")
	}

	r := c.sweep(ids, c.treasury, []common.Address{c.usdc, c.usdt})
	if n := len(deployedEvents(t, c, r)); n != len(ids) {
		t.Fatalf("sweep deployed %d forwarders, want %d", n, len(ids))
	}
	if got := c.balance(c.treasury); got.Cmp(sumWei) != 0 {
		t.Fatalf("treasury ETH = %s wei, want exactly %s", got, sumWei)
	}
	if got := c.tokenBalance(c.usdc, c.treasury); got.Cmp(sumUSDC) != 0 {
		t.Fatalf("treasury USDC = %s, want %s", got, sumUSDC)
	}
	if got := c.tokenBalance(c.usdt, c.treasury); got.Cmp(sumUSDT) != 0 {
		t.Fatalf("treasury USDT = %s, want %s", got, sumUSDT)
	}
	for _, d := range deposits {
		if !c.hasCode(d) {
			t.Errorf("no forwarder at %s after the sweep", d)
		}
		if b := c.balance(d); b.Sign() != 0 {
			t.Errorf("forwarder %s still holds %s wei", d, b)
		}
		for _, tok := range []common.Address{c.usdc, c.usdt} {
			if b := c.tokenBalance(tok, d); b.Sign() != 0 {
				t.Errorf("forwarder %s still holds %s of token %s", d, b, tok)
			}
		}
	}

	// A late token payment to a deployed forwarder is swept by the same call again;
	// nothing is redeployed.
	late := big.NewInt(3_000_000)
	c.pay(deposits[1], nil, map[common.Address]*big.Int{c.usdt: late})
	r = c.sweep(ids, c.treasury, []common.Address{c.usdc, c.usdt})
	if n := len(deployedEvents(t, c, r)); n != 0 {
		t.Fatalf("second sweep deployed %d forwarders, want 0", n)
	}
	if got, want := c.tokenBalance(c.usdt, c.treasury), new(big.Int).Add(sumUSDT, late); got.Cmp(want) != 0 {
		t.Fatalf("treasury USDT after late payment = %s, want %s", got, want)
	}
}

func TestReceiveForwardsETHOnceDeployed(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := c.depositAddress("inv_live", c.treasury)
	c.sweep([]string{"inv_live"}, c.treasury, nil)
	wei := big.NewInt(123_456_789_012_345_678)
	r := c.mustSend(c.payer, d, wei, nil)
	if got := c.balance(c.treasury); got.Cmp(wei) != 0 {
		t.Fatalf("treasury = %s wei right after paying the deployed forwarder, want %s", got, wei)
	}
	if got := c.balance(d); got.Sign() != 0 {
		t.Fatalf("forwarder kept %s wei", got)
	}
	var forwarded *bindings.ForwarderForwardedETH
	for _, l := range r.Logs {
		if ev, err := c.forwarderABI.UnpackForwardedETHEvent(l); err == nil && l.Address == d {
			forwarded = ev
		}
	}
	if forwarded == nil || forwarded.Amount.Cmp(wei) != 0 || forwarded.Destination != c.treasury {
		t.Fatalf("ForwardedETH event %+v, want %s wei to %s from %s", forwarded, wei, c.treasury, d)
	}
	t.Logf("gas: paying a deployed forwarder whose treasury account does not exist yet (includes creating it; see TestGasPerInvoice for the usual case): %d", r.GasUsed)
}

// TestAnotherDestinationCannotTakeFunds shows that the invoice id alone does not
// determine the address: an attacker deploying and sweeping the same ids for
// their own destination gets other, empty forwarders.
func TestAnotherDestinationCannotTakeFunds(t *testing.T) {
	t.Parallel()
	c := setup(t)
	ids := []string{"inv_x", "inv_y"}
	thief := addr(c.attacker)
	for _, id := range ids {
		if a, b := c.depositAddress(id, c.treasury), c.depositAddress(id, thief); a == b {
			t.Fatalf("invoice %q has the same address %s for two destinations", id, a)
		}
		c.pay(c.depositAddress(id, c.treasury), ether(2), map[common.Address]*big.Int{c.usdc: big.NewInt(5_000_000)})
	}
	thiefETH := c.balance(thief)

	// The attacker deploys and sweeps the same invoice ids for their own destination.
	data, err := ethereum.DeployAndFlushCalldata(ids, thief, []common.Address{c.usdc})
	if err != nil {
		t.Fatal(err)
	}
	r := c.mustSend(c.attacker, c.factory.Address(), nil, data)
	for _, ev := range deployedEvents(t, c, r) {
		if ev.Destination != thief || slices.Contains([]common.Address{c.depositAddress("inv_x", c.treasury), c.depositAddress("inv_y", c.treasury)}, ev.Forwarder) {
			t.Fatalf("attacker's sweep deployed %+v", ev)
		}
	}
	gasPaid := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	if got, want := c.balance(thief), new(big.Int).Sub(thiefETH, gasPaid); got.Cmp(want) != 0 {
		t.Fatalf("attacker balance %s, want %s (only gas spent)", got, want)
	}
	if got := c.tokenBalance(c.usdc, thief); got.Sign() != 0 {
		t.Fatalf("attacker received %s USDC", got)
	}
	for _, id := range ids {
		d := c.depositAddress(id, c.treasury)
		if c.balance(d).Cmp(ether(2)) != 0 || c.tokenBalance(c.usdc, d).Cmp(big.NewInt(5_000_000)) != 0 {
			t.Fatalf("funds at %s moved after the attacker's sweep", d)
		}
		// Deploying the genuine address is still possible and binds the treasury.
		c.mustSend(c.attacker, c.factory.Address(), nil, c.factoryABI.PackDeploy(invoiceKey(t, id), c.treasury))
		if got := unpack(t, c.call(d, c.forwarderABI.PackDestination()), c.forwarderABI.UnpackDestination); got != c.treasury {
			t.Fatalf("forwarder %s destination %s, want treasury", d, got)
		}
	}
	c.sweep(ids, c.treasury, []common.Address{c.usdc})
	if got := c.balance(c.treasury); got.Cmp(ether(4)) != 0 {
		t.Fatalf("treasury = %s wei, want 4 ETH", got)
	}
}

func TestInitOnlyOnceAndOnlyByFactory(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := c.depositAddress("inv_init", c.treasury)
	c.sweep([]string{"inv_init"}, c.treasury, nil)
	thief := addr(c.attacker)

	// Nobody but the factory may initialise a clone, not even after deployment.
	c.expectCallError(thief, d, c.forwarderABI.PackInit(thief), bindings.ForwarderNotFactoryErrorID(), "NotFactory")
	c.mustRevert(c.attacker, d, nil, c.forwarderABI.PackInit(thief))
	// Nor the implementation behind every clone.
	c.expectCallError(thief, c.impl, c.forwarderABI.PackInit(thief), bindings.ForwarderNotFactoryErrorID(), "NotFactory")
	// Even the factory's address cannot re-initialise: the clone is already initialised.
	c.expectCallError(c.factory.Address(), d, c.forwarderABI.PackInit(thief), bindings.ForwarderAlreadyInitializedErrorID(), "AlreadyInitialized")
	if got := unpack(t, c.call(d, c.forwarderABI.PackDestination()), c.forwarderABI.UnpackDestination); got != c.treasury {
		t.Fatalf("destination changed to %s", got)
	}

	// A standalone Forwarder whose "factory" is an EOA shows init's checks directly.
	fw := c.deploy(bindings.ForwarderMetaData.Bin, nil)
	c.expectCallError(addr(c.deployer), fw, c.forwarderABI.PackInit(common.Address{}), bindings.ForwarderZeroDestinationErrorID(), "ZeroDestination")
	c.expectCallError(addr(c.deployer), fw, c.forwarderABI.PackFlushTokens(c.usdc), bindings.ForwarderNotInitializedErrorID(), "NotInitialized")
	c.mustSend(c.deployer, fw, nil, c.forwarderABI.PackInit(c.treasury))
	c.mustRevert(c.deployer, fw, nil, c.forwarderABI.PackInit(thief))
	c.expectCallError(addr(c.deployer), fw, c.forwarderABI.PackInit(thief), bindings.ForwarderAlreadyInitializedErrorID(), "AlreadyInitialized")
	if got := unpack(t, c.call(fw, c.forwarderABI.PackDestination()), c.forwarderABI.UnpackDestination); got != c.treasury {
		t.Fatalf("standalone forwarder destination %s after a second init, want treasury", got)
	}

	// The factory refuses the zero destination.
	c.expectCallError(thief, c.factory.Address(), c.factoryABI.PackDeploy(invoiceKey(t, "inv_zero"), common.Address{}), bindings.ForwarderFactoryZeroDestinationErrorID(), "ZeroDestination")
}

// TestNoFunctionPaysAnyoneButDestination pins the contracts' callable surface and
// has an attacker call every state-changing function with their own arguments.
func TestNoFunctionPaysAnyoneButDestination(t *testing.T) {
	t.Parallel()
	c := setup(t)
	// The surface is pinned: adding a function must come with a review of this test.
	checkSurface(t, "Forwarder", c.forwarderABI.GetABI(), []string{"flush", "flushTokens", "init"}, true)
	checkSurface(t, "ForwarderFactory", c.factoryABI.GetABI(), []string{"deploy", "deployAndFlush"}, false)

	d := c.depositAddress("inv_surface", c.treasury)
	c.pay(d, ether(3), map[common.Address]*big.Int{c.usdc: big.NewInt(7_000_000), c.usdt: big.NewInt(9_000_000)})
	c.mustSend(c.attacker, c.factory.Address(), nil, c.factoryABI.PackDeploy(invoiceKey(t, "inv_surface"), c.treasury))

	thief := addr(c.attacker)
	before := c.balance(thief)
	spent := new(big.Int)
	for _, data := range [][]byte{
		c.forwarderABI.PackFlushTokens(c.usdc),
		c.forwarderABI.PackFlushTokens(c.usdt),
		c.forwarderABI.PackFlush(),
	} {
		r := c.mustSend(c.attacker, d, nil, data)
		spent.Add(spent, new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice))
	}
	for _, data := range [][]byte{
		c.forwarderABI.PackInit(thief),
		c.forwarderABI.PackFlushTokens(thief), // not a token: TokenCallFailed
	} {
		r, err := c.send(c.attacker, d, nil, data, 500_000)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != types.ReceiptStatusFailed {
			t.Fatalf("attacker call %x succeeded", data[:4])
		}
		spent.Add(spent, new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice))
	}
	if got, want := c.balance(thief), new(big.Int).Sub(before, spent); got.Cmp(want) != 0 {
		t.Fatalf("attacker balance %s, want %s (gas only)", got, want)
	}
	if got := c.balance(c.treasury); got.Cmp(ether(3)) != 0 {
		t.Fatalf("treasury = %s wei, want 3 ETH", got)
	}
	if c.tokenBalance(c.usdc, c.treasury).Cmp(big.NewInt(7_000_000)) != 0 || c.tokenBalance(c.usdt, c.treasury).Cmp(big.NewInt(9_000_000)) != 0 {
		t.Fatal("treasury did not receive the tokens flushed by a third party")
	}
	// The factory and the bare implementation accept no ETH at all.
	c.mustRevert(c.payer, c.factory.Address(), big.NewInt(1), nil)
	c.mustRevert(c.payer, c.impl, big.NewInt(1), nil)
}

// checkSurface fails unless abi's state-changing functions are exactly want,
// nothing but receive (when allowed) is payable, and there is no fallback.
func checkSurface(t *testing.T, name string, a abi.ABI, want []string, receive bool) {
	t.Helper()
	var got []string
	for n, m := range a.Methods {
		if m.IsConstant() {
			continue
		}
		if m.IsPayable() {
			t.Errorf("%s.%s is payable", name, n)
		}
		got = append(got, n)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s state-changing functions = %v, want %v", name, got, want)
	}
	if a.HasFallback() {
		t.Errorf("%s has a fallback function", name)
	}
	if a.HasReceive() != receive {
		t.Errorf("%s has receive = %v, want %v", name, a.HasReceive(), receive)
	}
}

// TestStipendSenders documents which contract senders can pay a deposit address:
// before deployment (the normal case) any sender works; once the clone exists, a
// sender that forwards all gas works, but Solidity's transfer (2300-gas stipend)
// fails because the clone's cold DELEGATECALL alone costs 2600 gas.
func TestStipendSenders(t *testing.T) {
	t.Parallel()
	c := setup(t)
	payerABI := bindings.NewTestStipendPayer()
	exchange := c.deploy(bindings.TestStipendPayerMetaData.Bin, nil)
	d := c.depositAddress("inv_stipend", c.treasury)

	c.mustSend(c.payer, exchange, big.NewInt(1000), payerABI.PackPayWithTransfer(d))
	if got := c.balance(d); got.Cmp(big.NewInt(1000)) != 0 {
		t.Fatalf("undeployed deposit address holds %s wei after a transfer() payment, want 1000", got)
	}
	c.sweep([]string{"inv_stipend"}, c.treasury, nil)

	c.mustSend(c.payer, exchange, big.NewInt(2000), payerABI.PackPayWithCall(d))
	if got := c.balance(c.treasury); got.Cmp(big.NewInt(3000)) != 0 {
		t.Fatalf("treasury = %s wei, want 3000", got)
	}
	c.mustRevert(c.payer, exchange, big.NewInt(4000), payerABI.PackPayWithTransfer(d))
	if got := c.balance(c.treasury); got.Cmp(big.NewInt(3000)) != 0 {
		t.Fatalf("treasury = %s wei after a reverted payment, want 3000", got)
	}
}

func TestSweeperBatches(t *testing.T) {
	t.Parallel()
	c := setup(t)
	s, err := ethereum.NewSweeper(c.factory, c.treasury, []common.Address{c.usdc}, &ethereum.SweeperConfig{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("inv_batch_%02d", i)
		c.pay(c.depositAddress(ids[i], c.treasury), big.NewInt(int64(1000+i)), map[common.Address]*big.Int{c.usdc: big.NewInt(int64(10 + i))})
	}
	calls, err := s.Calls(ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || len(calls[0].InvoiceIDs) != 4 || len(calls[2].InvoiceIDs) != 2 || calls[2].InvoiceIDs[1] != ids[9] {
		t.Fatalf("Calls split 10 ids into %d calls: %+v", len(calls), calls)
	}
	for _, call := range calls {
		if call.To != c.factory.Address() {
			t.Fatalf("call to %s, want the factory", call.To)
		}
		c.mustSend(c.sweeper, call.To, nil, call.Data)
	}
	// sum(1000..1009) = 10045 wei; sum(10..19) = 145 units.
	if c.balance(c.treasury).Cmp(big.NewInt(10045)) != 0 || c.tokenBalance(c.usdc, c.treasury).Cmp(big.NewInt(145)) != 0 {
		t.Fatalf("treasury got %s wei and %s units, want 10045 and 145", c.balance(c.treasury), c.tokenBalance(c.usdc, c.treasury))
	}

	if _, err := s.Calls(nil); !errors.Is(err, ethereum.ErrEmptyBatch) {
		t.Errorf("Calls(nil) error %v", err)
	}
	if _, err := s.Calls([]string{"a", "b", "c", "d", "e", "a"}); !errors.Is(err, ethereum.ErrInvalidInvoiceID) {
		t.Errorf("duplicate across batches: error %v", err)
	}
	if _, err := ethereum.NewSweeper(c.factory, common.Address{}, nil, nil); !errors.Is(err, ethereum.ErrZeroAddress) {
		t.Errorf("zero destination: error %v", err)
	}
	if _, err := ethereum.NewSweeper(c.factory, c.treasury, nil, &ethereum.SweeperConfig{MaxBatch: -1}); err == nil {
		t.Error("negative MaxBatch accepted")
	}
	if _, err := ethereum.NewSweeper(nil, c.treasury, nil, nil); err == nil {
		t.Error("nil factory accepted")
	}
}
