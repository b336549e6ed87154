package checkout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// streamLimiter counts the open event streams of this process per invoice and per client
// address.
type streamLimiter struct {
	mu                    sync.Mutex
	perKey                map[string]int // "i:"+invoice id, "c:"+client address
	maxInvoice, maxClient int
}

// acquire takes a stream slot for the invoice and the client, or reports false when either
// is at its limit. release gives the slot back; call it exactly once.
func (l *streamLimiter) acquire(invoiceID, client string) (release func(), ok bool) {
	ik, ck := "i:"+invoiceID, "c:"+client
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perKey[ik] >= l.maxInvoice || l.perKey[ck] >= l.maxClient {
		return nil, false
	}
	l.perKey[ik]++
	l.perKey[ck]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, k := range []string{ik, ck} {
			if l.perKey[k]--; l.perKey[k] <= 0 {
				delete(l.perKey, k)
			}
		}
	}, true
}

// serveEvents streams the invoice's Status as Server-Sent Events: one event at once, then
// one whenever the status changes. The invoice is re-read from the database every
// PollInterval (so a payment seen by the follower on another replica shows up here), a
// comment line goes out every Heartbeat, and the stream ends when the client goes away or
// after MaxStream (the browser then reconnects).
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	lang := h.language(r)
	s, err := h.load(ctx, id)
	switch {
	case errors.Is(err, errNotFound):
		writeJSONError(w, http.StatusNotFound, "invoice not found")
		return
	case err != nil && ctx.Err() != nil:
		return // the client went away
	case err != nil:
		h.cfg.Logger.Error("checkout: events", "invoice", id, "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	release, ok := h.streams.acquire(id, client)
	if !ok {
		w.Header().Set("Retry-After", "10")
		writeJSONError(w, http.StatusTooManyRequests, "too many live status connections for this invoice or from this address; poll the status instead")
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	// A server WriteTimeout would cut the stream; this stream bounds itself with MaxStream.
	_ = rc.SetWriteDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	st := h.status(s, lang, h.cfg.Now())
	last := fingerprint(st)
	if err := writeEvent(w, st, h.cfg.PollInterval); err != nil || rc.Flush() != nil {
		return
	}
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	end := time.NewTimer(h.cfg.MaxStream)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case <-beat.C:
			if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-poll.C:
			s, err := h.load(ctx, id)
			if errors.Is(err, errNotFound) {
				return
			}
			if err != nil {
				if ctx.Err() == nil {
					h.cfg.Logger.Warn("checkout: events: read invoice, will retry", "invoice", id, "err", err)
				}
				continue
			}
			st := h.status(s, lang, h.cfg.Now())
			if fp := fingerprint(st); !bytes.Equal(fp, last) {
				last = fp
				if err := writeEvent(w, st, h.cfg.PollInterval); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}
}

// fingerprint is the status without the server time, which changes on every poll.
func fingerprint(st Status) []byte {
	st.ServerTime = time.Time{}
	b, _ := json.Marshal(st)
	return b
}

// writeEvent writes one SSE message with the status as its data and a reconnection delay.
func writeEvent(w io.Writer, st Status, retry time.Duration) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	_, err = fmt.Fprintf(w, "retry: %d\ndata: %s\n\n", max(retry.Milliseconds(), 1000), b)
	return err
}
