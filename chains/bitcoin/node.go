package bitcoin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// DefaultNodeTimeout is the per-endpoint timeout of a Node call when
// NodeConfig.Timeout is zero.
const DefaultNodeTimeout = 30 * time.Second

// maxHeaderLead is how many headers a node may know beyond its blocks before
// Check calls it syncing; a node in sync briefly has one more header while it
// fetches the newest block.
const maxHeaderLead = 1

// NodeConfig configures a Node.
type NodeConfig struct {
	// URLs lists JSON-RPC endpoints of bitcoind or btcd nodes in order of
	// preference, with credentials: http://user:password@host:8332. At least
	// one is required.
	URLs []string
	// Network is the network the nodes must serve.
	Network Network
	// Timeout bounds each attempt against one endpoint (default
	// DefaultNodeTimeout). A call that fails over may take up to
	// len(URLs) × Timeout, within the caller's context.
	Timeout time.Duration
	// Logger receives failover warnings (default: discard).
	Logger *slog.Logger
	// HTTPClient is used for requests, for example to configure TLS or a
	// proxy (default: a client with its own transport). Its Timeout, if any,
	// applies in addition to Timeout.
	HTTPClient *http.Client
}

// Node reads a Bitcoin chain from bitcoind or btcd over JSON-RPC: tip, block
// hashes, raw blocks decoded with btcd's wire package, and the mempool.
//
// Node is a small JSON-RPC 1.0 client over net/http written for chainpay
// rather than btcd's rpcclient: rpcclient starts its own goroutines per
// client, speaks btcd's websocket extensions, and hides HTTP status and body
// details that Node turns into ErrUnreachable, ErrUnauthorized and
// ErrBadResponse. Six read-only calls do not justify it.
//
// Every call runs under a per-endpoint timeout; on a transport error, a 5xx,
// rejected credentials or a garbage answer Node tries the next endpoint and
// remembers the one that answered. An RPC error object is the node's answer
// and is returned as *RPCError without failover. Node is safe for concurrent
// use and starts no goroutines; Close releases idle connections.
type Node struct {
	rpc    rpcClient
	net    Network
	params *chaincfg.Params
}

