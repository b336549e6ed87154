package ethereum_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/ethereum"
)

// eip55Vectors are the checksummed addresses listed in EIP-55 itself.
var eip55Vectors = []string{
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestFormatAddressEIP55Vectors(t *testing.T) {
	t.Parallel()
	for _, v := range eip55Vectors {
		a, err := ethereum.ParseAddress(v)
		if err != nil {
			t.Fatalf("ParseAddress(%s): %v", v, err)
		}
		if got := ethereum.FormatAddress(a); got != v {
			t.Errorf("FormatAddress = %s, want %s", got, v)
		}
	}
}

func TestParseAddress(t *testing.T) {
	t.Parallel()
	good := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	want := common.HexToAddress(good)
	tests := []struct {
		name, in string
		err      error
	}{
		{"checksummed", good, nil},
		{"all lower", strings.ToLower(good), nil},
		{"all upper digits", "0x" + strings.ToUpper(good[2:]), nil},
		{"upper 0X prefix", "0X" + strings.ToLower(good[2:]), nil},
		{"one letter case flipped", "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ethereum.ErrBadChecksum},
		{"last letter case flipped", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", ethereum.ErrBadChecksum},
		{"no prefix", good[2:], ethereum.ErrInvalidAddress},
		{"short", good[:41], ethereum.ErrInvalidAddress},
		{"long", good + "0", ethereum.ErrInvalidAddress},
		{"non-hex", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", ethereum.ErrInvalidAddress},
		{"empty", "", ethereum.ErrInvalidAddress},
		{"space", " " + good, ethereum.ErrInvalidAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ethereum.ParseAddress(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseAddress(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.in, err)
			}
			if got != want {
				t.Fatalf("ParseAddress(%q) = %s, want %s", tt.in, got, want)
			}
		})
	}
	_, err := ethereum.ParseAddress("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	if err == nil || !strings.Contains(err.Error(), good) {
		t.Fatalf("bad-checksum error %v should name the correct checksum %s", err, good)
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, v := range eip55Vectors {
		f.Add(v)
		f.Add(strings.ToLower(v))
	}
	f.Add("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	f.Add("0x")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ethereum.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ethereum.ErrInvalidAddress) && !errors.Is(err, ethereum.ErrBadChecksum) {
				t.Fatalf("ParseAddress(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		f := ethereum.FormatAddress(a)
		if !strings.EqualFold(f[2:], s[2:]) {
			t.Fatalf("ParseAddress(%q) = %s: different digits", s, f)
		}
		b, err := ethereum.ParseAddress(f)
		if err != nil || b != a {
			t.Fatalf("round trip of %q via %s: %s, %v", s, f, b, err)
		}
	})
}
