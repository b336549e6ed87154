package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/chainpay/chainpay/store"
)

// RelayConfig configures a Relay. Zero fields take the defaults in brackets.
type RelayConfig struct {
	// Holder names this relay in outbox leases [a new random id].
	Holder string
	// BatchSize is how many records one claim takes [16].
	BatchSize int
	// PostTimeout bounds one Sink.Post [30 s].
	PostTimeout time.Duration
	// Lease is how long a claim is held before another relay may take the records over
	// [BatchSize × PostTimeout + 30 s]. A relay that dies mid-batch delays its records by
	// at most this long; they are then posted again (sinks dedupe).
	Lease time.Duration
	// PollInterval is the wait between claims when the outbox is drained [1 s].
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a retryable failure: attempt n
	// waits MinBackoff × 2^(n−1), capped at MaxBackoff, with "equal jitter" (half fixed, half
	// random) [2 s, 1 h].
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock [time.Now]. Lease and retry times come from it.
	Now func() time.Time
	// Jitter returns a uniform random duration in [0, d) [math/rand/v2].
	Jitter func(d time.Duration) time.Duration
	// Logger [slog.Default()].
	Logger *slog.Logger
}

// Relay delivers the ledger outbox to a Sink at least once: it claims due records (with a
// lease; concurrent relays on Postgres never claim the same record), posts each, and marks
// it delivered. A payment's records are delivered in the order of its books: the n-th is
// not claimed before the (n−1)-th is delivered, so a reversal or a clearing never reaches
// the sink before the record it undoes (a parked record holds back the payment's later
// ones until it is retried). Retryable failures are rescheduled with exponential backoff and jitter;
// conflicts and invalid records are parked for a human (Parked, Retry). Because sinks dedupe
// on the idempotency key, at-least-once delivery is exactly-once in the sink.
type Relay struct {
	st   store.Store
	sink Sink
	cfg  RelayConfig
	log  *slog.Logger

	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRelay returns a relay over st posting to sink. It does not start it.
func NewRelay(st store.Store, sink Sink, cfg RelayConfig) (*Relay, error) {
	if st == nil || sink == nil {
		return nil, errors.New("ledger relay: a store and a sink are required")
	}
	if cfg.Holder == "" {
		cfg.Holder = store.NewID("relay", time.Now())
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 16
	}
	if cfg.PostTimeout <= 0 {
		cfg.PostTimeout = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Duration(cfg.BatchSize)*cfg.PostTimeout + 30*time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("ledger relay: MaxBackoff %s below MinBackoff %s", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(d)))
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Relay{st: st, sink: sink, cfg: cfg, log: log.With("component", "ledger.relay", "holder", cfg.Holder),
		wake: make(chan struct{}, 1)}, nil
}

// Start runs the relay loop in a goroutine until ctx ends or Stop is called. Starting a
// running relay does nothing.
func (r *Relay) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(ctx, r.done)
}

// Stop stops the loop and waits for it to return. It may be called any number of times.
// A record posted but not yet marked delivered when the relay stops is posted again by the
// next claim after its lease (the sink reports a replay).
func (r *Relay) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Wake makes a running relay claim now instead of at its next poll (call it after
// committing a transaction that enqueued records). It never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		n, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("ledger relay: claim failed", "err", err)
		}
		wait := r.cfg.PollInterval
		if err == nil && n > 0 {
			// More may be due: a full batch, or the next records of the payments just
			// delivered (a payment's records are claimed one at a time, in order).
			wait = 0
		}
		t.Reset(wait)
	}
}

// RunOnce claims one batch of due records and handles each; it returns how many it
// claimed. Errors finishing a record (the database went away) are logged, not returned:
// the record's lease expires and a later claim retries it.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	now := r.cfg.Now()
	var msgs []store.OutboxMessage
	err := r.st.Tx(ctx, func(tx store.Tx) error {
		var err error
		msgs, err = tx.ClaimDueInOrder(ctx, Topic, r.cfg.Holder, now, now.Add(r.cfg.Lease), r.cfg.BatchSize)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ledger relay: claim: %w", err)
	}
	for _, m := range msgs {
		if ctx.Err() != nil {
			break
		}
		r.handle(ctx, m)
	}
	return len(msgs), nil
}

func (r *Relay) handle(ctx context.Context, m store.OutboxMessage) {
	log := r.log.With("outbox_id", m.ID, "key", m.Key, "attempt", m.Attempts)
	rec, err := ParseRecord([]byte(m.Payload))
	if err == nil && rec.IdempotencyKey != m.Key {
		err = fmt.Errorf("%w: payload key %q differs from outbox key %q", ErrInvalid, rec.IdempotencyKey, m.Key)
	}
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, r.cfg.PostTimeout)
		var res Result
		res, err = r.sink.Post(pctx, rec)
		cancel()
		if err == nil {
			if err := r.finish(ctx, func(tx store.Tx) error { return tx.MarkDelivered(ctx, m.ID, r.cfg.Holder, r.cfg.Now()) }); err != nil {
				log.Warn("ledger relay: posted but could not mark delivered; will post again after the lease", "err", err)
				return
			}
			log.Debug("ledger relay: delivered", "replayed", res.Replayed)
			return
		}
	}
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
		log.Error("ledger relay: parked", "err", err)
		if ferr := r.finish(ctx, func(tx store.Tx) error { return tx.Park(ctx, m.ID, r.cfg.Holder, err.Error()) }); ferr != nil {
			log.Warn("ledger relay: could not park", "err", ferr)
		}
		return
	}
	next := r.cfg.Now().Add(r.backoff(m.Attempts))
	log.Warn("ledger relay: post failed, retrying", "err", err, "next", next)
	if ferr := r.finish(ctx, func(tx store.Tx) error { return tx.Reschedule(ctx, m.ID, r.cfg.Holder, next, err.Error()) }); ferr != nil {
		log.Warn("ledger relay: could not reschedule", "err", ferr)
	}
}

func (r *Relay) finish(ctx context.Context, fn func(store.Tx) error) error {
	return r.st.Tx(ctx, fn)
}

// backoff is the delay before attempt+1: MinBackoff × 2^(attempt−1) capped at MaxBackoff,
// half of it fixed and half jittered.
func (r *Relay) backoff(attempt int) time.Duration {
	d := r.cfg.MinBackoff
	for i := 1; i < attempt && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	return d/2 + r.cfg.Jitter(d-d/2)
}

// Parked lists the parked (dead-lettered) ledger records, oldest first; LastError says why.
func (r *Relay) Parked(ctx context.Context) ([]store.OutboxMessage, error) {
	var out []store.OutboxMessage
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.OutboxMessages(ctx, Topic, store.OutboxParked)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger relay: list parked: %w", err)
	}
	return out, nil
}

// Retry re-queues a parked record, due now, after its cause was fixed (the conflicting
// record removed from the merchant's ledger, the merchant created, ...). The payload is not
// changed: a record is never re-priced. ErrNotFound when no parked record has the id.
func (r *Relay) Retry(ctx context.Context, id string) error {
	err := r.st.Tx(ctx, func(tx store.Tx) error { return tx.RequeueOutbox(ctx, Topic, id, r.cfg.Now()) })
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ledger relay: retry %s: no parked ledger record with this id: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("ledger relay: retry %s: %w", id, err)
	}
	r.Wake()
	return nil
}
