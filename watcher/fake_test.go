package watcher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// clock is a settable clock shared by the invoice service and the follower. Every reading
// advances it by a millisecond, so events written one after the other have distinct,
// ordered times (event ids sort by millisecond) and the order the test reads is the order
// they were written.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fakeChain is a watcher.Source over an in-memory chain that the test edits: blocks are
// mined with chosen transfers and times, branches replace blocks (reorgs), the mempool is
// a list. Like the BitcoinSource it reports every transfer; as a watchingChain, like the
// EthereumSource, only those to the addresses the follower handed it.
type fakeChain struct {
	mu        sync.Mutex
	blocks    []watcher.Block // index = height
	pool      []watcher.Transfer
	noMempool bool // like an EVM chain: Mempool returns nil
	lag       int  // the node answers this many blocks behind its best chain
	filter    bool // a watchingChain: report only transfers to watched addresses
	watched   map[string]bool
	branch    int
	// calls, when set, receives the name of every method called (non-blocking).
	calls chan string
	// onTip, when set, runs once at the next Tip call, before it answers.
	onTip func()
}

// watchingChain is the fakeChain as a watcher.Watcher and watcher.Unwatcher: the
// follower's watch-list path, which the EthereumSource takes.
type watchingChain struct{ *fakeChain }

var (
	_ watcher.Source    = (*fakeChain)(nil)
	_ watcher.Watcher   = watchingChain{}
	_ watcher.Unwatcher = watchingChain{}
)

// watching returns the chain as a watchingChain (from then on it reports only the
// transfers to the addresses it is handed).
func (c *fakeChain) watching() watchingChain {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.filter = true
	return watchingChain{c}
}

func newFakeChain(genesis time.Time) *fakeChain {
	c := &fakeChain{watched: map[string]bool{}}
	c.blocks = []watcher.Block{{Header: watcher.Header{Height: 0, Hash: "b0-0", Time: genesis}}}
	return c
}

func (c *fakeChain) called(m string) {
	if c.calls != nil {
		select {
		case c.calls <- m:
		default:
		}
	}
}

func (c *fakeChain) Chain() string { return "bitcoin" }

func (c *fakeChain) Filtered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.filter
}

func (c watchingChain) Watch(addresses []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range addresses {
		c.watched[a] = true
	}
	return nil
}

// Unwatch implements watcher.Unwatcher.
func (c watchingChain) Unwatch(addresses []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range addresses {
		delete(c.watched, a)
	}
}

// isWatched reports whether the follower handed address to the chain and did not take it back.
func (c *fakeChain) isWatched(address string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watched[address]
}

// watchedCount is the size of the chain's watch set (a watchingChain's).
func (c *fakeChain) watchedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watched)
}

func (c *fakeChain) Tip(context.Context) (watcher.Header, error) {
	c.called("Tip")
	c.mu.Lock()
	hook := c.onTip
	c.onTip = nil
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[len(c.blocks)-1-c.lag].Header, nil
}

func (c *fakeChain) HeaderAt(ctx context.Context, height int64) (watcher.Header, error) {
	b, err := c.BlockAt(ctx, height)
	return b.Header, err
}

func (c *fakeChain) BlockAt(_ context.Context, height int64) (watcher.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if height < 0 || height >= int64(len(c.blocks)-c.lag) {
		return watcher.Block{}, fmt.Errorf("fake chain: no block at height %d (tip %d)", height, len(c.blocks)-1)
	}
	b := c.blocks[height]
	out := watcher.Block{Header: b.Header}
	for _, t := range b.Transfers {
		if !c.filter || c.watched[t.Address] {
			out.Transfers = append(out.Transfers, t)
		}
	}
	return out, nil
}

func (c *fakeChain) Mempool(context.Context) ([]watcher.Transfer, error) {
	c.called("Mempool")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.noMempool {
		return nil, nil
	}
	out := []watcher.Transfer{}
	for _, t := range c.pool {
		if !c.filter || c.watched[t.Address] {
			out = append(out, t)
		}
	}
	return out, nil
}

