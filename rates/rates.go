package rates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Sentinel errors callers branch on. Every error returned by this package
// that belongs to one of these classes matches it with errors.Is.
var (
	// ErrUnsupportedPair means a source does not quote the pair at all
	// (an unknown asset, or the provider answered that the market does not
	// exist). It is not transient: retrying will not help.
	ErrUnsupportedPair = errors.New("rates: unsupported pair")
	// ErrRateLimited means the provider refused the request because of its
	// rate limit (HTTP 429, or Kraken's "EAPI:Rate limit exceeded"). The
	// *RateLimitError carrying it says when to retry, when the provider said.
	ErrRateLimited = errors.New("rates: rate limited")
	// ErrBadResponse means the provider answered with something that is not
	// a usable price: a malformed or empty body, an HTML error page, an
	// unexpected status, a provider error message, or a zero, negative or
	// non-numeric price.
	ErrBadResponse = errors.New("rates: bad response")
	// ErrUnavailable means no trustworthy rate can be given right now: too
	// few fresh sources agree, or a pegged asset is off its peg. The
	// *UnavailableError carrying it says how many sources were fresh.
	ErrUnavailable = errors.New("rates: rate unavailable")
)

// Pair names an exchange rate: how many units of Quote (a fiat currency such
// as "USD" or "EUR") one unit of Base (an asset such as "BTC", "ETH",
// "USDC" or "USDT") is worth. Codes are upper case.
type Pair struct {
	Base  string
	Quote string
}

// String returns the pair as "BASE/QUOTE".
func (p Pair) String() string { return p.Base + "/" + p.Quote }

// Validate reports whether both codes are 2 to 10 upper-case ASCII letters or
// digits and differ from each other.
func (p Pair) Validate() error {
	if err := validCode(p.Base); err != nil {
		return fmt.Errorf("pair %q: base: %w", p.String(), err)
	}
	if err := validCode(p.Quote); err != nil {
		return fmt.Errorf("pair %q: quote: %w", p.String(), err)
	}
	if p.Base == p.Quote {
		return fmt.Errorf("pair %q: base and quote are the same", p.String())
	}
	return nil
}

func validCode(s string) error {
	if len(s) < 2 || len(s) > 10 {
		return fmt.Errorf("code %q must be 2 to 10 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return fmt.Errorf("code %q must be upper-case letters and digits", s)
		}
	}
	return nil
}

// ParsePair parses "BTC/USD" or "BTC-USD" (any case) into a validated Pair.
func ParsePair(s string) (Pair, error) {
	sep := strings.IndexAny(s, "/-")
	if sep < 0 {
		return Pair{}, fmt.Errorf("pair %q: want BASE/QUOTE", s)
	}
	p := Pair{Base: strings.ToUpper(s[:sep]), Quote: strings.ToUpper(s[sep+1:])}
	if err := p.Validate(); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// Quote is one rate from one source: Rate units of Pair.Quote per ONE unit
// of Pair.Base. Rate is always positive. At is the provider's own timestamp
// when the provider gives one, otherwise the time the answer was received.
type Quote struct {
	Pair   Pair
	Rate   decimal.Decimal
	Source string
	At     time.Time
}

// Source fetches the current rate for a pair from one provider. Fetch must
// honour ctx, must never return a zero or negative rate, and returns errors
// matching ErrUnsupportedPair, ErrRateLimited or ErrBadResponse where they
// apply. Implementations are safe for concurrent use.
type Source interface {
	Name() string
	Fetch(ctx context.Context, p Pair) (Quote, error)
}

// PairSupporter is implemented by sources that know, without a network call,
// which pairs they can quote. The Service skips sources that say no, and does
// not count them as configured for that pair.
type PairSupporter interface {
	Supports(p Pair) bool
}

// RateLimitError reports a rate-limited request. It matches ErrRateLimited.
// RetryAfter is zero when the provider did not say.
type RateLimitError struct {
	Source     string
	RetryAfter time.Duration
	Message    string
}

// Error describes the refusal.
func (e *RateLimitError) Error() string {
	msg := fmt.Sprintf("%s: rate limited", e.Source)
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// ProviderError carries an error a provider reported (an HTTP status, an
// error code and message from its body). Kind is the sentinel it matches:
// ErrUnsupportedPair or ErrBadResponse.
type ProviderError struct {
	Source  string
	Status  int    // HTTP status, 0 if not relevant
	Code    string // provider's error id or code, if any
	Message string // provider's message, verbatim (truncated if long)
	Kind    error
}

// Error describes the provider's answer.
func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Unwrap returns Kind so errors.Is matches the sentinel.
func (e *ProviderError) Unwrap() error { return e.Kind }
