package deposit_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

var (
	factoryAddr = common.HexToAddress("0x1000000000000000000000000000000000000001")
	implAddr    = common.HexToAddress("0x2000000000000000000000000000000000000002")
	usdcAddr    = common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	treasury    = common.HexToAddress("0x3000000000000000000000000000000000000003")
)

func newEVM(t *testing.T) (*deposit.EVM, *ethereum.Factory) {
	t.Helper()
	f, err := ethereum.NewFactory(factoryAddr, implAddr)
	if err != nil {
		t.Fatal(err)
	}
	e, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: 1, Factory: f,
		Tokens: map[string]deposit.EVMToken{"USDC": {Contract: usdcAddr, Decimals: 6}}})
	if err != nil {
		t.Fatal(err)
	}
	return e, f
}

func wallet(tokens ...string) store.Wallet {
	return store.Wallet{ID: "wal_1", Chain: "ethereum", Network: "mainnet", Treasury: treasury.Hex(), Tokens: tokens}
}

func TestEVMAssets(t *testing.T) {
	t.Parallel()
	e, _ := newEVM(t)
	got, err := e.Assets(wallet("USDC"))
	if err != nil {
		t.Fatal(err)
	}
	want := []money.Asset{{Code: "ETH", Scale: 18, Chain: "ethereum"}, {Code: "USDC", Scale: 6, Chain: "ethereum", Contract: usdcAddr.Hex()}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Assets = %+v, want %+v", got, want)
	}
	if e.Confirmations() != deposit.DefaultEVMConfirmations {
		t.Fatalf("default confirmations %d", e.Confirmations())
	}
	for name, w := range map[string]store.Wallet{
		"unknown token":  wallet("DAI"),
		"other chain":    {ID: "w", Chain: "polygon", Treasury: treasury.Hex()},
		"bad treasury":   {ID: "w", Chain: "ethereum", Treasury: "0x123"},
		"zero treasury":  {ID: "w", Chain: "ethereum", Treasury: common.Address{}.Hex()},
		"checksum typo":  {ID: "w", Chain: "ethereum", Treasury: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eb48"},
		"empty treasury": {ID: "w", Chain: "ethereum"},
	} {
		if _, err := e.Assets(w); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := e.Assets(wallet("DAI")); !errors.Is(err, deposit.ErrUnknownToken) {
		t.Errorf("unknown token error %v", err)
	}
}

func TestEVMDepositAddressAndURI(t *testing.T) {
	t.Parallel()
	e, f := newEVM(t)
	a, idx, err := e.DepositAddress(context.Background(), nil, wallet(), "inv_01")
	if err != nil || idx != nil {
		t.Fatalf("DepositAddress: %q %v %v", a, idx, err)
	}
	want, err := f.DepositAddress("inv_01", treasury)
	if err != nil {
		t.Fatal(err)
	}
	if a != want.Hex() {
		t.Fatalf("address %s, want the EIP-55 CREATE2 address %s", a, want.Hex())
	}
	if b, _, _ := e.DepositAddress(context.Background(), nil, wallet(), "inv_02"); b == a {
		t.Fatal("two invoices share a deposit address")
	}
	if _, _, err := e.DepositAddress(context.Background(), nil, wallet(), ""); !errors.Is(err, ethereum.ErrInvalidInvoiceID) {
		t.Fatalf("empty invoice id: %v", err)
	}
	for _, tc := range []struct {
		name string
		o    store.PaymentOption
		amt  *big.Int
		want string
	}{
		{"native", store.PaymentOption{Address: a}, big.NewInt(1e16), "ethereum:" + a + "@1?value=10000000000000000"},
		{"token", store.PaymentOption{Address: a, Contract: usdcAddr.Hex()}, big.NewInt(12_340_000),
			"ethereum:" + usdcAddr.Hex() + "@1/transfer?address=" + a + "&uint256=12340000"},
		{"bad address", store.PaymentOption{Address: "nope"}, big.NewInt(1), ""},
		{"bad contract", store.PaymentOption{Address: a, Contract: "0x12"}, big.NewInt(1), ""},
		{"negative", store.PaymentOption{Address: a}, big.NewInt(-1), ""},
		{"nil amount", store.PaymentOption{Address: a}, nil, ""},
	} {
		if got := e.PaymentURI(tc.o, tc.amt, "label"); got != tc.want {
			t.Errorf("%s: PaymentURI = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNewEVMValidates(t *testing.T) {
	t.Parallel()
	f, err := ethereum.NewFactory(factoryAddr, implAddr)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]deposit.EVMConfig{
		"no chain":       {ChainID: 1, Factory: f},
		"no chain id":    {Chain: "ethereum", Factory: f},
		"no factory":     {Chain: "ethereum", ChainID: 1},
		"negative confs": {Chain: "ethereum", ChainID: 1, Factory: f, Confirmations: -1},
		"zero contract":  {Chain: "ethereum", ChainID: 1, Factory: f, Tokens: map[string]deposit.EVMToken{"USDC": {Decimals: 6}}},
		"native code":    {Chain: "ethereum", ChainID: 1, Factory: f, Tokens: map[string]deposit.EVMToken{"ETH": {Contract: usdcAddr}}},
		"shared contract": {Chain: "ethereum", ChainID: 1, Factory: f, Tokens: map[string]deposit.EVMToken{
			"USDC": {Contract: usdcAddr, Decimals: 6}, "USDC2": {Contract: usdcAddr, Decimals: 6}}},
		"bad chain name": {Chain: "Ethereum Mainnet", ChainID: 1, Factory: f},
		"bad code":       {Chain: "ethereum", ChainID: 1, Factory: f, Tokens: map[string]deposit.EVMToken{"US DC": {Contract: usdcAddr}}},
		"unknown tag":    {Chain: "ethereum", ChainID: 1, Factory: f, Finality: "latest"},
	} {
		if _, err := deposit.NewEVM(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEVMFinality: a chain settling on a block tag reports it and needs one confirmation
// (counted from the final block); a depth chain reports no tag.
func TestEVMFinality(t *testing.T) {
	t.Parallel()
	f, err := ethereum.NewFactory(factoryAddr, implAddr)
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]int{"": 12, "finalized": 1, "safe": 1} {
		e, err := deposit.NewEVM(deposit.EVMConfig{Chain: "base", ChainID: 8453, Factory: f, Finality: tag, Confirmations: 12})
		if err != nil {
			t.Fatal(err)
		}
		if e.Finality() != tag || e.Confirmations() != want {
			t.Errorf("%q: Finality %q, Confirmations %d, want %d", tag, e.Finality(), e.Confirmations(), want)
		}
	}
}
