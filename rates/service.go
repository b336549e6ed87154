package rates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultMaxAge     = 60 * time.Second
	DefaultMinSources = 1
)

// DefaultOutlierBand is the OutlierBand used when Config leaves it zero: a
// quote more than 2% away from the median is dropped.
func DefaultOutlierBand() decimal.Decimal { return decimal.New(2, -2) }

// Peg pins an asset (a stablecoin) to a fiat rate. The Service answers the
// peg Rate for Base/Quote, after checking that the live median, when live
// sources are configured, is within MaxDeviation (a fraction of Rate, e.g.
// 0.01 for 1%) of it.
type Peg struct {
	Quote        string
	Rate         decimal.Decimal
	MaxDeviation decimal.Decimal
}

// Config configures a Service. Zero fields take the defaults noted.
type Config struct {
	// MaxAge is how old a quote may be and still count: a quote whose age
	// (now - Quote.At) is exactly MaxAge is fresh, one nanosecond older is
	// stale. A quote stamped more than MaxAge in the future is dropped too.
	// Default 60 s.
	MaxAge time.Duration
	// MinSources is how many fresh, agreeing quotes a rate needs. Default 1;
	// production configurations should ask for 2 or more.
	MinSources int
	// OutlierBand drops quotes more than this fraction away from the median
	// of the fresh quotes (0.02 = 2%). Default 0.02. With two quotes further
	// apart than twice the band both are dropped: nobody can tell which is
	// right.
	OutlierBand decimal.Decimal
	// Pegs maps an asset (Pair.Base) to its peg.
	Pegs map[string]Peg
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives fetch failures and dropped quotes. Default discards.
	Logger *slog.Logger
	// Tick makes the ticker for the background refresh loop. Default wraps
	// time.NewTicker; tests inject a channel they control.
	Tick func(every time.Duration) (c <-chan time.Time, stop func())
}

// DropReason says why a source's quote was not used.
type DropReason string

// Reasons a quote is dropped.
const (
	DropFetchFailed DropReason = "fetch_failed" // the source returned an error
	DropRateLimited DropReason = "rate_limited" // the source is backing off after a rate limit
	DropUnsupported DropReason = "unsupported"  // the source does not quote the pair
	DropInvalid     DropReason = "invalid"      // the source answered another pair or a non-positive rate
	DropStale       DropReason = "stale"        // older than MaxAge
	DropFuture      DropReason = "future"       // stamped more than MaxAge ahead of now
	DropOutlier     DropReason = "outlier"      // outside OutlierBand of the median
)

// Dropped records a source whose quote was not used, for audit.
type Dropped struct {
	Source string
	Quote  Quote // zero when no quote was obtained
	Reason DropReason
	Detail string
	Err    error // the fetch error, for DropFetchFailed/DropRateLimited/DropUnsupported
}

// Aggregate is the answer of Service.Quote: the rate to use and the evidence
// behind it.
type Aggregate struct {
	Pair Pair
	// Rate is quote units per one base unit: the median of Used, or the peg
	// rate when Method is "peg".
	Rate decimal.Decimal
	// Method is "median" or "peg".
	Method string
	// Median is the median of Used; zero when no live quote was used (a peg
	// with no live sources).
	Median decimal.Decimal
	// Peg is the peg applied, when Method is "peg".
	Peg *Peg
	// At is when the aggregate was computed, by the Service's clock.
	At time.Time
	// Used are the raw quotes the median was computed from, by source order.
	Used []Quote
	// Dropped are the sources not used, with the reason.
	Dropped []Dropped
}

// UnavailableError explains why no rate can be given. It matches
// ErrUnavailable.
type UnavailableError struct {
	Pair       Pair
	Fresh      int // fresh quotes that agreed (after outlier removal)
	Needed     int // Config.MinSources
	Configured int // sources configured for the pair
	Reason     string
	Dropped    []Dropped
}

