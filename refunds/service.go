package refunds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Rate policies of a refund.
const (
	RateOriginal = "original" // the rate locked on the invoice's payment option
	RateCurrent  = "current"  // a fresh quote when the refund is created
	RateExplicit = "explicit" // the rate the merchant gives
)

// Errors callers branch on. Validation problems are *invoices.ValidationError (422) and
// refused status changes *invoices.StateError (409), the invoice API's types, so one error
// mapping serves both.
var (
	// ErrNotFound means no such refund for this merchant.
	ErrNotFound = errors.New("refund not found")
)

// Config configures a Service.
type Config struct {
	Invoices *invoices.Service // loads invoices with payments, tips and refunds (required)
	Quoter   invoices.Quoter   // the current rate; without it rate policy current is refused
	Now      func() time.Time
	// PublicURL is the base of the refund page links (claim_url), e.g. "https://pay.example.com".
	PublicURL string
	// Bitcoin enables PSBT preparation and submission for Bitcoin refunds (optional).
	Bitcoin *BitcoinConfig
	// SyncWindow is how recently the followers of an invoice's chains must have stood at
	// the fresh tip of a synced node for a refund of it to be created or its payment
	// prepared (NotSyncedError); 0 means DefaultSyncWindow. Negative turns the check off:
	// only for tools that run where no follower does and say so.
	SyncWindow time.Duration
}

// Service creates and manages refunds. It is safe for concurrent use.
type Service struct {
	st  store.Store
	cfg Config
	btc *BitcoinConfig // nil without a Bitcoin node
}

