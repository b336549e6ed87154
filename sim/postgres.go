package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
)

// openPostgres opens a migrated store on a new schema of the database at base.
func openPostgres(ctx context.Context, base string) (store.Store, func(), error) {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "sim_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		return nil, nil, err
	}
	drop := func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return nil, nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	// The simulated crashes are the process's, not the database server's: commits need not
	// wait for the disk.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		drop()
		return nil, nil, err
	}
	return st, func() { st.Close(); drop() }, nil
}
