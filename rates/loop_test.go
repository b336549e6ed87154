package rates

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"
)

// cached returns a copy of the Service's cache.
func (s *Service) cached() map[cacheKey]Quote {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.cache)
}

// manualTicker is an injected Tick whose ticks the test sends.
type manualTicker struct {
	c       chan time.Time
	stopped chan struct{}
}

func newManualTicker() *manualTicker {
	return &manualTicker{c: make(chan time.Time), stopped: make(chan struct{})}
}

func (m *manualTicker) tick(time.Duration) (<-chan time.Time, func()) {
	return m.c, func() { close(m.stopped) }
}

// loopSetup is a Service with one counting source, a manual ticker and a
// channel that receives after each background refresh cycle.
type loopSetup struct {
	svc    *Service
	src    *stubSource
	clk    *testClock
	ticker *manualTicker
	cycles chan struct{}
}

func setupLoop(t *testing.T) loopSetup {
	t.Helper()
	clk := newClock()
	src := quoting("a", "100", 0, clk)
	ticker := newManualTicker()
	svc, err := New([]Source{src}, Config{MaxAge: time.Minute, Now: clk.Now, Tick: ticker.tick})
	if err != nil {
		t.Fatal(err)
	}
	cycles := make(chan struct{}, 16)
	svc.onCycle = func() { cycles <- struct{}{} }
	return loopSetup{svc: svc, src: src, clk: clk, ticker: ticker, cycles: cycles}
}

func TestStartRefreshesInBackgroundAndQuoteUsesTheCache(t *testing.T) {
	t.Parallel()
	s := setupLoop(t)
	ctx := context.Background()
	if err := s.svc.Start(ctx, []Pair{btcUSD, ethUSD}, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.svc.Stop()
	<-s.cycles // the first refresh runs at once
	if n := s.src.calls.Load(); n != 2 {
		t.Fatalf("first cycle made %d fetches, want 2 (one per pair)", n)
	}
	if len(s.svc.cached()) != 2 {
		t.Fatalf("cache has %d entries, want 2", len(s.svc.cached()))
	}
	agg, err := s.svc.Quote(ctx, btcUSD)
	if err != nil || agg.Rate.String() != "100" {
		t.Fatalf("Quote = %+v, %v", agg, err)
	}
	if n := s.src.calls.Load(); n != 2 {
		t.Fatalf("Quote fetched (%d calls) although the cache was fresh", n)
	}
	s.clk.Advance(30 * time.Second)
	s.ticker.c <- s.clk.Now()
	<-s.cycles
	if n := s.src.calls.Load(); n != 4 {
		t.Fatalf("after a tick %d fetches, want 4", n)
	}
	for k, q := range s.svc.cached() {
		if !q.At.Equal(s.clk.Now()) {
			t.Errorf("cache %v At %s, want refreshed at %s", k, q.At, s.clk.Now())
		}
	}
	s.svc.Stop()
	select {
	case <-s.ticker.stopped:
	default:
		t.Error("Stop returned but the ticker was not stopped")
	}
}

func TestStartTwiceFailsAndStopIsIdempotent(t *testing.T) {
	t.Parallel()
	s := setupLoop(t)
	s.svc.Stop() // before Start: a no-op
	ctx := context.Background()
	if err := s.svc.Start(ctx, []Pair{btcUSD}, time.Second); err != nil {
		t.Fatal(err)
	}
	<-s.cycles
	if err := s.svc.Start(ctx, []Pair{btcUSD}, time.Second); err == nil {
		t.Error("second Start succeeded while running")
	}
	s.svc.Stop()
	s.svc.Stop()
	// After Stop it may be started again.
	s.ticker.stopped = make(chan struct{})
	if err := s.svc.Start(ctx, []Pair{btcUSD}, time.Second); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	<-s.cycles
	s.svc.Stop()
}

func TestStartRejectsBadArguments(t *testing.T) {
	t.Parallel()
	s := setupLoop(t)
	if err := s.svc.Start(context.Background(), []Pair{btcUSD}, 0); err == nil {
		t.Error("Start with a zero interval succeeded")
	}
	if err := s.svc.Start(context.Background(), []Pair{{"btc", "usd"}}, time.Second); err == nil {
		t.Error("Start with a malformed pair succeeded")
	}
	s.svc.Stop()
}

func TestStopWaitsForAnInFlightFetch(t *testing.T) {
	t.Parallel()
	clk := newClock()
	started := make(chan struct{})
	returned := make(chan struct{})
	var sawCancel error
	blocking := &stubSource{name: "slow", fn: func(ctx context.Context, p Pair) (Quote, error) {
		close(started)
		<-ctx.Done()
		sawCancel = ctx.Err()
		close(returned)
		return Quote{}, ctx.Err()
	}}
	ticker := newManualTicker()
	svc, err := New([]Source{blocking}, Config{Now: clk.Now, Tick: ticker.tick})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background(), []Pair{btcUSD}, time.Second); err != nil {
		t.Fatal(err)
	}
	<-started
	svc.Stop()
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the in-flight fetch finished")
	}
	if !errors.Is(sawCancel, context.Canceled) {
		t.Errorf("fetch saw %v, want context.Canceled", sawCancel)
	}
}

func TestLoopExitsWhenContextIsDone(t *testing.T) {
	t.Parallel()
	s := setupLoop(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.svc.Start(ctx, []Pair{btcUSD}, time.Second); err != nil {
		t.Fatal(err)
	}
	<-s.cycles
	cancel()
	<-s.ticker.stopped // the loop stops its ticker on its way out
	s.svc.Stop()       // and Stop still returns
}
