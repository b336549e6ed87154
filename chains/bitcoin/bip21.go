package bitcoin

import (
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
)

// ErrInvalidURI is wrapped by every ParseBIP21 error.
var ErrInvalidURI = errors.New("invalid bitcoin URI")

// satsPerBTC is the number of satoshi in one bitcoin (scale 8).
const satsPerBTC = 100_000_000

// maxSats is the 21 million BTC supply cap in satoshi; no valid amount exceeds it.
const maxSats = 21_000_000 * satsPerBTC

// BIP21URI is a parsed `bitcoin:` payment URI.
type BIP21URI struct {
	// Address is the payment address, validated for the network.
	Address btcutil.Address
	// Amount is the requested amount in satoshi, or nil when absent.
	Amount *big.Int
	// Label and Message are the decoded label and message ("" when absent).
	Label, Message string
	// Other holds the remaining parameters, decoded, in URI order. Unknown
	// `req-` parameters never appear here: they make parsing fail.
	Other []URIParam
}

// URIParam is one name=value query parameter of a payment URI.
type URIParam struct {
	Name, Value string
}

// BIP21 builds a BIP 21 payment URI for addr. amount is in satoshi and is
// written as an exact decimal BTC value with trailing zeros trimmed
// (10000 -> "0.0001"); a nil, zero or negative amount is left out, since no
// wallet can pay it. label and message are percent-encoded per RFC 3986
// (space as %20) and left out when empty. addr is written as given; callers
// pass an address they derived or validated.
func BIP21(addr string, amount *big.Int, label, message string) string {
	var b strings.Builder
	b.WriteString("bitcoin:")
	b.WriteString(addr)
	sep := byte('?')
	param := func(name, value string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
	}
	if amount != nil && amount.Sign() > 0 {
		param("amount", FormatBTC(amount))
	}
	if label != "" {
		param("label", escapeRFC3986(label))
	}
	if message != "" {
		param("message", escapeRFC3986(message))
	}
	return b.String()
}

// FormatBTC writes a non-negative satoshi amount as decimal BTC with at most
// 8 fraction digits and no trailing zeros: 150000000 -> "1.5", 1 -> "0.00000001".
func FormatBTC(sats *big.Int) string {
	q, r := new(big.Int).QuoRem(sats, big.NewInt(satsPerBTC), new(big.Int))
	if r.Sign() == 0 {
		return q.String()
	}
	frac := fmt.Sprintf("%08s", r.String())
	return q.String() + "." + strings.TrimRight(frac, "0")
}

// ParseBTC parses a decimal BTC amount ("0.0001", "1", "21.") into satoshi
// exactly. It accepts digits with an optional '.' and at most 8 significant
// fraction digits; signs, exponents and amounts above 21 million BTC are
// rejected.
func ParseBTC(s string) (*big.Int, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return nil, fmt.Errorf("amount %q has no digits", s)
	}
	if hasDot && strings.Contains(frac, ".") {
		return nil, fmt.Errorf("amount %q has more than one '.'", s)
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return nil, fmt.Errorf("amount %q is not a plain decimal number of BTC", s)
			}
		}
	}
	trimmed := strings.TrimRight(frac, "0")
	if len(trimmed) > 8 {
		return nil, fmt.Errorf("amount %q has more than 8 decimal places (below 1 satoshi)", s)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 8 { // > 99,999,999 BTC: certainly above the cap
		return nil, fmt.Errorf("amount %q exceeds 21,000,000 BTC", s)
	}
	digits := whole + trimmed + strings.Repeat("0", 8-len(trimmed))
	sats, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("amount %q is not a number", s)
	}
	if sats.Cmp(big.NewInt(maxSats)) > 0 {
		return nil, fmt.Errorf("amount %q exceeds 21,000,000 BTC", s)
	}
	return sats, nil
}

