package ops

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Instrument wraps h (the process's outermost handler) and records every request in
// chainpay_http_request_duration_seconds{route,method,code}.
//
// route is the pattern of the innermost http.ServeMux that routed the request: every
// ServeMux stores its matched pattern in the same *http.Request (Request.Pattern, Go 1.23+),
// so after h returns it holds the pattern of the mux that chose the handler, e.g.
// "GET /v1/invoices/{id}" rather than the path with its id. Requests no pattern matched
// are recorded as route "unmatched", methods outside the standard set as "OTHER", so
// clients cannot create label values.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			m.httpDur.WithLabelValues(route, method(r.Method), code(sw.status)).Observe(time.Since(start).Seconds())
		}()
		h.ServeHTTP(sw, r)
	})
}

func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

func code(status int) string {
	switch {
	case status == 0:
		return "200" // nothing written: net/http answers 200
	case status < 100 || status > 599:
		return "other"
	}
	return strconv.Itoa(status)
}

// statusWriter records the status code. It unwraps to the original writer, so
// http.ResponseController (flushes of event streams, deadlines) keeps working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap is used by http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher for handlers that assert it directly.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker when the underlying writer does.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("ops: the response writer cannot be hijacked")
	}
	w.status = http.StatusSwitchingProtocols
	return hj.Hijack()
}
