package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Sentinel errors. Sinks wrap them so the relay can tell a record that must wait for a human
// (ErrConflict, ErrInvalid: parked) from a transient failure (anything else: retried).
var (
	// ErrConflict means a record with the same idempotency key but a different payload
	// already exists in the sink. It is never resolved by overwriting.
	ErrConflict = errors.New("ledger: idempotency key already used with a different payload")
	// ErrInvalid means the record is malformed or the sink rejected it as such.
	ErrInvalid = errors.New("ledger: invalid record")
	// ErrNotFound means no record has the idempotency key.
	ErrNotFound = errors.New("ledger: record not found")
)

// Source types: what produced the money movement.
const (
	SourceCryptoPayment = "crypto_payment"
	SourceCardCharge    = "card_charge"
	// SourceCryptoRefund is money a merchant's wallet sent back to a customer (issue 25).
	SourceCryptoRefund = "crypto_refund"
)

// Reporting categories, named like a card processor's (Stripe's reporting_category).
const (
	CategoryCharge         = "charge"
	CategoryRefund         = "refund"
	CategoryChargeReversal = "charge_reversal"
	CategoryFee            = "fee"
	// CategoryUnappliedReceipt books confirmed money that reached the merchant on an invoice
	// that does not (or not yet) accept it: to the suspense account, not to revenue.
	CategoryUnappliedReceipt = "unapplied_receipt"
	// CategoryUnappliedCleared takes an unapplied receipt out of suspense (the money was
	// applied to the invoice, refunded, or left the chain).
	CategoryUnappliedCleared = "unapplied_receipt_cleared"
	// CategoryRefundReversal undoes a refund record whose transaction left the chain.
	CategoryRefundReversal = "refund_reversal"
)

// Posting directions.
const (
	Debit  = store.Debit
	Credit = store.Credit
)

// Record is one settlement record, shaped like a card processor's balance transaction
// (DESIGN §6). Money is exact: Gross, Fee and Net are signed integers in the minor units of
// Currency (negative for refunds and reversals) with Net = Gross − Fee. Records are values:
// build one, Validate it, Encode it; a record once enqueued is frozen in its payload.
type Record struct {
	IdempotencyKey    string
	MerchantID        string
	SourceType        string // SourceCryptoPayment, SourceCardCharge, ...
	SourceID          string // payment id, card processor source id
	ReportingCategory string // CategoryCharge, CategoryRefund, ...
	Description       string

	Currency   string // settlement currency: ISO 4217, or the Original asset's code for crypto-priced invoices
	Gross      *big.Int
	Fee        *big.Int
	Net        *big.Int
	FeeDetails []FeeDetail

	Original     *Original      // the money actually received (crypto); nil for card rows
	ExchangeRate *ExchangeRate  // Currency per whole Original unit; required with Original
	FairValue    *FairValue     // market value at receipt, for accounting; optional
	OccurredAt   time.Time      // when the money moved (settlement, reversal, card balance transaction)
	Chain        *ChainEvidence // where the crypto moved; required for crypto_payment
	Postings     []Posting      // balanced per asset
	Metadata     map[string]string
	Reverses     string // the idempotency key of the record this one reverses, if any
}

// FeeDetail is one component of Record.Fee, in the record's currency.
type FeeDetail struct {
	Type        string // "processing_fee", "stripe_fee", "tax", ...
	Amount      *big.Int
	Description string
}

// Original is the money as received: an atomic amount of a crypto asset.
type Original struct {
	Asset  string // money.Asset string form, e.g. "BTC/8@bitcoin"
	Amount *big.Int
	Scale  int32
}

// ExchangeRate is the rate that converted Original into the settlement currency: the price
// of one whole Original unit in Currency, as an exact decimal string.
type ExchangeRate struct {
	Rate   string
	Source string
	At     time.Time
}

// FairValue is the market rate when the payment was received and the resulting amount in
// minor units of the record's currency (finance books gains and losses against it).
type FairValue struct {
	Rate   string
	Source string
	At     time.Time
	Amount *big.Int
}

