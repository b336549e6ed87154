package rates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Defaults applied by NewCoinbase, NewKraken, NewBitstamp and NewCoinGecko.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultMaxBody   = 1 << 20
	DefaultUserAgent = "chainpay-rates/1"
)

// HTTPConfig configures one HTTP rate source. The zero value is usable: it
// talks to the provider's public endpoint with a fresh http.Client.
type HTTPConfig struct {
	// Client sends the requests. Nil means a new &http.Client{}; the
	// per-request Timeout below bounds every call either way.
	Client *http.Client
	// BaseURL replaces the provider's public base URL (scheme and host, and
	// an optional path prefix), so tests can point the source at httptest.
	BaseURL string
	// Timeout bounds each request, including reading the body. Default 10 s.
	Timeout time.Duration
	// MaxBody caps the bytes read from a response. Default 1 MiB.
	MaxBody int64
	// UserAgent is sent with every request. Default "chainpay-rates/1".
	UserAgent string
	// Now is the clock used for Quote.At when the provider gives no time,
	// and to resolve an HTTP-date Retry-After. Default time.Now.
	Now func() time.Time
}

// httpSource is the transport shared by the provider clients.
type httpSource struct {
	name    string
	client  *http.Client
	base    *url.URL
	timeout time.Duration
	maxBody int64
	agent   string
	now     func() time.Time
	header  http.Header // extra request headers (API keys)
}

