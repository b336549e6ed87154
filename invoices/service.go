package invoices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Chain is what the service needs from a chain integration to offer its assets on invoices.
// Implementations live in package deposit; tests may use fakes.
type Chain interface {
	// Assets lists the assets a wallet of this chain accepts.
	Assets(w store.Wallet) ([]money.Asset, error)
	// DepositAddress returns a deposit address for the invoice that no other invoice has
	// (allocating inside tx where the chain needs state, such as a derivation index).
	DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, invoiceID string) (address string, index *uint32, err error)
	// PaymentURI is the wallet URI (BIP21, EIP-681) for paying amount (atomic units of the
	// option's asset) to the option's deposit address.
	PaymentURI(o store.PaymentOption, amount *big.Int, label string) string
	// Confirmations is the default number of confirmations before a payment settles.
	Confirmations() int
}

// FinalityChain is implemented by chains whose payments may settle on a block tag of the
// node (EVM `finalized` or `safe`) instead of a depth. When Finality is not "", the
// chain's confirmations are counted from the follower's final block (store.Cursor.Final)
// rather than its tip: a payment has c confirmations when c blocks at or above its own are
// final, and Confirmations() is 1 (the payment's block is final).
type FinalityChain interface {
	Finality() string
}

// IndexedChain is implemented by chains whose deposit address is a function of a wallet
// and a derivation index (Bitcoin). With Config.Indexes set, the service takes the index
// from it before the invoice's transaction and asks AddressAt, instead of DepositAddress.
type IndexedChain interface {
	AddressAt(w store.Wallet, index uint32) (string, error)
}

// IndexAllocator hands out derivation indexes outside any transaction (deposit.Indexes).
type IndexAllocator interface {
	// Next hands out an index of the wallet that is never handed out again.
	Next(ctx context.Context, walletID string) (uint32, error)
	// Release gives back an index whose invoice was never committed.
	Release(walletID string, index uint32)
}

// WalletInput is what a merchant sends to enable a chain: an extended public key or
// descriptor (Bitcoin), or a treasury address and token codes (EVM).
type WalletInput struct {
	Chain    string
	Key      string
	Treasury string
	Tokens   []string
}

// DustLimiter is implemented by chains on which an output below some amount cannot be paid
// (Bitcoin relay policy). A payment option whose amount is below it is not offered.
type DustLimiter interface {
	// DustLimit is the smallest payable amount, in atomic units of a, to an address of w.
	DustLimit(w store.Wallet, a money.Asset) *big.Int
}

// StoreSettings are the merchant's settings the service reads (store.Merchant.Settings).
type StoreSettings struct {
	// MaxAmount caps an invoice's price per currency: decimal strings by currency code,
	// e.g. {"USD": "10000.00"}. A currency without an entry has no cap.
	MaxAmount map[string]string `json:"max_amount,omitempty"`
}

// ParseStoreSettings reads a merchant's settings JSON ("" is no settings).
func ParseStoreSettings(raw string) (StoreSettings, error) {
	var st StoreSettings
	if strings.TrimSpace(raw) == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return st, fmt.Errorf("store settings: %w", err)
	}
	return st, nil
}

// WalletMaker is implemented by chains that can validate a merchant's wallet input.
type WalletMaker interface {
	// NewWallet validates the input and returns the wallet row to store (without id,
	// merchant or time). Errors describe the input problem for the merchant.
	NewWallet(in WalletInput) (store.Wallet, error)
}

// Wallet conflicts, both answered 409 by the API.
var (
	// ErrWalletExists means the merchant already has a wallet on that chain.
	ErrWalletExists = errors.New("this store already has a wallet on that chain")
	// ErrKeyInUse means another wallet (of this or another store) already derives from the
	// same key: both would hand out the same addresses.
	ErrKeyInUse = errors.New("this key or descriptor is already used by another wallet; a key can serve one wallet only (derive a new account in your wallet)")
)

// AddWallet enables a chain for the merchant. Input problems are *ValidationError.
func (s *Service) AddWallet(ctx context.Context, merchantID string, in WalletInput) (store.Wallet, error) {
	c, ok := s.cfg.Chains[in.Chain]
	if !ok {
		return store.Wallet{}, &ValidationError{Fields: map[string]string{"chain": fmt.Sprintf("%q is not a chain this server follows", in.Chain)}}
	}
	wm, ok := c.(WalletMaker)
	if !ok {
		return store.Wallet{}, &ValidationError{Fields: map[string]string{"chain": in.Chain + " wallets cannot be added over the API"}}
	}
	w, err := wm.NewWallet(in)
	if err != nil {
		field := "key"
		switch {
		case in.Key == "" && in.Treasury != "":
			field = "treasury"
		case in.Key == "" && len(in.Tokens) > 0:
			field = "tokens"
		}
		return store.Wallet{}, &ValidationError{Fields: map[string]string{field: err.Error()}}
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	w.ID, w.MerchantID, w.CreatedAt = store.NewID("wal", now), merchantID, now
	err = s.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateWallet(ctx, w) })
	s.Forget(merchantID)
	if errors.Is(err, store.ErrConflict) {
		// Two unique constraints: one wallet per store and chain, one wallet per descriptor.
		own, lerr := s.Wallets(ctx, merchantID)
		if lerr != nil {
			return store.Wallet{}, lerr
		}
		if slices.ContainsFunc(own, func(x store.Wallet) bool { return x.Chain == w.Chain }) {
			return store.Wallet{}, ErrWalletExists
		}
		return store.Wallet{}, ErrKeyInUse
	}
	return w, err
}

// GapWarning is the gap at which a wallet with the common fixed gap limit of 20 (Ledger
// Live, Trezor Suite, BlueWallet, Electrum's default) stops seeing new payments: the next
// address handed out lies 21 or more past the last one it knows to be used.
const GapWarning = 20

// Gap is the number of derivation indexes handed out after the highest paid one (every index
// handed out when none was paid): next is the wallet's next index, highestPaid the highest
// index that received a payment.
func Gap(next uint32, highestPaid *uint32) uint32 {
	if highestPaid == nil {
		return next
	}
	if *highestPaid >= next { // not handed out by this database (restored from a backup)
		return 0
	}
	return next - 1 - *highestPaid
}

