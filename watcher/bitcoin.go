package watcher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
)

// BitcoinNode is the part of bitcoin.Node the source uses.
type BitcoinNode interface {
	TipHeight(ctx context.Context) (int64, chainhash.Hash, error)
	BlockHash(ctx context.Context, height int64) (chainhash.Hash, error)
	Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	MempoolTxIDs(ctx context.Context) ([]chainhash.Hash, error)
	RawTransaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error)
}

// mempoolTimer is implemented by nodes that report when they first saw each mempool
// transaction (bitcoin.Node: getrawmempool verbose). Without it a sighting is timed when
// the follower reads it.
type mempoolTimer interface {
	MempoolTimes(ctx context.Context) (map[chainhash.Hash]time.Time, error)
}

var _ BitcoinNode = (*bitcoin.Node)(nil)

// BitcoinSource reads Bitcoin blocks and mempool through a node and matches outputs against
// the watched deposit addresses by script (bitcoin.ScriptSet: one hash lookup per output).
type BitcoinSource struct {
	node   BitcoinNode
	params *chaincfg.Params

	mu    sync.Mutex
	set   *bitcoin.ScriptSet
	addrs []string // ScriptSet ref -> address ("" for a free ref)
	refs  map[string]uint64
	free  []uint64 // refs of unwatched addresses, reused by Watch
	// pool caches what matching needs of each mempool transaction (its outputs and the
	// outpoints it spends) by txid. Matching runs against the current watch set on every
	// snapshot, so an address watched after a transaction was first fetched still matches.
	pool map[chainhash.Hash]poolTx
}

// poolTx is the part of a mempool transaction the source keeps.
type poolTx struct {
	outs   []*wire.TxOut
	spends []string
}

var (
	_ Source    = (*BitcoinSource)(nil)
	_ Unwatcher = (*BitcoinSource)(nil)
)

// NewBitcoinSource returns a source over node for the network's address encoding.
func NewBitcoinSource(node BitcoinNode, n bitcoin.Network) (*BitcoinSource, error) {
	p, err := bitcoin.Params(n)
	if err != nil {
		return nil, err
	}
	return &BitcoinSource{node: node, params: p, set: bitcoin.NewScriptSet(1024), refs: map[string]uint64{},
		pool: map[chainhash.Hash]poolTx{}}, nil
}

// Chain implements Source.
func (s *BitcoinSource) Chain() string { return "bitcoin" }