// mine appends a block at time at holding ts; transfers it mines leave the mempool.
func (c *fakeChain) mine(at time.Time, ts ...watcher.Transfer) watcher.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.blocks[len(c.blocks)-1]
	h := int64(len(c.blocks))
	b := watcher.Block{Header: watcher.Header{Height: h, Hash: fmt.Sprintf("b%d-%d", c.branch, h), Parent: prev.Hash, Time: at},
		Transfers: ts}
	c.blocks = append(c.blocks, b)
	c.pool = slices.DeleteFunc(c.pool, func(p watcher.Transfer) bool {
		return slices.ContainsFunc(ts, func(t watcher.Transfer) bool { return t.TxID == p.TxID })
	})
	return b.Header
}

// fork drops the blocks above height (the common ancestor) and starts a new branch there;
// the dropped blocks' transfers do not go back to the mempool (the test decides that).
func (c *fakeChain) fork(height int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks = c.blocks[:height+1]
	c.branch++
}

func (c *fakeChain) setPool(ts ...watcher.Transfer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pool = slices.Clone(ts)
}

func (c *fakeChain) tip() watcher.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[len(c.blocks)-1].Header
}

// fakeEnv is a shop (real invoices.Service on SQLite) followed over a fakeChain, with a
// clock both share.
type fakeEnv struct {
	t     *testing.T
	clock *clock
	chain *fakeChain
	shop  *shop
	f     *watcher.Follower
	// watchList makes the followers' source a watchingChain (the EthereumSource's path);
	// otherwise the follower matches every transfer in the store (the BitcoinSource's).
	watchList bool
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakeEnv(t *testing.T, confirmations int) *fakeEnv {
	t.Helper()
	return newFakeEnvOn(t, storetest.SQLite(t), confirmations)
}

// newFakeEnvOn builds the env on st. Every store transaction closure runs twice
// (storetest.RetryTwice): the follower and the invoice service must be retry-safe.
func newFakeEnvOn(t *testing.T, st store.Store, confirmations int) *fakeEnv {
	t.Helper()
	return newFakeEnvMode(t, st, confirmations, false)
}

// newFakeEnvMode builds the env on st, its follower on the watch-list path if watchList.
func newFakeEnvMode(t *testing.T, st store.Store, confirmations int, watchList bool) *fakeEnv {
	t.Helper()
	st = storetest.RetryTwice(st)
	clk := &clock{now: t0}
	svc, err := invoices.New(st, invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, confirmations)},
		Quoter: fixedQuoter{}, Now: clk.Now, Logger: quiet(), Settler: &ledger.Settler{}})
	if err != nil {
		t.Fatal(err)
	}
	s := newShop(t, st, confirmations)
	s.svc = svc
	e := &fakeEnv{t: t, clock: clk, chain: newFakeChain(t0.Add(-time.Hour)), shop: s, watchList: watchList}
	for range 3 {
		e.chain.mine(t0.Add(-30 * time.Minute))
	}
	e.f = e.follower(st)
	e.step() // the cursor starts at the tip
	return e
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// follower returns a fresh follower (a restarted process) of the fake chain on st.
func (e *fakeEnv) follower(st store.Store) *watcher.Follower {
	return watcher.NewFollower(st, e.source(), e.shop.svc, watcher.Config{Now: e.clock.Now, Logger: quiet()})
}

// source is the env's chain as its followers read it (see fakeEnv.watchList).
func (e *fakeEnv) source() watcher.Source {
	if e.watchList {
		return e.chain.watching()
	}
	return e.chain
}