// ChainEvidence locates the on-chain transfer a record settles.
type ChainEvidence struct {
	Chain         string
	TxID          string
	OutputIndex   int64
	BlockHeight   int64
	BlockHash     string
	Confirmations int64
}

// Posting is one side of a double-entry movement: a positive Amount of Asset debited or
// credited to Account.
type Posting struct {
	Account   string
	Asset     string // money.Asset string form: "USD/2", "BTC/8@bitcoin"
	Amount    *big.Int
	Direction string // Debit or Credit
}

// Result is what a sink reports for a posted record.
type Result struct {
	IdempotencyKey string
	PayloadHash    string // hex SHA-256 of the canonical payload
	// Replayed is true when the sink already held this exact record (a retry).
	Replayed bool
}

// Limits on record fields (the metadata ones are a card processor's).
const (
	maxKeyLen         = 255
	maxTextLen        = 1000
	maxMetadataKeys   = 50
	maxMetadataKeyLen = 40
	maxMetadataValLen = 500
	maxPostings       = 64
	maxFeeDetails     = 16
)

// Validate reports, wrapping ErrInvalid, the first thing wrong with r: required identity
// fields, a known settlement currency, Net = Gross − Fee, fee details that add up to Fee,
// a crypto payment's original money, rate and chain evidence, and postings with positive
// amounts that balance per asset (debits = credits).
func (r Record) Validate() error {
	if err := r.validate(); err != nil {
		key := r.IdempotencyKey
		if len(key) > 80 {
			key = key[:80] + "..."
		}
		return fmt.Errorf("%w %q: %v", ErrInvalid, key, err)
	}
	return nil
}

