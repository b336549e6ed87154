package watcher

import (
	"context"
	"sync"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
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

// BitcoinSource reads Bitcoin blocks and mempool through a node and reports every output
// that pays an address (bitcoin.OutputAddress: the five standard templates) as a candidate
// transfer; the follower matches them against the store. It keeps nothing per deposit
// address: its memory is the mempool cache, bounded by the node's mempool.
type BitcoinSource struct {
	node   BitcoinNode
	params *chaincfg.Params

	mu sync.Mutex
	// pool caches the transfers of each mempool transaction (its outputs to addresses, with
	// the outpoints it spends) by txid, so a transaction is fetched and decoded once.
	pool map[chainhash.Hash][]Transfer
}

var _ Source = (*BitcoinSource)(nil)

// NewBitcoinSource returns a source over node for the network's address encoding.
func NewBitcoinSource(node BitcoinNode, n bitcoin.Network) (*BitcoinSource, error) {
	p, err := bitcoin.Params(n)
	if err != nil {
		return nil, err
	}
	return &BitcoinSource{node: node, params: p, pool: map[chainhash.Hash][]Transfer{}}, nil
}

// Chain implements Source.
func (s *BitcoinSource) Chain() string { return "bitcoin" }

// Filtered implements Source: the source reports every transfer.
func (s *BitcoinSource) Filtered() bool { return false }

// transfers returns the outputs of tx that pay an address, all sharing the list of the
// outpoints tx spends.
func (s *BitcoinSource) transfers(id chainhash.Hash, tx *wire.MsgTx) []Transfer {
	var out []Transfer
	var spent []string
	txid := ""
	for i, o := range tx.TxOut {
		addr, ok := bitcoin.OutputAddress(o.PkScript, s.params)
		if !ok {
			continue
		}
		if txid == "" {
			txid, spent = id.String(), spends(tx)
		}
		out = append(out, Transfer{TxID: txid, Index: int64(i), Address: addr, Asset: "BTC", Amount: bigInt(o.Value), Spends: spent})
	}
	return out
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

// BlockAt implements Source: every output of the block that pays an address.
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
	for _, tx := range b.Transactions {
		out.Transfers = append(out.Transfers, s.transfers(tx.TxHash(), tx)...)
	}
	return out, nil
}

// Mempool implements Source: every output of the mempool's transactions that pays an
// address, each time. Transactions already examined are not fetched again. Each transfer
// carries the node's first-seen time where it has one.
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
	out := []Transfer{} // an empty mempool is a snapshot too
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
			ts = s.transfers(id, tx)
			s.mu.Lock()
			s.pool[id] = ts
			s.mu.Unlock()
		}
		for _, t := range ts {
			t.SeenAt = times[id]
			out = append(out, t)
		}
	}
	s.mu.Lock()
	for id := range s.pool {
		if !live[id] {
			delete(s.pool, id)
		}
	}
	s.mu.Unlock()
	return out, nil
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
