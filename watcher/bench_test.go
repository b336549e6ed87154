package watcher_test

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// benchTpub returns the BIP84 account tpub of a fresh random seed.
func benchTpub(tb testing.TB) string {
	tb.Helper()
	seed, err := hdkeychain.GenerateSeed(32)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		tb.Fatal(err)
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			tb.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		tb.Fatal(err)
	}
	return pub.String()
}

// benchShop creates a merchant whose Bitcoin wallet is tpub on st, and count invoices of
// price USD in order. The same tpub and order give the same deposit addresses and amounts
// on every store, so a chain built once pays the invoices of every fresh store.
func benchShop(tb testing.TB, st store.Store, tpub string, count int) (*invoices.Service, string, []invoices.Details) {
	tb.Helper()
	svc, err := invoices.New(st, invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: fixedQuoter{}, Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := bitcoin.ParseWallet(tpub, bitcoin.Regtest)
	if err != nil {
		tb.Fatal(err)
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
	if err != nil {
		tb.Fatal(err)
	}
	var out []invoices.Details
	for range count {
		d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, d)
	}
	return svc, mid, out
}

// btcAddr decodes a regtest address.
func btcAddr(tb testing.TB, s string) btcutil.Address {
	tb.Helper()
	a, err := btcutil.DecodeAddress(s, &chaincfg.RegressionNetParams)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// catchUpBlocks is the length of the chain BenchmarkBitcoinCatchUp follows.
const catchUpBlocks = 2000

// BenchmarkBitcoinCatchUp measures a follower catching up over a real btcd regtest chain of
// 2,000 blocks (20 of them paying invoices) from height 1, against the limit: fetching the
// same raw blocks over RPC alone (bitcoin.Node BlockHash + Block, decoded), in the same
// iteration. ratio = RPC-only time / follower time (goal ≥ 0.8). Every iteration starts
// from a fresh store and checks that all 20 invoices settled.
//
//	go test ./watcher -run '^$' -bench BitcoinCatchUp -benchtime 3x
func BenchmarkBitcoinCatchUp(b *testing.B) {
	const payments = 20
	node := btcdtest.Start(b)
	node.Fund(b)
	tpub := benchTpub(b)
	_, _, tmpl := benchShop(b, storetest.SQLite(b), tpub, payments)
	tip := node.TipHeight(b)
	gap := (catchUpBlocks - int(tip)) / payments
	for _, d := range tmpl {
		node.Pay(b, btcAddr(b, d.Options[0].Address), d.Options[0].AmountDue.Int64())
		node.Mine(b, gap)
	}
	if rest := catchUpBlocks - int(node.TipHeight(b)); rest > 0 {
		node.Mine(b, rest)
	}
	tip = node.TipHeight(b)
	rpc, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest})
	if err != nil {
		b.Fatal(err)
	}
	defer rpc.Close()
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			var rpcTime, followTime time.Duration
			for range b.N {
				b.StopTimer()
				st := be.Open(b)
				svc, _, ds := benchShop(b, st, tpub, payments)
				start := time.Now()
				for h := int64(1); h <= tip; h++ {
					hash, err := rpc.BlockHash(ctx, h)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := rpc.Block(ctx, hash); err != nil {
						b.Fatal(err)
					}
				}
				rpcTime += time.Since(start)
				src, err := watcher.NewBitcoinSource(rpc, bitcoin.Regtest)
				if err != nil {
					b.Fatal(err)
				}
				f := watcher.NewFollower(st, src, svc, watcher.Config{StartHeight: 1, Logger: quiet()})
				b.StartTimer()
				start = time.Now()
				applied := 0
				for {
					n, err := f.Step(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if applied += n; n == 0 {
						break
					}
				}
				followTime += time.Since(start)
				b.StopTimer()
				if applied != int(tip) {
					b.Fatalf("applied %d blocks, the chain has %d", applied, tip)
				}
				for _, d := range ds {
					got, err := svc.Get(ctx, "", d.Invoice.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got.Invoice.Status != "settled" || len(got.Payments) != 1 {
						b.Fatalf("invoice %s: %s with %d payments after catch-up", d.Invoice.ID, got.Invoice.Status, len(got.Payments))
					}
				}
			}
			blocks := float64(tip) * float64(b.N)
			b.ReportMetric(blocks/followTime.Seconds(), "follower_blocks/s")
			b.ReportMetric(blocks/rpcTime.Seconds(), "rpc_only_blocks/s")
			b.ReportMetric(rpcTime.Seconds()/followTime.Seconds(), "ratio")
		})
	}
}