func (r Record) validate() error {
	switch {
	case r.IdempotencyKey == "" || len(r.IdempotencyKey) > maxKeyLen || !printable(r.IdempotencyKey):
		return fmt.Errorf("idempotency_key must be 1 to %d printable ASCII characters", maxKeyLen)
	case r.MerchantID == "" || len(r.MerchantID) > maxKeyLen || !printable(r.MerchantID):
		return errors.New("merchant_id is required (printable ASCII)")
	case !ident(r.SourceType):
		return fmt.Errorf("source_type %q must be 1 to 64 lower-case letters, digits or '_'", r.SourceType)
	case r.SourceID == "" || len(r.SourceID) > maxKeyLen || !printable(r.SourceID):
		return errors.New("source_id is required (printable ASCII)")
	case !ident(r.ReportingCategory):
		return fmt.Errorf("reporting_category %q must be 1 to 64 lower-case letters, digits or '_'", r.ReportingCategory)
	case len(r.Description) > maxTextLen:
		return fmt.Errorf("description longer than %d bytes", maxTextLen)
	case !validTime(r.OccurredAt):
		return errors.New("occurred_at is required (years 1 to 9999)")
	case len(r.Reverses) > maxKeyLen:
		return errors.New("reverses is too long")
	}
	if _, err := r.currencyAsset(); err != nil {
		return err
	}
	for _, a := range []struct {
		name string
		v    *big.Int
	}{{"gross", r.Gross}, {"fee", r.Fee}, {"net", r.Net}} {
		if err := checkAmount(a.name, a.v); err != nil {
			return err
		}
	}
	if want := new(big.Int).Sub(r.Gross, r.Fee); want.Cmp(r.Net) != 0 {
		return fmt.Errorf("net %s is not gross %s minus fee %s (%s)", r.Net, r.Gross, r.Fee, want)
	}
	if len(r.FeeDetails) > maxFeeDetails {
		return fmt.Errorf("more than %d fee_details", maxFeeDetails)
	}
	if len(r.FeeDetails) > 0 {
		sum := new(big.Int)
		for i, f := range r.FeeDetails {
			if !ident(f.Type) {
				return fmt.Errorf("fee_details[%d].type %q must be lower-case letters, digits or '_'", i, f.Type)
			}
			if err := checkAmount(fmt.Sprintf("fee_details[%d].amount", i), f.Amount); err != nil {
				return err
			}
			if len(f.Description) > maxTextLen {
				return fmt.Errorf("fee_details[%d].description too long", i)
			}
			sum.Add(sum, f.Amount)
		}
		if sum.Cmp(r.Fee) != 0 {
			return fmt.Errorf("fee_details add up to %s, fee is %s", sum, r.Fee)
		}
	}
	if err := r.validateOriginal(); err != nil {
		return err
	}
	if r.FairValue != nil {
		if err := checkRate("fair_value.rate", r.FairValue.Rate); err != nil {
			return err
		}
		if !validTime(r.FairValue.At) || len(r.FairValue.Source) > maxTextLen {
			return errors.New("fair_value needs a time and a short source")
		}
		if err := checkAmount("fair_value.amount", r.FairValue.Amount); err != nil {
			return err
		}
	}
	if c := r.Chain; c != nil {
		switch {
		case c.Chain == "" || c.TxID == "" || len(c.TxID) > 256 || !printable(c.TxID) || !printable(c.Chain) || len(c.Chain) > 64:
			return errors.New("chain evidence needs a chain and a txid")
		case c.OutputIndex < -1 || c.BlockHeight < 0 || c.Confirmations < 0:
			// -1 is the output index of transfers that have none: native EVM value
			// transfers and balance reconciliations.
			return errors.New("chain evidence output_index must be -1 or more, block_height and confirmations not negative")
		case len(c.BlockHash) > 256 || !printable(c.BlockHash) && c.BlockHash != "":
			return errors.New("chain evidence block_hash is malformed")
		}
	}
	if r.SourceType == SourceCryptoPayment && (r.Original == nil || r.Chain == nil) {
		return errors.New("a crypto_payment record needs original and chain evidence")
	}
	if err := validatePostings(r.Postings); err != nil {
		return err
	}
	if len(r.Postings) == 0 && (r.Gross.Sign() != 0 || r.Fee.Sign() != 0) {
		return errors.New("postings are required when money moves")
	}
	if len(r.Metadata) > maxMetadataKeys {
		return fmt.Errorf("more than %d metadata keys", maxMetadataKeys)
	}
	for k, v := range r.Metadata {
		if k == "" || len(k) > maxMetadataKeyLen || len(v) > maxMetadataValLen {
			return fmt.Errorf("metadata key %q: keys are 1 to %d bytes, values at most %d", k, maxMetadataKeyLen, maxMetadataValLen)
		}
	}
	return nil
}

func (r Record) validateOriginal() error {
	o := r.Original
	if o == nil {
		if r.ExchangeRate != nil {
			if err := checkRate("exchange_rate.rate", r.ExchangeRate.Rate); err != nil {
				return err
			}
			if !validTime(r.ExchangeRate.At) {
				return errors.New("exchange_rate.at must be a time in years 1 to 9999")
			}
		}
		return nil
	}
	a, err := money.ParseAsset(o.Asset)
	if err != nil {
		return fmt.Errorf("original.asset: %v", err)
	}
	if a.Scale != o.Scale {
		return fmt.Errorf("original.scale %d differs from the asset's scale %d", o.Scale, a.Scale)
	}
	if err := checkAmount("original.amount", o.Amount); err != nil {
		return err
	}
	if r.ExchangeRate == nil {
		return errors.New("a record with original money needs exchange_rate")
	}
	if err := checkRate("exchange_rate.rate", r.ExchangeRate.Rate); err != nil {
		return err
	}
	if !validTime(r.ExchangeRate.At) || r.ExchangeRate.Source == "" || len(r.ExchangeRate.Source) > maxTextLen {
		return errors.New("exchange_rate needs a source and a time")
	}
	return nil
}

