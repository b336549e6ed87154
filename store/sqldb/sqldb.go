package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
)

// DB implements store.Store over a Driver.
type DB struct {
	d          Driver
	maxRetries int
}

var _ store.Store = (*DB)(nil)

// New returns a store over d.
func New(d Driver) *DB { return &DB{d: d, maxRetries: 10} }

// Dialect implements store.Store.
func (db *DB) Dialect() string { return db.d.Name() }

// Ping implements store.Store.
func (db *DB) Ping(ctx context.Context) error { return db.d.Ping(ctx) }

// Close implements store.Store.
func (db *DB) Close() error { return db.d.Close() }

// Tx implements store.Store.
func (db *DB) Tx(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, false, fn)
}

// View implements store.Store.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, true, fn)
}

func (db *DB) run(ctx context.Context, readOnly bool, fn func(store.Tx) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := db.once(ctx, readOnly, fn)
		if err == nil || !errors.Is(err, store.ErrBusy) || attempt >= db.maxRetries {
			return err
		}
		// Full jitter keeps competing writers from retrying in lockstep.
		sleep := time.Duration(rand.Int64N(int64(backoff))) + time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func (db *DB) once(ctx context.Context, readOnly bool, fn func(store.Tx) error) (err error) {
	c, err := db.d.Begin(ctx, readOnly)
	if err != nil {
		return db.d.Translate(err)
	}
	defer func() {
		if err != nil {
			_ = c.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(&tx{c: c, d: db.d}); err != nil {
		return err
	}
	if err = c.Commit(ctx); err != nil {
		return db.d.Translate(err)
	}
	return nil
}

// Migrate implements store.Store: it applies, in order and each in its own transaction,
// the migrations not yet recorded in schema_migrations.
func (db *DB) Migrate(ctx context.Context) error {
	files, err := migrations(db.d.Migrations())
	if err != nil {
		return err
	}
	for _, m := range files {
		err := db.once(ctx, false, func(t store.Tx) error {
			c := t.(*tx).c
			if err := db.d.LockMigrations(ctx, c); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
			if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var n int
			if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitStatements(m.sql) {
				if _, err := c.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			_, err := c.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// MigrationStatus implements store.Store.
func (db *DB) MigrationStatus(ctx context.Context) (applied, latest int, err error) {
	files, err := migrations(db.d.Migrations())
	if err != nil {
		return 0, 0, err
	}
	if len(files) > 0 {
		latest = files[len(files)-1].version
	}
	err = db.once(ctx, true, func(t store.Tx) error {
		c := t.(*tx).c
		var v *int64
		if err := c.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(nullInt{&v}); err != nil {
			return err
		}
		if v != nil {
			applied = int(*v)
		}
		return nil
	})
	if err != nil {
		return 0, latest, fmt.Errorf("read schema_migrations (run `chainpay migrate`): %w", err)
	}
	return applied, latest, nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number and '_'", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// splitStatements drops "--" comment lines and splits a migration on ';'. Migrations
// contain no semicolons inside literals; the only bodies are SQLite triggers, whose
// statements between BEGIN and END stay together.
// beginWord finds the BEGIN of a SQLite trigger's body.
var beginWord = regexp.MustCompile(`(?i)\bBEGIN\b`)

func splitStatements(sql string) []string {
	var kept []string
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			kept = append(kept, line)
		}
	}
	var out []string
	var trigger []string // the parts of a CREATE TRIGGER read so far
	var quoted []string  // the parts of a statement inside a $$-quoted body read so far
	for _, s := range strings.Split(strings.Join(kept, "\n"), ";") {
		// A Postgres function body ($$ ... $$) holds semicolons: its parts are joined until
		// the quote closes.
		if quoted != nil || strings.Count(s, "$$")%2 == 1 {
			quoted = append(quoted, s)
			if j := strings.Join(quoted, ";"); strings.Count(j, "$$")%2 == 0 {
				out = append(out, strings.TrimSpace(j))
				quoted = nil
			}
			continue
		}
		s = strings.TrimSpace(s)
		// A SQLite trigger's body (BEGIN ... END) holds semicolons; a Postgres trigger
		// (EXECUTE FUNCTION) is one statement.
		if trigger == nil && strings.HasPrefix(strings.ToUpper(s), "CREATE TRIGGER") && beginWord.MatchString(s) {
			trigger = []string{}
		}
		if trigger != nil {
			trigger = append(trigger, s)
			if strings.EqualFold(s, "END") {
				out = append(out, strings.Join(trigger, ";\n"))
				trigger = nil
			}
			continue
		}
		if s != "" {
			out = append(out, s)
		}
	}
	if trigger != nil {
		out = append(out, strings.Join(trigger, ";\n")) // unterminated: let the database say so
	}
	if quoted != nil {
		out = append(out, strings.TrimSpace(strings.Join(quoted, ";"))) // likewise
	}
	return out
}
