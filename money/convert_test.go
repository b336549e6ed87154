package money

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// cryptoDueCases hold quotes whose expected values were computed
// independently with Python's fractions.Fraction from the definitions: due =
// ceil(price × 10^c / (rate × 10^f)); effective = price × 10^c / (due × 10^f)
// rounded half-even to the fewest k ≥ 18 fractional digits with
// round_half_even(due × effective × 10^(f-c)) == price.
var cryptoDueCases = []struct {
	name        string
	price       string // fiat minor units
	fiatScale   int32
	rate        string
	cryptoScale int32
	due         string
	effective   string
}{
	{"25.00 USD in BTC", "2500", 2, "65000", 8, "38462", "64999.220009359887681348"},
	{"JPY, scale 0", "1000", 0, "10000000", 8, "10000", "10000000.000000000000000000"},
	{"KWD, scale 3, in ETH", "1500", 3, "1000.123", 18, "1499815522690710", "1000.122999999999361701"},
	{"0.01 USD at BTC=1e6 is one satoshi", "1", 2, "1000000", 8, "1", "1000000.000000000000000000"},
	{"0.01 USD at BTC=1.5e6 rounds up to one satoshi", "1", 2, "1500000", 8, "1", "1000000.000000000000000000"},
	{"one wei", "1", 2, "10000000000000000", 18, "1", "10000000000000000.000000000000000000"},
	{"6-decimal token", "2500", 2, "0.9998", 6, "25005002", "0.999799960023998398"},
	{"1e15 USD in BTC", "100000000000000000", 2, "65000", 8, "1538461538461538462", "64999.999999999999980500"},
	{"1e15 USD in ETH", "100000000000000000", 2, "3456.78", 18, "289286561482072911784955941657", "3456.780000000000000000"},
	{"rate with 28 decimals", "1999", 2, "3456.123456789012345678901234", 18, "5783936902118697", "3456.123456789011927234"},
	{"effective needs more than 18 digits", "100000000000000000", 2, "0.0000000031234567891234567", 18,
		"320158102869299639010147911880274093424435", "0.0000000031234567891234567"},
	{"CLF, scale 4", "123456", 4, "1700.5", 8, "725999", "1700.498210052630926489"},
	{"0-decimal token", "2500", 2, "7", 0, "4", "6.250000000000000000"},
}

func TestCryptoDue(t *testing.T) {
	t.Parallel()
	for _, tc := range cryptoDueCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			price := bigInt(t, tc.price)
			rate := decimal.RequireFromString(tc.rate)
			due, eff, err := CryptoDue(price, tc.fiatScale, rate, tc.cryptoScale)
			if err != nil {
				t.Fatalf("CryptoDue: %v", err)
			}
			if due.String() != tc.due {
				t.Errorf("due = %s, want %s", due, tc.due)
			}
			k := int32(len(tc.effective) - strings.Index(tc.effective, ".") - 1)
			if got := eff.StringFixed(k); got != tc.effective || eff.Exponent() != -k {
				t.Errorf("effective = %s (exponent %d), want %s", eff.String(), eff.Exponent(), tc.effective)
			}
			if back := FiatFromCrypto(due, tc.cryptoScale, eff, tc.fiatScale); back.Cmp(price) != 0 {
				t.Errorf("FiatFromCrypto(due, effective) = %s, want the price %s", back, price)
			}
			if price.String() != tc.price {
				t.Errorf("CryptoDue modified the price to %s", price)
			}
		})
	}
}