// currencyAsset resolves the settlement currency: ISO 4217, or the original asset when the
// invoice was priced in that asset.
func (r Record) currencyAsset() (money.Asset, error) {
	if c, ok := money.Currency(r.Currency); ok {
		return c, nil
	}
	if r.Original != nil {
		if a, err := money.ParseAsset(r.Original.Asset); err == nil && a.Code == r.Currency {
			return a, nil
		}
	}
	return money.Asset{}, fmt.Errorf("currency %q is neither an ISO 4217 code nor the original asset", r.Currency)
}

func validatePostings(ps []Posting) error {
	if len(ps) > maxPostings {
		return fmt.Errorf("more than %d postings", maxPostings)
	}
	sums := map[string]*big.Int{}
	for i, p := range ps {
		if !account(p.Account) {
			return fmt.Errorf("postings[%d].account %q must be 1 to 256 of A-Z a-z 0-9 : _ . - @ /", i, p.Account)
		}
		if _, err := money.ParseAsset(p.Asset); err != nil {
			return fmt.Errorf("postings[%d].asset: %v", i, err)
		}
		if err := checkAmount(fmt.Sprintf("postings[%d].amount", i), p.Amount); err != nil {
			return err
		}
		if p.Amount.Sign() <= 0 {
			return fmt.Errorf("postings[%d].amount %s must be positive", i, p.Amount)
		}
		s := sums[p.Asset]
		if s == nil {
			s = new(big.Int)
			sums[p.Asset] = s
		}
		switch p.Direction {
		case Debit:
			s.Add(s, p.Amount)
		case Credit:
			s.Sub(s, p.Amount)
		default:
			return fmt.Errorf("postings[%d].direction %q must be debit or credit", i, p.Direction)
		}
	}
	assets := make([]string, 0, len(sums))
	for a := range sums {
		assets = append(assets, a)
	}
	sort.Strings(assets)
	for _, a := range assets {
		if sums[a].Sign() != 0 {
			return fmt.Errorf("postings in %s do not balance: debits − credits = %s", a, sums[a])
		}
	}
	return nil
}

func checkAmount(name string, v *big.Int) error {
	if v == nil {
		return fmt.Errorf("%s is required", name)
	}
	if v.BitLen() > 260 || len(new(big.Int).Abs(v).String()) > money.MaxDigits {
		return fmt.Errorf("%s has more than %d digits", name, money.MaxDigits)
	}
	return nil
}

func checkRate(name, s string) error {
	d, err := parseRate(s)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if d.Sign() <= 0 {
		return fmt.Errorf("%s %q must be positive", name, s)
	}
	return nil
}

