package ethereum_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/ethereum"
)

const (
	toHex    = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	tokenHex = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
)

func bigInt(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad test integer %q", s)
	}
	return n
}

func TestNativeAndTokenURI(t *testing.T) {
	t.Parallel()
	to := common.HexToAddress(toHex)
	token := common.HexToAddress(tokenHex)
	maxU256 := "115792089237316195423570985008687907853269984665640564039457584007913129639935"

	got, err := ethereum.NativeURI(1, to, bigInt(t, "1234567890123456789"))
	if err != nil || got != "ethereum:"+toHex+"@1?value=1234567890123456789" {
		t.Fatalf("NativeURI = %q, %v", got, err)
	}
	// Wei amounts far beyond float64 precision stay exact.
	got, err = ethereum.NativeURI(11155111, to, bigInt(t, maxU256))
	if err != nil || got != "ethereum:"+toHex+"@11155111?value="+maxU256 {
		t.Fatalf("NativeURI(max) = %q, %v", got, err)
	}
	got, err = ethereum.TokenURI(1, token, to, big.NewInt(25_000_000))
	if err != nil || got != "ethereum:"+tokenHex+"@1/transfer?address="+toHex+"&uint256=25000000" {
		t.Fatalf("TokenURI = %q, %v", got, err)
	}

	tooBig := new(big.Int).Add(bigInt(t, maxU256), big.NewInt(1))
	bad := []struct {
		name string
		fn   func() (string, error)
		err  error
	}{
		{"native nil amount", func() (string, error) { return ethereum.NativeURI(1, to, nil) }, ethereum.ErrInvalidAmount},
		{"native negative", func() (string, error) { return ethereum.NativeURI(1, to, big.NewInt(-1)) }, ethereum.ErrInvalidAmount},
		{"native over uint256", func() (string, error) { return ethereum.NativeURI(1, to, tooBig) }, ethereum.ErrInvalidAmount},
		{"native zero recipient", func() (string, error) { return ethereum.NativeURI(1, common.Address{}, big.NewInt(1)) }, ethereum.ErrZeroAddress},
		{"native chain 0", func() (string, error) { return ethereum.NativeURI(0, to, big.NewInt(1)) }, nil},
		{"token zero token", func() (string, error) { return ethereum.TokenURI(1, common.Address{}, to, big.NewInt(1)) }, ethereum.ErrZeroAddress},
		{"token negative", func() (string, error) { return ethereum.TokenURI(1, token, to, big.NewInt(-5)) }, ethereum.ErrInvalidAmount},
	}
	for _, tt := range bad {
		_, err := tt.fn()
		if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestParsePaymentURI(t *testing.T) {
	t.Parallel()
	to := common.HexToAddress(toHex)
	token := common.HexToAddress(tokenHex)
	lowerTo := strings.ToLower(toHex)
	tests := []struct {
		in        string
		chain     uint64
		token     *common.Address
		amount    string // "" = none
		canonical string // "" = same as in
	}{
		{in: "ethereum:" + toHex + "@1?value=1000000000000000000", chain: 1, amount: "1000000000000000000"},
		{in: "ethereum:" + toHex, amount: ""},
		{in: "ethereum:" + toHex + "@137", chain: 137},
		{in: "ethereum:pay-" + lowerTo + "@1?value=0", chain: 1, amount: "0", canonical: "ethereum:" + toHex + "@1?value=0"},
		{in: "ETHEREUM:" + toHex + "?value=2.014e18&gas=21000", amount: "2014000000000000000", canonical: "ethereum:" + toHex + "?value=2014000000000000000"},
		{in: "ethereum:" + toHex + "?value=1E3", amount: "1000", canonical: "ethereum:" + toHex + "?value=1000"},
		{in: "ethereum:" + toHex + "?value=1.50e1", amount: "15", canonical: "ethereum:" + toHex + "?value=15"},
		{in: "ethereum:" + toHex + "?value=007", amount: "7", canonical: "ethereum:" + toHex + "?value=7"},
		{in: "ethereum:" + tokenHex + "@1/transfer?address=" + toHex + "&uint256=25000000", chain: 1, token: &token, amount: "25000000"},
		{in: "ethereum:" + tokenHex + "@56/transfer?uint256=1e18&address=" + lowerTo + "&gasPrice=5000000000", chain: 56, token: &token, amount: "1000000000000000000",
			canonical: "ethereum:" + tokenHex + "@56/transfer?address=" + toHex + "&uint256=1000000000000000000"},
		{in: "ethereum:" + tokenHex + "/transfer?address=" + toHex, token: &token},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			p, err := ethereum.ParsePaymentURI(tt.in)
			if err != nil {
				t.Fatalf("ParsePaymentURI: %v", err)
			}
			if p.To != to || p.ChainID != tt.chain {
				t.Fatalf("got to %s chain %d, want %s chain %d", p.To, p.ChainID, to, tt.chain)
			}
			if (p.Token == nil) != (tt.token == nil) || (p.Token != nil && *p.Token != *tt.token) {
				t.Fatalf("token %v, want %v", p.Token, tt.token)
			}
			switch {
			case tt.amount == "" && p.Amount != nil:
				t.Fatalf("amount %s, want none", p.Amount)
			case tt.amount != "" && (p.Amount == nil || p.Amount.String() != tt.amount):
				t.Fatalf("amount %v, want %s", p.Amount, tt.amount)
			}
			want := tt.canonical
			if want == "" {
				want = tt.in
			}
			if got := p.String(); got != want {
				t.Fatalf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestParsePaymentURIErrors(t *testing.T) {
	t.Parallel()
	badSum := "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	tests := []struct {
		name, in string
		err      error
		mention  string
	}{
		{"wrong scheme", "bitcoin:" + toHex, ethereum.ErrInvalidURI, "scheme"},
		{"empty", "", ethereum.ErrInvalidURI, "scheme"},
		{"ENS name", "ethereum:merchant.eth?value=1", ethereum.ErrUnsupportedURI, "ENS"},
		{"bad checksum target", "ethereum:" + badSum + "?value=1", ethereum.ErrBadChecksum, "checksum"},
		{"bad checksum recipient", "ethereum:" + tokenHex + "/transfer?address=" + badSum, ethereum.ErrBadChecksum, "address parameter"},
		{"short target", "ethereum:0x1234?value=1", ethereum.ErrInvalidAddress, "40 hex"},
		{"float with fraction of a wei", "ethereum:" + toHex + "?value=1.5", ethereum.ErrInvalidAmount, "whole number"},
		{"negative", "ethereum:" + toHex + "?value=-1", ethereum.ErrInvalidAmount, "value"},
		{"plus sign", "ethereum:" + toHex + "?value=+1", ethereum.ErrInvalidAmount, "value"},
		{"hex amount", "ethereum:" + toHex + "?value=0x10", ethereum.ErrInvalidAmount, "value"},
		{"empty exponent", "ethereum:" + toHex + "?value=1e", ethereum.ErrInvalidAmount, "exponent"},
		{"huge exponent", "ethereum:" + toHex + "?value=1e9999", ethereum.ErrInvalidAmount, "exponent"},
		{"over uint256", "ethereum:" + toHex + "?value=1e78", ethereum.ErrInvalidAmount, "2^256"},
		{"over uint256 by one", "ethereum:" + toHex + "?value=115792089237316195423570985008687907853269984665640564039457584007913129639936", ethereum.ErrInvalidAmount, "2^256"},
		{"chain id zero", "ethereum:" + toHex + "@0?value=1", ethereum.ErrInvalidURI, "chain id"},
		{"chain id leading zero", "ethereum:" + toHex + "@01", ethereum.ErrInvalidURI, "chain id"},
		{"chain id text", "ethereum:" + toHex + "@main", ethereum.ErrInvalidURI, "chain id"},
		{"chain id overflow", "ethereum:" + toHex + "@18446744073709551616", ethereum.ErrInvalidURI, "chain id"},
		{"unknown function", "ethereum:" + tokenHex + "/approve?address=" + toHex + "&uint256=1", ethereum.ErrUnsupportedURI, "approve"},
		{"empty function", "ethereum:" + tokenHex + "/?value=1", ethereum.ErrInvalidURI, "function"},
		{"transfer without address", "ethereum:" + tokenHex + "/transfer?uint256=1", ethereum.ErrInvalidURI, "address parameter"},
		{"value on transfer", "ethereum:" + tokenHex + "/transfer?address=" + toHex + "&value=1", ethereum.ErrInvalidURI, "value"},
		{"unknown parameter", "ethereum:" + toHex + "?value=1&memo=hi", ethereum.ErrInvalidURI, "memo"},
		{"repeated parameter", "ethereum:" + toHex + "?value=1&value=2", ethereum.ErrInvalidURI, "repeated"},
		{"empty query", "ethereum:" + toHex + "?", ethereum.ErrInvalidURI, "empty query"},
		{"parameter without value", "ethereum:" + toHex + "?value", ethereum.ErrInvalidURI, "key=value"},
		{"bad gas", "ethereum:" + toHex + "?value=1&gas=lots", ethereum.ErrInvalidURI, "gas"},
		{"too long", "ethereum:" + toHex + "?value=" + strings.Repeat("1", ethereum.MaxURILen), ethereum.ErrInvalidURI, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ethereum.ParsePaymentURI(tt.in)
			if err == nil {
				t.Fatalf("ParsePaymentURI(%q) = %+v, want an error", tt.in, p)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func FuzzParsePaymentURI(f *testing.F) {
	f.Add("ethereum:" + toHex + "@1?value=1000000000000000000")
	f.Add("ethereum:pay-" + strings.ToLower(toHex) + "?value=2.014e18&gas=21000")
	f.Add("ethereum:" + tokenHex + "@56/transfer?address=" + toHex + "&uint256=1e6")
	f.Add("ethereum:" + tokenHex + "/transfer?address=" + toHex)
	f.Add("ethereum:" + toHex + "?value=0.5e1")
	f.Add("ethereum:merchant.eth@1/transfer?address=0x0&uint256=1")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ethereum.ParsePaymentURI(s)
		if err != nil {
			if !errors.Is(err, ethereum.ErrInvalidURI) && !errors.Is(err, ethereum.ErrUnsupportedURI) {
				t.Fatalf("ParsePaymentURI(%q) error %v wraps neither ErrInvalidURI nor ErrUnsupportedURI", s, err)
			}
			return
		}
		if p.Amount != nil && p.Amount.Sign() < 0 {
			t.Fatalf("ParsePaymentURI(%q) gave negative amount %s", s, p.Amount)
		}
		canon := p.String()
		q, err := ethereum.ParsePaymentURI(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if q.String() != canon || q.ChainID != p.ChainID || q.To != p.To ||
			(q.Token == nil) != (p.Token == nil) || (q.Token != nil && *q.Token != *p.Token) ||
			(q.Amount == nil) != (p.Amount == nil) || (q.Amount != nil && q.Amount.Cmp(p.Amount) != 0) {
			t.Fatalf("round trip of %q: %+v then %+v", s, p, q)
		}
	})
}

// FuzzURIBuilders checks that every URI the builders make parses back to the same request.
func FuzzURIBuilders(f *testing.F) {
	f.Add(uint64(1), []byte{1, 2, 3}, []byte{0xde, 0xad}, true)
	f.Add(uint64(1337), []byte{0xff}, []byte{}, false)
	f.Add(uint64(1<<63), []byte{9}, make([]byte, 32), true)
	f.Fuzz(func(t *testing.T, chain uint64, toSeed, amount []byte, isToken bool) {
		if len(amount) > 32 {
			amount = amount[:32]
		}
		to := common.BytesToAddress(append([]byte{1}, toSeed...))
		token := common.BytesToAddress(append([]byte{2}, amount...))
		n := new(big.Int).SetBytes(amount)
		var (
			s   string
			err error
		)
		if isToken {
			s, err = ethereum.TokenURI(chain, token, to, n)
		} else {
			s, err = ethereum.NativeURI(chain, to, n)
		}
		if chain == 0 || to == (common.Address{}) || (isToken && token == (common.Address{})) {
			if err == nil {
				t.Fatalf("builder accepted chain %d to %s token %s", chain, to, token)
			}
			return
		}
		if err != nil {
			t.Fatalf("builder: %v", err)
		}
		p, err := ethereum.ParsePaymentURI(s)
		if err != nil {
			t.Fatalf("ParsePaymentURI(%q): %v", s, err)
		}
		if p.ChainID != chain || p.To != to || p.Amount == nil || p.Amount.Cmp(n) != 0 || (p.Token != nil) != isToken || (isToken && *p.Token != token) {
			t.Fatalf("ParsePaymentURI(%q) = %+v", s, p)
		}
	})
}
