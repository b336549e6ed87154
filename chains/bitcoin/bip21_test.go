package bitcoin

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

// bip21Addr is the address used by the examples in the BIP 21 text. Its
// base58 checksum is wrong, so it serves the builder tests only; the parser
// tests use p2pkhAddr, the BIP 44 first address of the "abandon ... about"
// mnemonic (SLIP-0132 vectors).
const (
	bip21Addr = "175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W"
	p2pkhAddr = "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"
)

func TestBIP21Build(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		amount         *big.Int
		label, message string
		want           string
	}{
		{"address only", nil, "", "", "bitcoin:" + bip21Addr},
		{"BIP21 example 20.30 BTC", big.NewInt(2_030_000_000), "Luke-Jr", "", "bitcoin:" + bip21Addr + "?amount=20.3&label=Luke-Jr"},
		{"BIP21 example with message", big.NewInt(5_000_000_000), "Luke-Jr", "Donation for project xyz",
			"bitcoin:" + bip21Addr + "?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz"},
		{"0.0001 BTC", big.NewInt(10_000), "", "", "bitcoin:" + bip21Addr + "?amount=0.0001"},
		{"one satoshi", big.NewInt(1), "", "", "bitcoin:" + bip21Addr + "?amount=0.00000001"},
		{"21M BTC", big.NewInt(maxSats), "", "", "bitcoin:" + bip21Addr + "?amount=21000000"},
		{"zero amount omitted", big.NewInt(0), "", "", "bitcoin:" + bip21Addr},
		{"negative amount omitted", big.NewInt(-5), "", "", "bitcoin:" + bip21Addr},
		{"reserved characters", nil, "a&b=c?d/e+f", "100% sure #1 ü", "bitcoin:" + bip21Addr +
			"?label=a%26b%3Dc%3Fd%2Fe%2Bf&message=100%25%20sure%20%231%20%C3%BC"},
		{"unreserved kept", nil, "A-z_0.9~", "", "bitcoin:" + bip21Addr + "?label=A-z_0.9~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := BIP21(bip21Addr, tt.amount, tt.label, tt.message); got != tt.want {
				t.Errorf("BIP21 = %s\n             want %s", got, tt.want)
			}
		})
	}
}

