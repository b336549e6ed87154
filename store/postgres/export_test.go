package postgres

import (
	"context"

	"github.com/chainpay/chainpay/store/sqldb"
)

// OpenTraced is Open with trace called with every statement (and its arguments, converted
// as the driver sends them) before it runs. It exists for the EXPLAIN guard test.
func OpenTraced(ctx context.Context, url string, trace func(query string, args []any)) (*sqldb.DB, error) {
	d, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	return sqldb.New(&tracedDriver{driver: d, trace: trace}), nil
}

type tracedDriver struct {
	*driver
	trace func(string, []any)
}

func (d *tracedDriver) Begin(ctx context.Context, readOnly bool) (sqldb.Conn, error) {
	c, err := d.driver.Begin(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	return &tracedConn{Conn: c, trace: d.trace}, nil
}

type tracedConn struct {
	sqldb.Conn
	trace func(string, []any)
}

func (c *tracedConn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	c.trace(q, args(a))
	return c.Conn.Exec(ctx, q, a...)
}

func (c *tracedConn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	c.trace(q, args(a))
	return c.Conn.Query(ctx, q, a...)
}

func (c *tracedConn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	c.trace(q, args(a))
	return c.Conn.QueryRow(ctx, q, a...)
}

// OpenCounted is Open with done called at the end of every transaction (commit or
// rollback) with the statements it sent, deferred ones included, in order, and the round
// trips they took: one per statement the caller waited for (Exec, Query, QueryRow; each
// carries the deferred ones before it), plus the COMMIT when anything is left to send.
func OpenCounted(ctx context.Context, url string, done func(statements []string, roundTrips int)) (*sqldb.DB, error) {
	d, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	return sqldb.New(&countedDriver{driver: d, done: done}), nil
}

type countedDriver struct {
	*driver
	done func([]string, int)
}

func (d *countedDriver) Begin(ctx context.Context, readOnly bool) (sqldb.Conn, error) {
	c, err := d.driver.Begin(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, d: c.(sqldb.Deferrer), done: d.done}, nil
}

type countedConn struct {
	sqldb.Conn
	d       sqldb.Deferrer
	done    func([]string, int)
	stmts   []string
	trips   int
	pending bool // statements deferred since the last round trip
	ended   bool // done was called (a failed COMMIT is followed by a Rollback)
}

func (c *countedConn) Defer(q string, a ...any) {
	c.stmts, c.pending = append(c.stmts, q), true
	c.d.Defer(q, a...)
}

func (c *countedConn) sent(q string) {
	c.stmts, c.trips, c.pending = append(c.stmts, q), c.trips+1, false
}

func (c *countedConn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	c.sent(q)
	return c.Conn.Exec(ctx, q, a...)
}

func (c *countedConn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	c.sent(q)
	return c.Conn.Query(ctx, q, a...)
}

func (c *countedConn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	c.sent(q)
	return c.Conn.QueryRow(ctx, q, a...)
}

func (c *countedConn) Commit(ctx context.Context) error {
	if c.trips > 0 || c.pending {
		c.sent("commit")
	}
	c.end()
	return c.Conn.Commit(ctx)
}

func (c *countedConn) Rollback(ctx context.Context) error {
	c.end()
	return c.Conn.Rollback(ctx)
}

func (c *countedConn) end() {
	if !c.ended {
		c.ended = true
		c.done(c.stmts, c.trips)
	}
}
