package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// retentionTests check the deletions that bound the tables a long-running processor would
// otherwise grow forever: recorded block hashes and idempotency records.
func retentionTests() []namedTest {
	return []namedTest{
		{"ForgetBlocksBelow", testForgetBlocksBelow},
		{"DeleteIdempotencyKeysBefore", testDeleteIdempotency},
	}
}

func testForgetBlocksBelow(t *testing.T, s store.Store) {
	tx(t, s, func(x store.Tx) error {
		for _, chain := range []string{"bitcoin", "ethereum"} {
			for h := int64(1); h <= 10; h++ {
				c := store.Cursor{Chain: chain, Height: h, Hash: fmt.Sprintf("%s%d", chain, h), UpdatedAt: t0}
				if err := x.SetCursor(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	forget := func(height int64, limit int) int64 {
		t.Helper()
		var n int64
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			n, err = x.ForgetBlocksBelow(ctx, "bitcoin", height, limit)
			return err
		}))
		return n
	}
	heights := func(chain string) []int64 {
		t.Helper()
		var hs []store.Cursor
		must(t, s.View(ctx, func(x store.Tx) (err error) { hs, err = x.BlockHashes(ctx, chain, 100, 100); return }))
		out := make([]int64, len(hs))
		for i, h := range hs {
			out[i] = h.Height
		}
		return out
	}
	// The limit bounds one call, lowest heights first.
	if n := forget(8, 3); n != 3 {
		t.Fatalf("first call deleted %d, want 3 (the limit)", n)
	}
	if got := heights("bitcoin"); fmt.Sprint(got) != "[10 9 8 7 6 5 4]" {
		t.Fatalf("after a limited call: %v, want [10 9 8 7 6 5 4]", got)
	}
	if n := forget(8, 100); n != 4 {
		t.Fatalf("second call deleted %d, want 4", n)
	}
	if n := forget(8, 100); n != 0 {
		t.Fatalf("a repeated call deleted %d, want 0", n)
	}
	if got := heights("bitcoin"); fmt.Sprint(got) != "[10 9 8]" {
		t.Fatalf("bitcoin blocks kept: %v, want [10 9 8]", got)
	}
	if got := heights("ethereum"); len(got) != 10 {
		t.Fatalf("another chain's blocks were deleted: %v", got)
	}
}

func testDeleteIdempotency(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "r")
	tx(t, s, func(x store.Tx) error {
		for i := range 5 {
			r := store.IdempotencyRecord{MerchantID: mid, Key: fmt.Sprintf("k%d", i), RequestHash: []byte("h"),
				CreatedAt: t0.Add(time.Duration(i) * 24 * time.Hour)}
			if _, err := x.ClaimIdempotencyKey(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	del := func(before time.Time, limit int) int64 {
		t.Helper()
		var n int64
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			n, err = x.DeleteIdempotencyKeysBefore(ctx, before, limit)
			return err
		}))
		return n
	}
	cut := t0.Add(3 * 24 * time.Hour) // k0, k1, k2 are older
	if n := del(cut, 2); n != 2 {
		t.Fatalf("first call deleted %d, want 2 (the limit)", n)
	}
	if n := del(cut, 100); n != 1 {
		t.Fatalf("second call deleted %d, want 1", n)
	}
	for i := range 5 {
		var prev *store.IdempotencyRecord
		must(t, s.Tx(ctx, func(x store.Tx) (err error) {
			prev, err = x.ClaimIdempotencyKey(ctx, store.IdempotencyRecord{MerchantID: mid, Key: fmt.Sprintf("k%d", i),
				RequestHash: []byte("h2"), CreatedAt: t0.Add(10 * 24 * time.Hour)})
			return err
		}))
		// A deleted key is claimable anew; a kept one still answers with its first record.
		if kept := prev != nil; kept != (i >= 3) {
			t.Fatalf("key k%d: kept %v, want %v", i, kept, i >= 3)
		}
	}
}
