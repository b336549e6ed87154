package storetest

import (
	"context"
	"errors"

	"github.com/chainpay/chainpay/store"
)

// RetryTwice wraps s so that every Tx closure runs twice: the first run's transaction is
// rolled back after the closure succeeded (as if the commit had failed with a
// serialization error and the store retried), then the closure runs again and commits. A
// closure that changes anything outside the database (in-memory state, counters) shows
// the double effect, so tests of retry-safe code run their stores through it.
func RetryTwice(s store.Store) store.Store { return retryTwice{s} }

type retryTwice struct{ store.Store }

// errRetryOnPurpose rolls back the first run of a closure.
var errRetryOnPurpose = errors.New("storetest: rolled back on purpose to run the closure again")

// Tx implements store.Store.
func (r retryTwice) Tx(ctx context.Context, fn func(store.Tx) error) error {
	err := r.Store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRetryOnPurpose
	})
	if !errors.Is(err, errRetryOnPurpose) {
		return err
	}
	return r.Store.Tx(ctx, fn)
}
