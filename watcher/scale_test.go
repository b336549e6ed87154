package watcher_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// TestManyProcessingInvoicesAllSettle (issue 22): more invoices are due for review than the
// old global page of 1000 held. 1,100 invoices are each paid in one block and need 2
// confirmations; the next block is empty, so nothing but the follower's review of what is
// due can settle them. Every one of them settles at that block.
func TestManyProcessingInvoicesAllSettle(t *testing.T) {
	t.Parallel()
	const n = 1100
	onBackends(t, 2, func(t *testing.T, e *fakeEnv) {
		ids := make([]string, n)
		pays := make([]watcher.Transfer, n)
		for i := range n {
			id, o := e.invoice("25.00")
			ids[i] = id
			pays[i] = pay(fmt.Sprintf("tx-%d", i), o, o.AmountDue)
		}
		e.chain.mine(t0.Add(time.Minute), pays...)
		e.step()
		if got := e.counts(); got[string(invoices.StatusProcessing)] != n {
			t.Fatalf("after the paying block: %v, want %d processing", got, n)
		}
		e.chain.mine(t0.Add(2 * time.Minute)) // the second confirmation, no transfer
		start := time.Now()
		e.step()
		t.Logf("%d invoices reviewed and settled in one block's step: %v", n, time.Since(start))
		if got := e.counts(); got[string(invoices.StatusSettled)] != n {
			t.Fatalf("after the confirming block: %v, want all %d settled", got, n)
		}
		e.want(ids[n-1], invoices.StatusSettled) // the newest, last in any id order
	})
}

// TestManyInvoicesDueByTimeAllReviewed (issue 22): reviews by chain time have no page limit
// either. 2,001 unpaid invoices whose expiry one block passes all expire in that block's
// step (which reads the invoices due twice: in the block's transaction and at the tip, so a
// limit of 1,000 would still pass 2,000); 1,001 invoices with a payment still unconfirmed
// when the chain passes the end of their monitoring window all turn invalid in that step.
func TestManyInvoicesDueByTimeAllReviewed(t *testing.T) {
	t.Parallel()
	const unpaid, pending = 2001, 1001
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		var pays []watcher.Transfer
		for i := range unpaid + pending {
			_, o := e.invoice("25.00")
			if i < pending {
				pays = append(pays, pay(fmt.Sprintf("tx-%d", i), o, o.AmountDue))
			}
		}
		e.chain.setPool(pays...)
		e.chain.mine(t0.Add(time.Minute))
		e.step()
		if got := e.counts(); got[string(invoices.StatusNew)] != unpaid || got[string(invoices.StatusProcessing)] != pending {
			t.Fatalf("with %d of them paid in the mempool: %v, want %d new and %d processing", pending, got, unpaid, pending)
		}
		e.clock.set(t0.Add(16 * time.Minute))
		e.chain.mine(t0.Add(16 * time.Minute)) // past every expiry
		e.step()
		if got := e.counts(); got[string(invoices.StatusExpired)] != unpaid || got[string(invoices.StatusProcessing)] != pending {
			t.Fatalf("after the block past their expiry: %v, want %d expired and %d processing", got, unpaid, pending)
		}
		end := t0.Add(15*time.Minute + 24*time.Hour + time.Minute)
		e.clock.set(end)
		e.chain.mine(end) // past every monitoring window
		e.step()
		if got := e.counts(); got[string(invoices.StatusExpired)] != unpaid || got[string(invoices.StatusInvalid)] != pending {
			t.Fatalf("after the block past their monitoring window: %v, want %d expired and %d invalid", got, unpaid, pending)
		}
	})
}

// counts returns the number of invoices in each status.
func (e *fakeEnv) counts() map[string]int64 {
	e.t.Helper()
	var c map[string]int64
	if err := e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.InvoiceCounts(ctx); return }); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestBlockHashesPrunedBeyondReorgDepth (issue 22): the follower keeps only the ReorgDepth
// newest block hashes as its cursor advances, and still rewinds a reorg within that depth.
func TestBlockHashesPrunedBeyondReorgDepth(t *testing.T) {
	t.Parallel()
	const depth = 5
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		e.withFollower(watcher.Config{ReorgDepth: depth})
		id, o := e.invoice("25.00")
		for i := range 20 {
			e.chain.mine(t0.Add(time.Duration(i+1) * time.Second))
		}
		e.step()
		e.wantBlocks(depth)
		// A reorg of three blocks (within the depth) that drops a payment is still followed.
		fork := e.chain.tip().Height
		e.chain.mine(t0.Add(time.Minute), pay("tx-a", o, o.AmountDue))
		e.step()
		e.want(id, invoices.StatusSettled)
		e.chain.fork(fork - 2)
		for i := range 4 {
			e.chain.mine(t0.Add(time.Duration(2+i) * time.Minute))
		}
		e.step()
		e.wantBlocks(depth)
		var c store.Cursor
		if err := e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return }); err != nil {
			t.Fatal(err)
		}
		if tip := e.chain.tip(); c.Height != tip.Height || c.Hash != tip.Hash {
			t.Fatalf("cursor %d %s, tip %d %s", c.Height, c.Hash, tip.Height, tip.Hash)
		}
		if d := e.get(id); d.Payments[0].Status == store.PaymentConfirmed {
			t.Fatalf("payment %+v still confirmed after the reorg dropped its block", d.Payments[0])
		}
	})
}

// wantBlocks fails unless exactly the n newest block hashes, up to the chain's tip, are recorded.
func (e *fakeEnv) wantBlocks(n int) {
	e.t.Helper()
	var hs []store.Cursor
	if err := e.shop.st.View(ctx, func(tx store.Tx) (err error) {
		hs, err = tx.BlockHashes(ctx, "bitcoin", 1<<40, 1000)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	tip := e.chain.tip()
	if len(hs) != n || hs[0].Height != tip.Height || hs[0].Hash != tip.Hash || hs[n-1].Height != tip.Height-int64(n)+1 {
		e.t.Fatalf("recorded blocks %+v, want the %d up to the tip %d", hs, n, tip.Height)
	}
}
