package store

import (
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// referenceID is NewID as first written (big.Int arithmetic), kept to check formatID.
func referenceID(prefix string, now time.Time, random [10]byte) string {
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(now.UnixMilli()>>40), byte(now.UnixMilli()>>32), byte(now.UnixMilli()>>24),
		byte(now.UnixMilli()>>16), byte(now.UnixMilli()>>8), byte(now.UnixMilli())
	copy(b[6:], random[:])
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	n := new(big.Int).SetBytes(b[:])
	out := make([]byte, 26)
	mask := big.NewInt(31)
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[new(big.Int).And(n, mask).Int64()]
		n.Rsh(n, 5)
	}
	return prefix + "_" + string(out)
}

func TestFormatIDMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	times := []time.Time{time.UnixMilli(0), time.UnixMilli(1<<48 - 1), time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)}
	for range 5000 {
		times = append(times, time.UnixMilli(rng.Int64N(1<<48)))
	}
	for k, now := range times {
		var random [10]byte
		switch k {
		case 0:
		case 1:
			for i := range random {
				random[i] = 0xff
			}
		default:
			for i := range random {
				random[i] = byte(rng.Uint32())
			}
		}
		got, want := formatID("inv", now, random), referenceID("inv", now, random)
		if got != want {
			t.Fatalf("formatID(%d, %x) = %s, reference %s", now.UnixMilli(), random, got, want)
		}
	}
	// Ids sort by creation time, and NewID draws new random bits each call.
	a, b := NewID("opt", time.UnixMilli(1000)), NewID("opt", time.UnixMilli(1001))
	if !(a < b) || len(a) != len("opt_")+26 || !strings.HasPrefix(a, "opt_") {
		t.Fatalf("NewID: %s, %s", a, b)
	}
	if x, y := NewID("opt", time.UnixMilli(5)), NewID("opt", time.UnixMilli(5)); x == y {
		t.Fatalf("two NewIDs in the same millisecond are equal: %s", x)
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	for range b.N {
		_ = NewID("inv", now)
	}
}
