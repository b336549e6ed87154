package watcher

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// recChain drives a reconciler as EthereumSource does, over balances given per block.
type recChain struct {
	t *testing.T
	r reconciler
}

func hashOf(branch string, h int64) common.Hash {
	return common.BytesToHash(append([]byte(branch), byte(h)))
}

// block reads block h of branch (parent on parentBranch) with balances bal (of every
// address) and native top-level transfers top, reconciling perBlock addresses, and returns
// the gains reported.
func (c *recChain) block(h int64, branch, parentBranch string, perBlock int, bal, top map[common.Address]int64) map[common.Address]int64 {
	c.t.Helper()
	parent := hashOf(parentBranch, h-1)
	c.r.rewind(h, parent)
	fresh, due := c.r.pick(perBlock)
	pb := map[common.Address]*big.Int{}
	for _, a := range fresh {
		pb[a] = big.NewInt(bal[a] - top[a]) // the parent's balance: before this block's transfers
	}
	if len(fresh) == 0 {
		pb = nil
	}
	cur := map[common.Address]*big.Int{}
	for _, a := range due {
		cur[a] = big.NewInt(bal[a])
	}
	ex := map[common.Address]*big.Int{}
	for a, v := range top {
		ex[a] = big.NewInt(v)
	}
	out := map[common.Address]int64{}
	for a, g := range c.r.update(h, hashOf(branch, h), parent, ex, pb, cur) {
		out[a] = g.Int64()
	}
	return out
}

func TestReconcilerRotationExplainedAndReorg(t *testing.T) {
	t.Parallel()
	a, b, x := common.Address{1}, common.Address{2}, common.Address{3}
	c := &recChain{t: t, r: newReconciler()}
	for _, w := range []common.Address{a, b, x} {
		c.r.watch(w)
	}
	bal := map[common.Address]int64{}
	// Block 10: all three fresh, based at 9, nothing gained.
	if g := c.block(10, "m", "m", 1, bal, nil); len(g) != 0 {
		t.Fatalf("block 10: %v", g)
	}
	// Block 11: a top-level 5 to x (explained). Block 12: an internal 7 to x.
	bal[x] = 5
	c.block(11, "m", "m", 1, bal, map[common.Address]int64{x: 5})
	bal[x] = 12
	var found int64
	total := int64(0)
	for h := int64(12); h <= 15; h++ {
		g := c.block(h, "m", "m", 1, bal, nil)
		if v, ok := g[x]; ok {
			found, total = h, total+v
		}
	}
	if total != 7 || found == 0 || found > 14 {
		t.Fatalf("internal gain %d found at %d, want 7 within the period of 3 blocks from 12", total, found)
	}
	// The same block read again (a retry) reports the same gain again (the payment's key
	// dedupes it), and nothing is counted twice afterwards.
	g := c.block(found, "m", "m", 3, bal, nil)
	if g[x] != 7 {
		t.Fatalf("block %d read again: %v, want x: 7", found, g)
	}
	for h := found + 1; h <= found+4; h++ {
		if g := c.block(h, "m", "m", 3, bal, nil); len(g) != 0 {
			t.Fatalf("block %d after the retry: %v", h, g)
		}
	}
	// A reorg: a new branch from block 20 (parent 19 on m) on which a gains 4 at 20; the
	// old branch's blocks 20, 21 had been read (a gained nothing on it).
	c.block(20, "m", "m", 3, bal, nil)
	c.block(21, "m", "m", 3, bal, nil)
	bal[a] = 4
	if g := c.block(20, "f", "m", 3, bal, nil); g[a] != 4 || len(g) != 1 {
		t.Fatalf("new branch block 20: %v, want a: 4", g)
	}
	if g := c.block(21, "f", "f", 3, bal, nil); len(g) != 0 {
		t.Fatalf("new branch block 21: %v", g)
	}
	// A gain reported on an orphaned block is reported again on the new branch: b gains 6
	// at m-block 22 (read), then a reorg replaces 22 and the gain is in f-block 22.
	c.block(22, "f", "f", 3, bal, nil)
	bal[b] = 6
	if g := c.block(23, "f", "f", 3, bal, nil); g[b] != 6 {
		t.Fatalf("block 23: %v", g)
	}
	if g := c.block(23, "g", "f", 3, bal, nil); g[b] != 6 {
		t.Fatalf("block 23 on another branch: %v, want b: 6 again", g)
	}
	// Unwatched addresses are neither reconciled nor reported.
	c.r.unwatch(b)
	bal[b] = 100
	if g := c.block(24, "g", "g", 3, bal, nil); len(g) != 0 {
		t.Fatalf("block 24: %v", g)
	}
}

// TestReconcilerPeriod: every watched address is reconciled at least once every
// ceil(watched/perBlock) blocks, also while addresses come and go.
func TestReconcilerPeriod(t *testing.T) {
	t.Parallel()
	r := newReconciler()
	var addrs []common.Address
	for i := range 50 {
		a := common.BigToAddress(big.NewInt(int64(i + 1)))
		addrs = append(addrs, a)
		r.watch(a)
	}
	last := map[common.Address]int64{}
	perBlock := 7
	for h := int64(1); h <= 200; h++ {
		if h%10 == 0 { // one goes, one comes
			r.unwatch(addrs[0])
			delete(last, addrs[0])
			addrs = addrs[1:]
			a := common.BigToAddress(big.NewInt(1000 + h))
			addrs = append(addrs, a)
			r.watch(a)
		}
		r.rewind(h, hashOf("m", h-1))
		fresh, due := r.pick(perBlock)
		pb := map[common.Address]*big.Int{}
		for _, a := range fresh {
			pb[a] = new(big.Int)
		}
		cur := map[common.Address]*big.Int{}
		for _, a := range due {
			cur[a] = new(big.Int)
			last[a] = h
		}
		r.update(h, hashOf("m", h), hashOf("m", h-1), nil, pb, cur)
		period := int64((len(addrs) + perBlock - 1) / perBlock)
		for _, a := range addrs {
			if h-last[a] > period {
				t.Fatalf("block %d: %s last reconciled at %d, period %d", h, a, last[a], period)
			}
		}
	}
}
