package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/chainpay/chainpay/chains/ethereum"
)

// transferTopic is keccak256("Transfer(address,address,uint256)"), topic 0 of ERC-20 Transfer logs.
var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// decimalsSelector is the 4-byte selector of ERC-20 decimals().
var decimalsSelector = hexutil.Bytes{0x31, 0x3c, 0xe5, 0x67}

// Defaults of EthereumConfig.
const (
	DefaultEthereumTimeout = 10 * time.Second
	// DefaultBatchSize is the number of calls per JSON-RPC batch (public providers often
	// refuse batches above 100).
	DefaultBatchSize = 100
	// DefaultTopicFilterMax is the largest watch set filtered by recipient in eth_getLogs;
	// above it all Transfer logs of the tokens are fetched and filtered locally (geth
	// refuses more than 1,000 alternatives per topic).
	DefaultTopicFilterMax = 500
)

// ErrChainMismatch reports a node that serves another chain, or a token whose decimals()
// differ from the configuration.
var ErrChainMismatch = errors.New("node does not match the configuration")

// EthereumToken is one ERC-20 token the source reports: Transfer logs of Contract are
// reported with asset code Code; Decimals is checked against decimals() by Check.
type EthereumToken struct {
	Code     string
	Contract common.Address
	Decimals uint8
}

// EthereumConfig configures an EthereumSource for any EVM chain.
type EthereumConfig struct {
	// Chain names the chain ("ethereum"); payment options of this chain are matched.
	Chain string
	// ChainID is the EIP-155 chain id Check requires of every node.
	ChainID uint64
	// URLs are JSON-RPC endpoints (http(s) or ws(s)) tried in order with failover.
	URLs []string
	// Native is the native asset's code; "" means "ETH".
	Native string
	// Tokens are the ERC-20 tokens to detect.
	Tokens []EthereumToken
	// Timeout bounds every call to a node; default DefaultEthereumTimeout.
	Timeout time.Duration
	// HTTPClient, when set, carries the http(s) JSON-RPC calls (e.g. a transport that
	// records RPC metrics); nil is a default client.
	HTTPClient *http.Client
	// BatchSize is the number of calls per JSON-RPC batch; default DefaultBatchSize.
	BatchSize int
	// TopicFilterMax: see DefaultTopicFilterMax.
	TopicFilterMax int
	// ReconcilePerBlock bounds the balance reconciliation of a block: the addresses
	// watched since the previous block, plus this many more in round-robin order (see
	// EthereumSource); default DefaultReconcilePerBlock.
	ReconcilePerBlock int
	Logger            *slog.Logger
	// Finality is the block tag whose block is final for this chain's payments:
	// "finalized" or "safe"; "" when payments settle on depth alone. With a tag, Check
	// requires the node to serve it and the follower reads it each step (FinalHeight).
	Finality string
}

// endpoint is one node.
type endpoint struct {
	name string // URL without credentials, for logs and errors
	c    *rpc.Client
}