// NewNode validates cfg and returns a Node. It makes no network calls; call
// Check to verify the nodes.
func NewNode(cfg NodeConfig) (*Node, error) {
	params, err := Params(cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("new bitcoin node: %w", err)
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("new bitcoin node: no node URLs configured")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("new bitcoin node: negative timeout %s", cfg.Timeout)
	}
	n := &Node{net: cfg.Network, params: params}
	for i, raw := range cfg.URLs {
		ep, err := parseRPCEndpoint(raw)
		if err != nil {
			return nil, fmt.Errorf("new bitcoin node: URL %d: %w", i+1, err)
		}
		n.rpc.endpoints = append(n.rpc.endpoints, ep)
	}
	n.rpc.timeout = cfg.Timeout
	if n.rpc.timeout == 0 {
		n.rpc.timeout = DefaultNodeTimeout
	}
	n.rpc.log = cfg.Logger
	if n.rpc.log == nil {
		n.rpc.log = slog.New(slog.DiscardHandler)
	}
	n.rpc.http = cfg.HTTPClient
	if n.rpc.http == nil {
		n.rpc.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return n, nil
}

// Close closes idle connections. The Node stays usable.
func (n *Node) Close() { n.rpc.http.CloseIdleConnections() }

// Network returns the network the Node expects.
func (n *Node) Network() Network { return n.net }

// chainInfo is the part of getblockchaininfo Node uses; btcd omits
// initialblockdownload.
type chainInfo struct {
	Blocks               *int64 `json:"blocks"`
	Headers              *int64 `json:"headers"`
	BestBlockHash        string `json:"bestblockhash"`
	InitialBlockDownload bool   `json:"initialblockdownload"`
}

func decodeChainInfo(raw json.RawMessage) (chainInfo, chainhash.Hash, error) {
	var ci chainInfo
	if err := json.Unmarshal(raw, &ci); err != nil {
		return ci, chainhash.Hash{}, fmt.Errorf("%w: getblockchaininfo: %s: %v", ErrBadResponse, rpcSnippet(raw), err)
	}
	if ci.Blocks == nil || *ci.Blocks < 0 {
		return ci, chainhash.Hash{}, fmt.Errorf("%w: getblockchaininfo: missing or negative blocks in %s", ErrBadResponse, rpcSnippet(raw))
	}
	if ci.Headers == nil {
		ci.Headers = ci.Blocks
	}
	best, err := parseRPCHash(ci.BestBlockHash)
	if err != nil {
		return ci, chainhash.Hash{}, fmt.Errorf("%w: getblockchaininfo: bestblockhash: %v", ErrBadResponse, err)
	}
	return ci, best, nil
}

// Check verifies every endpoint: each must serve the configured network
// (genesis hash) and be in sync (not in initial block download, headers not
// ahead of blocks). An endpoint on the wrong network fails Check with
// ErrWrongNetwork even when others are fine: that is a configuration error.
// Otherwise Check succeeds when at least one endpoint is healthy, makes it
// the preferred one, and logs the others; when none is, it returns their
// errors (ErrUnreachable, ErrSyncing, ...).
//
// The sync test relies on bitcoind's getblockchaininfo; btcd reports no
// initialblockdownload field and headers equal to blocks, so a syncing btcd
// passes. A fresh bitcoind regtest node stays in initial block download until
// it mines a block, and fails Check until then. Check does not run on
// failover; callers run it at start and when they want to re-verify.
func (n *Node) Check(ctx context.Context) error {
	var errs []error
	healthy := -1
	for i, ep := range n.rpc.endpoints {
		err := n.checkEndpoint(ctx, ep)
		if err == nil {
			if healthy < 0 {
				healthy = i
			}
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("check bitcoin node: %w", ctx.Err())
		}
		if errors.Is(err, ErrWrongNetwork) {
			return fmt.Errorf("check bitcoin node: %w", err)
		}
		errs = append(errs, err)
	}
	if healthy < 0 {
		return fmt.Errorf("check bitcoin node: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		n.rpc.log.Warn("bitcoin node endpoint unhealthy", "err", err)
	}
	n.rpc.active.Store(int64(healthy))
	return nil
}

func (n *Node) checkEndpoint(ctx context.Context, ep *rpcEndpoint) error {
	ctx, cancel := context.WithTimeout(ctx, n.rpc.timeout)
	defer cancel()
	raw, err := n.rpc.request(ctx, ep, "getblockhash", 0)
	if err != nil {
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	genesis, err := decodeRPCHash("getblockhash", raw)
	if err != nil {
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	if genesis != *n.params.GenesisHash {
		return fmt.Errorf("%w: %s serves genesis %s (%s), want %s (%s)", ErrWrongNetwork,
			ep.name, genesis, genesisName(genesis), n.params.GenesisHash, n.net)
	}
	raw, err = n.rpc.request(ctx, ep, "getblockchaininfo")
	if err != nil {
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	ci, _, err := decodeChainInfo(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	if ci.InitialBlockDownload {
		return fmt.Errorf("%w: %s is in initial block download (blocks %d, headers %d)", ErrSyncing, ep.name, *ci.Blocks, *ci.Headers)
	}
	if *ci.Headers-*ci.Blocks > maxHeaderLead {
		return fmt.Errorf("%w: %s has blocks up to %d but headers up to %d", ErrSyncing, ep.name, *ci.Blocks, *ci.Headers)
	}
	return nil
}

// genesisName names the network a genesis hash belongs to, for error messages.
func genesisName(h chainhash.Hash) string {
	for _, net := range []Network{Mainnet, Testnet, Signet, Regtest} {
		if p, err := Params(net); err == nil && *p.GenesisHash == h {
			return string(net)
		}
	}
	return "unknown network"
}

// TipHeight returns the height and hash of the node's best block, read in one
// call so they belong together.
func (n *Node) TipHeight(ctx context.Context) (int64, chainhash.Hash, error) {
	var (
		height int64
		hash   chainhash.Hash
	)
	err := n.rpc.do(ctx, "bitcoin tip", func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "getblockchaininfo")
		if err != nil {
			return err
		}
		ci, best, err := decodeChainInfo(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		height, hash = *ci.Blocks, best
		return nil
	})
	return height, hash, err
}

// BlockHash returns the hash of the main-chain block at height. A height above
// the tip is an *RPCError from the node.
func (n *Node) BlockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	what := fmt.Sprintf("bitcoin block hash at height %d", height)
	if height < 0 {
		return chainhash.Hash{}, fmt.Errorf("%s: height must not be negative", what)
	}
	var hash chainhash.Hash
	err := n.rpc.do(ctx, what, func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "getblockhash", height)
		if err != nil {
			return err
		}
		if hash, err = decodeRPCHash("getblockhash", raw); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		return nil
	})
	return hash, err
}

// Block fetches the raw block (getblock with verbosity 0) and decodes it with
// btcd's wire package. The decoded block must hash to hash, or the answer is
// ErrBadResponse. An unknown block is ErrNotFound.
func (n *Node) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	var block *wire.MsgBlock
	err := n.rpc.do(ctx, "bitcoin block "+hash.String(), func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.getBlockRaw(ctx, ep, hash)
		if err != nil {
			return err
		}
		if block, err = decodeRPCBlock(raw, hash); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		return nil
	})
	return block, err
}

// getBlockRaw calls getblock with a verbosity of 0 or false, whichever the
// endpoint accepts: btcd since v0.21 and bitcoind since 0.15 take an integer,
// older versions a boolean (and bitcoind still accepts one). The first type
// mismatch flips the endpoint's setting for good.
func (n *Node) getBlockRaw(ctx context.Context, ep *rpcEndpoint, hash chainhash.Hash) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		sentBool := ep.getblockBool.Load()
		var verbosity any = 0
		if sentBool {
			verbosity = false
		}
		raw, err := n.rpc.request(ctx, ep, "getblock", hash.String(), verbosity)
		var rpcErr *RPCError
		if attempt == 0 && errors.As(err, &rpcErr) && verbosityTypeMismatch(rpcErr, sentBool) {
			ep.getblockBool.CompareAndSwap(sentBool, !sentBool)
			n.rpc.log.Info("bitcoin node wants another getblock verbosity type",
				"endpoint", ep.name, "boolean", !sentBool, "rpc_error", rpcErr.Message)
			continue
		}
		return raw, err
	}
}

