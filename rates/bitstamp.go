package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// BitstampBaseURL is the public Bitstamp API the Bitstamp source talks to.
const BitstampBaseURL = "https://www.bitstamp.net"

// Bitstamp is a Source for the Bitstamp ticker,
// GET /api/v2/ticker/{base}{quote}/ (lower case, e.g. btcusd), answering
// {"timestamp":"1711356300","last":"67187","bid":...,"ask":...,...} with
// strings for every number. The rate is "last"; Quote.At is "timestamp".
// Errors come as {"status":"error","reason":...,"code":...} or as
// {"response_code":"400.002","response_explanation":...} (400.002 is its
// rate limit), and an unknown market is a 404.
type Bitstamp struct{ http httpSource }

var (
	_ Source        = (*Bitstamp)(nil)
	_ PairSupporter = (*Bitstamp)(nil)
)

// NewBitstamp returns a Bitstamp source. It fails only on an invalid cfg.
func NewBitstamp(cfg HTTPConfig) (*Bitstamp, error) {
	h, err := newHTTPSource("bitstamp", BitstampBaseURL, cfg)
	if err != nil {
		return nil, err
	}
	return &Bitstamp{http: h}, nil
}

// Name returns "bitstamp".
func (b *Bitstamp) Name() string { return b.http.name }

// Supports reports whether p is well formed; Bitstamp decides the rest.
func (b *Bitstamp) Supports(p Pair) bool { return p.Validate() == nil }

// Fetch asks Bitstamp for the last trade price of p.
func (b *Bitstamp) Fetch(ctx context.Context, p Pair) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, fmt.Errorf("bitstamp: %w: %w", ErrUnsupportedPair, err)
	}
	market := strings.ToLower(p.Base + p.Quote)
	r, err := b.http.get(ctx, "/api/v2/ticker/"+market+"/", nil)
	if err != nil {
		return Quote{}, err
	}
	rate, at, err := parseBitstamp(r.status, r.body)
	if err != nil {
		return Quote{}, err
	}
	if at.IsZero() {
		at = r.at
	}
	return Quote{Pair: p, Rate: rate, Source: b.Name(), At: at}, nil
}

type bitstampBody struct {
	Last      *string `json:"last"`
	Timestamp *string `json:"timestamp"`

	Status  string `json:"status"`
	Reason  any    `json:"reason"` // a string, or an object of field errors
	Code    string `json:"code"`
	RespCod string `json:"response_code"`
	RespExp string `json:"response_explanation"`
}

// parseBitstamp turns a Bitstamp ticker answer into a rate and the
// provider's time (zero if the answer carries none).
func parseBitstamp(status int, body []byte) (decimal.Decimal, time.Time, error) {
	const src = "bitstamp"
	r := response{status: status, body: body}
	if status == http.StatusNotFound {
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Message: "no such market", Kind: ErrUnsupportedPair}
	}
	if err := checkBody(src, r); err != nil {
		return decimal.Decimal{}, time.Time{}, err
	}
	var b bitstampBody
	if err := json.Unmarshal(body, &b); err != nil {
		if status/100 != 2 {
			return decimal.Decimal{}, time.Time{}, statusError(src, r)
		}
		return decimal.Decimal{}, time.Time{}, badResponse(src, "decode ticker: %v", err)
	}
	if b.RespCod == "400.002" {
		return decimal.Decimal{}, time.Time{}, &RateLimitError{Source: src, Message: truncate(b.RespExp, 200)}
	}
	if b.Status == "error" || b.RespCod != "" {
		code := b.Code
		if code == "" {
			code = b.RespCod
		}
		msg := b.RespExp
		if b.Reason != nil {
			if s, ok := b.Reason.(string); ok {
				msg = s
			} else if raw, err := json.Marshal(b.Reason); err == nil {
				msg = string(raw)
			}
		}
		return decimal.Decimal{}, time.Time{}, &ProviderError{Source: src, Status: status,
			Code: truncate(code, 40), Message: truncate(msg, 200), Kind: ErrBadResponse}
	}
	if status/100 != 2 {
		return decimal.Decimal{}, time.Time{}, statusError(src, r)
	}
	if b.Last == nil {
		return decimal.Decimal{}, time.Time{}, badResponse(src, "ticker has no \"last\"")
	}
	rate, err := parsePriceString(*b.Last)
	if err != nil {
		return decimal.Decimal{}, time.Time{}, badResponse(src, "last: %v", err)
	}
	var at time.Time
	if b.Timestamp != nil {
		at, err = parseUnixSeconds(*b.Timestamp)
		if err != nil {
			return decimal.Decimal{}, time.Time{}, badResponse(src, "%v", err)
		}
	}
	return rate, at, nil
}
