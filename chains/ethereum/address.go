package ethereum

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

var (
	// ErrInvalidAddress reports text that is not a 0x-prefixed 20-byte hex address.
	ErrInvalidAddress = errors.New("invalid ethereum address")
	// ErrBadChecksum reports a mixed-case address whose EIP-55 checksum does not match.
	ErrBadChecksum = errors.New("ethereum address has a bad EIP-55 checksum")
)

// ParseAddress parses a 0x-prefixed, 40-hex-digit address. All-lowercase and
// all-uppercase digits are accepted as carrying no checksum; mixed case must be a
// valid EIP-55 checksum, otherwise ParseAddress returns an error wrapping
// ErrBadChecksum, since a wrong checksum usually means a mistyped address.
func ParseAddress(s string) (common.Address, error) {
	hexPart, ok := strings.CutPrefix(s, "0x")
	if !ok {
		hexPart, ok = strings.CutPrefix(s, "0X")
	}
	if !ok {
		return common.Address{}, fmt.Errorf("%w %q: missing 0x prefix", ErrInvalidAddress, truncate(s))
	}
	if len(hexPart) != 2*common.AddressLength {
		return common.Address{}, fmt.Errorf("%w %q: want 40 hex digits, got %d characters", ErrInvalidAddress, truncate(s), len(hexPart))
	}
	hasLower, hasUpper := false, false
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			hasLower = true
		case c >= 'A' && c <= 'F':
			hasUpper = true
		default:
			return common.Address{}, fmt.Errorf("%w %q: character %q at position %d is not hex", ErrInvalidAddress, truncate(s), c, i+2)
		}
	}
	addr := common.HexToAddress(hexPart)
	if hasLower && hasUpper {
		if want := addr.Hex(); want[2:] != hexPart {
			return common.Address{}, fmt.Errorf("%w: %s (expected %s)", ErrBadChecksum, s, want)
		}
	}
	return addr, nil
}

// FormatAddress returns the EIP-55 mixed-case checksum form of a.
func FormatAddress(a common.Address) string {
	return a.Hex()
}

// truncate shortens untrusted input quoted in error messages.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
