package watcher_test

import (
	"context"
	"errors"
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

// watches reports whether the env's follower watches address: in the source's watch set
// on the watch-list path (and by the follower's own count), else by the store's rule.
func (e *fakeEnv) watches(address string) bool {
	e.t.Helper()
	ok, err := e.f.Watches(ctx, address)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.watchList && ok != e.chain.isWatched(address) {
		e.t.Fatalf("the follower says %s is watched: %v, the source: %v", address, ok, e.chain.isWatched(address))
	}
	return ok
}

// replica returns another merchant on the env's store with its own wallet, served by an
// invoice service whose clock is the env's shifted by skew (an API replica whose clock is
// off).
func (e *fakeEnv) replica(skew time.Duration) *shop {
	e.t.Helper()
	s := newShop(e.t, e.shop.st, 1)
	svc, err := invoices.New(e.shop.st, invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: fixedQuoter{}, Now: func() time.Time { return e.clock.Now().Add(skew) }, Logger: quiet(),
		Settler: &ledger.Settler{}})
	if err != nil {
		e.t.Fatal(err)
	}
	s.svc = svc
	return s
}

// TestSkewedReplicaOptionWatched (issue 22): an invoice created by a replica whose clock is
// 15 minutes behind (its option's created_at is 15 minutes old when it commits), just after
// a follower step, is watched and its payment recorded. The old 10-minute look-back on
// created_at never loaded it.
func TestSkewedReplicaOptionWatched(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		behind := e.replica(-15 * time.Minute)
		e.clock.set(t0.Add(time.Hour))
		e.step()
		e.clock.set(t0.Add(time.Hour + time.Minute))
		d, o := behind.invoice(t, "25.00")
		e.clock.set(t0.Add(time.Hour + 2*time.Minute))
		e.step()
		if !e.watches(o.Address) {
			t.Fatalf("the skewed replica's deposit address %s is not watched", o.Address)
		}
		e.chain.mine(t0.Add(time.Hour+30*time.Second), pay("tx-skew", o, o.AmountDue)) // before its expiry (t0+1h+1m by the skewed clock)
		e.step()
		got := behind.get(t, d.Invoice.ID)
		if got.Invoice.Status != string(invoices.StatusSettled) || len(got.Payments) != 1 {
			t.Fatalf("invoice %s %v, payments %+v: want settled by the recorded payment", got.Invoice.Status, got.Invoice.Flags, got.Payments)
		}
	})
}

// TestLateCommittedOptionWatched (issue 22, Postgres): transaction A creates an invoice
// (the smaller transaction id) and commits 15 minutes of the clock later, after B's invoice
// was committed and the follower stepped several times and watched B. The option feed
// returns B at once and never moves past A; once A commits it is watched and its payment
// recorded. A follower restarted at that point (between a feed read and any cursor move:
// the cursor lives in memory) watches both too. On both paths: on the watch-list path the
// feed alone decides which addresses the source is handed.
func TestLateCommittedOptionWatched(t *testing.T) {
	t.Parallel()
	for _, watchList := range []bool{false, true} {
		name := map[bool]string{false: "store-matched", true: "watch-list"}[watchList]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lateCommittedOptionWatched(t, watchList)
		})
	}
}

func lateCommittedOptionWatched(t *testing.T, watchList bool) {
	raw := storetest.Postgres(t)
	e := newFakeEnvMode(t, raw, 1, watchList)
	other := e.replica(0)
	e.clock.set(t0.Add(time.Minute))
	draft, err := e.shop.svc.Prepare(ctx, e.shop.mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		a            invoices.Details
		once         sync.Once
		held         = make(chan struct{})
		release      = make(chan struct{})
		doneA        = make(chan error, 1)
		releaseOnce  sync.Once
		releaseLater = func() { releaseOnce.Do(func() { close(release) }) }
	)
	t.Cleanup(releaseLater)
	go func() {
		doneA <- raw.Tx(ctx, func(tx store.Tx) (err error) {
			if a, err = e.shop.svc.CreateTx(ctx, tx, draft, nil); err != nil {
				return err
			}
			once.Do(func() { close(held) })
			<-release
			return nil
		})
	}()
	<-held
	b, ob := other.invoice(t, "30.00")
	for i := range 3 {
		e.clock.set(t0.Add(time.Duration(2+5*i) * time.Minute))
		e.step()
	}
	if !e.watches(ob.Address) {
		t.Fatal("B's address is not watched while A is open")
	}
	e.clock.set(t0.Add(16 * time.Minute)) // A commits 15 minutes after its created_at
	releaseLater()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	oa := a.Options[0]
	e.step()
	if !e.watches(oa.Address) {
		t.Fatalf("A's address %s is not watched after A committed", oa.Address)
	}
	// Paid in blocks stamped before their expiry (t0+16m for A, later for B).
	e.chain.mine(t0.Add(10*time.Minute), pay("tx-a", oa, oa.AmountDue), pay("tx-b", ob, ob.AmountDue))
	e.step()
	e.want(a.Invoice.ID, invoices.StatusSettled)
	if got := other.get(t, b.Invoice.ID); got.Invoice.Status != string(invoices.StatusSettled) {
		t.Fatalf("B is %s", got.Invoice.Status)
	}
	// A restarted follower (a new process) loads both from the watch list.
	e.chain = newFakeChain(t0.Add(-time.Hour))
	e.f = e.follower(e.shop.st)
	for range 3 {
		e.chain.mine(t0.Add(-30 * time.Minute))
	}
	e.step()
	if !e.watches(oa.Address) || !e.watches(ob.Address) {
		t.Fatal("a restarted follower does not watch A and B (monitored)")
	}
}

