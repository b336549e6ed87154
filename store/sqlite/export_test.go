package sqlite

import (
	"context"

	"github.com/chainpay/chainpay/store/sqldb"
)

// OpenTraced is Open with trace called with every statement (and its arguments, converted
// as the driver sends them) before it runs. It exists for the query plan guard test.
func OpenTraced(path string, trace func(query string, args []any)) (*sqldb.DB, error) {
	d, err := open(path)
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
