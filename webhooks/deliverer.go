package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chainpay/chainpay/store"
)

// RetryPolicy is the retry schedule of failed attempts: exponential backoff from Base,
// doubling per failure up to Max, minus up to Jitter of itself at random, for Window after
// the delivery was created; an attempt that would come later fails the delivery.
type RetryPolicy struct {
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
	Jitter float64 // 0..1
}

// DefaultRetryPolicy is 30 s doubling to 6 h, 20% jitter, for 3 days: about 20 attempts.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Base: 30 * time.Second, Max: 6 * time.Hour, Window: 72 * time.Hour, Jitter: 0.2}
}

func (p RetryPolicy) validate() error {
	if p.Base <= 0 || p.Max < p.Base || p.Window <= 0 || p.Jitter < 0 || p.Jitter > 1 {
		return fmt.Errorf("webhooks: bad retry policy %+v (want 0 < Base <= Max, Window > 0, 0 <= Jitter <= 1)", p)
	}
	return nil
}

// Delay is the wait after the given number of failed attempts (1 for the first); r in [0, 1)
// picks the jitter.
func (p RetryPolicy) Delay(failures int, r float64) time.Duration {
	d := p.Base
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d - time.Duration(float64(d)*p.Jitter*r)
}

// DelivererConfig configures a Deliverer; zero fields take the defaults shown.
type DelivererConfig struct {
	Now    func() time.Time // time.Now; schedules, leases and logged times use it
	Logger *slog.Logger     // discard
	// Client sends the requests; default NewHTTPClient(Guard, RequestTimeout). A custom
	// client must bring its own SSRF protection (see Guard.Control).
	Client         *http.Client
	Guard          Guard         // for the default client
	RequestTimeout time.Duration // 10 s per request
	PollInterval   time.Duration // 1 s between looks for due deliveries
	// MaxEndpoints is how many endpoints are served at once, one worker each; an endpoint's
	// deliveries go one at a time, so a slow endpoint only ever holds its own worker.
	MaxEndpoints int            // 32
	Retry        RetryPolicy    // DefaultRetryPolicy()
	Rand         func() float64 // math/rand/v2 Float64; jitter
	Holder       string         // lease holder name; random by default
	// Lease is how long a claimed delivery stays claimed without renewal: 10 s. While its
	// attempt is in flight the worker renews it every Lease/3, so a process that dies
	// mid-attempt leaves the delivery to another worker one lease later.
	Lease     time.Duration
	UserAgent string // "chainpay-webhooks/1"
	// Formats renders the requests of endpoints whose Format is not chainpay's own, by
	// format name. A delivery to an endpoint of a format without a Formatter fails.
	Formats map[string]Formatter
}

// Formatter renders the request of one delivery to an endpoint of its format: the body and
// the headers that sign it. It must be deterministic (every attempt of a delivery sends the
// same bytes, redeliveries aside) and must not do I/O: it gets the delivery with its frozen
// chainpay Payload and the endpoint with its secret.
type Formatter interface {
	Format(ep store.WebhookEndpoint, del store.WebhookDelivery) (body []byte, header http.Header, err error)
}

// Deliverer sends due deliveries to their endpoints, signs them, logs every attempt and
// schedules retries. Several Deliverers (replicas) may share a store: deliveries are leased.
type Deliverer struct {
	st  store.Store
	cfg DelivererConfig

	mu      sync.Mutex
	cancel  context.CancelFunc
	loop    chan struct{}
	workers sync.WaitGroup
	running map[string]bool // endpoint ids with a worker
}

// NewDeliverer returns a Deliverer over st.
func NewDeliverer(st store.Store, cfg *DelivererConfig) (*Deliverer, error) {
	if st == nil {
		return nil, errors.New("webhooks: nil store")
	}
	c := DelivererConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.MaxEndpoints == 0 {
		c.MaxEndpoints = 32
	}
	if c.Lease == 0 {
		c.Lease = 10 * time.Second
	}
	if c.RequestTimeout < 0 || c.PollInterval < 0 || c.MaxEndpoints < 0 || c.Lease < 0 {
		return nil, fmt.Errorf("webhooks: negative deliverer setting (timeout %v, poll %v, endpoints %d, lease %v)",
			c.RequestTimeout, c.PollInterval, c.MaxEndpoints, c.Lease)
	}
	if c.Retry == (RetryPolicy{}) {
		c.Retry = DefaultRetryPolicy()
	}
	if err := c.Retry.validate(); err != nil {
		return nil, err
	}
	if c.Rand == nil {
		c.Rand = mrand.Float64
	}
	if c.Client == nil {
		c.Client = NewHTTPClient(c.Guard, c.RequestTimeout)
	}
	if c.Holder == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.Holder = "deliverer-" + hex.EncodeToString(b[:])
	}
	if c.UserAgent == "" {
		c.UserAgent = "chainpay-webhooks/1"
	}
	return &Deliverer{st: st, cfg: c, running: map[string]bool{}}, nil
}