// New returns a Service over st.
func New(st store.Store, cfg Config) (*Service, error) {
	if st == nil || cfg.Invoices == nil {
		return nil, errors.New("refunds: a store and the invoices service are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncWindow == 0 {
		cfg.SyncWindow = DefaultSyncWindow
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Service{st: st, cfg: cfg}
	if b := cfg.Bitcoin; b != nil {
		if b.Node == nil {
			return nil, errors.New("refunds: Bitcoin config without a node")
		}
		c := *b
		if c.FeeFloor <= 0 {
			c.FeeFloor = 1
		}
		if c.FeeCap <= 0 {
			c.FeeCap = 500
		}
		if c.FeeTarget <= 0 {
			c.FeeTarget = 6
		}
		if c.MaxCoins <= 0 {
			c.MaxCoins = 200
		}
		if c.FeeFloor > c.FeeCap {
			return nil, fmt.Errorf("refunds: fee floor %d above cap %d sat/vB", c.FeeFloor, c.FeeCap)
		}
		s.btc = &c
	}
	return s, nil
}

// CreateRequest is a merchant's request to pay (part of) an invoice back.
type CreateRequest struct {
	// Amount is a decimal string in Currency; "" refunds everything still refundable in
	// Asset (at the original rate: exactly what was received minus other refunds).
	Amount string
	// Currency is the unit of Amount: the invoice's currency or the asset code; "" means
	// the invoice's currency.
	Currency string
	// Asset is the asset paid back ("BTC", "USDC"); "" means the one asset the invoice
	// received (an invoice paid in several assets needs it).
	Asset string
	// RatePolicy is RateOriginal (default), RateCurrent or RateExplicit (with Rate).
	RatePolicy string
	Rate       string // explicit rate: invoice currency per whole asset unit
	// FeeFromAmount takes the network fee out of the amount (native coins only): the
	// customer receives the amount less the fee.
	FeeFromAmount bool
	Reason        string
	// Destination, when given, is where the refund is paid (the refund starts claimed);
	// otherwise the customer claims it on the refund page.
	Destination string
}

// Draft is a request checked for syntax and priced (a current rate is quoted here, outside
// any transaction); CreateTx checks it against the invoice and writes it.
type Draft struct {
	merchantID string
	invoiceID  string
	req        CreateRequest
	quote      *invoices.Quote
}

// Prepare checks req's fields and, for rate policy current, quotes the rate. It reads but
// does not write.
func (s *Service) Prepare(ctx context.Context, merchantID, invoiceID string, req CreateRequest) (*Draft, error) {
	bad := map[string]string{}
	if req.RatePolicy == "" {
		req.RatePolicy = RateOriginal
	}
	switch req.RatePolicy {
	case RateOriginal, RateCurrent:
		if req.Rate != "" {
			bad["rate"] = "only with rate_policy explicit"
		}
	case RateExplicit:
		if _, err := parseRate(req.Rate); err != nil {
			bad["rate"] = err.Error()
		}
	default:
		bad["rate_policy"] = "must be original, current or explicit"
	}
	if len(req.Reason) > 500 {
		bad["reason"] = "at most 500 characters"
	}
	if req.Amount == "" && req.Currency != "" {
		bad["currency"] = "only with an amount"
	}
	if len(bad) > 0 {
		return nil, &invoices.ValidationError{Fields: bad}
	}
	d, err := s.cfg.Invoices.Get(ctx, merchantID, invoiceID)
	if err != nil {
		return nil, err
	}
	bal, err := Balance(d)
	if err != nil {
		return nil, err
	}
	ab, err := bal.pick(req.Asset)
	if err != nil {
		return nil, err
	}
	draft := &Draft{merchantID: merchantID, invoiceID: invoiceID, req: req}
	if req.RatePolicy == RateCurrent {
		if _, fiat := money.Currency(d.Invoice.Currency); !fiat {
			return nil, &invoices.ValidationError{Fields: map[string]string{"rate_policy": "current needs an invoice priced in a fiat currency"}}
		}
		if s.cfg.Quoter == nil {
			return nil, fmt.Errorf("refund at the current rate: %w", invoices.ErrRatesUnavailable)
		}
		q, err := s.cfg.Quoter.Quote(ctx, ab.Option.Asset, d.Invoice.Currency)
		if err != nil {
			return nil, err
		}
		draft.quote = &q
	}
	return draft, nil
}

// CreateTx checks the draft against the invoice as it is inside tx (what it received,
// what its other refunds take) and writes the refund with its events. Two refunds of one
// invoice created at once collide on their sequence number; the store retries the loser,
// which then sees the winner.
func (s *Service) CreateTx(ctx context.Context, tx store.Tx, dr *Draft) (store.Refund, error) {
	d, err := s.cfg.Invoices.GetTx(ctx, tx, dr.merchantID, dr.invoiceID)
	if err != nil {
		return store.Refund{}, err
	}
	r, err := s.price(d, dr)
	if err != nil {
		return store.Refund{}, err
	}
	// What the invoice received is read from this snapshot; it is only trusted when the
	// followers that recorded it were at their nodes' tips lately.
	if err := s.checkSynced(ctx, tx, chainsOf(d, r.Chain)); err != nil {
		return store.Refund{}, err
	}
	now := s.now()
	r.ID = store.NewID("ref", now)
	r.MerchantID, r.InvoiceID, r.Seq = d.Invoice.MerchantID, d.Invoice.ID, int64(len(d.Refunds))+1
	r.Status, r.Reason, r.CreatedAt, r.UpdatedAt = store.RefundPending, dr.req.Reason, now, now
	evs := []string{EventCreated}
	if dr.req.Destination != "" {
		dest, err := ParseDestination(whereOf(r), dr.req.Destination)
		if err != nil {
			return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{"destination": err.Error()}}
		}
		r.Destination, r.ClaimedAt, r.Status = dest, &now, store.RefundClaimed
		evs = append(evs, EventClaimed)
	}
	if err := tx.CreateRefund(ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Refund{}, fmt.Errorf("refund %d of invoice %s created concurrently: %w", r.Seq, r.InvoiceID, store.ErrBusy)
		}
		return store.Refund{}, err
	}
	r.Version = 1
	return r, s.appendEvents(ctx, tx, r, evs, now)
}

