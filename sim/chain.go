package sim

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync/atomic"
	"time"

	"github.com/chainpay/chainpay/watcher"
)

// Tx is a simulated transaction: outputs to addresses, and on the Bitcoin-like chain the coin
// it spends (two transactions spending one coin conflict: a replacement or a double spend).
type Tx struct {
	ID        string
	Coin      string
	Outputs   []Output
	Broadcast time.Time // when the customer sent it
	// Hidden means our node's mempool does not show it (evicted, or sent straight to a miner);
	// miners may still mine it.
	Hidden bool
	// Unwound is the chain height after the reorg that last took it out of a block (-1:
	// never).
	Unwound int64
	// From is the sender on the EVM-like chain (a merchant's treasury for its refunds).
	From string
}

// Output is value sent to an address.
type Output struct {
	Address string
	Amount  *big.Int
}

// simBlock is a block of the simulated chain.
type simBlock struct {
	watcher.Header
	Txs []*Tx
}

// Chain is a simulated blockchain: the best chain (blocks by height from genesis), the
// transactions waiting to be mined, and the node's behaviour as its follower sees it.
type Chain struct {
	Name    string // "bitcoin" or "ethereum"
	Asset   string // the asset code its transfers carry
	Mempool bool   // whether the node shows unconfirmed transactions
	blocks  []simBlock
	pool    []*Tx // unconfirmed, in broadcast order
	branch  int
	nextTx  int
	// all holds every transaction ever made on the chain, by id (replaced and double-spent
	// ones too): the auditor looks up the transaction a refund follows.
	all map[string]*Tx
	// Node behaviour for the next follower step.
	Lag int // the node answers this many blocks behind the best tip
	// Stalled, when not -1, is the height a stuck node stays at while the chain goes on.
	Stalled int64
	Down    bool // every call fails
	Timeout bool // every call times out
}

// NewChain returns a chain with a genesis block at time t.
func NewChain(name, asset string, mempool bool, t time.Time) *Chain {
	c := &Chain{Name: name, Asset: asset, Mempool: mempool, Stalled: -1, all: map[string]*Tx{}}
	c.blocks = []simBlock{{Header: watcher.Header{Height: 0, Hash: name[:3] + "-0-0", Time: t}}}
	return c
}

// Tip is the best chain's last block.
func (c *Chain) Tip() watcher.Header { return c.blocks[len(c.blocks)-1].Header }

// Height is the best chain's height.
func (c *Chain) Height() int64 { return int64(len(c.blocks) - 1) }

// HashAt returns the best chain's block hash at height ("" above the tip).
func (c *Chain) HashAt(h int64) string {
	if h < 0 || h >= int64(len(c.blocks)) {
		return ""
	}
	return c.blocks[h].Hash
}

// NewTx makes a transaction id unique on this chain.
func (c *Chain) NewTx(coin string, at time.Time, outs ...Output) *Tx {
	c.nextTx++
	tx := &Tx{ID: fmt.Sprintf("%s-tx%d", c.Name[:3], c.nextTx), Coin: coin, Outputs: outs, Broadcast: at, Unwound: -1}
	c.all[tx.ID] = tx
	return tx
}

// Send puts tx into the mempool; on the Bitcoin-like chain it replaces a pending transaction
// spending the same coin (RBF). It reports the replaced transaction, if any.
func (c *Chain) Send(tx *Tx) (replaced *Tx) {
	if tx.Coin != "" {
		if i := slices.IndexFunc(c.pool, func(p *Tx) bool { return p.Coin == tx.Coin }); i >= 0 {
			replaced = c.pool[i]
			c.pool = slices.Delete(c.pool, i, i+1)
		}
	}
	c.pool = append(c.pool, tx)
	return replaced
}

// Pool returns the unconfirmed transactions.
func (c *Chain) Pool() []*Tx { return c.pool }

// Drop removes tx from the mempool for good (nobody will mine it).
func (c *Chain) Drop(tx *Tx) {
	c.pool = slices.DeleteFunc(c.pool, func(p *Tx) bool { return p == tx })
}

