package ledger

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// OrderedSink is a Ledger that enforces what an external ledger checking record order
// would: a record that reverses another (Reverses) is rejected unless that one was
// accepted, and a payment's records (metadata payment_sequence) must arrive as 1, 2, 3, ...
// with no gap and no second record at a position already taken. Replays of an accepted
// record pass through (delivery is at least once). A rejection wraps ErrInvalid, so the
// relay parks the record: tests assert that nothing is parked. Safe for concurrent use.
type OrderedSink struct {
	inner Ledger

	mu       sync.Mutex
	accepted map[string]bool  // idempotency keys accepted
	last     map[string]int64 // per source id: the highest payment_sequence accepted
}

var _ Ledger = (*OrderedSink)(nil)

// NewOrderedSink wraps inner.
func NewOrderedSink(inner Ledger) *OrderedSink {
	return &OrderedSink{inner: inner, accepted: map[string]bool{}, last: map[string]int64{}}
}

// Post checks rec's place in order, then posts it to the inner ledger.
func (o *OrderedSink) Post(ctx context.Context, rec Record) (Result, error) {
	o.mu.Lock()
	defer o.mu.Unlock() // one post at a time: the order check and the post are one step
	if !o.accepted[rec.IdempotencyKey] {
		if rec.Reverses != "" && !o.accepted[rec.Reverses] {
			return Result{}, fmt.Errorf("%w: %s reverses %s, which this ledger has not received", ErrInvalid, rec.IdempotencyKey, rec.Reverses)
		}
		if s, ok := rec.Metadata["payment_sequence"]; ok {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("%w: payment_sequence %q", ErrInvalid, s)
			}
			if last := o.last[rec.SourceID]; n != last+1 {
				return Result{}, fmt.Errorf("%w: %s is record %d of %s, the last received is %d (out of order or duplicate)",
					ErrInvalid, rec.IdempotencyKey, n, rec.SourceID, last)
			}
		}
	}
	res, err := o.inner.Post(ctx, rec)
	if err != nil {
		return res, err
	}
	if !o.accepted[rec.IdempotencyKey] {
		o.accepted[rec.IdempotencyKey] = true
		n := o.last[rec.SourceID] + 1 // a record from before the books were numbered takes the next place
		if s, ok := rec.Metadata["payment_sequence"]; ok {
			n, _ = strconv.ParseInt(s, 10, 64)
		}
		o.last[rec.SourceID] = max(o.last[rec.SourceID], n)
	}
	return res, nil
}

// Get returns a record from the inner ledger.
func (o *OrderedSink) Get(ctx context.Context, key string) (Record, error) {
	return o.inner.Get(ctx, key)
}