// GapAdvice is a warning for a wallet whose gap reached GapWarning, or "".
func GapAdvice(gap uint32) string {
	if gap < GapWarning {
		return ""
	}
	return fmt.Sprintf("%d unpaid addresses were handed out after the last paid one: wallets with a gap limit of 20 "+
		"(Ledger Live, Trezor Suite, BlueWallet) will not show later payments until you raise the gap limit or rescan (docs/wallets.md)", gap)
}

// Wallets lists the merchant's wallets.
func (s *Service) Wallets(ctx context.Context, merchantID string) ([]store.Wallet, error) {
	var out []store.Wallet
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.Wallets(ctx, merchantID)
		return err
	})
	return out, err
}

// Settler is told, inside the transaction that changes an invoice, about the changes that
// move money: settlement (post settlement records) and a reorg after settlement (post
// reversals). It writes into the same transaction (an outbox), so the state change and its
// ledger records commit together or not at all. It is called at the end of every review
// and merchant transition, whether or not events were emitted (a payment may have reached
// its confirmations without changing the status).
type Settler interface {
	SettleTx(ctx context.Context, tx store.Tx, d Details, events []string, now time.Time) error
}

// Quoter gives the current price of one whole unit of base in the quote currency.
type Quoter interface {
	Quote(ctx context.Context, base, quote string) (Quote, error)
}

// Quote is a rate with its provenance.
type Quote struct {
	Rate   decimal.Decimal
	Source string
	At     time.Time
	Raw    string // JSON array of the raw source quotes, stored for audit
}

// Errors callers branch on.
var (
	// ErrRatesUnavailable means no trustworthy rate could be had; the API answers 503.
	ErrRatesUnavailable = errors.New("exchange rates unavailable")
	// ErrNotFound means no such invoice for this merchant.
	ErrNotFound = errors.New("invoice not found")
)

// ValidationError lists the request fields that are wrong and why.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid invoice: " + strings.Join(parts, "; ")
}

// StateError means the invoice's status does not allow the action (cancel, resolve).
type StateError struct{ Err error }

func (e *StateError) Error() string { return e.Err.Error() }
func (e *StateError) Unwrap() error { return e.Err }

// Config configures a Service.
type Config struct {
	Chains           map[string]Chain // by chain name ("bitcoin", "ethereum")
	Quoter           Quoter
	Settler          Settler // optional: ledger forwarding
	Now              func() time.Time
	Logger           *slog.Logger
	DefaultExpiry    time.Duration // default 15 min
	MonitoringWindow time.Duration // after expiry; default 24 h
	MaxMetadataBytes int           // default 4096
	// Indexes, when set, gives IndexedChain options their derivation index before the
	// invoice's transaction (no wallet row is locked across it); nil allocates inside the
	// transaction with store.Tx.AllocateIndex.
	Indexes IndexAllocator
}

// Service creates and manages invoices. It is safe for concurrent use.
//
// It keeps each merchant's settings and wallets in memory for Prepare. The cache is never
// trusted on its own: CreateTx guards the invoice's transaction with the configuration
// version the draft was prepared at (store.Tx.GuardMerchantConfig, which travels with the
// writes), and the transaction fails with ErrStaleDraft if the store's configuration
// changed since, so a wallet added or a setting changed by any process takes effect on the
// next invoice.
type Service struct {
	st  store.Store
	cfg Config

	mu      sync.Mutex
	configs map[string]merchantConfig // by merchant id
}

// merchantConfig is what Prepare reads of a merchant.
type merchantConfig struct {
	merchant store.Merchant
	wallets  []store.Wallet
}

// maxCachedConfigs bounds the cache; past it the cache starts over.
const maxCachedConfigs = 10000

// ErrStaleDraft means the merchant's settings, wallets or webhook endpoints changed between
// Prepare and the commit of CreateTx's transaction; nothing was written. Call Forget, then
// Prepare again. It is store.ErrConfigChanged: on Postgres the transaction's commit reports it.
var ErrStaleDraft = store.ErrConfigChanged

