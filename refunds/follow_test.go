package refunds_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// scripted is a chain the test writes block by block (and a mempool, unless noPool), for
// a real follower to read: replacements, evictions and reorgs exactly where a test puts
// them. It returns every transfer; the follower and the refunds pick theirs.
type scripted struct {
	mu     sync.Mutex
	blocks []watcher.Block
	pool   []watcher.Transfer
	noPool bool
}

func newScripted() *scripted {
	s := &scripted{}
	s.mine()
	return s
}

func (s *scripted) Chain() string  { return "bitcoin" }
func (s *scripted) Filtered() bool { return false }

func (s *scripted) Tip(context.Context) (watcher.Header, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocks[len(s.blocks)-1].Header, nil
}

func (s *scripted) HeaderAt(_ context.Context, h int64) (watcher.Header, error) {
	b, err := s.BlockAt(context.Background(), h)
	return b.Header, err
}

func (s *scripted) BlockAt(_ context.Context, h int64) (watcher.Block, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h < 0 || h >= int64(len(s.blocks)) {
		return watcher.Block{}, errors.New("no such block")
	}
	return s.blocks[h], nil
}

func (s *scripted) Mempool(context.Context) ([]watcher.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noPool {
		return nil, nil
	}
	return append([]watcher.Transfer{}, s.pool...), nil
}

// send puts transfers in the mempool.
func (s *scripted) send(ts ...watcher.Transfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pool = append(s.pool, ts...)
}

// evict takes transaction txid out of the mempool.
func (s *scripted) evict(txid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []watcher.Transfer
	for _, t := range s.pool {
		if t.TxID != txid {
			keep = append(keep, t)
		}
	}
	s.pool = keep
}