// latencyTrials is the number of blocks timed per mode and iteration of
// BenchmarkBlockToInvoiceLatency.
const latencyTrials = 20

// pollEvery is the poll interval of BenchmarkBlockToInvoiceLatency, with and without
// notifications.
const pollEvery = time.Second

// settleWatch records when an invoice's settlement commits: after every committed
// transaction (in the committing goroutine) it reads the watched invoice's status.
type settleWatch struct {
	st store.Store
	mu sync.Mutex
	id string
	at chan time.Time
}

func newSettleWatch(inner store.Store) (*signalStore, *settleWatch) {
	w := &settleWatch{st: inner, at: make(chan time.Time, 1)}
	return &signalStore{Store: inner, after: w.committed}, w
}

func (w *settleWatch) watch(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.id = id
}

func (w *settleWatch) committed() {
	at := time.Now()
	w.mu.Lock()
	id := w.id
	w.mu.Unlock()
	if id == "" {
		return
	}
	var inv store.Invoice
	if err := w.st.View(ctx, func(tx store.Tx) (err error) { inv, err = tx.GetInvoice(ctx, "", id); return }); err != nil {
		return
	}
	if inv.Status == "settled" {
		w.watch("")
		w.at <- at
	}
}

// latencies collects samples and reports p50 and p99.
type latencies []time.Duration

