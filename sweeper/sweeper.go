package sweeper

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/store"
)

// Client is the part of an Ethereum JSON-RPC client the Service uses (*ethclient.Client
// and the simulated backend's client implement it).
type Client interface {
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	EstimateGas(ctx context.Context, call geth.CallMsg) (uint64, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
	CallContract(ctx context.Context, call geth.CallMsg, blockNumber *big.Int) ([]byte, error)
}

// Token is a configured ERC-20 token whose balances the Service reads and sweeps.
type Token struct {
	Code     string
	Contract common.Address
	Decimals uint8
}

// Defaults of Config.
const (
	DefaultInterval       = time.Minute
	DefaultCandidateLimit = 5000
	DefaultPollInterval   = 100 * time.Millisecond
	DefaultReceiptTimeout = 5 * time.Minute
	DefaultRetryAfter     = time.Hour
	DefaultCallTimeout    = 10 * time.Second
	// DefaultMinValueMultiple: a forwarder is swept when what it holds is worth at least
	// this many times the gas its sweep costs.
	DefaultMinValueMultiple = 3
	// MaxTxGas is the per-transaction gas cap of EIP-7825 (2^24).
	MaxTxGas = 1 << 24
)

// Config configures a Service. Client, Store, Chain, Factory, ChainID and Key are required.
type Config struct {
	Client Client
	Store  store.Store
	// Chain is the chain name of the payment options and wallets ("ethereum").
	Chain   string
	Factory *ethereum.Factory
	ChainID uint64
	// Key signs the sweep transactions. It only pays gas: keep just enough ETH on it.
	Key *ecdsa.PrivateKey
	// Native is the native asset's code; "" means "ETH".
	Native string
	// Tokens are the configured tokens whose balances are read and swept.
	Tokens []Token
	// Worth converts an amount of a token (by code) into its value in wei of the native
	// asset; ok false means no price is known, and the token is then swept whatever its
	// amount (a configured token is money). Nil: no prices.
	Worth func(ctx context.Context, code string, amount *big.Int) (wei *big.Int, ok bool)
	// MinValueMultiple: a forwarder is swept when its balances are worth at least this
	// multiple of the gas its part of the sweep costs; default DefaultMinValueMultiple.
	MinValueMultiple int64
	// OnFinished runs inside the transaction that finishes a mined sweep (confirmed or
	// reverted on chain: its gas was paid either way) and books it, e.g. a ledger fee
	// record through the outbox. It must only write through tx (it may run twice).
	OnFinished func(ctx context.Context, tx store.Tx, s store.EVMSweep, confirmations int64) error
	// Holder names this process in the lease "sweeper:<Chain>": with several replicas on one
	// database only the lease holder runs rounds (one key, one nonce sequence). "" takes no
	// lease (a single process).
	Holder string
	// MaxBatch bounds the forwarders per transaction; 0 means ethereum.DefaultMaxBatch.
	MaxBatch int
	// Interval between rounds of Start's loop; default DefaultInterval.
	Interval time.Duration
	// CandidateLimit bounds the forwarders read per round; default DefaultCandidateLimit.
	CandidateLimit int
	// PollInterval is how often Flush polls for its sweeps' confirmations.
	PollInterval time.Duration
	// ReceiptTimeout bounds Flush's wait, and is how long a sent sweep may stay unmined
	// before it is logged as stuck.
	ReceiptTimeout time.Duration
	// Confirmations is the depth a sweep must reach before it is marked confirmed and
	// booked (the chain's confirmations); default 1.
	Confirmations int
	// RetryAfter is how long a forwarder whose sweep reverts on its own is skipped.
	RetryAfter time.Duration
	// CallTimeout bounds every call to the node; default DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxFeePerGas caps the fee per gas offered (nil: 2 × base fee + tip, uncapped). A
	// round whose base fee is above the cap sends nothing.
	MaxFeePerGas *big.Int
	// Siblings are the other EVM chains whose ForwarderFactory is at Factory's address
	// (docs/chains.md): Flush of one invoice on this chain also takes the invoice's
	// forwarders handed out there, so a payment sent on this chain to an invoice that
	// offered only a sibling chain is recovered to the treasury (the address is the same).
	Siblings []string
	Logger   *slog.Logger
	Now      func() time.Time
}

// ErrReverted reports a sweep that reverts in simulation for a single forwarder.
var ErrReverted = errors.New("sweep reverts")

// ErrNotDerived reports a forwarder whose stored address is not the one the factory derives
// for its invoice and wallet treasury (a changed treasury, a tampered row): sweeping it
// would deploy and flush another, empty address, so it is left alone and reported.
var ErrNotDerived = errors.New("deposit address is not derived from the invoice and treasury")

// ErrFeeTooHigh reports a base fee above Config.MaxFeePerGas.
var ErrFeeTooHigh = errors.New("base fee above the configured maximum fee")

// Result is what one round did.
type Result struct {
	// Read counts the forwarders whose balances were read.
	Read int
	// Waiting are forwarders holding less than their sweep is worth (below the threshold).
	Waiting []string
	// Sent are the sweep transactions broadcast this round.
	Sent []store.EVMSweep
	// Finished are the sweeps that reached the confirmations (or were dropped) this round.
	Finished []store.EVMSweep
	// Failed are forwarders whose sweep reverts on its own; they are skipped for RetryAfter.
	Failed []Failure
}

// Failure is a forwarder whose sweep reverts on its own.
type Failure struct {
	InvoiceID string
	Address   string
	Err       error
}

// Service sweeps EVM forwarders by balance. SweepOnce and Flush serialise.
type Service struct {
	cfg    Config
	from   common.Address
	log    *slog.Logger
	tokens map[common.Address]Token

	mu      sync.Mutex
	skip    map[string]time.Time // forwarder address → not before
	cancel  context.CancelFunc
	done    chan struct{}
	running sync.Mutex
}

// New validates cfg, applies defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("new sweeper: client is required")
	case cfg.Store == nil:
		return nil, errors.New("new sweeper: store is required")
	case cfg.Chain == "":
		return nil, errors.New("new sweeper: chain is required")
	case cfg.Factory == nil:
		return nil, errors.New("new sweeper: factory is required")
	case cfg.ChainID == 0:
		return nil, errors.New("new sweeper: chain id is required")
	case cfg.Key == nil:
		return nil, errors.New("new sweeper: key is required")
	case cfg.MaxBatch < 0, cfg.Interval < 0, cfg.CandidateLimit < 0, cfg.PollInterval < 0, cfg.MinValueMultiple < 0,
		cfg.ReceiptTimeout < 0, cfg.Confirmations < 0, cfg.RetryAfter < 0, cfg.CallTimeout < 0:
		return nil, errors.New("new sweeper: negative limit or duration")
	case cfg.MaxFeePerGas != nil && cfg.MaxFeePerGas.Sign() <= 0:
		return nil, errors.New("new sweeper: MaxFeePerGas must be positive")
	}
	tokens := map[common.Address]Token{}
	for _, t := range cfg.Tokens {
		if t.Contract == (common.Address{}) || t.Code == "" {
			return nil, fmt.Errorf("new sweeper: token %q: code and contract are required", t.Code)
		}
		if _, dup := tokens[t.Contract]; dup {
			return nil, fmt.Errorf("new sweeper: token %s listed twice", t.Contract.Hex())
		}
		tokens[t.Contract] = t
	}
	if cfg.Native == "" {
		cfg.Native = "ETH"
	}
	if cfg.MinValueMultiple == 0 {
		cfg.MinValueMultiple = DefaultMinValueMultiple
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = ethereum.DefaultMaxBatch
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.CandidateLimit == 0 {
		cfg.CandidateLimit = DefaultCandidateLimit
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
	return &Service{cfg: cfg, from: crypto.PubkeyToAddress(cfg.Key.PublicKey), tokens: tokens,
		log: cfg.Logger.With("component", "sweeper", "chain", cfg.Chain), skip: map[string]time.Time{}}, nil
}

// Address returns the sweeper key's address (fund it with gas money).
func (s *Service) Address() common.Address { return s.from }

// GasBalance returns the sweeper key's balance in wei at the latest block.
func (s *Service) GasBalance(ctx context.Context) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	return s.cfg.Client.BalanceAt(ctx, s.from, nil)
}

