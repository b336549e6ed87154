// Package rates gives exchange rates between crypto assets and fiat
// currencies that are safe to price invoices with.
//
// # Sources
//
// A Source fetches one Quote for a Pair: how many units of Pair.Quote (fiat,
// "USD") one unit of Pair.Base ("BTC", "ETH", "USDC", "USDT") is worth. This
// package has real HTTP clients for four public APIs, each parsing the
// provider's actual response shape and error forms:
//
//   - Coinbase: GET /v2/prices/BTC-USD/spot
//   - Kraken: GET /0/public/Ticker?pair=XBTUSD (errors arrive with HTTP 200
//     in the "error" array; bitcoin is XBT; answers are keyed XXBTZUSD)
//   - Bitstamp: GET /api/v2/ticker/btcusd/
//   - CoinGecko: GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd
//     (prices are JSON numbers, parsed exactly from the literal)
//
// and Fixed, configured rates for tests and pegged assets. Each HTTP client
// takes an injected *http.Client, a base URL (so tests point it at
// httptest), a per-request timeout and a clock. Prices are decimals from end
// to end and never pass through float64. A source never returns a zero or
// negative rate: such answers, like malformed bodies, empty bodies and HTML
// error pages, fail with ErrBadResponse. HTTP 429 fails with a
// *RateLimitError (ErrRateLimited) carrying Retry-After; an unknown market
// fails with ErrUnsupportedPair; provider messages are kept in a
// *ProviderError.
//
// # Aggregation
//
// A Service combines sources. Service.Quote takes the fresh quotes (age at
// most Config.MaxAge), drops those more than Config.OutlierBand away from
// their median, and answers the exact median of the rest, together with the
// raw quotes used and the dropped ones with their reasons, for audit. The
// median of an even count is the mean of the two middle values, computed
// with decimal Add and a division by two at one more fractional digit than
// the sum has, which is exact. With fewer than Config.MinSources fresh,
// agreeing quotes Quote fails with an *UnavailableError (ErrUnavailable)
// saying how many were fresh of how many needed: a stale price is never
// used.
//
// A stablecoin with a Peg answers the peg rate, but only while the live
// median of its sources is within the peg's MaxDeviation; off the peg, or
// with too few fresh live sources, it fails with ErrUnavailable. With no live
// source configured for the pair, the peg alone is the answer.
//
// The Service caches the latest quote of every source and pair. Quote uses a
// fresh cached quote without a network call and asks only the other sources.
// Start keeps the cache warm in one background goroutine; Stop ends it and
// waits. A source that was rate limited is not asked again until its
// Retry-After has passed.
package rates
