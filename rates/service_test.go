package rates

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: fetchTime} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stubSource answers through fn and counts calls.
type stubSource struct {
	name  string
	fn    func(ctx context.Context, p Pair) (Quote, error)
	calls atomic.Int32
}

func (s *stubSource) Name() string { return s.name }

func (s *stubSource) Fetch(ctx context.Context, p Pair) (Quote, error) {
	s.calls.Add(1)
	return s.fn(ctx, p)
}

// quoting returns a stub that quotes rate for any pair, stamped age before
// the clock's time at the moment of the fetch.
func quoting(name, rate string, age time.Duration, clk *testClock) *stubSource {
	r := decimal.RequireFromString(rate)
	return &stubSource{name: name, fn: func(_ context.Context, p Pair) (Quote, error) {
		return Quote{Pair: p, Rate: r, Source: name, At: clk.Now().Add(-age)}, nil
	}}
}

func failing(name string, err error) *stubSource {
	return &stubSource{name: name, fn: func(context.Context, Pair) (Quote, error) { return Quote{}, err }}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"5"}, "5"},
		{[]string{"3", "1", "2"}, "2"},
		{[]string{"67190.1", "67187.33", "67185", "67300", "67000"}, "67187.33"},
		{[]string{"1", "2"}, "1.5"},
		{[]string{"4", "1", "3", "2"}, "2.5"},
		{[]string{"67187.33", "67187.34"}, "67187.335"},
		{[]string{"0.1", "0.25"}, "0.175"},
		{[]string{"0.00000001", "0.00000002"}, "0.000000015"},
		{[]string{"2", "2"}, "2"},
		{[]string{"10", "20", "30", "1000"}, "25"},
		{[]string{"0.99990000", "1.00015"}, "1.000025"},
	} {
		in := make([]decimal.Decimal, len(tc.in))
		for i, s := range tc.in {
			in[i] = dec(s)
		}
		orig := slices.Clone(in)
		got, err := Median(in)
		if err != nil || !got.Equal(dec(tc.want)) {
			t.Errorf("Median(%v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if !slices.EqualFunc(in, orig, decimal.Decimal.Equal) {
			t.Errorf("Median(%v) reordered its input", tc.in)
		}
		if len(in)%2 == 0 { // exactness: twice the median is the sum of the middle pair
			s := slices.Clone(in)
			slices.SortFunc(s, decimal.Decimal.Cmp)
			if sum := s[len(s)/2-1].Add(s[len(s)/2]); !got.Mul(two).Equal(sum) {
				t.Errorf("Median(%v) = %s is not exactly half of %s", tc.in, got, sum)
			}
		}
	}
	if _, err := Median(nil); err == nil {
		t.Error("Median(nil) succeeded")
	}
}

// sourceSpec describes one stub source of an aggregation case.
type sourceSpec struct {
	name string
	rate string
	age  time.Duration
	err  error // when set the source fails with it
}

