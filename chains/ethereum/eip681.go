package ethereum

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

var (
	// ErrInvalidURI reports text that is not a well-formed EIP-681 payment URI.
	ErrInvalidURI = errors.New("invalid EIP-681 payment URI")
	// ErrUnsupportedURI reports a well-formed EIP-681 URI that chainpay does not handle,
	// such as an ENS name target or a function other than ERC-20 transfer.
	ErrUnsupportedURI = errors.New("unsupported EIP-681 payment URI")
	// ErrInvalidAmount reports an amount that is not a non-negative integer below 2^256.
	ErrInvalidAmount = errors.New("invalid amount")
)

// MaxURILen bounds the payment URIs ParsePaymentURI accepts.
const MaxURILen = 2048

// maxUint256 is 2^256 - 1, the largest amount an EVM transfer can carry.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// PaymentURI is an EIP-681 payment request for either the chain's native
// currency or an ERC-20 transfer.
type PaymentURI struct {
	// ChainID is the EIP-155 chain id; 0 means the URI names none (wallets then assume mainnet).
	ChainID uint64
	// Token is the ERC-20 contract for a token transfer, or nil for native currency.
	Token *common.Address
	// To is the account that receives the payment.
	To common.Address
	// Amount is in base units (wei, or the token's smallest unit); nil when the URI names none.
	Amount *big.Int
}

// NativeURI returns the EIP-681 URI asking for wei of chainID's native currency
// to be sent to to: ethereum:0xTO@CHAIN?value=WEI, with wei written as a plain
// decimal integer.
func NativeURI(chainID uint64, to common.Address, wei *big.Int) (string, error) {
	if err := checkRequest(chainID, to, wei); err != nil {
		return "", fmt.Errorf("native payment URI: %w", err)
	}
	return PaymentURI{ChainID: chainID, To: to, Amount: wei}.String(), nil
}

// TokenURI returns the EIP-681 URI asking for units of the ERC-20 token to be
// transferred to to: ethereum:0xTOKEN@CHAIN/transfer?address=0xTO&uint256=UNITS.
func TokenURI(chainID uint64, token, to common.Address, units *big.Int) (string, error) {
	if token == (common.Address{}) {
		return "", fmt.Errorf("token payment URI: token: %w", ErrZeroAddress)
	}
	if err := checkRequest(chainID, to, units); err != nil {
		return "", fmt.Errorf("token payment URI: %w", err)
	}
	return PaymentURI{ChainID: chainID, Token: &token, To: to, Amount: units}.String(), nil
}

func checkRequest(chainID uint64, to common.Address, amount *big.Int) error {
	switch {
	case chainID == 0:
		return errors.New("chain id must be positive")
	case to == (common.Address{}):
		return fmt.Errorf("recipient: %w", ErrZeroAddress)
	case amount == nil:
		return fmt.Errorf("%w: missing", ErrInvalidAmount)
	case amount.Sign() < 0:
		return fmt.Errorf("%w: %s is negative", ErrInvalidAmount, amount)
	case amount.Cmp(maxUint256) > 0:
		return fmt.Errorf("%w: %s exceeds 2^256-1", ErrInvalidAmount, amount)
	}
	return nil
}

// String returns the URI in chainpay's canonical form: EIP-55 addresses, the
// chain id when non-zero, amounts as plain decimal integers. For a PaymentURI
// returned by ParsePaymentURI, parsing String's result yields an equal value.
func (p PaymentURI) String() string {
	var b strings.Builder
	b.WriteString("ethereum:")
	if p.Token != nil {
		b.WriteString(p.Token.Hex())
	} else {
		b.WriteString(p.To.Hex())
	}
	if p.ChainID != 0 {
		b.WriteByte('@')
		b.WriteString(strconv.FormatUint(p.ChainID, 10))
	}
	if p.Token != nil {
		b.WriteString("/transfer?address=")
		b.WriteString(p.To.Hex())
		if p.Amount != nil {
			b.WriteString("&uint256=")
			b.WriteString(p.Amount.String())
		}
		return b.String()
	}
	if p.Amount != nil {
		b.WriteString("?value=")
		b.WriteString(p.Amount.String())
	}
	return b.String()
}