func TestCryptoDueErrors(t *testing.T) {
	t.Parallel()
	usd := big.NewInt(2500)
	r := decimal.RequireFromString("65000")
	tests := []struct {
		name        string
		price       *big.Int
		fiatScale   int32
		rate        decimal.Decimal
		cryptoScale int32
		want        error
	}{
		{"nil price", nil, 2, r, 8, ErrNotPositive},
		{"zero price", big.NewInt(0), 2, r, 8, ErrNotPositive},
		{"negative price", big.NewInt(-1), 2, r, 8, ErrNotPositive},
		{"zero rate", usd, 2, decimal.Zero, 8, ErrRate},
		{"negative rate", usd, 2, decimal.RequireFromString("-65000"), 8, ErrRate},
		{"rate exponent too large", usd, 2, decimal.New(1, 1001), 8, ErrRate},
		{"rate exponent too small", usd, 2, decimal.New(1, -1001), 8, ErrRate},
		{"rate coefficient too long", usd, 2, decimal.NewFromBigInt(new(big.Int).Lsh(big.NewInt(1), 4001), 0), 8, ErrRate},
		{"negative fiat scale", usd, -1, r, 8, ErrScale},
		{"fiat scale too large", usd, 78, r, 8, ErrScale},
		{"negative crypto scale", usd, 2, r, -1, ErrScale},
		{"crypto scale too large", usd, 2, r, 78, ErrScale},
		{"price too large", bigInt(t, "1"+strings.Repeat("0", 78)), 2, r, 8, ErrTooLarge},
		{"due too large", bigInt(t, "1"+strings.Repeat("0", 70)), 2, decimal.RequireFromString("0.000001"), 18, ErrTooLarge},
	}
	for _, tc := range tests {
		due, _, err := CryptoDue(tc.price, tc.fiatScale, tc.rate, tc.cryptoScale)
		if !errors.Is(err, tc.want) || due != nil {
			t.Errorf("%s: CryptoDue = %v, %v; want error %v", tc.name, due, err, tc.want)
		}
	}
}

func TestFiatFromCrypto(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		atomic      string
		cryptoScale int32
		rate        string
		fiatScale   int32
		want        string
	}{
		{"one BTC", "100000000", 8, "65000.00", 2, "6500000"},
		{"one satoshi rounds to zero cents", "1", 8, "65000", 2, "0"},
		{"one wei rounds to zero cents", "1", 18, "3000", 2, "0"},
		{"half a cent rounds to even 0", "1", 8, "500000", 2, "0"},
		{"1.5 cents rounds to even 2", "3", 8, "500000", 2, "2"},
		{"2.5 cents rounds to even 2", "5", 8, "500000", 2, "2"},
		{"3.5 cents rounds to even 4", "7", 8, "500000", 2, "4"},
		{"just above half rounds up", "5000001", 8, "0.1", 2, "1"},   // 0.5000001 cents
		{"just below half rounds down", "4999999", 8, "0.1", 2, "0"}, // 0.4999999 cents
		{"reversal: -1.5 cents to even -2", "-3", 8, "500000", 2, "-2"},
		{"reversal: -2.5 cents to even -2", "-5", 8, "500000", 2, "-2"},
		{"reversal: -2.6 cents", "-13", 8, "200000", 2, "-3"},         // -2.6 cents
		{"JPY", "12345678", 8, "9876543", 0, "1219326"},               // 1219326.196...
		{"KWD", "1000000000000000000", 18, "1000.1235", 3, "1000124"}, // 1000123.5 -> even 1000124
		{"USDC", "25005002", 6, "0.9998", 2, "2500"},                  // 2500.00019996
		{"zero", "0", 8, "65000", 2, "0"},
		{"rate with exponent", "100000000", 8, "65e3", 2, "6500000"},
		{"crypto scale below fiat scale", "3", 0, "1.23456", 4, "37037"}, // 3.70368
	}
	for _, tc := range tests {
		got := FiatFromCrypto(bigInt(t, tc.atomic), tc.cryptoScale, decimal.RequireFromString(tc.rate), tc.fiatScale)
		if got == nil || got.String() != tc.want {
			t.Errorf("%s: FiatFromCrypto(%s, %d, %s, %d) = %v, want %s",
				tc.name, tc.atomic, tc.cryptoScale, tc.rate, tc.fiatScale, got, tc.want)
		}
	}
}

