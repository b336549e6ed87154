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

func (d *driver) Begin(ctx context.Context, readOnly bool) (sqldb.Conn, error) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	t, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &conn{t: t}, nil
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

type conn struct{ t pgx.Tx }

func (c *conn) Exec(ctx context.Context, q string, a ...any) (int64, error) {
	tag, err := c.t.Exec(ctx, q, args(a)...)
	return tag.RowsAffected(), err
}

func (c *conn) Query(ctx context.Context, q string, a ...any) (sqldb.Rows, error) {
	r, err := c.t.Query(ctx, q, args(a)...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c *conn) QueryRow(ctx context.Context, q string, a ...any) sqldb.Row {
	return c.t.QueryRow(ctx, q, args(a)...)
}

func (c *conn) Commit(ctx context.Context) error   { return c.t.Commit(ctx) }
func (c *conn) Rollback(ctx context.Context) error { return c.t.Rollback(ctx) }