// parseRate parses a plain decimal string (no exponent, no sign, at most 100 characters).
func parseRate(s string) (decimal.Decimal, error) {
	if s == "" || len(s) > 100 || strings.ContainsAny(s, "eE+- _") {
		return decimal.Decimal{}, fmt.Errorf("rate %q must be a plain decimal string", truncate(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("rate %q must be a plain decimal string", truncate(s))
	}
	return d, nil
}

// validTime reports whether t is set and its UTC year has four digits (what RFC 3339 can
// carry).
func validTime(t time.Time) bool {
	y := t.UTC().Year()
	return !t.IsZero() && y >= 1 && y <= 9999
}

func ident(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func account(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":_.-@/", c) >= 0) {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// --- canonical JSON

type wireRecord struct {
	IdempotencyKey    string            `json:"idempotency_key"`
	MerchantID        string            `json:"merchant_id"`
	SourceType        string            `json:"source_type"`
	SourceID          string            `json:"source_id"`
	ReportingCategory string            `json:"reporting_category"`
	Description       string            `json:"description,omitempty"`
	Currency          string            `json:"currency"`
	Gross             string            `json:"gross"`
	Fee               string            `json:"fee"`
	Net               string            `json:"net"`
	FeeDetails        []wireFee         `json:"fee_details"`
	Original          *wireOriginal     `json:"original,omitempty"`
	ExchangeRate      *wireRate         `json:"exchange_rate,omitempty"`
	FairValue         *wireFair         `json:"fair_value,omitempty"`
	OccurredAt        string            `json:"occurred_at"`
	Chain             *wireChain        `json:"chain,omitempty"`
	Postings          []wirePosting     `json:"postings"`
	Metadata          map[string]string `json:"metadata"`
	Reverses          string            `json:"reverses,omitempty"`
}

type wireFee struct {
	Type        string `json:"type"`
	Amount      string `json:"amount"`
	Description string `json:"description,omitempty"`
}

type wireOriginal struct {
	Asset  string `json:"asset"`
	Amount string `json:"amount"`
	Scale  int32  `json:"scale"`
}

type wireRate struct {
	Rate   string `json:"rate"`
	Source string `json:"source"`
	At     string `json:"at"`
}

type wireFair struct {
	Rate   string `json:"rate"`
	Source string `json:"source"`
	At     string `json:"at"`
	Amount string `json:"amount"`
}

type wireChain struct {
	Chain         string `json:"chain"`
	TxID          string `json:"txid"`
	OutputIndex   int64  `json:"output_index"`
	BlockHeight   int64  `json:"block_height"`
	BlockHash     string `json:"block_hash,omitempty"`
	Confirmations int64  `json:"confirmations"`
}

type wirePosting struct {
	Account   string `json:"account"`
	Asset     string `json:"asset"`
	Amount    string `json:"amount"`
	Direction string `json:"direction"`
}

// timeFormat is how record times are written: UTC, microseconds (what the databases keep).
const timeFormat = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeFormat) }

func (r Record) wire() wireRecord {
	w := wireRecord{
		IdempotencyKey: r.IdempotencyKey, MerchantID: r.MerchantID, SourceType: r.SourceType,
		SourceID: r.SourceID, ReportingCategory: r.ReportingCategory, Description: r.Description,
		Currency: r.Currency, Gross: r.Gross.String(), Fee: r.Fee.String(), Net: r.Net.String(),
		FeeDetails: []wireFee{}, OccurredAt: fmtTime(r.OccurredAt), Postings: []wirePosting{},
		Metadata: map[string]string{}, Reverses: r.Reverses,
	}
	for _, f := range r.FeeDetails {
		w.FeeDetails = append(w.FeeDetails, wireFee{Type: f.Type, Amount: f.Amount.String(), Description: f.Description})
	}
	if o := r.Original; o != nil {
		w.Original = &wireOriginal{Asset: o.Asset, Amount: o.Amount.String(), Scale: o.Scale}
	}
	if x := r.ExchangeRate; x != nil {
		w.ExchangeRate = &wireRate{Rate: x.Rate, Source: x.Source, At: fmtTime(x.At)}
	}
	if f := r.FairValue; f != nil {
		w.FairValue = &wireFair{Rate: f.Rate, Source: f.Source, At: fmtTime(f.At), Amount: f.Amount.String()}
	}
	if c := r.Chain; c != nil {
		w.Chain = &wireChain{Chain: c.Chain, TxID: c.TxID, OutputIndex: c.OutputIndex, BlockHeight: c.BlockHeight,
			BlockHash: c.BlockHash, Confirmations: c.Confirmations}
	}
	for _, p := range r.Postings {
		w.Postings = append(w.Postings, wirePosting{Account: p.Account, Asset: p.Asset, Amount: p.Amount.String(), Direction: p.Direction})
	}
	for k, v := range r.Metadata {
		w.Metadata[k] = v
	}
	return w
}

// Encode validates r and returns its canonical JSON: object keys sorted, no insignificant
// whitespace, every amount a decimal integer string (minor or atomic units), times in UTC
// with microseconds. Equal records encode to equal bytes, so the encoding is what sinks
// hash and compare.
func (r Record) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(r.wire())
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return canonicalJSON(raw)
}

// canonicalJSON re-encodes a JSON document with sorted keys, compact, without HTML escaping.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Hash returns the hex SHA-256 of r's canonical encoding.
func (r Record) Hash() (string, error) {
	b, err := r.Encode()
	if err != nil {
		return "", err
	}
	return PayloadHash(b), nil
}