// reading is what one read of a forwarder found.
type reading struct {
	f        store.Forwarder
	addr     common.Address
	dest     common.Address
	deployed bool
	native   *big.Int
	tokens   map[common.Address]*big.Int // non-zero balances only
	foreign  bool                        // not derived from (invoice, treasury): never swept
}

func (r reading) empty() bool { return r.native.Sign() == 0 && len(r.tokens) == 0 }

// SweepOnce runs one round: it settles the sweeps sent earlier (confirmed, reverted or
// dropped), reads the balances of the candidate forwarders, records them, and sends
// batched sweeps of those worth sweeping. It does not wait for its transactions: later
// rounds confirm them. An error means the round stopped early; nothing is lost.
func (s *Service) SweepOnce(ctx context.Context) (Result, error) {
	s.running.Lock()
	defer s.running.Unlock()
	var res Result
	if held, err := s.lease(ctx); err != nil || !held {
		return res, err
	}
	open, err := s.settle(ctx, &res)
	if err != nil {
		return res, err
	}
	start := s.cfg.Now()
	var wm time.Time
	var cands []store.Forwarder
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		if wm, err = tx.SweepWatermark(ctx, s.cfg.Chain); err != nil {
			return err
		}
		cands, err = tx.SweepCandidates(ctx, s.cfg.Chain, wm, s.cfg.CandidateLimit)
		return err
	}); err != nil {
		return res, fmt.Errorf("sweep: candidates: %w", err)
	}
	if len(cands) == 0 {
		return res, s.setWatermark(ctx, start)
	}
	price, err := s.gasPrice(ctx)
	if err != nil {
		return res, err
	}
	var ready []reading
	for _, f := range cands {
		if open[f.Address] {
			continue // its recorded balances stand until its sweep is confirmed or dropped
		}
		r, err := s.read(ctx, f, true)
		if err != nil {
			return res, err
		}
		if err := s.record(ctx, r); err != nil {
			return res, err
		}
		res.Read++
		if r.empty() || s.skipped(f.Address) {
			continue
		}
		if r.foreign {
			res.Failed = append(res.Failed, Failure{InvoiceID: f.InvoiceID, Address: f.Address, Err: ErrNotDerived})
			s.log.Error("forwarder holds funds but is not derived from its invoice and treasury: not swept",
				"invoice", f.InvoiceID, "forwarder", f.Address, "treasury", f.Treasury)
			continue
		}
		if !s.worthSweeping(ctx, r, price) {
			res.Waiting = append(res.Waiting, f.Address)
			continue
		}
		ready = append(ready, r)
	}
	if len(cands) < s.cfg.CandidateLimit {
		if err := s.setWatermark(ctx, start); err != nil {
			return res, err
		}
	} else {
		s.log.Warn("more sweep candidates than CandidateLimit: the rest wait for the next rounds", "limit", s.cfg.CandidateLimit)
	}
	return res, s.sendAll(ctx, ready, nil, &res)
}