// TestClosedInvoicesLeaveWatchSet (issue 22): an invoice whose monitoring window ended more
// than CloseGrace ago (by chain time) leaves the follower's address map and the source's
// watch set; one with a payment still in the mempool stays until that payment is mined and
// buried ReorgDepth blocks deep (its confirmation after the window still settles it). A
// restarted follower loads the same set.
func TestClosedInvoicesLeaveWatchSet(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		cfg := watcher.Config{ReorgDepth: 5}
		e.withFollower(cfg)
		closed, oc := e.invoice("25.00")
		pending, op := e.invoice("30.00")
		p := pay("tx-p", op, op.AmountDue)
		e.chain.setPool(p)
		e.step()
		e.want(pending, invoices.StatusProcessing)
		if !e.watches(oc.Address) || !e.watches(op.Address) {
			t.Fatal("an open invoice is not watched")
		}
		if a := e.chain.watchedCount(); e.watchList && a != 2 {
			t.Fatalf("the source watches %d addresses, want 2", a)
		}
		// The monitoring window (15 min + 24 h) and the grace (6 h) pass.
		end := t0.Add(15*time.Minute + 24*time.Hour + 6*time.Hour + time.Minute)
		e.clock.set(end)
		e.chain.mine(end)
		e.step() // the chain time reaches end
		e.step() // the closing invoices are dropped
		e.want(closed, invoices.StatusExpired)
		e.want(pending, invoices.StatusInvalid) // unconfirmed when monitoring ended
		if e.watches(oc.Address) || !e.watches(op.Address) {
			t.Fatalf("closed one watched: %v, pending: %v; want only the pending one", e.watches(oc.Address), e.watches(op.Address))
		}
		if a, d := e.chain.watchedCount(), e.f.Deferred(); e.watchList && (a != 1 || d != 1) {
			t.Fatalf("the source watches %d addresses, the follower defers %d invoices; want 1 and 1 (the pending one)", a, d)
		}
		// Money sent to the closed invoice's address now is not recorded.
		e.chain.mine(end.Add(30*time.Second), pay("tx-closed", oc, oc.AmountDue))
		e.step()
		if got := e.get(closed); len(got.Payments) != 0 || got.Invoice.Status != string(invoices.StatusExpired) {
			t.Fatalf("closed invoice: %s with payments %+v", got.Invoice.Status, got.Payments)
		}
		e.withFollower(cfg) // a restart loads the same set
		e.step()
		if e.watches(oc.Address) || !e.watches(op.Address) {
			t.Fatalf("restarted: closed one watched: %v, pending: %v", e.watches(oc.Address), e.watches(op.Address))
		}
		if a, d := e.chain.watchedCount(), e.f.Deferred(); e.watchList && (a != 1 || d != 1) {
			t.Fatalf("restarted: the source watches %d addresses, the follower defers %d invoices; want 1 and 1", a, d)
		}
		// The pending payment is mined after the window: recorded, and the invoice settles.
		e.chain.mine(end.Add(time.Minute), p)
		e.step()
		e.want(pending, invoices.StatusSettled)
		for i := range 6 { // buried ReorgDepth blocks deep
			e.chain.mine(end.Add(time.Duration(2+i) * time.Minute))
		}
		e.step()
		e.step()
		if a, d := e.chain.watchedCount(), e.f.Deferred(); (e.watchList && a != 0) || d != 0 || e.watches(op.Address) {
			t.Fatalf("after burial: the source watches %d addresses, the follower defers %d invoices (the pending one watched: %v), want none",
				a, d, e.watches(op.Address))
		}
	})
}