// EthereumSource reads an EVM chain through JSON-RPC for a Follower. Per block it reports
//
//   - native currency sent by top-level transactions to a watched address (tx.to is the
//     address and the receipt's status is success): TxID is the transaction hash, Index −1;
//   - ERC-20 Transfer logs of the configured tokens whose recipient is watched: TxID is the
//     transaction hash, Index the log's position among its transaction's logs (0, 1, ...),
//     which, unlike the block-wide log index, stays the same when a reorg re-includes the
//     transaction in another block, so the payment keeps its identity;
//   - a balance reconciliation of the watched addresses (the follower unwatches the
//     addresses of closed invoices, so these are exactly the open invoices' addresses and
//     those within Config.CloseGrace of closing), in rotation: each block reconciles the
//     addresses watched since the previous block and the next ReconcilePerBlock addresses
//     of a round-robin ring, so every watched address is reconciled at least once every
//     ceil(watched / ReconcilePerBlock) blocks (the reconciliation period: 1 block up to
//     ReconcilePerBlock addresses, 25 blocks for 100,000 at the default 4,000). For an
//     address, the balance at this block minus its balance where it was last reconciled
//     (for a newly watched address: at this block's parent), minus the native transfers
//     reported to it in the blocks between, is native currency that arrived some other
//     way: contract-internal calls (exchange withdrawals, smart wallets), SELFDESTRUCT,
//     withdrawals or fee recipients. A positive remainder is reported in this block as a
//     pseudo-transfer with TxID "balance:<blockhash>:<address>" (lower-case hex) and
//     Index −1. Balances are read by block hash in JSON-RPC batches of BatchSize. The
//     block hash makes the report stable across re-processing of the same block (the
//     payments' unique key dedupes it) and distinct across a reorg (the orphaned block's
//     pseudo-transfer is dropped like any orphaned payment; a block that does not extend
//     the last one read sends each address back to its newest base below it, so the new
//     branch reports the gain again); the address keeps two addresses credited in one
//     block apart under the (chain, txid, index) key.
//
// Known limits of reconciliation: an internal payment is reported in the block where its
// address's turn came, up to one period after the block that carried it, so its sighting
// time (and the invoice's lateness) is that block's; it sees the net change since the last
// reconciliation, so an internal payment in the same period as a sweep that empties the
// address is not seen; once a forwarder is deployed it forwards ETH on receipt and its
// balance stays zero, so only top-level payments to it are seen (a deployed forwarder
// belongs to a swept, settled invoice); a reorg that orphans all of an address's
// reconKeepBases bases (deeper than about two reconciliation periods) bases it again at
// the fork, and a gain in the window that straddles the fork, reported only on the
// orphaned branch, is not reported again.
//
// Confirmations are depth-based: the follower counts tip − height + 1. A later version can
// map the `finalized` tag (eth_getBlockByNumber("finalized")) to "settled" by reporting a
// depth of at least the required confirmations for blocks at or below the finalized one.
//
// The source has no visible mempool (Mempool returns nil): a payment appears when mined,
// and the follower drops the ones a reorg removed. Watch/Unwatch are safe for concurrent
// use with the other methods; the follower calls the rest from one goroutine.
type EthereumSource struct {
	cfg       EthereumConfig
	endpoints []endpoint
	tokens    map[common.Address]EthereumToken
	log       *slog.Logger

	mu      sync.Mutex
	pref    int                       // index of the endpoint that answered last
	watched map[common.Address]string // address → the text the follower knows it by
	recon   reconciler
}

var (
	_ Source    = (*EthereumSource)(nil)
	_ Watcher   = (*EthereumSource)(nil)
	_ Unwatcher = (*EthereumSource)(nil)
)

// NewEthereumSource dials cfg.URLs (without contacting the nodes for http URLs) and
// returns the source. Call Check before following.
func NewEthereumSource(ctx context.Context, cfg EthereumConfig) (*EthereumSource, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("new ethereum source: at least one RPC URL is required")
	}
	var clients []*rpc.Client
	var names []string
	for i, u := range cfg.URLs {
		var opts []rpc.ClientOption
		if cfg.HTTPClient != nil && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			opts = append(opts, rpc.WithHTTPClient(cfg.HTTPClient))
		}
		c, err := rpc.DialOptions(ctx, u, opts...)
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return nil, fmt.Errorf("new ethereum source: dial RPC URL %d (%s): %w", i, redact(u), err)
		}
		clients = append(clients, c)
		names = append(names, redact(u))
	}
	return newEthereumSource(cfg, clients, names)
}

// NewEthereumSourceClients returns a source over already connected clients (in-process
// nodes in tests), with failover in the given order. cfg.URLs is ignored.
func NewEthereumSourceClients(cfg EthereumConfig, clients ...*rpc.Client) (*EthereumSource, error) {
	names := make([]string, len(clients))
	for i := range clients {
		names[i] = fmt.Sprintf("client-%d", i)
	}
	return newEthereumSource(cfg, clients, names)
}