// New returns a Service. Chains and Quoter are required.
func New(st store.Store, cfg Config) (*Service, error) {
	if st == nil || cfg.Quoter == nil || cfg.Chains == nil {
		return nil, errors.New("invoices: store, chains and quoter are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DefaultExpiry == 0 {
		cfg.DefaultExpiry = 15 * time.Minute
	}
	if cfg.MonitoringWindow == 0 {
		cfg.MonitoringWindow = 24 * time.Hour
	}
	if cfg.MaxMetadataBytes == 0 {
		cfg.MaxMetadataBytes = 4096
	}
	return &Service{st: st, cfg: cfg, configs: map[string]merchantConfig{}}, nil
}

// config returns the merchant's settings and wallets, from the cache (cached) or the store.
func (s *Service) config(ctx context.Context, merchantID string) (c merchantConfig, cached bool, err error) {
	s.mu.Lock()
	c, ok := s.configs[merchantID]
	s.mu.Unlock()
	if ok {
		return c, true, nil
	}
	c, err = s.loadConfig(ctx, merchantID)
	return c, false, err
}

// loadConfig reads the merchant's settings and wallets from the store and caches them.
func (s *Service) loadConfig(ctx context.Context, merchantID string) (c merchantConfig, err error) {
	err = s.st.View(ctx, func(tx store.Tx) (err error) {
		c.merchant, c.wallets, err = tx.MerchantWallets(ctx, merchantID)
		return err
	})
	if err != nil {
		return c, err
	}
	s.remember(merchantID, c)
	return c, nil
}

func (s *Service) remember(merchantID string, c merchantConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.configs[merchantID]; ok && old.merchant.ConfigVersion > c.merchant.ConfigVersion {
		return // a read that started before a change finished after a newer one: versions only grow
	}
	if len(s.configs) >= maxCachedConfigs {
		clear(s.configs)
	}
	s.configs[merchantID] = c
}

// Forget drops the cached settings and wallets of a merchant, so that the next Prepare reads
// the store's. Call it after ErrStaleDraft (Create and the API do).
func (s *Service) Forget(merchantID string) {
	s.mu.Lock()
	delete(s.configs, merchantID)
	s.mu.Unlock()
}

// CreateRequest is a merchant's request for a new invoice. Amount is a decimal string in
// Currency, which is an ISO 4217 code or a crypto asset code the merchant accepts.
type CreateRequest struct {
	Amount        string
	Currency      string
	OrderID       string
	Metadata      json.RawMessage
	ExpiresIn     time.Duration // 0 = default
	Confirmations map[string]int
	// PaymentMethods are asset codes ("USDC": on every network the store accepts it) or
	// assets on one network ("USDC-base", see MethodMatches); empty = every asset the
	// merchant accepts.
	PaymentMethods   []string
	RedirectURL      string
	TolerancePercent string
	ToleranceFloor   string // decimal in Currency
}

// Draft is a validated, quoted request, ready to be written by CreateTx. With
// Config.Indexes it holds the deposit addresses already allocated: a draft that is not
// committed should be Discarded (else its indexes are a gap in the merchant's wallet).
type Draft struct {
	merchantID string
	config     merchantConfig // what it was prepared from
	inv        store.Invoice
	options    []draftOption
	release    []func()
}

type draftOption struct {
	asset   money.Asset
	wallet  store.Wallet
	due     *big.Int
	rate    decimal.Decimal
	quote   Quote
	confs   int
	address string  // allocated by Prepare ("" = allocate in CreateTx)
	index   *uint32 // with address
}

// Discard gives the draft's allocated derivation indexes back for other invoices. Call it
// only when no transaction that wrote the draft can have committed: after CreateTx failed
// and its transaction rolled back, or when the transaction failed with store.ErrConflict or
// store.ErrBusy (conflicts and busy errors always roll back). It is idempotent.
func (d *Draft) Discard() {
	if d == nil {
		return
	}
	for _, r := range d.release {
		r()
	}
	d.release = nil
}

// Details is an invoice with its payment options, payments and what has been paid.
type Details struct {
	Invoice  store.Invoice
	Options  []store.PaymentOption
	Payments []store.Payment
	Tips     map[string]int64 // followers' tip heights by chain, for confirmations
	Paid     Paid
	// Refunds are the invoice's refunds, oldest first (package refunds); loaded by Get,
	// GetTx and ListTx, not by the watcher's reviews.
	Refunds []store.Refund
	// Snapshot is the invoice rendered by the Render given to CreateTx (nil otherwise).
	Snapshot json.RawMessage
}

// Prepare validates req for the merchant and quotes every payment option. It reads but does
// not write; CreateTx writes the draft.
//
// It prepares from the merchant's settings and wallets as the service cached them; a request
// they refuse on a field they can decide (a ValidationError on anything but the fields
// settingsFree lists) is prepared again from the store's current ones before it is refused,
// so a store whose settings another process changed (a maximum raised, a wallet added) is
// never refused under the old ones (simulator invariant 7, seed 3 of -config-changes).
func (s *Service) Prepare(ctx context.Context, merchantID string, req CreateRequest) (*Draft, error) {
	cfg, cached, err := s.config(ctx, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read wallets: %w", err)
	}
	d, err := s.prepare(ctx, merchantID, req, cfg)
	var ve *ValidationError
	if !cached || !errors.As(err, &ve) || !ve.onConfig() {
		return d, err
	}
	// From the store itself, not the cache: a read that began before the change may have
	// cached the old settings again since.
	if cfg, err = s.loadConfig(ctx, merchantID); err != nil {
		return nil, fmt.Errorf("read wallets: %w", err)
	}
	return s.prepare(ctx, merchantID, req, cfg)
}

// settingsFree are the request fields whose validation depends on neither the store's
// settings nor its wallets: a refusal on these alone is not prepared again.
var settingsFree = map[string]bool{"order_id": true, "metadata": true, "expires_in": true, "redirect_url": true,
	"tolerance_percent": true}

// onConfig reports whether e refuses a field that the store's settings or wallets decide.
func (e *ValidationError) onConfig() bool {
	for f := range e.Fields {
		if !settingsFree[f] {
			return true
		}
	}
	return false
}

// prepare is Prepare from the merchant's configuration cfg.
func (s *Service) prepare(ctx context.Context, merchantID string, req CreateRequest, cfg merchantConfig) (*Draft, error) {
	bad := map[string]string{}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond) // what the database keeps

	// Price currency: fiat by ISO 4217, else a crypto asset the merchant accepts.
	cur := strings.TrimSpace(req.Currency)
	var priceAsset money.Asset
	fiat, isFiat := money.Currency(cur)
	if isFiat {
		priceAsset = fiat
	}
	merchant, wallets := cfg.merchant, cfg.wallets
	settings, err := ParseStoreSettings(merchant.Settings)
	if err != nil {
		return nil, err
	}
	type accepted struct {
		asset  money.Asset
		wallet store.Wallet
	}
	var assets []accepted
	for _, w := range wallets {
		c, ok := s.cfg.Chains[w.Chain]
		if !ok {
			s.cfg.Logger.Warn("wallet of an unconfigured chain ignored", "wallet", w.ID, "chain", w.Chain)
			continue
		}
		as, err := c.Assets(w)
		if err != nil {
			return nil, fmt.Errorf("wallet %s: %w", w.ID, err)
		}
		for _, a := range as {
			assets = append(assets, accepted{a, w})
		}
	}
	if !isFiat {
		for _, a := range assets {
			if a.asset.Code == cur {
				priceAsset = a.asset
			}
		}
		if priceAsset.Code == "" {
			switch {
			case cur == "":
				bad["currency"] = "required"
			case strings.ToUpper(cur) != cur:
				bad["currency"] = fmt.Sprintf("%q: currency codes are upper case", cur)
			default:
				bad["currency"] = fmt.Sprintf("%q is neither an active ISO 4217 currency nor an asset this store accepts", cur)
			}
		}
	}
	var price *big.Int
	if priceAsset.Code != "" {
		p, err := money.ParseAmount(req.Amount, priceAsset.Scale)
		switch {
		case err != nil:
			bad["amount"] = err.Error()
		case p.Sign() == 0:
			bad["amount"] = "must be greater than zero"
		default:
			price = p
		}
	}
	if max, ok := settings.MaxAmount[priceAsset.Code]; ok && price != nil {
		m, err := money.ParseAmount(max, priceAsset.Scale)
		if err == nil && price.Cmp(m) > 0 {
			bad["amount"] = fmt.Sprintf("above this store's maximum of %s %s", money.FormatAmount(m, priceAsset.Scale), priceAsset.Code)
		}
	}
	if len(req.OrderID) > 200 {
		bad["order_id"] = "at most 200 characters"
	}
	meta := ""
	if len(req.Metadata) > 0 && !bytes.Equal(bytes.TrimSpace(req.Metadata), []byte("null")) {
		if len(req.Metadata) > s.cfg.MaxMetadataBytes {
			bad["metadata"] = fmt.Sprintf("at most %d bytes", s.cfg.MaxMetadataBytes)
		} else if t := bytes.TrimSpace(req.Metadata); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
			bad["metadata"] = "must be a JSON object"
		} else {
			var buf bytes.Buffer
			_ = json.Compact(&buf, t)
			meta = buf.String()
		}
	}
	expiry := s.cfg.DefaultExpiry
	if req.ExpiresIn != 0 {
		if req.ExpiresIn < time.Minute || req.ExpiresIn > 30*24*time.Hour {
			bad["expires_in"] = "must be between 60 seconds and 30 days"
		}
		expiry = req.ExpiresIn
	}
	if req.RedirectURL != "" {
		u, err := url.Parse(req.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad["redirect_url"] = "must be an absolute http(s) URL"
		}
	}
	tolPct := decimal.Zero
	if req.TolerancePercent != "" {
		d, err := decimal.NewFromString(req.TolerancePercent)
		if err != nil || d.IsNegative() || d.GreaterThanOrEqual(decimal.NewFromInt(100)) || strings.ContainsAny(req.TolerancePercent, "eE") {
			bad["tolerance_percent"] = "must be a decimal string from 0 to below 100"
		} else {
			tolPct = d
		}
	}
	tolFloor := new(big.Int)
	if req.ToleranceFloor != "" && priceAsset.Code != "" {
		f, err := money.ParseAmount(req.ToleranceFloor, priceAsset.Scale)
		switch {
		case err != nil:
			bad["tolerance_floor"] = err.Error()
		case price != nil && f.Cmp(price) >= 0:
			// A floor at or above the price would settle the invoice on any dust payment.
			bad["tolerance_floor"] = "must be less than the amount"
		default:
			tolFloor = f
		}
	}
	// Payment methods: a subset of what the store accepts; crypto-priced invoices are
	// payable in their own asset only (no crypto-to-crypto quotes).
	var chosen []accepted
	want := map[string]bool{}
	for _, m := range req.PaymentMethods {
		want[m] = true
	}
	for m := range want {
		if !slices.ContainsFunc(assets, func(a accepted) bool { return MethodMatches(m, a.asset) }) {
			bad["payment_methods"] = fmt.Sprintf("%q is not enabled for this store (an asset such as USDC, or an asset on a network such as USDC-base)", m)
		}
	}
	wanted := func(a money.Asset) bool {
		for m := range want {
			if MethodMatches(m, a) {
				return true
			}
		}
		return false
	}
	for _, a := range assets {
		if len(want) > 0 && !wanted(a.asset) {
			continue
		}
		if !isFiat && a.asset.Code != priceAsset.Code {
			continue
		}
		chosen = append(chosen, a)
	}
	if len(chosen) == 0 && bad["payment_methods"] == "" && bad["currency"] == "" {
		bad["payment_methods"] = "this store accepts no asset for this invoice: add a wallet first (chainpay wallet add)"
	}
	for chain, n := range req.Confirmations {
		if _, ok := s.cfg.Chains[chain]; !ok {
			bad["confirmations"] = fmt.Sprintf("unknown chain %q", chain)
		} else if n < 0 || n > 1000 {
			bad["confirmations"] = fmt.Sprintf("%s: must be 0..1000", chain)
		}
	}
	if len(bad) > 0 {
		return nil, &ValidationError{Fields: bad}
	}

	confs := map[string]int{}
	d := &Draft{merchantID: merchantID, config: cfg}
	var (
		dust      []string // options below their chain's dust limit
		dustAsked bool     // one of them was named in payment_methods
	)
	for _, a := range chosen {
		n, ok := req.Confirmations[a.asset.Chain]
		if !ok {
			n = s.cfg.Chains[a.asset.Chain].Confirmations()
		}
		confs[a.asset.Chain] = n
		o := draftOption{asset: a.asset, wallet: a.wallet, confs: n}
		if !isFiat {
			o.due, o.rate = new(big.Int).Set(price), decimal.NewFromInt(1)
			o.quote = Quote{Rate: o.rate, Source: "identity", At: now, Raw: "[]"}
		} else {
			q, err := s.cfg.Quoter.Quote(ctx, a.asset.Code, priceAsset.Code)
			if err != nil {
				return nil, fmt.Errorf("%w: %s/%s: %v", ErrRatesUnavailable, a.asset.Code, priceAsset.Code, err)
			}
			due, eff, err := money.CryptoDue(price, priceAsset.Scale, q.Rate, a.asset.Scale)
			if err != nil {
				return nil, fmt.Errorf("%w: %s/%s: %v", ErrRatesUnavailable, a.asset.Code, priceAsset.Code, err)
			}
			q.At = q.At.UTC().Truncate(time.Microsecond)
			o.due, o.rate, o.quote = due, eff, q
		}
		if dl, ok := s.cfg.Chains[a.asset.Chain].(DustLimiter); ok {
			if min := dl.DustLimit(a.wallet, a.asset); min != nil && o.due.Cmp(min) < 0 {
				// Unpayable: no wallet can send it. Offer the other assets; refuse the
				// invoice when this one was asked for or nothing is left.
				dust = append(dust, fmt.Sprintf("%s %s is below the smallest payable %s amount (%s)",
					money.FormatAmount(o.due, a.asset.Scale), a.asset.Code, a.asset.Code, money.FormatAmount(min, a.asset.Scale)))
				if wanted(a.asset) {
					dustAsked = true
				}
				continue
			}
		}
		d.options = append(d.options, o)
	}
	if len(dust) > 0 && (dustAsked || len(d.options) == 0) {
		return nil, &ValidationError{Fields: map[string]string{"amount": "too small to pay: " + strings.Join(dust, "; ")}}
	}
	confJSON, _ := json.Marshal(confs)
	d.inv = store.Invoice{
		MerchantID: merchantID, Status: store.StatusNew, Price: price, Currency: priceAsset.Code,
		OrderID: req.OrderID, Metadata: meta, RedirectURL: req.RedirectURL,
		TolerancePercent: tolPct.String(), ToleranceFloor: tolFloor, Confirmations: string(confJSON),
		ExpiresAt: now.Add(expiry), MonitorUntil: now.Add(expiry + s.cfg.MonitoringWindow),
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.allocate(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// allocate gives the draft's IndexedChain options their index and address from
// Config.Indexes, outside any transaction.
func (s *Service) allocate(ctx context.Context, d *Draft) error {
	if s.cfg.Indexes == nil {
		return nil
	}
	for i := range d.options {
		o := &d.options[i]
		ic, ok := s.cfg.Chains[o.asset.Chain].(IndexedChain)
		if !ok {
			continue
		}
		idx, err := s.cfg.Indexes.Next(ctx, o.wallet.ID)
		if err != nil {
			d.Discard()
			s.Forget(d.merchantID) // a wallet that is gone
			return fmt.Errorf("deposit address for %s: %w", o.asset.Code, err)
		}
		o.index = &idx
		d.release = append(d.release, func() { s.cfg.Indexes.Release(o.wallet.ID, idx) })
		if o.address, err = ic.AddressAt(o.wallet, idx); err != nil {
			d.Discard()
			return fmt.Errorf("deposit address for %s: %w", o.asset.Code, err)
		}
	}
	return nil
}

// Render renders an invoice as the merchant API shows it (a JSON object).
type Render func(Details) (json.RawMessage, error)

// CreateTx writes the draft inside tx: the invoice, a fresh deposit address and locked quote
// per option, and the invoice.created event.
//
// Its first statement guards the transaction with the configuration version the draft was
// prepared at: if the store's settings, wallets or webhook endpoints changed since, the
// transaction fails with ErrStaleDraft and writes nothing. On Postgres the guard and the
// writes are plain statements that travel with the transaction's next statement that waits
// for an answer, usually the COMMIT, which then reports the error; elsewhere CreateTx
// returns it. Either way, the caller must Forget the merchant's cached configuration before
// preparing again.
//
// A non-nil render is called once with the new invoice: its output is the returned
// Details.Snapshot (the API answers with it) and, when the store has a webhook endpoint, the
// invoice.created event carries it, so the webhook dispatcher does not read the invoice again.
func (s *Service) CreateTx(ctx context.Context, tx store.Tx, d *Draft, render Render) (Details, error) {
	if err := tx.GuardMerchantConfig(ctx, d.merchantID, d.config.merchant.ConfigVersion); err != nil {
		return Details{}, fmt.Errorf("check the store's configuration: %w", err) // ErrStaleDraft stays visible
	}
	now := d.config
	var err error
	inv := d.inv
	inv.ID = store.NewID("inv", inv.CreatedAt)
	if err := tx.CreateInvoice(ctx, inv); err != nil {
		return Details{}, fmt.Errorf("create invoice: %w", err)
	}
	out := Details{Invoice: inv}
	for _, o := range d.options {
		addr, idx := o.address, o.index
		if addr == "" {
			if addr, idx, err = s.cfg.Chains[o.asset.Chain].DepositAddress(ctx, tx, o.wallet, inv.ID); err != nil {
				return Details{}, fmt.Errorf("deposit address for %s: %w", o.asset.Code, err)
			}
		}
		po := store.PaymentOption{
			ID: store.NewID("opt", inv.CreatedAt), InvoiceID: inv.ID, Asset: o.asset.Code, Chain: o.asset.Chain,
			Network: o.wallet.Network, Contract: o.asset.Contract, Scale: o.asset.Scale, Address: addr,
			WalletID: o.wallet.ID, DerivationIndex: idx, AmountDue: o.due, Rate: o.rate.String(),
			RateSource: o.quote.Source, RateAt: o.quote.At, QuoteExpiresAt: inv.ExpiresAt, RawQuotes: o.quote.Raw,
			Confirmations: o.confs, CreatedAt: inv.CreatedAt,
		}
		if po.RawQuotes == "" {
			po.RawQuotes = "[]"
		}
		if err := tx.CreatePaymentOption(ctx, po); err != nil {
			return Details{}, fmt.Errorf("create payment option: %w", err)
		}
		out.Options = append(out.Options, po)
	}
	out.Paid = Progress(stateOf(inv), optionsOf(out.Options), nil)
	out.Tips = map[string]int64{}
	if render != nil {
		if out.Snapshot, err = render(out); err != nil {
			return Details{}, fmt.Errorf("render invoice %s: %w", inv.ID, err)
		}
	}
	var snap json.RawMessage
	if now.merchant.HasWebhooks { // else nothing would read it: the dispatcher skips the event
		snap = out.Snapshot
	}
	if err := s.appendEvents(ctx, tx, inv, []string{EventCreated}, snap); err != nil {
		return Details{}, err
	}
	return out, nil
}

// Create is Prepare followed by CreateTx in one transaction, prepared again (a few times at
// most) when the store's settings or wallets changed in between.
func (s *Service) Create(ctx context.Context, merchantID string, req CreateRequest) (Details, error) {
	for attempt := 1; ; attempt++ {
		d, err := s.Prepare(ctx, merchantID, req)
		if err != nil {
			return Details{}, err
		}
		var out Details
		err = s.st.Tx(ctx, func(tx store.Tx) (err error) {
			out, err = s.CreateTx(ctx, tx, d, nil)
			return err
		})
		if err != nil && NotCommitted(err) {
			d.Discard()
		}
		if !errors.Is(err, ErrStaleDraft) || attempt == MaxPrepareAttempts {
			return out, err
		}
		s.Forget(merchantID)
	}
}

// MaxPrepareAttempts is how often Create (and the API) prepare an invoice whose draft went
// stale before giving up with ErrStaleDraft.
const MaxPrepareAttempts = 3

// NotCommitted reports whether a failed creation's transaction certainly did not commit,
// so its draft may be Discarded: a stale draft, a conflict or a busy database (their
// transactions always roll back). Anything else (a lost connection during COMMIT) may have
// committed.
func NotCommitted(err error) bool {
	return errors.Is(err, ErrStaleDraft) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrBusy)
}

// PaymentURI is the wallet URI for paying amount of the option's asset to its address, or ""
// when its chain is not configured.
func (s *Service) PaymentURI(o store.PaymentOption, amount *big.Int, label string) string {
	c, ok := s.cfg.Chains[o.Chain]
	if !ok {
		return ""
	}
	return c.PaymentURI(o, amount, label)
}

// Get returns the merchant's invoice with its options and payments ("" merchant = any).
func (s *Service) Get(ctx context.Context, merchantID, id string) (Details, error) {
	var out Details
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = s.load(ctx, tx, merchantID, id)
		return err
	})
	return out, err
}

