package money

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

const (
	// EffectiveRateDigits is the number of fractional digits CryptoDue gives
	// the effective rate, unless the quote needs more (see CryptoDue).
	EffectiveRateDigits = 18
	// maxRateExponent bounds |rate.Exponent()| so that a hostile rate cannot
	// make the exact arithmetic allocate without limit.
	maxRateExponent = 1000
	// maxRateBits bounds the size of a rate's coefficient (about 1200 digits).
	maxRateBits = 4000
)

// CryptoDue converts a fiat price, in minor units at fiatScale, to the crypto
// amount due at rate, the price of ONE whole crypto unit in that fiat (a
// positive decimal). due is rounded UP to cryptoScale, so the merchant is
// never short: it is the smallest atomic amount with
// due/10^cryptoScale × rate ≥ price/10^fiatScale.
//
// effective is the rate actually charged, back-computed from due so that
// FiatFromCrypto(due, cryptoScale, effective, fiatScale) == price exactly.
// It is price/due (both in whole units) rounded half-even to
// EffectiveRateDigits (18) fractional digits whenever that satisfies the
// equality, which is guaranteed when
// due/10^cryptoScale × 10^fiatScale < 10^18, that is, for fewer than 10^16
// whole crypto units against a 2-decimal currency (every BTC or ETH amount
// that can exist); otherwise it uses the fewest additional digits that do, so
// effective.Exponent() is -18 or lower, never higher. The arithmetic is exact
// (big integers); effective never exceeds rate by more than half a unit in its
// last digit.
//
// Errors: ErrNotPositive for a nil, zero or negative price; ErrTooLarge for a
// price or due above MaxDigits digits; ErrRate for a rate that is not
// positive or has an absurd exponent or size (beyond 10^±1000); ErrScale for
// a scale outside [0, MaxScale].
func CryptoDue(price *big.Int, fiatScale int32, rate decimal.Decimal, cryptoScale int32) (due *big.Int, effective decimal.Decimal, err error) {
	if err := checkScales(cryptoScale, fiatScale); err != nil {
		return nil, decimal.Decimal{}, fmt.Errorf("crypto due: %w", err)
	}
	if price == nil || price.Sign() <= 0 {
		return nil, decimal.Decimal{}, fmt.Errorf("crypto due: price %s: %w", FormatAmount(price, fiatScale), ErrNotPositive)
	}
	if tooManyDigits(price) {
		return nil, decimal.Decimal{}, fmt.Errorf("crypto due: price has more than %d digits: %w", MaxDigits, ErrTooLarge)
	}
	if err := checkRate(rate); err != nil {
		return nil, decimal.Decimal{}, fmt.Errorf("crypto due: %w", err)
	}

	// due = ceil(price × 10^c / (coef × 10^(exp+f))), all in integers.
	num := new(big.Int).Mul(price, pow10(cryptoScale))
	den := new(big.Int).Set(rate.Coefficient())
	if e := int64(rate.Exponent()) + int64(fiatScale); e >= 0 {
		den.Mul(den, pow10(int32(e)))
	} else {
		num.Mul(num, pow10(int32(-e)))
	}
	due = ceilDiv(num, den)
	if tooManyDigits(due) {
		return nil, decimal.Decimal{}, fmt.Errorf("crypto due: %s at rate %s is more than %d digits of the crypto asset: %w",
			FormatAmount(price, fiatScale), rate.String(), MaxDigits, ErrTooLarge)
	}

	// effective ≈ price × 10^c / (due × 10^f), rounded to k fractional digits:
	// coefficient = round(price × 10^(c+k) / (due × 10^f)). Rounding to the
	// nearest moves due × effective by at most due × 10^(f-c-k) / 2 minor
	// units, which is below 1/2 once 10^(k+c-f) > due, so kMax always works.
	kMax := max(int32(EffectiveRateDigits), int32(digits(due))+fiatScale-cryptoScale+1)
	den = new(big.Int).Mul(due, pow10(fiatScale))
	for k := int32(EffectiveRateDigits); ; k++ {
		num := new(big.Int).Mul(price, pow10(cryptoScale+k))
		effective = decimal.NewFromBigInt(roundHalfEven(num, den), -k)
		if k >= kMax || fiatFromCrypto(due, cryptoScale, effective, fiatScale).Cmp(price) == 0 {
			return due, effective, nil
		}
	}
}