// TestOptionPastWindowFromFeedLeaves (issue 22): an option that the feed returns only after
// the follower closed the invoices of its window's end (created by a replica whose clock is
// 40 hours behind, so its window ended before it was committed) is not left in a filtered
// source's watch set for good: the store will never list it as closing again, so the
// follower checks it at once, and drops it (nothing pays it, and the watch rule excludes it).
func TestOptionPastWindowFromFeedLeaves(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		late := t0.Add(50 * time.Hour)
		e.clock.set(late)
		e.chain.mine(late)
		e.step()
		e.step() // the chain time is known: the invoices closing up to late − CloseGrace are read
		behind := e.replica(-40 * time.Hour)
		_, o := behind.invoice(t, "25.00")
		e.step()
		if e.watches(o.Address) {
			t.Fatalf("the option of a replica 40 hours behind (created %s, chain time %s) is watched", o.CreatedAt, late)
		}
		if a, d := e.chain.watchedCount(), e.f.Deferred(); (e.watchList && a != 0) || d != 0 {
			t.Fatalf("the source watches %d addresses, the follower defers %d invoices; want 0 and 0", a, d)
		}
	})
}

// fixedRefunds is a watcher.Refunds whose only refund destinations are dests.
type fixedRefunds struct{ dests []string }

func (r fixedRefunds) Destinations(context.Context, string) ([]string, error) { return r.dests, nil }
func (fixedRefunds) BlockTx(context.Context, store.Tx, string, int64, string, []watcher.Transfer) error {
	return nil
}
func (fixedRefunds) MempoolTx(context.Context, store.Tx, string, int64, []watcher.Transfer) error {
	return nil
}
func (fixedRefunds) RewindTx(context.Context, store.Tx, string, int64) error { return nil }
func (fixedRefunds) InFlightTx(context.Context, store.Tx, string) ([]watcher.InFlightRefund, error) {
	return nil, nil
}
func (fixedRefunds) VanishedTx(context.Context, store.Tx, string, string) error { return nil }

// TestClosingKeepsRefundDestination (issue 22, watch-list path): when an invoice closes, its
// deposit address leaves the source's watch set, unless it is also a refund's destination
// (a refund paid back to it): the refund's transaction must still be seen.
func TestClosingKeepsRefundDestination(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEnvMode(t, b.Open(t), 1, true)
			_, kept := e.invoice("25.00")
			_, gone := e.invoice("30.00")
			e.withFollower(watcher.Config{Refunds: fixedRefunds{dests: []string{kept.Address}}})
			e.step()
			if !e.chain.isWatched(kept.Address) || !e.chain.isWatched(gone.Address) {
				t.Fatal("the open invoices' addresses are not watched")
			}
			end := t0.Add(15*time.Minute + 24*time.Hour + 6*time.Hour + time.Minute)
			e.clock.set(end)
			e.chain.mine(end)
			e.step()
			e.step()
			if !e.chain.isWatched(kept.Address) || e.chain.isWatched(gone.Address) {
				t.Fatalf("after both invoices closed: the refund destination watched %v (want true), the other %v (want false)",
					e.chain.isWatched(kept.Address), e.chain.isWatched(gone.Address))
			}
		})
	}
}

// TestMempoolMatchesLaterOption (issue 22): a transaction already in the mempool when its
// deposit address gets an invoice (the address is derivable in advance) is recorded once
// the invoice exists, although the store-matched follower matches a mempool transaction
// only when it first sees it: the option feed names the new address, and the next pass
// matches the transfers to it again.
func TestMempoolMatchesLaterOption(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		_, first := e.invoice("25.00")
		early := watcher.Transfer{TxID: "tx-early", Index: 0, Address: e.nextAddress(first), Asset: "BTC", Amount: first.AmountDue}
		e.chain.setPool(early)
		for range 2 { // seen, and seen again, with no option at its address
			e.step()
		}
		id, o := e.invoice("25.00")
		if o.Address != early.Address {
			t.Fatalf("the second invoice's address is %s, not the derived %s", o.Address, early.Address)
		}
		e.step()
		got := e.want(id, invoices.StatusProcessing)
		if len(got.Payments) != 1 || got.Payments[0].TxID != "tx-early" || got.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("payments %+v, want tx-early unconfirmed", got.Payments)
		}
	})
}

