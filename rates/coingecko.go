package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// CoinGeckoBaseURL is the public CoinGecko API the CoinGecko source talks to.
const CoinGeckoBaseURL = "https://api.coingecko.com"

// DefaultCoinGeckoIDs maps tickers to CoinGecko coin ids. NewCoinGecko
// copies it; it is never modified.
func DefaultCoinGeckoIDs() map[string]string {
	return map[string]string{
		"BTC":  "bitcoin",
		"ETH":  "ethereum",
		"USDC": "usd-coin",
		"USDT": "tether",
	}
}

// CoinGeckoConfig configures the CoinGecko source.
type CoinGeckoConfig struct {
	HTTPConfig
	// IDs maps a ticker (Pair.Base) to a CoinGecko coin id. Nil means
	// DefaultCoinGeckoIDs. Pairs whose base is not here are unsupported.
	IDs map[string]string
	// APIKey, when set, is sent in APIKeyHeader.
	APIKey string
	// APIKeyHeader defaults to "x-cg-demo-api-key" (the public API's demo
	// keys); the paid API uses "x-cg-pro-api-key" with another BaseURL.
	APIKeyHeader string
}

// CoinGecko is a Source for CoinGecko's simple price,
// GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true&precision=full,
// answering {"bitcoin":{"usd":67187.33,"last_updated_at":1711356300}}. The
// prices are JSON NUMBERS: they are decoded with json.Decoder.UseNumber and
// the literal is parsed exactly into a decimal, never through float64.
// Quote.At is last_updated_at. An unknown id or currency is answered with an
// empty object; errors come as {"status":{"error_code":..,"error_message":..}}
// or {"error":"..."}.
type CoinGecko struct {
	http httpSource
	ids  map[string]string
}

var (
	_ Source        = (*CoinGecko)(nil)
	_ PairSupporter = (*CoinGecko)(nil)
)

// NewCoinGecko returns a CoinGecko source. It fails on an invalid cfg.
func NewCoinGecko(cfg CoinGeckoConfig) (*CoinGecko, error) {
	h, err := newHTTPSource("coingecko", CoinGeckoBaseURL, cfg.HTTPConfig)
	if err != nil {
		return nil, err
	}
	ids := cfg.IDs
	if ids == nil {
		ids = DefaultCoinGeckoIDs()
	}
	for tick, id := range ids {
		if validCode(tick) != nil || id == "" {
			return nil, fmt.Errorf("coingecko: id mapping %q -> %q: want an upper-case ticker and a non-empty id", tick, id)
		}
	}
	if cfg.APIKey != "" {
		name := cfg.APIKeyHeader
		if name == "" {
			name = "x-cg-demo-api-key"
		}
		h.header = http.Header{}
		h.header.Set(name, cfg.APIKey)
	}
	return &CoinGecko{http: h, ids: maps.Clone(ids)}, nil
}

// Name returns "coingecko".
func (c *CoinGecko) Name() string { return c.http.name }

// Supports reports whether p's base has a configured CoinGecko id.
func (c *CoinGecko) Supports(p Pair) bool {
	_, ok := c.ids[p.Base]
	return ok && p.Validate() == nil
}

// Fetch asks CoinGecko for the price of p.
func (c *CoinGecko) Fetch(ctx context.Context, p Pair) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, fmt.Errorf("coingecko: %w: %w", ErrUnsupportedPair, err)
	}
	id, ok := c.ids[p.Base]
	if !ok {
		return Quote{}, fmt.Errorf("coingecko: no coin id configured for %s: %w", p.Base, ErrUnsupportedPair)
	}
	vs := strings.ToLower(p.Quote)
	r, err := c.http.get(ctx, "/api/v3/simple/price", url.Values{
		"ids":                     {id},
		"vs_currencies":           {vs},
		"include_last_updated_at": {"true"},
		"precision":               {"full"},
	})
	if err != nil {
		return Quote{}, err
	}
	rate, at, err := parseCoinGecko(r.status, r.body, id, vs)
	if err != nil {
		return Quote{}, err
	}
	if at.IsZero() {
		at = r.at
	}
	return Quote{Pair: p, Rate: rate, Source: c.Name(), At: at}, nil
}

// decodeNumbers decodes one JSON value from b with UseNumber and rejects
// trailing data.
func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// parseCoinGecko turns a CoinGecko simple-price answer for coin id and
// lower-case currency vs into a rate and the provider's time (zero if
// absent).
func parseCoinGecko(status int, body []byte, id, vs string) (decimal.Decimal, time.Time, error) {
	const src = "coingecko"
	r := response{status: status, body: body}
	if err := checkBody(src, r); err != nil {
		return decimal.Decimal{}, time.Time{}, err
	}
	var top map[string]json.RawMessage
	if err := decodeNumbers(body, &top); err != nil {
		if status/100 != 2 {
			return decimal.Decimal{}, time.Time{}, statusError(src, r)
		}
		return decimal.Decimal{}, time.Time{}, badResponse(src, "decode simple price: %v", err)
	}
	if raw, ok := top["status"]; ok {
		var st struct {
			ErrorCode    json.Number `json:"error_code"`
			ErrorMessage string      `json:"error_message"`
		}
		_ = decodeNumbers(raw, &st) // best effort: the status code says enough
		if st.ErrorCode.String() == "429" {
			return decimal.Decimal{}, time.Time{}, &RateLimitError{Source: src, Message: truncate(st.ErrorMessage, 200)}
		}
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Code: truncate(st.ErrorCode.String(), 20), Message: truncate(st.ErrorMessage, 200), Kind: ErrBadResponse}
	}
	if raw, ok := top["error"]; ok {
		var msg string
		if json.Unmarshal(raw, &msg) != nil {
			msg = string(raw)
		}
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Message: truncate(msg, 200), Kind: ErrBadResponse}
	}
	if status/100 != 2 {
		return decimal.Decimal{}, time.Time{}, statusError(src, r)
	}
	raw, ok := top[id]
	if !ok {
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Message: fmt.Sprintf("no price for coin id %q", id), Kind: ErrUnsupportedPair}
	}
	var coin map[string]any
	if err := decodeNumbers(raw, &coin); err != nil || coin == nil {
		return decimal.Decimal{}, time.Time{}, badResponse(src, "entry for %q is not an object", id)
	}
	v, ok := coin[vs]
	if !ok {
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Message: fmt.Sprintf("no %q price for coin id %q", vs, id), Kind: ErrUnsupportedPair}
	}
	num, ok := v.(json.Number)
	if !ok {
		return decimal.Decimal{}, time.Time{}, badResponse(src, "%s.%s is %T, want a number", id, vs, v)
	}
	rate, err := parsePriceNumber(num.String())
	if err != nil {
		return decimal.Decimal{}, time.Time{}, badResponse(src, "%s.%s: %v", id, vs, err)
	}
	var at time.Time
	if lu, ok := coin["last_updated_at"]; ok && lu != nil {
		n, ok := lu.(json.Number)
		if !ok {
			return decimal.Decimal{}, time.Time{}, badResponse(src, "%s.last_updated_at is %T, want a number", id, lu)
		}
		at, err = parseUnixSeconds(n.String())
		if err != nil {
			return decimal.Decimal{}, time.Time{}, badResponse(src, "%s.last_updated_at: %v", id, err)
		}
	}
	return rate, at, nil
}
