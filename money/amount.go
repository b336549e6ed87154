package money

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxDigits is the largest number of significant digits an atomic amount
	// may have: the precision of the NUMERIC(78,0) column that stores it
	// (2^256-1 has 78 digits).
	MaxDigits = 78
	// MaxScale is the largest scale (digits after the decimal point) an asset
	// or amount may have: one whole unit must still fit in MaxDigits.
	MaxScale = MaxDigits - 1
)

// ParseAmount parses a plain decimal string such as "25.00", "0.5" or "12"
// into atomic units at the given scale ("0.5" at scale 2 is 50). It is the
// parser for untrusted API input and never returns a negative value.
//
// The accepted grammar is deliberately narrow: an integer part that is "0" or
// has no leading zero, optionally followed by '.' and one to scale fractional
// digits, all ASCII. Everything else is rejected: the empty string (ErrEmpty);
// a leading '-' (ErrNegative); '+', exponents ("1e3"), digit group separators
// ("1,000", "1_000", "1 000"), surrounding spaces, a lone ".", "5." or ".5",
// leading zeros ("007"), non-ASCII digits (ErrSyntax); more fractional digits
// than scale, even zeros: "25.000" at scale 2 (ErrTooPrecise); more than
// MaxDigits significant digits in the atomic result (ErrTooLarge); and a scale
// outside [0, MaxScale] (ErrScale).
func ParseAmount(s string, scale int32) (*big.Int, error) {
	if strings.HasPrefix(s, "-") {
		if _, err := parseUnsigned(s[1:], s, scale); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("amount %s is negative: %w", quote(s), ErrNegative)
	}
	return parseUnsigned(s, s, scale)
}

// ParseSignedAmount is ParseAmount that also accepts a leading '-'. It is for
// trusted internal strings such as ledger reversals, never for API input. A
// negative zero ("-0", "-0.00") is rejected with ErrSyntax because
// FormatAmount never produces one.
func ParseSignedAmount(s string, scale int32) (*big.Int, error) {
	rest, neg := strings.CutPrefix(s, "-")
	v, err := parseUnsigned(rest, s, scale)
	if err != nil {
		return nil, err
	}
	if neg {
		if v.Sign() == 0 {
			return nil, fmt.Errorf("amount %s is a negative zero: %w", quote(s), ErrSyntax)
		}
		v.Neg(v)
	}
	return v, nil
}

// parseUnsigned parses s (without sign) at scale; orig is the full input,
// used in error messages.
func parseUnsigned(s, orig string, scale int32) (*big.Int, error) {
	if scale < 0 || scale > MaxScale {
		return nil, fmt.Errorf("parse amount %s: scale %d outside [0, %d]: %w", quote(orig), scale, MaxScale, ErrScale)
	}
	if orig == "" {
		return nil, ErrEmpty
	}
	if s == "" {
		return nil, syntaxErr(orig, "no digits")
	}
	point := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && point < 0:
			point = i
		default:
			return nil, syntaxErr(orig, describeBadChar(s, i, point >= 0))
		}
	}
	intPart, fracPart := s, ""
	if point >= 0 {
		intPart, fracPart = s[:point], s[point+1:]
		if intPart == "" {
			return nil, syntaxErr(orig, "missing digits before the decimal point")
		}
		if fracPart == "" {
			return nil, syntaxErr(orig, "missing digits after the decimal point")
		}
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return nil, syntaxErr(orig, "leading zeros are not allowed")
	}
	if len(fracPart) > int(scale) {
		return nil, fmt.Errorf("amount %s has %d fractional digits, scale allows %d: %w",
			quote(orig), len(fracPart), scale, ErrTooPrecise)
	}
	sig := len(intPart) + int(scale)
	if intPart == "0" {
		sig = int(scale) - (len(fracPart) - len(strings.TrimLeft(fracPart, "0")))
		if strings.Trim(fracPart, "0") == "" {
			sig = 0
		}
	}
	if sig > MaxDigits {
		return nil, fmt.Errorf("amount %s has %d significant digits at scale %d, at most %d allowed: %w",
			quote(orig), sig, scale, MaxDigits, ErrTooLarge)
	}
	digits := intPart + fracPart + strings.Repeat("0", int(scale)-len(fracPart))
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok { // unreachable: digits holds only ASCII digits
		return nil, syntaxErr(orig, "not a decimal number")
	}
	return v, nil
}

// describeBadChar explains why byte i of s is not acceptable.
func describeBadChar(s string, i int, sawPoint bool) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == '.' && sawPoint:
		return fmt.Sprintf("second decimal point at offset %d", i)
	case r == '+':
		return "a '+' sign is not allowed"
	case r == '-':
		return fmt.Sprintf("misplaced '-' at offset %d", i)
	case r == 'e' || r == 'E':
		return "exponent notation is not allowed"
	case r == ',' || r == '_' || r == '\'':
		return fmt.Sprintf("digit group separator %q is not allowed", r)
	case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0':
		return fmt.Sprintf("whitespace at offset %d is not allowed", i)
	case r >= utf8.RuneSelf || r == utf8.RuneError:
		return fmt.Sprintf("non-ASCII character %q at offset %d", r, i)
	default:
		return fmt.Sprintf("unexpected character %q at offset %d", r, i)
	}
}

func syntaxErr(s, why string) error {
	return fmt.Errorf("amount %s: %s: %w", quote(s), why, ErrSyntax)
}

// quote renders untrusted input for an error message, cut to a sane length.
func quote(s string) string {
	const limit = 40
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// FormatAmount formats atomic units at scale as a plain decimal string with
// exactly scale fractional digits: 2500 at scale 2 is "25.00", 1 at scale 8 is
// "0.00000001", -150 at scale 2 is "-1.50"; scale 0 gives no decimal point. It
// never uses scientific notation, and ParseSignedAmount(FormatAmount(x, s), s)
// returns x for every x with at most MaxDigits digits.
//
// FormatAmount does not fail: a nil amount formats as "<nil>" (like
// big.Int.String) and a scale outside [0, MaxScale] as the atomic value
// followed by "%!(BADSCALE=n)", in the manner of package fmt.
func FormatAmount(atomic *big.Int, scale int32) string {
	if atomic == nil {
		return "<nil>"
	}
	if scale < 0 || scale > MaxScale {
		return fmt.Sprintf("%s%%!(BADSCALE=%d)", atomic.String(), scale)
	}
	// The digits of |atomic|: without big.Int's formatting (allocations) for the amounts
	// that fit an int64, which are most amounts, formatted on every export row.
	var buf [24]byte
	var digits []byte
	if v := atomic.Int64(); atomic.IsInt64() && v != math.MinInt64 {
		digits = strconv.AppendInt(buf[:0], max(v, -v), 10)
	} else {
		digits = new(big.Int).Abs(atomic).Append(buf[:0], 10)
	}
	// sign, the integer part (at least "0"), then scale fraction digits; on the stack for
	// every amount of at most MaxDigits digits.
	var ob [MaxDigits + MaxScale + 3]byte
	out := ob[:0]
	if atomic.Sign() < 0 {
		out = append(out, '-')
	}
	if scale == 0 {
		return string(append(out, digits...))
	}
	if pad := int(scale) + 1 - len(digits); pad > 0 {
		out = append(out, '0', '.')
		for range pad - 1 {
			out = append(out, '0')
		}
		return string(append(out, digits...))
	}
	cut := len(digits) - int(scale)
	out = append(append(out, digits[:cut]...), '.')
	return string(append(out, digits[cut:]...))
}