// PayloadHash returns the hex SHA-256 of an encoded record.
func PayloadHash(payload []byte) string {
	s := sha256.Sum256(payload)
	return hex.EncodeToString(s[:])
}

// maxPayload bounds a record's encoded size.
const maxPayload = 1 << 20

// ParseRecord decodes a record from JSON (canonical or not), rejecting unknown fields,
// malformed amounts and times, and trailing data, and validates it. Errors wrap ErrInvalid.
func ParseRecord(data []byte) (Record, error) {
	if len(data) > maxPayload {
		return Record{}, fmt.Errorf("%w: record larger than %d bytes", ErrInvalid, maxPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireRecord
	if err := dec.Decode(&w); err != nil {
		return Record{}, fmt.Errorf("%w: decode: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: trailing data after the record", ErrInvalid)
	}
	r, err := fromWire(w)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return r, r.Validate()
}

func fromWire(w wireRecord) (Record, error) {
	r := Record{
		IdempotencyKey: w.IdempotencyKey, MerchantID: w.MerchantID, SourceType: w.SourceType, SourceID: w.SourceID,
		ReportingCategory: w.ReportingCategory, Description: w.Description, Currency: w.Currency, Reverses: w.Reverses,
	}
	var err error
	p := func(name, s string) *big.Int {
		if err != nil {
			return nil
		}
		var v *big.Int
		v, err = parseInt(name, s)
		return v
	}
	t := func(name, s string) time.Time {
		if err != nil {
			return time.Time{}
		}
		var v time.Time
		v, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			err = fmt.Errorf("%s %q is not an RFC 3339 time", name, truncate(s))
		}
		return v.UTC()
	}
	r.Gross, r.Fee, r.Net = p("gross", w.Gross), p("fee", w.Fee), p("net", w.Net)
	r.OccurredAt = t("occurred_at", w.OccurredAt)
	for i, f := range w.FeeDetails {
		r.FeeDetails = append(r.FeeDetails, FeeDetail{Type: f.Type, Amount: p(fmt.Sprintf("fee_details[%d].amount", i), f.Amount), Description: f.Description})
	}
	if o := w.Original; o != nil {
		r.Original = &Original{Asset: o.Asset, Amount: p("original.amount", o.Amount), Scale: o.Scale}
	}
	if x := w.ExchangeRate; x != nil {
		r.ExchangeRate = &ExchangeRate{Rate: x.Rate, Source: x.Source, At: t("exchange_rate.at", x.At)}
	}
	if f := w.FairValue; f != nil {
		r.FairValue = &FairValue{Rate: f.Rate, Source: f.Source, At: t("fair_value.at", f.At), Amount: p("fair_value.amount", f.Amount)}
	}
	if c := w.Chain; c != nil {
		r.Chain = &ChainEvidence{Chain: c.Chain, TxID: c.TxID, OutputIndex: c.OutputIndex, BlockHeight: c.BlockHeight,
			BlockHash: c.BlockHash, Confirmations: c.Confirmations}
	}
	for i, q := range w.Postings {
		r.Postings = append(r.Postings, Posting{Account: q.Account, Asset: q.Asset, Amount: p(fmt.Sprintf("postings[%d].amount", i), q.Amount), Direction: q.Direction})
	}
	if len(w.Metadata) > 0 {
		r.Metadata = w.Metadata
	}
	return r, err
}

// parseInt parses a canonical signed decimal integer: "0", or an optional '-' and digits
// without a leading zero, at most money.MaxDigits of them.
func parseInt(name, s string) (*big.Int, error) {
	digits := strings.TrimPrefix(s, "-")
	ok := digits != "" && len(digits) <= money.MaxDigits && (digits == "0" && s == "0" || digits[0] != '0')
	for i := 0; ok && i < len(digits); i++ {
		ok = digits[i] >= '0' && digits[i] <= '9'
	}
	if !ok {
		return nil, fmt.Errorf("%s %q must be an integer string in minor or atomic units", name, truncate(s))
	}
	v, _ := new(big.Int).SetString(s, 10)
	return v, nil
}
