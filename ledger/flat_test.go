package ledger

import (
	"errors"
	"reflect"
	"strings"
	"testing"
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
