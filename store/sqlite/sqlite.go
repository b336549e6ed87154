// Package sqlite is the embedded default backend of the store contract: modernc.org/sqlite
// (pure Go, no cgo) in WAL mode with a busy timeout and foreign keys on. It is meant for one
// chainpay process; run several replicas on store/postgres.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Open opens (creating if needed) the database file at path and returns the store. The
// directory is created when missing.
func Open(path string) (*sqldb.DB, error) {
	d, err := open(path)
	if err != nil {
		return nil, err
	}
	return sqldb.New(d), nil
}

func open(path string) (*driver, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; a small pool serves concurrent readers.
	db.SetMaxOpenConns(4)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &driver{db: db, stmts: newStmtCache(db)}, nil
}

type driver struct {
	db    *sql.DB
	stmts *stmtCache
}

var _ sqldb.Driver = (*driver)(nil)

func (d *driver) Name() string { return "sqlite" }

func (d *driver) Begin(ctx context.Context, readOnly bool) (sqldb.Conn, error) {
	// _txlock=immediate makes every BeginTx a BEGIN IMMEDIATE; read-only transactions
	// are plain deferred ones so readers never wait for the write lock.
	if readOnly {
		c, err := d.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		t, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			// A BEGIN that ran can still report the context's end (modernc reports ctx.Err()
			// for a statement a cancellation raced with): never hand the connection back
			// inside it. Without a transaction the ROLLBACK fails harmlessly.
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			c.Close()
			return nil, err
		}
		return &roConn{c: c, t: t, stmts: d.stmts}, nil
	}
	t, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &conn{t: t, stmts: d.stmts}, nil
}

func (d *driver) Translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", store.ErrBusy, err)
		case sqlite3.SQLITE_CONSTRAINT:
			switch se.Code() {
			case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				return fmt.Errorf("%w: %v", store.ErrConflict, err)
			}
		}
	}
	return err
}

func (d *driver) Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

func (d *driver) LockMigrations(context.Context, sqldb.Conn) error { return nil }
func (d *driver) SkipLocked() string                               { return "" }
func (d *driver) Arrays() bool                                     { return false }

// FeedHorizon is the table's largest feed number plus one: writers run one at a time and
// take their numbers inside their transactions, so every committed row is final.
func (d *driver) FeedHorizon(table string) string {
	return `SELECT COALESCE(MAX(feed_xid), 0) + 1 FROM ` + table
}
func (d *driver) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }
func (d *driver) Close() error {
	err := d.db.Close() // ends background prepares waiting for a connection
	d.stmts.close()
	return err
}

func args(in []any) []any {
	out := make([]any, len(in))
	for i, a := range in {
		a = sqldb.Arg(a)
		if t, ok := a.(interface{ UnixMicro() int64 }); ok {
			a = t.UnixMicro() // times are INTEGER unix microseconds in SQLite
		}
		out[i] = a
	}
	return out
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type base struct{ e execer }

func (b base) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	res, err := b.e.ExecContext(ctx, q, args(a)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (b base) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	r, err := b.e.QueryContext(ctx, q, args(a)...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (b base) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	return b.e.QueryRowContext(ctx, q, args(a)...)
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

// conn is a write transaction (BEGIN IMMEDIATE).
type conn struct {
	t     *sql.Tx
	stmts *stmtCache
}

func (c *conn) ex() base { return base{txExecer{c.t, c.stmts}} }

func (c *conn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	return c.ex().Exec(ctx, q, a...)
}
func (c *conn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	return c.ex().Query(ctx, q, a...)
}
func (c *conn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	return c.ex().QueryRow(ctx, q, a...)
}
func (c *conn) Commit(context.Context) error   { return c.t.Commit() }
func (c *conn) Rollback(context.Context) error { return c.t.Rollback() }

// roConn is a read-only (deferred) transaction on a connection held for its whole life, so
// that whatever ends the transaction, the connection goes back to the pool outside it.
type roConn struct {
	c     *sql.Conn
	t     *sql.Tx
	stmts *stmtCache
}

func (c *roConn) ex() base { return base{txExecer{c.t, c.stmts}} }

func (c *roConn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	return c.ex().Exec(ctx, q, a...)
}
func (c *roConn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	return c.ex().Query(ctx, q, a...)
}
func (c *roConn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	return c.ex().QueryRow(ctx, q, a...)
}

// Commit ends the read transaction. One that database/sql already rolled back because its
// context ended (sql.ErrTxDone) has nothing left to commit: its reads stand. After any
// failure a ROLLBACK runs on the held connection, so no connection ever goes back to the
// pool inside a transaction.
func (c *roConn) Commit(ctx context.Context) error {
	err := c.t.Commit()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		_, _ = c.c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	}
	c.c.Close()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil
	}
	return err
}

// Rollback ends the read transaction, even when ctx is already canceled.
func (c *roConn) Rollback(ctx context.Context) error {
	err := c.t.Rollback()
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		_, _ = c.c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	}
	c.c.Close()
	if errors.Is(err, sql.ErrTxDone) {
		err = nil // already rolled back when its context ended
	}
	return err
}
