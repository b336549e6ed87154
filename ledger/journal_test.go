package ledger

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestJournal(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t, b, "sto_a")
			c := newClock()
			j := NewJournal(st, c.Now)
			p := fixture(t, "sto_a", 1)[0]
			rec := p.record(t)

			res, err := j.Post(ctx, rec)
			must(t, err)
			if res.Replayed || res.IdempotencyKey != rec.IdempotencyKey {
				t.Fatalf("first post: %+v", res)
			}
			hash, _ := rec.Hash()
			if res.PayloadHash != hash {
				t.Fatalf("hash %s, want %s", res.PayloadHash, hash)
			}
			res, err = j.Post(ctx, rec)
			must(t, err)
			if !res.Replayed {
				t.Fatal("second post of the same record is not a replay")
			}
			// Same key, different payload: conflict, and the stored record is untouched.
			other := rec
			other.Description = "changed"
			if _, err := j.Post(ctx, other); !errors.Is(err, ErrConflict) {
				t.Fatalf("different payload: got %v, want ErrConflict", err)
			}
			got, err := j.Get(ctx, rec.IdempotencyKey)
			must(t, err)
			gh, _ := got.Hash()
			if gh != hash {
				t.Fatal("Get returned a different record")
			}
			if _, err := j.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing: got %v", err)
			}
			// Unknown merchant and invalid records are ErrInvalid.
			stranger := rec
			stranger.MerchantID, stranger.IdempotencyKey = "sto_nobody", "k2"
			if _, err := j.Post(ctx, stranger); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unknown merchant") {
				t.Fatalf("unknown merchant: got %v", err)
			}
			bad := rec
			bad.Net = big.NewInt(1)
			if _, err := j.Post(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("invalid: got %v", err)
			}

			// A reversal brings every account back to zero.
			rev, err := Reversal(rec, t0)
			must(t, err)
			_, err = j.Post(ctx, rev)
			must(t, err)
			bals, err := j.Balances(ctx, "sto_a")
			must(t, err)
			if len(bals) != 5 {
				t.Fatalf("%d balances: %+v", len(bals), bals)
			}
			for _, bl := range bals {
				if bl.Balance.Sign() != 0 || bl.Debits.Sign() == 0 {
					t.Errorf("%s %s: debits %s credits %s balance %s", bl.Account, bl.Asset, bl.Debits, bl.Credits, bl.Balance)
				}
			}
		})
	}
}

// TestCardAndCryptoSideBySide imports a Stripe export and crypto settlements into one
// journal: the shared accounts add up both.
func TestCardAndCryptoSideBySide(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t, b, "sto_a")
			j := NewJournal(st, newClock().Now)
			cards, err := ParseStripeCSV(strings.NewReader(stripeCSV), "sto_a")
			must(t, err)
			var recs []Record
			recs = append(recs, cards...)
			for _, p := range fixture(t, "sto_a", 3) {
				recs = append(recs, p.record(t))
			}
			// Expected balances per settlement currency (the export holds USD and JPY).
			wantNet, wantFees := map[string]*big.Int{}, map[string]*big.Int{}
			add := func(m map[string]*big.Int, k string, v *big.Int) {
				if m[k] == nil {
					m[k] = new(big.Int)
				}
				m[k].Add(m[k], v)
			}
			for _, r := range recs {
				_, err := j.Post(ctx, r)
				must(t, err)
				asset := map[string]string{"USD": "USD/2", "JPY": "JPY/0"}[r.Currency]
				add(wantNet, asset, r.Net)
				add(wantFees, asset, r.Fee)
			}
			// Import again: all replays, nothing doubled.
			for _, r := range cards {
				res, err := j.Post(ctx, r)
				must(t, err)
				if !res.Replayed {
					t.Fatalf("re-import of %s was not a replay", r.IdempotencyKey)
				}
			}
			all, err := j.Records(ctx, store.LedgerFilter{MerchantID: "sto_a"})
			must(t, err)
			if len(all) != len(recs) {
				t.Fatalf("%d records, want %d", len(all), len(recs))
			}
			cardOnly, err := j.Records(ctx, store.LedgerFilter{MerchantID: "sto_a", SourceType: SourceCardCharge})
			must(t, err)
			if len(cardOnly) != len(cards) {
				t.Fatalf("%d card records, want %d", len(cardOnly), len(cards))
			}
			bals, err := j.Balances(ctx, "sto_a")
			must(t, err)
			found := 0
			for _, bl := range bals {
				switch bl.Account {
				case AccountBalance("sto_a"):
					found++
					if bl.Balance.Cmp(wantNet[bl.Asset]) != 0 {
						t.Errorf("balance %s %s, want the sum of nets %s", bl.Asset, bl.Balance, wantNet[bl.Asset])
					}
				case AccountFees("sto_a"):
					found++
					if bl.Balance.Cmp(wantFees[bl.Asset]) != 0 {
						t.Errorf("fees %s %s, want %s", bl.Asset, bl.Balance, wantFees[bl.Asset])
					}
				}
			}
			if found != 4 {
				t.Fatalf("balance and fee accounts missing: %+v", bals)
			}
		})
	}
}
