package ops

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Sweeper is an EVM sweeper as operations see it: its gas account (a sweeper out of gas is
// an outage nobody would otherwise see: deposits stop reaching the treasury).
type Sweeper struct {
	// Chain names the chain ("ethereum").
	Chain string
	// GasBalance returns the sweeper key's balance in wei.
	GasBalance func(ctx context.Context) (*big.Int, error)
	// WarnBelow is the balance (wei) under which readiness reports a warning; nil or zero
	// never warns.
	WarnBelow *big.Int
}

// sweeper is the readiness check "sweeper:<chain>". A low or unreadable gas balance is a
// warning (the check stays OK with Warning set): sweeping is not in the request path, so
// it must not take a replica out of a load balancer, but it must be seen.
func (h *Health) sweeper(ctx context.Context, sw Sweeper) Check {
	b, err := sw.GasBalance(ctx)
	if err != nil {
		return Check{OK: true, Warning: true, Detail: "sweeper gas balance unreadable: " + err.Error()}
	}
	eth := money.FormatAmount(b, 18)
	if sw.WarnBelow != nil && b.Cmp(sw.WarnBelow) < 0 {
		return Check{OK: true, Warning: true, Detail: fmt.Sprintf("sweeper gas balance %s ETH is below %s ETH: fund it, or deposits stay in their forwarders",
			eth, money.FormatAmount(sw.WarnBelow, 18))}
	}
	return Check{OK: true, Detail: "sweeper gas balance " + eth + " ETH"}
}

// sweepFigures exports the unswept balances and the sweepers' gas balances, read at most
// once per Config.Refresh.
type sweepFigures struct {
	cfg Config

	unswept, forwarders, gas, gasLow *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	last []prometheus.Metric
}

// NewSweepCollector returns the collector of the unswept balances and the sweepers' gas:
// chainpay_unswept_balance, chainpay_unswept_forwarders, chainpay_sweeper_gas_balance and
// chainpay_sweeper_gas_low. Register it on Metrics.Registry once cfg.Sweepers is complete.
func NewSweepCollector(cfg *Config) (prometheus.Collector, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newSweepFigures(c), nil
}

func newSweepFigures(cfg Config) *sweepFigures {
	return &sweepFigures{cfg: cfg,
		unswept: prometheus.NewDesc("chainpay_unswept_balance",
			"Value left in EVM forwarders (deposit addresses) and not swept to the treasuries yet, in whole units of the asset, as last read by the sweeper.",
			[]string{"chain", "network", "asset"}, nil),
		forwarders: prometheus.NewDesc("chainpay_unswept_forwarders", "EVM forwarders holding a balance of the asset, as last read by the sweeper.",
			[]string{"chain", "network", "asset"}, nil),
		gas: prometheus.NewDesc("chainpay_sweeper_gas_balance", "Balance of the sweeper key that pays sweep gas, in whole native units (ETH).",
			[]string{"chain"}, nil),
		gasLow: prometheus.NewDesc("chainpay_sweeper_gas_low", "1 when the sweeper key's balance is below its warning threshold (or unreadable).",
			[]string{"chain"}, nil),
	}
}

func (f *sweepFigures) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.unswept
	ch <- f.forwarders
	ch <- f.gas
	ch <- f.gasLow
}

func (f *sweepFigures) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.cfg.Now(); f.last == nil || now.Sub(f.at) >= f.cfg.Refresh {
		f.last, f.at = f.read(context.Background()), now
	}
	for _, m := range f.last {
		ch <- m
	}
}

func (f *sweepFigures) read(ctx context.Context) []prometheus.Metric {
	var out []prometheus.Metric
	cctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	var us []store.UnsweptBalance
	if err := f.cfg.Store.View(cctx, func(tx store.Tx) (err error) { us, err = tx.UnsweptBalances(cctx, ""); return }); err != nil {
		f.cfg.Logger.Warn("ops: unswept balances unreadable", "err", err)
	}
	type key struct{ chain, network, asset string }
	sums := map[key]*big.Int{}
	counts := map[key]int{}
	scales := map[key]int32{}
	for _, u := range us {
		k := key{u.Chain, u.Network, u.Asset}
		if sums[k] == nil {
			sums[k] = new(big.Int)
		}
		sums[k].Add(sums[k], u.Amount)
		counts[k] += u.Forwarders
		scales[k] = u.Scale
	}
	for k, v := range sums {
		out = append(out,
			prometheus.MustNewConstMetric(f.unswept, prometheus.GaugeValue, whole(v, scales[k]), k.chain, k.network, k.asset),
			prometheus.MustNewConstMetric(f.forwarders, prometheus.GaugeValue, float64(counts[k]), k.chain, k.network, k.asset))
	}
	for _, sw := range f.cfg.Sweepers {
		b, err := sw.GasBalance(cctx)
		low := 1.0
		if err == nil {
			out = append(out, prometheus.MustNewConstMetric(f.gas, prometheus.GaugeValue, whole(b, 18), sw.Chain))
			if sw.WarnBelow == nil || b.Cmp(sw.WarnBelow) >= 0 {
				low = 0
			}
		}
		out = append(out, prometheus.MustNewConstMetric(f.gasLow, prometheus.GaugeValue, low, sw.Chain))
	}
	return out
}

// whole converts an atomic amount to whole units for a gauge (metrics are floats; the
// exact amounts are in the API and the store).
func whole(v *big.Int, scale int32) float64 {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(v), new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))).Float64()
	return f
}