// GetTx is Get inside an existing transaction.
func (s *Service) GetTx(ctx context.Context, tx store.Tx, merchantID, id string) (Details, error) {
	return s.load(ctx, tx, merchantID, id)
}

// ReviewTx re-evaluates the invoice against its payments, the chains' tips and the chain
// time (the followers' cursors), and writes the new state and its events inside tx. It
// reports the events emitted; none means nothing changed. See ReviewManyTx, which the
// watcher calls.
func (s *Service) ReviewTx(ctx context.Context, tx store.Tx, id string) ([]string, error) {
	inv, err := tx.GetInvoice(ctx, "", id)
	if err != nil {
		return nil, fmt.Errorf("review %s: %w", id, err)
	}
	opts, err := tx.PaymentOptions(ctx, id)
	if err != nil {
		return nil, err
	}
	pays, err := tx.Payments(ctx, id)
	if err != nil {
		return nil, err
	}
	cursors, err := cursorsOf(ctx, tx, opts)
	if err != nil {
		return nil, err
	}
	return s.review(ctx, tx, inv, opts, pays, cursors)
}

// ReviewManyTx is ReviewTx for several invoices inside tx, reading them, their options and
// payments and the followers' cursors in a few batched queries whatever their number (the
// books are still read per invoice, by the Settler). The watcher calls it for invoices
// whose payments changed and for those InvoicesDue lists. It returns the events emitted per
// invoice (invoices that did not change are absent); an id without an invoice is an error.
//
// Each invoice is judged at the earliest chain time among the chains of its own options (see
// chainTime): expiry and the end of monitoring are never declared by the wall clock while
// a follower of one of its chains is still behind.
func (s *Service) ReviewManyTx(ctx context.Context, tx store.Tx, ids []string) (map[string][]string, error) {
	invs, err := tx.InvoicesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	found := make(map[string]bool, len(invs))
	for _, inv := range invs {
		found[inv.ID] = true
	}
	for _, id := range ids {
		if !found[id] {
			return nil, fmt.Errorf("review %s: %w", id, store.ErrNotFound)
		}
	}
	optsBy, paysBy, cursors, err := loadMany(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, inv := range invs {
		own := map[string]store.Cursor{}
		for _, o := range optsBy[inv.ID] {
			own[o.Chain] = cursors[o.Chain]
		}
		evs, err := s.review(ctx, tx, inv, optsBy[inv.ID], paysBy[inv.ID], own)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			out[inv.ID] = evs
		}
	}
	return out, nil
}

