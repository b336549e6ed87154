package sweeper

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum"
)

// Item is one invoice waiting to be swept.
type Item struct {
	// ID is the queue's identifier, handed back to MarkSwept.
	ID string
	// InvoiceID is the chainpay invoice id the deposit address was derived from.
	InvoiceID string
	// Destination is the treasury the deposit address was derived for (the wallet's
	// treasury). It selects the address; it cannot redirect funds (see the package doc).
	Destination common.Address
	// Tokens are the ERC-20 contracts to flush besides ETH (the invoice's token options).
	Tokens []common.Address
}

// Queue is where the Service takes work from; the store implements it.
type Queue interface {
	// Pending returns up to limit items not swept yet, oldest first.
	Pending(ctx context.Context, limit int) ([]Item, error)
	// MarkSwept records that the items were swept by the transaction txHash. It must be
	// idempotent: a crash between the sweep and the mark makes the next round sweep (and
	// mark) the same items again.
	MarkSwept(ctx context.Context, ids []string, txHash common.Hash) error
}

// Client is the part of an Ethereum JSON-RPC client the Service uses (*ethclient.Client
// and the simulated backend's client implement it).
type Client interface {
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	EstimateGas(ctx context.Context, call geth.CallMsg) (uint64, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
}

// Defaults of Config.
const (
	DefaultInterval       = time.Minute
	DefaultPendingLimit   = 500
	DefaultPollInterval   = 100 * time.Millisecond
	DefaultReceiptTimeout = 5 * time.Minute
	DefaultRetryAfter     = time.Hour
	DefaultCallTimeout    = 10 * time.Second
	// MaxTxGas is the per-transaction gas cap of EIP-7825 (2^24).
	MaxTxGas = 1 << 24
)

// Config configures a Service. Client, Queue, Factory, ChainID and Key are required.
type Config struct {
	Client  Client
	Queue   Queue
	Factory *ethereum.Factory
	ChainID uint64
	// Key signs the sweep transactions. It only pays gas: keep just enough ETH on it.
	Key *ecdsa.PrivateKey
	// MaxBatch bounds the invoices per transaction; 0 means ethereum.DefaultMaxBatch.
	MaxBatch int
	// Interval between rounds of Start's loop; default DefaultInterval.
	Interval time.Duration
	// PendingLimit bounds the items taken per round; default DefaultPendingLimit.
	PendingLimit int
	// PollInterval is how often a receipt is polled; default DefaultPollInterval.
	PollInterval time.Duration
	// ReceiptTimeout bounds the wait for a transaction to be mined and confirmed.
	ReceiptTimeout time.Duration
	// Confirmations is the depth a sweep's receipt must reach before its items are marked
	// swept; default 1.
	Confirmations int
	// RetryAfter is how long an invoice whose sweep reverts on its own is skipped.
	RetryAfter time.Duration
	// CallTimeout bounds every other call to the node; default DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxFeePerGas caps the fee per gas offered (nil: 2 × base fee + tip, uncapped). A
	// round whose base fee is above the cap sends nothing.
	MaxFeePerGas *big.Int
	Logger       *slog.Logger
	Now          func() time.Time
}

// ErrReverted reports a sweep that reverts (in simulation or on chain) for a single invoice.
var ErrReverted = errors.New("sweep reverts")

// ErrFeeTooHigh reports a base fee above Config.MaxFeePerGas.
var ErrFeeTooHigh = errors.New("base fee above the configured maximum fee")

// Result is what one round did.
type Result struct {
	Sweeps []Sweep
	Failed []Failure
}

// Sweep is one mined deployAndFlush transaction.
type Sweep struct {
	TxHash      common.Hash
	BlockNumber uint64
	Destination common.Address
	InvoiceIDs  []string
	ItemIDs     []string
	GasUsed     uint64
	GasPrice    *big.Int // effective gas price paid
}

// Failure is an invoice whose sweep reverts on its own; it is skipped for RetryAfter.
type Failure struct {
	InvoiceID   string
	Destination common.Address
	ItemIDs     []string
	Err         error
}

// Service sweeps settled invoices' forwarders in batches. SweepOnce must not run
// concurrently with itself (Start's loop calls it from one goroutine).
type Service struct {
	cfg  Config
	from common.Address
	log  *slog.Logger

	mu      sync.Mutex
	skip    map[string]time.Time // invoice id → not before
	cancel  context.CancelFunc
	done    chan struct{}
	running sync.Mutex // serialises SweepOnce
}

// New validates cfg, applies defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("new sweeper: client is required")
	case cfg.Queue == nil:
		return nil, errors.New("new sweeper: queue is required")
	case cfg.Factory == nil:
		return nil, errors.New("new sweeper: factory is required")
	case cfg.ChainID == 0:
		return nil, errors.New("new sweeper: chain id is required")
	case cfg.Key == nil:
		return nil, errors.New("new sweeper: key is required")
	case cfg.MaxBatch < 0, cfg.Interval < 0, cfg.PendingLimit < 0, cfg.PollInterval < 0,
		cfg.ReceiptTimeout < 0, cfg.Confirmations < 0, cfg.RetryAfter < 0, cfg.CallTimeout < 0:
		return nil, errors.New("new sweeper: negative limit or duration")
	case cfg.MaxFeePerGas != nil && cfg.MaxFeePerGas.Sign() <= 0:
		return nil, errors.New("new sweeper: MaxFeePerGas must be positive")
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = ethereum.DefaultMaxBatch
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.PendingLimit == 0 {
		cfg.PendingLimit = DefaultPendingLimit
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ReceiptTimeout == 0 {
		cfg.ReceiptTimeout = DefaultReceiptTimeout
	}
	if cfg.Confirmations == 0 {
		cfg.Confirmations = 1
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, from: crypto.PubkeyToAddress(cfg.Key.PublicKey), log: cfg.Logger.With("component", "sweeper"),
		skip: map[string]time.Time{}}, nil
}

// Address returns the sweeper key's address (fund it with gas money).
func (s *Service) Address() common.Address { return s.from }

// group is the invoices of one destination with one token list.
type group struct {
	dest    common.Address
	tokens  []common.Address
	ids     []string            // invoice ids, in queue order
	itemIDs map[string][]string // invoice id → queue item ids
}

// SweepOnce takes pending items, sweeps them and marks the swept ones. It returns what it
// did; an error means the round stopped early (items not marked stay pending).
func (s *Service) SweepOnce(ctx context.Context) (Result, error) {
	s.running.Lock()
	defer s.running.Unlock()
	var res Result
	items, err := s.cfg.Queue.Pending(ctx, s.cfg.PendingLimit)
	if err != nil {
		return res, fmt.Errorf("sweep: pending items: %w", err)
	}
	groups, err := s.group(items)
	if err != nil {
		return res, err
	}
	for _, g := range groups {
		sw, err := ethereum.NewSweeper(s.cfg.Factory, g.dest, g.tokens, &ethereum.SweeperConfig{MaxBatch: s.cfg.MaxBatch})
		if err != nil {
			return res, fmt.Errorf("sweep to %s: %w", g.dest.Hex(), err)
		}
		calls, err := sw.Calls(g.ids)
		if err != nil {
			return res, fmt.Errorf("sweep to %s: %w", g.dest.Hex(), err)
		}
		for _, c := range calls {
			if err := s.sweepBatch(ctx, sw, g, c.InvoiceIDs, &res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// group merges items of the same invoice and destination and groups invoices by
// destination and token list, skipping invoices that recently failed alone.
func (s *Service) group(items []Item) ([]*group, error) {
	now := s.cfg.Now()
	type key struct {
		dest    common.Address
		invoice string
	}
	type entry struct {
		tokens  map[common.Address]bool
		itemIDs []string
	}
	entries := map[key]*entry{}
	var order []key
	s.mu.Lock()
	for _, it := range items {
		if until, ok := s.skip[it.InvoiceID]; ok {
			if now.Before(until) {
				continue
			}
			delete(s.skip, it.InvoiceID)
		}
		if it.Destination == (common.Address{}) {
			s.mu.Unlock()
			return nil, fmt.Errorf("sweep: item %s (invoice %s): destination: %w", it.ID, it.InvoiceID, ethereum.ErrZeroAddress)
		}
		k := key{it.Destination, it.InvoiceID}
		e, ok := entries[k]
		if !ok {
			e = &entry{tokens: map[common.Address]bool{}}
			entries[k] = e
			order = append(order, k)
		}
		for _, t := range it.Tokens {
			e.tokens[t] = true
		}
		e.itemIDs = append(e.itemIDs, it.ID)
	}
	s.mu.Unlock()
	byKey := map[string]*group{}
	var out []*group
	for _, k := range order {
		e := entries[k]
		tokens := make([]common.Address, 0, len(e.tokens))
		for t := range e.tokens {
			tokens = append(tokens, t)
		}
		sort.Slice(tokens, func(i, j int) bool { return tokens[i].Cmp(tokens[j]) < 0 })
		var b strings.Builder
		b.WriteString(k.dest.Hex())
		for _, t := range tokens {
			b.WriteString(t.Hex())
		}
		g, ok := byKey[b.String()]
		if !ok {
			g = &group{dest: k.dest, tokens: tokens, itemIDs: map[string][]string{}}
			byKey[b.String()] = g
			out = append(out, g)
		}
		g.ids = append(g.ids, k.invoice)
		g.itemIDs[k.invoice] = e.itemIDs
	}
	return out, nil
}

// sweepBatch sends one deployAndFlush for ids, splitting it in halves while it reverts.
func (s *Service) sweepBatch(ctx context.Context, sw *ethereum.Sweeper, g *group, ids []string, res *Result) error {
	calls, err := sw.Calls(ids)
	if err != nil {
		return fmt.Errorf("sweep to %s: %w", g.dest.Hex(), err)
	}
	if len(calls) != 1 {
		return fmt.Errorf("sweep to %s: %d invoices made %d calls, want 1", g.dest.Hex(), len(ids), len(calls))
	}
	r, err := s.send(ctx, calls[0])
	switch {
	case err == nil:
		var items []string
		for _, id := range ids {
			items = append(items, g.itemIDs[id]...)
		}
		if err := s.cfg.Queue.MarkSwept(ctx, items, r.TxHash); err != nil {
			return fmt.Errorf("sweep: mark %d items swept by %s: %w", len(items), r.TxHash.Hex(), err)
		}
		res.Sweeps = append(res.Sweeps, Sweep{TxHash: r.TxHash, BlockNumber: r.BlockNumber.Uint64(), Destination: g.dest,
			InvoiceIDs: append([]string(nil), ids...), ItemIDs: items, GasUsed: r.GasUsed, GasPrice: r.EffectiveGasPrice})
		s.log.Info("swept", "tx", r.TxHash.Hex(), "invoices", len(ids), "destination", g.dest.Hex(), "gas", r.GasUsed)
		return nil
	case !errors.Is(err, ErrReverted):
		return err
	case len(ids) > 1:
		s.log.Warn("sweep batch reverts: splitting", "invoices", len(ids), "destination", g.dest.Hex(), "err", err)
		half := len(ids) / 2
		if err := s.sweepBatch(ctx, sw, g, ids[:half], res); err != nil {
			return err
		}
		return s.sweepBatch(ctx, sw, g, ids[half:], res)
	default:
		s.mu.Lock()
		s.skip[ids[0]] = s.cfg.Now().Add(s.cfg.RetryAfter)
		s.mu.Unlock()
		res.Failed = append(res.Failed, Failure{InvoiceID: ids[0], Destination: g.dest, ItemIDs: g.itemIDs[ids[0]], Err: err})
		s.log.Error("sweep of one invoice reverts: skipped for a while", "invoice", ids[0], "destination", g.dest.Hex(),
			"retry_after", s.cfg.RetryAfter, "err", err)
		return nil
	}
}

// send estimates, signs and sends call and waits for its receipt. A call that reverts in
// estimation or on chain gives an error wrapping ErrReverted.
func (s *Service) send(ctx context.Context, call ethereum.SweepCall) (*types.Receipt, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	to := call.To
	gas, err := s.cfg.Client.EstimateGas(cctx, geth.CallMsg{From: s.from, To: &to, Data: call.Data})
	if err != nil {
		if isRevert(err) {
			return nil, fmt.Errorf("%w: estimate: %v", ErrReverted, err)
		}
		return nil, fmt.Errorf("sweep: estimate gas: %w", err)
	}
	gas += gas / 4 // headroom: state can change between estimate and inclusion
	if gas > MaxTxGas {
		if len(call.InvoiceIDs) > 1 {
			return nil, fmt.Errorf("%w: needs %d gas, above the %d per-transaction cap", ErrReverted, gas, MaxTxGas)
		}
		gas = MaxTxGas
	}
	head, err := s.cfg.Client.HeaderByNumber(cctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep: head: %w", err)
	}
	tip, err := s.cfg.Client.SuggestGasTipCap(cctx)
	if err != nil {
		return nil, fmt.Errorf("sweep: gas tip: %w", err)
	}
	base := head.BaseFee
	if base == nil {
		base = new(big.Int)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if m := s.cfg.MaxFeePerGas; m != nil && feeCap.Cmp(m) > 0 {
		if base.Cmp(m) >= 0 {
			return nil, fmt.Errorf("sweep: %w: base fee %s wei, maximum %s", ErrFeeTooHigh, base, m)
		}
		feeCap = new(big.Int).Set(m)
		if tip.Cmp(new(big.Int).Sub(m, base)) > 0 {
			tip = new(big.Int).Sub(m, base)
		}
	}
	nonce, err := s.cfg.Client.PendingNonceAt(cctx, s.from)
	if err != nil {
		return nil, fmt.Errorf("sweep: nonce: %w", err)
	}
	chainID := new(big.Int).SetUint64(s.cfg.ChainID)
	tx, err := types.SignNewTx(s.cfg.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &to, Data: call.Data,
	})
	if err != nil {
		return nil, fmt.Errorf("sweep: sign: %w", err)
	}
	if err := s.cfg.Client.SendTransaction(cctx, tx); err != nil {
		return nil, fmt.Errorf("sweep: send: %w", err)
	}
	s.log.Debug("sweep sent", "tx", tx.Hash().Hex(), "invoices", len(call.InvoiceIDs), "gas_limit", gas)
	r, err := s.wait(ctx, tx.Hash())
	if err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return nil, fmt.Errorf("%w: transaction %s reverted on chain (gas used %d of %d)", ErrReverted, tx.Hash().Hex(), r.GasUsed, gas)
	}
	return r, nil
}

// isRevert reports whether an estimation error is the call reverting (rather than a
// transport or node failure).
func isRevert(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "execution reverted") || strings.Contains(msg, "out of gas") ||
		strings.Contains(msg, "gas required exceeds")
}

// wait polls for the receipt of h until it is Confirmations deep.
func (s *Service) wait(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReceiptTimeout)
	defer cancel()
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		r, err := s.cfg.Client.TransactionReceipt(ctx, h)
		switch {
		case err == nil && r.Status != types.ReceiptStatusSuccessful:
			return r, nil
		case err == nil:
			head, herr := s.cfg.Client.HeaderByNumber(ctx, nil)
			if herr == nil && new(big.Int).Sub(head.Number, r.BlockNumber).Int64()+1 >= int64(s.cfg.Confirmations) {
				return r, nil
			}
		case errors.Is(err, geth.NotFound) || strings.Contains(err.Error(), "indexing is in progress"):
		case ctx.Err() != nil:
		default:
			s.log.Warn("sweep receipt poll failed", "tx", h.Hex(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sweep: transaction %s not mined and confirmed within %s: %w", h.Hex(), s.cfg.ReceiptTimeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// Start runs SweepOnce every Interval until Stop or ctx ends; calling it twice is a no-op.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.loop(ctx, s.done)
}

// Stop ends the loop and waits for it; it is idempotent.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *Service) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		res, err := s.SweepOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweep round failed", "err", err, "swept", len(res.Sweeps))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