// price computes the refund's asset, amounts and rate from the draft and checks them
// against what the invoice can still refund.
func (s *Service) price(d invoices.Details, dr *Draft) (store.Refund, error) {
	req := dr.req
	bal, err := Balance(d)
	if err != nil {
		return store.Refund{}, err
	}
	ab, err := bal.pick(req.Asset)
	if err != nil {
		return store.Refund{}, err
	}
	o := ab.Option
	r := store.Refund{Asset: o.Asset, Chain: o.Chain, Network: o.Network, Contract: o.Contract, Scale: o.Scale,
		Currency: d.Invoice.Currency, RatePolicy: req.RatePolicy, FeeFromAmount: req.FeeFromAmount}
	bad := func(field, why string) (store.Refund, error) {
		return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{field: why}}
	}
	if req.FeeFromAmount && o.Contract != "" {
		return bad("fee_from_amount", "only for refunds in a chain's native coin; a token transfer's fee is paid in the native coin")
	}
	var rate decimal.Decimal
	switch req.RatePolicy {
	case RateOriginal:
		rate, err = parseRate(o.Rate)
		r.Rate, r.RateSource, r.RateAt = o.Rate, o.RateSource, o.RateAt
	case RateCurrent:
		if dr.quote == nil {
			return store.Refund{}, errors.New("refund at the current rate: the draft has no quote")
		}
		rate = dr.quote.Rate
		r.Rate, r.RateSource, r.RateAt = rate.String(), dr.quote.Source, dr.quote.At.UTC()
	case RateExplicit:
		rate, err = parseRate(req.Rate)
		r.Rate, r.RateSource, r.RateAt = rate.String(), "merchant", s.now()
	}
	if err != nil {
		return bad("rate", err.Error())
	}
	cur := bal.currency
	unit := req.Currency
	if unit == "" {
		unit = cur.Code
	}
	switch {
	case req.Amount == "":
		// Everything still refundable in this asset, at the chosen rate, within the
		// invoice's fiat room.
		r.AmountAtomic = new(big.Int).Set(ab.RemainingAtomic)
		if req.RatePolicy == RateOriginal {
			r.AmountFiat = minInt(ab.RemainingFiat, bal.RemainingFiat)
		} else {
			r.AmountFiat = money.FiatFromCrypto(r.AmountAtomic, o.Scale, rate, cur.Scale)
		}
	case strings.EqualFold(unit, o.Asset) && !strings.EqualFold(unit, cur.Code):
		atomic, err := money.ParseAmount(req.Amount, o.Scale)
		if err != nil {
			return bad("amount", err.Error())
		}
		r.AmountAtomic = atomic
		if req.RatePolicy == RateOriginal && atomic.Cmp(ab.RemainingAtomic) == 0 {
			r.AmountFiat = minInt(ab.RemainingFiat, bal.RemainingFiat) // a full refund books exactly what remains
		} else {
			r.AmountFiat = money.FiatFromCrypto(atomic, o.Scale, rate, cur.Scale)
		}
	case strings.EqualFold(unit, cur.Code):
		fiat, err := money.ParseAmount(req.Amount, cur.Scale)
		if err != nil {
			return bad("amount", err.Error())
		}
		r.AmountFiat = fiat
		if req.RatePolicy == RateOriginal && fiat.Cmp(ab.RemainingFiat) == 0 {
			r.AmountAtomic = new(big.Int).Set(ab.RemainingAtomic)
		} else if r.AmountAtomic, err = atomicFor(fiat, cur.Scale, rate, o.Scale); err != nil {
			return bad("amount", err.Error())
		}
	default:
		return bad("currency", fmt.Sprintf("must be the invoice's currency %s or the asset %s", cur.Code, o.Asset))
	}
	if r.AmountAtomic == nil || r.AmountFiat == nil {
		return bad("rate", "the amount cannot be converted at this rate")
	}
	if r.AmountAtomic.Sign() <= 0 {
		if ab.RemainingAtomic.Sign() <= 0 {
			return store.Refund{}, &ExceedsError{Balance: bal, Asset: ab}
		}
		return bad("amount", "must be positive")
	}
	if r.AmountAtomic.Cmp(ab.RemainingAtomic) > 0 || r.AmountFiat.Cmp(bal.RemainingFiat) > 0 {
		return store.Refund{}, &ExceedsError{Balance: bal, Asset: ab, AskedAtomic: r.AmountAtomic, AskedFiat: r.AmountFiat}
	}
	return r, nil
}

// ExceedsError refuses a refund larger than what the invoice can still refund; its
// message names the remaining refundable amount exactly.
type ExceedsError struct {
	Balance     Refundable
	Asset       AssetBalance
	AskedAtomic *big.Int // nil when nothing is left at all
	AskedFiat   *big.Int
}