func TestFiatFromCryptoBadInput(t *testing.T) {
	t.Parallel()
	one := big.NewInt(1)
	r := decimal.RequireFromString("65000")
	tests := []struct {
		name   string
		atomic *big.Int
		cs     int32
		rate   decimal.Decimal
		fs     int32
		want   error
	}{
		{"nil amount", nil, 8, r, 2, ErrNotPositive},
		{"zero rate", one, 8, decimal.Zero, 2, ErrRate},
		{"negative rate", one, 8, r.Neg(), 2, ErrRate},
		{"huge rate exponent", one, 8, decimal.New(1, 5000), 2, ErrRate},
		{"bad crypto scale", one, -3, r, 2, ErrScale},
		{"bad fiat scale", one, 8, r, 1 << 30, ErrScale},
	}
	for _, tc := range tests {
		if got := FiatFromCrypto(tc.atomic, tc.cs, tc.rate, tc.fs); got != nil {
			t.Errorf("%s: FiatFromCrypto = %s, want nil", tc.name, got)
		}
		if got, err := CheckedFiatFromCrypto(tc.atomic, tc.cs, tc.rate, tc.fs); !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: CheckedFiatFromCrypto = %v, %v; want error %v", tc.name, got, err, tc.want)
		}
	}
}

// checkQuote verifies every promise CryptoDue makes, with arithmetic
// independent of the implementation (big.Rat and shopspring/decimal).
func checkQuote(t *testing.T, price *big.Int, f int32, rate decimal.Decimal, c int32, due *big.Int, eff decimal.Decimal) {
	t.Helper()
	desc := func() string {
		return fmt.Sprintf("price %s at fiat scale %d, rate %s, crypto scale %d: due %s, effective %s",
			price, f, rate, c, due, eff)
	}
	// due is the smallest atomic amount worth at least the price at rate:
	// due × rate / 10^c ≥ price / 10^f > (due-1) × rate / 10^c.
	target := new(big.Rat).SetFrac(price, pow10(f))
	worth := func(n *big.Int) *big.Rat {
		r := new(big.Rat).SetFrac(n, pow10(c))
		return r.Mul(r, rate.Rat())
	}
	if worth(due).Cmp(target) < 0 {
		t.Fatalf("due is short of the price: %s", desc())
	}
	if worth(new(big.Int).Sub(due, big.NewInt(1))).Cmp(target) >= 0 {
		t.Fatalf("due is not the smallest sufficient amount: %s", desc())
	}
	// The effective rate converts due back to the price exactly, checked by
	// the implementation and by decimal's exact multiply and banker's rounding.
	if back := FiatFromCrypto(due, c, eff, f); back == nil || back.Cmp(price) != 0 {
		t.Fatalf("FiatFromCrypto(due, effective) = %v: %s", back, desc())
	}
	oracle := func(e decimal.Decimal) *big.Int {
		return decimal.NewFromBigInt(due, -c).Mul(e).Shift(f).RoundBank(0).BigInt()
	}
	if back := oracle(eff); back.Cmp(price) != 0 {
		t.Fatalf("decimal oracle converts due at effective to %s: %s", back, desc())
	}
	if !eff.IsPositive() {
		t.Fatalf("effective rate not positive: %s", desc())
	}
	// 18 fractional digits, and more only when 18 do not work.
	k := -eff.Exponent()
	if k < EffectiveRateDigits {
		t.Fatalf("effective rate has exponent %d, want ≤ -18: %s", eff.Exponent(), desc())
	}
	scaled := new(big.Int).Mul(due, pow10(f))
	if scaled.Cmp(new(big.Int).Mul(pow10(EffectiveRateDigits), pow10(c))) < 0 && k != EffectiveRateDigits {
		t.Fatalf("effective rate has %d digits where 18 are guaranteed to suffice: %s", k, desc())
	}
	if k > EffectiveRateDigits {
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(price, pow10(c)), scaled)
		shorter := decimal.NewFromBigRat(exact, k-1)
		if oracle(shorter).Cmp(price) == 0 {
			t.Fatalf("effective rate uses %d digits but %d suffice: %s", k, k-1, desc())
		}
	}
}

