package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopspring/decimal"
)

// CoinbaseBaseURL is the public Coinbase API the Coinbase source talks to.
const CoinbaseBaseURL = "https://api.coinbase.com"

// Coinbase is a Source for the Coinbase spot price,
// GET /v2/prices/{BASE}-{QUOTE}/spot, answering
// {"data":{"amount":"67187.33","base":"BTC","currency":"USD"}} and, on error,
// {"errors":[{"id":"not_found","message":"..."}]}. The answer has no
// timestamp, so Quote.At is the time the answer arrived.
type Coinbase struct{ http httpSource }

var (
	_ Source        = (*Coinbase)(nil)
	_ PairSupporter = (*Coinbase)(nil)
)

// NewCoinbase returns a Coinbase source. It fails only on an invalid cfg.
func NewCoinbase(cfg HTTPConfig) (*Coinbase, error) {
	h, err := newHTTPSource("coinbase", CoinbaseBaseURL, cfg)
	if err != nil {
		return nil, err
	}
	return &Coinbase{http: h}, nil
}

// Name returns "coinbase".
func (c *Coinbase) Name() string { return c.http.name }

// Supports reports whether p is well formed; Coinbase names assets by their
// usual tickers, so any valid pair may exist there and the provider decides.
func (c *Coinbase) Supports(p Pair) bool { return p.Validate() == nil }

// Fetch asks Coinbase for the spot price of p.
func (c *Coinbase) Fetch(ctx context.Context, p Pair) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, fmt.Errorf("coinbase: %w: %w", ErrUnsupportedPair, err)
	}
	r, err := c.http.get(ctx, "/v2/prices/"+p.Base+"-"+p.Quote+"/spot", nil)
	if err != nil {
		return Quote{}, err
	}
	rate, err := parseCoinbase(r.status, r.body, p)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Pair: p, Rate: rate, Source: c.Name(), At: r.at}, nil
}

type coinbaseBody struct {
	Data *struct {
		Amount   *string `json:"amount"`
		Base     string  `json:"base"`
		Currency string  `json:"currency"`
	} `json:"data"`
	Errors []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"errors"`
}

// parseCoinbase turns a Coinbase answer (status and body) into a rate.
func parseCoinbase(status int, body []byte, p Pair) (decimal.Decimal, error) {
	const src = "coinbase"
	r := response{status: status, body: body}
	if err := checkBody(src, r); err != nil {
		return decimal.Decimal{}, err
	}
	var b coinbaseBody
	if err := json.Unmarshal(body, &b); err != nil {
		if status/100 != 2 {
			return decimal.Decimal{}, statusError(src, r)
		}
		return decimal.Decimal{}, badResponse(src, "decode spot price: %v", err)
	}
	if len(b.Errors) > 0 {
		ids := make([]string, 0, len(b.Errors))
		msgs := make([]string, 0, len(b.Errors))
		for _, e := range b.Errors {
			ids = append(ids, e.ID)
			msgs = append(msgs, e.Message)
		}
		kind := ErrBadResponse
		// Coinbase answers an unknown currency with 404 "not_found" or 400
		// "invalid_request" / "Invalid currency (XYZ)".
		if status == http.StatusNotFound || ids[0] == "not_found" ||
			strings.Contains(strings.ToLower(msgs[0]), "invalid currency") {
			kind = ErrUnsupportedPair
		}
		return decimal.Decimal{}, &ProviderError{Source: src, Status: status,
			Code: strings.Join(ids, ","), Message: truncate(strings.Join(msgs, "; "), 200), Kind: kind}
	}
	if status/100 != 2 {
		kind := ErrBadResponse
		if status == http.StatusNotFound {
			kind = ErrUnsupportedPair
		}
		return decimal.Decimal{}, &ProviderError{Source: src, Status: status, Message: snippet(body), Kind: kind}
	}
	if b.Data == nil || b.Data.Amount == nil {
		return decimal.Decimal{}, badResponse(src, "no data.amount in spot price")
	}
	if b.Data.Base != "" && !strings.EqualFold(b.Data.Base, p.Base) ||
		b.Data.Currency != "" && !strings.EqualFold(b.Data.Currency, p.Quote) {
		return decimal.Decimal{}, badResponse(src, "asked for %s, answer is for %s/%s",
			p, truncate(b.Data.Base, 16), truncate(b.Data.Currency, 16))
	}
	rate, err := parsePriceString(*b.Data.Amount)
	if err != nil {
		return decimal.Decimal{}, badResponse(src, "data.amount: %v", err)
	}
	return rate, nil
}
