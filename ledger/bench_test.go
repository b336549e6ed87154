package ledger

import (
	"encoding/json"
	"testing"
)

// BenchmarkEncode measures the canonical encoding (validate, marshal, re-encode with sorted
// keys); BenchmarkMarshalBaseline is a plain json.Marshal of the same wire struct, the floor.
func BenchmarkEncode(b *testing.B) {
	r := cryptoRecord()
	for b.Loop() {
		if _, err := r.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalBaseline(b *testing.B) {
	w := cryptoRecord().wire()
	for b.Loop() {
		if _, err := json.Marshal(w); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRecord measures decoding and validating an encoded record.
func BenchmarkParseRecord(b *testing.B) {
	enc, _ := cryptoRecord().Encode()
	for b.Loop() {
		if _, err := ParseRecord(enc); err != nil {
			b.Fatal(err)
		}
	}
}
