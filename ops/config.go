package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// Store is what ops reads from the database; store.Store implements it.
type Store interface {
	// View runs fn in a read-only transaction (ops calls only the store.OpsTx methods).
	View(ctx context.Context, fn func(store.Tx) error) error
	Ping(ctx context.Context) error
	MigrationStatus(ctx context.Context) (applied, latest int, err error)
}

// Follower reports the state of a chain follower; *watcher.Runner implements it.
type Follower interface {
	Status() watcher.Status
}

// Rates quotes a currency pair; *rates.Service implements it. Quote answers from fresh
// cached quotes and asks a source again only when its cached quote is stale.
type Rates interface {
	Quote(ctx context.Context, p rates.Pair) (rates.Aggregate, error)
}

// Chain is one chain followed by chainpay, as operations see it.
type Chain struct {
	// Name is the chain ("bitcoin", "ethereum"), the name of its cursor and lease.
	Name string
	// Follower is this process's follower of the chain; nil when this process does not
	// run one.
	Follower Follower
	// Tip returns the node's best block height; nil when unknown (then no lag is
	// computed). The watcher sources' Tip methods fit with a small adapter.
	Tip func(ctx context.Context) (int64, error)
	// MaxLag is the most blocks the chain's cursor may be behind the node's tip while
	// ready. Default 3.
	MaxLag int64
	// MaxFailing is how long the follower may fail (or the node be unreachable) in a row
	// before readiness fails. Default 2 minutes.
	MaxFailing time.Duration
}

// Config configures Metrics and Health. Zero fields take the defaults noted.
type Config struct {
	Store  Store // required
	Chains []Chain
	// Sweepers are the EVM sweepers this process runs (ops/sweep.go).
	Sweepers []Sweeper
	// Rates and Pairs: the pairs whose freshness is reported and checked. Pairs nobody
	// quotes (rates.ErrUnsupportedPair) are skipped.
	Rates Rates
	Pairs []rates.Pair
	// Refresh is the least time between two reads of the store, tips and rates for metrics.
	// Default 15 s.
	Refresh time.Duration
	// Timeout bounds each part of a scrape and each readiness check. Default 5 s.
	Timeout time.Duration
	// Version is reported as chainpay_build_info{version}.
	Version string
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default discards
}

// withDefaults validates c and returns a copy with its defaults applied.
func (c *Config) withDefaults() (Config, error) {
	if c == nil || c.Store == nil {
		return Config{}, errors.New("ops: Config.Store is required")
	}
	out := *c
	if out.Refresh == 0 {
		out.Refresh = 15 * time.Second
	}
	if out.Timeout == 0 {
		out.Timeout = 5 * time.Second
	}
	if out.Refresh < 0 || out.Timeout < 0 {
		return Config{}, errors.New("ops: Refresh and Timeout must not be negative")
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if len(out.Pairs) > 0 && out.Rates == nil {
		return Config{}, errors.New("ops: Config.Pairs needs Config.Rates")
	}
	seen := map[string]bool{}
	out.Chains = append([]Chain(nil), c.Chains...)
	for i := range out.Chains {
		ch := &out.Chains[i]
		if ch.Name == "" || seen[ch.Name] {
			return Config{}, fmt.Errorf("ops: chain %d: name %q is empty or repeated", i, ch.Name)
		}
		seen[ch.Name] = true
		if ch.MaxLag == 0 {
			ch.MaxLag = 3
		}
		if ch.MaxFailing == 0 {
			ch.MaxFailing = 2 * time.Minute
		}
		if ch.MaxLag < 0 || ch.MaxFailing < 0 {
			return Config{}, fmt.Errorf("ops: chain %s: MaxLag and MaxFailing must not be negative", ch.Name)
		}
	}
	for i, sw := range out.Sweepers {
		if sw.Chain == "" || sw.GasBalance == nil {
			return Config{}, fmt.Errorf("ops: sweeper %d: Chain and GasBalance are required", i)
		}
	}
	for _, p := range out.Pairs {
		if err := p.Validate(); err != nil {
			return Config{}, fmt.Errorf("ops: pair %s: %w", p, err)
		}
	}
	return out, nil
}