// FiatFromCrypto converts atomic crypto units at cryptoScale to fiat minor
// units at fiatScale at rate (the price of one whole crypto unit), rounding
// half-even, once, on the exact product. A negative amount (a reversal)
// converts to the negated conversion of its absolute value.
//
// FiatFromCrypto cannot report errors: it returns nil when atomic is nil, the
// rate is not positive or has an absurd exponent or size, or a scale is
// outside [0, MaxScale]. Use CheckedFiatFromCrypto where those may come from
// input.
func FiatFromCrypto(atomic *big.Int, cryptoScale int32, rate decimal.Decimal, fiatScale int32) *big.Int {
	v, err := CheckedFiatFromCrypto(atomic, cryptoScale, rate, fiatScale)
	if err != nil {
		return nil
	}
	return v
}

// CheckedFiatFromCrypto is FiatFromCrypto with an error instead of nil for
// bad input: ErrNotPositive wrapped for a nil amount, ErrRate for a bad rate,
// ErrScale for a bad scale.
func CheckedFiatFromCrypto(atomic *big.Int, cryptoScale int32, rate decimal.Decimal, fiatScale int32) (*big.Int, error) {
	if err := checkScales(cryptoScale, fiatScale); err != nil {
		return nil, fmt.Errorf("fiat from crypto: %w", err)
	}
	if atomic == nil {
		return nil, fmt.Errorf("fiat from crypto: nil amount: %w", ErrNotPositive)
	}
	if err := checkRate(rate); err != nil {
		return nil, fmt.Errorf("fiat from crypto: %w", err)
	}
	return fiatFromCrypto(atomic, cryptoScale, rate, fiatScale), nil
}

// fiatFromCrypto computes round_half_even(atomic × coef × 10^(exp+f-c)).
func fiatFromCrypto(atomic *big.Int, cryptoScale int32, rate decimal.Decimal, fiatScale int32) *big.Int {
	num := new(big.Int).Mul(atomic, rate.Coefficient())
	e := int64(rate.Exponent()) + int64(fiatScale) - int64(cryptoScale)
	if e >= 0 {
		return num.Mul(num, pow10(int32(e)))
	}
	return roundHalfEven(num, pow10(int32(-e)))
}

func checkScales(cryptoScale, fiatScale int32) error {
	if cryptoScale < 0 || cryptoScale > MaxScale {
		return fmt.Errorf("crypto scale %d outside [0, %d]: %w", cryptoScale, MaxScale, ErrScale)
	}
	if fiatScale < 0 || fiatScale > MaxScale {
		return fmt.Errorf("fiat scale %d outside [0, %d]: %w", fiatScale, MaxScale, ErrScale)
	}
	return nil
}

func checkRate(rate decimal.Decimal) error {
	if rate.Sign() <= 0 {
		return fmt.Errorf("rate %s is not positive: %w", rate.String(), ErrRate)
	}
	if e := rate.Exponent(); e > maxRateExponent || e < -maxRateExponent {
		return fmt.Errorf("rate exponent %d outside [-%d, %d]: %w", e, maxRateExponent, maxRateExponent, ErrRate)
	}
	if rate.Coefficient().BitLen() > maxRateBits {
		return fmt.Errorf("rate has more than %d bits of digits: %w", maxRateBits, ErrRate)
	}
	return nil
}

// pow10 returns a new 10^n for n ≥ 0.
func pow10(n int32) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// tooManyDigits reports whether |x| has more than MaxDigits decimal digits.
func tooManyDigits(x *big.Int) bool {
	// 10^MaxDigits < 2^260, so a longer number certainly has too many digits
	// and is never converted to a string.
	return x.BitLen() > 260 || digits(x) > MaxDigits
}

// digits returns the number of decimal digits of |x| (0 for zero).
func digits(x *big.Int) int {
	if x.Sign() == 0 {
		return 0
	}
	return len(new(big.Int).Abs(x).String())
}

// ceilDiv returns ⌈num/den⌉ for num ≥ 0 and den > 0.
func ceilDiv(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// roundHalfEven returns num/den rounded to the nearest integer, ties to even,
// for any num and den > 0.
func roundHalfEven(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // q truncated toward zero; r has num's sign
	twice := r.Abs(r)
	twice.Lsh(twice, 1)
	if c := twice.Cmp(den); c > 0 || c == 0 && q.Bit(0) == 1 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