func (e *ExceedsError) Error() string {
	b, a := e.Balance, e.Asset
	left := fmt.Sprintf("%s %s (%s %s)", money.FormatAmount(b.RemainingFiat, b.currency.Scale), b.currency.Code,
		money.FormatAmount(a.RemainingAtomic, a.Option.Scale), a.Option.Asset)
	if e.AskedAtomic == nil {
		return "nothing is left to refund: the remaining refundable amount is " + left
	}
	return fmt.Sprintf("the refund of %s %s (%s %s) exceeds the remaining refundable amount of %s: received minus refunds already made or under way",
		money.FormatAmount(e.AskedFiat, b.currency.Scale), b.currency.Code, money.FormatAmount(e.AskedAtomic, a.Option.Scale), a.Option.Asset, left)
}

// Fields lets the API report the error on the amount field.
func (e *ExceedsError) Fields() map[string]string { return map[string]string{"amount": e.Error()} }

// Refundable is what an invoice received and what its refunds take, in the invoice
// currency (fiat values at the locked rates, ledger.PaymentFiat) and per asset.
type Refundable struct {
	currency      money.Asset
	ReceivedFiat  *big.Int // Σ PaymentFiat of the confirmed payments (booked applied or unapplied)
	ReservedFiat  *big.Int // Σ AmountFiat of the refunds not cancelled or failed
	RemainingFiat *big.Int // ReceivedFiat − ReservedFiat, never negative
	RefundedFiat  *big.Int // Σ AmountFiat of the completed refunds
	Assets        []AssetBalance
}

// AssetBalance is Refundable for one asset.
type AssetBalance struct {
	Option          store.PaymentOption // the option that received it (its locked rate is "original")
	ReceivedAtomic  *big.Int
	ReceivedFiat    *big.Int
	ReservedAtomic  *big.Int
	ReservedFiat    *big.Int
	RemainingAtomic *big.Int
	RemainingFiat   *big.Int
}

// Balance computes what the invoice can still refund. Received money is what the books
// hold: confirmed payments (ledger.Expect states applied and unapplied), whatever the
// invoice's status — so money paid to a cancelled or expired invoice can be refunded.
func Balance(d invoices.Details) (Refundable, error) {
	cur, ok := money.Currency(d.Invoice.Currency)
	if !ok {
		for _, o := range d.Options {
			if o.Asset == d.Invoice.Currency {
				cur, ok = money.Asset{Code: o.Asset, Scale: o.Scale, Chain: o.Chain, Contract: o.Contract}, true
			}
		}
	}
	if !ok {
		return Refundable{}, fmt.Errorf("invoice %s: currency %q unknown", d.Invoice.ID, d.Invoice.Currency)
	}
	exps, err := ledger.Expect(d)
	if err != nil {
		return Refundable{}, err
	}
	b := Refundable{currency: cur, ReceivedFiat: new(big.Int), ReservedFiat: new(big.Int), RefundedFiat: new(big.Int)}
	byAsset := map[string]*AssetBalance{}
	get := func(o store.PaymentOption) *AssetBalance {
		a, ok := byAsset[o.Asset]
		if !ok {
			a = &AssetBalance{Option: o, ReceivedAtomic: new(big.Int), ReceivedFiat: new(big.Int),
				ReservedAtomic: new(big.Int), ReservedFiat: new(big.Int)}
			byAsset[o.Asset] = a
		}
		return a
	}
	var order []string
	for _, e := range exps {
		if e.State == store.BookNone {
			continue
		}
		if _, seen := byAsset[e.Option.Asset]; !seen {
			order = append(order, e.Option.Asset)
		}
		a := get(e.Option)
		a.ReceivedAtomic.Add(a.ReceivedAtomic, e.Payment.Amount)
		a.ReceivedFiat.Add(a.ReceivedFiat, e.Amount)
		b.ReceivedFiat.Add(b.ReceivedFiat, e.Amount)
	}
	for _, r := range d.Refunds {
		if r.Status == store.RefundCompleted {
			b.RefundedFiat.Add(b.RefundedFiat, r.AmountFiat)
		}
		if !Reserves(r.Status) {
			continue
		}
		b.ReservedFiat.Add(b.ReservedFiat, r.AmountFiat)
		a, ok := byAsset[r.Asset]
		if !ok { // a refund of an asset whose payments left the chain meanwhile
			order = append(order, r.Asset)
			a = get(store.PaymentOption{Asset: r.Asset, Chain: r.Chain, Network: r.Network, Contract: r.Contract,
				Scale: r.Scale, Rate: r.Rate, RateSource: r.RateSource, RateAt: r.RateAt})
		}
		a.ReservedAtomic.Add(a.ReservedAtomic, r.AmountAtomic)
		a.ReservedFiat.Add(a.ReservedFiat, r.AmountFiat)
	}
	b.RemainingFiat = nonNegative(new(big.Int).Sub(b.ReceivedFiat, b.ReservedFiat))
	for _, code := range order {
		a := byAsset[code]
		a.RemainingAtomic = nonNegative(new(big.Int).Sub(a.ReceivedAtomic, a.ReservedAtomic))
		a.RemainingFiat = nonNegative(new(big.Int).Sub(a.ReceivedFiat, a.ReservedFiat))
		b.Assets = append(b.Assets, *a)
	}
	return b, nil
}

