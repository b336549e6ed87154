package export

import (
	"encoding/json"
	"strings"
	"testing"
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