// Error says how many fresh sources there were of how many needed, and why
// each other source was dropped.
func (e *UnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rates: %s unavailable: %s", e.Pair, e.Reason)
	if len(e.Dropped) > 0 {
		b.WriteString(" (dropped:")
		for i, d := range e.Dropped {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " %s %s", d.Source, d.Reason)
			if d.Detail != "" {
				fmt.Fprintf(&b, ": %s", d.Detail)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Service aggregates several Sources into one robust rate per pair. It caches
// the latest quote of every source and pair, so Quote answers from fresh
// cached quotes without a network call; Start keeps the cache warm in the
// background. A Service is safe for concurrent use.
type Service struct {
	sources []Source
	cfg     Config

	mu      sync.Mutex
	cache   map[cacheKey]Quote
	backoff map[string]time.Time // source name -> do not call before

	runMu   sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	onCycle func() // test hook: called after each background refresh
}

type cacheKey struct {
	source string
	pair   Pair
}

// New returns a Service over sources. Source names must be unique and
// non-empty; cfg is validated and its zero fields defaulted.
func New(sources []Source, cfg Config) (*Service, error) {
	seen := make(map[string]bool, len(sources))
	for i, s := range sources {
		if s == nil {
			return nil, fmt.Errorf("rates: source %d is nil", i)
		}
		n := s.Name()
		if n == "" || seen[n] {
			return nil, fmt.Errorf("rates: source %d: name %q is empty or not unique", i, n)
		}
		seen[n] = true
	}
	if cfg.MaxAge < 0 {
		return nil, fmt.Errorf("rates: MaxAge %s is negative", cfg.MaxAge)
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MinSources < 0 {
		return nil, fmt.Errorf("rates: MinSources %d is negative", cfg.MinSources)
	}
	if cfg.MinSources == 0 {
		cfg.MinSources = DefaultMinSources
	}
	if cfg.OutlierBand.IsNegative() {
		return nil, fmt.Errorf("rates: OutlierBand %s is negative", cfg.OutlierBand)
	}
	if cfg.OutlierBand.IsZero() {
		cfg.OutlierBand = DefaultOutlierBand()
	}
	pegs := make(map[string]Peg, len(cfg.Pegs))
	for base, p := range cfg.Pegs {
		pair := Pair{Base: base, Quote: p.Quote}
		if err := pair.Validate(); err != nil {
			return nil, fmt.Errorf("rates: peg %s: %w", base, err)
		}
		if p.Rate.Sign() <= 0 {
			return nil, fmt.Errorf("rates: peg %s: rate %s is not positive", pair, p.Rate)
		}
		if p.MaxDeviation.Sign() <= 0 {
			return nil, fmt.Errorf("rates: peg %s: MaxDeviation %s is not positive", pair, p.MaxDeviation)
		}
		pegs[base] = p
	}
	cfg.Pegs = pegs
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick == nil {
		cfg.Tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return &Service{
		sources: append([]Source(nil), sources...),
		cfg:     cfg,
		cache:   make(map[cacheKey]Quote),
		backoff: make(map[string]time.Time),
	}, nil
}

// supports reports whether s may quote p without asking it.
func supports(s Source, p Pair) bool {
	if ps, ok := s.(PairSupporter); ok {
		return ps.Supports(p)
	}
	return true
}

// Quote returns the rate for p: the exact median of the fresh quotes after
// dropping outliers, or the peg rate for a pegged asset whose live median is
// within the peg's deviation. Fresh cached quotes are used as they are; the
// other sources are asked concurrently. It returns an error matching
// ErrUnavailable (an *UnavailableError) when fewer than MinSources fresh
// quotes agree or an asset is off its peg, and one matching
// ErrUnsupportedPair when p is malformed or nothing quotes it. A stale rate
// is never returned.
func (s *Service) Quote(ctx context.Context, p Pair) (Aggregate, error) {
	if err := p.Validate(); err != nil {
		return Aggregate{}, fmt.Errorf("quote: %w: %w", ErrUnsupportedPair, err)
	}
	now := s.cfg.Now()
	peg, pegged := s.cfg.Pegs[p.Base]
	pegged = pegged && peg.Quote == p.Quote

	var configured []Source
	for _, src := range s.sources {
		if supports(src, p) {
			configured = append(configured, src)
		}
	}
	quotes, dropped := s.collect(ctx, configured, p, now)
	live := len(configured)
	for _, d := range dropped {
		if d.Reason == DropUnsupported {
			live--
		}
	}
	agg := Aggregate{Pair: p, At: now}
	if live == 0 {
		if pegged {
			pg := peg
			agg.Rate, agg.Method, agg.Peg, agg.Dropped = peg.Rate, "peg", &pg, dropped
			return agg, nil
		}
		return Aggregate{}, fmt.Errorf("quote %s: no source quotes it: %w", p, ErrUnsupportedPair)
	}
	unavailable := func(fresh int, reason string, dropped []Dropped) error {
		return &UnavailableError{Pair: p, Fresh: fresh, Needed: s.cfg.MinSources,
			Configured: live, Reason: reason, Dropped: dropped}
	}
	if len(quotes) < s.cfg.MinSources {
		err := unavailable(len(quotes), fmt.Sprintf("%d fresh source(s) of %d needed (%d configured)",
			len(quotes), s.cfg.MinSources, live), dropped)
		s.cfg.Logger.Warn("rates: quote unavailable", "pair", p.String(), "err", err)
		return Aggregate{}, err
	}
	used, outliers, median := dropOutliers(quotes, s.cfg.OutlierBand)
	dropped = append(dropped, outliers...)
	if len(used) < s.cfg.MinSources {
		err := unavailable(len(used), fmt.Sprintf("%d fresh source(s) agree within %s of the median of %d, %d needed (%d configured)",
			len(used), s.cfg.OutlierBand, len(quotes), s.cfg.MinSources, live), dropped)
		s.cfg.Logger.Warn("rates: quote unavailable", "pair", p.String(), "err", err)
		return Aggregate{}, err
	}
	agg.Used, agg.Dropped, agg.Median, agg.Rate, agg.Method = used, dropped, median, median, "median"
	if pegged {
		if !withinBand(median, peg.Rate, peg.MaxDeviation) {
			err := unavailable(len(used), fmt.Sprintf("live median %s is more than %s away from the peg %s",
				median, peg.MaxDeviation, peg.Rate), dropped)
			s.cfg.Logger.Warn("rates: asset off its peg", "pair", p.String(), "err", err)
			return Aggregate{}, err
		}
		pg := peg
		agg.Rate, agg.Method, agg.Peg = peg.Rate, "peg", &pg
	}
	for _, d := range dropped {
		s.cfg.Logger.Debug("rates: quote dropped", "pair", p.String(), "source", d.Source,
			"reason", string(d.Reason), "detail", d.Detail)
	}
	return agg, nil
}

// dropOutliers keeps the quotes within band of the median of all quotes and
// returns the median of the kept ones. quotes must be non-empty.
func dropOutliers(quotes []Quote, band decimal.Decimal) (kept []Quote, dropped []Dropped, median decimal.Decimal) {
	all := make([]decimal.Decimal, len(quotes))
	for i, q := range quotes {
		all[i] = q.Rate
	}
	m, _ := Median(all) // non-empty
	var keptRates []decimal.Decimal
	for _, q := range quotes {
		if withinBand(q.Rate, m, band) {
			kept = append(kept, q)
			keptRates = append(keptRates, q.Rate)
			continue
		}
		dev := q.Rate.Sub(m).Abs().DivRound(m, 6)
		dropped = append(dropped, Dropped{Source: q.Source, Quote: q, Reason: DropOutlier,
			Detail: fmt.Sprintf("rate %s is %s from the median %s, band %s", q.Rate, dev, m, band)})
	}
	if len(keptRates) > 0 {
		median, _ = Median(keptRates)
	}
	return kept, dropped, median
}

// collect gathers one quote per source for p: the cached one if fresh,
// otherwise a new fetch (unless the source is backing off). It returns the
// fresh quotes in source order and the reasons for the others.
func (s *Service) collect(ctx context.Context, sources []Source, p Pair, now time.Time) ([]Quote, []Dropped) {
	type result struct {
		q       Quote
		ok      bool
		dropped *Dropped
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		name := src.Name()
		s.mu.Lock()
		cached, hit := s.cache[cacheKey{name, p}]
		until := s.backoff[name]
		s.mu.Unlock()
		if hit && s.fresh(cached, now) == "" {
			results[i] = result{q: cached, ok: true}
			continue
		}
		if now.Before(until) {
			results[i] = result{dropped: &Dropped{Source: name, Reason: DropRateLimited,
				Detail: fmt.Sprintf("backing off until %s", until.UTC().Format(time.RFC3339))}}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := s.fetch(ctx, src, p, now)
			if err != nil {
				d := dropForError(name, err)
				results[i] = result{dropped: &d}
				return
			}
			results[i] = result{q: q, ok: true}
		}()
	}
	wg.Wait()
	var quotes []Quote
	var dropped []Dropped
	for _, r := range results {
		if r.dropped != nil {
			dropped = append(dropped, *r.dropped)
			continue
		}
		if reason := s.fresh(r.q, now); reason != "" {
			dropped = append(dropped, Dropped{Source: r.q.Source, Quote: r.q, Reason: reason,
				Detail: fmt.Sprintf("quoted at %s, now %s, max age %s",
					r.q.At.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), s.cfg.MaxAge)})
			continue
		}
		quotes = append(quotes, r.q)
	}
	return quotes, dropped
}

func dropForError(source string, err error) Dropped {
	d := Dropped{Source: source, Reason: DropFetchFailed, Detail: err.Error(), Err: err}
	switch {
	case errors.Is(err, ErrUnsupportedPair):
		d.Reason = DropUnsupported
	case errors.Is(err, ErrRateLimited):
		d.Reason = DropRateLimited
	case errors.Is(err, errInvalidQuote):
		d.Reason = DropInvalid
	}
	return d
}

var errInvalidQuote = errors.New("invalid quote")

// fresh returns "" when q may be used at now, else the reason it may not.
func (s *Service) fresh(q Quote, now time.Time) DropReason {
	age := now.Sub(q.At)
	switch {
	case age > s.cfg.MaxAge:
		return DropStale
	case age < -s.cfg.MaxAge:
		return DropFuture
	}
	return ""
}

// fetch asks src for p, checks the answer, caches it and records a rate
// limit back-off.
func (s *Service) fetch(ctx context.Context, src Source, p Pair, now time.Time) (Quote, error) {
	name := src.Name()
	q, err := src.Fetch(ctx, p)
	if err != nil {
		var rl *RateLimitError
		if errors.As(err, &rl) {
			wait := rl.RetryAfter
			if wait <= 0 {
				wait = s.cfg.MaxAge / 2 // the provider did not say; back off a while
			}
			s.mu.Lock()
			s.backoff[name] = now.Add(wait)
			s.mu.Unlock()
		}
		if !errors.Is(err, ErrUnsupportedPair) {
			s.cfg.Logger.Warn("rates: fetch failed", "source", name, "pair", p.String(), "err", err)
		}
		return Quote{}, fmt.Errorf("fetch %s from %s: %w", p, name, err)
	}
	if q.Pair != p || q.Rate.Sign() <= 0 {
		return Quote{}, fmt.Errorf("fetch %s from %s: answer for %s at rate %s: %w", p, name, q.Pair, q.Rate, errInvalidQuote)
	}
	q.Source = name
	key := cacheKey{name, p}
	s.mu.Lock()
	if old, ok := s.cache[key]; !ok || !old.At.After(q.At) {
		s.cache[key] = q
	}
	delete(s.backoff, name)
	s.mu.Unlock()
	return q, nil
}

// Refresh fetches p from every source that supports it, for every pair,
// updating the cache even where a fresh quote is cached. Sources are asked
// concurrently; each source is asked for its pairs one after another. It
// returns the fetch failures joined (nil if none). Unsupported pairs are
// not failures.
func (s *Service) Refresh(ctx context.Context, pairs []Pair) error {
	now := s.cfg.Now()
	errs := make([][]error, len(s.sources))
	var wg sync.WaitGroup
	for i, src := range s.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range pairs {
				if ctx.Err() != nil {
					errs[i] = append(errs[i], fmt.Errorf("refresh %s from %s: %w", p, src.Name(), ctx.Err()))
					return
				}
				if !supports(src, p) {
					continue
				}
				s.mu.Lock()
				until := s.backoff[src.Name()]
				s.mu.Unlock()
				if now.Before(until) {
					continue
				}
				if _, err := s.fetch(ctx, src, p, now); err != nil && !errors.Is(err, ErrUnsupportedPair) {
					errs[i] = append(errs[i], err)
				}
			}
		}()
	}
	wg.Wait()
	var all []error
	for _, e := range errs {
		all = append(all, e...)
	}
	return errors.Join(all...)
}

// Start refreshes pairs in the background: once at once, then every
// interval, until ctx is done or Stop is called. It returns an error if the
// loop is already running or the arguments are invalid. Call Stop to wait
// for the loop to exit.
func (s *Service) Start(ctx context.Context, pairs []Pair, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("rates: refresh interval %s is not positive", every)
	}
	for _, p := range pairs {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("rates: start: %w", err)
		}
	}
	pairs = append([]Pair(nil), pairs...)
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.done != nil {
		return errors.New("rates: refresh loop already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	ticks, stopTicker := s.cfg.Tick(every)
	hook := s.onCycle
	go func() {
		defer close(done)
		defer stopTicker()
		for {
			if err := s.Refresh(ctx, pairs); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("rates: background refresh incomplete", "err", err)
			}
			if hook != nil {
				hook()
			}
			select {
			case <-ctx.Done():
				return
			case <-ticks:
			}
		}
	}()
	return nil
}

// Stop ends the background loop and waits for it to exit. It is idempotent
// and safe to call when Start was never called.
func (s *Service) Stop() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.done == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel, s.done = nil, nil
}
