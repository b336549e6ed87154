package gethtest_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum/gethtest"
)

func TestNodeBasics(t *testing.T) {
	t.Parallel()
	n := gethtest.Start(t)
	ctx := context.Background()
	id, err := n.Client().ChainID(ctx)
	if err != nil || id.Cmp(n.ChainID()) != 0 {
		t.Fatalf("chain id %v, %v; want %s", id, err, n.ChainID())
	}
	if n.Balance(t, n.DevAddress()).Sign() <= 0 {
		t.Fatal("developer account is not funded: the fixed dev key changed?")
	}
	h0, err := n.Client().BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.Mine(t, 3)
	h1, err := n.Client().BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// At least 3: geth --dev may seal an empty block beside a transaction's (see Mine), and
	// at most a few more than asked (one empty block per transaction at worst).
	if h1 < h0+3 || h1 > h0+6 {
		t.Fatalf("Mine(3) moved the tip from %d to %d", h0, h1)
	}

	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := crypto.PubkeyToAddress(k.PublicKey)
	n.Fund(t, to, big.NewInt(12345))
	if got := n.Balance(t, to); got.Cmp(big.NewInt(12345)) != 0 {
		t.Fatalf("funded balance %s", got)
	}

	f := n.DeployFactory(t)
	if len(n.Code(t, f.Address())) == 0 {
		t.Fatal("no factory code")
	}
	tok := n.DeployToken(t, "USD Coin", "USDC", 6)
	n.MintTokens(t, tok, n.DevAddress(), big.NewInt(1_000_000))
	n.SendTokens(t, nil, tok, to, big.NewInt(250_000))
	if got := n.TokenBalance(t, tok, to); got.Cmp(big.NewInt(250_000)) != 0 {
		t.Fatalf("token balance %s", got)
	}
	if got := n.TokenBalance(t, tok, common.Address{1}); got.Sign() != 0 {
		t.Fatalf("stranger token balance %s", got)
	}
}
