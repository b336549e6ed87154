package money

import (
	"testing"
)

func TestCurrency(t *testing.T) {
	t.Parallel()
	known := map[string]int32{
		"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CNY": 2, "INR": 2, "IDR": 2, "HUF": 2,
		"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
		"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
		"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
		"CLF": 4, "UYW": 4,
		"XCG": 2, "ZWG": 2, "SLE": 2, "VED": 2, "VES": 2, "MRU": 2, "STN": 2,
	}
	for code, scale := range known {
		a, ok := Currency(code)
		if !ok {
			t.Errorf("Currency(%q) not found", code)
			continue
		}
		if want := (Asset{Code: code, Scale: scale}); a != want {
			t.Errorf("Currency(%q) = %#v, want %#v", code, a, want)
		}
		if !a.IsFiat() {
			t.Errorf("Currency(%q).IsFiat() = false", code)
		}
	}
	absent := []string{
		"", "usd", "Usd", "USDX", "US", "BTC", "ETH",
		"XAU", "XAG", "XPD", "XPT", "XDR", "XSU", "XUA", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XAD", // N.A.
		"BOV", "CHE", "CHW", "COU", "MXV", "USN", "UYI", // funds
		"ANG", "CUC", "ZWL", "SLL", "HRK", "BGN", "VEF", "MRO", "STD", "BYR", "LTL", // withdrawn
	}
	for _, code := range absent {
		if a, ok := Currency(code); ok {
			t.Errorf("Currency(%q) = %#v, want not found", code, a)
		}
	}
}

func TestCurrenciesTable(t *testing.T) {
	t.Parallel()
	all := Currencies()
	if n := len(all); n < 150 || n > 170 {
		t.Errorf("Currencies() has %d entries; the active ISO 4217 list has about 155", n)
	}
	for i, a := range all {
		if len(a.Code) != 3 || a.Code[0] < 'A' || a.Code[0] > 'Z' || a.Code[1] < 'A' || a.Code[1] > 'Z' ||
			a.Code[2] < 'A' || a.Code[2] > 'Z' {
			t.Errorf("entry %d: code %q is not three upper-case letters", i, a.Code)
		}
		if a.Scale != 0 && a.Scale != 2 && a.Scale != 3 && a.Scale != 4 {
			t.Errorf("%s: minor units %d; ISO 4217 uses 0, 2, 3 or 4", a.Code, a.Scale)
		}
		if i > 0 && all[i-1].Code >= a.Code {
			t.Errorf("table not strictly sorted at %d: %q then %q", i, all[i-1].Code, a.Code)
		}
		if err := a.Validate(); err != nil || !a.IsFiat() {
			t.Errorf("%v: Validate() = %v, IsFiat() = %v", a, err, a.IsFiat())
		}
		if got, ok := Currency(a.Code); !ok || got != a {
			t.Errorf("Currency(%q) = %#v, %v; want %#v", a.Code, got, ok, a)
		}
	}
	all[0].Code = "ZZZ"
	if Currencies()[0].Code == "ZZZ" {
		t.Error("Currencies() returns shared state")
	}
}