func (d *Deliverer) now() time.Time { return d.cfg.Now().UTC().Truncate(time.Microsecond) }

// Start begins polling for due deliveries until ctx ends or Stop is called. Calling it again
// while it runs does nothing.
func (d *Deliverer) Start(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.loop = make(chan struct{})
	go func() {
		defer close(d.loop)
		t := time.NewTicker(d.cfg.PollInterval)
		defer t.Stop()
		for {
			d.schedule(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop cancels polling and the requests in flight (their deliveries are released, not
// counted as attempts) and waits for every goroutine. It is idempotent.
func (d *Deliverer) Stop() {
	d.mu.Lock()
	cancel, loop := d.cancel, d.loop
	d.cancel, d.loop = nil, nil
	d.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-loop
	d.workers.Wait()
	d.cfg.Client.CloseIdleConnections()
}

// Idle reports whether no worker is serving an endpoint: nothing is in flight. A delivery
// claimed by a worker is not due (it is leased), so whoever drives the deliverer and waits
// for it to finish (the simulator) needs this beside "nothing is due".
func (d *Deliverer) Idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.running) == 0
}

// schedule starts a worker for each endpoint with due deliveries that has none.
func (d *Deliverer) schedule(ctx context.Context) {
	d.mu.Lock()
	busy := len(d.running)
	d.mu.Unlock()
	if busy >= d.cfg.MaxEndpoints {
		return
	}
	var ids []string
	dbctx := context.WithoutCancel(ctx) // see serve
	err := d.st.View(dbctx, func(tx store.Tx) (err error) {
		ids, err = tx.DueWebhookEndpoints(dbctx, d.now(), d.cfg.MaxEndpoints+busy)
		return
	})
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("webhooks: list due endpoints", "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if d.running[id] || len(d.running) >= d.cfg.MaxEndpoints || ctx.Err() != nil {
			continue
		}
		d.running[id] = true
		d.workers.Add(1)
		go func() {
			defer d.workers.Done()
			defer func() {
				d.mu.Lock()
				delete(d.running, id)
				d.mu.Unlock()
			}()
			d.serve(ctx, id)
		}()
	}
}

// serve sends the endpoint's due deliveries one at a time until none is due. Store
// transactions are short and run to completion even when Stop cancels ctx (Stop waits for
// them); only the HTTP request is cut short. A transaction abandoned at its commit can leave
// a pooled SQLite connection inside it.
func (d *Deliverer) serve(ctx context.Context, endpointID string) {
	dbctx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		now := d.now()
		var del store.WebhookDelivery
		err := d.st.Tx(dbctx, func(tx store.Tx) (err error) {
			del, err = tx.ClaimWebhookDelivery(dbctx, endpointID, d.cfg.Holder, now, now.Add(d.cfg.Lease))
			return
		})
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Error("webhooks: claim delivery", "endpoint", endpointID, "err", err)
			}
			return
		}
		stop := d.renew(ctx, del.ID)
		more := d.attempt(ctx, del)
		stop()
		if !more {
			return
		}
	}
}

