package watcher_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// The shape of the high-throughput chain (issue 22): a block every 2 s with 300
// transactions, 200 of them ERC-20 transfers (one Transfer log each), and 100,000 open
// invoices watched, each with an ETH and a USDC option on its deposit address.
const (
	loadBlockTime = 2 * time.Second
	loadTxs       = 300
	loadLogs      = 200
	loadWatched   = 100_000
	// loadPays is how many of a block's transactions pay invoices (half ETH, half USDC),
	// each exactly its amount due; the rest go to other addresses.
	loadPays    = 10
	loadChainID = 1337
)

var (
	loadUSDC  = common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	loadOther = common.HexToAddress("0xdAC17F958D2ee523a2206206994597C13D831ec7") // a token nobody configured
)

// loadBlocks is the number of blocks followed: CHAINPAY_BENCH_EVM_BLOCKS or 60 (2 minutes
// of chain time).
func loadBlocks(tb testing.TB) int {
	if v := os.Getenv("CHAINPAY_BENCH_EVM_BLOCKS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			tb.Fatalf("CHAINPAY_BENCH_EVM_BLOCKS=%q: want a positive number", v)
		}
		return n
	}
	return 60
}

// BenchmarkEVMHighThroughput follows an EVM chain of 2-second blocks with 300 transactions
// and 200 ERC-20 Transfer logs each, 10 of them paying invoices, with 100,000 open invoices
// watched (200,000 payment options), block by block as they arrive: the real
// watcher.Follower over the real watcher.EthereumSource (JSON-RPC over HTTP, balance
// reconciliation of every watched address) on each store backend, the
// invoice service with the ledger settler. The node is fakeEVMNode: real encoded blocks,
// receipts and logs answered at once, so the time is chainpay's (and the fake node's
// encoding, which shares the two CPUs — a conservative figure).
//
// Reported per backend: x-realtime = chain time / processing time (the sum of the
// follower's steps, one per block; goal: a wide margin over 1), ms/block p50, p99 and max,
// source-ms/block, the part of a step spent inside the source (RPC, decoding, matching,
// reconciliation), and cpu-ms/block / x-realtime-cpu, the same from this process's CPU time
// (user + system; on a shared machine the wall time includes waiting for a core; the fake
// node's CPU is in it, the Postgres server's is not). Every run checks the paid invoices
// ended settled or processing as their depth says.
//
//	go test ./watcher -run '^$' -bench EVMHighThroughput -benchtime 1x -timeout 30m
//	CHAINPAY_BENCH_EVM_BLOCKS=150 go test ./watcher -run '^$' -bench 'EVMHighThroughput/postgres' -benchtime 1x
func BenchmarkEVMHighThroughput(b *testing.B) {
	blocks := loadBlocks(b)
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			for range b.N {
				followLoad(b, be, blocks)
			}
		})
	}
}

// timedSource measures the time spent inside a source's calls.
type timedSource struct {
	watcher.Source
	mu    sync.Mutex
	spent time.Duration
}

func (s *timedSource) add(t time.Time) {
	s.mu.Lock()
	s.spent += time.Since(t)
	s.mu.Unlock()
}

func (s *timedSource) Tip(ctx context.Context) (watcher.Header, error) {
	defer s.add(time.Now())
	return s.Source.Tip(ctx)
}

func (s *timedSource) HeaderAt(ctx context.Context, h int64) (watcher.Header, error) {
	defer s.add(time.Now())
	return s.Source.HeaderAt(ctx, h)
}

func (s *timedSource) BlockAt(ctx context.Context, h int64) (watcher.Block, error) {
	defer s.add(time.Now())
	return s.Source.BlockAt(ctx, h)
}

// Watch passes the addresses to watch on (the source is filtered), as the follower would to
// the source itself.
func (s *timedSource) Watch(addresses []string) error {
	return s.Source.(watcher.Watcher).Watch(addresses)
}

// Unwatch passes closed invoices' addresses on, as the follower would to the source itself.
func (s *timedSource) Unwatch(addresses []string) {
	if u, ok := s.Source.(watcher.Unwatcher); ok {
		u.Unwatch(addresses)
	}
}

func (s *timedSource) take() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.spent
	s.spent = 0
	return d
}

// loadInvoice is a seeded invoice: its id and deposit address, and the amounts due.
type loadInvoice struct {
	id        string
	address   common.Address
	eth, usdc *big.Int
}

