package watcher_test

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
)

// fakeEVMNode is an Ethereum JSON-RPC node in memory for load benchmarks. It serves
// prebuilt blocks through go-ethereum's own rpc.Server over HTTP, answering the calls
// watcher.EthereumSource makes (eth_chainId, eth_call decimals(), eth_getBlockByNumber,
// eth_getTransactionReceipt, eth_getLogs by block hash, batched eth_getBalance by block
// hash). The data is real: signed EIP-1559 transactions, receipts with ERC-20 Transfer logs
// and blocks built with types.NewBlock (transaction and receipt roots, blooms), encoded by
// go-ethereum's MarshalJSON of Header, Transaction, Receipt and Log plus the fields an
// eth_* answer adds (blockHash, from, transactionIndex...). It executes nothing and answers
// at once, so a benchmark against it measures chainpay's side; balances are the native
// value the blocks sent to each address.
type fakeEVMNode struct {
	chainID  *big.Int
	decimals map[common.Address]uint8
	key      *ecdsa.PrivateKey
	from     common.Address
	signer   types.Signer
	nonce    uint64

	mu       sync.Mutex
	tip      int64
	blocks   []*fakeEVMBlock // by height, from 0
	byHash   map[common.Hash]*fakeEVMBlock
	receipts map[common.Hash]json.RawMessage
	credits  map[common.Address][]fakeCredit
}

type fakeEVMBlock struct {
	height      int64
	hash        common.Hash
	full, light json.RawMessage
	logs        []*types.Log
	logJSON     []json.RawMessage
}

// fakeCredit is an address's native balance from height on.
type fakeCredit struct {
	height  int64
	balance *big.Int
}

// fakeTransfer is a transaction of a block: native value to To, or (Token set) an ERC-20
// transfer of Amount to To.
type fakeTransfer struct {
	To     common.Address
	Token  *common.Address
	Amount *big.Int
}

func newFakeEVMNode(tb testing.TB, chainID uint64, tokens map[common.Address]uint8) *fakeEVMNode {
	tb.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	id := new(big.Int).SetUint64(chainID)
	n := &fakeEVMNode{chainID: id, decimals: tokens, key: k, from: crypto.PubkeyToAddress(k.PublicKey),
		signer: types.LatestSignerForChainID(id), tip: -1, byHash: map[common.Hash]*fakeEVMBlock{},
		receipts: map[common.Hash]json.RawMessage{}, credits: map[common.Address][]fakeCredit{}}
	n.mine(tb, time.Unix(1_700_000_000, 0), nil) // genesis
	return n
}

// serve starts the node's HTTP endpoint and returns its URL.
func (n *fakeEVMNode) serve(tb testing.TB) string {
	tb.Helper()
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", &fakeEth{n}); err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() { hs.Close(); srv.Stop() })
	return hs.URL
}

// setTip makes height the node's latest block (blocks above it stay hidden).
func (n *fakeEVMNode) setTip(height int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tip = height
}

var transferSig = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// mine appends a block at time t holding txs in order, and makes it the tip.
func (n *fakeEVMNode) mine(tb testing.TB, t time.Time, txs []fakeTransfer) {
	tb.Helper()
	n.mu.Lock()
	height := int64(len(n.blocks))
	var parent common.Hash
	if height > 0 {
		parent = n.blocks[height-1].hash
	}
	n.mu.Unlock()
	var (
		signed   []*types.Transaction
		receipts []*types.Receipt
		gasUsed  uint64
	)
	tip, feeCap := big.NewInt(1_000_000_000), big.NewInt(30_000_000_000)
	for _, x := range txs {
		inner := &types.DynamicFeeTx{ChainID: n.chainID, Nonce: n.nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000,
			To: &x.To, Value: x.Amount}
		var logs []*types.Log
		if x.Token != nil {
			data := append([]byte{0xa9, 0x05, 0x9c, 0xbb}, common.LeftPadBytes(x.To.Bytes(), 32)...)
			data = append(data, common.LeftPadBytes(x.Amount.Bytes(), 32)...)
			inner.To, inner.Value, inner.Data, inner.Gas = x.Token, new(big.Int), data, 52000
			logs = []*types.Log{{Address: *x.Token, Topics: []common.Hash{transferSig, common.BytesToHash(n.from.Bytes()),
				common.BytesToHash(x.To.Bytes())}, Data: common.LeftPadBytes(x.Amount.Bytes(), 32)}}
		}
		n.nonce++
		tx, err := types.SignNewTx(n.key, n.signer, inner)
		if err != nil {
			tb.Fatal(err)
		}
		gasUsed += inner.Gas
		r := &types.Receipt{Type: tx.Type(), Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: gasUsed, Logs: logs,
			TxHash: tx.Hash(), GasUsed: inner.Gas, EffectiveGasPrice: new(big.Int).Add(tip, big.NewInt(7)),
			BlockNumber: big.NewInt(height), TransactionIndex: uint(len(signed))}
		r.Bloom = types.CreateBloom(r)
		signed = append(signed, tx)
		receipts = append(receipts, r)
	}
	h := &types.Header{ParentHash: parent, Number: big.NewInt(height), Time: uint64(t.Unix()), GasLimit: 60_000_000,
		GasUsed: gasUsed, BaseFee: big.NewInt(7), Difficulty: new(big.Int), Coinbase: common.HexToAddress("0xc0ffee")}
	blk := types.NewBlock(h, &types.Body{Transactions: signed}, receipts, trie.NewStackTrie(nil))
	hash := blk.Hash()
	fb := &fakeEVMBlock{height: height, hash: hash}
	var logIndex uint
	txJSON := make([]json.RawMessage, len(signed))
	hashes := make([]common.Hash, len(signed))
	rcJSON := map[common.Hash]json.RawMessage{}
	for i, tx := range signed {
		r := receipts[i]
		r.BlockHash = hash
		for _, l := range r.Logs {
			l.BlockNumber, l.BlockHash, l.TxHash, l.TxIndex, l.Index = uint64(height), hash, tx.Hash(), uint(i), logIndex
			logIndex++
			fb.logs = append(fb.logs, l)
			fb.logJSON = append(fb.logJSON, mustJSON(tb, l))
		}
		extra := map[string]any{"blockHash": hash, "blockNumber": hexutil.Uint64(height), "from": n.from,
			"transactionIndex": hexutil.Uint64(i)}
		txJSON[i] = withFields(tb, mustJSON(tb, tx), extra)
		extra = map[string]any{"from": n.from, "to": tx.To(), "contractAddress": nil}
		rcJSON[tx.Hash()] = withFields(tb, mustJSON(tb, r), extra)
		hashes[i] = tx.Hash()
	}
	head := mustJSON(tb, blk.Header())
	fields := map[string]any{"uncles": []common.Hash{}, "size": hexutil.Uint64(blk.Size())}
	fields["transactions"] = txJSON
	fb.full = withFields(tb, head, fields)
	fields["transactions"] = hashes
	fb.light = withFields(tb, head, fields)

	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range txs {
		if x.Token != nil {
			continue
		}
		c := n.credits[x.To]
		bal := new(big.Int).Set(x.Amount)
		if len(c) > 0 {
			bal.Add(bal, c[len(c)-1].balance)
		}
		if len(c) > 0 && c[len(c)-1].height == height {
			c[len(c)-1].balance = bal
		} else {
			n.credits[x.To] = append(c, fakeCredit{height, bal})
		}
	}
	for h, r := range rcJSON {
		n.receipts[h] = r
	}
	n.blocks = append(n.blocks, fb)
	n.byHash[hash] = fb
	n.tip = height
}