// renew keeps the worker's lease on a delivery in flight: every Lease/3 it moves the lease
// end to Lease from now, until stop is called or the lease was lost (redelivered by hand).
func (d *Deliverer) renew(ctx context.Context, id string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(d.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var held bool
			err := d.st.Tx(ctx, func(tx store.Tx) (err error) {
				held, err = tx.ExtendWebhookLease(ctx, id, d.cfg.Holder, d.now().Add(d.cfg.Lease))
				return
			})
			switch {
			case err != nil && ctx.Err() == nil:
				d.cfg.Logger.Warn("webhooks: renew delivery lease", "delivery", id, "err", err)
			case err == nil && !held:
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// outcome of one request.
type outcome struct {
	status     int
	snippet    string
	err        string
	retry      bool
	retryAfter time.Duration
}

// attempt sends one claimed delivery and records the result. It reports whether the worker
// should go on with the endpoint's next delivery.
func (d *Deliverer) attempt(ctx context.Context, del store.WebhookDelivery) bool {
	var ep store.WebhookEndpoint
	dbctx := context.WithoutCancel(ctx) // see serve
	err := d.st.View(dbctx, func(tx store.Tx) (err error) { ep, err = tx.WebhookEndpoint(dbctx, "", del.EndpointID); return })
	if err != nil || !ep.Enabled {
		// Deleted (the delivery went with it) or disabled (it waits), or the store failed.
		d.release(del)
		return false
	}
	started := d.now()
	t0 := time.Now()
	out := d.send(ctx, ep, del, started)
	elapsed := time.Since(t0)
	if ctx.Err() != nil {
		d.release(del) // shutting down: the request was cut short by us, not by the endpoint
		return false
	}
	finished := d.now()
	number := del.Attempts + 1
	upd := del
	upd.Attempts, upd.LastStatus, upd.LastError, upd.UpdatedAt, upd.Manual = number, out.status, out.err, finished, false
	a := store.WebhookAttempt{ID: store.NewID("wa", started), DeliveryID: del.ID, Number: number, Manual: del.Manual,
		StartedAt: started, Duration: elapsed.Round(time.Microsecond), StatusCode: out.status, Response: out.snippet,
		Error: out.err}
	switch {
	case out.err == "":
		upd.Status, upd.DeliveredAt = store.WebhookDelivered, &finished
	case out.retry:
		wait := max(d.cfg.Retry.Delay(number, d.cfg.Rand()), min(out.retryAfter, d.cfg.Retry.Max))
		next := finished.Add(wait)
		if next.After(del.RetryUntil) {
			upd.Status = store.WebhookFailed
			upd.LastError = out.err + "; retry window ended"
			a.Error = upd.LastError
		} else {
			upd.Status, upd.NextAttempt, a.NextAttempt = store.WebhookPending, next, &next
		}
	default:
		upd.Status = store.WebhookFailed
	}
	var held bool
	// The attempt happened: record it even if Stop comes now.
	err = d.st.Tx(dbctx, func(tx store.Tx) (err error) {
		held, err = tx.FinishWebhookDelivery(dbctx, upd, d.cfg.Holder, a)
		return
	})
	switch {
	case err != nil:
		d.cfg.Logger.Error("webhooks: record attempt", "delivery", del.ID, "err", err)
		return false
	case !held:
		d.cfg.Logger.Warn("webhooks: delivery lease lost during the attempt; its result was logged only",
			"delivery", del.ID)
	}
	return true
}

func (d *Deliverer) release(del store.WebhookDelivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.st.Tx(ctx, func(tx store.Tx) error { return tx.ReleaseWebhookDelivery(ctx, del.ID, d.cfg.Holder) }); err != nil {
		d.cfg.Logger.Warn("webhooks: release delivery (its lease will expire)", "delivery", del.ID, "err", err)
	}
}

// maxSnippet bounds the response body kept in the attempt log.
const maxSnippet = 1024

func (d *Deliverer) send(ctx context.Context, ep store.WebhookEndpoint, del store.WebhookDelivery, at time.Time) outcome {
	body := []byte(del.Payload)
	sig := http.Header{}
	if ep.Format == "" {
		var extra []string
		if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && at.Before(*ep.PreviousSecretUntil) {
			extra = append(extra, ep.PreviousSecret)
		}
		sig.Set(SignatureHeader, Sign(ep.Secret, at, body, extra...))
	} else {
		f, ok := d.cfg.Formats[ep.Format]
		if !ok {
			return outcome{err: fmt.Sprintf("no formatter for the endpoint's format %q", ep.Format)}
		}
		var err error
		if body, sig, err = f.Format(ep, del); err != nil {
			return outcome{err: "render the request: " + cleanText(err.Error(), 500)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "bad endpoint URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	for k, v := range sig {
		req.Header[k] = v
	}
	req.Header.Set("Chainpay-Event-Id", del.EventID)
	req.Header.Set("Chainpay-Event-Type", del.EventType)
	req.Header.Set("Chainpay-Delivery-Id", del.ID)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return outcome{err: cleanText(err.Error(), 500), retry: true}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxSnippet))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	out := outcome{status: resp.StatusCode, snippet: cleanText(string(snippet), maxSnippet)}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		out.err, out.retry = fmt.Sprintf("HTTP %d", c), true
		out.retryAfter = retryAfter(resp.Header.Get("Retry-After"), at)
	default:
		out.err = fmt.Sprintf("HTTP %d: not retried (only 408, 429 and 5xx are; redeliver after fixing the endpoint)", c)
	}
	return out
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when absent or bad.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 30*24*3600 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// cleanText makes text safe to store: valid UTF-8 without NULs, at most n bytes.
func cleanText(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
