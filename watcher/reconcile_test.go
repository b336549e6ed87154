package watcher

import (
	"maps"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// recChain drives a reconciler as EthereumSource does, over balances given per block.
type recChain struct {
	t    *testing.T
	r    reconciler
	hist map[common.Hash]map[common.Address]int64 // balances at each block read
}

func hashOf(branch string, h int64) common.Hash {
	return common.BytesToHash(append([]byte(branch), byte(h)))
}

func newRecChain(t *testing.T, first int64) *recChain {
	return &recChain{t: t, r: newReconciler(), hist: map[common.Hash]map[common.Address]int64{hashOf("m", first-1): {}}}
}

// block reads block h of branch (parent on parentBranch) with balances bal (of every
// address) and native top-level transfers top, reading at most perBlock balances, and
// returns the gains reported.
func (c *recChain) block(h int64, branch, parentBranch string, perBlock int, bal, top map[common.Address]int64) map[common.Address]int64 {
	c.t.Helper()
	parent, hash := hashOf(parentBranch, h-1), hashOf(branch, h)
	c.hist[hash] = maps.Clone(bal)
	c.r.rewind(h, parent)
	pending, due := c.r.pick(h, parent, perBlock)
	read := map[common.Hash]map[common.Address]*big.Int{}
	for at, addrs := range pending {
		read[at] = map[common.Address]*big.Int{}
		for _, a := range addrs {
			read[at][a] = big.NewInt(c.hist[at][a])
		}
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
	for a, g := range c.r.update(h, hash, parent, ex, read, nil, cur) {
		out[a] = g.Int64()
	}
	return out
}

func TestReconcilerRotationExplainedAndReorg(t *testing.T) {
	t.Parallel()
	a, b, x := common.Address{1}, common.Address{2}, common.Address{3}
	c := newRecChain(t, 10)
	for _, w := range []common.Address{a, b, x} {
		c.r.watch(w)
	}
	bal := map[common.Address]int64{}
	// Blocks 10-11: all three based at 9 (one balance read per block: over three blocks),
	// nothing gained; x's base balance is read last, after x received a top-level 5 at
	// 11 (explained) and an internal 7 at 12.
	if g := c.block(10, "m", "m", 1, bal, nil); len(g) != 0 {
		t.Fatalf("block 10: %v", g)
	}
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
	// Based by block 12, x's turn in the ring of 3 (a, b, x; one a block) is block 15.
	if total != 7 || found != 15 {
		t.Fatalf("internal gain %d found at %d, want 7 at 15", total, found)
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
	for _, a := range addrs {
		last[a] = 8 // based over blocks 1-8
	}
	perBlock := 7
	for h := int64(1); h <= 200; h++ {
		if h%10 == 0 { // one goes, one comes
			r.unwatch(addrs[0])
			delete(last, addrs[0])
			addrs = addrs[1:]
			a := common.BigToAddress(big.NewInt(1000 + h))
			addrs = append(addrs, a)
			r.watch(a)
			last[a] = h
		}
		r.rewind(h, hashOf("m", h-1))
		pending, due := r.pick(h, hashOf("m", h-1), perBlock)
		read := map[common.Hash]map[common.Address]*big.Int{}
		for at, as := range pending {
			read[at] = map[common.Address]*big.Int{}
			for _, a := range as {
				read[at][a] = new(big.Int)
			}
		}
		cur := map[common.Address]*big.Int{}
		for _, a := range due {
			cur[a] = new(big.Int)
			last[a] = h
		}
		r.update(h, hashOf("m", h), hashOf("m", h-1), nil, read, nil, cur)
		// 50 addresses, 7 reads a block: 8 blocks to base them all at the start, then a
		// period of ceil(50/7) = 8 blocks (one read less in the blocks that base a new one).
		period := int64((len(addrs)+perBlock-2)/(perBlock-1)) + 1
		for _, a := range addrs {
			if h-last[a] > period {
				t.Fatalf("block %d: %s last reconciled at %d, period %d", h, a, last[a], period)
			}
		}
	}
}
