package refunds_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/refunds"
)

var (
	btcRegtest = refunds.Where{Chain: "bitcoin", Network: "regtest"}
	ethDev     = refunds.Where{Chain: "ethereum", Network: "1337"}
	usdcDev    = refunds.Where{Chain: "ethereum", Network: "1337", Contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}
)

func TestParseDestination(t *testing.T) {
	t.Parallel()
	reg := regtestAddr(t, 5)
	const eth = "0x52908400098527886E0F7030069857D2E4169EE7" // EIP-55 test vector
	for _, tc := range []struct {
		w    refunds.Where
		in   string
		want string // "" = refused
	}{
		{btcRegtest, reg, reg},
		{btcRegtest, "  bitcoin:" + reg + "?amount=0.1&label=x ", reg},
		{btcRegtest, "BITCOIN:" + reg, reg},
		{btcRegtest, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", ""}, // mainnet
		{btcRegtest, reg + "?amount=1", ""},
		{btcRegtest, "bitcoin:" + reg + "?req-pay=1", ""},
		{btcRegtest, "", ""},
		{ethDev, eth, eth},
		{ethDev, strings.ToLower(eth), eth},
		{ethDev, "0x52908400098527886e0F7030069857D2E4169EE7", ""}, // bad checksum
		{ethDev, "ethereum:" + eth + "@1337?value=1e18", eth},
		{ethDev, "ethereum:" + eth + "@1", ""}, // another chain
		{ethDev, "0x0000000000000000000000000000000000000000", ""},
		{usdcDev, "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3@1337/transfer?address=" + eth + "&uint256=5", eth},
		{usdcDev, "ethereum:0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0/transfer?address=" + eth, ""}, // another token
		{ethDev, "ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3/transfer?address=" + eth, ""},  // a token URI for ETH
		{usdcDev, eth, eth},
		{ethDev, "vitalik.eth", ""},
		{ethDev, strings.Repeat("0", 5000), ""},
	} {
		got, err := refunds.ParseDestination(tc.w, tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, refunds.ErrDestination) {
				t.Errorf("%v %q: got %q, %v; want a refusal wrapping ErrDestination", tc.w, tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v %q: got %q, %v; want %q", tc.w, tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseDestination: any input either is refused with ErrDestination or gives a
// canonical address that parses to itself (so what is stored is what is paid).
func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{"bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgp7ktdlz", "bitcoin:bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgp7ktdlz?amount=1",
		"0x52908400098527886E0F7030069857D2E4169EE7", "ethereum:0x52908400098527886E0F7030069857D2E4169EE7@1337?value=1",
		"ethereum:0x5FbDB2315678afecb367f032d93F642f64180aa3/transfer?address=0x52908400098527886E0F7030069857D2E4169EE7", "", "bitcoin:"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	wheres := []refunds.Where{btcRegtest, ethDev, usdcDev}
	f.Fuzz(func(t *testing.T, s string, w uint8) {
		where := wheres[int(w)%len(wheres)]
		got, err := refunds.ParseDestination(where, s)
		if err != nil {
			if !errors.Is(err, refunds.ErrDestination) {
				t.Fatalf("%q: error %v does not wrap ErrDestination", s, err)
			}
			return
		}
		again, err := refunds.ParseDestination(where, got)
		if err != nil || again != got {
			t.Fatalf("%q → %q → %q, %v: not canonical", s, got, again, err)
		}
	})
}