// decodeRPCBlock decodes a getblock verbosity-0 result and checks its hash.
func decodeRPCBlock(raw json.RawMessage, want chainhash.Hash) (*wire.MsgBlock, error) {
	b, err := decodeRPCHex("getblock", raw)
	if err != nil {
		return nil, err
	}
	var block wire.MsgBlock
	r := bytes.NewReader(b)
	if err := block.Deserialize(r); err != nil {
		return nil, fmt.Errorf("%w: getblock: decode block: %v", ErrBadResponse, err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: getblock: %d bytes after the block", ErrBadResponse, r.Len())
	}
	if got := block.BlockHash(); got != want {
		return nil, fmt.Errorf("%w: getblock: asked for block %s, got %s", ErrBadResponse, want, got)
	}
	return &block, nil
}

// MempoolTxIDs returns the ids of the transactions in the node's mempool.
func (n *Node) MempoolTxIDs(ctx context.Context) ([]chainhash.Hash, error) {
	var ids []chainhash.Hash
	err := n.rpc.do(ctx, "bitcoin mempool", func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "getrawmempool")
		if err != nil {
			return err
		}
		if ids, err = decodeRPCTxIDs(raw); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		return nil
	})
	return ids, err
}

func decodeRPCTxIDs(raw json.RawMessage) ([]chainhash.Hash, error) {
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("%w: getrawmempool: want an array of txids, got %s", ErrBadResponse, rpcSnippet(raw))
	}
	ids := make([]chainhash.Hash, len(strs))
	for i, s := range strs {
		h, err := parseRPCHash(s)
		if err != nil {
			return nil, fmt.Errorf("%w: getrawmempool: entry %d: %v", ErrBadResponse, i, err)
		}
		ids[i] = h
	}
	return ids, nil
}

// RawTransaction fetches a transaction (getrawtransaction, not verbose) and
// decodes it. Without a transaction index on the node this finds mempool
// transactions only, which is what it is for. A transaction the node does not
// know (mined or evicted meanwhile) is ErrNotFound.
func (n *Node) RawTransaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error) {
	var tx *wire.MsgTx
	err := n.rpc.do(ctx, "bitcoin transaction "+txid.String(), func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "getrawtransaction", txid.String())
		if err != nil {
			return err
		}
		if tx, err = decodeRPCTx(raw, txid); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		return nil
	})
	return tx, err
}

// decodeRPCTx decodes a getrawtransaction result and checks its id.
func decodeRPCTx(raw json.RawMessage, want chainhash.Hash) (*wire.MsgTx, error) {
	b, err := decodeRPCHex("getrawtransaction", raw)
	if err != nil {
		return nil, err
	}
	var tx wire.MsgTx
	r := bytes.NewReader(b)
	if err := tx.Deserialize(r); err != nil {
		return nil, fmt.Errorf("%w: getrawtransaction: decode transaction: %v", ErrBadResponse, err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: getrawtransaction: %d bytes after the transaction", ErrBadResponse, r.Len())
	}
	if got := tx.TxHash(); got != want {
		return nil, fmt.Errorf("%w: getrawtransaction: asked for %s, got %s", ErrBadResponse, want, got)
	}
	return &tx, nil
}

// MempoolTimes returns the transactions in the node's mempool with the time the node first
// saw each (getrawmempool verbose: the entry's "time", unix seconds). A payment's sighting
// time comes from here, so a transaction the node saw before chainpay watched its address
// keeps the time it was really broadcast.
func (n *Node) MempoolTimes(ctx context.Context) (map[chainhash.Hash]time.Time, error) {
	var out map[chainhash.Hash]time.Time
	err := n.rpc.do(ctx, "bitcoin mempool times", func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "getrawmempool", true)
		if err != nil {
			return err
		}
		if out, err = decodeRPCMempoolTimes(raw); err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		return nil
	})
	return out, err
}

func decodeRPCMempoolTimes(raw json.RawMessage) (map[chainhash.Hash]time.Time, error) {
	var entries map[string]struct {
		Time int64 `json:"time"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%w: getrawmempool verbose: want an object of entries, got %s", ErrBadResponse, rpcSnippet(raw))
	}
	out := make(map[chainhash.Hash]time.Time, len(entries))
	for id, e := range entries {
		h, err := parseRPCHash(id)
		if err != nil {
			return nil, fmt.Errorf("%w: getrawmempool verbose: %v", ErrBadResponse, err)
		}
		var at time.Time
		if e.Time > 0 {
			at = time.Unix(e.Time, 0).UTC()
		}
		out[h] = at
	}
	return out, nil
}
