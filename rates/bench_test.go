package rates

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// BenchmarkQuote compares answering from the cache ("cached") with the
// baseline of asking four real clients over loopback HTTP ("fetch"), in the
// same run.
func BenchmarkQuote(b *testing.B) {
	bodies := map[string][]byte{
		"/v2/prices/BTC-USD/spot": readTestdata(b, "coinbase/spot_btc_usd.json"),
		"/0/public/Ticker":        readTestdata(b, "kraken/ticker_xbtusd.json"),
		"/api/v2/ticker/btcusd/":  readTestdata(b, "bitstamp/ticker_btcusd.json"),
		"/api/v3/simple/price":    readTestdata(b, "coingecko/simple_price_btc_usd.json"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bodies[r.URL.Path])
	}))
	defer srv.Close()
	// Bitstamp and CoinGecko carry their own timestamps; put the clock right
	// after them so every quote is fresh.
	clk := &testClock{t: time.Unix(1764111600, 0).UTC()}
	cfg := HTTPConfig{Client: srv.Client(), BaseURL: srv.URL, Now: clk.Now}
	cb, _ := NewCoinbase(cfg)
	kr, _ := NewKraken(cfg)
	bs, _ := NewBitstamp(cfg)
	cg, _ := NewCoinGecko(CoinGeckoConfig{HTTPConfig: cfg})
	ctx := context.Background()
	run := func(b *testing.B, clearCache bool) {
		svc, err := New([]Source{cb, kr, bs, cg}, Config{MaxAge: time.Hour, MinSources: 4,
			OutlierBand: decimal.RequireFromString("0.01"), Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if clearCache {
				svc.mu.Lock()
				clear(svc.cache) // force every source to be asked
				svc.mu.Unlock()
			}
			if _, err := svc.Quote(ctx, btcUSD); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("fetch", func(b *testing.B) { run(b, true) })
	b.Run("cached", func(b *testing.B) { run(b, false) })
}

// BenchmarkMedian measures the exact decimal median of six quotes (the even case).
func BenchmarkMedian(b *testing.B) {
	in := []decimal.Decimal{dec("67190.1"), dec("67187.33"), dec("67185"), dec("67300"), dec("67187.34"), dec("67000")}
	for b.Loop() {
		if _, err := Median(in); err != nil {
			b.Fatal(err)
		}
	}
}