func TestParseBIP21(t *testing.T) {
	t.Parallel()
	sats := func(v int64) *big.Int { return big.NewInt(v) }
	tests := []struct {
		name    string
		uri     string
		network Network
		want    BIP21URI // Address compared by its encoding
		addr    string
	}{
		{"BIP21 address only", "bitcoin:" + p2pkhAddr, Mainnet, BIP21URI{}, p2pkhAddr},
		{"BIP21 label", "bitcoin:" + p2pkhAddr + "?label=Luke-Jr", Mainnet, BIP21URI{Label: "Luke-Jr"}, p2pkhAddr},
		{"BIP21 amount 20.3", "bitcoin:" + p2pkhAddr + "?amount=20.3&label=Luke-Jr", Mainnet,
			BIP21URI{Amount: sats(2_030_000_000), Label: "Luke-Jr"}, p2pkhAddr},
		{"BIP21 message", "bitcoin:" + p2pkhAddr + "?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz", Mainnet,
			BIP21URI{Amount: sats(5_000_000_000), Label: "Luke-Jr", Message: "Donation for project xyz"}, p2pkhAddr},
		{"BIP21 unknown optional params kept", "bitcoin:" + p2pkhAddr + "?somethingyoudontunderstand=50&somethingelseyoudontget=999", Mainnet,
			BIP21URI{Other: []URIParam{{"somethingyoudontunderstand", "50"}, {"somethingelseyoudontget", "999"}}}, p2pkhAddr},
		{"scheme case-insensitive", "BitCoin:" + p2pkhAddr + "?amount=50.00", Mainnet, BIP21URI{Amount: sats(5_000_000_000)}, p2pkhAddr},
		{"uppercase bech32 (QR form)", "BITCOIN:BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU?amount=0.0001", Mainnet,
			BIP21URI{Amount: sats(10_000)}, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"},
		{"taproot", "bitcoin:bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr?amount=.5", Mainnet,
			BIP21URI{Amount: sats(50_000_000)}, "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"},
		{"p2sh testnet", "bitcoin:2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2?amount=0.000000010", Testnet,
			BIP21URI{Amount: sats(1)}, "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"},
		{"plus is literal, key without value", "bitcoin:" + p2pkhAddr + "?label=a+b&flag", Mainnet,
			BIP21URI{Label: "a+b", Other: []URIParam{{"flag", ""}}}, p2pkhAddr},
		{"REQ- is not req- (keys are case-sensitive)", "bitcoin:" + p2pkhAddr + "?REQ-x=1", Mainnet,
			BIP21URI{Other: []URIParam{{"REQ-x", "1"}}}, p2pkhAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBIP21(tt.uri, tt.network)
			if err != nil {
				t.Fatalf("ParseBIP21: %v", err)
			}
			if got.Address.EncodeAddress() != tt.addr {
				t.Errorf("address = %s, want %s", got.Address, tt.addr)
			}
			got.Address = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseBIP21Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, uri string
		network   Network
		msg       string
	}{
		{"BIP21 unknown req- params", "bitcoin:" + p2pkhAddr + "?req-somethingyoudontunderstand=50&req-somethingelseyoudontget=999", Mainnet, "req-somethingyoudontunderstand"},
		{"wrong scheme", "litecoin:" + p2pkhAddr, Mainnet, "scheme"},
		{"no scheme", p2pkhAddr, Mainnet, "scheme"},
		{"no address", "bitcoin:?amount=1", Mainnet, "no address"},
		{"mainnet address on testnet", "bitcoin:" + p2pkhAddr, Testnet, "address is for mainnet, not testnet"},
		{"mainnet bech32 on regtest", "bitcoin:bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", Regtest, "not for regtest"},
		{"testnet address on mainnet", "bitcoin:2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2", Mainnet, "address is for testnet"},
		{"bad address checksum", "bitcoin:1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabB", Mainnet, "not a valid mainnet address"},
		// The address in the BIP 21 examples has a bad base58 checksum.
		{"BIP21 example address", "bitcoin:" + bip21Addr + "?amount=50", Mainnet, "checksum mismatch"},
		{"public key is not an address", "bitcoin:0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600", Mainnet, "not a payment address"},
		{"amount with comma", "bitcoin:" + p2pkhAddr + "?amount=50,000.00", Mainnet, "not a plain decimal"},
		{"amount exponent", "bitcoin:" + p2pkhAddr + "?amount=1e-3", Mainnet, "not a plain decimal"},
		{"negative amount", "bitcoin:" + p2pkhAddr + "?amount=-1", Mainnet, "not a plain decimal"},
		{"sub-satoshi", "bitcoin:" + p2pkhAddr + "?amount=0.000000001", Mainnet, "more than 8 decimal places"},
		{"above supply", "bitcoin:" + p2pkhAddr + "?amount=21000000.00000001", Mainnet, "exceeds 21,000,000"},
		{"empty amount", "bitcoin:" + p2pkhAddr + "?amount=", Mainnet, "no digits"},
		{"two amounts", "bitcoin:" + p2pkhAddr + "?amount=1&amount=2", Mainnet, "amount given twice"},
		{"bad escape", "bitcoin:" + p2pkhAddr + "?label=%zz", Mainnet, "percent-encoding"},
		{"empty name", "bitcoin:" + p2pkhAddr + "?=5", Mainnet, "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseBIP21(tt.uri, tt.network)
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("err = %v, want ErrInvalidURI", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
	if _, err := ParseBIP21("bitcoin:"+p2pkhAddr, Testnet); !errors.Is(err, ErrWrongNetwork) {
		t.Errorf("wrong network error should wrap ErrWrongNetwork: %v", err)
	}
}

func TestFormatParseBTC(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sats int64
		btc  string
	}{{0, "0"}, {1, "0.00000001"}, {10, "0.0000001"}, {10_000, "0.0001"}, {100_000_000, "1"},
		{150_000_000, "1.5"}, {123_456_789, "1.23456789"}, {maxSats, "21000000"}} {
		if got := FormatBTC(big.NewInt(tt.sats)); got != tt.btc {
			t.Errorf("FormatBTC(%d) = %s, want %s", tt.sats, got, tt.btc)
		}
		got, err := ParseBTC(tt.btc)
		if err != nil || got.Int64() != tt.sats {
			t.Errorf("ParseBTC(%s) = %v, %v; want %d", tt.btc, got, err, tt.sats)
		}
	}
}

func FuzzParseBIP21(f *testing.F) {
	for _, s := range []string{
		"bitcoin:" + p2pkhAddr + "?amount=20.3&label=Luke-Jr",
		"bitcoin:" + p2pkhAddr + "?req-x=1", "BITCOIN:BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU?amount=.1",
		"bitcoin:?", "bitcoin:" + p2pkhAddr + "?label=%F0%9F%98%80&&message=%", "bitcoin:tb1q?amount=1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got, err := ParseBIP21(uri, Mainnet)
		if err != nil {
			if !errors.Is(err, ErrInvalidURI) {
				t.Fatalf("error does not wrap ErrInvalidURI: %v", err)
			}
			return
		}
		// Whatever parses must survive a rebuild with the same meaning.
		again, err := ParseBIP21(BIP21(got.Address.EncodeAddress(), got.Amount, got.Label, got.Message), Mainnet)
		if err != nil {
			t.Fatalf("rebuilt URI does not parse: %v", err)
		}
		if again.Address.EncodeAddress() != got.Address.EncodeAddress() || again.Label != got.Label || again.Message != got.Message {
			t.Fatalf("round trip changed %+v into %+v", got, again)
		}
		if (got.Amount == nil || got.Amount.Sign() == 0) != (again.Amount == nil) ||
			again.Amount != nil && again.Amount.Cmp(got.Amount) != 0 {
			t.Fatalf("round trip changed amount %v into %v", got.Amount, again.Amount)
		}
	})
}

func FuzzBIP21RoundTrip(f *testing.F) {
	f.Add(uint64(10_000), "Luke-Jr", "Donation for project xyz")
	f.Add(uint64(0), "", "")
	f.Add(uint64(maxSats), "&=?#%", "ü 😀 +")
	f.Fuzz(func(t *testing.T, amount uint64, label, message string) {
		amt := new(big.Int).SetUint64(amount % (maxSats + 1))
		uri := BIP21("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", amt, label, message)
		got, err := ParseBIP21(uri, Mainnet)
		if err != nil {
			t.Fatalf("ParseBIP21(%q): %v", uri, err)
		}
		if got.Label != label || got.Message != message || len(got.Other) != 0 {
			t.Fatalf("round trip: got %+v, want label %q message %q", got, label, message)
		}
		if amt.Sign() == 0 {
			if got.Amount != nil {
				t.Fatalf("zero amount came back as %v", got.Amount)
			}
		} else if got.Amount == nil || got.Amount.Cmp(amt) != 0 {
			t.Fatalf("amount %v came back as %v", amt, got.Amount)
		}
	})
}
