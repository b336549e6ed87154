package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
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
	b.Run("FormatAmount/int64", func(b *testing.B) { // most amounts: digits without big.Int
		b.ReportAllocs()
		y := big.NewInt(-1234567)
		for b.Loop() {
			_ = FormatAmount(y, 2)
		}
	})
	b.Run("baseline=decimal.StringFixed", func(b *testing.B) {
		d := decimal.NewFromBigInt(x, -18)
		for b.Loop() {
			_ = d.StringFixed(18)
		}
	})
}

// referenceFormat is FormatAmount's big.Int path for every amount, to check the int64 digits path against it.
func referenceFormat(atomic *big.Int, scale int32) string {
	digits := new(big.Int).Abs(atomic).String()
	sign := ""
	if atomic.Sign() < 0 {
		sign = "-"
	}
	if scale == 0 {
		return sign + digits
	}
	if pad := int(scale) + 1 - len(digits); pad > 0 {
		digits = strings.Repeat("0", pad) + digits
	}
	cut := len(digits) - int(scale)
	return sign + digits[:cut] + "." + digits[cut:]
}

func TestFormatAmountInt64MatchesBigPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	values := []int64{0, 1, -1, 9, 10, -10, 99, 100, 123456789, math.MaxInt64, math.MinInt64 + 1, -5}
	for range 20000 {
		v := rng.Int64() >> rng.IntN(63)
		if rng.IntN(2) == 0 {
			v = -v
		}
		values = append(values, v)
	}
	for _, v := range values {
		for _, scale := range []int32{0, 1, 2, 6, 8, 18, 19, 20, 30, MaxScale} {
			a := big.NewInt(v)
			if got, want := FormatAmount(a, scale), referenceFormat(a, scale); got != want {
				t.Fatalf("FormatAmount(%d, %d) = %q, want %q", v, scale, got, want)
			}
		}
	}
	// Beyond int64, and int64's minimum, take the big.Int path.
	for _, s := range []string{"-9223372036854775808", "9223372036854775808", "-123456789012345678901234567890"} {
		a, _ := new(big.Int).SetString(s, 10)
		if got, want := FormatAmount(a, 8), referenceFormat(a, 8); got != want {
			t.Fatalf("FormatAmount(%s, 8) = %q, want %q", s, got, want)
		}
	}
}