func (e *fakeEnv) step() int {
	e.t.Helper()
	n, err := e.f.Step(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// invoice creates a USD invoice and returns its id and BTC option.
func (e *fakeEnv) invoice(price string) (string, store.PaymentOption) {
	e.t.Helper()
	d, o := e.shop.invoice(e.t, price)
	return d.Invoice.ID, o
}

func (e *fakeEnv) get(id string) invoices.Details {
	e.t.Helper()
	return e.shop.get(e.t, id)
}

func (e *fakeEnv) events(id string) []string {
	e.t.Helper()
	evs, err := e.shop.svc.Events(ctx, e.shop.mid, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func pay(txid string, o store.PaymentOption, amount *big.Int) watcher.Transfer {
	return watcher.Transfer{TxID: txid, Index: 0, Address: o.Address, Asset: "BTC", Amount: amount}
}

func (e *fakeEnv) want(id string, status invoices.Status, flags ...invoices.Flag) invoices.Details {
	e.t.Helper()
	d := e.get(id)
	if d.Invoice.Status != string(status) {
		e.t.Fatalf("invoice %s is %s %v, want %s %v (payments %+v)", id, d.Invoice.Status, d.Invoice.Flags, status, flags, d.Payments)
	}
	for _, f := range flags {
		if !slices.Contains(d.Invoice.Flags, string(f)) {
			e.t.Fatalf("invoice %s flags %v, want %s", id, d.Invoice.Flags, f)
		}
	}
	return d
}

// TestFakeMempoolPaymentReplaced: a mempool payment that leaves the mempool without being
// mined is removed only after it is missing from two consecutive snapshots, and the invoice
// follows (processing → invalid). A replacement that pays the same address again (RBF with
// a new txid) keeps the invoice processing.
func TestFakeMempoolPaymentReplaced(t *testing.T) {
	t.Parallel()
	t.Run("double spent", func(t *testing.T) {
		t.Parallel()
		e := newFakeEnv(t, 1)
		id, o := e.invoice("25.00")
		e.chain.setPool(pay("tx-a", o, o.AmountDue))
		e.step()
		e.want(id, invoices.StatusProcessing)
		e.chain.setPool() // double-spent elsewhere: gone from the mempool
		e.step()
		if d := e.want(id, invoices.StatusProcessing); d.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("removed after one missing snapshot: %+v", d.Payments[0])
		}
		e.step()
		d := e.want(id, invoices.StatusInvalid)
		if len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentRemoved {
			t.Fatalf("payments %+v, want one removed", d.Payments)
		}
		want := []string{"invoice.created", "invoice.payment_received", "invoice.processing", "invoice.invalid"}
		if got := e.events(id); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		e.step() // nothing more happens
		if got := e.events(id); !slices.Equal(got, want) {
			t.Fatalf("events after another step %v, want %v", got, want)
		}
	})
	t.Run("back after one missing snapshot", func(t *testing.T) {
		t.Parallel()
		e := newFakeEnv(t, 1)
		id, o := e.invoice("25.00")
		p := pay("tx-a", o, o.AmountDue)
		e.chain.setPool(p)
		e.step()
		e.chain.setPool()
		e.step()
		e.chain.setPool(p) // a node that briefly lost it (restart, eviction and resubmission)
		e.step()
		e.chain.setPool()
		e.step()
		if d := e.want(id, invoices.StatusProcessing); d.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("payment %+v: the missing count must restart when it reappears", d.Payments[0])
		}
		e.chain.mine(t0.Add(time.Minute), p)
		e.step()
		e.want(id, invoices.StatusSettled)
	})
	t.Run("replaced by fee bump", func(t *testing.T) {
		t.Parallel()
		e := newFakeEnv(t, 1)
		id, o := e.invoice("25.00")
		e.chain.setPool(pay("tx-a", o, o.AmountDue))
		e.step()
		bump := pay("tx-b", o, o.AmountDue)
		e.chain.setPool(bump)
		e.step()
		e.step()
		d := e.want(id, invoices.StatusProcessing)
		byTx := map[string]string{}
		for _, p := range d.Payments {
			byTx[p.TxID] = p.Status
		}
		if byTx["tx-a"] != store.PaymentRemoved || byTx["tx-b"] != store.PaymentMempool || len(byTx) != 2 {
			t.Fatalf("payments %v, want tx-a removed and tx-b in the mempool", byTx)
		}
		e.chain.mine(t0.Add(time.Minute), bump)
		e.step()
		e.want(id, invoices.StatusSettled)
		if slices.Contains(e.get(id).Invoice.Flags, string(invoices.FlagReorged)) {
			t.Fatal("a replaced unconfirmed payment is not a reorg")
		}
	})
}

// TestFakeDeepReorgAfterSettlement: the payment's block is reorged out after the invoice
// settled, deeper than the required confirmations, and the payment is not mined again (a
// double spend). With a visible mempool the payment goes back to unconfirmed, then is
// removed after two snapshots without it; without one (EVM) it stays pending for
// OrphanGraceBlocks blocks of the new branch, then is removed. Either way the invoice stays
// settled, gets the reorged flag and exactly one invoice.reorged event.
func TestFakeDeepReorgAfterSettlement(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		noMempool bool
		steps     int // steps after the reorg until the payment is removed
		grace     int // blocks mined before the last of those steps
	}{{"bitcoin mempool", false, 2, 0}, {"no mempool", true, 2, 12}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEnv(t, 2)
			e.chain.noMempool = tc.noMempool
			id, o := e.invoice("25.00")
			fork := e.chain.tip().Height
			p := pay("tx-a", o, o.AmountDue)
			e.chain.mine(t0.Add(time.Minute), p)
			e.chain.mine(t0.Add(2 * time.Minute))
			e.chain.mine(t0.Add(3 * time.Minute))
			e.step()
			e.want(id, invoices.StatusSettled)
			// Three blocks deep (2 required) are replaced by a longer branch without the payment.
			e.chain.fork(fork)
			for i := range 4 {
				e.chain.mine(t0.Add(time.Duration(4+i) * time.Minute))
			}
			for i := 1; i < tc.steps; i++ {
				e.step()
				d := e.want(id, invoices.StatusSettled)
				if d.Payments[0].Status != store.PaymentMempool || d.Payments[0].BlockHeight != nil ||
					slices.Contains(d.Invoice.Flags, string(invoices.FlagReorged)) {
					t.Fatalf("step %d after the reorg: %+v %v", i, d.Payments[0], d.Invoice.Flags)
				}
			}
			for i := range tc.grace {
				e.chain.mine(t0.Add(time.Duration(10+i) * time.Minute))
			}
			e.step()
			d := e.want(id, invoices.StatusSettled, invoices.FlagReorged)
			if d.Payments[0].Status != store.PaymentRemoved {
				t.Fatalf("payment %+v, want removed", d.Payments[0])
			}
			e.step()
			// The payment confirmed once; the reorg does not take that event back or repeat it.
			want := []string{"invoice.created", "invoice.payment_received", "invoice.processing", "invoice.payment_confirmed",
				"invoice.settled", "invoice.reorged"}
			if got := e.events(id); !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
			var c store.Cursor
			_ = e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return })
			if tip := e.chain.tip(); c.Height != tip.Height || c.Hash != tip.Hash {
				t.Fatalf("cursor %d %s, tip %d %s", c.Height, c.Hash, tip.Height, tip.Hash)
			}
		})
	}
}