// TestPoolForgottenAcrossLeaseHandover (review of the store-matched follower): a replica
// whose lease lapsed, while another replica's node lacked a transaction and removed its
// payment, looks its mempool up afresh when it leads again, and the payment is back in
// the mempool (the store-matched pass matches only transactions it did not see before).
func TestPoolForgottenAcrossLeaseHandover(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		id, o := e.invoice("25.00")
		replica := func(holder string) *watcher.Follower {
			return watcher.NewFollower(e.shop.st, e.source(), e.shop.svc, watcher.Config{Now: e.clock.Now, Logger: quiet(), Holder: holder})
		}
		a, b := replica("a"), replica("b")
		p := pay("tx-a", o, o.AmountDue)
		e.chain.setPool(p)
		if _, err := a.Step(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.set(e.clock.Now().Add(time.Minute)) // a's lease lapses; b's node lacks tx-a
		e.chain.setPool()
		for range 2 {
			if _, err := b.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if d := e.get(id); len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentRemoved {
			t.Fatalf("after b: %+v", d.Payments)
		}
		e.clock.set(e.clock.Now().Add(time.Minute)) // b is gone; a leads again, tx-a in its mempool
		e.chain.setPool(p)
		if _, err := a.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if d := e.get(id); d.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("payment %s although tx-a is in the leader's mempool", d.Payments[0].Status)
		}
	})
}

// TestFailedMempoolPassKeepsNewOptions (review): a mempool pass whose transaction fails
// (rolled back) forgets neither the transactions it had not matched nor the new options'
// addresses, so the next pass records the payment to an option that arrived meanwhile.
func TestFailedMempoolPassKeepsNewOptions(t *testing.T) {
	t.Parallel()
	for _, watchList := range []bool{false, true} {
		t.Run(map[bool]string{false: "store-matched", true: "watch-list"}[watchList], func(t *testing.T) {
			t.Parallel()
			cs := &crashStore{Store: storetest.SQLite(t)}
			e := newFakeEnvMode(t, cs, 1, watchList)
			_, first := e.invoice("25.00")
			next := e.nextAddress(first)
			early := watcher.Transfer{TxID: "tx-early", Address: next, Asset: "BTC", Amount: first.AmountDue}
			e.chain.setPool(early)
			e.step()
			e.step()
			id, o := e.invoice("25.00")
			if o.Address != next {
				t.Fatalf("the second invoice's address is %s, not %s", o.Address, next)
			}
			cs.mu.Lock()
			cs.failAt = cs.n + 1 // the pass's transaction: no block, no lease
			cs.mu.Unlock()
			if _, err := e.f.Step(ctx); !errors.Is(err, errCrash) {
				t.Fatalf("step: %v, want the injected failure", err)
			}
			e.step()
			got := e.want(id, invoices.StatusProcessing)
			if len(got.Payments) != 1 || got.Payments[0].TxID != "tx-early" {
				t.Fatalf("payments %+v", got.Payments)
			}
		})
	}
}

// nextAddress derives the deposit address the shop's next invoice gets (the one after
// option o's index).
func (e *fakeEnv) nextAddress(o store.PaymentOption) string {
	e.t.Helper()
	var ws []store.Wallet
	if err := e.shop.st.View(ctx, func(tx store.Tx) (err error) { ws, err = tx.Wallets(ctx, e.shop.mid); return }); err != nil {
		e.t.Fatal(err)
	}
	w, err := bitcoin.ParseWallet(ws[0].Descriptor, bitcoin.Regtest)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := w.Address(*o.DerivationIndex + 1)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.EncodeAddress()
}

// TestCloseGrace (review): money sent to an invoice's address after its monitoring window
// ended, but within Config.CloseGrace by chain time, is recorded; sent after the grace (its
// earlier payment buried), it is not. On both paths.
func TestCloseGrace(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		e.withFollower(watcher.Config{ReorgDepth: 2})
		id, o := e.invoice("25.00")
		end := t0.Add(15*time.Minute + 24*time.Hour) // the end of its monitoring window
		at := func(d time.Duration, ts ...watcher.Transfer) {
			e.clock.set(end.Add(d))
			e.chain.mine(end.Add(d), ts...)
			e.step()
		}
		at(time.Hour) // the chain time passes the window
		at(time.Hour+time.Minute, pay("tx-in-grace", o, o.AmountDue))
		if got := e.get(id); len(got.Payments) != 1 || got.Payments[0].TxID != "tx-in-grace" {
			t.Fatalf("a payment an hour after the window (grace 6 h): %+v", got.Payments)
		}
		for i := range 4 { // past the grace, the first payment buried ReorgDepth deep
			at(6*time.Hour + time.Duration(i+1)*time.Minute)
		}
		at(7*time.Hour, pay("tx-after-grace", o, o.AmountDue))
		if got := e.get(id); len(got.Payments) != 1 {
			t.Fatalf("a payment 7 h after the window (grace 6 h) was recorded: %+v", got.Payments)
		}
	})
}