func randDigits(r *rand.Rand, n int) *big.Int {
	b := make([]byte, n)
	b[0] = byte('1' + r.IntN(9))
	for i := 1; i < n; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	v, _ := new(big.Int).SetString(string(b), 10)
	return v
}

func TestCryptoDueProperty(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	fiatScales := []int32{0, 2, 3, 4}
	cryptoScales := []int32{0, 6, 8, 18}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	var long, tooLarge int
	for range n {
		price := randDigits(r, 1+r.IntN(20))
		f := fiatScales[r.IntN(len(fiatScales))]
		c := cryptoScales[r.IntN(len(cryptoScales))]
		if r.IntN(4) == 0 {
			f, c = int32(r.IntN(10)), int32(r.IntN(31))
		}
		rate := decimal.NewFromBigInt(randDigits(r, 1+r.IntN(30)), int32(r.IntN(37)-30))
		due, eff, err := CryptoDue(price, f, rate, c)
		if errors.Is(err, ErrTooLarge) {
			tooLarge++
			continue
		}
		if err != nil {
			t.Fatalf("CryptoDue(%s, %d, %s, %d): %v", price, f, rate, c, err)
		}
		checkQuote(t, price, f, rate, c, due, eff)
		if eff.Exponent() < -EffectiveRateDigits {
			long++
		}
	}
	t.Logf("%d quotes: %d needed more than 18 digits, %d were too large", n, long, tooLarge)
	if long == 0 || long > n/2 || tooLarge > n/4 {
		t.Errorf("the generator no longer covers both effective-rate branches well: %d long, %d too large of %d", long, tooLarge, n)
	}
}

func FuzzCryptoDue(f *testing.F) {
	for _, tc := range cryptoDueCases {
		rate := decimal.RequireFromString(tc.rate)
		f.Add(bigInt(f, tc.price).Bytes(), uint8(tc.fiatScale), rate.Coefficient().Bytes(), int16(rate.Exponent()), uint8(tc.cryptoScale))
	}
	f.Fuzz(func(t *testing.T, p []byte, fs uint8, coef []byte, exp int16, cs uint8) {
		price := new(big.Int).SetBytes(p)
		fiatScale, cryptoScale := int32(fs%(MaxScale+2)), int32(cs%(MaxScale+2))
		rate := decimal.NewFromBigInt(new(big.Int).SetBytes(coef), int32(exp))
		due, eff, err := CryptoDue(price, fiatScale, rate, cryptoScale)
		if err != nil {
			if due != nil {
				t.Fatalf("CryptoDue returned due %s with error %v", due, err)
			}
			for _, sentinel := range []error{ErrNotPositive, ErrRate, ErrScale, ErrTooLarge} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("CryptoDue: error %v wraps no sentinel", err)
		}
		checkQuote(t, price, fiatScale, rate, cryptoScale, due, eff)
	})
}

func TestFiatFromCryptoMatchesDecimal(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		atomic := randDigits(r, 1+r.IntN(40))
		if r.IntN(2) == 0 {
			atomic.Neg(atomic)
		}
		c, f := int32(r.IntN(31)), int32(r.IntN(5))
		rate := decimal.NewFromBigInt(randDigits(r, 1+r.IntN(25)), int32(r.IntN(31)-20))
		got := FiatFromCrypto(atomic, c, rate, f)
		want := decimal.NewFromBigInt(atomic, -c).Mul(rate).Shift(f).RoundBank(0).BigInt()
		if got.Cmp(want) != 0 {
			t.Fatalf("FiatFromCrypto(%s, %d, %s, %d) = %s, decimal says %s", atomic, c, rate, f, got, want)
		}
		neg := FiatFromCrypto(new(big.Int).Neg(atomic), c, rate, f)
		if neg.Cmp(new(big.Int).Neg(got)) != 0 {
			t.Fatalf("FiatFromCrypto is not symmetric for %s: %s vs %s", atomic, got, neg)
		}
	}
}
