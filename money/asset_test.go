package money

import (
	"errors"
	"strings"
	"testing"
)

func TestAssetString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a    Asset
		want string
		fiat bool
	}{
		{Asset{Code: "USD", Scale: 2}, "USD/2", true},
		{Asset{Code: "JPY", Scale: 0}, "JPY/0", true},
		{BTC(), "BTC/8@bitcoin", false},
		{ETH(), "ETH/18@ethereum", false},
		{USDC(), "USDC/6@ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", false},
		{USDT(), "USDT/6@ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7", false},
		{Asset{Code: "USDC", Scale: 18, Chain: "bsc", Contract: "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"},
			"USDC/18@bsc:0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", false},
	}
	for _, tc := range tests {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.a, got, tc.want)
		}
		if got := tc.a.IsFiat(); got != tc.fiat {
			t.Errorf("%v.IsFiat() = %v, want %v", tc.a, got, tc.fiat)
		}
		if err := tc.a.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v", tc.a, err)
		}
		back, err := ParseAsset(tc.want)
		if err != nil || back != tc.a {
			t.Errorf("ParseAsset(%q) = %#v, %v; want %#v", tc.want, back, err, tc.a)
		}
	}
}

func TestDefaultAssetsAreFreshValues(t *testing.T) {
	t.Parallel()
	a := BTC()
	a.Scale = 2
	if BTC().Scale != 8 {
		t.Fatal("modifying a returned BTC() changed the default")
	}
}

func TestAssetValidate(t *testing.T) {
	t.Parallel()
	bad := []struct {
		a   Asset
		msg string
	}{
		{Asset{Scale: 2}, "empty code"},
		{Asset{Code: "US D", Scale: 2}, "code has invalid character"},
		{Asset{Code: "USD/", Scale: 2}, "code has invalid character"},
		{Asset{Code: strings.Repeat("A", 33), Scale: 2}, "code longer"},
		{Asset{Code: "USD", Scale: -1}, "scale -1"},
		{Asset{Code: "X", Scale: 78}, "scale 78"},
		{Asset{Code: "USD", Scale: 2, Contract: "0x1"}, "contract needs a chain"},
		{Asset{Code: "ETH", Scale: 18, Chain: "Ethereum"}, "chain has invalid character"},
		{Asset{Code: "ETH", Scale: 18, Chain: "eth:main"}, "chain has invalid character"},
		{Asset{Code: "T", Scale: 18, Chain: "ethereum", Contract: "0x 1"}, "contract has invalid character"},
		{Asset{Code: "T", Scale: 18, Chain: "ethereum", Contract: "0x@1"}, "contract has invalid character"},
		{Asset{Code: "T", Scale: 18, Chain: "ethereum", Contract: strings.Repeat("a", 129)}, "contract longer"},
	}
	for _, tc := range bad {
		err := tc.a.Validate()
		if !errors.Is(err, ErrAsset) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%#v.Validate() = %v; want ErrAsset mentioning %q", tc.a, err, tc.msg)
		}
	}
}

var parseAssetBad = []string{
	"", "USD", "USD/", "/2", "USD/x", "USD/-2", "USD/02", "USD/78", "USD/100", "USD/2@",
	"BTC/8@bitcoin:", "BTC/8@:0x1", "US D/2", "USD/2 ", "USD/2@Bitcoin", "T/6@ethereum:0x@1",
	"USD/99999999999999999999",
}

func TestParseAssetRejects(t *testing.T) {
	t.Parallel()
	for _, s := range parseAssetBad {
		if a, err := ParseAsset(s); !errors.Is(err, ErrAsset) {
			t.Errorf("ParseAsset(%q) = %#v, %v; want ErrAsset", s, a, err)
		}
	}
}

func FuzzParseAsset(f *testing.F) {
	for _, s := range parseAssetBad {
		f.Add(s)
	}
	for _, a := range []Asset{BTC(), ETH(), USDC(), USDT(), {Code: "USD", Scale: 2}, {Code: "CLF", Scale: 4}} {
		f.Add(a.String())
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAsset(s)
		if err != nil {
			if !errors.Is(err, ErrAsset) {
				t.Fatalf("ParseAsset(%q): error %v does not wrap ErrAsset", s, err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("ParseAsset(%q) = %#v, which fails Validate: %v", s, a, err)
		}
		if got := a.String(); got != s {
			t.Fatalf("ParseAsset(%q).String() = %q", s, got)
		}
	})
}