// lease takes or renews the sweeper lease of the chain for a few intervals; it reports
// whether this process holds it (always, without a Holder).
func (s *Service) lease(ctx context.Context) (bool, error) {
	if s.cfg.Holder == "" {
		return true, nil
	}
	now := s.cfg.Now()
	until := now.Add(max(3*s.cfg.Interval, time.Minute))
	var held bool
	err := s.cfg.Store.Tx(ctx, func(tx store.Tx) (err error) {
		held, err = tx.AcquireLease(ctx, "sweeper:"+s.cfg.Chain, s.cfg.Holder, now, until)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sweep: lease: %w", err)
	}
	return held, nil
}

func (s *Service) setWatermark(ctx context.Context, at time.Time) error {
	if err := s.cfg.Store.Tx(ctx, func(tx store.Tx) error { return tx.SetSweepWatermark(ctx, s.cfg.Chain, at) }); err != nil {
		return fmt.Errorf("sweep: watermark: %w", err)
	}
	return nil
}

func (s *Service) skipped(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.skip[addr]
	if ok && !s.cfg.Now().Before(until) {
		delete(s.skip, addr)
		return false
	}
	return ok
}

// read reads f's native balance, whether it is deployed, and (withTokens) its balances of
// the configured tokens.
func (s *Service) read(ctx context.Context, f store.Forwarder, withTokens bool) (reading, error) {
	r := reading{f: f, tokens: map[common.Address]*big.Int{}}
	var err error
	if r.addr, err = ethereum.ParseAddress(f.Address); err != nil {
		return r, fmt.Errorf("sweep: forwarder of invoice %s: %w", f.InvoiceID, err)
	}
	if r.dest, err = ethereum.ParseAddress(f.Treasury); err != nil || r.dest == (common.Address{}) {
		return r, fmt.Errorf("sweep: treasury of wallet %s: %q: %v", f.WalletID, f.Treasury, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	if r.native, err = s.cfg.Client.BalanceAt(ctx, r.addr, nil); err != nil {
		return r, fmt.Errorf("sweep: balance of %s: %w", f.Address, err)
	}
	code, err := s.cfg.Client.CodeAt(ctx, r.addr, nil)
	if err != nil {
		return r, fmt.Errorf("sweep: code of %s: %w", f.Address, err)
	}
	r.deployed = len(code) > 0
	if want, err := s.cfg.Factory.DepositAddress(f.InvoiceID, r.dest); err != nil || want != r.addr {
		r.foreign = true
	}
	if !withTokens {
		return r, nil
	}
	for _, t := range s.cfg.Tokens {
		b, err := s.tokenBalance(ctx, t.Contract, r.addr)
		if err != nil {
			return r, err
		}
		if b.Sign() > 0 {
			r.tokens[t.Contract] = b
		}
	}
	return r, nil
}

func (s *Service) tokenBalance(ctx context.Context, token, owner common.Address) (*big.Int, error) {
	out, err := s.cfg.Client.CallContract(ctx, geth.CallMsg{To: &token, Data: ethereum.BalanceOfCalldata(owner)}, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep: %s balance of %s: %w", token.Hex(), owner.Hex(), err)
	}
	b, err := ethereum.ParseBalanceOf(out)
	if err != nil {
		return nil, fmt.Errorf("sweep: %s balance of %s: %w", token.Hex(), owner.Hex(), err)
	}
	return b, nil
}

// record stores r's balances (configured assets only).
func (s *Service) record(ctx context.Context, r reading) error {
	bal := []store.ForwarderBalance{{Asset: s.cfg.Native, Scale: 18, Amount: r.native}}
	for _, t := range s.cfg.Tokens {
		if b, ok := r.tokens[t.Contract]; ok {
			bal = append(bal, store.ForwarderBalance{Contract: ethereum.FormatAddress(t.Contract), Asset: t.Code,
				Scale: int32(t.Decimals), Amount: b})
		}
	}
	at := s.cfg.Now()
	if err := s.cfg.Store.Tx(ctx, func(tx store.Tx) error { return tx.RecordForwarder(ctx, r.f, bal, at) }); err != nil {
		return fmt.Errorf("sweep: record %s: %w", r.f.Address, err)
	}
	return nil
}

// gasPrice is what a unit of gas is expected to cost now: base fee + tip.
func (s *Service) gasPrice(ctx context.Context) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	head, err := s.cfg.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sweep: head: %w", err)
	}
	tip, err := s.cfg.Client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("sweep: gas tip: %w", err)
	}
	p := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		p.Add(p, head.BaseFee)
	}
	return p, nil
}

