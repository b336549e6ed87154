package ethereum_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/node"
)

// TestGasPerInvoice measures, from receipts, the gas of creating forwarders and
// of sweeping invoices in batches, on mainnet's current fork (Osaka) and on the
// simulated backend's default dev config (which also enables later forks). The
// figures are logged, not asserted; the test asserts the sweeps' outcomes.
func TestGasPerInvoice(t *testing.T) {
	t.Parallel()
	for _, fork := range []struct {
		name string
		opts []func(*node.Config, *ethconfig.Config)
	}{
		{"osaka", []func(*node.Config, *ethconfig.Config){forkOsaka()}},
		{"simulated-default", nil},
	} {
		t.Run(fork.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, fork.opts...)
			// A real treasury already exists and already holds the token; seed both so
			// that one-off account and storage creation does not skew the first batch.
			c.pay(c.treasury, big.NewInt(1), map[common.Address]*big.Int{c.usdc: big.NewInt(1)})

			code, err := c.client.CodeAt(context.Background(), c.impl, nil)
			if err != nil {
				t.Fatal(err)
			}
			clone, err := c.client.CodeAt(context.Background(), c.depositAddress("inv_probe", c.treasury), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(clone) != 0 {
				t.Fatal("probe address has code before deployment")
			}

			r := c.mustSend(c.sweeper, c.factory.Address(), nil, c.factoryABI.PackDeploy(invoiceKey(t, "inv_probe"), c.treasury))
			clone, err = c.client.CodeAt(context.Background(), c.depositAddress("inv_probe", c.treasury), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("[%s] deploy(): %d gas for one forwarder (clone runtime %d bytes; a full Forwarder would deposit %d bytes of runtime code = %d gas of code deposit alone)",
				fork.name, r.GasUsed, len(clone), len(code), 200*len(code))

			for _, n := range []int{1, 10, 50} {
				ids := make([]string, n)
				for i := range ids {
					ids[i] = fmt.Sprintf("inv_%s_%d_%d", fork.name, n, i)
					c.pay(c.depositAddress(ids[i], c.treasury), big.NewInt(1e15), map[common.Address]*big.Int{c.usdc: big.NewInt(1_000_000)})
				}
				wantETH := new(big.Int).Add(c.balance(c.treasury), new(big.Int).Mul(big.NewInt(int64(n)), big.NewInt(1e15)))
				wantUSDC := new(big.Int).Add(c.tokenBalance(c.usdc, c.treasury), big.NewInt(int64(n)*1_000_000))
				r := c.sweep(ids, c.treasury, []common.Address{c.usdc})
				if c.balance(c.treasury).Cmp(wantETH) != 0 || c.tokenBalance(c.usdc, c.treasury).Cmp(wantUSDC) != 0 {
					t.Fatalf("batch of %d: treasury did not receive exactly the swept sums", n)
				}
				t.Logf("[%s] deployAndFlush batch of %2d (deploy + ETH + 1 token each): %8d gas, %6d per invoice",
					fork.name, n, r.GasUsed, r.GasUsed/uint64(n))

				if n == 10 {
					// Same forwarders paid again: flush only, no deployment.
					for _, id := range ids {
						c.pay(c.depositAddress(id, c.treasury), nil, map[common.Address]*big.Int{c.usdc: big.NewInt(1_000_000)})
					}
					r := c.sweep(ids, c.treasury, []common.Address{c.usdc})
					t.Logf("[%s] deployAndFlush batch of 10 already deployed (1 token each): %d gas, %d per invoice",
						fork.name, r.GasUsed, r.GasUsed/10)
				}
			}
			r = c.mustSend(c.payer, c.depositAddress("inv_probe", c.treasury), big.NewInt(1e15), nil)
			t.Logf("[%s] paying ETH to a deployed forwarder (forwarded in receive): %d gas (a plain transfer is 21000)", fork.name, r.GasUsed)
		})
	}
}