func newEthereumSource(cfg EthereumConfig, clients []*rpc.Client, names []string) (*EthereumSource, error) {
	if cfg.Chain == "" {
		return nil, errors.New("new ethereum source: chain name is required")
	}
	if cfg.ChainID == 0 {
		return nil, fmt.Errorf("new ethereum source %s: chain id is required", cfg.Chain)
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("new ethereum source %s: no RPC client", cfg.Chain)
	}
	if cfg.Native == "" {
		cfg.Native = "ETH"
	}
	switch cfg.Finality {
	case "", "finalized", "safe":
	default:
		return nil, fmt.Errorf("new ethereum source %s: finality %q is not finalized or safe", cfg.Chain, cfg.Finality)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultEthereumTimeout
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.TopicFilterMax == 0 {
		cfg.TopicFilterMax = DefaultTopicFilterMax
	}
	if cfg.ReconcilePerBlock == 0 {
		cfg.ReconcilePerBlock = DefaultReconcilePerBlock
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("new ethereum source %s: negative timeout", cfg.Chain)
	case cfg.BatchSize < 0:
		return nil, fmt.Errorf("new ethereum source %s: negative batch size", cfg.Chain)
	case cfg.ReconcilePerBlock < 0:
		return nil, fmt.Errorf("new ethereum source %s: negative reconciliations per block", cfg.Chain)
	case cfg.TopicFilterMax < 0 || cfg.TopicFilterMax > 1000:
		return nil, fmt.Errorf("new ethereum source %s: topic filter max %d outside [0, 1000]", cfg.Chain, cfg.TopicFilterMax)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	tokens := map[common.Address]EthereumToken{}
	codes := map[string]bool{cfg.Native: true}
	for _, t := range cfg.Tokens {
		switch {
		case t.Code == "":
			return nil, fmt.Errorf("new ethereum source %s: token %s has no code", cfg.Chain, t.Contract.Hex())
		case t.Contract == (common.Address{}):
			return nil, fmt.Errorf("new ethereum source %s: token %s: %w", cfg.Chain, t.Code, ethereum.ErrZeroAddress)
		case codes[t.Code]:
			return nil, fmt.Errorf("new ethereum source %s: asset code %s used twice", cfg.Chain, t.Code)
		}
		if _, dup := tokens[t.Contract]; dup {
			return nil, fmt.Errorf("new ethereum source %s: token contract %s listed twice", cfg.Chain, t.Contract.Hex())
		}
		codes[t.Code] = true
		tokens[t.Contract] = t
	}
	s := &EthereumSource{cfg: cfg, tokens: tokens, log: cfg.Logger.With("chain", cfg.Chain),
		watched: map[common.Address]string{}, recon: newReconciler()}
	for i, c := range clients {
		s.endpoints = append(s.endpoints, endpoint{name: names[i], c: c})
	}
	return s, nil
}

// redact drops credentials and the path (API keys often live there) from an RPC URL.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "(unparsable URL)"
	}
	if _, host, ok := strings.Cut(rest, "@"); ok {
		rest = host
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// Close closes the connections to the nodes.
func (s *EthereumSource) Close() {
	for _, e := range s.endpoints {
		e.c.Close()
	}
}

// Chain implements Source.
func (s *EthereumSource) Chain() string { return s.cfg.Chain }

// call runs fn against the preferred endpoint, failing over to the others in order on any
// error; each attempt gets its own timeout. It stops early when ctx ends.
func (s *EthereumSource) call(ctx context.Context, what string, fn func(context.Context, *rpc.Client) error) error {
	s.mu.Lock()
	first := s.pref
	s.mu.Unlock()
	var errs []error
	for i := range s.endpoints {
		idx := (first + i) % len(s.endpoints)
		e := s.endpoints[idx]
		actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := fn(actx, e.c)
		cancel()
		if err == nil {
			if idx != first {
				s.mu.Lock()
				s.pref = idx
				s.mu.Unlock()
				s.log.Warn("ethereum node failover", "to", e.name, "call", what)
			}
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("%s: %w", what, errors.Join(errs...))
}

// FinalHeight implements Finalizer: the height of the node's block at the configured
// finality tag (eth_getBlockByNumber("finalized"/"safe")). Without a tag it returns 0.
// A node that does not serve the tag (pre-merge chains, some L2 nodes) is an error: the
// payments of the chain then never settle, and readiness shows why.
func (s *EthereumSource) FinalHeight(ctx context.Context) (int64, error) {
	if s.cfg.Finality == "" {
		return 0, nil
	}
	h, err := s.header(ctx, s.cfg.Finality)
	if err != nil {
		return 0, fmt.Errorf("%s block: %w", s.cfg.Finality, err)
	}
	return h.Height, nil
}

// Check verifies that every node serves cfg.ChainID, that every token's decimals() equals
// its configured decimals, and, with a finality tag, that the node serves that tag. Run it
// on start: a wrong chain or token would otherwise credit payments in the wrong unit.
func (s *EthereumSource) Check(ctx context.Context) error {
	for _, e := range s.endpoints {
		var id hexutil.Big
		cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := e.c.CallContext(cctx, &id, "eth_chainId")
		cancel()
		if err != nil {
			return fmt.Errorf("check %s: chain id: %w", e.name, err)
		}
		if got := (*big.Int)(&id); !got.IsUint64() || got.Uint64() != s.cfg.ChainID {
			return fmt.Errorf("check %s: %w: chain id %s, configured %d", e.name, ErrChainMismatch, got, s.cfg.ChainID)
		}
	}
	for _, t := range s.tokens {
		var out hexutil.Bytes
		err := s.call(ctx, "decimals of "+t.Code, func(ctx context.Context, c *rpc.Client) error {
			return c.CallContext(ctx, &out, "eth_call", map[string]any{"to": t.Contract, "data": decimalsSelector}, "latest")
		})
		if err != nil {
			return fmt.Errorf("check token %s (%s): %w", t.Code, t.Contract.Hex(), err)
		}
		d, err := decodeDecimals(out)
		if err != nil {
			return fmt.Errorf("check token %s (%s): %w", t.Code, t.Contract.Hex(), err)
		}
		if d != t.Decimals {
			return fmt.Errorf("check token %s (%s): %w: decimals() = %d, configured %d", t.Code, t.Contract.Hex(), ErrChainMismatch, d, t.Decimals)
		}
	}
	if s.cfg.Finality != "" {
		if _, err := s.FinalHeight(ctx); err != nil {
			return fmt.Errorf("check the %q block tag (the chain's confirmation policy): %w", s.cfg.Finality, err)
		}
	}
	return nil
}

// decodeDecimals decodes an ABI uint8 return value.
func decodeDecimals(out []byte) (uint8, error) {
	if len(out) != 32 {
		return 0, fmt.Errorf("%w: decimals() returned %d bytes (no contract there?)", ErrChainMismatch, len(out))
	}
	for _, b := range out[:31] {
		if b != 0 {
			return 0, fmt.Errorf("%w: decimals() returned a value above 255", ErrChainMismatch)
		}
	}
	return out[31], nil
}

// Filtered implements Source: the source reports transfers to the addresses it was
// handed (Watch) only, whose balances it reconciles.
func (s *EthereumSource) Filtered() bool { return true }

// Watch implements Watcher: it adds deposit addresses to match and to reconcile. Each must
// be a 0x address (see ethereum.ParseAddress); transfers are reported with the text given.
func (s *EthereumSource) Watch(addresses []string) error {
	parsed := make([]common.Address, len(addresses))
	for i, a := range addresses {
		p, err := ethereum.ParseAddress(a)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		parsed[i] = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range parsed {
		if _, ok := s.watched[p]; !ok {
			s.watched[p] = addresses[i]
			s.recon.watch(p)
		}
	}
	return nil
}

// Unwatch implements Unwatcher: it stops matching and reconciling addresses (the follower
// calls it for invoices that closed), bounding the per-block cost by the open invoices.
// Unknown or malformed addresses are ignored.
func (s *EthereumSource) Unwatch(addresses []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addresses {
		p, err := ethereum.ParseAddress(a)
		if err != nil {
			continue
		}
		delete(s.watched, p)
		s.recon.unwatch(p)
	}
}

// lookup returns the text the follower knows a watched address by. Each lookup sees the
// watch set of that moment (no copy of the set is taken per block): an address watched or
// unwatched while a block is read may be matched in part of it, which is harmless — the
// follower decides which transfers are payments, and the reconciliation of an address
// starts at the first block read after it was watched.
func (s *EthereumSource) lookup(a common.Address) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	txt, ok := s.watched[a]
	return txt, ok
}

// Watching returns the number of addresses the source watches (matches and reconciles).
func (s *EthereumSource) Watching() int {
	n, _ := s.watching(0)
	return n
}

// watching returns the number of watched addresses, and the addresses themselves when
// there are at most upTo.
func (s *EthereumSource) watching(upTo int) (int, []common.Address) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.watched) > upTo {
		return len(s.watched), nil
	}
	out := make([]common.Address, 0, len(s.watched))
	for a := range s.watched {
		out = append(out, a)
	}
	return len(out), out
}

// rpcHeader is the part of an eth_getBlockByNumber answer the source reads. It decodes
// only these fields, so blocks of chains with extra transaction types decode too.
type rpcHeader struct {
	Number     *hexutil.Big   `json:"number"`
	Hash       *common.Hash   `json:"hash"`
	ParentHash common.Hash    `json:"parentHash"`
	Timestamp  hexutil.Uint64 `json:"timestamp"`
}

type rpcTx struct {
	Hash  common.Hash     `json:"hash"`
	From  common.Address  `json:"from"`
	To    *common.Address `json:"to"`
	Value *hexutil.Big    `json:"value"`
}

type rpcBlock struct {
	rpcHeader
	Transactions []rpcTx `json:"transactions"`
}

func (h rpcHeader) header() (Header, error) {
	if h.Number == nil || h.Hash == nil {
		return Header{}, errors.New("node returned a block without number or hash (pending block?)")
	}
	n := (*big.Int)(h.Number)
	if !n.IsInt64() {
		return Header{}, fmt.Errorf("block number %s out of range", n)
	}
	return Header{Height: n.Int64(), Hash: h.Hash.Hex(), Parent: h.ParentHash.Hex(),
		Time: time.Unix(int64(h.Timestamp), 0).UTC()}, nil
}

// ErrBlockNotFound reports a height the node has no block at (beyond its tip).
var ErrBlockNotFound = errors.New("block not found")

func (s *EthereumSource) header(ctx context.Context, tag string) (Header, error) {
	var h *rpcHeader
	err := s.call(ctx, "header "+tag, func(ctx context.Context, c *rpc.Client) error {
		h = nil
		if err := c.CallContext(ctx, &h, "eth_getBlockByNumber", tag, false); err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("%w at %s", ErrBlockNotFound, tag)
		}
		return nil
	})
	if err != nil {
		return Header{}, err
	}
	return h.header()
}

// Tip implements Source: the latest block of the node that is furthest ahead. With several
// endpoints each is asked (a load-balanced or lagging node must never make the follower
// step backwards), and the one with the highest block becomes the preferred endpoint for
// the block reads that follow. Endpoints that fail are skipped; all failing is an error.
func (s *EthereumSource) Tip(ctx context.Context) (Header, error) {
	if len(s.endpoints) == 1 {
		return s.header(ctx, "latest")
	}
	var best Header
	bestIdx := -1
	var errs []error
	for i, e := range s.endpoints {
		actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		var h *rpcHeader
		err := e.c.CallContext(actx, &h, "eth_getBlockByNumber", "latest", false)
		cancel()
		if err == nil && h == nil {
			err = fmt.Errorf("%w at latest", ErrBlockNotFound)
		}
		var hd Header
		if err == nil {
			hd, err = h.header()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if bestIdx < 0 || hd.Height > best.Height {
			best, bestIdx = hd, i
		}
	}
	if bestIdx < 0 {
		return Header{}, fmt.Errorf("header latest: %w", errors.Join(errs...))
	}
	s.mu.Lock()
	if s.pref != bestIdx {
		s.log.Info("ethereum: following the node furthest ahead", "endpoint", s.endpoints[bestIdx].name, "height", best.Height)
	}
	s.pref = bestIdx
	s.mu.Unlock()
	return best, nil
}

// Finalized returns the block the node's `finalized` tag names (for operators and a future
// finality-based confirmation policy).
func (s *EthereumSource) Finalized(ctx context.Context) (Header, error) {
	return s.header(ctx, "finalized")
}

// HeaderAt implements Source.
func (s *EthereumSource) HeaderAt(ctx context.Context, height int64) (Header, error) {
	if height < 0 {
		return Header{}, fmt.Errorf("header at %d: negative height", height)
	}
	return s.header(ctx, hexutil.EncodeUint64(uint64(height)))
}

// Mempool implements Source: an EVM node's mempool is not watched (nil).
func (s *EthereumSource) Mempool(context.Context) ([]Transfer, error) { return nil, nil }

// rpcLog is the part of a log the source reads.
type rpcLog struct {
	Address   common.Address `json:"address"`
	Topics    []common.Hash  `json:"topics"`
	Data      hexutil.Bytes  `json:"data"`
	BlockHash common.Hash    `json:"blockHash"`
	TxHash    common.Hash    `json:"transactionHash"`
	Index     hexutil.Uint   `json:"logIndex"`
	Removed   bool           `json:"removed"`
}

type rpcReceipt struct {
	Status    hexutil.Uint64 `json:"status"`
	BlockHash common.Hash    `json:"blockHash"`
	Logs      []rpcLog       `json:"logs"`
}

// BlockAt implements Source: see the type's documentation for what it reports.
func (s *EthereumSource) BlockAt(ctx context.Context, height int64) (Block, error) {
	if height < 0 {
		return Block{}, fmt.Errorf("block at %d: negative height", height)
	}
	var raw *rpcBlock
	err := s.call(ctx, fmt.Sprintf("block %d", height), func(ctx context.Context, c *rpc.Client) error {
		raw = nil
		if err := c.CallContext(ctx, &raw, "eth_getBlockByNumber", hexutil.EncodeUint64(uint64(height)), true); err != nil {
			return err
		}
		if raw == nil {
			return fmt.Errorf("%w at height %d", ErrBlockNotFound, height)
		}
		return nil
	})
	if err != nil {
		return Block{}, err
	}
	h, err := raw.header()
	if err != nil {
		return Block{}, fmt.Errorf("block %d: %w", height, err)
	}
	hash := *raw.Hash
	b := Block{Header: h}
	s.mu.Lock()
	s.recon.rewind(height, raw.ParentHash)
	s.mu.Unlock()
	n, few := s.watching(s.cfg.TopicFilterMax)
	if n == 0 {
		return b, nil
	}

	// Native currency sent by top-level transactions.
	explained := map[common.Address]*big.Int{}
	receipts := map[common.Hash]*rpcReceipt{}
	for _, tx := range raw.Transactions {
		if tx.To == nil || tx.Value == nil || (*big.Int)(tx.Value).Sign() == 0 {
			continue
		}
		txt, ok := s.lookup(*tx.To)
		if !ok {
			continue
		}
		r, err := s.receipt(ctx, tx.Hash, hash, receipts)
		if err != nil {
			return Block{}, fmt.Errorf("block %d: %w", height, err)
		}
		if r.Status != 1 {
			continue // reverted: no value moved
		}
		v := new(big.Int).Set((*big.Int)(tx.Value))
		b.Transfers = append(b.Transfers, Transfer{TxID: tx.Hash.Hex(), Index: -1, Address: txt, Asset: s.cfg.Native, Amount: v,
			From: strings.ToLower(tx.From.Hex())})
		if explained[*tx.To] == nil {
			explained[*tx.To] = new(big.Int)
		}
		explained[*tx.To].Add(explained[*tx.To], v)
	}

	// ERC-20 Transfer logs of the configured tokens.
	if len(s.tokens) > 0 {
		ts, err := s.tokenTransfers(ctx, hash, n, few, receipts)
		if err != nil {
			return Block{}, fmt.Errorf("block %d: %w", height, err)
		}
		b.Transfers = append(b.Transfers, ts...)
	}

	// Balance reconciliation.
	if height > 0 {
		ts, err := s.reconcile(ctx, height, hash, raw.ParentHash, explained)
		switch {
		case err != nil && stateUnavailable(err):
			// A non-archive node keeps recent state only (about 128 blocks): a follower that
			// fell further behind cannot reconcile old blocks. Transactions and token logs are
			// still matched; only contract-internal ETH in these blocks goes unseen.
			s.log.Warn("balance reconciliation skipped: the node no longer has this block's state",
				"height", height, "err", err)
		case err != nil:
			return Block{}, fmt.Errorf("block %d: reconcile balances: %w", height, err)
		default:
			b.Transfers = append(b.Transfers, ts...)
		}
	}
	return b, nil
}

// receipt fetches a transaction's receipt once per block and checks it is in block.
func (s *EthereumSource) receipt(ctx context.Context, tx, block common.Hash, cache map[common.Hash]*rpcReceipt) (*rpcReceipt, error) {
	if r, ok := cache[tx]; ok {
		return r, nil
	}
	var r *rpcReceipt
	err := s.call(ctx, "receipt "+tx.Hex(), func(ctx context.Context, c *rpc.Client) error {
		r = nil
		if err := c.CallContext(ctx, &r, "eth_getTransactionReceipt", tx); err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("no receipt for %s", tx.Hex())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.BlockHash != block {
		// The node moved to another branch between our calls; the follower retries.
		return nil, fmt.Errorf("receipt of %s is in block %s, not %s: chain reorganised during the scan", tx.Hex(), r.BlockHash.Hex(), block.Hex())
	}
	cache[tx] = r
	return r, nil
}

// tokenTransfers reports the block's Transfer logs of the configured tokens to watched
// addresses; n is the number of watched addresses and few lists them when n is at most
// TopicFilterMax (then the node filters by recipient).
func (s *EthereumSource) tokenTransfers(ctx context.Context, block common.Hash, n int, few []common.Address, receipts map[common.Hash]*rpcReceipt) ([]Transfer, error) {
	contracts := make([]common.Address, 0, len(s.tokens))
	for a := range s.tokens {
		contracts = append(contracts, a)
	}
	topics := []any{[]common.Hash{transferTopic}}
	if n <= s.cfg.TopicFilterMax {
		to := make([]common.Hash, 0, len(few))
		for _, a := range few {
			to = append(to, common.BytesToHash(a.Bytes()))
		}
		topics = append(topics, nil, to)
	}
	filter := map[string]any{"blockHash": block, "address": contracts, "topics": topics}
	var logs []rpcLog
	err := s.call(ctx, "transfer logs", func(ctx context.Context, c *rpc.Client) error {
		logs = nil
		return c.CallContext(ctx, &logs, "eth_getLogs", filter)
	})
	if err != nil {
		return nil, err
	}
	var out []Transfer
	for _, l := range logs {
		tok, ok := s.tokens[l.Address]
		if !ok || l.Removed || len(l.Topics) != 3 || l.Topics[0] != transferTopic || len(l.Data) != 32 {
			continue // not an ERC-20 Transfer (ERC-721 Transfer has 4 topics)
		}
		if l.BlockHash != block {
			return nil, fmt.Errorf("log of %s is in block %s, not %s", l.TxHash.Hex(), l.BlockHash.Hex(), block.Hex())
		}
		if [12]byte(l.Topics[2][:12]) != [12]byte{} {
			continue // not an address
		}
		to := common.BytesToAddress(l.Topics[2][12:])
		txt, ok := s.lookup(to)
		if !ok {
			continue
		}
		amount := new(big.Int).SetBytes(l.Data)
		if amount.Sign() == 0 {
			continue
		}
		r, err := s.receipt(ctx, l.TxHash, block, receipts)
		if err != nil {
			return nil, err
		}
		if len(r.Logs) == 0 || l.Index < r.Logs[0].Index || int(l.Index-r.Logs[0].Index) >= len(r.Logs) {
			return nil, fmt.Errorf("log %d of %s is not among its receipt's logs", l.Index, l.TxHash.Hex())
		}
		out = append(out, Transfer{TxID: l.TxHash.Hex(), Index: int64(l.Index - r.Logs[0].Index), Address: txt, Asset: tok.Code, Amount: amount,
			From: strings.ToLower(common.BytesToAddress(l.Topics[1][12:]).Hex())})
	}
	return out, nil
}

// reconcile reads the balances of this block's share of the watched addresses (see
// EthereumSource and reconciler) and reports the gains not explained by top-level
// transfers. On an error nothing is recorded: the addresses keep their bases.
func (s *EthereumSource) reconcile(ctx context.Context, height int64, block, parent common.Hash,
	explained map[common.Address]*big.Int) ([]Transfer, error) {
	s.mu.Lock()
	pending, due := s.recon.pick(height, parent, s.cfg.ReconcilePerBlock)
	s.mu.Unlock()
	read := map[common.Hash]map[common.Address]*big.Int{}
	var lost []common.Address
	var err error
	for at, addrs := range pending {
		m := make(map[common.Address]*big.Int, len(addrs))
		switch e := s.balances(ctx, at, addrs, m); {
		case e != nil && stateUnavailable(e):
			// The base's block is older than the node's state: based again at the parent
			// (a gain between the two is not seen).
			s.log.Warn("balance reconciliation: first balances of newly watched addresses no longer available, based later",
				"addresses", len(addrs), "block", at.Hex(), "err", e)
			lost = append(lost, addrs...)
		case e != nil:
			err = fmt.Errorf("at %s: %w", at.Hex(), e)
		default:
			read[at] = m
		}
		if err != nil {
			break
		}
	}
	cur := make(map[common.Address]*big.Int, len(due))
	if err == nil {
		if err = s.balances(ctx, block, due, cur); err != nil {
			err = fmt.Errorf("at %s: %w", block.Hex(), err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// The block's top-level transfers still count against the next reconciliation.
		s.recon.update(height, block, parent, explained, nil, nil, nil)
		return nil, err
	}
	gains := s.recon.update(height, block, parent, explained, read, lost, cur)
	var out []Transfer
	for a, g := range gains {
		out = append(out, Transfer{TxID: "balance:" + strings.ToLower(block.Hex()) + ":" + strings.ToLower(a.Hex()),
			Index: -1, Address: s.watched[a], Asset: s.cfg.Native, Amount: g})
	}
	slices.SortFunc(out, func(a, b Transfer) int { return strings.Compare(a.TxID, b.TxID) })
	return out, nil
}

// balances reads eth_getBalance of addrs at block (by hash, EIP-1898) in batches into out.
func (s *EthereumSource) balances(ctx context.Context, block common.Hash, addrs []common.Address, out map[common.Address]*big.Int) error {
	at := rpc.BlockNumberOrHashWithHash(block, true)
	for start := 0; start < len(addrs); start += s.cfg.BatchSize {
		chunk := addrs[start:min(start+s.cfg.BatchSize, len(addrs))]
		results := make([]hexutil.Big, len(chunk))
		err := s.call(ctx, fmt.Sprintf("balances of %d addresses", len(chunk)), func(ctx context.Context, c *rpc.Client) error {
			elems := make([]rpc.BatchElem, len(chunk))
			for i, a := range chunk {
				elems[i] = rpc.BatchElem{Method: "eth_getBalance", Args: []any{a, at}, Result: &results[i]}
			}
			if err := c.BatchCallContext(ctx, elems); err != nil {
				return err
			}
			for i, e := range elems {
				if e.Error != nil {
					return fmt.Errorf("balance of %s: %w", chunk[i].Hex(), e.Error)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, a := range chunk {
			out[a] = new(big.Int).Set((*big.Int)(&results[i]))
		}
	}
	return nil
}

// stateUnavailable reports a node error meaning the state of an old block was pruned.
func stateUnavailable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "historical state") || strings.Contains(msg, "missing trie node") ||
		strings.Contains(msg, "state is not available") || strings.Contains(msg, "state histories haven't been fully indexed")
}
