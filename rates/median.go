package rates

import (
	"errors"
	"slices"

	"github.com/shopspring/decimal"
)

var two = decimal.NewFromInt(2)

// Median returns the median of values, exactly. For an odd count it is the
// middle value; for an even count it is the mean of the two middle values,
// computed as (a+b) then DivRound by 2 at one more fractional digit than a+b
// has — halving a decimal needs at most one more digit, so nothing is
// rounded. values is not modified. An empty slice is an error.
func Median(values []decimal.Decimal) (decimal.Decimal, error) {
	if len(values) == 0 {
		return decimal.Decimal{}, errors.New("median of no values")
	}
	s := slices.Clone(values)
	slices.SortFunc(s, decimal.Decimal.Cmp)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], nil
	}
	sum := s[n/2-1].Add(s[n/2])
	return sum.DivRound(two, halfPrecision(sum)), nil
}

// halfPrecision is the number of fractional digits that represents d/2
// exactly: one more than d has.
func halfPrecision(d decimal.Decimal) int32 {
	if e := d.Exponent(); e < 0 {
		return -e + 1
	}
	return 1
}

// withinBand reports whether |x-ref| <= band*ref, computed exactly (no
// division). ref must be positive.
func withinBand(x, ref, band decimal.Decimal) bool {
	return x.Sub(ref).Abs().LessThanOrEqual(band.Mul(ref))
}
