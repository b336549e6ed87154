package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite})
}

// TestCanceledReadLeavesNoOpenTransaction cancels read transactions at many moments of their
// start, as a client that goes away does, and requires every pooled connection to start a
// new one afterwards: a read whose BEGIN ran but reported the cancellation (modernc reports
// the context's error for a statement the cancellation raced with) must not go back to the
// pool inside its transaction. The simulator's seed 100748 at 60 steps failed so on a loaded
// machine ("cannot start a transaction within a transaction"): a follower's read-ahead read,
// canceled as its step ended, left a connection inside a read transaction for good.
func TestCanceledReadLeavesNoOpenTransaction(t *testing.T) {
	st := storetest.SQLite(t)
	bg := context.Background()
	for round := range 40 {
		for k := range 2000 {
			ctx := &cancelAfter{Context: bg, calls: k % 8, done: make(chan struct{})}
			_ = st.View(ctx, func(tx store.Tx) error {
				_, err := tx.Cursor(ctx, "bitcoin")
				return err
			})
		}
		// The pool holds 4 connections: eight concurrent reads use every one of them.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				errs <- st.View(bg, func(tx store.Tx) error {
					_, err := tx.Cursor(bg, "bitcoin")
					if errors.Is(err, store.ErrNotFound) {
						err = nil
					}
					time.Sleep(5 * time.Millisecond) // hold the connection while the others start
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a read after canceled reads: %v", round, err)
			}
		}
	}
}

// cancelAfter is a context canceled by its own Done: the calls-th call and every later one
// return a closed channel, so the cancellation lands at a chosen point of a call.
type cancelAfter struct {
	context.Context
	mu    sync.Mutex
	calls int
	done  chan struct{}
}

func (c *cancelAfter) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == 0 {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
	c.calls--
	return c.done
}

func (c *cancelAfter) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestUpgradeConfirmedAt migrates a database that has payments from before migration 0016.
func TestUpgradeConfirmedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chainpay.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	storetest.UpgradeConfirmedAt(t, st, func(t *testing.T) {
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, q := range []string{`ALTER TABLE payments DROP COLUMN confirmed_at`, `DELETE FROM schema_migrations WHERE version = 16`} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
