package export_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/export"
)

func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][2]string{{"2026-11-01", "2026-11-30"}, {"2026-11-01T10:00:00+02:00", "2026-11-01T12:00:00Z"},
		{"", ""}, {"9999-12-31", "9999-12-31"}, {"0000-01-01", "0001-01-01"}, {"2026-02-30", "2026-03-01"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		p, err := export.ParsePeriod(from, to)
		if err != nil {
			var pe *export.ParamError
			if !errors.As(err, &pe) || (pe.Param != "from" && pe.Param != "to") || pe.Detail == "" {
				t.Fatalf("ParsePeriod(%q, %q): error %v is not a ParamError naming from or to", from, to, err)
			}
			return
		}
		if !p.To.After(p.From) || p.From.Location().String() != "UTC" || p.To.Location().String() != "UTC" {
			t.Fatalf("ParsePeriod(%q, %q) = %v: not a non-empty UTC period", from, to, p)
		}
	})
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func FuzzGuard(f *testing.F) {
	for _, s := range []string{"=1+1", "-25.00", "-1e5", "@x", "\tx", "\rx", "text", "", "'x", "-", "+1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, numeric bool) {
		out := export.Guard(s, numeric)
		if out != s && out != "'"+s {
			t.Fatalf("Guard(%q) = %q: only a leading quote may be added", s, out)
		}
		if out != "" && strings.IndexByte("=+-@\t\r", out[0]) >= 0 && !(numeric && plainNumber.MatchString(out)) {
			t.Fatalf("Guard(%q, %v) = %q still starts with a formula character", s, numeric, out)
		}
		if numeric && plainNumber.MatchString(s) && out != s {
			t.Fatalf("Guard(%q, numeric) = %q: a plain number must stay a number", s, out)
		}
	})
}

func FuzzTallyCSV(f *testing.F) {
	if golden, err := os.ReadFile("testdata/csv.golden"); err == nil {
		f.Add(string(golden))
		lines := strings.SplitAfter(string(golden), "\r\n")
		f.Add(lines[0] + lines[1])
		f.Add(lines[0] + strings.Replace(lines[1], "25.00", "2.5e1", 1))
	}
	f.Add("record_id\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tot, err := export.TallyCSV(strings.NewReader(s))
		if err != nil {
			return
		}
		for k, v := range tot.Fiat {
			if v.Rows <= 0 || v.Gross == nil || v.Fee == nil || v.Net == nil {
				t.Fatalf("%v: %+v", k, v)
			}
		}
	})
}