func mustJSON(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withFields adds fields to a JSON object.
func withFields(tb testing.TB, obj json.RawMessage, extra map[string]any) json.RawMessage {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		tb.Fatal(err)
	}
	for k, v := range extra {
		m[k] = mustJSON(tb, v)
	}
	return mustJSON(tb, m)
}

// fakeEth is the eth_ namespace of fakeEVMNode.
type fakeEth struct{ n *fakeEVMNode }

func (e *fakeEth) ChainId() *hexutil.Big { return (*hexutil.Big)(e.n.chainID) }

func (e *fakeEth) Call(args map[string]any, _ string) (hexutil.Bytes, error) {
	to, _ := args["to"].(string)
	d, ok := e.n.decimals[common.HexToAddress(to)]
	if !ok {
		return hexutil.Bytes{}, nil
	}
	return common.LeftPadBytes([]byte{d}, 32), nil
}

func (e *fakeEth) GetBlockByNumber(tag string, full bool) (json.RawMessage, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	h := e.n.tip
	if tag != "latest" && tag != "finalized" && tag != "safe" {
		v, err := hexutil.DecodeUint64(tag)
		if err != nil {
			return nil, fmt.Errorf("block number %q: %w", tag, err)
		}
		h = int64(v)
	}
	if h < 0 || h > e.n.tip {
		return json.RawMessage("null"), nil
	}
	if full {
		return e.n.blocks[h].full, nil
	}
	return e.n.blocks[h].light, nil
}

func (e *fakeEth) GetTransactionReceipt(h common.Hash) (json.RawMessage, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	if r, ok := e.n.receipts[h]; ok {
		return r, nil
	}
	return json.RawMessage("null"), nil
}

type fakeLogFilter struct {
	BlockHash *common.Hash     `json:"blockHash"`
	Address   []common.Address `json:"address"`
	Topics    [][]common.Hash  `json:"topics"`
}

func (e *fakeEth) GetLogs(q fakeLogFilter) ([]json.RawMessage, error) {
	if q.BlockHash == nil {
		return nil, errors.New("the fake node filters logs by blockHash only")
	}
	e.n.mu.Lock()
	b, ok := e.n.byHash[*q.BlockHash]
	e.n.mu.Unlock()
	if !ok {
		return nil, errors.New("unknown block")
	}
	out := []json.RawMessage{}
	for i, l := range b.logs {
		if len(q.Address) > 0 && !slices.Contains(q.Address, l.Address) {
			continue
		}
		match := true
		for j, alts := range q.Topics {
			if len(alts) > 0 && (j >= len(l.Topics) || !slices.Contains(alts, l.Topics[j])) {
				match = false
				break
			}
		}
		if match {
			out = append(out, b.logJSON[i])
		}
	}
	return out, nil
}

func (e *fakeEth) GetBalance(a common.Address, at rpc.BlockNumberOrHash) (*hexutil.Big, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	h, ok := at.Hash()
	if !ok {
		return nil, errors.New("the fake node answers balances by block hash only")
	}
	b, ok := e.n.byHash[h]
	if !ok {
		return nil, errors.New("unknown block")
	}
	bal := new(big.Int)
	for _, c := range e.n.credits[a] {
		if c.height > b.height {
			break
		}
		bal = c.balance
	}
	return (*hexutil.Big)(bal), nil
}

// randomAddress returns an address from r.
func randomAddress(r *rand.Rand) common.Address {
	var a common.Address
	for i := range a {
		a[i] = byte(r.UintN(256))
	}
	return a
}