// mine appends a block with transfers ts (taking them out of the mempool) and returns
// its height.
func (s *scripted) mine(ts ...watcher.Transfer) int64 {
	for _, t := range ts {
		s.evict(t.TxID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := int64(len(s.blocks))
	parent := ""
	if h > 0 {
		parent = s.blocks[h-1].Hash
	}
	hash := fmt.Sprintf("%016x%048x", time.Now().UnixNano(), h)
	s.blocks = append(s.blocks, watcher.Block{Header: watcher.Header{Height: h, Hash: hash, Parent: parent,
		Time: time.Now().UTC()}, Transfers: ts})
	return h
}

// fork drops the blocks above height (their transactions are gone: not back in the
// mempool).
func (s *scripted) fork(height int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks = s.blocks[:height+1]
}

type followEnv struct {
	*env
	src *scripted
	f   *watcher.Follower
	d   invoices.Details
	// coin is the merchant's deposit output the invoice was paid with ("txid:vout").
	coin string
}

func txid(n int) string { return fmt.Sprintf("%064x", 0xabc000+n) }

// followSetup pays a 25.00 USD invoice through a follower of a scripted chain.
func followSetup(t *testing.T, b storetest.Backend, noPool bool) *followEnv {
	e := setup(t, b)
	src := newScripted()
	src.noPool = noPool
	fe := &followEnv{env: e, src: src, f: watcher.NewFollower(e.st, src, e.inv, watcher.Config{Refunds: e.ref.Follower()})}
	fe.step()
	fe.d = e.invoice("25.00")
	o := fe.d.Options[0]
	src.mine(watcher.Transfer{TxID: txid(1), Index: 0, Address: o.Address, Asset: "BTC", Amount: o.AmountDue,
		Spends: []string{txid(900) + ":7"}})
	fe.step()
	d, err := e.inv.Get(ctx, e.mid, fe.d.Invoice.ID)
	must(t, err)
	if d.Invoice.Status != store.StatusSettled {
		t.Fatalf("invoice %s, want settled", d.Invoice.Status)
	}
	fe.coin = txid(1) + ":0"
	return fe
}

func (fe *followEnv) step() {
	fe.t.Helper()
	if _, err := fe.f.Step(ctx); err != nil {
		fe.t.Fatalf("follower: %v", err)
	}
}

func (fe *followEnv) status(id string) store.Refund {
	fe.t.Helper()
	r, err := fe.ref.Get(ctx, fe.mid, id)
	must(fe.t, err)
	return r
}

func (fe *followEnv) events(invoiceID string) []string {
	fe.t.Helper()
	var out []string
	must(fe.t, fe.st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Events(ctx, invoiceID)
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return err
	}))
	return out
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// TestRefundOnlyFromTheMerchant: a transfer of the exact amount to a refund's destination
// that does not spend a coin of the merchant's wallet (another deposit to the customer's
// exchange address) leaves the refund claimed, in the mempool and mined; the merchant's
// own transaction, spending the invoice's deposit output, makes it sent and completed,
// booked once.
func TestRefundOnlyFromTheMerchant(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		fe := followSetup(t, b, false)
		dest := regtestAddr(t, 0xc3)
		r, err := fe.create(fe.d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Destination: dest})
		must(t, err)
		stranger := watcher.Transfer{TxID: txid(2), Index: 1, Address: dest, Asset: "BTC", Amount: new(big.Int).Set(r.AmountAtomic),
			Spends: []string{txid(901) + ":0"}}
		fe.src.send(stranger)
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundClaimed {
			t.Fatalf("after a stranger's transfer in the mempool: %s (tx %s)", got.Status, got.TxID)
		}
		fe.src.mine(stranger)
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundClaimed {
			t.Fatalf("after a stranger's transfer mined: %s (tx %s)", got.Status, got.TxID)
		}
		// The merchant's wallet spends the invoice's deposit output.
		own := watcher.Transfer{TxID: txid(3), Index: 0, Address: dest, Asset: "BTC", Amount: new(big.Int).Set(r.AmountAtomic),
			Spends: []string{txid(902) + ":1", fe.coin}}
		fe.src.send(own)
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundSent || got.TxID != txid(3) {
			t.Fatalf("after the merchant's transfer: %s %s", got.Status, got.TxID)
		}
		fe.src.mine(own)
		fe.step()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted {
			t.Fatalf("after the merchant's transfer mined: %s", got.Status)
		}
		fe.drain()
		if recs := fe.records(ledger.SourceCryptoRefund); len(recs) != 1 {
			t.Fatalf("%d refund records, want 1", len(recs))
		}
		if diffs := fe.verify(); len(diffs) != 0 {
			t.Fatalf("ledger verify: %v", diffs)
		}
	})
}

