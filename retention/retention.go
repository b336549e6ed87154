// Package retention deletes records that are only needed for a bounded time, so that tables
// written on every request do not grow with the processor's age. Today that is the API's
// idempotency records: a retry of a creating request within Period replays the first
// response; after it, the key is forgotten and a request with it is processed anew.
//
// Recorded block hashes are pruned by the chain follower itself as its cursor advances
// (watcher.Config.ReorgDepth), not here.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chainpay/chainpay/store"
)

// DefaultPeriod is how long idempotency records are kept unless configured otherwise: a
// week, far beyond any client's retry schedule.
const DefaultPeriod = 7 * 24 * time.Hour

// Config configures a Pruner. Zero values take the defaults.
type Config struct {
	// Period is how long an idempotency record is kept after its creation (DefaultPeriod).
	Period time.Duration
	// Interval is the time between two passes (1 hour).
	Interval time.Duration
	// Batch is how many records one transaction deletes at most (1000).
	Batch  int
	Now    func() time.Time
	Logger *slog.Logger
}

// Pruner deletes expired idempotency records periodically. Several replicas may each run
// one: the deletions are idempotent.
type Pruner struct {
	st  store.Store
	cfg Config

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Pruner over st; it does nothing until Start.
func New(st store.Store, cfg Config) (*Pruner, error) {
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Period < 0 || cfg.Interval < 0 || cfg.Batch < 0 {
		return nil, errors.New("retention: period, interval and batch must not be negative")
	}
	return &Pruner{st: st, cfg: cfg}, nil
}

// Prune runs one pass: it deletes every idempotency record created more than Period before
// now, Batch records a transaction, and returns how many it deleted.
func (p *Pruner) Prune(ctx context.Context) (int64, error) {
	before := p.cfg.Now().Add(-p.cfg.Period)
	var total int64
	for {
		var n int64
		err := p.st.Tx(ctx, func(tx store.Tx) (err error) {
			n, err = tx.DeleteIdempotencyKeysBefore(ctx, before, p.cfg.Batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delete idempotency records before %s: %w", before.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(p.cfg.Batch) {
			return total, nil
		}
	}
}

// Start runs a pass at once and then every Interval until ctx ends or Stop is called.
// Calling it on a started Pruner does nothing.
func (p *Pruner) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go p.loop(ctx, p.done)
}

// Stop ends the loop and waits for it; it is idempotent.
func (p *Pruner) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (p *Pruner) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		n, err := p.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.cfg.Logger.Warn("retention pass failed; retrying at the next interval", "err", err)
		case n > 0:
			p.cfg.Logger.Info("deleted expired idempotency records", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
