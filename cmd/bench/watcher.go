package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/watcher"
)

// fixedQuoter prices BTC at 60,000 of any currency.
type fixedQuoter struct{}

func (fixedQuoter) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.NewFromInt(60000), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// regtestTpub returns the BIP84 account tpub of a fresh random seed: chainpay only ever
// sees the public key.
func regtestTpub() (string, error) {
	seed, err := hdkeychain.GenerateSeed(32)
	if err != nil {
		return "", err
	}
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		return "", err
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			return "", err
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		return "", err
	}
	return pub.String(), nil
}

// benchWatcher builds a regtest chain of o.chainBlocks blocks holding payments to invoice
// addresses, then times fetching every block over RPC alone (the limit: getblockhash and
// getblock verbosity 0, decoded) and a watcher.Follower on Postgres catching up from height
// 1 over the same chain. The RPC baseline runs before and after the follower; the faster
// run is the limit.
func benchWatcher(ctx context.Context, o *options, dir string, r *report, stderr io.Writer) error {
	sc, err := newSchema(ctx, o.pg, "bench_watch")
	if err != nil {
		return err
	}
	defer sc.drop()
	st, err := postgres.Open(ctx, sc.url)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	node, err := regtest.Start(ctx, regtest.Config{DataDir: dir + "/btcd"})
	if err != nil {
		return fmt.Errorf("start btcd (build it with scripts/tools.sh or set CHAINPAY_TOOLS_BIN): %w", err)
	}
	defer node.Stop()

	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: fixedQuoter{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	mid, err := regtestMerchant(ctx, st)
	if err != nil {
		return err
	}
	// The chain: segwit activation (Fund), then payments to invoices spread over the rest.
	if err := node.Fund(ctx); err != nil {
		return err
	}
	payments := 50
	if o.quick {
		payments = 10
	}
	tip, err := node.TipHeight(ctx)
	if err != nil {
		return err
	}
	if int64(o.chainBlocks) < tip+int64(payments) {
		return fmt.Errorf("-blocks %d: the chain needs at least %d blocks (segwit activates at %d)", o.chainBlocks, tip+int64(payments), regtest.SegwitHeight)
	}
	gap := (int64(o.chainBlocks) - tip) / int64(payments)
	for range payments {
		d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
		if err != nil {
			return err
		}
		addr, err := btcutil.DecodeAddress(d.Options[0].Address, &chaincfg.RegressionNetParams)
		if err != nil {
			return err
		}
		if _, err := node.Pay(ctx, addr, d.Options[0].AmountDue.Int64()); err != nil {
			return err
		}
		if _, err := node.Mine(ctx, int(gap)); err != nil {
			return err
		}
	}
	if tip, err = node.TipHeight(ctx); err != nil {
		return err
	}
	if rest := int64(o.chainBlocks) - tip; rest > 0 {
		if _, err := node.Mine(ctx, int(rest)); err != nil {
			return err
		}
	}
	if tip, err = node.TipHeight(ctx); err != nil {
		return err
	}

	rpc, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest})
	if err != nil {
		return err
	}
	defer rpc.Close()
	fetchAll := func() (time.Duration, latencies, error) {
		var lat latencies
		start := time.Now()
		for h := int64(1); h <= tip; h++ {
			t0 := time.Now()
			hash, err := rpc.BlockHash(ctx, h)
			if err != nil {
				return 0, nil, err
			}
			if _, err := rpc.Block(ctx, hash); err != nil {
				return 0, nil, err
			}
			lat = append(lat, time.Since(t0))
		}
		return time.Since(start), lat, nil
	}
	rpc1, lat1, err := fetchAll()
	if err != nil {
		return fmt.Errorf("RPC baseline: %w", err)
	}

	src, err := watcher.NewBitcoinSource(rpc, bitcoin.Regtest)
	if err != nil {
		return err
	}
	f := watcher.NewFollower(st, src, svc, watcher.Config{StartHeight: 1, Logger: slog.New(slog.DiscardHandler)})
	start := time.Now()
	applied := 0
	for {
		n, err := f.Step(ctx)
		if err != nil {
			return fmt.Errorf("follower: %w", err)
		}
		applied += n
		if n == 0 {
			break
		}
	}
	follow := time.Since(start)
	rpc2, lat2, err := fetchAll()
	if err != nil {
		return fmt.Errorf("RPC baseline: %w", err)
	}
	if applied != int(tip) {
		return fmt.Errorf("follower applied %d blocks, the chain has %d", applied, tip)
	}
	var paid int
	if err := st.View(ctx, func(tx store.Tx) error {
		list, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, Limit: payments + 1})
		if err != nil {
			return err
		}
		for _, inv := range list {
			if inv.Status == "settled" {
				paid++
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if paid != payments {
		return fmt.Errorf("%d of %d paid invoices settled after catch-up", paid, payments)
	}
	limit, lat := rpc1, lat1
	if rpc2 < rpc1 {
		limit, lat = rpc2, lat2
	}
	r.section(fmt.Sprintf("Watcher catch-up — btcd regtest, %d blocks (%d paying invoices), follower on Postgres", tip, payments))
	r.ratio("blocks/s (limit: raw RPC fetch)", float64(tip)/follow.Seconds(), float64(tip)/limit.Seconds(), "blocks/s", "≥ 0.8")
	r.line("RPC fetch per block p50 / p99", fmt.Sprintf("%.2f ms / %.2f ms", ms(lat.quantile(0.5)), ms(lat.quantile(0.99))))
	r.line("RPC baseline runs (before / after)", fmt.Sprintf("%s / %s", rpc1.Round(time.Millisecond), rpc2.Round(time.Millisecond)))
	r.line("settled invoices after catch-up", fmt.Sprintf("%d of %d", paid, payments))
	return nil
}

// regtestMerchant creates a store with a regtest BIP84 wallet and returns its id.
func regtestMerchant(ctx context.Context, st store.Store) (string, error) {
	tpub, err := regtestTpub()
	if err != nil {
		return "", err
	}
	w, err := bitcoin.ParseWallet(tpub, bitcoin.Regtest)
	if err != nil {
		return "", err
	}
	now := time.Now()
	mid := store.NewID("sto", now)
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "bench", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin",
			Network: "regtest", Descriptor: w.Descriptor(), CreatedAt: now})
	})
	return mid, err
}
