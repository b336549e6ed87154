package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chainpay/chainpay/rates"
)

// TestFairValueNeverCallsTheNetwork: the settler's fair value (called inside the write
// transaction that settles) answers from the rates cache only. With an empty cache it
// answers nothing and the rate source sees no request; once the cache was refreshed outside
// any transaction it answers the cached rate, still without a request.
func TestFairValueNeverCallsTheNetwork(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"amount":"64000.50","base":"BTC","currency":"USD"}}`))
	}))
	t.Cleanup(srv.Close)
	src, err := rates.NewCoinbase(rates.HTTPConfig{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rates.New([]rates.Source{src}, rates.Config{MinSources: 1, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	fair := cachedFairValue(svc)
	if r, ok := fair("BTC", "USD"); ok || hits.Load() != 0 {
		t.Fatalf("empty cache: %+v %v, %d requests (want none)", r, ok, hits.Load())
	}
	if err := svc.Refresh(context.Background(), []rates.Pair{{Base: "BTC", Quote: "USD"}}); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	r, ok := fair("BTC", "USD")
	if !ok || r.Rate != "64000.5" || hits.Load() != before {
		t.Fatalf("cached: %+v %v, %d requests after the refresh (want none)", r, ok, hits.Load()-before)
	}
	if cachedFairValue(nil) != nil {
		t.Fatal("no rates service: want no fair value function")
	}
}
