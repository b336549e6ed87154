// Package storetest holds the storage conformance suite that every backend must pass, and
// helpers that open a fresh, migrated store of each backend for tests elsewhere.
//
// Postgres tests need CHAINPAY_TEST_POSTGRES_URL (./scripts/test starts a throwaway cluster
// and sets it). Without it they FAIL with instructions: the Postgres half of the suite never
// skips silently. Each test gets its own schema, dropped afterwards.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/sqlite"
)

// Backend opens a fresh, empty, migrated store for one test.
type Backend struct {
	Name string
	Open func(t testing.TB) store.Store
}

// Backends returns both backends, SQLite first.
func Backends() []Backend {
	return []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// SQLite opens a migrated store in a new file under t.TempDir.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	s := SQLiteUnmigrated(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// SQLiteUnmigrated opens a store in a new file without migrating it.
func SQLiteUnmigrated(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "chainpay.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresURL returns CHAINPAY_TEST_POSTGRES_URL or fails the test.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("CHAINPAY_TEST_POSTGRES_URL")
	if u == "" {
		t.Fatal("CHAINPAY_TEST_POSTGRES_URL is not set: run the suite with ./scripts/test, which starts a " +
			"throwaway Postgres cluster, or point the variable at a database you can create schemas in")
	}
	return u
}

var (
	adminOnce sync.Once
	adminPool *pgxpool.Pool
	adminErr  error
)

// PostgresSchemaURL creates a new empty schema and returns a URL whose search_path selects it.
// The schema is dropped when the test ends.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	ctx := context.Background()
	adminOnce.Do(func() { adminPool, adminErr = pgxpool.New(ctx, base) })
	if adminErr != nil {
		t.Fatalf("connect to CHAINPAY_TEST_POSTGRES_URL: %v", adminErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := adminPool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { _, _ = adminPool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse CHAINPAY_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresUnmigrated opens a store on a new empty schema without migrating it.
func PostgresUnmigrated(t testing.TB) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), PostgresSchemaURL(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Postgres opens a migrated store on a new schema.
func Postgres(t testing.TB) store.Store {
	t.Helper()
	s := PostgresUnmigrated(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return s
}