func TestServiceQuote(t *testing.T) {
	t.Parallel()
	const maxAge = time.Minute
	usdPeg := map[string]Peg{"USDC": {Quote: "USD", Rate: dec("1"), MaxDeviation: dec("0.01")}}
	for _, tc := range []struct {
		name        string
		pair        Pair
		sources     []sourceSpec
		minSources  int
		band        string
		pegs        map[string]Peg
		wantRate    string
		wantMethod  string
		wantUsed    []string
		wantDropped map[string]DropReason
		wantErr     error
		wantFresh   int // for ErrUnavailable
	}{
		{name: "odd median", pair: btcUSD, sources: []sourceSpec{{"a", "67190", 0, nil}, {"b", "67185", 0, nil}, {"c", "67187.33", 0, nil}},
			wantRate: "67187.33", wantMethod: "median", wantUsed: []string{"a", "b", "c"}},
		{name: "even median is the exact mean of the middle two", pair: btcUSD,
			sources:  []sourceSpec{{"a", "67190", 0, nil}, {"b", "67185", 0, nil}, {"c", "67187.33", 0, nil}, {"d", "67187.34", 0, nil}},
			wantRate: "67187.335", wantMethod: "median", wantUsed: []string{"a", "b", "c", "d"}},
		{name: "outlier dropped", pair: btcUSD, sources: []sourceSpec{{"a", "100", 0, nil}, {"b", "101", 0, nil}, {"c", "99", 0, nil}, {"d", "110", 0, nil}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a", "b", "c"}, wantDropped: map[string]DropReason{"d": DropOutlier}},
		{name: "quote exactly at the band edge is kept", pair: btcUSD, band: "0.02",
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "102", 0, nil}, {"c", "100", 0, nil}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a", "b", "c"}},
		{name: "quote just past the band edge is dropped", pair: btcUSD, band: "0.02",
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "102.0001", 0, nil}, {"c", "100", 0, nil}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a", "c"}, wantDropped: map[string]DropReason{"b": DropOutlier}},
		{name: "two disagreeing sources are both dropped", pair: btcUSD, minSources: 1,
			sources: []sourceSpec{{"a", "100", 0, nil}, {"b", "120", 0, nil}},
			wantErr: ErrUnavailable, wantFresh: 0, wantDropped: map[string]DropReason{"a": DropOutlier, "b": DropOutlier}},
		{name: "age exactly MaxAge is fresh", pair: btcUSD, sources: []sourceSpec{{"a", "100", maxAge, nil}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a"}},
		{name: "one nanosecond past MaxAge is stale", pair: btcUSD, minSources: 1,
			sources: []sourceSpec{{"a", "100", maxAge + time.Nanosecond, nil}},
			wantErr: ErrUnavailable, wantFresh: 0, wantDropped: map[string]DropReason{"a": DropStale}},
		{name: "stale quote does not count toward the median", pair: btcUSD,
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "101", 0, nil}, {"c", "50", maxAge + time.Second, nil}},
			wantRate: "100.5", wantMethod: "median", wantUsed: []string{"a", "b"}, wantDropped: map[string]DropReason{"c": DropStale}},
		{name: "quote from the future beyond MaxAge is dropped", pair: btcUSD,
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "100", -maxAge - time.Second, nil}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a"}, wantDropped: map[string]DropReason{"b": DropFuture}},
		{name: "too few fresh sources", pair: btcUSD, minSources: 2,
			sources: []sourceSpec{{"a", "100", 0, nil}, {"b", "", 0, fmt.Errorf("boom: %w", ErrBadResponse)}, {"c", "100", 2 * maxAge, nil}},
			wantErr: ErrUnavailable, wantFresh: 1,
			wantDropped: map[string]DropReason{"b": DropFetchFailed, "c": DropStale}},
		{name: "minimum met exactly", pair: btcUSD, minSources: 2,
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "", 0, fmt.Errorf("boom: %w", ErrBadResponse)}, {"c", "102", 0, nil}},
			wantRate: "101", wantMethod: "median", wantUsed: []string{"a", "c"}, wantDropped: map[string]DropReason{"b": DropFetchFailed}},
		{name: "minimum not met after outliers", pair: btcUSD, minSources: 3,
			sources: []sourceSpec{{"a", "100", 0, nil}, {"b", "100", 0, nil}, {"c", "130", 0, nil}},
			wantErr: ErrUnavailable, wantFresh: 2, wantDropped: map[string]DropReason{"c": DropOutlier}},
		{name: "rate limited source", pair: btcUSD,
			sources:  []sourceSpec{{"a", "100", 0, nil}, {"b", "", 0, &RateLimitError{Source: "b"}}},
			wantRate: "100", wantMethod: "median", wantUsed: []string{"a"}, wantDropped: map[string]DropReason{"b": DropRateLimited}},
		{name: "no source quotes the pair", pair: btcUSD,
			sources: []sourceSpec{{"a", "", 0, ErrUnsupportedPair}}, wantErr: ErrUnsupportedPair},
		{name: "peg within deviation answers the peg", pair: usdcUSD, pegs: usdPeg,
			sources:  []sourceSpec{{"a", "0.9999", 0, nil}, {"b", "1.0002", 0, nil}, {"c", "0.9995", 0, nil}},
			wantRate: "1", wantMethod: "peg", wantUsed: []string{"a", "b", "c"}},
		{name: "peg deviation exactly at the limit is accepted", pair: usdcUSD, pegs: usdPeg,
			sources: []sourceSpec{{"a", "0.99", 0, nil}}, wantRate: "1", wantMethod: "peg", wantUsed: []string{"a"}},
		{name: "depeg fails", pair: usdcUSD, pegs: usdPeg,
			sources: []sourceSpec{{"a", "0.97", 0, nil}, {"b", "0.975", 0, nil}, {"c", "0.98", 0, nil}},
			wantErr: ErrUnavailable, wantFresh: 3},
		{name: "peg alone without live sources", pair: usdcUSD, pegs: usdPeg,
			sources: nil, wantRate: "1", wantMethod: "peg"},
		{name: "peg alone when every source says unsupported", pair: usdcUSD, pegs: usdPeg,
			sources:  []sourceSpec{{"a", "", 0, ErrUnsupportedPair}},
			wantRate: "1", wantMethod: "peg", wantDropped: map[string]DropReason{"a": DropUnsupported}},
		{name: "peg with live sources all stale fails", pair: usdcUSD, pegs: usdPeg,
			sources: []sourceSpec{{"a", "1", 2 * maxAge, nil}}, wantErr: ErrUnavailable, wantFresh: 0},
		{name: "peg in another quote currency does not apply", pair: Pair{"USDC", "EUR"}, pegs: usdPeg,
			sources: []sourceSpec{{"a", "0.92", 0, nil}}, wantRate: "0.92", wantMethod: "median", wantUsed: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			var sources []Source
			for _, s := range tc.sources {
				if s.err != nil {
					sources = append(sources, failing(s.name, s.err))
				} else {
					sources = append(sources, quoting(s.name, s.rate, s.age, clk))
				}
			}
			cfg := Config{MaxAge: maxAge, MinSources: tc.minSources, Pegs: tc.pegs, Now: clk.Now}
			if tc.band != "" {
				cfg.OutlierBand = dec(tc.band)
			}
			svc, err := New(sources, cfg)
			if err != nil {
				t.Fatal(err)
			}
			agg, err := svc.Quote(context.Background(), tc.pair)
			var dropped []Dropped
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Quote = %+v, %v; want %v", agg, err, tc.wantErr)
				}
				if !errors.Is(tc.wantErr, ErrUnavailable) {
					return
				}
				var ue *UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("error %T is not an *UnavailableError", err)
				}
				wantNeeded := max(tc.minSources, 1)
				if ue.Fresh != tc.wantFresh || ue.Needed != wantNeeded || ue.Pair != tc.pair {
					t.Errorf("UnavailableError = fresh %d needed %d pair %s; want %d, %d, %s",
						ue.Fresh, ue.Needed, ue.Pair, tc.wantFresh, wantNeeded, tc.pair)
				}
				if !strings.Contains(err.Error(), tc.pair.String()) {
					t.Errorf("error %q does not name the pair", err)
				}
				dropped = ue.Dropped
			} else {
				if err != nil {
					t.Fatalf("Quote: %v", err)
				}
				if !agg.Rate.Equal(dec(tc.wantRate)) || agg.Method != tc.wantMethod {
					t.Errorf("Quote = %s by %s, want %s by %s", agg.Rate, agg.Method, tc.wantRate, tc.wantMethod)
				}
				if agg.Pair != tc.pair || !agg.At.Equal(clk.Now()) {
					t.Errorf("aggregate pair %s at %s", agg.Pair, agg.At)
				}
				var used []string
				for _, q := range agg.Used {
					used = append(used, q.Source)
					if q.Rate.Sign() <= 0 || q.Pair != tc.pair {
						t.Errorf("used quote %+v", q)
					}
				}
				if !slices.Equal(used, tc.wantUsed) {
					t.Errorf("used %v, want %v", used, tc.wantUsed)
				}
				if (agg.Method == "peg") != (agg.Peg != nil) {
					t.Errorf("method %s with peg %v", agg.Method, agg.Peg)
				}
				dropped = agg.Dropped
			}
			if tc.wantDropped != nil {
				got := map[string]DropReason{}
				for _, d := range dropped {
					got[d.Source] = d.Reason
					if d.Detail == "" {
						t.Errorf("dropped %s without detail", d.Source)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.wantDropped) {
					t.Errorf("dropped %v, want %v", got, tc.wantDropped)
				}
			}
		})
	}
}

