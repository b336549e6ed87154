package ledger

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestFlatRoundTrip: a record decoded from its flat projection equals the record decoded
// from its payload, for crypto rows (with and without optional parts), reversals and card
// rows, and the projection names the payload's hash.
func TestFlatRoundTrip(t *testing.T) {
	t.Parallel()
	recs := []Record{cryptoRecord()}
	bare := cryptoRecord()
	bare.FairValue, bare.Metadata = nil, map[string]string{"note": "15:3:x\x00\"∑", "k2": ""}
	bare.Description = "a:b 12:c"
	recs = append(recs, bare)
	cards, err := ParseStripeCSV(strings.NewReader(stripeCSV), "sto_a")
	must(t, err)
	recs = append(recs, cards...)
	for _, r := range recs {
		payload, err := r.Encode()
		must(t, err)
		want, err := ParseRecord(payload)
		must(t, err)
		hash := PayloadHash(payload)
		got, named, err := ParseFlat(want.Flat(hash))
		if err != nil {
			t.Fatalf("%s: %v", r.IdempotencyKey, err)
		}
		if named != hash {
			t.Fatalf("%s: projection names %s, payload hash %s", r.IdempotencyKey, named, hash)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: flat decodes to\n%#v\nthe payload to\n%#v", r.IdempotencyKey, got, want)
		}
	}
}

// TestFlatAmountsIndependent: the amounts ParseFlat returns share one allocation
// (flatDecoder.small) but not their digits: changing one, even past a machine word, leaves
// the others as they were.
func TestFlatAmountsIndependent(t *testing.T) {
	t.Parallel()
	r := cryptoRecord()
	r.Fee = big.NewInt(-7)
	r.Net = new(big.Int).Sub(r.Gross, r.Fee)
	got, _, err := ParseFlat(r.Flat(strings.Repeat("ab", 32)))
	must(t, err)
	gross, fee, net := new(big.Int).Set(got.Gross), new(big.Int).Set(got.Fee), new(big.Int).Set(got.Net)
	got.Gross.Lsh(got.Gross, 200) // grows past its one word
	got.Fee.Add(got.Fee, big.NewInt(1))
	if got.Net.Cmp(net) != 0 || got.Fee.Cmp(new(big.Int).Add(fee, big.NewInt(1))) != 0 {
		t.Fatalf("changing gross and fee changed net: %s, fee %s", got.Net, got.Fee)
	}
	if got.Original != nil && got.Original.Amount.Cmp(r.Original.Amount) != 0 {
		t.Fatalf("original amount %s, want %s", got.Original.Amount, r.Original.Amount)
	}
	if gross.Sign() == 0 || fee.Cmp(big.NewInt(-7)) != 0 || net.Cmp(r.Net) != 0 {
		t.Fatalf("decoded gross %s fee %s net %s, want %s %s %s", gross, fee, net, r.Gross, r.Fee, r.Net)
	}
}

// TestParseFlatRejects: damaged or foreign projections are ErrFlat, never a wrong record.
func TestParseFlatRejects(t *testing.T) {
	t.Parallel()
	good := cryptoRecord().Flat(strings.Repeat("ab", 32))
	for name, s := range map[string]string{
		"empty":     "",
		"version":   "2:f9" + good[4:],
		"truncated": good[:len(good)-3],
		"trailing":  good + "1:x",
		"length":    "99999999:" + good,
		"flag":      strings.Replace(good, "1:1", "1:7", 1),
	} {
		if _, _, err := ParseFlat(s); !errors.Is(err, ErrFlat) {
			t.Errorf("%s: got %v, want ErrFlat", name, err)
		}
	}
}

// FuzzParseFlatTime checks that parseFlatTime's fast path gives exactly what
// time.Parse(flatTime, s) gives: the same instant and location, or an error for the same
// inputs.
func FuzzParseFlatTime(f *testing.F) {
	for _, s := range []string{"2026-01-01T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z",
		"9999-12-31T23:59:59.999999Z", "2024-02-29T12:00:00.000001Z", "2023-02-29T12:00:00.000000Z",
		"2026-04-31T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-01-01T24:00:00.000000Z",
		"2026-01-01T00:60:00.000000Z", "2026-01-01T00:00:60.000000Z", "2026-00-01T00:00:00.000000Z",
		"2026-01-00T00:00:00.000000Z", "2026-01-01T00:00:00.00000aZ", "+026-01-01T00:00:00.000000Z",
		"2026-01-01T00:00:00.000000", "2026-01-01 00:00:00.000000Z", "-001-01-01T00:00:00.000000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := parseFlatTime(s)
		want, wantErr := time.Parse(flatTime, s)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("parseFlatTime(%q) error %v, time.Parse's %v", s, gotErr, wantErr)
		}
		if gotErr == nil && (!got.Equal(want) || got.Location() != want.Location() || got != want) {
			t.Fatalf("parseFlatTime(%q) = %v (%v), time.Parse = %v (%v)", s, got, got.Location(), want, want.Location())
		}
	})
}
