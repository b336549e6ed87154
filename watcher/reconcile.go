package watcher

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

// DefaultReconcilePerBlock is EthereumConfig.ReconcilePerBlock's default.
const DefaultReconcilePerBlock = 4000

// reconKeepBases is how many balance bases an address keeps (the newest and older ones): a
// reorg, or a follower that reads a block again after prefetching past it, goes back to the
// newest base below the block read. Only a reorg that orphans all of them (deeper than
// about two reconciliation periods) bases the address again at the fork, and then a gain
// in the window that straddles the fork, reported only on the orphaned branch, is lost.
const reconKeepBases = 3

// Balance reconciliation (see EthereumSource): every watched address has bases, balances
// read at blocks of the chain followed (the newest last), and the top-level native transfers
// to it reported since the oldest base. Reconciling an address at block B reads its balance
// at B; what it gained since its newest base, less the native transfers reported in the
// blocks between, arrived some other way and is reported at B. An address's first base is
// at the parent of the first block read after it was watched. Each block reads at most
// ReconcilePerBlock balances: first the pending first bases (by the hash of the block they
// are at; a follower that starts with 100,000 addresses bases them over 25 blocks, well
// within the ~128 blocks of state a full node keeps), then the next addresses of a
// round-robin ring, so every watched address is reconciled at least once every
// ceil(watched / (ReconcilePerBlock − new addresses per block)) blocks.
type reconciler struct {
	state map[common.Address]*reconState
	ring  []common.Address // the round-robin order; may hold unwatched addresses (skipped)
	pos   int              // the ring's next position
	fresh []common.Address // watched, no base yet (may hold unwatched ones, skipped)
	// pending are the addresses whose newest base's balance is still to be read, oldest
	// first (may hold others, skipped).
	pending []common.Address
	// last is the block the newest update was at: a block that does not extend it (a
	// reorg, the same height read again, a gap) rewinds the bases first.
	last struct {
		height int64
		hash   common.Hash
		ok     bool
	}
}

type reconState struct {
	bases     []balanceBase
	explained []explainedTransfer // heights above bases[0] (all when there is no base)
}

// balanceBase is an address's balance at a block; a pending base's balance is still to be
// read (known false). The balance is held inline (uint256: no allocation per base).
type balanceBase struct {
	height  int64
	hash    common.Hash
	balance uint256.Int
	known   bool
}

type explainedTransfer struct {
	height int64
	amount *big.Int
}

func newReconciler() reconciler {
	return reconciler{state: map[common.Address]*reconState{}}
}

func (r *reconciler) watch(a common.Address) {
	if _, ok := r.state[a]; ok {
		return
	}
	r.state[a] = &reconState{}
	r.ring = append(r.ring, a)
	r.fresh = append(r.fresh, a)
}

func (r *reconciler) unwatch(a common.Address) {
	delete(r.state, a)
	if len(r.ring) > 64 && len(r.ring) > 2*len(r.state) { // drop the unwatched entries
		kept := r.ring[:0]
		for i, x := range r.ring {
			if _, ok := r.state[x]; ok {
				kept = append(kept, x)
			} else if i < r.pos {
				r.pos--
			}
		}
		clear(r.ring[len(kept):])
		r.ring = kept
		if r.pos >= len(r.ring) {
			r.pos = 0
		}
	}
}

// rewind prepares for block (height, parent) when it does not extend the last block: bases
// at or above height, or at height−1 but on another branch, are dropped with the transfers
// explained at or above height; after a gap every base is dropped. An address left without
// a base is fresh again (based at parent).
func (r *reconciler) rewind(height int64, parent common.Hash) {
	if !r.last.ok || (height == r.last.height+1 && parent == r.last.hash) {
		return
	}
	gap := height > r.last.height+1
	for a, st := range r.state {
		hadBase := len(st.bases) > 0
		n := len(st.bases)
		for n > 0 {
			b := st.bases[n-1]
			if !gap && b.height < height-1 || (!gap && b.height == height-1 && b.hash == parent) {
				break
			}
			n--
		}
		clear(st.bases[n:])
		st.bases = st.bases[:n]
		m := len(st.explained)
		for m > 0 && (gap || st.explained[m-1].height >= height) {
			m--
		}
		clear(st.explained[m:])
		st.explained = st.explained[:m]
		if n == 0 && hadBase {
			st.explained = nil
			r.fresh = append(r.fresh, a)
		}
	}
	// What is kept is consistent up to the parent.
	r.last.height, r.last.hash = height-1, parent
}

