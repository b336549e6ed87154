package rates

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var (
	btcUSD  = Pair{Base: "BTC", Quote: "USD"}
	ethUSD  = Pair{Base: "ETH", Quote: "USD"}
	ethEUR  = Pair{Base: "ETH", Quote: "EUR"}
	usdcUSD = Pair{Base: "USDC", Quote: "USD"}
	usdtUSD = Pair{Base: "USDT", Quote: "USD"}
)

// fetchTime is the injected clock's time in the source tests.
var fetchTime = time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return fetchTime }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// answer is one recorded provider answer.
type answer struct {
	status int
	file   string // under testdata/
	header map[string]string
}

// replayServer serves a for every request, after checking that the request
// is for wantPath with the wanted query parameters. It counts requests.
func replayServer(t *testing.T, wantPath string, wantQuery url.Values, a answer) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	body := []byte{}
	if a.file != "" {
		body = readTestdata(t, a.file)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != wantPath {
			t.Errorf("request %s %s, want GET %s", r.Method, r.URL.Path, wantPath)
		}
		for k, v := range wantQuery {
			if got := r.URL.Query()[k]; strings.Join(got, ",") != strings.Join(v, ",") {
				t.Errorf("query %s = %q, want %q", k, got, v)
			}
		}
		if ua := r.Header.Get("User-Agent"); ua != DefaultUserAgent {
			t.Errorf("User-Agent %q, want %q", ua, DefaultUserAgent)
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if strings.HasSuffix(a.file, ".html") {
			w.Header().Set("Content-Type", "text/html")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// sourceCase is one replayed answer and what Fetch must make of it.
type sourceCase struct {
	name     string
	pair     Pair
	answer   answer
	wantRate string    // exact decimal, when no error is wanted
	wantAt   time.Time // zero means fetchTime (the provider gave no time)
	wantErr  error
	wantMsg  string // substring of the error
	wantWait time.Duration
}

func runSourceCases(t *testing.T, cases []sourceCase, path func(Pair) string, query func(Pair) url.Values,
	mk func(HTTPConfig) (Source, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := replayServer(t, path(tc.pair), query(tc.pair), tc.answer)
			src, err := mk(HTTPConfig{Client: srv.Client(), BaseURL: srv.URL, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			q, err := src.Fetch(context.Background(), tc.pair)
			if hits.Load() != 1 {
				t.Errorf("%d requests, want 1", hits.Load())
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Fetch error = %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("error %q does not mention %q", err, tc.wantMsg)
				}
				var rl *RateLimitError
				if errors.As(err, &rl) && rl.RetryAfter != tc.wantWait {
					t.Errorf("RetryAfter = %s, want %s", rl.RetryAfter, tc.wantWait)
				}
				if q != (Quote{}) {
					t.Errorf("quote %+v returned with an error", q)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if q.Rate.String() != tc.wantRate {
				t.Errorf("rate = %s, want exactly %s", q.Rate, tc.wantRate)
			}
			wantAt := tc.wantAt
			if wantAt.IsZero() {
				wantAt = fetchTime
			}
			if !q.At.Equal(wantAt) {
				t.Errorf("At = %s, want %s", q.At, wantAt)
			}
			if q.Pair != tc.pair || q.Source != src.Name() {
				t.Errorf("quote %+v, want pair %s from %s", q, tc.pair, src.Name())
			}
		})
	}
}

// commonFailures are answers every HTTP source must reject.
func commonFailures(p Pair) []sourceCase {
	return []sourceCase{
		{name: "cdn 502 html", pair: p, answer: answer{status: 502, file: "common/cloudflare_502.html"},
			wantErr: ErrBadResponse, wantMsg: `HTML page instead of JSON ("502 Bad Gateway")`},
		{name: "maintenance html with 200", pair: p, answer: answer{status: 200, file: "common/maintenance.html"},
			wantErr: ErrBadResponse, wantMsg: "HTML page"},
		{name: "empty body", pair: p, answer: answer{status: 200, file: "common/empty.txt"},
			wantErr: ErrBadResponse, wantMsg: "empty body"},
		{name: "truncated json", pair: p, answer: answer{status: 200, file: "common/truncated.json"},
			wantErr: ErrBadResponse, wantMsg: "decode"},
		{name: "429 with seconds", pair: p, answer: answer{status: 429, file: "common/empty.txt",
			header: map[string]string{"Retry-After": "30"}},
			wantErr: ErrRateLimited, wantMsg: "retry after 30s", wantWait: 30 * time.Second},
		{name: "429 with http date", pair: p, answer: answer{status: 429, file: "common/empty.txt",
			header: map[string]string{"Retry-After": fetchTime.Add(2 * time.Minute).Format(http.TimeFormat)}},
			wantErr: ErrRateLimited, wantMsg: "rate limited", wantWait: 2 * time.Minute},
		{name: "429 without retry-after", pair: p, answer: answer{status: 429, file: "common/empty.txt"},
			wantErr: ErrRateLimited, wantMsg: "rate limited", wantWait: 0},
	}
}

func TestCoinbase(t *testing.T) {
	t.Parallel()
	cases := []sourceCase{
		{name: "btc usd", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_btc_usd.json"}, wantRate: "67187.33"},
		{name: "eth eur", pair: ethEUR, answer: answer{status: 200, file: "coinbase/spot_eth_eur.json"}, wantRate: "3421.095"},
		{name: "not found", pair: Pair{"XYZ", "USD"}, answer: answer{status: 404, file: "coinbase/error_not_found.json"},
			wantErr: ErrUnsupportedPair, wantMsg: "not_found: Invalid currency (XYZ)"},
		{name: "invalid currency 400", pair: Pair{"USDX", "USD"}, answer: answer{status: 400, file: "coinbase/error_invalid_currency.json"},
			wantErr: ErrUnsupportedPair, wantMsg: "HTTP 400: invalid_request: Invalid currency (USDX)"},
		{name: "internal error", pair: btcUSD, answer: answer{status: 500, file: "coinbase/error_internal.json"},
			wantErr: ErrBadResponse, wantMsg: "HTTP 500: internal_server_error: An internal server error occurred"},
		{name: "zero", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_zero.json"},
			wantErr: ErrBadResponse, wantMsg: "not positive"},
		{name: "negative", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_negative.json"},
			wantErr: ErrBadResponse, wantMsg: `"-5.00" is not a plain decimal`},
		{name: "non numeric", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_non_numeric.json"},
			wantErr: ErrBadResponse, wantMsg: `"n/a"`},
		{name: "answer for another currency", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_wrong_currency.json"},
			wantErr: ErrBadResponse, wantMsg: "asked for BTC/USD, answer is for BTC/EUR"},
		{name: "truncated", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_truncated.json"},
			wantErr: ErrBadResponse, wantMsg: "decode spot price"},
		{name: "kraken body", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_xbtusd.json"},
			wantErr: ErrBadResponse, wantMsg: "no data.amount"},
	}
	cases = append(cases, commonFailures(btcUSD)...)
	runSourceCases(t, cases,
		func(p Pair) string { return "/v2/prices/" + p.Base + "-" + p.Quote + "/spot" },
		func(Pair) url.Values { return nil },
		func(c HTTPConfig) (Source, error) { return NewCoinbase(c) })
}

func TestKraken(t *testing.T) {
	t.Parallel()
	cases := []sourceCase{
		{name: "xbt quirk", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_xbtusd.json"}, wantRate: "67187.3"},
		{name: "xethzusd key", pair: ethUSD, answer: answer{status: 200, file: "kraken/ticker_ethusd.json"}, wantRate: "3512.47"},
		{name: "usdcusd key", pair: usdcUSD, answer: answer{status: 200, file: "kraken/ticker_usdcusd.json"}, wantRate: "0.9999"},
		{name: "usdtzusd key", pair: usdtUSD, answer: answer{status: 200, file: "kraken/ticker_usdtusd.json"}, wantRate: "1.00015"},
		{name: "warning does not hide result", pair: btcUSD, answer: answer{status: 200, file: "kraken/warning_with_result.json"}, wantRate: "67187.3"},
		{name: "unknown pair in 200", pair: Pair{"XYZ", "USD"}, answer: answer{status: 200, file: "kraken/error_unknown_pair.json"},
			wantErr: ErrUnsupportedPair, wantMsg: "EQuery:Unknown asset pair"},
		{name: "rate limit in 200", pair: btcUSD, answer: answer{status: 200, file: "kraken/error_rate_limit.json"},
			wantErr: ErrRateLimited, wantMsg: "EAPI:Rate limit exceeded"},
		{name: "public throttle in 200", pair: btcUSD, answer: answer{status: 200, file: "kraken/error_too_many_requests.json"},
			wantErr: ErrRateLimited, wantMsg: "EGeneral:Too many requests"},
		{name: "service unavailable in 200", pair: btcUSD, answer: answer{status: 200, file: "kraken/error_service_unavailable.json"},
			wantErr: ErrBadResponse, wantMsg: "EService:Unavailable"},
		{name: "answer for another pair", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_wrong_pair.json"},
			wantErr: ErrBadResponse, wantMsg: "no entry for XBTUSD (got XXBTZEUR)"},
		{name: "no last trade", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_no_last.json"},
			wantErr: ErrBadResponse, wantMsg: `no last trade "c"`},
		{name: "empty result", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_empty_result.json"},
			wantErr: ErrBadResponse, wantMsg: "no result for XBTUSD"},
		{name: "coinbase body", pair: btcUSD, answer: answer{status: 200, file: "coinbase/spot_btc_usd.json"},
			wantErr: ErrBadResponse, wantMsg: "no result"},
	}
	cases = append(cases, commonFailures(btcUSD)...)
	runSourceCases(t, cases,
		func(Pair) string { return "/0/public/Ticker" },
		func(p Pair) url.Values { return url.Values{"pair": {krakenPairName(p)}} },
		func(c HTTPConfig) (Source, error) { return NewKraken(c) })
}

func TestBitstamp(t *testing.T) {
	t.Parallel()
	stamp := time.Unix(1764111600, 0).UTC()
	cases := []sourceCase{
		{name: "btc usd", pair: btcUSD, answer: answer{status: 200, file: "bitstamp/ticker_btcusd.json"}, wantRate: "67185", wantAt: stamp},
		{name: "usdc usd", pair: usdcUSD, answer: answer{status: 200, file: "bitstamp/ticker_usdcusd.json"}, wantRate: "0.99995", wantAt: stamp},
		{name: "unknown market 404 html", pair: Pair{"XYZ", "USD"}, answer: answer{status: 404, file: "bitstamp/not_found.html"},
			wantErr: ErrUnsupportedPair, wantMsg: "no such market"},
		{name: "status error", pair: btcUSD, answer: answer{status: 200, file: "bitstamp/error_status.json"},
			wantErr: ErrBadResponse, wantMsg: "API0005: Invalid currency pair."},
		{name: "rate limit response code", pair: btcUSD, answer: answer{status: 400, file: "bitstamp/error_rate_limit.json"},
			wantErr: ErrRateLimited, wantMsg: "exceeded rate limit"},
		{name: "zero", pair: btcUSD, answer: answer{status: 200, file: "bitstamp/ticker_zero.json"},
			wantErr: ErrBadResponse, wantMsg: "not positive"},
		{name: "bad timestamp", pair: btcUSD, answer: answer{status: 200, file: "bitstamp/ticker_bad_timestamp.json"},
			wantErr: ErrBadResponse, wantMsg: `timestamp "yesterday"`},
		{name: "kraken body", pair: btcUSD, answer: answer{status: 200, file: "kraken/ticker_xbtusd.json"},
			wantErr: ErrBadResponse, wantMsg: `no "last"`},
	}
	cases = append(cases, commonFailures(btcUSD)...)
	runSourceCases(t, cases,
		func(p Pair) string { return "/api/v2/ticker/" + strings.ToLower(p.Base+p.Quote) + "/" },
		func(Pair) url.Values { return nil },
		func(c HTTPConfig) (Source, error) { return NewBitstamp(c) })
}

func TestCoinGecko(t *testing.T) {
	t.Parallel()
	updated := time.Unix(1764111590, 0).UTC()
	cases := []sourceCase{
		{name: "btc usd", pair: btcUSD, answer: answer{status: 200, file: "coingecko/simple_price_btc_usd.json"}, wantRate: "67187.33", wantAt: updated},
		// 20 significant digits: float64 keeps about 16, so this proves the
		// literal is parsed exactly.
		{name: "full precision number", pair: ethEUR, answer: answer{status: 200, file: "coingecko/simple_price_eth_eur_full.json"},
			wantRate: "3421.0951234567891234", wantAt: updated},
		{name: "usdc", pair: usdcUSD, answer: answer{status: 200, file: "coingecko/simple_price_usdc_usd.json"}, wantRate: "0.999912", wantAt: updated},
		{name: "exponent literal", pair: btcUSD, answer: answer{status: 200, file: "coingecko/simple_price_exponent.json"}, wantRate: "67187.33", wantAt: updated},
		{name: "unknown id", pair: btcUSD, answer: answer{status: 200, file: "coingecko/unknown_id.json"},
			wantErr: ErrUnsupportedPair, wantMsg: `no price for coin id "bitcoin"`},
		{name: "unknown currency", pair: btcUSD, answer: answer{status: 200, file: "coingecko/unknown_currency.json"},
			wantErr: ErrUnsupportedPair, wantMsg: `no "usd" price`},
		{name: "string instead of number", pair: btcUSD, answer: answer{status: 200, file: "coingecko/price_as_string.json"},
			wantErr: ErrBadResponse, wantMsg: "is string, want a number"},
		{name: "zero", pair: btcUSD, answer: answer{status: 200, file: "coingecko/price_zero.json"},
			wantErr: ErrBadResponse, wantMsg: "not positive"},
		{name: "negative", pair: btcUSD, answer: answer{status: 200, file: "coingecko/price_negative.json"},
			wantErr: ErrBadResponse, wantMsg: "negative"},
		{name: "huge exponent", pair: btcUSD, answer: answer{status: 200, file: "coingecko/price_huge_exponent.json"},
			wantErr: ErrBadResponse, wantMsg: "out-of-range exponent"},
		{name: "rate limit body with 429", pair: btcUSD, answer: answer{status: 429, file: "coingecko/rate_limited.json",
			header: map[string]string{"Retry-After": "60"}},
			wantErr: ErrRateLimited, wantMsg: "exceeded the Rate Limit", wantWait: time.Minute},
		{name: "error string", pair: btcUSD, answer: answer{status: 400, file: "coingecko/error_string.json"},
			wantErr: ErrBadResponse, wantMsg: "HTTP 400: invalid vs_currency"},
	}
	cases = append(cases, commonFailures(btcUSD)...)
	ids := DefaultCoinGeckoIDs()
	runSourceCases(t, cases,
		func(Pair) string { return "/api/v3/simple/price" },
		func(p Pair) url.Values {
			return url.Values{"ids": {ids[p.Base]}, "vs_currencies": {strings.ToLower(p.Quote)},
				"include_last_updated_at": {"true"}, "precision": {"full"}}
		},
		func(c HTTPConfig) (Source, error) { return NewCoinGecko(CoinGeckoConfig{HTTPConfig: c}) })
}

func TestCoinGeckoUnconfiguredBaseMakesNoRequest(t *testing.T) {
	t.Parallel()
	srv, hits := replayServer(t, "/api/v3/simple/price", nil, answer{status: 200, file: "coingecko/simple_price_btc_usd.json"})
	src, err := NewCoinGecko(CoinGeckoConfig{HTTPConfig: HTTPConfig{Client: srv.Client(), BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{"DOGE", "USD"}
	if src.Supports(p) {
		t.Error("Supports(DOGE/USD) = true without a coin id")
	}
	if _, err := src.Fetch(context.Background(), p); !errors.Is(err, ErrUnsupportedPair) {
		t.Errorf("Fetch = %v, want ErrUnsupportedPair", err)
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests, want none", hits.Load())
	}
}

func TestCoinGeckoSendsAPIKey(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("x-cg-demo-api-key"))
		_, _ = w.Write(readTestdata(t, "coingecko/simple_price_btc_usd.json"))
	}))
	t.Cleanup(srv.Close)
	src, err := NewCoinGecko(CoinGeckoConfig{HTTPConfig: HTTPConfig{Client: srv.Client(), BaseURL: srv.URL}, APIKey: "CG-demo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(context.Background(), btcUSD); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "CG-demo" {
		t.Errorf("api key header = %v, want CG-demo", got.Load())
	}
}

// blockingServer never answers until the request is abandoned.
func blockingServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPSourceTimeout(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	src, err := NewKraken(HTTPConfig{Client: srv.Client(), BaseURL: srv.URL, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), btcUSD)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch = %v, want a deadline error from the per-request timeout", err)
	}
}

func TestHTTPSourceHonoursCallerContext(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	src, err := NewBitstamp(HTTPConfig{Client: srv.Client(), BaseURL: srv.URL, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = src.Fetch(ctx, btcUSD); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch = %v, want context.Canceled", err)
	}
}

func TestHTTPSourceBodyLimit(t *testing.T) {
	t.Parallel()
	srv, _ := replayServer(t, "/v2/prices/BTC-USD/spot", nil, answer{status: 200, file: "coinbase/spot_btc_usd.json"})
	src, err := NewCoinbase(HTTPConfig{Client: srv.Client(), BaseURL: srv.URL, MaxBody: 16})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), btcUSD)
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "body exceeds 16 bytes") {
		t.Fatalf("Fetch = %v, want ErrBadResponse for an oversized body", err)
	}
}

func TestHTTPSourceBaseURLPrefix(t *testing.T) {
	t.Parallel()
	srv, hits := replayServer(t, "/proxy/coinbase/v2/prices/BTC-USD/spot", nil, answer{status: 200, file: "coinbase/spot_btc_usd.json"})
	src, err := NewCoinbase(HTTPConfig{Client: srv.Client(), BaseURL: srv.URL + "/proxy/coinbase/", Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	q, err := src.Fetch(context.Background(), btcUSD)
	if err != nil || hits.Load() != 1 || q.Rate.String() != "67187.33" {
		t.Fatalf("Fetch = %+v, %v after %d requests", q, err, hits.Load())
	}
}

func TestNewHTTPSourceRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  HTTPConfig
		want string
	}{
		{"relative url", HTTPConfig{BaseURL: "api.example.com"}, "want http(s)://host"},
		{"ftp url", HTTPConfig{BaseURL: "ftp://example.com"}, "want http(s)://host"},
		{"unparsable url", HTTPConfig{BaseURL: "http://[::1"}, "base URL"},
		{"negative timeout", HTTPConfig{Timeout: -time.Second}, "negative timeout"},
		{"negative max body", HTTPConfig{MaxBody: -1}, "negative max body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewKraken(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewKraken(%+v) = %v, want error mentioning %q", tc.cfg, err, tc.want)
			}
		})
	}
	if _, err := NewCoinGecko(CoinGeckoConfig{IDs: map[string]string{"btc": "bitcoin"}}); err == nil {
		t.Error("NewCoinGecko accepted a lower-case ticker")
	}
}

