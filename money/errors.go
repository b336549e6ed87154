package money

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers branch with errors.Is and show the wrapped message (which
// names the offending input) to humans.
var (
	// ErrEmpty reports an empty amount string.
	ErrEmpty = errors.New("money: empty amount")
	// ErrSyntax reports an amount string that is not a plain decimal number
	// (signs, exponents, separators, spaces, non-ASCII digits, "5.", ".5",
	// leading zeros, negative zero).
	ErrSyntax = errors.New("money: invalid amount syntax")
	// ErrNegative reports a negative amount where only non-negative amounts
	// are accepted.
	ErrNegative = errors.New("money: negative amount")
	// ErrTooPrecise reports more fractional digits than the asset's scale
	// allows, even when the extra digits are zeros.
	ErrTooPrecise = errors.New("money: too many fractional digits")
	// ErrTooLarge reports an atomic amount with more than MaxDigits
	// significant digits (it would not fit NUMERIC(78,0)).
	ErrTooLarge = errors.New("money: amount too large")
	// ErrScale reports a scale outside [0, MaxScale].
	ErrScale = errors.New("money: invalid scale")
	// ErrNotPositive reports a missing, zero or negative price where a
	// positive one is required.
	ErrNotPositive = errors.New("money: amount must be positive")
	// ErrRate reports a missing, zero, negative or absurdly large exchange
	// rate.
	ErrRate = errors.New("money: invalid exchange rate")
	// ErrAsset reports an asset that is malformed or fails validation.
	ErrAsset = errors.New("money: invalid asset")
)