func newHTTPSource(name, defaultBase string, cfg HTTPConfig) (httpSource, error) {
	s := httpSource{
		name:    name,
		client:  cfg.Client,
		timeout: cfg.Timeout,
		maxBody: cfg.MaxBody,
		agent:   cfg.UserAgent,
		now:     cfg.Now,
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.timeout < 0 {
		return httpSource{}, fmt.Errorf("%s: negative timeout %s", name, s.timeout)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxBody < 0 {
		return httpSource{}, fmt.Errorf("%s: negative max body %d", name, s.maxBody)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBody
	}
	if s.agent == "" {
		s.agent = DefaultUserAgent
	}
	if s.now == nil {
		s.now = time.Now
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = defaultBase
	}
	u, err := url.Parse(raw)
	if err != nil {
		return httpSource{}, fmt.Errorf("%s: base URL %q: %w", name, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return httpSource{}, fmt.Errorf("%s: base URL %q: want http(s)://host[/prefix]", name, raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	s.base = u
	return s, nil
}

// response is a fully read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
	at     time.Time // when the answer was received, by the injected clock
}

// get sends GET base+path?query and reads the whole (bounded) body. It turns
// HTTP 429 into a *RateLimitError; every other status is left to the parser,
// because providers put their error messages in the body.
func (s httpSource) get(ctx context.Context, path string, query url.Values) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u := *s.base
	u.Path = s.base.Path + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return response{}, fmt.Errorf("%s: build request: %w", s.name, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.agent)
	for k, vs := range s.header {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s: GET %s: %w", s.name, u.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBody+1))
	if err != nil {
		return response{}, fmt.Errorf("%s: read body of GET %s: %w", s.name, u.Path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: body, at: s.now()}
	if resp.StatusCode == http.StatusTooManyRequests {
		return r, &RateLimitError{
			Source:     s.name,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), r.at),
			Message:    snippet(body),
		}
	}
	if int64(len(body)) > s.maxBody {
		return r, &ProviderError{Source: s.name, Status: r.status,
			Message: fmt.Sprintf("body exceeds %d bytes", s.maxBody), Kind: ErrBadResponse}
	}
	return r, nil
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 section 10.2.3). It returns 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(7 * 24 * time.Hour / time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// checkBody rejects bodies that cannot be JSON: empty, or an HTML page (a
// CDN or load-balancer error page). status is included in the error.
func checkBody(source string, r response) error {
	trimmed := bytes.TrimSpace(r.body)
	if len(trimmed) == 0 {
		return &ProviderError{Source: source, Status: r.status, Message: "empty body", Kind: ErrBadResponse}
	}
	if trimmed[0] == '<' {
		return &ProviderError{Source: source, Status: r.status,
			Message: "HTML page instead of JSON" + htmlTitle(trimmed), Kind: ErrBadResponse}
	}
	return nil
}

// htmlTitle returns ` ("title")` for an HTML page with a <title>, else "".
func htmlTitle(b []byte) string {
	lower := asciiLower(b) // same length as b, so indexes carry over
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	start := i + len("<title>")
	j := bytes.Index(lower[start:], []byte("</title>"))
	if j < 0 {
		return ""
	}
	return fmt.Sprintf(" (%q)", truncate(string(bytes.TrimSpace(b[start:start+j])), 120))
}

// asciiLower lower-cases ASCII letters only. Unlike bytes.ToLower it never
// changes the length (invalid UTF-8 stays as it is).
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// statusError is the error for a non-2xx answer whose body says nothing more
// specific.
func statusError(source string, r response) error {
	if err := checkBody(source, r); err != nil {
		return err
	}
	return &ProviderError{Source: source, Status: r.status, Message: snippet(r.body), Kind: ErrBadResponse}
}

func snippet(b []byte) string { return truncate(strings.TrimSpace(string(b)), 200) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func badResponse(source, format string, args ...any) error {
	return &ProviderError{Source: source, Message: fmt.Sprintf(format, args...), Kind: ErrBadResponse}
}

// Bounds on prices accepted from providers. They keep hostile input from
// producing decimals that are expensive to compute with, and reject values
// no real market shows.
const (
	maxPriceDigits   = 40
	maxPriceExponent = 40
)

var maxPrice = decimal.New(1, 15) // no asset trades above 10^15 fiat units

// parsePriceString parses a provider's decimal string strictly: ASCII
// digits with at most one '.', digits on both sides of it, no sign, no
// exponent, no spaces. The result is checked by checkPrice.
func parsePriceString(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Decimal{}, errors.New("empty price")
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return decimal.Decimal{}, fmt.Errorf("price %q is not a plain decimal number", truncate(s, 64))
		}
	}
	if len(s) > maxPriceDigits+1 {
		return decimal.Decimal{}, fmt.Errorf("price %q has more than %d digits", truncate(s, 64), maxPriceDigits)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("price %q: %w", s, err)
	}
	return checkPrice(d, s)
}

// parsePriceNumber parses a JSON number literal (as kept by
// json.Decoder.UseNumber) exactly, exponent notation included, never via
// float64.
func parsePriceNumber(s string) (decimal.Decimal, error) {
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	if strings.HasPrefix(mant, "-") {
		return decimal.Decimal{}, fmt.Errorf("price %s is negative", truncate(s, 64))
	}
	if n := len(strings.TrimLeft(strings.Replace(mant, ".", "", 1), "0")); n > maxPriceDigits {
		return decimal.Decimal{}, fmt.Errorf("price %s has more than %d digits", truncate(s, 64), maxPriceDigits)
	}
	if exp != "" {
		e, err := strconv.Atoi(exp)
		if err != nil || e > maxPriceExponent || e < -maxPriceExponent {
			return decimal.Decimal{}, fmt.Errorf("price %s has an out-of-range exponent", truncate(s, 64))
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("price %s: %w", truncate(s, 64), err)
	}
	return checkPrice(d, s)
}

func checkPrice(d decimal.Decimal, raw string) (decimal.Decimal, error) {
	if e := d.Exponent(); e > maxPriceExponent || e < -2*maxPriceExponent {
		return decimal.Decimal{}, fmt.Errorf("price %s is out of range", truncate(raw, 64))
	}
	if d.Sign() <= 0 {
		return decimal.Decimal{}, fmt.Errorf("price %s is not positive", truncate(raw, 64))
	}
	if d.GreaterThan(maxPrice) {
		return decimal.Decimal{}, fmt.Errorf("price %s is implausibly large", truncate(raw, 64))
	}
	return d, nil
}

// parseUnixSeconds parses a provider's Unix timestamp in whole seconds.
func parseUnixSeconds(s string) (time.Time, error) {
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil || secs <= 0 || secs > 1<<40 {
		return time.Time{}, fmt.Errorf("timestamp %q is not Unix seconds", truncate(s, 64))
	}
	return time.Unix(secs, 0).UTC(), nil
}
