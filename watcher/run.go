package watcher

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Runner runs a follower's Step on an interval, backing off with jitter while the node or
// the database fails, until Stop or its context ends. With a Notifier (WithNotifier) it also
// steps as soon as the node reports a new block: whichever comes first, the wake-up or the
// poll tick. Wake-ups are ignored while the runner backs off after a failed step.
type Runner struct {
	f        *Follower
	interval time.Duration
	notifier Notifier

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	status Status
}

// Status is what health and metrics report about a follower.
type Status struct {
	Height    int64
	LastError string
	LastOK    time.Time
	Failures  int
	Standby   bool // another replica holds the lease
}

// RunnerOption configures a Runner.
type RunnerOption func(*Runner)

// WithNotifier makes the runner step when n reports a new block, besides every interval.
func WithNotifier(n Notifier) RunnerOption {
	return func(r *Runner) { r.notifier = n }
}

// NewRunner returns a runner stepping f every interval (and on the wake-ups of a Notifier
// given with WithNotifier).
func NewRunner(f *Follower, interval time.Duration, opts ...RunnerOption) *Runner {
	r := &Runner{f: f, interval: interval}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Start launches the loop; calling it twice is a no-op.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.loop(ctx)
}

// Stop ends the loop and waits for it; it is idempotent.
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Status returns the follower's last known state.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := r.f.Release(rctx); err != nil {
			r.f.cfg.Logger.Warn("release follower lease", "err", err)
		}
	}()
	var wake <-chan struct{}
	if r.notifier != nil {
		ch, err := r.notifier.Subscribe(ctx)
		if err != nil {
			r.f.cfg.Logger.Warn("block notifications unavailable; polling only", "err", err)
		} else {
			wake = ch
			defer func() {
				for range ch { // the notifier closes ch once its goroutines have returned
				}
			}()
		}
	}
	backoff := r.interval
	for {
		wait := r.interval
		_, err := r.f.Step(ctx)
		r.mu.Lock()
		r.status.Standby = errors.Is(err, ErrNotLeader)
		if r.status.Standby {
			err = nil // another replica follows this chain; stay ready to take over
		}
		if err != nil && ctx.Err() == nil {
			r.status.LastError, r.status.Failures = err.Error(), r.status.Failures+1
			backoff = min(backoff*2, time.Minute)
			wait = backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
			r.f.cfg.Logger.Warn("follower step failed", "err", err, "retry_in", wait)
		} else if err == nil {
			r.status.LastError, r.status.Failures, r.status.LastOK = "", 0, time.Now()
			backoff = r.interval
		}
		r.mu.Unlock()
		woken := wake
		if err != nil {
			woken = nil // backing off: only the timer ends the wait
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case _, ok := <-woken:
			t.Stop()
			if !ok {
				wake = nil
				r.f.cfg.Logger.Info("block notifications ended; polling only")
			}
		}
	}
}
