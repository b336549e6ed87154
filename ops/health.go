package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
)

// Health answers liveness and readiness probes. It is safe for concurrent use.
type Health struct {
	cfg     Config
	started time.Time

	mu    sync.Mutex
	tipOK map[string]time.Time // chain -> last successful tip read
}

// NewHealth returns the probes of a process configured by cfg.
func NewHealth(cfg *Config) (*Health, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Health{cfg: c, started: c.Now(), tipOK: map[string]time.Time{}}, nil
}

// Check is the result of one readiness check.
type Check struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Warning marks a check that passes but needs an operator (a sweeper low on gas).
	Warning bool `json:"warning,omitempty"`
}

// Report is the body of /readyz.
type Report struct {
	Status string           `json:"status"` // "ready" or "not_ready"
	Checks map[string]Check `json:"checks"`
}

// Live serves /healthz: 200 while the process can answer HTTP at all. It checks nothing
// else, so an orchestrator restarts the process only when it is wedged.
func (h *Health) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeReport(w, http.StatusOK, map[string]string{"status": "alive"})
	})
}

// Ready serves /readyz: 200 with status "ready" when every check passes, 503 with
// "not_ready" otherwise; the body names every check. ?exclude=NAME (repeatable) leaves a
// check out.
func (h *Health) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := h.Check(r.Context(), r.URL.Query()["exclude"]...)
		status := http.StatusOK
		if rep.Status != "ready" {
			status = http.StatusServiceUnavailable
		}
		writeReport(w, status, rep)
	})
}

func writeReport(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Check runs the readiness checks not named in exclude, concurrently, each bounded by
// Config.Timeout. Checks: "database" (it answers), "migrations" (the schema is the one this
// build needs), "chain:<name>" for each chain, "rates" when pairs are configured.
func (h *Health) Check(ctx context.Context, exclude ...string) Report {
	type named struct {
		name string
		fn   func(context.Context) Check
	}
	all := []named{{"database", h.database}, {"migrations", h.migrations}}
	for _, ch := range h.cfg.Chains {
		all = append(all, named{"chain:" + ch.Name, func(ctx context.Context) Check { return h.chain(ctx, ch) }})
	}
	if len(h.cfg.Pairs) > 0 {
		all = append(all, named{"rates", h.rates})
	}
	for _, sw := range h.cfg.Sweepers {
		all = append(all, named{"sweeper:" + sw.Chain, func(ctx context.Context) Check { return h.sweeper(ctx, sw) }})
	}
	rep := Report{Status: "ready", Checks: map[string]Check{}}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, c := range all {
		if slices.Contains(exclude, c.name) {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
			defer cancel()
			res := c.fn(cctx)
			mu.Lock()
			defer mu.Unlock()
			rep.Checks[c.name] = res
			if !res.OK {
				rep.Status = "not_ready"
			}
		})
	}
	wg.Wait()
	return rep
}

func (h *Health) database(ctx context.Context) Check {
	if err := h.cfg.Store.Ping(ctx); err != nil {
		return Check{Detail: "database unreachable: " + err.Error()}
	}
	return Check{OK: true, Detail: "reachable"}
}

func (h *Health) migrations(ctx context.Context) Check {
	applied, latest, err := h.cfg.Store.MigrationStatus(ctx)
	switch {
	case err != nil:
		return Check{Detail: err.Error()}
	case applied < latest:
		return Check{Detail: fmt.Sprintf("schema version %d, this build needs %d: run `chainpay migrate`", applied, latest)}
	case applied > latest:
		return Check{Detail: fmt.Sprintf("schema version %d is newer than this build's %d: a newer chainpay migrated this database", applied, latest)}
	}
	return Check{OK: true, Detail: fmt.Sprintf("schema version %d", applied)}
}

// chain checks that the follower is not failing for longer than MaxFailing, that the node
// answers (again within MaxFailing), and that the shared cursor is within MaxLag blocks of
// the node's tip.
func (h *Health) chain(ctx context.Context, ch Chain) Check {
	now := h.cfg.Now()
	var notes []string
	if ch.Follower != nil {
		st := ch.Follower.Status()
		since := st.LastOK
		if since.IsZero() {
			since = h.started
		}
		switch {
		case st.Failures > 0 && now.Sub(since) > ch.MaxFailing:
			return Check{Detail: fmt.Sprintf("follower failing for %s (%d attempts): %s", now.Sub(since).Round(time.Second), st.Failures, st.LastError)}
		case st.Failures > 0:
			notes = append(notes, fmt.Sprintf("follower retrying (%d failures): %s", st.Failures, st.LastError))
		case st.Standby:
			notes = append(notes, "standby: another replica follows")
		default:
			notes = append(notes, "following")
		}
	}
	if ch.Tip == nil {
		return Check{OK: true, Detail: strings.Join(notes, "; ")}
	}
	tip, err := ch.Tip(ctx)
	h.mu.Lock()
	if err == nil {
		h.tipOK[ch.Name] = now
	}
	lastOK, seen := h.tipOK[ch.Name]
	h.mu.Unlock()
	if err != nil {
		if !seen {
			lastOK = h.started
		}
		if now.Sub(lastOK) > ch.MaxFailing {
			return Check{Detail: fmt.Sprintf("node unreachable for %s: %v", now.Sub(lastOK).Round(time.Second), err)}
		}
		notes = append(notes, "node not answering: "+err.Error())
		return Check{OK: true, Detail: strings.Join(notes, "; ")}
	}
	var cur store.Cursor
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		cs, err := tx.Cursors(ctx)
		for _, c := range cs {
			if c.Chain == ch.Name {
				cur = c
			}
		}
		return err
	})
	if err != nil {
		return Check{Detail: "read the chain cursor: " + err.Error()}
	}
	if cur.Chain == "" {
		notes = append(notes, fmt.Sprintf("node at %d, no block processed yet", tip))
		return Check{OK: true, Detail: strings.Join(notes, "; ")}
	}
	lag := max(tip-cur.Height, 0)
	if lag > ch.MaxLag {
		return Check{Detail: fmt.Sprintf("%d blocks behind the node (cursor %d, tip %d, bound %d)", lag, cur.Height, tip, ch.MaxLag)}
	}
	notes = append(notes, fmt.Sprintf("cursor %d, tip %d", cur.Height, tip))
	return Check{OK: true, Detail: strings.Join(notes, "; ")}
}

// rates checks that every quoted pair has a fresh rate.
func (h *Health) rates(ctx context.Context) Check {
	now := h.cfg.Now()
	var bad, good []string
	for _, p := range h.cfg.Pairs {
		agg, err := h.cfg.Rates.Quote(ctx, p)
		switch {
		case errors.Is(err, rates.ErrUnsupportedPair):
			continue
		case err != nil:
			bad = append(bad, err.Error())
		default:
			var oldest time.Duration
			for _, q := range agg.Used {
				oldest = max(oldest, now.Sub(q.At))
			}
			good = append(good, fmt.Sprintf("%s %s (%d sources, %s old)", p, agg.Method, len(agg.Used), oldest.Round(time.Second)))
		}
	}
	if len(bad) > 0 {
		return Check{Detail: strings.Join(bad, "; ")}
	}
	if len(good) == 0 {
		return Check{Detail: "no configured pair is quoted by any source"}
	}
	return Check{OK: true, Detail: strings.Join(good, "; ")}
}