func (l latencies) quantile(q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (l latencies) report(b *testing.B) {
	b.ReportMetric(float64(l.quantile(0.5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(l.quantile(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(slices.Max(l).Microseconds())/1000, "max_ms")
}

// trial times one block: after a random pause (so blocks fall at random points of the poll
// cycle), pay prepares a payment and returns the function that makes the block; the time
// from just before that call to the commit that settles the invoice is the latency.
func trial(b *testing.B, w *settleWatch, id string, pay func() func()) time.Duration {
	b.Helper()
	time.Sleep(rand.N(pollEvery))
	mine := pay()
	w.watch(id)
	t0 := time.Now()
	mine()
	select {
	case at := <-w.at:
		return at.Sub(t0)
	case <-time.After(30 * time.Second):
		b.Fatalf("invoice %s did not settle within 30 s of its block", id)
		return 0
	}
}

// BenchmarkBlockToInvoiceLatency measures the time from a block's arrival at the node to
// the commit that settles the invoice it pays (1 confirmation), with a runner polling every
// second, and with the same runner woken by node notifications: btcd's websocket
// (notifyblocks) and EVM newHeads over WebSocket from the in-process dev chain. Each
// iteration times latencyTrials blocks per mode; p50/p99/max are reported in ms.
//
//	go test ./watcher -run '^$' -bench BlockToInvoiceLatency -benchtime 1x
func BenchmarkBlockToInvoiceLatency(b *testing.B) {
	b.Run("bitcoin", func(b *testing.B) {
		node := btcdtest.Start(b)
		node.Fund(b)
		for _, notify := range []bool{false, true} {
			b.Run(mode(notify), func(b *testing.B) {
				st, w := newSettleWatch(storetest.SQLite(b))
				svc, mid, _ := benchShop(b, st, benchTpub(b), 0)
				n, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest})
				if err != nil {
					b.Fatal(err)
				}
				defer n.Close()
				src, err := watcher.NewBitcoinSource(n, bitcoin.Regtest)
				if err != nil {
					b.Fatal(err)
				}
				var opts []watcher.RunnerOption
				if notify {
					nt, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{node.RPCURL()}, Logger: quiet()})
					if err != nil {
						b.Fatal(err)
					}
					opts = append(opts, watcher.WithNotifier(nt))
				}
				r := watcher.NewRunner(watcher.NewFollower(st, src, svc, watcher.Config{Logger: quiet()}), pollEvery, opts...)
				r.Start(ctx)
				defer r.Stop()
				var lat latencies
				for range b.N {
					for range latencyTrials {
						d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
						if err != nil {
							b.Fatal(err)
						}
						o := d.Options[0]
						lat = append(lat, trial(b, w, d.Invoice.ID, func() func() {
							node.Pay(b, btcAddr(b, o.Address), o.AmountDue.Int64())
							return func() { node.Mine(b, 1) }
						}))
					}
				}
				lat.report(b)
			})
		}
	})
	b.Run("ethereum", func(b *testing.B) {
		c, err := devchain.Start(ctx, devchain.Config{Listen: "127.0.0.1:0", BlockEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = c.Stop() }()
		for _, notify := range []bool{false, true} {
			b.Run(mode(notify), func(b *testing.B) {
				st, w := newSettleWatch(storetest.SQLite(b))
				svc, mid := benchEVMShop(b, st, c)
				src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: devchain.ChainID,
					URLs: []string{c.RPCURL()}, Logger: quiet()})
				if err != nil {
					b.Fatal(err)
				}
				defer src.Close()
				var opts []watcher.RunnerOption
				if notify {
					nt, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: []string{c.WSURL()}, Logger: quiet()})
					if err != nil {
						b.Fatal(err)
					}
					opts = append(opts, watcher.WithNotifier(nt))
				}
				r := watcher.NewRunner(watcher.NewFollower(st, src, svc, watcher.Config{Logger: quiet()}), pollEvery, opts...)
				r.Start(ctx)
				defer r.Stop()
				var lat latencies
				for range b.N {
					for range latencyTrials {
						d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "20.00", Currency: "USD",
							Confirmations: map[string]int{"ethereum": 1}, PaymentMethods: []string{"ETH"}})
						if err != nil {
							b.Fatal(err)
						}
						o := d.Options[0]
						lat = append(lat, trial(b, w, d.Invoice.ID, func() func() {
							sendPending(b, c, common.HexToAddress(o.Address), o.AmountDue)
							return func() { c.Commit() }
						}))
					}
				}
				lat.report(b)
			})
		}
	})
}

func mode(notify bool) string {
	if notify {
		return "notify+poll-1s"
	}
	return "poll-1s"
}

// sendPending sends wei from the dev chain's payer to to without sealing a block, and
// waits until the transaction is pending in the pool (so the next Commit includes it).
func sendPending(b *testing.B, c *devchain.Chain, to common.Address, wei *big.Int) {
	b.Helper()
	cl := c.Client()
	key := c.PayerKey()
	nonce, err := cl.PendingNonceAt(ctx, c.Payer())
	if err != nil {
		b.Fatal(err)
	}
	head, err := cl.HeaderByNumber(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	id := big.NewInt(devchain.ChainID)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{ChainID: id, Nonce: nonce,
		GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, To: &to, Value: wei})
	if err != nil {
		b.Fatal(err)
	}
	if err := cl.SendTransaction(ctx, tx); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := cl.PendingNonceAt(ctx, c.Payer())
		if err != nil {
			b.Fatal(err)
		}
		if n > nonce {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the transaction never became pending")
		}
		time.Sleep(time.Millisecond)
	}
}

// benchEVMShop creates a merchant with an Ethereum wallet (ETH only) on the dev chain.
func benchEVMShop(b *testing.B, st store.Store, c *devchain.Chain) (*invoices.Service, string) {
	b.Helper()
	evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: devchain.ChainID, Factory: c.Factory()})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"ethereum": evm}, Quoter: evmQuoter{}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	mid := store.NewID("sto", now)
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "bench", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "ethereum",
			Network: "dev", Treasury: c.Deployer().Hex(), CreatedAt: now})
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc, mid
}
