package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/rates"
)

// rateSettings configure the exchange-rate service.
type rateSettings struct {
	sources, fixed, minSources, maxAge, currencies string
}

func (r *rateSettings) register() []setting {
	return []setting{
		{"rate-sources", "CHAINPAY_RATE_SOURCES", "coinbase,kraken,bitstamp,coingecko", "live rate sources (comma-separated; \"none\" for fixed rates only)", &r.sources},
		{"fixed-rates", "CHAINPAY_FIXED_RATES", "", "fixed exchange rates, e.g. BTC-USD=60000,ETH-USD=3000 (tests, demos)", &r.fixed},
		{"rate-min-sources", "CHAINPAY_RATE_MIN_SOURCES", "2", "fresh agreeing sources a quote needs", &r.minSources},
		{"rate-max-age", "CHAINPAY_RATE_MAX_AGE", "60s", "oldest quote still fresh", &r.maxAge},
		{"rate-currencies", "CHAINPAY_RATE_CURRENCIES", "USD,EUR", "fiat currencies refreshed in the background", &r.currencies},
	}
}

// build validates the settings and returns the rate service and the pairs to refresh.
func (r *rateSettings) build(logger *slog.Logger) (*rates.Service, []rates.Pair, error) {
	var srcs []rates.Source
	client := &http.Client{Timeout: 10 * time.Second}
	if s := strings.TrimSpace(r.sources); s != "" && s != "none" {
		for _, name := range strings.Split(s, ",") {
			cfg := rates.HTTPConfig{Client: client}
			var (
				src rates.Source
				err error
			)
			switch strings.TrimSpace(name) {
			case "coinbase":
				src, err = rates.NewCoinbase(cfg)
			case "kraken":
				src, err = rates.NewKraken(cfg)
			case "bitstamp":
				src, err = rates.NewBitstamp(cfg)
			case "coingecko":
				src, err = rates.NewCoinGecko(rates.CoinGeckoConfig{HTTPConfig: cfg})
			default:
				return nil, nil, &settingError{"CHAINPAY_RATE_SOURCES", fmt.Sprintf("unknown source %q (want coinbase, kraken, bitstamp, coingecko or none)", name)}
			}
			if err != nil {
				return nil, nil, err
			}
			srcs = append(srcs, src)
		}
	}
	fixed, err := parseFixedRates(r.fixed)
	if err != nil {
		return nil, nil, &settingError{"CHAINPAY_FIXED_RATES", err.Error()}
	}
	if len(fixed) > 0 {
		f, err := rates.NewFixed("fixed", fixed, nil)
		if err != nil {
			return nil, nil, &settingError{"CHAINPAY_FIXED_RATES", err.Error()}
		}
		srcs = append(srcs, f)
	}
	minSources, err := strconv.Atoi(r.minSources)
	if err != nil || minSources < 1 {
		return nil, nil, &settingError{"CHAINPAY_RATE_MIN_SOURCES", fmt.Sprintf("%q is not a positive integer", r.minSources)}
	}
	if len(srcs) < minSources {
		minSources = len(srcs) // fixed-only setups: one source is all there is
	}
	maxAge, err := time.ParseDuration(r.maxAge)
	if err != nil || maxAge <= 0 {
		return nil, nil, &settingError{"CHAINPAY_RATE_MAX_AGE", fmt.Sprintf("%q is not a positive duration such as 60s", r.maxAge)}
	}
	var pairs []rates.Pair
	for _, c := range strings.Split(r.currencies, ",") {
		c = strings.TrimSpace(c)
		if _, ok := money.Currency(c); !ok {
			return nil, nil, &settingError{"CHAINPAY_RATE_CURRENCIES", fmt.Sprintf("%q is not an ISO 4217 currency", c)}
		}
		for _, base := range []string{"BTC", "ETH", "USDC", "USDT"} {
			pairs = append(pairs, rates.Pair{Base: base, Quote: c})
		}
	}
	one := decimal.NewFromInt(1)
	svc, err := rates.New(srcs, rates.Config{MaxAge: maxAge, MinSources: max(minSources, 1), Logger: logger,
		Pegs: map[string]rates.Peg{ // stablecoins: pegged to USD, refused when the market drifts > 2 %
			"USDC": {Quote: "USD", Rate: one, MaxDeviation: decimal.New(2, -2)},
			"USDT": {Quote: "USD", Rate: one, MaxDeviation: decimal.New(2, -2)},
		}})
	if err != nil {
		return nil, nil, err
	}
	return svc, pairs, nil
}

// parseFixedRates parses "BTC-USD=60000,ETH-USD=3000".
func parseFixedRates(s string) (map[rates.Pair]decimal.Decimal, error) {
	out := map[rates.Pair]decimal.Decimal{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		pair, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		p, err := rates.ParsePair(pair)
		if !ok || err != nil {
			return nil, fmt.Errorf("%q: want BASE-QUOTE=RATE", item)
		}
		r, err := decimal.NewFromString(val)
		if err != nil || !r.IsPositive() || strings.ContainsAny(val, "eE") {
			return nil, fmt.Errorf("%q: rate must be a positive decimal", item)
		}
		out[p] = r
	}
	return out, nil
}

// quoter adapts the rate service to invoices.Quoter, keeping the raw quotes for audit.
type quoter struct{ svc *rates.Service }

type rawQuote struct {
	Source string    `json:"source"`
	Rate   string    `json:"rate"`
	At     time.Time `json:"at"`
}

func (q quoter) Quote(ctx context.Context, base, quote string) (invoices.Quote, error) {
	a, err := q.svc.Quote(ctx, rates.Pair{Base: base, Quote: quote})
	if err != nil {
		if errors.Is(err, rates.ErrUnavailable) || errors.Is(err, rates.ErrUnsupportedPair) {
			return invoices.Quote{}, fmt.Errorf("%w: %v", invoices.ErrRatesUnavailable, err)
		}
		return invoices.Quote{}, err
	}
	raw := make([]rawQuote, 0, len(a.Used))
	names := make([]string, 0, len(a.Used))
	for _, u := range a.Used {
		raw = append(raw, rawQuote{Source: u.Source, Rate: u.Rate.String(), At: u.At.UTC()})
		names = append(names, u.Source)
	}
	b, _ := json.Marshal(raw)
	source := a.Method
	if len(names) > 0 {
		source += "(" + strings.Join(names, ",") + ")"
	}
	return invoices.Quote{Rate: a.Rate, Source: source, At: a.At, Raw: string(b)}, nil
}
