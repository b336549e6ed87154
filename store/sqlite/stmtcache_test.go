package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTestDriver(t *testing.T) *driver {
	t.Helper()
	d, err := open(filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (c *stmtCache) cached(q string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q] != nil
}

// waitCached waits for the background prepare of q.
func waitCached(t *testing.T, c *stmtCache, q string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !c.cached(q); {
		if time.Now().After(deadline) {
			t.Fatalf("%q never cached", q)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStmtCacheRepeatedQueriesRunPrepared: a query is cached from its second use; once
// prepared, reads and writes through it give the same results as unprepared ones, in read
// and write transactions.
func TestStmtCacheRepeatedQueriesRunPrepared(t *testing.T) {
	d := openTestDriver(t)
	ctx := context.Background()
	w, err := d.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(ctx, `CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	// The table exists for other connections (where statements are prepared) once committed.
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if w, err = d.Begin(ctx, false); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO kv (k, v) VALUES (?, ?)`
	for i := range 50 {
		if n, err := w.Exec(ctx, ins, i, fmt.Sprint("v", i)); err != nil || n != 1 {
			t.Fatalf("insert %d: %d rows, %v", i, n, err)
		}
		if i == 1 {
			waitCached(t, d.stmts, ins) // the rest run prepared
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	const sel = `SELECT v FROM kv WHERE k = ?`
	for i := range 50 {
		r, err := d.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := r.QueryRow(ctx, sel, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("read %d: %q, %v", i, v, err)
		}
		if err := r.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			waitCached(t, d.stmts, sel)
		}
	}
	if d.stmts.cached(`CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)`) {
		t.Fatal("a statement run once was cached")
	}
}

// TestStmtCacheNoDeadlockWithEveryConnectionHeld: with every pooled connection held by a
// read transaction that runs a new query twice (which starts its prepare), every one of them
// still finishes: the prepare waits for a free connection in the background, never inside
// a transaction.
func TestStmtCacheNoDeadlockWithEveryConnectionHeld(t *testing.T) {
	d := openTestDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const pool = 4 // SetMaxOpenConns in open
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, pool)
	held := make(chan struct{}, pool)
	for g := range pool {
		wg.Go(func() {
			r, err := d.Begin(ctx, true)
			if err != nil {
				errs <- err
				return
			}
			defer r.Rollback(ctx)
			held <- struct{}{}
			<-start // every connection is held now
			q := fmt.Sprintf("SELECT %d + ?", g)
			for i := range 3 {
				var n int
				if err := r.QueryRow(ctx, q, i).Scan(&n); err != nil || n != g+i {
					errs <- fmt.Errorf("goroutine %d: %d, %v", g, n, err)
					return
				}
			}
		})
	}
	for range pool {
		<-held
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitCached(t, d.stmts, "SELECT 0 + ?") // the prepares ran once connections were free
}

// TestStmtCacheBounded: at most maxCachedStmts query texts are kept.
func TestStmtCacheBounded(t *testing.T) {
	d := openTestDriver(t)
	ctx := context.Background()
	r, err := d.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Rollback(ctx)
	for i := range maxCachedStmts + 100 {
		for range 2 {
			var n int
			if err := r.QueryRow(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
				t.Fatalf("%d: %d, %v", i, n, err)
			}
		}
	}
	d.stmts.wg.Wait()
	d.stmts.mu.Lock()
	n := len(d.stmts.stmts)
	d.stmts.mu.Unlock()
	if n != maxCachedStmts {
		t.Fatalf("%d statements cached, want the bound %d", n, maxCachedStmts)
	}
}
