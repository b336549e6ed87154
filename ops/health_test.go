package ops_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// ready runs GET /readyz (with query) and returns the status code and the report.
func ready(t *testing.T, h *ops.Health, query string) (int, ops.Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.Ready().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz"+query, nil))
	var rep ops.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("readyz body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	return rec.Code, rep
}

func TestReadyWhenEverythingIsFine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.tx(t, func(x store.Tx) error {
		return x.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 100, Hash: "h", ParentHash: "p", UpdatedAt: t0})
	})
	b.btcTip.set(102, nil)
	b.btc.set(watcher.Status{LastOK: t0})
	h, err := ops.NewHealth(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	code, rep := ready(t, h, "")
	if code != http.StatusOK || rep.Status != "ready" {
		t.Fatalf("readyz %d %+v", code, rep)
	}
	for _, name := range []string{"database", "migrations", "chain:bitcoin", "rates"} {
		if c, ok := rep.Checks[name]; !ok || !c.OK {
			t.Fatalf("check %s: %+v (present %v)", name, c, ok)
		}
	}
	if d := rep.Checks["chain:bitcoin"].Detail; !strings.Contains(d, "cursor 100, tip 102") {
		t.Fatalf("chain detail %q", d)
	}
	rec := httptest.NewRecorder()
	h.Live().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"alive"`) {
		t.Fatalf("healthz %d %s", rec.Code, rec.Body)
	}
}

func TestNotReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		arrange func(*bundle)
		check   string
		detail  string
	}{
		{"chain lags beyond its bound", func(b *bundle) {
			b.btcTip.set(103, nil) // cursor 100, bound 2
		}, "chain:bitcoin", "3 blocks behind the node (cursor 100, tip 103, bound 2)"},
		{"follower failing too long", func(b *bundle) {
			b.btc.set(watcher.Status{LastOK: t0.Add(-2 * time.Minute), Failures: 7, LastError: "tip: connection refused"})
		}, "chain:bitcoin", "follower failing for 2m0s (7 attempts): tip: connection refused"},
		{"node unreachable too long", func(b *bundle) {
			b.btcTip.set(0, errors.New("connection refused"))
			b.clk.Add(61 * time.Second) // MaxFailing is 1 minute from the start
			b.quoteClk.Add(61 * time.Second)
		}, "chain:bitcoin", "node unreachable for 1m1s: connection refused"},
		{"rates stale", func(b *bundle) {
			b.quoteClk.Add(-2 * time.Minute)
		}, "rates", "BTC/USD unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.tx(t, func(x store.Tx) error {
				return x.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 100, Hash: "h", ParentHash: "p", UpdatedAt: t0})
			})
			b.btcTip.set(100, nil)
			b.btc.set(watcher.Status{LastOK: t0})
			h, err := ops.NewHealth(b.cfg)
			if err != nil {
				t.Fatal(err)
			}
			tc.arrange(b)
			code, rep := ready(t, h, "")
			if code != http.StatusServiceUnavailable || rep.Status != "not_ready" {
				t.Fatalf("readyz %d %+v", code, rep)
			}
			c := rep.Checks[tc.check]
			if c.OK || !strings.Contains(c.Detail, tc.detail) {
				t.Fatalf("check %s = %+v, want a failure containing %q", tc.check, c, tc.detail)
			}
			for name, other := range rep.Checks {
				if name != tc.check && !other.OK {
					t.Fatalf("check %s failed too: %+v", name, other)
				}
			}
			// Excluding the failing check makes the replica ready again.
			code, rep = ready(t, h, "?exclude="+tc.check)
			if _, present := rep.Checks[tc.check]; code != http.StatusOK || present {
				t.Fatalf("readyz?exclude=%s: %d %+v", tc.check, code, rep)
			}
		})
	}
}

func TestReadyWithinGrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.btcTip.set(0, errors.New("connection refused"))
	b.btc.set(watcher.Status{Failures: 2, LastError: "tip: connection refused", LastOK: t0.Add(-30 * time.Second)})
	h, err := ops.NewHealth(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	code, rep := ready(t, h, "")
	if code != http.StatusOK {
		t.Fatalf("a short node outage made the replica not ready: %+v", rep)
	}
	if d := rep.Checks["chain:bitcoin"].Detail; !strings.Contains(d, "follower retrying (2 failures)") || !strings.Contains(d, "node not answering") {
		t.Fatalf("detail %q", d)
	}
	// The node answered once, then fails again: the grace counts from the last answer.
	b.btcTip.set(10, nil)
	if code, rep := ready(t, h, ""); code != http.StatusOK {
		t.Fatalf("node back: %+v", rep)
	}
	b.btcTip.set(0, errors.New("timeout"))
	b.clk.Add(50 * time.Second)
	b.quoteClk.Add(50 * time.Second)
	b.btc.set(watcher.Status{Standby: true})
	if code, rep := ready(t, h, ""); code != http.StatusOK {
		t.Fatalf("50 s after the last answer: %+v", rep)
	}
	b.clk.Add(11 * time.Second)
	b.quoteClk.Add(11 * time.Second)
	if code, rep := ready(t, h, ""); code != http.StatusServiceUnavailable || rep.Checks["chain:bitcoin"].OK || !rep.Checks["rates"].OK {
		t.Fatalf("61 s after the last answer: %d %+v", code, rep)
	}
}

func TestNotReadyWithoutSchema(t *testing.T) {
	t.Parallel()
	st := storetest.SQLiteUnmigrated(t)
	h, err := ops.NewHealth(&ops.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	code, rep := ready(t, h, "")
	if code != http.StatusServiceUnavailable || rep.Checks["migrations"].OK || !rep.Checks["database"].OK {
		t.Fatalf("unmigrated database: %d %+v", code, rep)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, rep := ready(t, h, ""); rep.Checks["database"].OK {
		t.Fatalf("closed database reported reachable: %+v", rep)
	}
}