func TestSourcesRejectMalformedPairWithoutRequest(t *testing.T) {
	t.Parallel()
	srv, hits := replayServer(t, "/", nil, answer{status: 200, file: "common/empty.txt"})
	cfg := HTTPConfig{Client: srv.Client(), BaseURL: srv.URL}
	cb, _ := NewCoinbase(cfg)
	kr, _ := NewKraken(cfg)
	bs, _ := NewBitstamp(cfg)
	cg, _ := NewCoinGecko(CoinGeckoConfig{HTTPConfig: cfg})
	for _, src := range []Source{cb, kr, bs, cg} {
		for _, p := range []Pair{{"btc", "USD"}, {"BTC", ""}, {"BTC", "BTC"}, {"BTC/X", "USD"}} {
			if _, err := src.Fetch(context.Background(), p); !errors.Is(err, ErrUnsupportedPair) {
				t.Errorf("%s.Fetch(%q) = %v, want ErrUnsupportedPair", src.Name(), p, err)
			}
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests for malformed pairs, want none", hits.Load())
	}
}

func TestFixed(t *testing.T) {
	t.Parallel()
	f, err := NewFixed("config", map[Pair]decimal.Decimal{usdcUSD: decimal.NewFromInt(1)}, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	q, err := f.Fetch(context.Background(), usdcUSD)
	if err != nil || q.Rate.String() != "1" || !q.At.Equal(fetchTime) || q.Source != "config" {
		t.Fatalf("Fetch = %+v, %v", q, err)
	}
	if _, err := f.Fetch(context.Background(), btcUSD); !errors.Is(err, ErrUnsupportedPair) {
		t.Errorf("Fetch(BTC/USD) = %v, want ErrUnsupportedPair", err)
	}
	for _, rate := range []string{"0", "-1"} {
		if _, err := NewFixed("x", map[Pair]decimal.Decimal{btcUSD: decimal.RequireFromString(rate)}, nil); err == nil {
			t.Errorf("NewFixed accepted rate %s", rate)
		}
	}
	if _, err := NewFixed("x", map[Pair]decimal.Decimal{{"btc", "usd"}: decimal.NewFromInt(1)}, nil); err == nil {
		t.Error("NewFixed accepted a malformed pair")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := fetchTime
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"120", 2 * time.Minute},
		{"99999999999", 7 * 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParsePriceString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // "" means an error
	}{
		{"67187.33", "67187.33"},
		{"0.00000001", "0.00000001"},
		{"1", "1"},
		{"007.50", "7.5"},
		{"0", ""}, {"0.000", ""}, {"-1", ""}, {"+1", ""}, {"1e5", ""}, {".5", ""}, {"5.", ""},
		{"1.2.3", ""}, {" 1", ""}, {"NaN", ""}, {"Infinity", ""}, {"", ""}, {"1,5", ""},
		{"1000000000000001", ""}, // above the plausibility cap
		{strings.Repeat("1", 50), ""},
	} {
		got, err := parsePriceString(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parsePriceString(%q) = %s, want an error", tc.in, got)
		case tc.want != "" && (err != nil || got.String() != tc.want):
			t.Errorf("parsePriceString(%q) = %s, %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePriceNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"67187.33", "67187.33"},
		{"6.718733e4", "67187.33"},
		{"6.718733E+4", "67187.33"},
		{"1.5e-8", "0.000000015"},
		{"3421.0951234567891234", "3421.0951234567891234"},
		{"0", ""}, {"-0.5", ""}, {"1e41", ""}, {"1e-41", ""}, {"1e999999999", ""},
		{"1" + strings.Repeat("0", 45), ""},
	} {
		got, err := parsePriceNumber(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parsePriceNumber(%q) = %s, want an error", tc.in, got)
		case tc.want != "" && (err != nil || !got.Equal(decimal.RequireFromString(tc.want))):
			t.Errorf("parsePriceNumber(%q) = %s, %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePair(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Pair
		ok   bool
	}{
		{"BTC/USD", btcUSD, true},
		{"btc-usd", btcUSD, true},
		{"USDC/EUR", Pair{"USDC", "EUR"}, true},
		{"BTCUSD", Pair{}, false},
		{"BTC/", Pair{}, false},
		{"/USD", Pair{}, false},
		{"BTC/BTC", Pair{}, false},
		{"BTC/US D", Pair{}, false},
		{"BTC/USD/EUR", Pair{}, false},
	} {
		got, err := ParsePair(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParsePair(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