// worthSweeping reports whether r's balances are worth at least MinValueMultiple times the
// gas of its part of a sweep.
func (s *Service) worthSweeping(ctx context.Context, r reading, price *big.Int) bool {
	value := new(big.Int).Set(r.native)
	for c, amount := range r.tokens {
		if s.cfg.Worth == nil {
			return true
		}
		w, ok := s.cfg.Worth(ctx, s.tokens[c].Code, amount)
		if !ok {
			return true
		}
		value.Add(value, w)
	}
	gas := ethereum.ForwarderSweepGas(r.deployed, r.native.Sign() > 0, len(r.tokens))
	cost := new(big.Int).Mul(new(big.Int).SetUint64(gas), price)
	cost.Mul(cost, big.NewInt(s.cfg.MinValueMultiple))
	return value.Cmp(cost) >= 0
}

// batch is the forwarders of one wallet swept together.
type batch struct {
	merchant, wallet string
	dest             common.Address
	tokens           []common.Address
	byID             map[string]reading // invoice id → reading
	ids              []string
}

// sendAll groups ready forwarders by wallet and sends their sweeps. tokens, when not nil,
// replaces the token list (a flush of one unconfigured token).
func (s *Service) sendAll(ctx context.Context, ready []reading, tokens []common.Address, res *Result) error {
	var order []string
	batches := map[string]*batch{}
	for _, r := range ready {
		k := r.f.WalletID + "|" + r.dest.Hex()
		b, ok := batches[k]
		if !ok {
			b = &batch{merchant: r.f.MerchantID, wallet: r.f.WalletID, dest: r.dest, byID: map[string]reading{}}
			batches[k] = b
			order = append(order, k)
		}
		if _, dup := b.byID[r.f.InvoiceID]; dup {
			continue
		}
		b.byID[r.f.InvoiceID] = r
		b.ids = append(b.ids, r.f.InvoiceID)
		if tokens == nil {
			for c := range r.tokens {
				if !slices.Contains(b.tokens, c) {
					b.tokens = append(b.tokens, c)
				}
			}
		}
	}
	for _, k := range order {
		b := batches[k]
		if tokens != nil {
			b.tokens = tokens
		}
		slices.SortFunc(b.tokens, func(x, y common.Address) int { return x.Cmp(y) })
		sw, err := ethereum.NewSweeper(s.cfg.Factory, b.dest, b.tokens, &ethereum.SweeperConfig{MaxBatch: s.cfg.MaxBatch})
		if err != nil {
			return fmt.Errorf("sweep to %s: %w", b.dest.Hex(), err)
		}
		calls, err := sw.Calls(b.ids)
		if err != nil {
			return fmt.Errorf("sweep to %s: %w", b.dest.Hex(), err)
		}
		for _, c := range calls {
			if err := s.sendBatch(ctx, sw, b, c.InvoiceIDs, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendBatch sends one deployAndFlush for ids, splitting it in halves while it reverts in
// simulation.
func (s *Service) sendBatch(ctx context.Context, sw *ethereum.Sweeper, b *batch, ids []string, res *Result) error {
	calls, err := sw.Calls(ids)
	if err != nil {
		return fmt.Errorf("sweep to %s: %w", b.dest.Hex(), err)
	}
	if len(calls) != 1 {
		return fmt.Errorf("sweep to %s: %d forwarders made %d calls, want 1", b.dest.Hex(), len(ids), len(calls))
	}
	sent, err := s.send(ctx, b, calls[0])
	switch {
	case err == nil:
		res.Sent = append(res.Sent, sent)
		return nil
	case !errors.Is(err, ErrReverted):
		return err
	case len(ids) > 1:
		s.log.Warn("sweep batch reverts: splitting", "forwarders", len(ids), "destination", b.dest.Hex(), "err", err)
		half := len(ids) / 2
		if err := s.sendBatch(ctx, sw, b, ids[:half], res); err != nil {
			return err
		}
		return s.sendBatch(ctx, sw, b, ids[half:], res)
	default:
		r := b.byID[ids[0]]
		s.skipFor(r.f.Address)
		res.Failed = append(res.Failed, Failure{InvoiceID: ids[0], Address: r.f.Address, Err: err})
		s.log.Error("sweep of one forwarder reverts: skipped for a while", "invoice", ids[0], "forwarder", r.f.Address,
			"retry_after", s.cfg.RetryAfter, "err", err)
		return nil
	}
}

func (s *Service) skipFor(addr string) {
	s.mu.Lock()
	s.skip[addr] = s.cfg.Now().Add(s.cfg.RetryAfter)
	s.mu.Unlock()
}

// send estimates and signs call, records it as sent and broadcasts it. A call that reverts
// in estimation gives an error wrapping ErrReverted. The record is written before the
// broadcast, so a crash in between leaves a sweep the next round rebroadcasts (or finds
// dropped).
func (s *Service) send(ctx context.Context, b *batch, call ethereum.SweepCall) (store.EVMSweep, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	to := call.To
	gas, err := s.cfg.Client.EstimateGas(cctx, geth.CallMsg{From: s.from, To: &to, Data: call.Data})
	if err != nil {
		if isRevert(err) {
			return store.EVMSweep{}, fmt.Errorf("%w: estimate: %v", ErrReverted, err)
		}
		return store.EVMSweep{}, fmt.Errorf("sweep: estimate gas: %w", err)
	}
	gas += gas / 4 // headroom: state can change between estimate and inclusion
	if gas > MaxTxGas {
		if len(call.InvoiceIDs) > 1 {
			return store.EVMSweep{}, fmt.Errorf("%w: needs %d gas, above the %d per-transaction cap", ErrReverted, gas, MaxTxGas)
		}
		gas = MaxTxGas
	}
	head, err := s.cfg.Client.HeaderByNumber(cctx, nil)
	if err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: head: %w", err)
	}
	tip, err := s.cfg.Client.SuggestGasTipCap(cctx)
	if err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: gas tip: %w", err)
	}
	base := head.BaseFee
	if base == nil {
		base = new(big.Int)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if m := s.cfg.MaxFeePerGas; m != nil && feeCap.Cmp(m) > 0 {
		if base.Cmp(m) >= 0 {
			return store.EVMSweep{}, fmt.Errorf("sweep: %w: base fee %s wei, maximum %s", ErrFeeTooHigh, base, m)
		}
		feeCap = new(big.Int).Set(m)
		if tip.Cmp(new(big.Int).Sub(m, base)) > 0 {
			tip = new(big.Int).Sub(m, base)
		}
	}
	nonce, err := s.cfg.Client.PendingNonceAt(cctx, s.from)
	if err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: nonce: %w", err)
	}
	chainID := new(big.Int).SetUint64(s.cfg.ChainID)
	tx, err := types.SignNewTx(s.cfg.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &to, Data: call.Data,
	})
	if err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: sign: %w", err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: encode: %w", err)
	}
	sw := store.EVMSweep{TxHash: tx.Hash().Hex(), Chain: s.cfg.Chain, MerchantID: b.merchant, WalletID: b.wallet,
		Destination: ethereum.FormatAddress(b.dest), Sender: ethereum.FormatAddress(s.from), Nonce: int64(nonce),
		RawTx: hexutil.Encode(raw), Status: store.SweepSent, SentAt: s.cfg.Now().UTC()}
	for _, id := range call.InvoiceIDs {
		sw.InvoiceIDs = append(sw.InvoiceIDs, id)
		sw.Addresses = append(sw.Addresses, b.byID[id].f.Address)
	}
	for _, t := range b.tokens {
		sw.Tokens = append(sw.Tokens, ethereum.FormatAddress(t))
	}
	if err := s.cfg.Store.Tx(ctx, func(x store.Tx) error { return x.CreateEVMSweep(ctx, sw) }); err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: record %s: %w", sw.TxHash, err)
	}
	if err := s.cfg.Client.SendTransaction(cctx, tx); err != nil {
		return store.EVMSweep{}, fmt.Errorf("sweep: send %s: %w", sw.TxHash, err)
	}
	s.log.Info("sweep sent", "tx", sw.TxHash, "forwarders", len(call.InvoiceIDs), "destination", sw.Destination,
		"tokens", len(b.tokens), "gas_limit", gas, "nonce", nonce)
	return sw, nil
}