// Watch implements Source. Mempool transactions fetched before are matched against the
// new addresses too (the cache keeps outputs, not matches).
func (s *BitcoinSource) Watch(addresses []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addresses {
		addr, err := btcutil.DecodeAddress(a, s.params)
		if err != nil || !addr.IsForNet(s.params) {
			return fmt.Errorf("deposit address %q is not a %s address", a, s.params.Name)
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil {
			return fmt.Errorf("deposit address %q: %w", a, err)
		}
		if _, ok := s.set.Lookup(script); ok {
			continue
		}
		var ref uint64
		if n := len(s.free); n > 0 {
			ref, s.free = s.free[n-1], s.free[:n-1]
			s.addrs[ref] = a
		} else {
			ref = uint64(len(s.addrs))
			s.addrs = append(s.addrs, a)
		}
		s.set.Add(script, ref)
		s.refs[a] = ref
	}
	return nil
}

// Unwatch implements Unwatcher: the addresses (of invoices that closed) are no longer
// matched, and their slots are reused, so the watch set is bounded by the open invoices.
// Unknown addresses are ignored.
func (s *BitcoinSource) Unwatch(addresses []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addresses {
		ref, ok := s.refs[a]
		if !ok {
			continue
		}
		addr, err := btcutil.DecodeAddress(a, s.params)
		if err != nil {
			continue
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil {
			continue
		}
		s.set.Remove(script)
		delete(s.refs, a)
		s.addrs[ref] = ""
		s.free = append(s.free, ref)
	}
}

// Tip implements Source.
func (s *BitcoinSource) Tip(ctx context.Context) (Header, error) {
	h, hash, err := s.node.TipHeight(ctx)
	if err != nil {
		return Header{}, err
	}
	return Header{Height: h, Hash: hash.String()}, nil
}

// HeaderAt implements Source.
func (s *BitcoinSource) HeaderAt(ctx context.Context, height int64) (Header, error) {
	hash, err := s.node.BlockHash(ctx, height)
	if err != nil {
		return Header{}, err
	}
	b, err := s.node.Block(ctx, hash)
	if err != nil {
		return Header{}, err
	}
	return Header{Height: height, Hash: hash.String(), Parent: b.Header.PrevBlock.String(), Time: b.Header.Timestamp}, nil
}

// BlockAt implements Source.
func (s *BitcoinSource) BlockAt(ctx context.Context, height int64) (Block, error) {
	hash, err := s.node.BlockHash(ctx, height)
	if err != nil {
		return Block{}, err
	}
	b, err := s.node.Block(ctx, hash)
	if err != nil {
		return Block{}, err
	}
	out := Block{Header: Header{Height: height, Hash: hash.String(), Parent: b.Header.PrevBlock.String(), Time: b.Header.Timestamp}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range bitcoin.MatchBlock(b, s.set) {
		out.Transfers = append(out.Transfers, Transfer{TxID: m.TxID.String(), Index: int64(m.Vout),
			Address: s.addrs[m.Ref], Asset: "BTC", Amount: m.Amount, Spends: spends(b.Transactions[m.TxIndex])})
	}
	return out, nil
}

// Mempool implements Source. Transactions already examined are not fetched again (until
// an address is added). Each transfer carries the node's first-seen time where it has one.
func (s *BitcoinSource) Mempool(ctx context.Context) ([]Transfer, error) {
	var ids []chainhash.Hash
	var times map[chainhash.Hash]time.Time
	if mt, ok := s.node.(mempoolTimer); ok {
		var err error
		if times, err = mt.MempoolTimes(ctx); err != nil {
			return nil, err
		}
		for id := range times {
			ids = append(ids, id)
		}
	} else {
		var err error
		if ids, err = s.node.MempoolTxIDs(ctx); err != nil {
			return nil, err
		}
	}
	live := make(map[chainhash.Hash]bool, len(ids))
	var out []Transfer
	for _, id := range ids {
		live[id] = true
		s.mu.Lock()
		ptx, seen := s.pool[id]
		s.mu.Unlock()
		if !seen {
			tx, err := s.node.RawTransaction(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				continue // left the mempool between the two calls
			}
			ptx = poolTx{outs: tx.TxOut, spends: spends(tx)}
			s.mu.Lock()
			s.pool[id] = ptx
			s.mu.Unlock()
		}
		out = append(out, s.match(id, ptx, times[id])...)
	}
	s.mu.Lock()
	for id := range s.pool {
		if !live[id] {
			delete(s.pool, id)
		}
	}
	s.mu.Unlock()
	if out == nil {
		out = []Transfer{} // an empty mempool is a snapshot too
	}
	return out, nil
}

// match returns the transfers of a mempool transaction to watched addresses.
func (s *BitcoinSource) match(id chainhash.Hash, tx poolTx, seen time.Time) []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Transfer
	for i, o := range tx.outs {
		if ref, ok := s.set.Lookup(o.PkScript); ok {
			out = append(out, Transfer{TxID: id.String(), Index: int64(i), Address: s.addrs[ref], Asset: "BTC",
				Amount: bigInt(o.Value), Spends: tx.spends, SeenAt: seen})
		}
	}
	return out
}

// spends lists the outpoints a transaction spends, as "txid:vout".
func spends(tx *wire.MsgTx) []string {
	if blockchain.IsCoinBaseTx(tx) {
		return nil
	}
	out := make([]string, len(tx.TxIn))
	for i, in := range tx.TxIn {
		out[i] = in.PreviousOutPoint.String()
	}
	return out
}