// loadMany reads the options and payments of the invoices ids, by invoice, and the cursors
// of their chains, in a number of queries that does not grow with len(ids).
func loadMany(ctx context.Context, tx store.Tx, ids []string) (map[string][]store.PaymentOption,
	map[string][]store.Payment, map[string]store.Cursor, error) {
	opts, err := tx.PaymentOptionsOf(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	pays, err := tx.PaymentsOf(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	cursors, err := cursorsOf(ctx, tx, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	optsBy := map[string][]store.PaymentOption{}
	for _, o := range opts {
		optsBy[o.InvoiceID] = append(optsBy[o.InvoiceID], o)
	}
	paysBy := map[string][]store.Payment{}
	for _, p := range pays {
		paysBy[p.InvoiceID] = append(paysBy[p.InvoiceID], p)
	}
	return optsBy, paysBy, cursors, nil
}

// review evaluates inv with its options, payments and its chains' cursors, and writes the
// new state, its events and its books inside tx.
func (s *Service) review(ctx context.Context, tx store.Tx, inv store.Invoice, opts []store.PaymentOption,
	pays []store.Payment, cursors map[string]store.Cursor) ([]string, error) {
	tips := s.tipsOf(cursors)
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	at, err := s.confirmPayments(ctx, tx, inv, opts, pays, tips, now)
	if err != nil {
		return nil, err
	}
	st := stateOf(inv)
	next, evs := Evaluate(st, optionsOf(opts), paymentsAt(pays, tips), chainTime(cursors, now))
	if len(evs) == 0 && sameState(st, next) {
		// The books follow the payments, not the status: a payment may have confirmed.
		return nil, s.settle(ctx, tx, Details{Invoice: inv, Options: opts, Payments: pays, Tips: tips}, nil, now)
	}
	upd := apply(inv, next, now)
	if err := tx.UpdateInvoice(ctx, upd); err != nil {
		return nil, err
	}
	upd.Version++
	if err := s.appendEventsAt(ctx, tx, upd, evs, at, nil); err != nil {
		return nil, err
	}
	if err := s.settle(ctx, tx, Details{Invoice: upd, Options: opts, Payments: pays, Tips: tips}, evs, now); err != nil {
		return nil, err
	}
	return evs, nil
}

// settle hands the invoice to the Settler after every review and merchant action, events
// or not: the books follow the payments (confirmations move without a status change).
func (s *Service) settle(ctx context.Context, tx store.Tx, d Details, evs []string, now time.Time) error {
	if s.cfg.Settler == nil {
		return nil
	}
	if err := s.cfg.Settler.SettleTx(ctx, tx, d, evs, now); err != nil {
		return fmt.Errorf("ledger records of invoice %s: %w", d.Invoice.ID, err)
	}
	return nil
}

// confirmPayments stores the invoice.payment_confirmed event of each payment that has
// reached its option's confirmations (0: seen and not removed) and whose confirmation was
// not recorded before, and records it (store.Tx.MarkPaymentConfirmed, a compare-and-set
// in the same transaction, so the event exists once per payment whatever restarts,
// concurrent reviews and reorgs do: a payment reorged out and mined again is not
// confirmed twice; invoice.reorged tells the merchant about the reorg). It returns the
// time at which the review's status events may follow these events (now when there are
// none): each event comes after its payment's own last change (payment_received) and
// before the status events it may cause.
func (s *Service) confirmPayments(ctx context.Context, tx store.Tx, inv store.Invoice, opts []store.PaymentOption,
	pays []store.Payment, tips map[string]int64, now time.Time) (time.Time, error) {
	next := now
	for i, p := range paymentsAt(pays, tips) {
		stored := pays[i]
		if stored.ConfirmedAt != nil || p.Status == PaymentRemoved {
			continue
		}
		var opt *store.PaymentOption
		for j := range opts {
			if opts[j].ID == p.OptionID {
				opt = &opts[j]
			}
		}
		if opt == nil || (opt.Confirmations > 0 && (p.Status != PaymentConfirmed || p.Confirmations < opt.Confirmations)) {
			continue
		}
		// Strictly after now and the payment's last change, so it follows the payment's
		// invoice.payment_received (stamped no later than now) even at equal clock readings.
		at := next
		if !at.After(now) {
			at = now.Add(time.Microsecond)
		}
		if !at.After(stored.UpdatedAt) {
			at = stored.UpdatedAt.UTC().Add(time.Microsecond)
		}
		first, err := tx.MarkPaymentConfirmed(ctx, p.ID, at)
		if err != nil {
			return now, fmt.Errorf("mark payment %s confirmed: %w", p.ID, err)
		}
		if !first {
			continue // another transaction recorded it since this one read the payment
		}
		data, _ := json.Marshal(map[string]any{"invoice_id": inv.ID, "payment_id": p.ID, "txid": stored.TxID,
			"output_index": stored.OutputIndex, "chain": stored.Chain, "asset": stored.Asset, "address": stored.Address,
			"amount_atomic": stored.Amount.String(), "status": stored.Status, "block_height": stored.BlockHeight,
			"confirmations": p.Confirmations, "confirmations_required": opt.Confirmations, "seen_at": stored.SeenAt.UTC()})
		if err := tx.AppendEvent(ctx, store.Event{ID: store.NewID("evt", at), MerchantID: inv.MerchantID,
			InvoiceID: inv.ID, Type: EventPaymentConfirmed, Data: string(data), CreatedAt: at}); err != nil {
			return now, fmt.Errorf("append event %s: %w", EventPaymentConfirmed, err)
		}
		next = at.Add(time.Microsecond)
	}
	return next, nil
}

// PaymentReceivedTx records the invoice.payment_received event for a newly seen payment.
// The event is stamped with the service's clock (not before the payment's own time), as
// the reviews' events are: a follower applying several blocks in one transaction stamps
// their payments with one time, and a payment of a later block must not be ordered
// before what a review of an earlier block stored (its invoice.payment_confirmed).
func (s *Service) PaymentReceivedTx(ctx context.Context, tx store.Tx, p store.Payment) error {
	inv, err := tx.GetInvoice(ctx, "", p.InvoiceID)
	if err != nil {
		return err
	}
	at := s.cfg.Now().UTC().Truncate(time.Microsecond)
	if at.Before(p.UpdatedAt) {
		at = p.UpdatedAt
	}
	data, _ := json.Marshal(map[string]any{"invoice_id": inv.ID, "payment_id": p.ID, "txid": p.TxID,
		"output_index": p.OutputIndex, "asset": p.Asset, "amount_atomic": p.Amount.String(), "status": p.Status})
	return tx.AppendEvent(ctx, store.Event{ID: store.NewID("evt", at), MerchantID: inv.MerchantID,
		InvoiceID: inv.ID, Type: EventPaymentReceived, Data: string(data), CreatedAt: at})
}

// cursorsOf reads the followers' cursors of the chains the options are on; a chain without
// a follower yet has a zero cursor (height 0, no chain time).
func cursorsOf(ctx context.Context, tx store.Tx, opts []store.PaymentOption) (map[string]store.Cursor, error) {
	out := map[string]store.Cursor{}
	for _, o := range opts {
		if _, ok := out[o.Chain]; ok {
			continue
		}
		c, err := tx.Cursor(ctx, o.Chain)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out[o.Chain] = store.Cursor{Chain: o.Chain}
		case err != nil:
			return nil, err
		default:
			out[o.Chain] = c
		}
	}
	return out, nil
}

// tipsOf is the followers' tip heights by chain (0 before a follower's first block).
func (s *Service) tipsOf(cursors map[string]store.Cursor) map[string]int64 {
	tips := make(map[string]int64, len(cursors))
	for chain, c := range cursors {
		tips[chain] = s.tipOf(chain, c)
	}
	return tips
}

// tipOf is the height confirmations on chain count from: the cursor's height, or on a
// chain that settles on a block tag (FinalityChain) the cursor's final block.
func (s *Service) tipOf(chain string, c store.Cursor) int64 {
	if f, ok := s.cfg.Chains[chain].(FinalityChain); ok && f.Finality() != "" {
		return c.Final
	}
	return c.Height
}

// chainTime is the time an invoice on these chains is judged at: the earliest chain time of
// the followers that have one (a follower still catching up holds the invoice back), or
// wall when no follower has a chain time yet.
func chainTime(cursors map[string]store.Cursor, wall time.Time) time.Time {
	var at time.Time
	for _, c := range cursors {
		if c.ChainTime.After(time.Unix(0, 0)) && (at.IsZero() || c.ChainTime.Before(at)) {
			at = c.ChainTime
		}
	}
	if at.IsZero() {
		return wall
	}
	return at.UTC()
}

func sameState(a, b State) bool {
	return a.Status == b.Status && slices.Equal(a.Flags, b.Flags) &&
		((a.SettledAt == nil) == (b.SettledAt == nil)) && (a.SettledAt == nil || a.SettledAt.Equal(*b.SettledAt))
}

// paymentsAt converts stored payments with their depth below their chain's tip:
// tip − height + 1 for a payment in a block at or below the tip, else 0.
func paymentsAt(pays []store.Payment, tips map[string]int64) []Payment {
	out := make([]Payment, len(pays))
	for i, p := range pays {
		confs := 0
		if tip := tips[p.Chain]; p.Status == store.PaymentConfirmed && p.BlockHeight != nil && tip >= *p.BlockHeight {
			confs = int(tip - *p.BlockHeight + 1)
		}
		out[i] = Payment{ID: p.ID, OptionID: p.OptionID, Amount: p.Amount, Status: p.Status, Confirmations: confs, SeenAt: p.SeenAt}
	}
	return out
}

func (s *Service) load(ctx context.Context, tx store.Tx, merchantID, id string) (Details, error) {
	inv, err := tx.GetInvoice(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Details{}, ErrNotFound
	}
	if err != nil {
		return Details{}, err
	}
	opts, err := tx.PaymentOptions(ctx, id)
	if err != nil {
		return Details{}, err
	}
	pays, err := tx.Payments(ctx, id)
	if err != nil {
		return Details{}, err
	}
	cursors, err := cursorsOf(ctx, tx, opts)
	if err != nil {
		return Details{}, err
	}
	refs, err := tx.RefundsOfInvoice(ctx, id)
	if err != nil {
		return Details{}, err
	}
	d := details(inv, opts, pays, s.tipsOf(cursors))
	d.Refunds = refs
	return d, nil
}

func details(inv store.Invoice, opts []store.PaymentOption, pays []store.Payment, tips map[string]int64) Details {
	return Details{Invoice: inv, Options: opts, Payments: pays, Tips: tips,
		Paid: Progress(stateOf(inv), optionsOf(opts), paymentsAt(pays, tips))}
}

// ListTx returns the details of the invoices f selects, newest first, as GetTx returns
// each, in a number of queries that does not grow with the page: the invoices, their
// options, their payments, and one cursor per chain.
func (s *Service) ListTx(ctx context.Context, tx store.Tx, f store.InvoiceFilter) ([]Details, error) {
	invs, err := tx.ListInvoices(ctx, f)
	if err != nil || len(invs) == 0 {
		return nil, err
	}
	ids := make([]string, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	optsBy, paysBy, cursors, err := loadMany(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	refs, err := tx.RefundsOfInvoices(ctx, ids)
	if err != nil {
		return nil, err
	}
	refsBy := map[string][]store.Refund{}
	for _, r := range refs {
		refsBy[r.InvoiceID] = append(refsBy[r.InvoiceID], r)
	}
	out := make([]Details, len(invs))
	for i, inv := range invs {
		own := map[string]int64{}
		for _, o := range optsBy[inv.ID] {
			own[o.Chain] = s.tipOf(o.Chain, cursors[o.Chain])
		}
		out[i] = details(inv, optsBy[inv.ID], paysBy[inv.ID], own)
		out[i].Refunds = refsBy[inv.ID]
	}
	return out, nil
}

// List returns the merchant's invoices, newest first.
func (s *Service) List(ctx context.Context, f store.InvoiceFilter) ([]store.Invoice, error) {
	var out []store.Invoice
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListInvoices(ctx, f)
		return err
	})
	return out, err
}

// Events returns the stored events of the merchant's invoice.
func (s *Service) Events(ctx context.Context, merchantID, id string) ([]store.Event, error) {
	var out []store.Event
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.GetInvoice(ctx, merchantID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		var err error
		out, err = tx.Events(ctx, id)
		return err
	})
	return out, err
}

// CancelTx cancels a new invoice without payments inside tx.
func (s *Service) CancelTx(ctx context.Context, tx store.Tx, merchantID, id string) (Details, error) {
	return s.transition(ctx, tx, merchantID, id, func(st State, pays []Payment, now time.Time) (State, []string, string, error) {
		next, evs, err := Cancel(st, pays, now)
		return next, evs, "canceled by the merchant", err
	})
}

// ResolveTx records the merchant's decision (settled or invalid, with a reason) inside tx.
func (s *Service) ResolveTx(ctx context.Context, tx store.Tx, merchantID, id string, to Status, reason string) (Details, error) {
	return s.transition(ctx, tx, merchantID, id, func(st State, _ []Payment, now time.Time) (State, []string, string, error) {
		next, evs, err := Resolve(st, to, reason, now)
		return next, evs, reason, err
	})
}

func (s *Service) transition(ctx context.Context, tx store.Tx, merchantID, id string,
	fn func(State, []Payment, time.Time) (State, []string, string, error)) (Details, error) {
	d, err := s.load(ctx, tx, merchantID, id)
	if err != nil {
		return Details{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	next, evs, reason, err := fn(stateOf(d.Invoice), paymentsAt(d.Payments, d.Tips), now)
	if err != nil {
		return Details{}, &StateError{Err: err}
	}
	inv := apply(d.Invoice, next, now)
	inv.ResolutionReason = reason
	if err := tx.UpdateInvoice(ctx, inv); err != nil {
		return Details{}, err
	}
	inv.Version++
	if err := s.appendEvents(ctx, tx, inv, evs, nil); err != nil {
		return Details{}, err
	}
	d.Invoice = inv
	if err := s.settle(ctx, tx, d, evs, now); err != nil {
		return Details{}, err
	}
	return d, nil
}

// appendEvents stores the events of a change of inv; snapshot, when not nil, is inv as the
// API renders it after the change (store.Event.Snapshot).
func (s *Service) appendEvents(ctx context.Context, tx store.Tx, inv store.Invoice, types []string, snapshot json.RawMessage) error {
	return s.appendEventsAt(ctx, tx, inv, types, inv.UpdatedAt, snapshot)
}

// appendEventsAt is appendEvents with the first event at start (not before inv.UpdatedAt).
func (s *Service) appendEventsAt(ctx context.Context, tx store.Tx, inv store.Invoice, types []string, start time.Time, snapshot json.RawMessage) error {
	if start.Before(inv.UpdatedAt) {
		start = inv.UpdatedAt
	}
	for i, typ := range types {
		data, _ := json.Marshal(map[string]any{"invoice_id": inv.ID, "status": inv.Status, "flags": nonNil(inv.Flags)})
		// One microsecond apart, so the events of one change keep their order.
		at := start.Add(time.Duration(i) * time.Microsecond)
		e := store.Event{ID: store.NewID("evt", at), MerchantID: inv.MerchantID, InvoiceID: inv.ID,
			Type: typ, Data: string(data), CreatedAt: at, Snapshot: string(snapshot)}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return fmt.Errorf("append event %s: %w", typ, err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// stateOf converts a stored invoice into the state machine's input.
func stateOf(inv store.Invoice) State {
	pct, err := decimal.NewFromString(inv.TolerancePercent)
	if err != nil {
		pct = decimal.Zero
	}
	flags := make([]Flag, len(inv.Flags))
	for i, f := range inv.Flags {
		flags[i] = Flag(f)
	}
	return State{Status: Status(inv.Status), Flags: flags, Price: inv.Price, ExpiresAt: inv.ExpiresAt,
		MonitorUntil: inv.MonitorUntil, SettledAt: inv.SettledAt,
		Policy: Policy{TolerancePercent: pct, ToleranceFloor: inv.ToleranceFloor}}
}

// apply writes the state machine's output back onto the stored invoice.
func apply(inv store.Invoice, st State, now time.Time) store.Invoice {
	inv.Status = string(st.Status)
	inv.Flags = make([]string, len(st.Flags))
	for i, f := range st.Flags {
		inv.Flags[i] = string(f)
	}
	inv.SettledAt = st.SettledAt
	inv.UpdatedAt = now
	return inv
}

func optionsOf(opts []store.PaymentOption) []Option {
	out := make([]Option, len(opts))
	for i, o := range opts {
		out[i] = Option{ID: o.ID, AmountDue: o.AmountDue, Confirmations: o.Confirmations}
	}
	return out
}