func TestServiceUnavailableErrorSaysHowMany(t *testing.T) {
	t.Parallel()
	clk := newClock()
	svc, err := New([]Source{
		quoting("coinbase", "100", 0, clk),
		failing("kraken", &ProviderError{Source: "kraken", Message: "EService:Unavailable", Kind: ErrBadResponse}),
		quoting("bitstamp", "100", time.Hour, clk),
	}, Config{MinSources: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Quote(context.Background(), btcUSD)
	want := "rates: BTC/USD unavailable: 1 fresh source(s) of 2 needed (3 configured)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
	for _, s := range []string{"kraken fetch_failed", "EService:Unavailable", "bitstamp stale"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestServiceRejectsInvalidQuotesFromSources(t *testing.T) {
	t.Parallel()
	clk := newClock()
	wrongPair := &stubSource{name: "wrong", fn: func(context.Context, Pair) (Quote, error) {
		return Quote{Pair: ethUSD, Rate: dec("3000"), At: clk.Now()}, nil
	}}
	zero := &stubSource{name: "zero", fn: func(_ context.Context, p Pair) (Quote, error) {
		return Quote{Pair: p, Rate: decimal.Zero, At: clk.Now()}, nil
	}}
	svc, err := New([]Source{wrongPair, zero, quoting("ok", "100", 0, clk)}, Config{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := svc.Quote(context.Background(), btcUSD)
	if err != nil || agg.Rate.String() != "100" || len(agg.Used) != 1 {
		t.Fatalf("Quote = %+v, %v", agg, err)
	}
	for _, d := range agg.Dropped {
		if d.Reason != DropInvalid {
			t.Errorf("dropped %s for %s, want %s", d.Source, d.Reason, DropInvalid)
		}
	}
	if len(agg.Dropped) != 2 {
		t.Errorf("dropped %v, want the two invalid sources", agg.Dropped)
	}
}

func TestServiceAnswersFromCache(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a, b := quoting("a", "100", 0, clk), quoting("b", "102", 0, clk)
	svc, err := New([]Source{a, b}, Config{MaxAge: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Quote(ctx, btcUSD); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // cached quotes are now exactly MaxAge old: still fresh
	agg, err := svc.Quote(ctx, btcUSD)
	if err != nil || agg.Rate.String() != "101" {
		t.Fatalf("Quote = %+v, %v", agg, err)
	}
	if a.calls.Load() != 1 || b.calls.Load() != 1 {
		t.Fatalf("calls a=%d b=%d, want 1 each: fresh cached quotes must be reused", a.calls.Load(), b.calls.Load())
	}
	clk.Advance(time.Nanosecond) // now stale: both are asked again
	if _, err := svc.Quote(ctx, btcUSD); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 2 || b.calls.Load() != 2 {
		t.Fatalf("calls a=%d b=%d, want 2 each after the cache went stale", a.calls.Load(), b.calls.Load())
	}
}

func TestServiceBacksOffAfterRateLimit(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var limited atomic.Bool
	limited.Store(true)
	b := &stubSource{name: "b", fn: func(_ context.Context, p Pair) (Quote, error) {
		if limited.Load() {
			return Quote{}, &RateLimitError{Source: "b", RetryAfter: 30 * time.Second}
		}
		return Quote{Pair: p, Rate: dec("101"), At: clk.Now()}, nil
	}}
	a := quoting("a", "100", 0, clk)
	svc, err := New([]Source{a, b}, Config{MaxAge: 10 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Quote(ctx, btcUSD); err != nil {
		t.Fatal(err)
	}
	limited.Store(false)
	clk.Advance(29 * time.Second)
	agg, err := svc.Quote(ctx, btcUSD)
	if err != nil {
		t.Fatal(err)
	}
	if b.calls.Load() != 1 {
		t.Fatalf("rate-limited source called %d times before Retry-After passed, want 1", b.calls.Load())
	}
	if len(agg.Dropped) != 1 || agg.Dropped[0].Reason != DropRateLimited {
		t.Errorf("dropped %+v, want b backing off", agg.Dropped)
	}
	clk.Advance(time.Second)
	agg, err = svc.Quote(ctx, btcUSD)
	if err != nil || b.calls.Load() != 2 || agg.Rate.String() != "100.5" {
		t.Fatalf("after Retry-After: %+v, %v, %d calls", agg, err, b.calls.Load())
	}
}

// TestServiceProviderOutageAndRecovery runs real Coinbase and Kraken clients
// against httptest servers; Coinbase fails with a 500 HTML page, then
// recovers.
func TestServiceProviderOutageAndRecovery(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var down atomic.Bool
	down.Store(true)
	var cbHits, krHits atomic.Int32
	good := readTestdata(t, "coinbase/spot_btc_usd.json")
	outage := readTestdata(t, "common/cloudflare_502.html")
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cbHits.Add(1)
		if down.Load() {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(outage)
			return
		}
		_, _ = w.Write(good)
	}))
	t.Cleanup(cb.Close)
	krBody := readTestdata(t, "kraken/ticker_xbtusd.json")
	kr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		krHits.Add(1)
		_, _ = w.Write(krBody)
	}))
	t.Cleanup(kr.Close)
	coinbase, err := NewCoinbase(HTTPConfig{Client: cb.Client(), BaseURL: cb.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	kraken, err := NewKraken(HTTPConfig{Client: kr.Client(), BaseURL: kr.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New([]Source{coinbase, kraken}, Config{MaxAge: time.Minute, MinSources: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	_, err = svc.Quote(ctx, btcUSD)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Fresh != 1 || ue.Needed != 2 {
		t.Fatalf("during the outage Quote = %v, want 1 fresh of 2 needed", err)
	}
	if len(ue.Dropped) != 1 || ue.Dropped[0].Source != "coinbase" || !errors.Is(ue.Dropped[0].Err, ErrBadResponse) {
		t.Fatalf("dropped %+v, want coinbase with ErrBadResponse", ue.Dropped)
	}
	if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "HTML page") {
		t.Errorf("error %q does not explain the outage", err)
	}

	down.Store(false)
	clk.Advance(30 * time.Second)
	agg, err := svc.Quote(ctx, btcUSD)
	if err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// median of coinbase 67187.33 and kraken 67187.3
	if agg.Rate.String() != "67187.315" || len(agg.Used) != 2 {
		t.Errorf("after recovery rate %s from %d quotes, want 67187.315 from 2", agg.Rate, len(agg.Used))
	}
	if cbHits.Load() != 2 || krHits.Load() != 1 {
		t.Errorf("hits coinbase=%d kraken=%d, want 2 and 1 (kraken's quote was still cached)", cbHits.Load(), krHits.Load())
	}
	for _, q := range agg.Used {
		if q.Source == "kraken" && !q.At.Equal(fetchTime) {
			t.Errorf("kraken quote At %s, want the first fetch time %s", q.At, fetchTime)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := quoting("a", "1", 0, clk)
	for _, tc := range []struct {
		name    string
		sources []Source
		cfg     Config
		want    string
	}{
		{"nil source", []Source{nil}, Config{}, "source 0 is nil"},
		{"duplicate names", []Source{a, quoting("a", "2", 0, clk)}, Config{}, "not unique"},
		{"negative max age", []Source{a}, Config{MaxAge: -1}, "MaxAge"},
		{"negative min sources", []Source{a}, Config{MinSources: -1}, "MinSources"},
		{"negative band", []Source{a}, Config{OutlierBand: dec("-0.1")}, "OutlierBand"},
		{"peg without rate", []Source{a}, Config{Pegs: map[string]Peg{"USDC": {Quote: "USD", MaxDeviation: dec("0.01")}}}, "not positive"},
		{"peg without deviation", []Source{a}, Config{Pegs: map[string]Peg{"USDC": {Quote: "USD", Rate: dec("1")}}}, "MaxDeviation"},
		{"peg with bad quote", []Source{a}, Config{Pegs: map[string]Peg{"USDC": {Quote: "usd", Rate: dec("1"), MaxDeviation: dec("0.01")}}}, "quote"},
	} {
		if _, err := New(tc.sources, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want error mentioning %q", tc.name, err, tc.want)
		}
	}
	svc, err := New(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.cfg.MaxAge != DefaultMaxAge || svc.cfg.MinSources != 1 || !svc.cfg.OutlierBand.Equal(dec("0.02")) {
		t.Errorf("defaults %+v", svc.cfg)
	}
	if _, err := svc.Quote(context.Background(), Pair{"btc", "USD"}); !errors.Is(err, ErrUnsupportedPair) {
		t.Errorf("Quote(malformed) = %v, want ErrUnsupportedPair", err)
	}
}
