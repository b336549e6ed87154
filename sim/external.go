package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/webhooks"
)

// checkSink is the merchant's external ledger: a ledger.Sink that dedupes on the idempotency
// key like a real one, and checks what it receives (invariant 3: in order, exactly once, a
// key never reused with another payload). It survives crashes of the process.
type checkSink struct {
	w *World
	// Down makes posts fail (retryable); Timeout makes them time out.
	Down, Timeout bool
	hashes        map[string]string // idempotency key → payload hash
	records       []ledger.Record   // in the order first received
	posts         int
}

var _ ledger.Sink = (*checkSink)(nil)

func newCheckSink(w *World) *checkSink { return &checkSink{w: w, hashes: map[string]string{}} }

// Post implements ledger.Sink.
func (s *checkSink) Post(_ context.Context, rec ledger.Record) (ledger.Result, error) {
	s.posts++
	switch {
	case s.Down:
		return ledger.Result{}, errors.New("sim sink: 503 service unavailable")
	case s.Timeout:
		return ledger.Result{}, fmt.Errorf("sim sink: %w", context.DeadlineExceeded)
	}
	h, err := rec.Hash()
	if err != nil {
		s.w.fail(invBooks, "the relay posted an invalid record %s: %v", rec.IdempotencyKey, err)
		return ledger.Result{}, fmt.Errorf("%w: %v", ledger.ErrInvalid, err)
	}
	res := ledger.Result{IdempotencyKey: rec.IdempotencyKey, PayloadHash: h}
	if old, ok := s.hashes[rec.IdempotencyKey]; ok {
		if old != h {
			s.w.fail(invBooks, "record %s posted again with another payload", rec.IdempotencyKey)
			return res, ledger.ErrConflict
		}
		res.Replayed = true
		return res, nil
	}
	if rec.Reverses != "" {
		if _, ok := s.hashes[rec.Reverses]; !ok {
			s.w.fail(invBooks, "record %s (reversing %s) reached the sink before the record it reverses",
				rec.IdempotencyKey, rec.Reverses)
		}
	}
	s.hashes[rec.IdempotencyKey] = h
	s.records = append(s.records, rec)
	where := ""
	if rec.Chain != nil {
		where = fmt.Sprintf("%s:%d", rec.Chain.TxID, rec.Chain.OutputIndex)
	}
	s.w.tracef("ledger sink: %s of %s, %s %s minor units", rec.ReportingCategory, where, rec.Gross, rec.Currency)
	return res, nil
}

// shortKey abbreviates a ledger key for the trace.
func shortKey(k string) string {
	return strings.TrimPrefix(k, ledger.SourceCryptoPayment+":")
}

// checkEndpoint is the merchants' webhook endpoints, reached through the deliverer's HTTP
// client (an http.RoundTripper: no network). It checks every request (invariant 4: a valid
// signature, the body of the event unchanged) and remembers which events each endpoint got.
// The deliverer calls it from its goroutines.
type checkEndpoint struct {
	w       *World
	mu      sync.Mutex
	secrets map[string]string // host → secret
	// Down makes requests answer 503; Timeout makes them fail as a timeout.
	Down, Timeout bool
	bodies        map[string][]byte          // event id → body first received
	got           map[string]map[string]bool // endpoint host → event ids received
	requests      int
	problem       string // the first invariant violation seen
}

var _ http.RoundTripper = (*checkEndpoint)(nil)

func newCheckEndpoint(w *World) *checkEndpoint {
	return &checkEndpoint{w: w, secrets: map[string]string{}, bodies: map[string][]byte{}, got: map[string]map[string]bool{}}
}

// RoundTrip implements http.RoundTripper: the endpoint's answer.
func (e *checkEndpoint) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if e.Timeout {
		return nil, fmt.Errorf("sim endpoint: %w", context.DeadlineExceeded)
	}
	answer := func(code int) *http.Response {
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Body: io.NopCloser(strings.NewReader("")),
			Header: http.Header{}, Request: req, ProtoMajor: 1, ProtoMinor: 1}
	}
	if e.Down {
		return answer(http.StatusServiceUnavailable), nil
	}
	host := req.URL.Host
	secret, ok := e.secrets[host]
	if !ok {
		e.report("request to an unknown endpoint %s", host)
		return answer(http.StatusNotFound), nil
	}
	if err := webhooks.Verify(secret, req.Header.Get(webhooks.SignatureHeader), body, 365*24*time.Hour, e.w.clock.Peek()); err != nil {
		e.report("endpoint %s: bad signature on event %s: %v", host, req.Header.Get("Chainpay-Event-Id"), err)
		return answer(http.StatusBadRequest), nil
	}
	var p webhooks.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		e.report("endpoint %s: body is not a webhook payload: %v", host, err)
		return answer(http.StatusBadRequest), nil
	}
	if id := req.Header.Get("Chainpay-Event-Id"); id != p.ID {
		e.report("endpoint %s: header event id %s, body event id %s", host, id, p.ID)
	}
	if first, ok := e.bodies[p.ID]; ok && !bytes.Equal(first, body) {
		e.report("event %s delivered with a changed body:\n first %s\n later %s", p.ID, first, body)
	} else if !ok {
		e.bodies[p.ID] = body
	}
	if e.got[host] == nil {
		e.got[host] = map[string]bool{}
	}
	e.got[host][p.ID] = true
	return answer(http.StatusOK), nil
}

func (e *checkEndpoint) report(format string, args ...any) {
	if e.problem == "" {
		e.problem = fmt.Sprintf(format, args...)
	}
}

// received reports whether the endpoint at host got event id.
func (e *checkEndpoint) received(host, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got[host][id]
}

// droppingSink is an injected relay bug: every third new record is acknowledged without
// reaching the sink.
type droppingSink struct {
	next *checkSink
	seen map[string]bool
	n    int
}

func (d *droppingSink) Post(ctx context.Context, rec ledger.Record) (ledger.Result, error) {
	if !d.seen[rec.IdempotencyKey] {
		d.seen[rec.IdempotencyKey] = true
		if d.n++; d.n%3 == 0 {
			return ledger.Result{IdempotencyKey: rec.IdempotencyKey}, nil
		}
	}
	return d.next.Post(ctx, rec)
}
