package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{Name: "postgres", Open: storetest.Postgres})
}

// TestUpgradeConfirmedAt migrates a database that has payments from before migration 0016.
func TestUpgradeConfirmedAt(t *testing.T) {
	ctx := context.Background()
	u := storetest.PostgresSchemaURL(t)
	st, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.UpgradeConfirmedAt(t, st, func(t *testing.T) {
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, q := range []string{`ALTER TABLE payments DROP COLUMN confirmed_at`, `DELETE FROM schema_migrations WHERE version = 16`} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