// isRevert reports whether an estimation error is the call reverting (rather than a
// transport or node failure).
func isRevert(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "execution reverted") || strings.Contains(msg, "out of gas") ||
		strings.Contains(msg, "gas required exceeds")
}

// settle looks at every sweep still sent: one whose receipt is Confirmations deep is
// finished (confirmed, or reverted on chain) and booked; one without a receipt whose nonce
// another transaction consumed (a reorg took it out, or it was replaced) is dropped, and
// its forwarders are read and swept again; any other is rebroadcast. It returns the
// addresses of the forwarders in sweeps still open.
func (s *Service) settle(ctx context.Context, res *Result) (map[string]bool, error) {
	var sweeps []store.EVMSweep
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { sweeps, err = tx.OpenEVMSweeps(ctx, s.cfg.Chain); return }); err != nil {
		return nil, fmt.Errorf("sweep: open sweeps: %w", err)
	}
	open := map[string]bool{}
	if len(sweeps) == 0 {
		return open, nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	head, err := s.cfg.Client.HeaderByNumber(cctx, nil)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("sweep: head: %w", err)
	}
	for _, sw := range sweeps {
		done, err := s.settleOne(ctx, sw, head.Number.Int64())
		if err != nil {
			return nil, err
		}
		if done == nil {
			for _, a := range sw.Addresses {
				open[a] = true
			}
			continue
		}
		res.Finished = append(res.Finished, *done)
	}
	return open, nil
}