// pick starts the reconciliation of the block (height, parent): the fresh addresses get a
// pending base at the parent, and it returns up to perBlock addresses to read: first pending
// bases (grouped by the block they are at, oldest first), then addresses with a base, from
// the ring.
func (r *reconciler) pick(height int64, parent common.Hash, perBlock int) (pending map[common.Hash][]common.Address, due []common.Address) {
	for _, a := range r.fresh {
		if st, ok := r.state[a]; ok && len(st.bases) == 0 {
			if cap(st.bases) < reconKeepBases+1 {
				st.bases = make([]balanceBase, 0, reconKeepBases+1) // the newest + kept, before the oldest goes
			}
			st.bases = append(st.bases, balanceBase{height: height - 1, hash: parent})
			r.pending = append(r.pending, a)
		}
	}
	clear(r.fresh)
	r.fresh = r.fresh[:0]
	budget := perBlock
	pending = map[common.Hash][]common.Address{}
	var based []common.Address
	for i := 0; i < len(r.pending) && budget > 0; i++ {
		a := r.pending[i]
		if st, ok := r.state[a]; ok && len(st.bases) > 0 && !st.bases[len(st.bases)-1].known {
			h := st.bases[len(st.bases)-1].hash
			pending[h] = append(pending[h], a)
			based = append(based, a)
			budget--
		}
	}
	// The addresses based in this block are also reconciled at it while the budget lasts
	// (every block, when all fit: a new invoice's internal payment is found at once).
	for _, a := range based {
		if budget == 0 {
			break
		}
		due = append(due, a)
		budget--
	}
	ringDue := 0
	for j := 0; j < len(r.ring) && ringDue < budget; j++ {
		a := r.ring[r.pos]
		r.pos = (r.pos + 1) % len(r.ring)
		if st, ok := r.state[a]; ok && len(st.bases) > 0 && st.bases[len(st.bases)-1].known {
			due = append(due, a)
			ringDue++
		}
	}
	return pending, due
}

// update records block (height, hash, parent): the native transfers it explains, the
// balances read at pending bases (read: by the base's block; an address whose base block's
// state was gone is in lost and gets a pending base at parent again), and the balances at
// the block of the addresses reconciled (cur); it returns the unexplained gain of each
// address reconciled.
func (r *reconciler) update(height int64, hash, parent common.Hash, explained map[common.Address]*big.Int,
	read map[common.Hash]map[common.Address]*big.Int, lost []common.Address, cur map[common.Address]*big.Int) map[common.Address]*big.Int {
	for a, v := range explained {
		if st, ok := r.state[a]; ok {
			st.explained = append(st.explained, explainedTransfer{height, v})
		}
	}
	for at, bals := range read {
		for a, v := range bals {
			if st, ok := r.state[a]; ok && len(st.bases) > 0 {
				if b := &st.bases[len(st.bases)-1]; !b.known && b.hash == at {
					b.balance.SetFromBig(v)
					b.known = true
				}
			}
		}
	}
	for _, a := range lost {
		if st, ok := r.state[a]; ok && len(st.bases) > 0 {
			if b := &st.bases[len(st.bases)-1]; !b.known {
				*b = balanceBase{height: height - 1, hash: parent}
			}
		}
	}
	kept := r.pending[:0]
	for _, a := range r.pending {
		if st, ok := r.state[a]; ok && len(st.bases) > 0 && !st.bases[len(st.bases)-1].known {
			kept = append(kept, a)
		}
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	gains := map[common.Address]*big.Int{}
	for a, bal := range cur {
		st, ok := r.state[a]
		if !ok || len(st.bases) == 0 || !st.bases[len(st.bases)-1].known {
			continue
		}
		base := st.bases[len(st.bases)-1]
		gain := new(big.Int).Sub(bal, base.balance.ToBig())
		for _, e := range st.explained {
			if e.height > base.height && e.height <= height {
				gain.Sub(gain, e.amount)
			}
		}
		if gain.Sign() > 0 {
			gains[a] = gain
		}
		nb := balanceBase{height: height, hash: hash, known: true}
		nb.balance.SetFromBig(bal)
		st.bases = append(st.bases, nb)
		if drop := len(st.bases) - reconKeepBases; drop > 0 {
			n := copy(st.bases, st.bases[drop:])
			clear(st.bases[n:])
			st.bases = st.bases[:n]
		}
		e := 0
		for e < len(st.explained) && st.explained[e].height <= st.bases[0].height {
			e++
		}
		st.explained = st.explained[e:]
	}
	r.last.height, r.last.hash, r.last.ok = height, hash, true
	return gains
}
