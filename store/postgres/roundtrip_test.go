package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
	"github.com/chainpay/chainpay/store/storetest"
)

type fixedQuoter struct{}

func (fixedQuoter) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("60000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// TestCreateIsOneRoundTrip: an invoice creation as the API makes it (Prepare with address
// indexes from per-process blocks, then one transaction with CreateTx and the idempotency
// record) sends its configuration guard, its inserts and COMMIT to Postgres in one round
// trip; a creation prepared before the store's settings changed fails with ErrStaleDraft in
// the same single round trip and leaves nothing behind.
func TestCreateIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var (
		mu      sync.Mutex
		creates [][]string // statements of each transaction that inserted an invoice
		trips   []int
	)
	st, err := postgres.OpenCounted(ctx, storetest.PostgresSchemaURL(t), func(stmts []string, n int) {
		for _, s := range stmts {
			if strings.HasPrefix(s, "INSERT INTO invoices") {
				mu.Lock()
				creates, trips = append(creates, stmts), append(trips, n)
				mu.Unlock()
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := bitcoin.ParseWallet("zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs", bitcoin.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_rt", Name: "rt", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: "wal_rt", MerchantID: "sto_rt", Chain: "bitcoin", Network: "mainnet",
			Descriptor: w.Descriptor(), CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	ix := deposit.NewIndexes(st, deposit.IndexesConfig{})
	defer ix.Close(ctx)
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)},
		Quoter: fixedQuoter{}, Indexes: ix})
	if err != nil {
		t.Fatal(err)
	}
	create := func(key string, between func()) error {
		d, err := svc.Prepare(ctx, "sto_rt", invoices.CreateRequest{Amount: "5.00", Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if between != nil {
			between()
		}
		err = st.Tx(ctx, func(tx store.Tx) error {
			if _, err := svc.CreateTx(ctx, tx, d, nil); err != nil {
				return err
			}
			return tx.PutIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: "sto_rt", Key: key,
				RequestHash: []byte("h"), ResponseStatus: 201, ResponseBody: []byte("{}"), CreatedAt: now})
		})
		if err != nil {
			d.Discard()
		}
		return err
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		if err := create(key, nil); err != nil {
			t.Fatal(err)
		}
	}
	err = create("k4", func() {
		if err := st.Tx(ctx, func(tx store.Tx) error {
			return tx.SetMerchantSettings(ctx, "sto_rt", `{"max_amount":{"USD":"100.00"}}`)
		}); err != nil {
			t.Fatal(err)
		}
	})
	if !errors.Is(err, invoices.ErrStaleDraft) {
		t.Fatalf("creation prepared before a settings change: %v, want ErrStaleDraft", err)
	}
	if len(creates) != 4 {
		t.Fatalf("%d creation transactions seen, want 4: %q", len(creates), creates)
	}
	for i, stmts := range creates {
		if trips[i] != 1 {
			t.Errorf("creation %d took %d round trips, want 1: %q", i+1, trips[i], stmts)
		}
		if !strings.HasPrefix(stmts[0], "SELECT merchant_config_guard") {
			t.Errorf("creation %d does not start with the configuration guard: %q", i+1, stmts)
		}
	}
	var n int
	if err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.IdempotencyKey(ctx, "sto_rt", "k4")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the stale creation's idempotency record: %v, want ErrNotFound", err)
		}
		for _, k := range []string{"k1", "k2", "k3"} {
			if _, err := tx.IdempotencyKey(ctx, "sto_rt", k); err == nil {
				n++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d of the 3 creations stored, want 3", n)
	}
}
