package refunds_test

import (
	"context"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// assetQuoter prices ETH at 3000 and USDC at 1 of any currency.
type assetQuoter struct{}

func (assetQuoter) Quote(_ context.Context, base, _ string) (invoices.Quote, error) {
	r := "3000"
	if base == "USDC" {
		r = "1"
	}
	return invoices.Quote{Rate: decimal.RequireFromString(r), Source: "test", At: time.Now(), Raw: `[]`}, nil
}

// TestEVMRefunds: on the in-process EVM dev chain (go-ethereum's simulated backend behind
// JSON-RPC), an ETH and a USDC invoice are paid and followed; their refunds' EIP-681 URIs
// and unsigned transactions name the treasury, the destination and the amount; the
// treasury sends them (as the merchant's wallet would) and the real follower sees each
// transfer, completes the refund and books it once.
func TestEVMRefunds(t *testing.T) {
	chain, err := devchain.Start(ctx, devchain.Config{Listen: "127.0.0.1:0", BlockEvery: time.Hour})
	must(t, err)
	t.Cleanup(func() { _ = chain.Stop() })
	st := storetest.SQLite(t)
	evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: chain.ChainID(), Factory: chain.Factory(),
		Tokens: map[string]deposit.EVMToken{"USDC": {Contract: chain.USDC(), Decimals: 6}}, Confirmations: 1})
	must(t, err)
	inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"ethereum": evm}, Quoter: assetQuoter{},
		Settler: &ledger.Settler{}})
	must(t, err)
	ref, err := refunds.New(st, refunds.Config{Invoices: inv, Quoter: assetQuoter{}})
	must(t, err)
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: chain.ChainID(),
		URLs: []string{chain.RPCURL()}, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: chain.USDC(), Decimals: 6}}})
	must(t, err)
	f := watcher.NewFollower(st, src, inv, watcher.Config{Refunds: ref.Follower(), TipFreshness: watcher.EVMTipFreshness})
	treasury := chain.Payer() // the merchant's treasury wallet (it also plays the customer)
	now := time.Now()
	mid := store.NewID("sto", now)
	must(t, st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "m", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "ethereum",
			Network: "1337", Treasury: treasury.Hex(), Tokens: []string{"USDC"}, CreatedAt: now})
	}))
	step := func() {
		t.Helper()
		chain.Commit()
		for i := 0; i < 3; i++ {
			if _, err := f.Step(ctx); err != nil {
				t.Fatalf("follower: %v", err)
			}
		}
	}
	step()

	for _, tc := range []struct {
		asset, amount string
		dest          common.Address
	}{
		{"ETH", "4.00", common.HexToAddress("0x00000000000000000000000000000000000e7401")},
		{"USDC", "7.50", common.HexToAddress("0x00000000000000000000000000000000000c0de2")},
	} {
		d, err := inv.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", PaymentMethods: []string{tc.asset}})
		must(t, err)
		o := d.Options[0]
		to := common.HexToAddress(o.Address)
		if tc.asset == "ETH" {
			_, err = chain.PayETH(ctx, to, o.AmountDue)
		} else {
			_, err = chain.PayToken(ctx, chain.USDC(), to, o.AmountDue)
		}
		must(t, err)
		step()
		step()
		if d, _ = inv.Get(ctx, mid, d.Invoice.ID); d.Invoice.Status != store.StatusSettled {
			t.Fatalf("%s invoice: %s", tc.asset, d.Invoice.Status)
		}
		dr, err := ref.Prepare(ctx, mid, d.Invoice.ID, refunds.CreateRequest{Amount: tc.amount, Destination: strings.ToLower(tc.dest.Hex())})
		must(t, err)
		var r store.Refund
		must(t, st.Tx(ctx, func(tx store.Tx) (err error) { r, err = ref.CreateTx(ctx, tx, dr); return }))
		// Someone else (the sweeper's account here) sends the destination exactly the
		// refund's amount first: not the treasury, so the refund stays claimed.
		stranger := chain.SweeperKey()
		if tc.asset == "ETH" {
			_, err = chain.PayETHFrom(ctx, stranger, tc.dest, r.AmountAtomic)
		} else {
			if _, err = chain.PayToken(ctx, chain.USDC(), crypto.PubkeyToAddress(stranger.PublicKey), r.AmountAtomic); err == nil {
				_, err = chain.PayTokenFrom(ctx, stranger, chain.USDC(), tc.dest, r.AmountAtomic)
			}
		}
		must(t, err)
		step()
		step()
		if got, err := ref.Get(ctx, mid, r.ID); err != nil || got.Status != store.RefundClaimed {
			t.Fatalf("%s refund after a stranger's transfer: %s %v", tc.asset, got.Status, err)
		}
		p, err := ref.PrepareEVM(ctx, mid, r.ID)
		must(t, err)
		if p.Transaction.From != treasury.Hex() || p.Transaction.ChainID != "0x539" {
			t.Fatalf("%s transaction %+v", tc.asset, p.Transaction)
		}
		if tc.asset == "ETH" {
			if p.Transaction.To != tc.dest.Hex() || p.Transaction.Value != "0x"+r.AmountAtomic.Text(16) || p.Transaction.Data != "0x" ||
				!strings.HasPrefix(p.URI, "ethereum:"+tc.dest.Hex()+"@1337?value=") {
				t.Fatalf("ETH payment %+v", p)
			}
			_, err = chain.PayETH(ctx, tc.dest, r.AmountAtomic)
		} else {
			data := "a9059cbb" + strings.Repeat("0", 24) + strings.ToLower(tc.dest.Hex()[2:]) + hex.EncodeToString(common.LeftPadBytes(r.AmountAtomic.Bytes(), 32))
			if p.Transaction.To != chain.USDC().Hex() || p.Transaction.Value != "0x0" || p.Transaction.Data != "0x"+data ||
				!strings.HasPrefix(p.URI, "ethereum:"+chain.USDC().Hex()+"@1337/transfer?address="+tc.dest.Hex()) {
				t.Fatalf("USDC payment %+v", p)
			}
			if r.AmountAtomic.Cmp(big.NewInt(7_500_000)) != 0 {
				t.Fatalf("7.50 USD of USDC = %s units", r.AmountAtomic)
			}
			_, err = chain.PayToken(ctx, chain.USDC(), tc.dest, r.AmountAtomic)
		}
		must(t, err)
		step()
		step()
		got, err := ref.Get(ctx, mid, r.ID)
		must(t, err)
		if got.Status != store.RefundCompleted || got.TxID == "" {
			t.Fatalf("%s refund after its transfer: %s", tc.asset, got.Status)
		}
	}
	diffs, err := ledger.VerifyEnqueued(ctx, st, mid)
	must(t, err)
	if len(diffs) != 0 {
		t.Fatalf("ledger verify: %v", diffs)
	}
	var n int
	must(t, st.View(ctx, func(tx store.Tx) error {
		ms, err := tx.OutboxMessages(ctx, ledger.Topic, store.OutboxPending)
		for _, m := range ms {
			if strings.HasPrefix(m.Key, ledger.SourceCryptoRefund) {
				n++
			}
		}
		return err
	}))
	if n != 2 {
		t.Fatalf("%d refund records, want 2", n)
	}
}