// ParseBIP21 parses a BIP 21 URI for network n. The scheme is matched
// case-insensitively, the address must be a P2PKH, P2SH, P2WPKH, P2WSH or P2TR
// address of network n, amount is parsed exactly, a repeated amount, label or
// message is rejected, unknown parameters starting with "req-" are rejected
// (BIP 21: the payer must not pay what it does not understand) and other
// unknown parameters are returned in Other. Errors wrap ErrInvalidURI.
func ParseBIP21(uri string, n Network) (BIP21URI, error) {
	if _, err := Params(n); err != nil {
		return BIP21URI{}, err
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || !strings.EqualFold(scheme, "bitcoin") {
		return BIP21URI{}, fmt.Errorf("%w: scheme must be \"bitcoin:\"", ErrInvalidURI)
	}
	addrStr, query, hasQuery := strings.Cut(rest, "?")
	if addrStr == "" {
		return BIP21URI{}, fmt.Errorf("%w: no address after \"bitcoin:\"", ErrInvalidURI)
	}
	addr, err := decodePaymentAddress(addrStr, n)
	if err != nil {
		return BIP21URI{}, err
	}
	out := BIP21URI{Address: addr}
	if !hasQuery || query == "" {
		return out, nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(query, "&") {
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.PathUnescape(rawName)
		if err != nil {
			return BIP21URI{}, fmt.Errorf("%w: parameter name %q: bad percent-encoding", ErrInvalidURI, rawName)
		}
		value, err := url.PathUnescape(rawValue)
		if err != nil {
			return BIP21URI{}, fmt.Errorf("%w: parameter %q: bad percent-encoding", ErrInvalidURI, name)
		}
		if name == "" {
			if pair == "" {
				continue // tolerate "?&amount=1" and a trailing '&'
			}
			return BIP21URI{}, fmt.Errorf("%w: parameter with an empty name", ErrInvalidURI)
		}
		switch name {
		case "amount", "label", "message":
			if seen[name] {
				return BIP21URI{}, fmt.Errorf("%w: %s given twice", ErrInvalidURI, name)
			}
			seen[name] = true
		}
		switch {
		case name == "amount":
			sats, err := ParseBTC(value)
			if err != nil {
				return BIP21URI{}, fmt.Errorf("%w: %v", ErrInvalidURI, err)
			}
			out.Amount = sats
		case name == "label":
			out.Label = value
		case name == "message":
			out.Message = value
		case strings.HasPrefix(name, "req-"): // keys are case-sensitive (BIP 21)
			return BIP21URI{}, fmt.Errorf("%w: required parameter %q is not supported", ErrInvalidURI, name)
		default:
			out.Other = append(out.Other, URIParam{Name: name, Value: value})
		}
	}
	return out, nil
}

// decodePaymentAddress decodes a payable address for network n.
func decodePaymentAddress(s string, n Network) (btcutil.Address, error) {
	params, err := Params(n)
	if err != nil {
		return nil, err
	}
	addr, err := btcutil.DecodeAddress(s, params)
	if err != nil {
		// Say "wrong network" when the address is valid elsewhere.
		for _, other := range []Network{Mainnet, Testnet, Regtest} {
			op, _ := Params(other)
			if a, err := btcutil.DecodeAddress(s, op); err == nil && a.IsForNet(op) && !a.IsForNet(params) {
				return nil, fmt.Errorf("%w: %w: address is for %s, not %s", ErrInvalidURI, ErrWrongNetwork, other, n)
			}
		}
		return nil, fmt.Errorf("%w: address is not a valid %s address: %v", ErrInvalidURI, n, err)
	}
	switch addr.(type) {
	case *btcutil.AddressPubKeyHash, *btcutil.AddressScriptHash, *btcutil.AddressWitnessPubKeyHash,
		*btcutil.AddressWitnessScriptHash, *btcutil.AddressTaproot:
	default:
		return nil, fmt.Errorf("%w: %T is not a payment address", ErrInvalidURI, addr)
	}
	if !addr.IsForNet(params) {
		return nil, fmt.Errorf("%w: %w: address is not for %s", ErrInvalidURI, ErrWrongNetwork, n)
	}
	return addr, nil
}

// escapeRFC3986 percent-encodes every byte except the RFC 3986 unreserved
// characters A-Z a-z 0-9 - . _ ~ (so a space becomes %20, never '+').
func escapeRFC3986(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
