package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnl\ncr\r\x00\x1f", "\u2028\u2029", "é€😀", "\xff\xfe bad"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: not JSON: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && !validReplaced(s, got) {
			t.Fatalf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}

// validReplaced accepts that every invalid byte (not every run) became U+FFFD.
func validReplaced(s, got string) bool {
	var b strings.Builder
	for _, r := range s { // ranging replaces each invalid byte by U+FFFD
		b.WriteRune(r)
	}
	return got == b.String()
}

func TestIsDecimal(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0": true, "-0": true, "25.00": true, "-25.00": true, "1234567890.123456789012345678": true,
		"": false, "-": false, ".5": false, "5.": false, "1.2.3": false, "1e5": false, "+1": false, "--1": false, " 1": false, "-.5": false,
	} {
		if got := isDecimal(s); got != want {
			t.Errorf("isDecimal(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzFmtTime checks fmtTime's fixed-width digits against the layout it stands for:
// t.UTC().Truncate(time.Microsecond).Format(TimeFormat), for instants in any zone.
func FuzzFmtTime(f *testing.F) {
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(1767225600), int64(999999999), 3600)
	f.Add(int64(-62167219200), int64(1), -1800)  // 0000-01-01
	f.Add(int64(253402300799), int64(999999), 0) // 9999-12-31T23:59:59
	f.Add(int64(253402300800), int64(0), 0)      // 10000: Format's own way
	f.Add(int64(-62167219201), int64(5000), 60)  // year -1
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", offset%(26*3600)))
		want := ""
		if !tm.IsZero() {
			want = tm.UTC().Truncate(time.Microsecond).Format(TimeFormat)
		}
		if got := fmtTime(tm); got != want {
			t.Fatalf("fmtTime(%v) = %q, want %q", tm, got, want)
		}
	})
}

// FuzzCSVOutMatchesEncodingCSV checks that csvOut, which writes plain records itself,
// writes exactly what encoding/csv writes, for records mixing plain and quoted cells and
// rows (records split at '\x1e', cells at '|': a cell may hold line breaks).
func FuzzCSVOutMatchesEncodingCSV(f *testing.F) {
	for _, s := range []string{"a|b|c", "", "|", "a,b|c", "x\n\"q\"|y", " lead|\u00a0nbsp|\u0085", `\.|x`,
		"=1+2|-3.5|@x", "\tt|\r\n|\ré", "plain\x1equoted,\x1eplain", "\xff\xfe|ok", "a\nb|c\r\nd\x1e\n|\r"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, numeric bool) {
		var got, want bytes.Buffer
		out := newCSVOut(&got)
		ref := csv.NewWriter(&want)
		ref.UseCRLF = true
		isNum := func(int) bool { return numeric }
		for _, line := range strings.Split(s, "\x1e") {
			cells := strings.Split(line, "|")
			if err := out.write(cells, isNum); err != nil {
				t.Fatal(err)
			}
			guarded := make([]string, len(cells))
			for i, c := range cells {
				guarded[i] = Guard(c, numeric)
			}
			if err := ref.Write(guarded); err != nil {
				t.Fatal(err)
			}
		}
		if err := out.flush(); err != nil {
			t.Fatal(err)
		}
		ref.Flush()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("csvOut wrote %q, encoding/csv %q", got.Bytes(), want.Bytes())
		}
	})
}
