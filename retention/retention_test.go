package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chainpay/chainpay/retention"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// TestPruneDeletesOnlyExpiredRecords: with a 7-day period and batches of 2, one pass
// deletes every record older than 7 days (across several batches) and keeps the rest,
// which still replay.
func TestPruneDeletesOnlyExpiredRecords(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := b.Open(t)
			must(t, st.Tx(ctx, func(tx store.Tx) error {
				if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_r", Name: "r", CreatedAt: t0}); err != nil {
					return err
				}
				for day := range 10 { // records 0..9 days old
					r := store.IdempotencyRecord{MerchantID: "sto_r", Key: fmt.Sprintf("k%d", day),
						RequestHash: []byte("h"), CreatedAt: t0.Add(-time.Duration(day)*24*time.Hour - time.Minute)}
					if _, err := tx.ClaimIdempotencyKey(ctx, r); err != nil {
						return err
					}
				}
				return nil
			}))
			p, err := retention.New(st, retention.Config{Batch: 2, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Prune(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != 3 { // 7, 8 and 9 days (and a minute) old
				t.Fatalf("deleted %d records, want 3", n)
			}
			if n, err := p.Prune(ctx); err != nil || n != 0 {
				t.Fatalf("second pass deleted %d (%v), want 0", n, err)
			}
			for day := range 10 {
				var prev *store.IdempotencyRecord
				must(t, st.Tx(ctx, func(tx store.Tx) (err error) {
					prev, err = tx.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: "sto_r",
						Key: fmt.Sprintf("k%d", day), RequestHash: []byte("h"), CreatedAt: t0})
					return err
				}))
				if kept := prev != nil; kept != (day < 7) {
					t.Fatalf("record %d days old: kept %v, want %v", day, kept, day < 7)
				}
			}
		})
	}
}

// TestStartPrunesAtOnceAndStops: the loop's first pass runs at Start; Stop waits for it and
// may be called twice.
func TestStartPrunesAtOnceAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	must(t, st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_s", Name: "s", CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: "sto_s", Key: "old",
			RequestHash: []byte("h"), CreatedAt: t0.Add(-8 * 24 * time.Hour)})
		return err
	}))
	p, err := retention.New(st, retention.Config{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(ctx)
	// The old key is claimable anew once the first pass has deleted it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var prev *store.IdempotencyRecord
		must(t, st.Tx(ctx, func(tx store.Tx) (err error) {
			prev, err = tx.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: "sto_s", Key: "old",
				RequestHash: []byte("h"), CreatedAt: t0})
			return err
		}))
		if prev == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first pass did not run within 10 s of Start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	p.Stop()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