// Currency is the invoice currency the fiat amounts are in.
func (b Refundable) Currency() money.Asset { return b.currency }

// pick chooses the asset a refund is paid in.
func (b Refundable) pick(asset string) (AssetBalance, error) {
	received := func() []string {
		var out []string
		for _, a := range b.Assets {
			if a.ReceivedAtomic.Sign() > 0 {
				out = append(out, a.Option.Asset)
			}
		}
		return out
	}
	if asset == "" {
		got := received()
		switch len(got) {
		case 0:
			return AssetBalance{}, &invoices.StateError{Err: errors.New("the invoice has received no confirmed payment, so there is nothing to refund")}
		case 1:
			asset = got[0]
		default:
			return AssetBalance{}, &invoices.ValidationError{Fields: map[string]string{"asset": "the invoice was paid in " + strings.Join(got, " and ") + ": name the asset to refund"}}
		}
	}
	for _, a := range b.Assets {
		if strings.EqualFold(a.Option.Asset, asset) && a.ReceivedAtomic.Sign() > 0 {
			return a, nil
		}
	}
	return AssetBalance{}, &invoices.ValidationError{Fields: map[string]string{"asset": fmt.Sprintf("the invoice received no confirmed payment in %q", asset)}}
}

// atomicFor is the smallest asset amount worth at least fiat at rate, exactly (no
// rounding in the customer's disfavour): money.CryptoDue, the rule of invoice quotes.
func atomicFor(fiat *big.Int, fiatScale int32, rate decimal.Decimal, scale int32) (*big.Int, error) {
	if fiat.Sign() <= 0 {
		return nil, errors.New("must be positive")
	}
	a, _, err := money.CryptoDue(fiat, fiatScale, rate, scale)
	return a, err
}

func parseRate(s string) (decimal.Decimal, error) {
	if s == "" || len(s) > 60 || strings.ContainsAny(s, "eE+-_ ") {
		return decimal.Decimal{}, errors.New("must be a positive plain decimal, e.g. \"60000.00\"")
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.Sign() <= 0 {
		return decimal.Decimal{}, errors.New("must be a positive plain decimal, e.g. \"60000.00\"")
	}
	return d, nil
}

func minInt(a, b *big.Int) *big.Int {
	if a.Cmp(b) <= 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}

func nonNegative(v *big.Int) *big.Int {
	if v.Sign() < 0 {
		return v.SetInt64(0)
	}
	return v
}

func whereOf(r store.Refund) Where {
	return Where{Chain: r.Chain, Network: r.Network, Contract: r.Contract}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// ClaimURL is the refund page where the customer gives the destination.
func (s *Service) ClaimURL(id string) string { return s.cfg.PublicURL + "/r/" + id }

// appendEvents stores the refund's events (invoice events, so webhooks deliver them with
// the invoice snapshot); their data is the refund as the API shows it.
func (s *Service) appendEvents(ctx context.Context, tx store.Tx, r store.Refund, types []string, now time.Time) error {
	data, err := json.Marshal(s.View(r))
	if err != nil {
		return err
	}
	for i, typ := range types {
		at := now.Add(time.Duration(i) * time.Microsecond)
		if err := tx.AppendEvent(ctx, store.Event{ID: store.NewID("evt", at), MerchantID: r.MerchantID, InvoiceID: r.InvoiceID,
			Type: typ, Data: string(data), CreatedAt: at}); err != nil {
			return fmt.Errorf("append event %s: %w", typ, err)
		}
	}
	return nil
}
