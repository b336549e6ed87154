package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one prepared *sql.Stmt per query text that the store runs repeatedly, so
// SQLite parses and plans each statement once per pooled connection instead of on every call
// (parsing was about 40% of the simulator's CPU). database/sql prepares a cached statement
// lazily on each connection a transaction uses it on (Tx.StmtContext) and keeps it there.
//
// A query is cached from its second use on (migrations and one-off scripts are not), and
// at most maxCachedStmts texts are kept (queries built with IN lists of varying length
// would otherwise grow the cache without bound). A statement is first prepared in the
// background, on a connection of its own: preparing it from inside a transaction would need
// a second connection while holding one, and with every pooled connection held by such
// transactions that would wait for ever. Until it is ready, calls run the text unprepared,
// exactly as without the cache.
type stmtCache struct {
	db *sql.DB

	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	seen    map[string]bool // used once, not yet cached
	pending map[string]bool // being prepared
	closed  bool
	wg      sync.WaitGroup
}

const maxCachedStmts = 1024

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, seen: map[string]bool{}, pending: map[string]bool{}}
}

// get returns the prepared statement for q, or nil when q is not (yet) cached.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.stmts[q]; s != nil {
		return s
	}
	if c.closed || c.pending[q] || len(c.stmts)+len(c.pending) >= maxCachedStmts {
		return nil
	}
	if !c.seen[q] {
		if len(c.seen) >= maxCachedStmts {
			clear(c.seen)
		}
		c.seen[q] = true
		return nil
	}
	delete(c.seen, q)
	c.pending[q] = true
	c.wg.Go(func() { c.prepare(q) })
	return nil
}

func (c *stmtCache) prepare(q string) {
	s, err := c.db.PrepareContext(context.Background(), q)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, q)
	if err != nil {
		return // run unprepared; a later use tries again
	}
	if c.closed {
		s.Close()
		return
	}
	c.stmts[q] = s
}

// close stops caching and closes the cached statements. The database must be closed first
// or concurrently: that ends background prepares waiting for a connection.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stmts {
		s.Close()
	}
	clear(c.stmts)
}

// txExecer runs statements in t, through the cache where a prepared statement is ready.
type txExecer struct {
	t     *sql.Tx
	cache *stmtCache
}

func (e txExecer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := e.cache.get(q); s != nil {
		return e.t.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return e.t.ExecContext(ctx, q, args...)
}

func (e txExecer) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := e.cache.get(q); s != nil {
		return e.t.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return e.t.QueryContext(ctx, q, args...)
}

func (e txExecer) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := e.cache.get(q); s != nil {
		return e.t.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return e.t.QueryRowContext(ctx, q, args...)
}
