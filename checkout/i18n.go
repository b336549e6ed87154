package checkout

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

//go:embed messages/*.json
var messageFiles embed.FS

// defaultLanguage is the language used when neither ?lang= nor Accept-Language names a
// supported one. Its catalog defines the set of message keys every other catalog must have.
const defaultLanguage = "en"

// language is one supported language with its message catalog.
type language struct {
	Code     string // ISO 639-1, lower case
	Name     string // the language's own name for itself ("Deutsch")
	messages map[string]string
}

// catalog holds the supported languages, the default first.
type catalog struct {
	langs []language
}

// loadCatalog reads messages/<code>.json for every embedded language and checks that each
// has exactly the default language's keys and a "language.name".
func loadCatalog() (*catalog, error) {
	entries, err := messageFiles.ReadDir("messages")
	if err != nil {
		return nil, fmt.Errorf("read message catalogs: %w", err)
	}
	c := &catalog{}
	for _, e := range entries {
		code := strings.TrimSuffix(e.Name(), ".json")
		raw, err := messageFiles.ReadFile(path.Join("messages", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read messages %s: %w", e.Name(), err)
		}
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("messages %s: %w", e.Name(), err)
		}
		if m["language.name"] == "" {
			return nil, fmt.Errorf("messages %s: missing language.name", e.Name())
		}
		c.langs = append(c.langs, language{Code: code, Name: m["language.name"], messages: m})
	}
	i := slices.IndexFunc(c.langs, func(l language) bool { return l.Code == defaultLanguage })
	if i < 0 {
		return nil, fmt.Errorf("no %s message catalog", defaultLanguage)
	}
	c.langs[0], c.langs[i] = c.langs[i], c.langs[0]
	ref := c.langs[0].messages
	for _, l := range c.langs[1:] {
		for k := range ref {
			if _, ok := l.messages[k]; !ok {
				return nil, fmt.Errorf("messages %s: missing key %q", l.Code, k)
			}
		}
		for k := range l.messages {
			if _, ok := ref[k]; !ok {
				return nil, fmt.Errorf("messages %s: key %q is not in the %s catalog", l.Code, k, defaultLanguage)
			}
		}
	}
	return c, nil
}

// get returns the language with code, or the default language.
func (c *catalog) get(code string) language {
	for _, l := range c.langs {
		if l.Code == code {
			return l
		}
	}
	return c.langs[0]
}

func (c *catalog) codes() []string {
	out := make([]string, len(c.langs))
	for i, l := range c.langs {
		out[i] = l.Code
	}
	return out
}

// T returns the message for key with {name} placeholders replaced by the pairs in args
// (name, value, name, value, ...). A missing key returns the key itself, so a mistake
// shows on the page instead of failing it.
func (l language) T(key string, args ...any) string {
	s, ok := l.messages[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// maxAcceptLanguage bounds the part of an Accept-Language header that is read.
const maxAcceptLanguage = 1024

// pickLanguage chooses among supported (the first is the default): the ?lang= value when it
// names a supported language (by its primary subtag, so "de-AT" picks "de"), then the
// Accept-Language entry with the highest quality (earlier entries win ties; q=0 means "not
// this one"), then the default. It never fails: malformed entries are skipped.
func pickLanguage(query, accept string, supported []string) string {
	if l := primary(query); l != "" && slices.Contains(supported, l) {
		return l
	}
	if len(accept) > maxAcceptLanguage {
		accept = accept[:maxAcceptLanguage]
	}
	best, bestQ := "", 0
	for _, entry := range strings.Split(accept, ",") {
		tag, params, _ := strings.Cut(entry, ";")
		q := 1000
		if params != "" {
			name, val, ok := strings.Cut(strings.TrimSpace(params), "=")
			if !ok || strings.TrimSpace(name) != "q" {
				continue
			}
			var valid bool
			if q, valid = parseQuality(strings.TrimSpace(val)); !valid {
				continue
			}
		}
		l := primary(tag)
		if q > bestQ && slices.Contains(supported, l) {
			best, bestQ = l, q
		}
	}
	if best != "" {
		return best
	}
	return supported[0]
}

// primary returns the lower-cased primary subtag of a language tag ("de-CH" → "de"), or ""
// when it is not 2 to 8 ASCII letters.
func primary(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	if len(tag) < 2 || len(tag) > 8 {
		return ""
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i] | 0x20
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return strings.ToLower(tag)
}

// parseQuality parses an RFC 9110 qvalue ("0", "0.5", "1.000") into thousandths.
func parseQuality(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole != "0" && whole != "1" || (hasPoint && len(frac) > 3) {
		return 0, false
	}
	q := int(whole[0]-'0') * 1000
	mult := 100
	for i := 0; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return 0, false
		}
		q += int(frac[i]-'0') * mult
		mult /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}
