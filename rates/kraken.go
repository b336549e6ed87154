package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// KrakenBaseURL is the public Kraken REST API the Kraken source talks to.
const KrakenBaseURL = "https://api.kraken.com"

// Kraken is a Source for Kraken's public Ticker,
// GET /0/public/Ticker?pair=XBTUSD, answering
// {"error":[],"result":{"XXBTZUSD":{"c":["67187.30000","0.0015"],...}}}.
// Kraken reports errors inside the body with HTTP 200
// ({"error":["EQuery:Unknown asset pair"]}). Kraken calls bitcoin XBT (and
// dogecoin XDG), and keys its answer by the legacy pair name (XXBTZUSD,
// XETHZUSD, USDTZUSD) or the plain one (USDCUSD); Kraken maps both. The
// rate is "c"[0], the last trade price. The answer has no timestamp, so
// Quote.At is the time the answer arrived.
type Kraken struct{ http httpSource }

var (
	_ Source        = (*Kraken)(nil)
	_ PairSupporter = (*Kraken)(nil)
)

// NewKraken returns a Kraken source. It fails only on an invalid cfg.
func NewKraken(cfg HTTPConfig) (*Kraken, error) {
	h, err := newHTTPSource("kraken", KrakenBaseURL, cfg)
	if err != nil {
		return nil, err
	}
	return &Kraken{http: h}, nil
}

// Name returns "kraken".
func (k *Kraken) Name() string { return k.http.name }

// Supports reports whether p is well formed; Kraken itself decides whether
// the market exists.
func (k *Kraken) Supports(p Pair) bool { return p.Validate() == nil }

// krakenAsset maps a common ticker to Kraken's asset code.
func krakenAsset(code string) string {
	switch code {
	case "BTC":
		return "XBT"
	case "DOGE":
		return "XDG"
	}
	return code
}

// krakenPairName returns the pair name sent in the request, e.g. "XBTUSD".
func krakenPairName(p Pair) string { return krakenAsset(p.Base) + krakenAsset(p.Quote) }

// krakenResultKeys returns the keys under which Kraken may answer for p:
// the plain name (XBTUSD, USDCUSD) and the legacy X/Z-prefixed forms
// (XXBTZUSD, XETHZUSD, USDTZUSD).
func krakenResultKeys(p Pair) []string {
	b, q := krakenAsset(p.Base), krakenAsset(p.Quote)
	var keys []string
	for _, bb := range []string{b, "X" + b} {
		for _, qq := range []string{q, "Z" + q} {
			keys = append(keys, bb+qq)
		}
	}
	return keys
}

// Fetch asks Kraken for the last trade price of p.
func (k *Kraken) Fetch(ctx context.Context, p Pair) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, fmt.Errorf("kraken: %w: %w", ErrUnsupportedPair, err)
	}
	r, err := k.http.get(ctx, "/0/public/Ticker", url.Values{"pair": {krakenPairName(p)}})
	if err != nil {
		return Quote{}, err
	}
	rate, err := parseKraken(r.status, r.body, p)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Pair: p, Rate: rate, Source: k.Name(), At: r.at}, nil
}

type krakenBody struct {
	Error  []string `json:"error"`
	Result map[string]struct {
		C []string `json:"c"`
	} `json:"result"`
}

// parseKraken turns a Kraken Ticker answer (status and body) into a rate.
func parseKraken(status int, body []byte, p Pair) (decimal.Decimal, error) {
	const src = "kraken"
	r := response{status: status, body: body}
	if err := checkBody(src, r); err != nil {
		return decimal.Decimal{}, err
	}
	var b krakenBody
	if err := json.Unmarshal(body, &b); err != nil {
		if status/100 != 2 {
			return decimal.Decimal{}, statusError(src, r)
		}
		return decimal.Decimal{}, badResponse(src, "decode ticker: %v", err)
	}
	// Kraken messages are "<severity><category>:<text>"; severity E is an
	// error, W a warning that does not invalidate the result.
	var errs []string
	for _, e := range b.Error {
		if strings.HasPrefix(e, "E") {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		msg := truncate(strings.Join(errs, "; "), 200)
		switch {
		// "EGeneral:Too many requests" is the public endpoints' throttle;
		// "EAPI:Rate limit exceeded" the API counter's.
		case slices.ContainsFunc(errs, func(e string) bool {
			return strings.HasPrefix(e, "EAPI:Rate limit") || strings.HasPrefix(e, "EGeneral:Too many requests")
		}):
			return decimal.Decimal{}, &RateLimitError{Source: src, Message: msg}
		case slices.ContainsFunc(errs, func(e string) bool {
			return strings.HasPrefix(e, "EQuery:Unknown asset pair") || strings.HasPrefix(e, "EQuery:Unknown asset")
		}):
			return decimal.Decimal{}, &ProviderError{Source: src, Status: status, Message: msg, Kind: ErrUnsupportedPair}
		default:
			return decimal.Decimal{}, &ProviderError{Source: src, Status: status, Message: msg, Kind: ErrBadResponse}
		}
	}
	if status/100 != 2 {
		return decimal.Decimal{}, statusError(src, r)
	}
	if len(b.Result) == 0 {
		return decimal.Decimal{}, badResponse(src, "ticker has no result for %s", krakenPairName(p))
	}
	var c []string
	found := false
	for _, key := range krakenResultKeys(p) {
		if t, ok := b.Result[key]; ok {
			c, found = t.C, true
			break
		}
	}
	if !found {
		keys := make([]string, 0, len(b.Result))
		for key := range b.Result {
			keys = append(keys, truncate(key, 20))
		}
		slices.Sort(keys)
		return decimal.Decimal{}, badResponse(src, "ticker has no entry for %s (got %s)",
			krakenPairName(p), truncate(strings.Join(keys, ","), 100))
	}
	if len(c) < 1 {
		return decimal.Decimal{}, badResponse(src, "ticker entry for %s has no last trade \"c\"", krakenPairName(p))
	}
	rate, err := parsePriceString(c[0])
	if err != nil {
		return decimal.Decimal{}, badResponse(src, "last trade price: %v", err)
	}
	return rate, nil
}
