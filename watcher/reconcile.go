package watcher

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// DefaultReconcilePerBlock is EthereumConfig.ReconcilePerBlock's default.
const DefaultReconcilePerBlock = 4000

// reconKeepDepth is how many blocks below the newest one an address keeps its older
// balance bases (at least one older base is always kept): a reorg, or a follower that reads a
// block again after prefetching past it, goes back to the newest base below the block read.
const reconKeepDepth = 64

// Balance reconciliation (see EthereumSource): every watched address has bases, balances
// read at blocks of the chain followed (the newest last), and the top-level native transfers
// to it reported since the oldest base. Reconciling an address at block B reads its balance
// at B; what it gained since its newest base, less the native transfers reported in the
// blocks between, arrived some other way and is reported at B. Each block reconciles the
// addresses watched since the last block (their first base is their balance at B's parent,
// read in the same block) and the next ReconcilePerBlock addresses of a round-robin ring, so
// every watched address is reconciled at least once every ceil(watched/ReconcilePerBlock)
// blocks.
type reconciler struct {
	state map[common.Address]*reconState
	ring  []common.Address // the round-robin order; may hold unwatched addresses (skipped)
	pos   int              // the ring's next position
	fresh []common.Address // watched, no base yet (may hold unwatched ones, skipped)
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

type balanceBase struct {
	height  int64
	hash    common.Hash
	balance *big.Int
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

// pick returns the addresses to reconcile at the next block: the fresh ones (first) and up
// to perBlock more from the ring.
func (r *reconciler) pick(perBlock int) (fresh, due []common.Address) {
	seen := map[common.Address]bool{}
	for _, a := range r.fresh {
		if st, ok := r.state[a]; ok && len(st.bases) == 0 && !seen[a] {
			seen[a] = true
			fresh = append(fresh, a)
		}
	}
	due = append(due, fresh...)
	live := len(r.state) - len(fresh)
	for i := 0; i < len(r.ring) && len(due)-len(fresh) < min(perBlock, live); i++ {
		a := r.ring[r.pos]
		r.pos = (r.pos + 1) % len(r.ring)
		if _, ok := r.state[a]; ok && !seen[a] {
			seen[a] = true
			due = append(due, a)
		}
	}
	return fresh, due
}

// update records block (height, hash, parent): the native transfers it explains, the fresh
// addresses' bases at parent (parentBal; nil when reconciliation was skipped), and the
// balances at the block of the addresses reconciled (cur); it returns the unexplained gain
// of each address reconciled.
func (r *reconciler) update(height int64, hash, parent common.Hash, explained map[common.Address]*big.Int,
	parentBal, cur map[common.Address]*big.Int) map[common.Address]*big.Int {
	for a, v := range explained {
		if st, ok := r.state[a]; ok {
			st.explained = append(st.explained, explainedTransfer{height, v})
		}
	}
	for a, v := range parentBal {
		if st, ok := r.state[a]; ok && len(st.bases) == 0 {
			st.bases = append(st.bases, balanceBase{height - 1, parent, v})
		}
	}
	if parentBal != nil {
		kept := r.fresh[:0]
		for _, a := range r.fresh {
			if st, ok := r.state[a]; ok && len(st.bases) == 0 {
				kept = append(kept, a)
			}
		}
		clear(r.fresh[len(kept):])
		r.fresh = kept
	}
	gains := map[common.Address]*big.Int{}
	for a, bal := range cur {
		st, ok := r.state[a]
		if !ok || len(st.bases) == 0 {
			continue
		}
		base := st.bases[len(st.bases)-1]
		gain := new(big.Int).Sub(bal, base.balance)
		for _, e := range st.explained {
			if e.height > base.height && e.height <= height {
				gain.Sub(gain, e.amount)
			}
		}
		if gain.Sign() > 0 {
			gains[a] = gain
		}
		st.bases = append(st.bases, balanceBase{height, hash, bal})
		// Older bases go once the next one is reconKeepDepth blocks below this block.
		drop := 0
		for drop+1 < len(st.bases)-1 && st.bases[drop+1].height <= height-reconKeepDepth {
			drop++
		}
		if drop > 0 {
			st.bases = append(st.bases[:0], st.bases[drop:]...)
			clear(st.bases[len(st.bases):cap(st.bases)][:drop])
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