// ParsePaymentURI parses an EIP-681 URI for a native payment
// (ethereum:[pay-]0xTO[@CHAIN][?value=N]) or an ERC-20 transfer
// (ethereum:[pay-]0xTOKEN[@CHAIN]/transfer?address=0xTO[&uint256=N]).
// Numbers may use EIP-681's scientific notation (2.014e18) but must denote an
// exact integer below 2^256; gas, gasLimit and gasPrice are checked and
// ignored; any other parameter, a repeated parameter or a bad EIP-55 checksum
// is an error. ENS names and other functions wrap ErrUnsupportedURI.
func ParsePaymentURI(s string) (PaymentURI, error) {
	if len(s) > MaxURILen {
		return PaymentURI{}, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrInvalidURI, len(s), MaxURILen)
	}
	const scheme = "ethereum:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return PaymentURI{}, fmt.Errorf("%w %q: scheme must be %q", ErrInvalidURI, truncate(s), scheme)
	}
	rest := strings.TrimPrefix(s[len(scheme):], "pay-")
	path, query, hasQuery := strings.Cut(rest, "?")
	targetPart, function, hasFunction := strings.Cut(path, "/")
	targetText, chainText, hasChain := strings.Cut(targetPart, "@")

	var p PaymentURI
	if !strings.HasPrefix(targetText, "0x") && !strings.HasPrefix(targetText, "0X") {
		return PaymentURI{}, fmt.Errorf("%w: target %q is not a hex address (ENS names are not supported)", ErrUnsupportedURI, truncate(targetText))
	}
	target, err := ParseAddress(targetText)
	if err != nil {
		return PaymentURI{}, fmt.Errorf("%w: target: %w", ErrInvalidURI, err)
	}
	if hasChain {
		id, err := parseChainID(chainText)
		if err != nil {
			return PaymentURI{}, err
		}
		p.ChainID = id
	}
	params, err := parseQuery(query, hasQuery)
	if err != nil {
		return PaymentURI{}, err
	}

	switch {
	case !hasFunction:
		p.To = target
		if err := params.only("value"); err != nil {
			return PaymentURI{}, err
		}
		if p.Amount, err = params.number("value"); err != nil {
			return PaymentURI{}, err
		}
	case function == "transfer":
		p.Token = &target
		if err := params.only("address", "uint256"); err != nil {
			return PaymentURI{}, err
		}
		to, ok := params["address"]
		if !ok {
			return PaymentURI{}, fmt.Errorf("%w: transfer needs an address parameter", ErrInvalidURI)
		}
		if p.To, err = ParseAddress(to); err != nil {
			return PaymentURI{}, fmt.Errorf("%w: address parameter: %w", ErrInvalidURI, err)
		}
		if p.Amount, err = params.number("uint256"); err != nil {
			return PaymentURI{}, err
		}
	case function == "":
		return PaymentURI{}, fmt.Errorf("%w: empty function name after '/'", ErrInvalidURI)
	default:
		return PaymentURI{}, fmt.Errorf("%w: function %q (only transfer is supported)", ErrUnsupportedURI, truncate(function))
	}
	return p, nil
}

func parseChainID(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: chain id %q is not a decimal integer without leading zeros", ErrInvalidURI, truncate(s))
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: chain id %q out of range", ErrInvalidURI, truncate(s))
	}
	if id == 0 {
		return 0, fmt.Errorf("%w: chain id must be positive", ErrInvalidURI)
	}
	return id, nil
}

// uriParams holds the parameters of a payment URI's query.
type uriParams map[string]string

// gasParams are EIP-681 transaction parameters that chainpay accepts and ignores.
var gasParams = [...]string{"gas", "gasLimit", "gasPrice"}

func parseQuery(query string, present bool) (uriParams, error) {
	params := uriParams{}
	if !present {
		return params, nil
	}
	if query == "" {
		return nil, fmt.Errorf("%w: empty query after '?'", ErrInvalidURI)
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%w: parameter %q is not key=value", ErrInvalidURI, truncate(kv))
		}
		if _, dup := params[k]; dup {
			return nil, fmt.Errorf("%w: parameter %q repeated", ErrInvalidURI, truncate(k))
		}
		params[k] = v
	}
	for _, g := range gasParams {
		if v, ok := params[g]; ok {
			if _, err := parseNumber(v); err != nil {
				return nil, fmt.Errorf("%w: parameter %s: %w", ErrInvalidURI, g, err)
			}
		}
	}
	return params, nil
}

// only reports an error for any parameter other than allowed and the gas parameters.
func (p uriParams) only(allowed ...string) error {
next:
	for k := range p {
		for _, a := range allowed {
			if k == a {
				continue next
			}
		}
		for _, g := range gasParams {
			if k == g {
				continue next
			}
		}
		return fmt.Errorf("%w: unknown parameter %q", ErrInvalidURI, truncate(k))
	}
	return nil
}

// number returns the named parameter as an exact integer, or nil when absent.
func (p uriParams) number(key string) (*big.Int, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	n, err := parseNumber(v)
	if err != nil {
		return nil, fmt.Errorf("%w: parameter %s: %w", ErrInvalidURI, key, err)
	}
	return n, nil
}

// parseNumber parses an EIP-681 number (DIGITS[.DIGITS][e|E DIGITS]) that must
// denote an exact integer in [0, 2^256). It uses integer arithmetic only.
func parseNumber(s string) (*big.Int, error) {
	mant, exp, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, exp, hasExp = strings.Cut(s, "E")
	}
	intPart, frac, hasFrac := strings.Cut(mant, ".")
	if intPart == "" || !isDigits(intPart) || (hasFrac && (frac == "" || !isDigits(frac))) {
		return nil, fmt.Errorf("%w: %q is not a non-negative decimal number", ErrInvalidAmount, truncate(s))
	}
	shift := 0
	if hasExp {
		// Exponents past three digits can only overflow uint256 or fail the integer check.
		if exp == "" || !isDigits(exp) || len(exp) > 3 {
			return nil, fmt.Errorf("%w: %q has a bad exponent", ErrInvalidAmount, truncate(s))
		}
		shift, _ = strconv.Atoi(exp) // at most 999: cannot fail
	}
	digits := intPart + frac
	shift -= len(frac)
	if shift < 0 {
		cut := len(digits) + shift
		if strings.TrimLeft(digits[cut:], "0") != "" {
			return nil, fmt.Errorf("%w: %q is not a whole number of base units", ErrInvalidAmount, truncate(s))
		}
		digits, shift = digits[:cut], 0
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return new(big.Int), nil
	}
	if len(digits)+shift > 78 { // 2^256 has 78 decimal digits
		return nil, fmt.Errorf("%w: %q exceeds 2^256-1", ErrInvalidAmount, truncate(s))
	}
	n, ok := new(big.Int).SetString(digits+strings.Repeat("0", shift), 10)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidAmount, truncate(s))
	}
	if n.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("%w: %q exceeds 2^256-1", ErrInvalidAmount, truncate(s))
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
