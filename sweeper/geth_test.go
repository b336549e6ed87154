package sweeper_test

import (
	"io"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum/gethtest"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/sweeper"
)

// TestSweepOnGethDev: on a real geth --dev node, a partial payment to an expired invoice,
// a payment to a cancelled one and ETH sent to a USDC-only invoice end in the treasury; a
// second USDC payment after the sweep is swept again; each sweep is confirmed at depth 2.
func TestSweepOnGethDev(t *testing.T) {
	t.Parallel()
	node := gethtest.Start(t)
	tk, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{chain: &chain{t: t, factory: node.DeployFactory(t), treasury: addrOf(tk)}, st: storetest.SQLite(t),
		merchant: "sto_geth", wallet: "wal_geth", now: time.Now().UTC()}
	e.usdc = node.DeployToken(t, "USD Coin", "USDC", 6)
	node.MintTokens(t, e.usdc, node.DevAddress(), big.NewInt(1e12))
	e.seed()
	expired := e.invoice("inv_g_expired", store.StatusExpired, false, "ETH", "USDC")
	cancelled := e.invoice("inv_g_cancelled", store.StatusInvalid, false, "ETH", "USDC")
	usdcOnly := e.invoice("inv_g_usdc_only", store.StatusNew, true, "USDC")
	node.SendTokens(t, nil, e.usdc, expired, big.NewInt(1_000_000))
	node.SendTokens(t, nil, e.usdc, cancelled, big.NewInt(2_000_000))
	node.Fund(t, usdcOnly, big.NewInt(3e15))
	gasKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, addrOf(gasKey), big.NewInt(1e18))
	s, err := sweeper.New(sweeper.Config{Client: node.Client(), Store: e.st, Chain: "ethereum", Factory: e.factory,
		ChainID: gethtest.ChainID, Key: gasKey, Tokens: []sweeper.Token{{Code: "USDC", Contract: e.usdc, Decimals: 6}},
		Confirmations: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// geth --dev seals only when a transaction arrives: keep it sealing.
	self := node.DevAddress()
	settle := func(want int) []store.EVMSweep {
		t.Helper()
		var done []store.EVMSweep
		for range 300 {
			res, err := s.SweepOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done = append(done, res.Finished...)
			if len(done) >= want {
				return done
			}
			if _, err := node.TrySend(nil, &self, nil, nil, 21_000); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatalf("%d sweeps finished, want %d", len(done), want)
		return nil
	}
	done := settle(1)
	if done[0].Status != store.SweepConfirmed || len(done[0].Addresses) != 3 {
		t.Fatalf("first sweep %+v, want one confirmed batch of 3", done[0])
	}
	if got := node.TokenBalance(t, e.usdc, e.treasury); got.Cmp(big.NewInt(3_000_000)) != 0 {
		t.Fatalf("treasury USDC %s, want 3000000", got)
	}
	if got := node.Balance(t, e.treasury); got.Cmp(big.NewInt(3e15)) != 0 {
		t.Fatalf("treasury ETH %s, want 3e15", got)
	}
	node.SendTokens(t, nil, e.usdc, usdcOnly, big.NewInt(4_000_000))
	second := settle(1)
	if second[0].Status != store.SweepConfirmed {
		t.Fatalf("second sweep %+v", second[0])
	}
	if got := node.TokenBalance(t, e.usdc, e.treasury); got.Cmp(big.NewInt(7_000_000)) != 0 {
		t.Fatalf("treasury USDC %s after the second payment, want 7000000", got)
	}
	t.Logf("geth: first sweep (3 forwarders) %d gas, second (deployed, USDC) %d gas", *done[0].GasUsed, *second[0].GasUsed)
}