// TestFakeChainShorterThanCursor: the node's best chain becomes shorter than the cursor
// (invalidateblock without a new branch yet, a node restored from an older state, or simply
// a node that is behind). Lag is not a reorg: while the node's blocks agree with ours the
// follower waits. Once the node shows another block at a height we applied, the follower
// rewinds to the common ancestor, orphans the payments above it, and follows the new branch.
// TestFakeReorgedPaymentConfirmsOnce: invoice.payment_confirmed is stored once per payment.
// A payment reorged out after it reached its confirmations and mined again on the new
// branch does not confirm a second time (and keeps its first confirmation time); one
// reorged out before it reached them confirms once, on the branch where it does. Every
// closure runs twice (RetryTwice) and each case also restarts the follower.
func TestFakeReorgedPaymentConfirmsOnce(t *testing.T) {
	t.Parallel()
	count := func(evs []string) (n int) {
		for _, ev := range evs {
			if ev == "invoice.payment_confirmed" {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name  string
		after int // blocks mined on top of the payment before the reorg (2 required)
	}{{"after its confirmations", 2}, {"before its confirmations", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEnv(t, 2)
			id, o := e.invoice("25.00")
			fork := e.chain.tip().Height
			p := pay("tx-a", o, o.AmountDue)
			e.chain.mine(t0.Add(time.Minute), p)
			for i := range tc.after {
				e.chain.mine(t0.Add(time.Duration(2+i) * time.Minute))
			}
			e.step()
			wantConfirmed := 0
			if tc.after > 0 {
				wantConfirmed = 1
				e.want(id, invoices.StatusSettled)
			}
			if got := count(e.events(id)); got != wantConfirmed {
				t.Fatalf("before the reorg: %d payment_confirmed events %v, want %d", got, e.events(id), wantConfirmed)
			}
			first := e.get(id).Payments[0].ConfirmedAt
			// A longer branch mines the same transaction again, one block later.
			e.chain.fork(fork)
			e.chain.mine(t0.Add(10 * time.Minute))
			e.chain.mine(t0.Add(11*time.Minute), p)
			for i := range tc.after + 2 {
				e.chain.mine(t0.Add(time.Duration(12+i) * time.Minute))
			}
			e.clock.set(t0.Add(15 * time.Minute))
			e.f = e.follower(e.shop.st) // a restart, too
			e.step()
			e.step()
			d := e.want(id, invoices.StatusSettled)
			if p := d.Payments[0]; p.Status != store.PaymentConfirmed || p.ConfirmedAt == nil {
				t.Fatalf("payment after re-mining: %+v", p)
			}
			if got := count(e.events(id)); got != 1 {
				t.Fatalf("%d payment_confirmed events %v, want 1", got, e.events(id))
			}
			if first != nil && !d.Payments[0].ConfirmedAt.Equal(*first) {
				t.Fatalf("confirmed at %v after re-mining, first %v", d.Payments[0].ConfirmedAt, first)
			}
		})
	}
}

func TestFakeChainShorterThanCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		newTips int // blocks of the new branch mined right away (ancestor at height 4)
	}{{"same blocks, shorter", 0}, {"shorter, other blocks", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEnv(t, 1)
			id, o := e.invoice("25.00")
			e.chain.mine(t0.Add(time.Minute)) // 4: the common ancestor
			p := pay("tx-a", o, o.AmountDue)
			e.chain.mine(t0.Add(2*time.Minute), p) // 5
			e.chain.mine(t0.Add(3 * time.Minute))  // 6
			e.chain.mine(t0.Add(4 * time.Minute))  // 7
			e.step()
			e.want(id, invoices.StatusSettled)
			e.chain.fork(4)
			e.chain.setPool(p) // the orphaned transaction is back in the node's mempool
			if tc.newTips == 0 {
				if n := e.step(); n != 0 {
					t.Fatalf("applied %d blocks from a node behind us", n)
				}
				var c store.Cursor
				_ = e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return })
				if c.Height != 7 {
					t.Fatalf("cursor moved to %d for a node that is only behind", c.Height)
				}
				if d := e.want(id, invoices.StatusSettled); d.Payments[0].Status != store.PaymentConfirmed {
					t.Fatalf("payment %+v changed while the node was behind", d.Payments[0])
				}
				tc.newTips = 1 // now the new branch shows a different block 5
			}
			for range tc.newTips {
				e.chain.mine(t0.Add(5 * time.Minute))
			}
			if n := e.step(); n != tc.newTips {
				t.Fatalf("applied %d blocks, want %d", n, tc.newTips)
			}
			var c store.Cursor
			_ = e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return })
			if tip := e.chain.tip(); c.Height != tip.Height || c.Hash != tip.Hash {
				t.Fatalf("cursor %d %s, node tip %d %s", c.Height, c.Hash, tip.Height, tip.Hash)
			}
			d := e.want(id, invoices.StatusSettled)
			if len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentMempool || d.Payments[0].BlockHeight != nil {
				t.Fatalf("payments %+v, want the orphaned one unconfirmed", d.Payments)
			}
			e.chain.mine(t0.Add(6*time.Minute), p)
			e.step()
			d = e.want(id, invoices.StatusSettled)
			if len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentConfirmed ||
				*d.Payments[0].BlockHeight != e.chain.tip().Height || d.Payments[0].BlockHash != e.chain.tip().Hash {
				t.Fatalf("payments %+v, want one in the new tip %+v", d.Payments, e.chain.tip())
			}
			if slices.Contains(d.Invoice.Flags, string(invoices.FlagReorged)) {
				t.Fatalf("flags %v: the payment came back, nothing was lost", d.Invoice.Flags)
			}
		})
	}
}

