package checkout

import (
	"regexp"
	"slices"
	"testing"
)

func TestPickLanguage(t *testing.T) {
	t.Parallel()
	sup := []string{"en", "de", "es"}
	for _, tc := range []struct {
		name, query, accept, want string
	}{
		{"nothing", "", "", "en"},
		{"query", "de", "", "de"},
		{"query region", "es-MX", "", "es"},
		{"query upper case", "DE", "", "de"},
		{"query underscore", "de_CH", "", "de"},
		{"query unsupported falls to header", "fr", "es", "es"},
		{"query beats header", "en", "de", "en"},
		{"query junk", "<script>", "de", "de"},
		{"header first wins ties", "", "de, es", "de"},
		{"header by quality", "", "de;q=0.5, es;q=0.8", "es"},
		{"header region", "", "de-CH", "de"},
		{"header unsupported first", "", "fr-FR,fr;q=0.9,es;q=0.7,en;q=0.6", "es"},
		{"q=0 excludes", "", "de;q=0", "en"},
		{"q=0 excludes, others count", "", "de;q=0, es;q=0.001", "es"},
		{"q=1.000", "", "fr, de;q=1.000", "de"},
		{"bad q skipped", "", "de;q=2, es;q=0.5", "es"},
		{"bad q syntax skipped", "", "de;q=abc, es;q=0.5", "es"},
		{"too many q digits skipped", "", "de;q=0.1234, es;q=0.5", "es"},
		{"other parameter skipped", "", "de;level=1, es", "es"},
		{"wildcard", "", "*", "en"},
		{"spaces", "", "  es  ;  q=0.4 ,fr", "es"},
		{"empty entries", "", ",,,de,,", "de"},
		{"only junk", "", ";;;=,q=", "en"},
	} {
		if got := pickLanguage(tc.query, tc.accept, sup); got != tc.want {
			t.Errorf("%s: pickLanguage(%q, %q) = %s, want %s", tc.name, tc.query, tc.accept, got, tc.want)
		}
	}
}

func TestParseQuality(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1000, true}, {"1.", 1000, true}, {"1.0", 1000, true}, {"1.000", 1000, true}, {"0", 0, true},
		{"0.5", 500, true}, {"0.05", 50, true}, {"0.001", 1, true}, {"0.999", 999, true},
		{"1.001", 0, false}, {"2", 0, false}, {"0.1234", 0, false}, {"", 0, false}, {".5", 0, false},
		{"0.a", 0, false}, {"-0", 0, false}, {"01", 0, false}, {"1e0", 0, false},
	} {
		got, ok := parseQuality(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseQuality(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzPickLanguage(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"de", ""}, {"", "es-ES,es;q=0.9,en;q=0.8"}, {"x", "de;q=0.5"},
		{"", "de;q=0.1234"}, {"DE-at", "*;q=0"}, {"", "\xff;q=1"}} {
		f.Add(s[0], s[1])
	}
	sup := []string{"en", "de", "es"}
	f.Fuzz(func(t *testing.T, query, accept string) {
		got := pickLanguage(query, accept, sup)
		if !slices.Contains(sup, got) {
			t.Fatalf("pickLanguage(%q, %q) = %q, not supported", query, accept, got)
		}
		if p := primary(query); slices.Contains(sup, p) && got != p {
			t.Fatalf("pickLanguage(%q, %q) = %q, but the query names %q", query, accept, got, p)
		}
	})
}

func FuzzParseQuality(f *testing.F) {
	for _, s := range []string{"1", "0.5", "0.001", "1.000", "2", "", "0.", "1.0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := parseQuality(s)
		if ok && (q < 0 || q > 1000) {
			t.Fatalf("parseQuality(%q) = %d", s, q)
		}
		if !ok && q != 0 {
			t.Fatalf("parseQuality(%q) failed but returned %d", s, q)
		}
	})
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// TestCatalogs checks every catalog has the English keys, the same placeholders, and the
// messages the page and every state use.
func TestCatalogs(t *testing.T) {
	t.Parallel()
	c, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.codes(); !slices.Equal(got, []string{"en", "de", "es"}) {
		t.Fatalf("languages %v, want en first, then de and es", got)
	}
	en := c.get("en")
	for _, l := range c.langs {
		for k, v := range en.messages {
			tr, ok := l.messages[k]
			if !ok || tr == "" {
				t.Errorf("%s: %s missing", l.Code, k)
				continue
			}
			want, got := placeholder.FindAllString(v, -1), placeholder.FindAllString(tr, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s: %s has placeholders %v, English has %v", l.Code, k, got, want)
			}
		}
		for _, s := range []State{StateWaiting, StatePartial, StateDetected, StateConfirming, StatePaid, StateExpired, StateInvalid} {
			if _, ok := l.messages["title."+string(s)]; !ok {
				t.Errorf("%s: no title for state %s", l.Code, s)
			}
		}
	}
	if got := en.T("detail.confirming", "have", 2, "need", 6); got != "Your payment is in a block: 2 of 6 confirmations." {
		t.Errorf("T with placeholders: %q", got)
	}
	if got := en.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if c.get("fr").Code != "en" {
		t.Error("unknown language does not fall back to English")
	}
}