// settleOne finishes sw when it can; nil means it is still open.
func (s *Service) settleOne(ctx context.Context, sw store.EVMSweep, tip int64) (*store.EVMSweep, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	h := common.HexToHash(sw.TxHash)
	r, err := s.cfg.Client.TransactionReceipt(ctx, h)
	switch {
	case err == nil:
		depth := tip - r.BlockNumber.Int64() + 1
		if depth < int64(s.cfg.Confirmations) {
			return nil, nil
		}
		done := sw
		done.Status = store.SweepConfirmed
		if r.Status != types.ReceiptStatusSuccessful {
			done.Status = store.SweepReverted
		}
		n, gas := r.BlockNumber.Int64(), int64(r.GasUsed)
		price := r.EffectiveGasPrice
		if price == nil {
			price = new(big.Int)
		}
		at := s.cfg.Now().UTC()
		done.BlockNumber, done.BlockHash, done.GasUsed, done.FinishedAt = &n, r.BlockHash.Hex(), &gas, &at
		done.Fee = new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), price)
		if err := s.finish(ctx, done, depth); err != nil {
			return nil, err
		}
		if done.Status == store.SweepReverted {
			for _, a := range sw.Addresses {
				s.skipFor(a)
			}
			s.log.Error("sweep reverted on chain: its forwarders are skipped for a while", "tx", sw.TxHash, "retry_after", s.cfg.RetryAfter)
		} else {
			s.log.Info("sweep confirmed", "tx", sw.TxHash, "block", n, "gas", gas, "fee_wei", done.Fee)
		}
		return &done, nil
	case errors.Is(err, geth.NotFound):
	case strings.Contains(err.Error(), "indexing is in progress"): // geth, for a moment after a block
		return nil, nil
	default:
		s.log.Warn("sweep receipt poll failed", "tx", sw.TxHash, "err", err)
		return nil, nil
	}
	nonce, err := s.cfg.Client.NonceAt(ctx, common.HexToAddress(sw.Sender), nil)
	if err != nil {
		s.log.Warn("sweep nonce check failed", "tx", sw.TxHash, "err", err)
		return nil, nil
	}
	if nonce > uint64(sw.Nonce) {
		// The nonce is used. Mined meanwhile (a race with the receipt poll) or by another
		// transaction: look once more.
		if _, err := s.cfg.Client.TransactionReceipt(ctx, h); err == nil || !errors.Is(err, geth.NotFound) {
			return nil, nil
		}
		done := sw
		at := s.cfg.Now().UTC()
		done.Status, done.FinishedAt = store.SweepDropped, &at
		if err := s.finish(ctx, done, 0); err != nil {
			return nil, err
		}
		s.log.Warn("sweep dropped (its nonce was used by another transaction, e.g. after a reorg): its forwarders are swept again",
			"tx", sw.TxHash, "nonce", sw.Nonce)
		return &done, nil
	}
	// Not mined: in the pool, or lost by it (a node restart, a reorg). Broadcast it again.
	tx := new(types.Transaction)
	raw, err := hexutil.Decode(sw.RawTx)
	if err == nil {
		err = tx.UnmarshalBinary(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: stored transaction %s: %w", sw.TxHash, err)
	}
	if err := s.cfg.Client.SendTransaction(ctx, tx); err != nil && !strings.Contains(err.Error(), "already known") {
		s.log.Debug("sweep rebroadcast refused", "tx", sw.TxHash, "err", err)
	}
	if age := s.cfg.Now().Sub(sw.SentAt); age > s.cfg.ReceiptTimeout {
		s.log.Warn("sweep not mined yet", "tx", sw.TxHash, "age", age.Round(time.Second), "nonce", sw.Nonce)
	}
	return nil, nil
}

// finish records the end of a sweep and books it in one transaction. A sweep another
// process finished first is left as it is.
func (s *Service) finish(ctx context.Context, done store.EVMSweep, depth int64) error {
	err := s.cfg.Store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.FinishEVMSweep(ctx, done); err != nil {
			return err
		}
		if done.Status == store.SweepDropped || s.cfg.OnFinished == nil {
			return nil
		}
		return s.cfg.OnFinished(ctx, tx, done, depth)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep: finish %s: %w", done.TxHash, err)
	}
	return nil
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
			s.log.Error("sweep round failed", "err", err, "sent", len(res.Sent))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