// Mine appends a block at time at holding the given pending transactions (which leave the
// pool) and extra transactions that never were in our node's pool (a double spend mined
// directly). Pending transactions that conflict with a mined one leave the pool.
func (c *Chain) Mine(at time.Time, take []*Tx, extra ...*Tx) watcher.Header {
	prev := c.Tip()
	h := prev.Height + 1
	if at.Before(prev.Time) {
		at = prev.Time
	}
	txs := append(slices.Clone(take), extra...)
	b := simBlock{Header: watcher.Header{Height: h, Hash: fmt.Sprintf("%s-%d-%d", c.Name[:3], c.branch, h),
		Parent: prev.Hash, Time: at}, Txs: txs}
	c.blocks = append(c.blocks, b)
	c.pool = slices.DeleteFunc(c.pool, func(p *Tx) bool {
		return slices.ContainsFunc(txs, func(t *Tx) bool { return t == p || (p.Coin != "" && t.Coin == p.Coin) })
	})
	return b.Header
}

// Unwind removes the top depth blocks (a reorg's first half) and returns their transactions,
// which go back to the pool (visible again) unless the caller drops them; the next blocks
// mined are on a new branch.
func (c *Chain) Unwind(depth int) []*Tx {
	depth = min(depth, len(c.blocks)-1)
	var back []*Tx
	for _, b := range c.blocks[len(c.blocks)-depth:] {
		back = append(back, b.Txs...)
	}
	c.blocks = c.blocks[:len(c.blocks)-depth]
	c.branch++
	for _, t := range back {
		t.Hidden = false
		t.Unwound = c.Height()
	}
	c.pool = append(back, c.pool...)
	return back
}

// Lookup returns the transaction with id ever made on the chain (nil when none).
func (c *Chain) Lookup(id string) *Tx { return c.all[id] }

// BlockOf returns the best chain's block holding tx (false when none).
func (c *Chain) BlockOf(tx *Tx) (watcher.Header, bool) {
	for _, b := range c.blocks {
		if slices.Contains(b.Txs, tx) {
			return b.Header, true
		}
	}
	return watcher.Header{}, false
}

// Confirmed returns, for every output of the best chain's transactions, where it is.
func (c *Chain) Confirmed(fn func(b watcher.Header, tx *Tx, index int, o Output)) {
	for _, b := range c.blocks {
		for _, tx := range b.Txs {
			for i, o := range tx.Outputs {
				fn(b.Header, tx, i, o)
			}
		}
	}
}

// Source returns the chain as a follower reads it through its node (watcher.Source).
// Like the real sources, it reports every transfer of the chain's asset (the follower
// matches them against the store); see WatchingSource for an EVM-like one.
func (c *Chain) Source() *Source { return &Source{c: c} }

// errNodeDown and errTimeout are the node failures a Source returns.
var (
	errNodeDown = errors.New("sim node: connection refused")
	errTimeout  = fmt.Errorf("sim node: %w", context.DeadlineExceeded)
)

// Source is a watcher.Source over a simulated chain through a node that may lag behind the
// best tip, be down or time out. It reports every transfer of the chain's asset, or, as a
// WatchingSource, those to the addresses the follower handed it. It is used by one
// follower at a time.
type Source struct {
	c *Chain
	// watched is the watch set of a WatchingSource (nil: every address).
	watched map[string]bool
	// Filter, when set, edits what the node reports (a simulated node or adapter bug).
	Filter func([]watcher.Transfer) []watcher.Transfer
	// cache, when set, keeps every block read by height and is never invalidated (an
	// injected adapter bug).
	cache map[int64]watcher.Block
	// calls counts the calls of the current follower step; past callBudget the step is
	// stuck in a loop and every call fails.
	calls atomic.Int64
	// gate, when set, is asked before a block is read; it may wait (see World.gate).
	gate func(ctx context.Context, height int64) error
}

// callBudget is how many node calls one follower step may make (a catch-up over days of
// blocks needs a few thousand).
const callBudget = 200_000

var errStuck = errors.New("sim node: the follower is stuck in a loop")

var _ watcher.Source = (*Source)(nil)

// Chain implements watcher.Source.
func (s *Source) Chain() string { return s.c.Name }

// Filtered implements watcher.Source: true for a WatchingSource.
func (s *Source) Filtered() bool { return s.watched != nil }

// WatchingSource is a Source that, like the EthereumSource, keeps the addresses the
// follower hands it (watcher.Watcher, watcher.Unwatcher) and reports only transfers to
// them: the follower's watch-list path.
type WatchingSource struct{ *Source }

var (
	_ watcher.Watcher   = WatchingSource{}
	_ watcher.Unwatcher = WatchingSource{}
)