// TestFakeSeenAtAfterDowntime: the follower was down while payments were mined. A payment
// found in a block is dated by the block, not by when the follower read it: one mined
// before expiry settles the invoice on time, one mined after expiry is late.
func TestFakeSeenAtAfterDowntime(t *testing.T) {
	t.Parallel()
	e := newFakeEnv(t, 1)
	onTime, o1 := e.invoice("25.00")
	late, o2 := e.invoice("30.00")
	b1 := e.chain.mine(t0.Add(5*time.Minute), pay("tx-1", o1, o1.AmountDue))
	b2 := e.chain.mine(t0.Add(20*time.Minute), pay("tx-2", o2, o2.AmountDue)) // expiry is t0+15m
	e.chain.mine(t0.Add(25 * time.Minute))
	e.clock.set(t0.Add(2 * time.Hour)) // the follower comes back
	e.step()
	d := e.want(onTime, invoices.StatusSettled)
	if len(d.Payments) != 1 || !d.Payments[0].SeenAt.Equal(b1.Time) {
		t.Fatalf("payment seen at %v, want the block time %v", d.Payments[0].SeenAt, b1.Time)
	}
	if slices.Contains(d.Invoice.Flags, string(invoices.FlagPaidLate)) {
		t.Fatalf("flags %v: paid before expiry", d.Invoice.Flags)
	}
	d = e.want(late, invoices.StatusExpired, invoices.FlagPaidLate)
	if len(d.Payments) != 1 || !d.Payments[0].SeenAt.Equal(b2.Time) {
		t.Fatalf("late payment seen at %v, want the block time %v", d.Payments[0].SeenAt, b2.Time)
	}
}

