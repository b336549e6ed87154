package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/chainpay/chainpay/store"
)

// errCrash is what every store call returns once the simulated process has crashed, until
// the simulation rebuilds the components from the store.
var errCrash = errors.New("sim: process crashed")

// storeFault is what the faulty store does at one write transaction.
type storeFault int

const (
	faultNone        storeFault = iota
	faultRetry                  // the closure runs, the store reports busy, it runs again and commits
	faultBusy                   // the transaction fails with store.ErrBusy (retries exhausted)
	faultCrashBefore            // the process dies before the transaction commits
	faultCrashAfter             // the process dies after the commit, before the caller learns of it
)

func (f storeFault) String() string {
	return [...]string{"none", "retried closure", "busy", "crash before commit", "crash after commit"}[f]
}

// faultyStore wraps the real store of the simulated process. Write transactions take their
// fault from plan (asked once per transaction, in order); after a crash every call fails.
type faultyStore struct {
	store.Store
	plan    func() storeFault
	crashed bool
	// onFault, when set, is told of every fault injected (for the trace).
	onFault func(storeFault)
	// mu guards committed, which is closed (and replaced) at every commit.
	mu        sync.Mutex
	committed chan struct{}
	// writes counts the write transactions begun: while it stands still, the store's
	// money-path state does (the deliverer writes only its deliveries, through the raw store).
	writes atomic.Int64
	// guardOff injects Bugs.ConfigGuardOff.
	guardOff bool
}

// unguardedTx is a transaction whose configuration guard lets everything through
// (Bugs.ConfigGuardOff).
type unguardedTx struct{ store.Tx }

func (unguardedTx) GuardMerchantConfig(context.Context, string, int64) error { return nil }

// commits returns a channel closed at the next commit.
func (s *faultyStore) commits() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed == nil {
		s.committed = make(chan struct{})
	}
	return s.committed
}

func (s *faultyStore) signal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed != nil {
		close(s.committed)
		s.committed = nil
	}
}

func (s *faultyStore) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.crashed {
		return errCrash
	}
	return s.Store.View(ctx, fn)
}

func (s *faultyStore) Tx(ctx context.Context, fn func(store.Tx) error) error {
	if s.guardOff {
		inner := fn
		fn = func(tx store.Tx) error { return inner(unguardedTx{tx}) }
	}
	s.writes.Add(1)
	defer s.signal()
	if s.crashed {
		return errCrash
	}
	f := s.plan()
	if f != faultNone && s.onFault != nil {
		s.onFault(f)
	}
	switch f {
	case faultBusy:
		return fmt.Errorf("sim: %w", store.ErrBusy)
	case faultCrashBefore:
		s.crashed = true
		return errCrash
	case faultRetry:
		first := true
		return s.Store.Tx(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if first {
				first = false
				return fmt.Errorf("sim: serialization failure: %w", store.ErrBusy)
			}
			return nil
		})
	case faultCrashAfter:
		err := s.Store.Tx(ctx, fn)
		s.crashed = true
		if err != nil {
			return err
		}
		return errCrash
	}
	return s.Store.Tx(ctx, fn)
}