// TestSentRefundWhoseTransactionVanishes: a sent refund whose transaction leaves the
// mempool (evicted) goes back to claimed after two snapshots without it, with
// refund.dropped; a replacement (RBF: it spends the same coin) mined while the first is
// still in the mempool pays the refund; a reorg that takes the completed refund's block,
// its transaction not coming back, reverses the books and drops the refund too.
func TestSentRefundWhoseTransactionVanishes(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		fe := followSetup(t, b, false)
		dest := regtestAddr(t, 0xc4)
		r, err := fe.create(fe.d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Destination: dest})
		must(t, err)
		pay := func(n int) watcher.Transfer {
			return watcher.Transfer{TxID: txid(n), Index: 0, Address: dest, Asset: "BTC", Amount: new(big.Int).Set(r.AmountAtomic),
				Spends: []string{fe.coin}}
		}
		fe.src.send(pay(10))
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundSent {
			t.Fatalf("sent: %s", got.Status)
		}
		fe.src.evict(txid(10))
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundSent {
			t.Fatalf("after one snapshot without its transaction: %s (the grace is two)", got.Status)
		}
		fe.step()
		got := fe.status(r.ID)
		if got.Status != store.RefundClaimed || got.TxID != "" {
			t.Fatalf("after two snapshots without its transaction: %s %q, want claimed", got.Status, got.TxID)
		}
		if evs := fe.events(fe.d.Invoice.ID); count(evs, refunds.EventDropped) != 1 {
			t.Fatalf("events %v: want one refund.dropped", evs)
		}

		// Sent again; a replacement is mined while the first still sits in the mempool.
		fe.src.send(pay(11))
		fe.step()
		fe.src.mine(pay(12))
		fe.step()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted || got.TxID != txid(12) {
			t.Fatalf("after the replacement was mined: %s %s", got.Status, got.TxID)
		}
		fe.src.evict(txid(11)) // the node drops the replaced transaction
		fe.step()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted {
			t.Fatalf("the replaced transaction leaving the mempool: %s", got.Status)
		}
		fe.drain()
		if recs := fe.records(ledger.SourceCryptoRefund); len(recs) != 1 {
			t.Fatalf("%d refund records, want 1", len(recs))
		}

		// A reorg takes the block; the transaction does not come back.
		got = fe.status(r.ID)
		fe.src.fork(*got.BlockHeight - 1)
		fe.src.mine()
		fe.src.mine()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundSent {
			t.Fatalf("after the reorg: %s, want sent (waiting to be mined again)", got.Status)
		}
		fe.step()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundClaimed {
			t.Fatalf("after the reorg, its transaction gone: %s, want claimed", got.Status)
		}
		if diffs := fe.verify(); len(diffs) != 0 {
			t.Fatalf("ledger verify: %v", diffs)
		}
		if recs := fe.records(ledger.SourceCryptoRefund); len(recs) != 2 {
			t.Fatalf("%d refund records, want the refund and its reversal", len(recs))
		}
		// And another transaction of the merchant's pays it.
		fe.src.mine(pay(13))
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted || got.TxID != txid(13) {
			t.Fatalf("paid again: %s %s", got.Status, got.TxID)
		}
		if diffs := fe.verify(); len(diffs) != 0 {
			t.Fatalf("ledger verify: %v", diffs)
		}
	})
}

// TestOrphanedRefundWithoutMempool: on a chain without a visible mempool, a refund whose
// block a reorg took stays sent for the follower's orphan grace (12 blocks), completes
// again if its transaction is mined again within it, and goes back to claimed if not.
func TestOrphanedRefundWithoutMempool(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		fe := followSetup(t, b, true)
		dest := regtestAddr(t, 0xc5)
		r, err := fe.create(fe.d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Destination: dest})
		must(t, err)
		pay := watcher.Transfer{TxID: txid(20), Index: 0, Address: dest, Asset: "BTC", Amount: new(big.Int).Set(r.AmountAtomic),
			Spends: []string{fe.coin}}
		h := fe.src.mine(pay)
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted {
			t.Fatalf("mined: %s", got.Status)
		}
		// Reorged out, mined again 5 blocks later: it completes again.
		fe.src.fork(h - 1)
		fe.src.mine()
		fe.src.mine()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundSent {
			t.Fatalf("reorged: %s", got.Status)
		}
		for range 4 {
			fe.src.mine()
			fe.step()
		}
		fe.src.mine(pay)
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundCompleted {
			t.Fatalf("mined again within the grace: %s", got.Status)
		}
		// Reorged out again and never mined again: claimed after 12 blocks, not before.
		got := fe.status(r.ID)
		fe.src.fork(*got.BlockHeight - 1)
		fe.src.mine()
		fe.src.mine()
		fe.step()
		for i := range 11 {
			fe.src.mine()
			fe.step()
			if got := fe.status(r.ID); got.Status != store.RefundSent {
				t.Fatalf("%d blocks after the reorg: %s, want sent", i+1, got.Status)
			}
		}
		fe.src.mine()
		fe.step()
		if got := fe.status(r.ID); got.Status != store.RefundClaimed {
			t.Fatalf("12 blocks after the reorg: %s, want claimed", got.Status)
		}
		if diffs := fe.verify(); len(diffs) != 0 {
			t.Fatalf("ledger verify: %v", diffs)
		}
	})
}