// crashStore is a store whose transaction number failAt (counting from 1) runs and then
// fails before commit, as if the process died between the work and the commit.
type crashStore struct {
	store.Store
	mu      sync.Mutex
	n       int
	failAt  int
	crashed bool
}

var errCrash = errors.New("injected crash before commit")

func (s *crashStore) Tx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.n++
		if s.n == s.failAt {
			s.crashed = true
			return errCrash
		}
		return nil
	})
}

func (s *crashStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// TestFakeCrashBetweenBlocks runs the same history (a mempool payment, then five blocks
// arriving one by one, stepped after each) once without a crash and then once per
// transaction of the follower, each time failing that transaction (rolled back, like a
// process killed before commit) and restarting a fresh follower on the same database. Every
// run must end with the same payments and the same events as the run without a crash:
// nothing missed, nothing recorded twice.
func TestFakeCrashBetweenBlocks(t *testing.T) {
	t.Parallel()
	type outcome struct {
		payments map[string]string   // txid → status@height
		events   map[string][]string // invoice → event types
		statuses map[string]string
	}
	run := func(t *testing.T, failAt int) (outcome, int) {
		cs := &crashStore{Store: storetest.SQLite(t)}
		e := newFakeEnvOn(t, cs, 2)
		ids := make([]string, 3)
		var opts [3]store.PaymentOption
		for i := range ids {
			ids[i], opts[i] = e.invoice(fmt.Sprintf("%d.00", 10+i))
		}
		half := new(big.Int).Rsh(opts[1].AmountDue, 1)
		rest := new(big.Int).Sub(opts[1].AmountDue, half)
		a := pay("tx-a", opts[0], opts[0].AmountDue)
		e.chain.setPool(a)
		before := cs.count()
		if failAt > 0 {
			cs.mu.Lock()
			cs.failAt = before + failAt
			cs.mu.Unlock()
		}
		// step runs the follower once; when the injected crash hits, the process "dies" and
		// a new follower (a restarted process) continues on the same database.
		step := func() {
			if _, err := e.f.Step(ctx); errors.Is(err, errCrash) {
				e.f = e.follower(cs.Store)
			} else if err != nil {
				t.Fatal(err)
			}
		}
		step() // a in the mempool: processing
		blocks := [][]watcher.Transfer{{a, pay("tx-b1", opts[1], half)}, nil,
			{pay("tx-b2", opts[1], rest), pay("tx-c", opts[2], opts[2].AmountDue)}, nil, nil}
		for i, ts := range blocks {
			e.clock.set(t0.Add(time.Duration(i+1) * time.Minute))
			e.chain.mine(t0.Add(time.Duration(i+1)*time.Minute), ts...)
			step()
		}
		for range 3 {
			step()
		}
		total := cs.count() - before
		if failAt > 0 && !cs.crashed {
			t.Fatalf("failAt %d of %d transactions: the crash never happened", failAt, total)
		}
		out := outcome{payments: map[string]string{}, events: map[string][]string{}, statuses: map[string]string{}}
		for _, id := range ids {
			d := e.get(id)
			out.statuses[id] = d.Invoice.Status
			out.events[id] = e.events(id)
			for _, p := range d.Payments {
				key := fmt.Sprintf("%s:%d", p.TxID, p.OutputIndex)
				if _, dup := out.payments[key]; dup {
					t.Fatalf("payment %s recorded twice", key)
				}
				h := int64(-1)
				if p.BlockHeight != nil {
					h = *p.BlockHeight
				}
				out.payments[key] = fmt.Sprintf("%s@%d", p.Status, h)
			}
		}
		// Outcomes are compared by invoice position, since ids differ between runs.
		norm := outcome{payments: out.payments, events: map[string][]string{}, statuses: map[string]string{}}
		for i, id := range ids {
			norm.events[fmt.Sprint(i)] = out.events[id]
			norm.statuses[fmt.Sprint(i)] = out.statuses[id]
		}
		return norm, total
	}
	ref, total := run(t, 0)
	for i := range 3 {
		if ref.statuses[fmt.Sprint(i)] != "settled" {
			t.Fatalf("reference run: invoice %d is %s", i, ref.statuses[fmt.Sprint(i)])
		}
	}
	if len(ref.payments) != 4 {
		t.Fatalf("reference run: payments %v, want 4", ref.payments)
	}
	if want := []string{"invoice.created", "invoice.payment_received", "invoice.payment_confirmed", "invoice.payment_received",
		"invoice.processing", "invoice.payment_confirmed", "invoice.settled"}; !slices.Equal(ref.events["1"], want) {
		t.Fatalf("reference run: events of the two-part invoice %v, want %v", ref.events["1"], want)
	}
	if total < 6 {
		t.Fatalf("reference run: only %d transactions for the mempool and 5 blocks", total)
	}
	for failAt := 1; failAt <= total; failAt++ {
		t.Run(fmt.Sprintf("crash at transaction %d of %d", failAt, total), func(t *testing.T) {
			t.Parallel()
			got, _ := run(t, failAt)
			if fmt.Sprint(got) != fmt.Sprint(ref) {
				t.Fatalf("after the crash and restart:\n got %v\nwant %v", got, ref)
			}
		})
	}
}

// TestFakeInvoiceCreatedDuringStep: an invoice is created, paid and mined while a step is
// under way, just before the step reads the tip. The block is within the step's range, so
// the step must know the invoice's address (the watch list is loaded after the tip).
func TestFakeInvoiceCreatedDuringStep(t *testing.T) {
	t.Parallel()
	for _, noMempool := range []bool{false, true} {
		t.Run(fmt.Sprintf("noMempool=%v", noMempool), func(t *testing.T) {
			t.Parallel()
			e := newFakeEnv(t, 1)
			e.chain.noMempool = noMempool
			var id string
			e.chain.onTip = func() {
				var o store.PaymentOption
				id, o = e.invoice("25.00")
				e.chain.mine(t0.Add(time.Minute), pay("tx-a", o, o.AmountDue))
			}
			if n := e.step(); n != 1 {
				t.Fatalf("applied %d blocks, want 1", n)
			}
			d := e.want(id, invoices.StatusSettled)
			if len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentConfirmed {
				t.Fatalf("payments %+v", d.Payments)
			}
		})
	}
}

// TestFakeCrashDuringCatchUp: blocks that arrived while the follower was away are applied
// in batches (several blocks per transaction). The first batch's transaction fails before
// commit; the restarted follower applies every block exactly once.
func TestFakeCrashDuringCatchUp(t *testing.T) {
	t.Parallel()
	cs := &crashStore{Store: storetest.SQLite(t)}
	e := newFakeEnvOn(t, cs, 3)
	var ids []string
	for i := range 4 {
		id, o := e.invoice(fmt.Sprintf("%d.00", 5+i))
		ids = append(ids, id)
		e.chain.mine(t0.Add(time.Duration(i+1)*time.Minute), pay(fmt.Sprintf("tx-%d", i), o, o.AmountDue))
	}
	for range 40 {
		e.chain.mine(t0.Add(10 * time.Minute))
	}
	e.clock.set(t0.Add(11 * time.Minute))
	cs.mu.Lock()
	cs.failAt = cs.n + 1
	cs.mu.Unlock()
	if n, err := e.f.Step(ctx); !errors.Is(err, errCrash) || n != 0 {
		t.Fatalf("step: %d blocks, %v; want 0 and the injected crash", n, err)
	}
	e.f = e.follower(cs.Store)
	if n := e.step(); n != 44 {
		t.Fatalf("applied %d blocks after the restart, want 44", n)
	}
	for _, id := range ids {
		d := e.want(id, invoices.StatusSettled)
		if len(d.Payments) != 1 {
			t.Fatalf("invoice %s: %d payments", id, len(d.Payments))
		}
		want := []string{"invoice.created", "invoice.payment_received", "invoice.processing", "invoice.payment_confirmed",
			"invoice.settled"}
		if got := e.events(id); !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}