// seedLoadShop creates an EVM merchant (ETH + USDC) on st, one invoice through the service
// and loadWatched-1 copies of it (same price and amounts, an address and ids of their
// own, consecutive creation times) through the store, and returns them in creation order.
func seedLoadShop(b *testing.B, st store.Store, rng *rand.Rand) (*invoices.Service, []loadInvoice) {
	b.Helper()
	f, err := ethereum.NewFactory(common.HexToAddress("0xfac7"), common.HexToAddress("0x1a57"))
	if err != nil {
		b.Fatal(err)
	}
	evm, err := deposit.NewEVM(deposit.EVMConfig{Chain: "ethereum", ChainID: loadChainID, Factory: f,
		Tokens: map[string]deposit.EVMToken{"USDC": {Contract: loadUSDC, Decimals: 6}}})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"ethereum": evm}, Quoter: evmQuoter{},
		Settler: &ledger.Settler{}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	mid := store.NewID("sto", start)
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "load", CreatedAt: start}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", start), MerchantID: mid, Chain: "ethereum",
			Network: strconv.Itoa(loadChainID), Treasury: "0x000000000000000000000000000000000000bEEF", Tokens: []string{"USDC"},
			CreatedAt: start})
	})
	if err != nil {
		b.Fatal(err)
	}
	d, err := svc.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD", ExpiresIn: 4 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if len(d.Options) != 2 {
		b.Fatalf("template options %+v, want ETH and USDC", d.Options)
	}
	tmpl := loadInvoice{id: d.Invoice.ID, address: common.HexToAddress(d.Options[0].Address)}
	for _, o := range d.Options {
		switch o.Asset {
		case "ETH":
			tmpl.eth = o.AmountDue
		case "USDC":
			tmpl.usdc = o.AmountDue
		}
	}
	out := []loadInvoice{tmpl}
	// The copies were created an hour before the template, a millisecond apart: older than
	// the follower's 10-minute look-back for new addresses, as open invoices mostly are.
	base := d.Invoice.CreatedAt.Add(-time.Hour)
	const batch = 5000
	for len(out) < loadWatched {
		// The rows are made before the transaction, so a retried closure writes the same ones.
		var invs []store.Invoice
		var opts []store.PaymentOption
		for i := range min(batch, loadWatched-len(out)) {
			at := base.Add(time.Duration(len(out)+i) * time.Millisecond)
			inv := d.Invoice
			inv.ID, inv.CreatedAt, inv.UpdatedAt = store.NewID("inv", at), at, at
			addr := randomAddress(rng)
			invs = append(invs, inv)
			for _, o := range d.Options {
				o.ID, o.InvoiceID, o.Address, o.CreatedAt = store.NewID("opt", at), inv.ID, ethereum.FormatAddress(addr), at
				opts = append(opts, o)
			}
			out = append(out, loadInvoice{id: inv.ID, address: addr, eth: tmpl.eth, usdc: tmpl.usdc})
		}
		err := st.Tx(ctx, func(tx store.Tx) error {
			for _, inv := range invs {
				if err := tx.CreateInvoice(ctx, inv); err != nil {
					return err
				}
			}
			for _, o := range opts {
				if err := tx.CreatePaymentOption(ctx, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if len(out) != loadWatched {
		b.Fatalf("seeded %d invoices, want %d", len(out), loadWatched)
	}
	return svc, out
}

// loadChain mines blocks 1..n on node, 2 s apart and ending about now: block i carries
// loadTxs transactions, loadLogs of them token transfers (USDC and another token), and pays
// paid[(i-1)*loadPays:i*loadPays] (even ones in ETH, odd ones in USDC), shuffled in.
func loadChain(b *testing.B, node *fakeEVMNode, n int, paid []loadInvoice, rng *rand.Rand) {
	b.Helper()
	first := time.Now().Add(-loadBlockTime * time.Duration(n))
	for i := 1; i <= n; i++ {
		var txs []fakeTransfer
		natives, tokens := 0, 0
		for j := range loadPays {
			inv := paid[(i-1)*loadPays+j]
			if j%2 == 0 {
				txs = append(txs, fakeTransfer{To: inv.address, Amount: inv.eth})
				natives++
			} else {
				txs = append(txs, fakeTransfer{To: inv.address, Token: &loadUSDC, Amount: inv.usdc})
				tokens++
			}
		}
		for ; natives < loadTxs-loadLogs; natives++ {
			txs = append(txs, fakeTransfer{To: randomAddress(rng), Amount: big.NewInt(rng.Int64N(1e18) + 1)})
		}
		for ; tokens < loadLogs; tokens++ {
			tok := &loadUSDC
			if tokens%4 == 3 {
				tok = &loadOther
			}
			txs = append(txs, fakeTransfer{To: randomAddress(rng), Token: tok, Amount: big.NewInt(rng.Int64N(1e12) + 1)})
		}
		rng.Shuffle(len(txs), func(a, c int) { txs[a], txs[c] = txs[c], txs[a] })
		node.mine(b, first.Add(loadBlockTime*time.Duration(i)), txs)
	}
}

// openLoadStore opens be's store and returns a function that refreshes the planner's
// statistics (ANALYZE on Postgres; nothing on SQLite).
func openLoadStore(b *testing.B, be storetest.Backend) (store.Store, func()) {
	b.Helper()
	if be.Name != "postgres" {
		return be.Open(b), func() {}
	}
	url := storetest.PostgresSchemaURL(b)
	st, err := postgres.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return st, func() {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
}

// followLoad runs one measurement: n blocks followed live.
func followLoad(b *testing.B, be storetest.Backend, n int) {
	b.StopTimer()
	if n*loadPays > loadWatched {
		b.Fatalf("%d blocks pay more invoices than there are", n)
	}
	rng := rand.New(rand.NewPCG(22, 5))
	st, analyze := openLoadStore(b, be)
	t0 := time.Now()
	svc, seeded := seedLoadShop(b, st, rng)
	// A production database has statistics (autovacuum's ANALYZE); the 100,000 rows seeded
	// a moment ago do not yet, and a generic plan made from an empty table's statistics
	// once took 1 s a call (InvoicesDue driven from every option of the chain).
	analyze()
	seedTime := time.Since(t0)
	// The paid invoices are spread over the whole set (old and recent alike).
	paid := slices.Clone(seeded)
	rng.Shuffle(len(paid), func(a, c int) { paid[a], paid[c] = paid[c], paid[a] })
	paid = paid[:n*loadPays]

	node := newFakeEVMNode(b, loadChainID, map[common.Address]uint8{loadUSDC: 6, loadOther: 6})
	t0 = time.Now()
	loadChain(b, node, n, paid, rng)
	chainTime := time.Since(t0)
	node.setTip(0)
	es, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: loadChainID,
		URLs: []string{node.serve(b)}, Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: loadUSDC, Decimals: 6}},
		Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer es.Close()
	if err := es.Check(ctx); err != nil {
		b.Fatal(err)
	}
	src := &timedSource{Source: es}
	f := watcher.NewFollower(st, src, svc, watcher.Config{StartHeight: 1, TipFreshness: watcher.EVMTipFreshness, Logger: quiet()})
	t0 = time.Now()
	if _, err := f.Step(ctx); err != nil { // the cursor at block 0, the watch list loaded
		b.Fatal(err)
	}
	b.Logf("%s: seeded %d invoices in %s, mined %d blocks in %s, first step (cursor, %d addresses watched) %s",
		be.Name, len(seeded), seedTime.Round(time.Millisecond), n, chainTime.Round(time.Millisecond), len(seeded),
		time.Since(t0).Round(time.Millisecond))
	src.take()

	var steps latencyList
	var inSource time.Duration
	cpu0 := processCPU(b)
	b.StartTimer()
	for h := int64(1); h <= int64(n); h++ {
		node.setTip(h)
		t := time.Now()
		applied, err := f.Step(ctx)
		steps = append(steps, time.Since(t))
		if err != nil {
			b.Fatalf("block %d: %v", h, err)
		}
		if applied != 1 {
			b.Fatalf("block %d: applied %d blocks", h, applied)
		}
		inSource += src.take()
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0

	// Every paid invoice is settled once 12 blocks deep, processing before.
	want := map[string]string{}
	for i, inv := range paid {
		depth := n - i/loadPays // the block paying it is i/loadPays+1
		want[inv.id] = string(invoices.StatusProcessing)
		if depth >= deposit.DefaultEVMConfirmations {
			want[inv.id] = string(invoices.StatusSettled)
		}
	}
	for _, inv := range paid {
		d, err := svc.Get(ctx, "", inv.id)
		if err != nil {
			b.Fatal(err)
		}
		if string(d.Invoice.Status) != want[inv.id] {
			b.Fatalf("invoice %s: %s, want %s", inv.id, d.Invoice.Status, want[inv.id])
		}
	}

	proc := steps.sum()
	b.ReportMetric(float64(loadBlockTime*time.Duration(n))/float64(proc), "x-realtime")
	b.ReportMetric(ms(steps.quantile(0.5)), "ms/block-p50")
	b.ReportMetric(ms(steps.quantile(0.99)), "ms/block-p99")
	b.ReportMetric(ms(slices.Max(steps)), "ms/block-max")
	b.ReportMetric(ms(inSource)/float64(n), "source-ms/block")
	b.ReportMetric(ms(cpu)/float64(n), "cpu-ms/block")
	b.ReportMetric(float64(loadBlockTime*time.Duration(n))/float64(cpu), "x-realtime-cpu")
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("%s: %d blocks (%s of chain time) followed in %s: %.1f× real time; per block p50 %.1f ms, p99 %.1f ms, max %.1f ms, in the source %.1f ms; this process's CPU %.1f ms per block (%.1f× real time; with Postgres its server's CPU is not counted); load average %s",
		be.Name, n, loadBlockTime*time.Duration(n), proc.Round(time.Millisecond),
		float64(loadBlockTime*time.Duration(n))/float64(proc), ms(steps.quantile(0.5)), ms(steps.quantile(0.99)),
		ms(slices.Max(steps)), ms(inSource)/float64(n), ms(cpu)/float64(n), float64(loadBlockTime*time.Duration(n))/float64(cpu),
		strings.TrimSpace(string(load)))
}

// processCPU returns the CPU time (user + system) this process has used so far: on a
// shared machine the wall time of a step includes waiting for a core, its CPU time does not.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// latencyList is a list of durations.
type latencyList []time.Duration

func (l latencyList) sum() time.Duration {
	var s time.Duration
	for _, d := range l {
		s += d
	}
	return s
}

// quantile returns the q-quantile by the nearest-rank method.
func (l latencyList) quantile(q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
