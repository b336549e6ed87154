package money

import (
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
)

// BenchmarkParseAmount compares ParseAmount with the baseline of parsing the
// same string with shopspring/decimal and shifting it to atomic units.
func BenchmarkParseAmount(b *testing.B) {
	const in = "123456.789012345678"
	b.Run("ParseAmount", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseAmount(in, 18); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=decimal", func(b *testing.B) {
		for b.Loop() {
			d, err := decimal.NewFromString(in)
			if err != nil {
				b.Fatal(err)
			}
			_ = d.Shift(18).BigInt()
		}
	})
}

// BenchmarkCryptoDue compares a full quote (due rounded up plus the verified
// effective rate) with the baseline of a single decimal division rounded to
// the asset's scale, which is what a naive implementation would do.
func BenchmarkCryptoDue(b *testing.B) {
	price := big.NewInt(2500)
	rate := decimal.RequireFromString("65432.123456789")
	b.Run("CryptoDue", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := CryptoDue(price, 2, rate, 18); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=decimal.DivRound", func(b *testing.B) {
		p := decimal.NewFromBigInt(price, -2)
		for b.Loop() {
			_ = p.DivRound(rate, 18).Shift(18).BigInt()
		}
	})
}

// BenchmarkFormatAmount compares FormatAmount with decimal.StringFixed.
func BenchmarkFormatAmount(b *testing.B) {
	x, _ := new(big.Int).SetString("123456789012345678901234", 10)
	b.Run("FormatAmount", func(b *testing.B) {
		for b.Loop() {
			_ = FormatAmount(x, 18)
		}
	})
	b.Run("baseline=decimal.StringFixed", func(b *testing.B) {
		d := decimal.NewFromBigInt(x, -18)
		for b.Loop() {
			_ = d.StringFixed(18)
		}
	})
}
