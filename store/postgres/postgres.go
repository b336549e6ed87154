// Package postgres is the production backend of the store contract, on a pgx/v5 connection
// pool. Several chainpay replicas may share one database: queue claims use
// FOR UPDATE SKIP LOCKED and migrations take an advisory lock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the advisory lock key that serialises concurrent `chainpay migrate` runs.
const migrationLockID = 0x636861696e706179 // "chainpay"

// Open connects to the database at url (postgres://...) and returns the store.
func Open(ctx context.Context, url string) (*sqldb.DB, error) {
	d, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	return sqldb.New(d), nil
}

// open connects the driver's pool.
func open(ctx context.Context, url string) (*driver, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &driver{pool: pool}, nil
}

type driver struct{ pool *pgxpool.Pool }

var _ sqldb.Driver = (*driver)(nil)

func (d *driver) Name() string { return "postgres" }

// Begin starts a transaction lazily: it takes a pooled connection but sends nothing. BEGIN
// travels with the transaction's first statement, writes the caller defers travel with the
// next statement or with COMMIT, and a transaction made only of deferred writes costs one
// round trip (BEGIN, the writes and COMMIT in one pipeline).
func (d *driver) Begin(ctx context.Context, readOnly bool) (sqldb.Conn, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	begin := "begin isolation level read committed"
	if readOnly {
		begin += " read only"
	}
	return &conn{c: c, begin: begin}, nil
}

func (d *driver) Translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s (%s)", store.ErrConflict, pe.Message, pe.ConstraintName)
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %s", store.ErrBusy, pe.Message)
		case "CP001": // merchant_config_guard (migration 0021)
			return store.ErrConfigChanged
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

func (d *driver) LockMigrations(ctx context.Context, c sqldb.Conn) error {
	_, err := c.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID))
	return err
}

func (d *driver) SkipLocked() string { return "FOR UPDATE SKIP LOCKED" }
func (d *driver) Arrays() bool       { return true }

// FeedHorizon is the oldest transaction still running: every transaction with a smaller id
// has committed or rolled back, so no feed row can appear below it any more. The horizon is
// cluster-wide: a write transaction left open anywhere on the server holds it back (the
// feeds then re-read what is above it; nothing is skipped).
func (d *driver) FeedHorizon(string) string {
	return `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
}
func (d *driver) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }
func (d *driver) Close() error                   { d.pool.Close(); return nil }

func args(in []any) []any {
	out := make([]any, len(in))
	for i, a := range in {
		out[i] = sqldb.Arg(a)
	}
	return out
}

// conn is one transaction on one pooled connection, pipelined: BEGIN is sent with the first
// statement, deferred writes with the next statement or COMMIT, each group as one pgx batch
// (one round trip once its statements are prepared).
type conn struct {
	c      *pgxpool.Conn // nil once the transaction ended
	begin  string
	begun  bool // BEGIN was sent
	queued []queued
}

type queued struct {
	q    string
	args []any
}

var _ sqldb.Deferrer = (*conn)(nil)

// Defer implements sqldb.Deferrer.
func (c *conn) Defer(q string, a ...any) { c.queued = append(c.queued, queued{q, args(a)}) }

// send queues BEGIN (first time), the deferred writes and then last, sends them as one
// batch and reads the results of everything before last. The caller reads last's result
// from the returned batch and closes it.
func (c *conn) send(ctx context.Context, last string, lastArgs []any) (pgx.BatchResults, error) {
	if c.c == nil {
		return nil, errors.New("postgres: transaction already ended")
	}
	b := &pgx.Batch{}
	pre := 0
	if !c.begun {
		b.Queue(c.begin)
		pre++
		c.begun = true
	}
	for _, w := range c.queued {
		b.Queue(w.q, w.args...)
		pre++
	}
	c.queued = c.queued[:0]
	b.Queue(last, lastArgs...)
	br := c.c.SendBatch(ctx, b)
	for range pre {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (c *conn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	br, err := c.send(ctx, q, args(a))
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (c *conn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	br, err := c.send(ctx, q, args(a))
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: r, br: br}, nil
}

func (c *conn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	br, err := c.send(ctx, q, args(a))
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// Commit sends the deferred writes and COMMIT in one batch; a transaction that sent
// nothing ends without a round trip. The connection goes back to the pool either way.
func (c *conn) Commit(ctx context.Context) error {
	if c.c == nil {
		return errors.New("postgres: transaction already ended")
	}
	if !c.begun && len(c.queued) == 0 {
		c.release()
		return nil
	}
	_, err := c.Exec(ctx, "commit")
	if err != nil {
		c.rollback(ctx)
		return err
	}
	c.release()
	return nil
}

// Rollback ends the transaction; deferred writes that were never sent are dropped.
func (c *conn) Rollback(ctx context.Context) error {
	if c.c == nil {
		return nil
	}
	c.rollback(ctx)
	return nil
}

// rollback ends whatever transaction the connection is in and releases it. A connection
// left inside a transaction (the ROLLBACK failed) is destroyed by the pool on release.
func (c *conn) rollback(ctx context.Context) {
	c.queued = nil
	if c.begun && c.c.Conn().PgConn().TxStatus() != 'I' {
		_, _ = c.c.Exec(context.WithoutCancel(ctx), "rollback")
	}
	c.release()
}

func (c *conn) release() {
	c.c.Release()
	c.c = nil
}

// batchRows closes the batch after the rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
