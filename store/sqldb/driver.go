// Package sqldb implements the store contract once, in SQL that runs unchanged on SQLite and
// Postgres, over a small Driver that each backend provides. Statements use $N placeholders
// (both databases accept them); the few places where the dialects differ ask the driver.
package sqldb

import (
	"context"
	"io/fs"
)

// Driver is what a backend provides: transactions, error translation and its migrations.
type Driver interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Begin starts a transaction. Write transactions on SQLite take the write lock at once
	// (BEGIN IMMEDIATE) so they never fail half-way on a lock upgrade.
	Begin(ctx context.Context, readOnly bool) (Conn, error)
	// Translate maps a driver error to store.ErrConflict / store.ErrBusy (wrapped), or
	// returns it unchanged.
	Translate(err error) error
	// Migrations holds the dialect's numbered migration files (0001_name.sql, ...).
	Migrations() fs.FS
	// LockMigrations serialises concurrent migrators inside conn's transaction (a no-op
	// where the database already serialises writers).
	LockMigrations(ctx context.Context, conn Conn) error
	// SkipLocked is the row-locking clause for claiming queue rows ("" on SQLite, where a
	// write transaction already excludes every other writer).
	SkipLocked() string
	// FeedHorizon is a query returning the horizon of the commit-ordered feed of table (see
	// store.FeedPos): on Postgres the oldest running transaction id, on SQLite the table's
	// largest feed number plus one.
	FeedHorizon(table string) string
	// Arrays reports whether a List argument binds as one array parameter (`= ANY($n)`,
	// Postgres); otherwise lists expand into IN lists of one parameter per value (SQLite).
	Arrays() bool
	Ping(ctx context.Context) error
	Close() error
}

// Conn is one open transaction. Arguments of type time.Time, *time.Time and *big.Int are
// accepted and converted by the driver.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Deferrer is implemented by a Conn that can hold writes whose result the caller does not
// need and send them with its next statement or with COMMIT (a pipeline: Postgres). An
// error of a deferred write is returned by that later call. A Conn without it executes
// every write at once (SQLite, in process).
type Deferrer interface {
	Defer(query string, args ...any)
}

// Rows iterates a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result; Scan returns a driver "no rows" error translated by the
// driver into store.ErrNotFound.
type Row interface {
	Scan(dest ...any) error
}
