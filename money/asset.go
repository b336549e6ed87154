package money

import (
	"fmt"
	"strconv"
	"strings"
)

// Asset is a unit of account: a fiat currency or a crypto asset on a chain.
// Amounts of an asset are integers in its smallest unit (cents, satoshi, wei,
// token base units); Scale says how many of those make one whole unit
// (10^Scale). Asset is a comparable value type: two assets are the same asset
// when all four fields are equal.
type Asset struct {
	Code     string // "USD", "BTC", "ETH", "USDC"
	Scale    int32  // digits after the decimal point: USD 2, JPY 0, BTC 8, ETH 18, USDC 6
	Chain    string // "" for fiat; "bitcoin", "ethereum", ... for crypto
	Contract string // "" unless a token: the token contract address
}

// Chain names used by the default crypto assets.
const (
	ChainBitcoin  = "bitcoin"
	ChainEthereum = "ethereum"
)

// BTC returns bitcoin: 8 decimals (satoshi) on the bitcoin chain.
func BTC() Asset { return Asset{Code: "BTC", Scale: 8, Chain: ChainBitcoin} }

// ETH returns ether: 18 decimals (wei) on Ethereum.
func ETH() Asset { return Asset{Code: "ETH", Scale: 18, Chain: ChainEthereum} }

// USDC returns Circle's USD Coin ERC-20 token on Ethereum mainnet (6 decimals).
// The same symbol on other chains is a different Asset with its own contract
// and decimals (18 on BNB chain): build it from the chain configuration.
func USDC() Asset {
	return Asset{Code: "USDC", Scale: 6, Chain: ChainEthereum, Contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"}
}

// USDT returns Tether's USD₮ ERC-20 token on Ethereum mainnet (6 decimals).
func USDT() Asset {
	return Asset{Code: "USDT", Scale: 6, Chain: ChainEthereum, Contract: "0xdAC17F958D2ee523a2206206994597C13D831ec7"}
}

// IsFiat reports whether a is a fiat currency, that is, not on any chain.
func (a Asset) IsFiat() bool { return a.Chain == "" }

// String renders a in the formance ledger style "CODE/SCALE", followed by
// "@chain" for crypto and ":contract" for tokens: "USD/2", "BTC/8@bitcoin",
// "USDC/6@ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48". ParseAsset
// reverses it for every asset that passes Validate.
func (a Asset) String() string {
	var b strings.Builder
	b.WriteString(a.Code)
	b.WriteByte('/')
	b.WriteString(strconv.FormatInt(int64(a.Scale), 10))
	if a.Chain != "" {
		b.WriteByte('@')
		b.WriteString(a.Chain)
	}
	if a.Contract != "" {
		b.WriteByte(':')
		b.WriteString(a.Contract)
	}
	return b.String()
}

// Validate reports, wrapping ErrAsset, what is wrong with a: Code must be 1 to
// 32 ASCII letters, digits, '.', '-' or '_'; Scale within [0, MaxScale]; Chain
// empty or 1 to 32 lower-case ASCII letters, digits or '-'; Contract empty, or
// (only with a Chain) 1 to 128 printable ASCII characters other than space,
// '/' and '@'. Validate does not check that a fiat code is in ISO 4217: use
// Currency for that.
func (a Asset) Validate() error {
	if err := checkChars("code", a.Code, 32, func(c byte) bool {
		return isAlnum(c) || c == '.' || c == '-' || c == '_'
	}); err != nil {
		return fmt.Errorf("asset %s: %w", quote(a.String()), err)
	}
	if a.Scale < 0 || a.Scale > MaxScale {
		return fmt.Errorf("asset %s: scale %d outside [0, %d]: %w", quote(a.String()), a.Scale, MaxScale, ErrAsset)
	}
	if a.Chain == "" {
		if a.Contract != "" {
			return fmt.Errorf("asset %s: a contract needs a chain: %w", quote(a.String()), ErrAsset)
		}
		return nil
	}
	if err := checkChars("chain", a.Chain, 32, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}); err != nil {
		return fmt.Errorf("asset %s: %w", quote(a.String()), err)
	}
	if a.Contract != "" {
		if err := checkChars("contract", a.Contract, 128, func(c byte) bool {
			return c > ' ' && c < 0x7f && c != '/' && c != '@'
		}); err != nil {
			return fmt.Errorf("asset %s: %w", quote(a.String()), err)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func checkChars(what, s string, maxLen int, ok func(byte) bool) error {
	if s == "" {
		return fmt.Errorf("empty %s: %w", what, ErrAsset)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%s longer than %d characters: %w", what, maxLen, ErrAsset)
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return fmt.Errorf("%s has invalid character %q at offset %d: %w", what, s[i], i, ErrAsset)
		}
	}
	return nil
}

// ParseAsset parses the String form of an asset, "CODE/SCALE[@chain[:contract]]",
// and validates the result. The scale is plain decimal digits without leading
// zeros. Errors wrap ErrAsset.
func ParseAsset(s string) (Asset, error) {
	code, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Asset{}, fmt.Errorf("asset %s: missing \"/scale\": %w", quote(s), ErrAsset)
	}
	scaleStr, loc, hasChain := strings.Cut(rest, "@")
	scale, err := parseScale(scaleStr)
	if err != nil {
		return Asset{}, fmt.Errorf("asset %s: %w", quote(s), err)
	}
	a := Asset{Code: code, Scale: scale}
	if hasChain {
		a.Chain, a.Contract, _ = strings.Cut(loc, ":")
		if a.Chain == "" {
			return Asset{}, fmt.Errorf("asset %s: empty chain after '@': %w", quote(s), ErrAsset)
		}
		if strings.HasSuffix(loc, ":") && a.Contract == "" {
			return Asset{}, fmt.Errorf("asset %s: empty contract after ':': %w", quote(s), ErrAsset)
		}
	}
	if err := a.Validate(); err != nil {
		return Asset{}, err
	}
	return a, nil
}

func parseScale(s string) (int32, error) {
	if s == "" {
		return 0, fmt.Errorf("empty scale: %w", ErrAsset)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("scale %q has leading zeros: %w", s, ErrAsset)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("scale %s is not a decimal number: %w", quote(s), ErrAsset)
		}
	}
	if len(s) > 2 {
		return 0, fmt.Errorf("scale %s outside [0, %d]: %w", quote(s), MaxScale, ErrAsset)
	}
	n, _ := strconv.Atoi(s) // at most two ASCII digits: cannot fail
	if n > MaxScale {
		return 0, fmt.Errorf("scale %d outside [0, %d]: %w", n, MaxScale, ErrAsset)
	}
	return int32(n), nil
}
