package ops_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/store"
)

// TestSweeperGasAndUnswept: the sweeper's gas balance is a readiness warning below its
// threshold (never a failure) and a metric; unswept forwarder balances are a metric.
func TestSweeperGasAndUnswept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.invoice(t, 1, store.StatusExpired, store.PaymentConfirmed, t0)
	b.tx(t, func(x store.Tx) error {
		f := store.Forwarder{Chain: "bitcoin", Address: "bcrt1q1", InvoiceID: "inv_1", WalletID: b.walletID,
			MerchantID: b.merchantID, Treasury: "0xT", Network: "1"}
		return x.RecordForwarder(ctx, f, []store.ForwarderBalance{{Asset: "USDC", Contract: "0xU", Scale: 6, Amount: big.NewInt(2_500_000)}}, t0)
	})
	gas := big.NewInt(4e16) // 0.04 ETH
	var gasErr error
	cfg := *b.cfg
	cfg.Sweepers = []ops.Sweeper{{Chain: "ethereum", WarnBelow: big.NewInt(5e16),
		GasBalance: func(context.Context) (*big.Int, error) { return gas, gasErr }}}
	h, err := ops.NewHealth(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep := h.Check(ctx)
	c := rep.Checks["sweeper:ethereum"]
	if !c.OK || !c.Warning || rep.Status != "ready" || !strings.Contains(c.Detail, "0.040000000000000000 ETH is below 0.050000000000000000") {
		t.Fatalf("low gas: %s %+v, want ready with a warning", rep.Status, c)
	}
	m, err := ops.NewMetrics(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ops.NewSweepCollector(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Registry().MustRegister(sc)
	mustValue(t, m.Registry(), 0.04, "chainpay_sweeper_gas_balance", "chain", "ethereum")
	mustValue(t, m.Registry(), 1, "chainpay_sweeper_gas_low", "chain", "ethereum")
	mustValue(t, m.Registry(), 2.5, "chainpay_unswept_balance", "chain", "bitcoin", "network", "1", "asset", "USDC")
	mustValue(t, m.Registry(), 1, "chainpay_unswept_forwarders", "chain", "bitcoin", "network", "1", "asset", "USDC")

	gas = big.NewInt(6e16)
	if c := h.Check(ctx).Checks["sweeper:ethereum"]; !c.OK || c.Warning {
		t.Fatalf("funded: %+v, want no warning", c)
	}
	gasErr = errors.New("node down")
	if c := h.Check(ctx).Checks["sweeper:ethereum"]; !c.OK || !c.Warning {
		t.Fatalf("unreadable: %+v, want a warning", c)
	}
	cfg.Sweepers[0].GasBalance = nil
	if _, err := ops.NewHealth(&cfg); err == nil {
		t.Fatal("a sweeper without GasBalance accepted")
	}
}
