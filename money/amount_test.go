package money

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func bigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad test integer %q", s)
	}
	return v
}

var parseOK = []struct {
	in    string
	scale int32
	want  string // atomic units
}{
	{"25.00", 2, "2500"},
	{"25", 2, "2500"},
	{"25.5", 2, "2550"},
	{"0.5", 2, "50"},
	{"0.05", 2, "5"},
	{"0", 2, "0"},
	{"0.00", 2, "0"},
	{"12", 0, "12"},
	{"1000", 0, "1000"},    // JPY
	{"1.500", 3, "1500"},   // KWD
	{"0.001", 3, "1"},      // KWD, one fils
	{"0.00000001", 8, "1"}, // one satoshi
	{"21000000", 8, "2100000000000000"},
	{"0.000000000000000001", 18, "1"}, // one wei
	{"1.000000", 6, "1000000"},        // USDC
	{"1000000000000000.00", 2, "100000000000000000"},
	{"0.1234", 4, "1234"}, // CLF
	// 78 significant digits is the maximum.
	{strings.Repeat("9", 78), 0, strings.Repeat("9", 78)},
	{strings.Repeat("9", 60) + "." + strings.Repeat("9", 18), 18, strings.Repeat("9", 78)},
	{"0." + strings.Repeat("0", 76) + "1", 77, "1"},
	{"0." + strings.Repeat("9", 77), 77, strings.Repeat("9", 77)},
}

var parseBad = []struct {
	in    string
	scale int32
	want  error
	msg   string // substring the message must contain
}{
	{"", 2, ErrEmpty, "empty"},
	{"-1", 2, ErrNegative, "negative"},
	{"-0.01", 2, ErrNegative, "negative"},
	{"-0", 2, ErrNegative, "negative"},
	{"-", 2, ErrSyntax, "no digits"},
	{"-abc", 2, ErrSyntax, "unexpected character 'a'"},
	{"--1", 2, ErrSyntax, "misplaced '-'"},
	{"+1", 2, ErrSyntax, "'+'"},
	{"1e3", 2, ErrSyntax, "exponent"},
	{"1E3", 2, ErrSyntax, "exponent"},
	{"1,000", 2, ErrSyntax, "separator"},
	{"1_000", 2, ErrSyntax, "separator"},
	{"1'000", 2, ErrSyntax, "separator"},
	{"1 000", 2, ErrSyntax, "whitespace"},
	{" 1", 2, ErrSyntax, "whitespace"},
	{"1 ", 2, ErrSyntax, "whitespace"},
	{"1\n", 2, ErrSyntax, "whitespace"},
	{"1\u00a0000", 2, ErrSyntax, "whitespace"},
	{".", 2, ErrSyntax, "before the decimal point"},
	{"5.", 2, ErrSyntax, "after the decimal point"},
	{".5", 2, ErrSyntax, "before the decimal point"},
	{"1.2.3", 2, ErrSyntax, "second decimal point"},
	{"007", 2, ErrSyntax, "leading zeros"},
	{"00.5", 2, ErrSyntax, "leading zeros"},
	{"٣", 2, ErrSyntax, "non-ASCII"}, // Arabic-Indic three
	{"１", 2, ErrSyntax, "non-ASCII"}, // full-width one
	{"1\xff", 2, ErrSyntax, "non-ASCII"},
	{"0x10", 2, ErrSyntax, "unexpected character 'x'"},
	{"NaN", 2, ErrSyntax, "unexpected"},
	{"Infinity", 2, ErrSyntax, "unexpected"},
	{"25.000", 2, ErrTooPrecise, "3 fractional digits, scale allows 2"},
	{"25.001", 2, ErrTooPrecise, "3 fractional digits"},
	{"1.0", 0, ErrTooPrecise, "1 fractional digits, scale allows 0"},
	{"0.000000001", 8, ErrTooPrecise, "9 fractional digits"},
	{strings.Repeat("9", 79), 0, ErrTooLarge, "79 significant digits"},
	{strings.Repeat("9", 61), 18, ErrTooLarge, "79 significant digits"},
	{"1", 78, ErrScale, "scale 78"},
	{"1", -1, ErrScale, "scale -1"},
	{"", -1, ErrScale, "scale -1"},
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range parseOK {
		got, err := ParseAmount(tc.in, tc.scale)
		if err != nil {
			t.Errorf("ParseAmount(%q, %d): %v", tc.in, tc.scale, err)
			continue
		}
		if want := bigInt(t, tc.want); got.Cmp(want) != 0 {
			t.Errorf("ParseAmount(%q, %d) = %s, want %s", tc.in, tc.scale, got, want)
		}
		signed, err := ParseSignedAmount(tc.in, tc.scale)
		if err != nil || signed.Cmp(got) != 0 {
			t.Errorf("ParseSignedAmount(%q, %d) = %v, %v; want %s", tc.in, tc.scale, signed, err, got)
		}
	}
}

func TestParseAmountRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range parseBad {
		got, err := ParseAmount(tc.in, tc.scale)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseAmount(%q, %d) = %v, %v; want error %v", tc.in, tc.scale, got, err, tc.want)
			continue
		}
		if got != nil {
			t.Errorf("ParseAmount(%q, %d) returned %s with its error", tc.in, tc.scale, got)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseAmount(%q, %d) error %q does not mention %q", tc.in, tc.scale, err, tc.msg)
		}
	}
}

func TestParseSignedAmount(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in    string
		scale int32
		want  string
	}{
		{"-1.50", 2, "-150"},
		{"-0.00000001", 8, "-1"},
		{"-1000", 0, "-1000"},
		{"-0.5", 2, "-50"},
		{"1.50", 2, "150"},
	}
	for _, tc := range ok {
		got, err := ParseSignedAmount(tc.in, tc.scale)
		if err != nil || got.Cmp(bigInt(t, tc.want)) != 0 {
			t.Errorf("ParseSignedAmount(%q, %d) = %v, %v; want %s", tc.in, tc.scale, got, err, tc.want)
		}
	}
	bad := []struct {
		in    string
		scale int32
		want  error
	}{
		{"-0", 2, ErrSyntax},
		{"-0.00", 2, ErrSyntax},
		{"-", 2, ErrSyntax},
		{"--1", 2, ErrSyntax},
		{"-+1", 2, ErrSyntax},
		{"+1", 2, ErrSyntax},
		{"-1.001", 2, ErrTooPrecise},
		{"-" + strings.Repeat("1", 79), 0, ErrTooLarge},
		{"", 2, ErrEmpty},
		{"-1", 99, ErrScale},
	}
	for _, tc := range bad {
		got, err := ParseSignedAmount(tc.in, tc.scale)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("ParseSignedAmount(%q, %d) = %v, %v; want error %v", tc.in, tc.scale, got, err, tc.want)
		}
	}
}

func TestErrorMessagesTruncateHugeInput(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("1", 1<<20) + "x"
	_, err := ParseAmount(in, 2)
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("want ErrSyntax, got %v", err)
	}
	if len(err.Error()) > 200 {
		t.Errorf("error message is %d bytes long; the input must be truncated", len(err.Error()))
	}
}

var formatCases = []struct {
	atomic string
	scale  int32
	want   string
}{
	{"2500", 2, "25.00"},
	{"1", 8, "0.00000001"},
	{"-150", 2, "-1.50"},
	{"-1", 2, "-0.01"},
	{"0", 2, "0.00"},
	{"0", 0, "0"},
	{"1000", 0, "1000"},
	{"-1000", 0, "-1000"},
	{"1500", 3, "1.500"},
	{"1", 18, "0.000000000000000001"},
	{"1000000000000000000", 18, "1.000000000000000000"},
	{"100000000000000000", 2, "1000000000000000.00"},
	{"123456789", 4, "12345.6789"},
	{"12345", 5, "0.12345"},
	{strings.Repeat("9", 78), 77, "9." + strings.Repeat("9", 77)},
}

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range formatCases {
		if got := FormatAmount(bigInt(t, tc.atomic), tc.scale); got != tc.want {
			t.Errorf("FormatAmount(%s, %d) = %q, want %q", tc.atomic, tc.scale, got, tc.want)
		}
	}
}

func TestFormatAmountBadInput(t *testing.T) {
	t.Parallel()
	if got := FormatAmount(nil, 2); got != "<nil>" {
		t.Errorf("FormatAmount(nil) = %q", got)
	}
	if got := FormatAmount(big.NewInt(5), -1); got != "5%!(BADSCALE=-1)" {
		t.Errorf("FormatAmount(5, -1) = %q", got)
	}
	if got := FormatAmount(big.NewInt(5), 78); got != "5%!(BADSCALE=78)" {
		t.Errorf("FormatAmount(5, 78) = %q", got)
	}
}

func TestFormatDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	x := big.NewInt(-150)
	_ = FormatAmount(x, 2)
	if x.Int64() != -150 {
		t.Fatalf("FormatAmount modified its argument: %s", x)
	}
}

// canonical pads an accepted amount string to exactly scale fractional
// digits: the string FormatAmount must give back.
func canonical(s string, scale int32) string {
	if scale == 0 {
		return s
	}
	intPart, frac, _ := strings.Cut(s, ".")
	return intPart + "." + frac + strings.Repeat("0", int(scale)-len(frac))
}

