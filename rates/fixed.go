package rates

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/shopspring/decimal"
)

// Fixed is a Source that answers configured rates, for tests and for assets
// whose price is set by configuration. It makes no network calls; Quote.At
// is the injected clock's time.
type Fixed struct {
	name  string
	rates map[Pair]decimal.Decimal
	now   func() time.Time
}

var (
	_ Source        = (*Fixed)(nil)
	_ PairSupporter = (*Fixed)(nil)
)

// NewFixed returns a Fixed source named name answering the given rates. Every
// pair must be valid and every rate positive. now defaults to time.Now.
func NewFixed(name string, rates map[Pair]decimal.Decimal, now func() time.Time) (*Fixed, error) {
	if name == "" {
		return nil, fmt.Errorf("fixed source: empty name")
	}
	for p, r := range rates {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("fixed source %s: %w", name, err)
		}
		if r.Sign() <= 0 {
			return nil, fmt.Errorf("fixed source %s: rate %s for %s is not positive", name, r, p)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Fixed{name: name, rates: maps.Clone(rates), now: now}, nil
}

// Name returns the configured name.
func (f *Fixed) Name() string { return f.name }

// Supports reports whether a rate is configured for p.
func (f *Fixed) Supports(p Pair) bool {
	_, ok := f.rates[p]
	return ok
}

// Fetch returns the configured rate for p, or ErrUnsupportedPair.
func (f *Fixed) Fetch(ctx context.Context, p Pair) (Quote, error) {
	if err := ctx.Err(); err != nil {
		return Quote{}, fmt.Errorf("%s: %w", f.name, err)
	}
	r, ok := f.rates[p]
	if !ok {
		return Quote{}, fmt.Errorf("%s: no fixed rate for %s: %w", f.name, p, ErrUnsupportedPair)
	}
	return Quote{Pair: p, Rate: r, Source: f.name, At: f.now()}, nil
}