// Watching returns the source as a WatchingSource, with an empty watch set.
func (s *Source) Watching() WatchingSource {
	s.watched = map[string]bool{}
	return WatchingSource{s}
}

// Watch implements watcher.Watcher: a call to the node (it fails like one).
func (s WatchingSource) Watch(addresses []string) error {
	if err := s.fail(); err != nil {
		return err
	}
	for _, a := range addresses {
		s.watched[a] = true
	}
	return nil
}

// Unwatch implements watcher.Unwatcher.
func (s WatchingSource) Unwatch(addresses []string) {
	for _, a := range addresses {
		delete(s.watched, a)
	}
}

func (s *Source) fail() error {
	if s.calls.Add(1) > callBudget {
		return errStuck
	}
	switch {
	case s.c.Down:
		return errNodeDown
	case s.c.Timeout:
		return errTimeout
	}
	return nil
}

// visible is the height of the node's tip.
func (s *Source) visible() int64 { return s.c.Visible() }

// Visible is the height of the node's tip: behind the best tip by Lag, or stuck.
func (c *Chain) Visible() int64 {
	h := max(0, c.Height()-int64(c.Lag))
	if c.Stalled >= 0 {
		h = min(h, c.Stalled)
	}
	return h
}

// Healthy reports whether the node shows the best tip and answers.
func (c *Chain) Healthy() bool { return c.Visible() == c.Height() && !c.Down && !c.Timeout }

// Tip implements watcher.Source.
func (s *Source) Tip(context.Context) (watcher.Header, error) {
	if err := s.fail(); err != nil {
		return watcher.Header{}, err
	}
	return s.c.blocks[s.visible()].Header, nil
}

// HeaderAt implements watcher.Source.
func (s *Source) HeaderAt(_ context.Context, height int64) (watcher.Header, error) {
	b, err := s.block(height)
	return b.Header, err
}

// BlockAt implements watcher.Source.
func (s *Source) BlockAt(ctx context.Context, height int64) (watcher.Block, error) {
	if s.gate != nil {
		if err := s.gate(ctx, height); err != nil {
			return watcher.Block{}, err
		}
	}
	return s.block(height)
}

func (s *Source) block(height int64) (watcher.Block, error) {
	if err := s.fail(); err != nil {
		return watcher.Block{}, err
	}
	if height < 0 || height > s.visible() {
		return watcher.Block{}, fmt.Errorf("sim node: no block at height %d (tip %d)", height, s.visible())
	}
	if b, ok := s.cache[height]; ok {
		return b, nil
	}
	b := s.c.blocks[height]
	out := watcher.Block{Header: b.Header, Transfers: s.transfers(b.Txs, false)}
	if s.cache != nil {
		s.cache[height] = out
	}
	return out, nil
}

// Mempool implements watcher.Source: nil on a chain without a visible mempool.
func (s *Source) Mempool(context.Context) ([]watcher.Transfer, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	if !s.c.Mempool {
		return nil, nil
	}
	// A node behind the best tip still holds the transactions of the blocks it has not seen.
	var shown []*Tx
	for _, b := range s.c.blocks[s.visible()+1:] {
		shown = append(shown, b.Txs...)
	}
	for _, t := range s.c.pool {
		if !t.Hidden {
			shown = append(shown, t)
		}
	}
	out := s.transfers(shown, true)
	if out == nil {
		out = []watcher.Transfer{}
	}
	return out, nil
}

// transfers lists the outputs of txs (to watched addresses), with the coins they spend and,
// for unconfirmed ones, when the node first saw them (as bitcoind's getmempoolentry does).
func (s *Source) transfers(txs []*Tx, unconfirmed bool) []watcher.Transfer {
	var out []watcher.Transfer
	for _, tx := range txs {
		for i, o := range tx.Outputs {
			if s.watched != nil && !s.watched[o.Address] {
				continue
			}
			t := watcher.Transfer{TxID: tx.ID, Index: int64(i), Address: o.Address, Asset: s.c.Asset,
				Amount: new(big.Int).Set(o.Amount)}
			if tx.Coin != "" {
				t.Spends = []string{tx.Coin}
			}
			t.From = tx.From
			if unconfirmed {
				t.SeenAt = tx.Broadcast
			}
			out = append(out, t)
		}
	}
	if s.Filter != nil {
		out = s.Filter(out)
	}
	return out
}