func FuzzParseAmount(f *testing.F) {
	for _, tc := range parseOK {
		f.Add(tc.in, uint8(tc.scale))
	}
	for _, tc := range parseBad {
		f.Add(tc.in, uint8(tc.scale))
	}
	f.Fuzz(func(t *testing.T, s string, sc uint8) {
		scale := int32(sc % (MaxScale + 2)) // MaxScale+1 is invalid on purpose
		v, err := ParseAmount(s, scale)
		if err != nil {
			if v != nil {
				t.Fatalf("ParseAmount(%q, %d) returned a value with error %v", s, scale, err)
			}
			for _, sentinel := range []error{ErrEmpty, ErrSyntax, ErrNegative, ErrTooPrecise, ErrTooLarge, ErrScale} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("ParseAmount(%q, %d): error %v wraps no sentinel", s, scale, err)
		}
		if v.Sign() < 0 {
			t.Fatalf("ParseAmount(%q, %d) = %s, negative", s, scale, v)
		}
		if digits(v) > MaxDigits {
			t.Fatalf("ParseAmount(%q, %d) = %s, more than %d digits", s, scale, v, MaxDigits)
		}
		// Formatting gives back the input, padded to exactly scale digits;
		// an input that is already canonical comes back unchanged.
		if got, want := FormatAmount(v, scale), canonical(s, scale); got != want {
			t.Fatalf("FormatAmount(ParseAmount(%q, %d)) = %q, want %q", s, scale, got, want)
		}
		// An independent implementation agrees on the value.
		d, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatalf("decimal rejects %q, which ParseAmount accepted: %v", s, err)
		}
		if want := d.Shift(scale); !want.Equal(decimal.NewFromBigInt(v, 0)) {
			t.Fatalf("ParseAmount(%q, %d) = %s, decimal says %s", s, scale, v, want)
		}
		// The signed parser agrees, and rejects the negation only for zero.
		sv, err := ParseSignedAmount(s, scale)
		if err != nil || sv.Cmp(v) != 0 {
			t.Fatalf("ParseSignedAmount(%q, %d) = %v, %v; want %s", s, scale, sv, err, v)
		}
		nv, err := ParseSignedAmount("-"+s, scale)
		if v.Sign() == 0 {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseSignedAmount(-%q) = %v, %v; want ErrSyntax for negative zero", s, nv, err)
			}
		} else if err != nil || nv.Cmp(new(big.Int).Neg(v)) != 0 {
			t.Fatalf("ParseSignedAmount(-%q) = %v, %v; want -%s", s, nv, err, v)
		}
		if _, err := ParseAmount("-"+s, scale); !errors.Is(err, ErrNegative) {
			t.Fatalf("ParseAmount(-%q) = %v; want ErrNegative", s, err)
		}
	})
}

func FuzzParseFormat(f *testing.F) {
	for _, tc := range formatCases {
		v := bigInt(f, tc.atomic)
		f.Add(v.Bytes(), v.Sign() < 0, uint8(tc.scale))
	}
	for _, tc := range parseOK {
		v := bigInt(f, tc.want)
		f.Add(v.Bytes(), false, uint8(tc.scale))
	}
	f.Add(make([]byte, 40), true, uint8(30))
	f.Fuzz(func(t *testing.T, mag []byte, neg bool, sc uint8) {
		scale := int32(sc % 31)
		// 64 bytes (up to 155 digits) reach well past MaxDigits; longer
		// inputs only spend the fuzzer's time in big.Int.String.
		if len(mag) > 64 {
			mag = mag[:64]
		}
		x := new(big.Int).SetBytes(mag)
		if neg {
			x.Neg(x)
		}
		s := FormatAmount(x, scale)
		if strings.ContainsAny(s, "eE+") {
			t.Fatalf("FormatAmount(%s, %d) = %q uses notation other than plain decimal", x, scale, s)
		}
		if _, frac, ok := strings.Cut(s, "."); ok != (scale > 0) || len(frac) != int(scale) {
			t.Fatalf("FormatAmount(%s, %d) = %q does not have exactly %d fractional digits", x, scale, s, scale)
		}
		got, err := ParseSignedAmount(s, scale)
		if digits(x) > MaxDigits {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ParseSignedAmount(%q, %d) = %v, %v; want ErrTooLarge", s, scale, got, err)
			}
			return
		}
		if err != nil || got.Cmp(x) != 0 {
			t.Fatalf("ParseSignedAmount(FormatAmount(%s, %d) = %q) = %v, %v", x, scale, s, got, err)
		}
		if x.Sign() >= 0 {
			if got, err := ParseAmount(s, scale); err != nil || got.Cmp(x) != 0 {
				t.Fatalf("ParseAmount(%q, %d) = %v, %v; want %s", s, scale, got, err, x)
			}
		}
	})
}
