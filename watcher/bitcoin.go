package watcher

import (
	"context"
	"fmt"
	"sync"

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

var _ BitcoinNode = (*bitcoin.Node)(nil)

// BitcoinSource reads Bitcoin blocks and mempool through a node and matches outputs against
// the watched deposit addresses by script (bitcoin.ScriptSet: one hash lookup per output).
type BitcoinSource struct {
	node   BitcoinNode
	params *chaincfg.Params

	mu    sync.Mutex
	set   *bitcoin.ScriptSet
	addrs []string // ScriptSet ref -> address
	// pool caches the matched outputs of mempool transactions by txid.
	pool map[chainhash.Hash][]Transfer
}

var _ Source = (*BitcoinSource)(nil)

// NewBitcoinSource returns a source over node for the network's address encoding.
func NewBitcoinSource(node BitcoinNode, n bitcoin.Network) (*BitcoinSource, error) {
	p, err := bitcoin.Params(n)
	if err != nil {
		return nil, err
	}
	return &BitcoinSource{node: node, params: p, set: bitcoin.NewScriptSet(1024), pool: map[chainhash.Hash][]Transfer{}}, nil
}

// Chain implements Source.
func (s *BitcoinSource) Chain() string { return "bitcoin" }

// Watch implements Source.
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
		s.set.Add(script, uint64(len(s.addrs)))
		s.addrs = append(s.addrs, a)
	}
	return nil
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
			Address: s.addrs[m.Ref], Asset: "BTC", Amount: m.Amount})
	}
	return out, nil
}

// Mempool implements Source. Transactions already examined are not fetched again.
func (s *BitcoinSource) Mempool(ctx context.Context) ([]Transfer, error) {
	ids, err := s.node.MempoolTxIDs(ctx)
	if err != nil {
		return nil, err
	}
	live := make(map[chainhash.Hash]bool, len(ids))
	var out []Transfer
	for _, id := range ids {
		live[id] = true
		s.mu.Lock()
		ts, seen := s.pool[id]
		s.mu.Unlock()
		if !seen {
			tx, err := s.node.RawTransaction(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				continue // left the mempool between the two calls
			}
			ts = s.match(tx)
			s.mu.Lock()
			s.pool[id] = ts
			s.mu.Unlock()
		}
		out = append(out, ts...)
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

func (s *BitcoinSource) match(tx *wire.MsgTx) []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Transfer
	txid := tx.TxHash().String()
	for i, o := range tx.TxOut {
		if ref, ok := s.set.Lookup(o.PkScript); ok {
			out = append(out, Transfer{TxID: txid, Index: int64(i), Address: s.addrs[ref], Asset: "BTC", Amount: bigInt(o.Value)})
		}
	}
	return out
}
