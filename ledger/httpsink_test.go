package ledger

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("whsec_0123456789abcdef")

// receiver is a merchant's ledger behind HTTP, as docs/ledger.md tells merchants to build
// one: it verifies the signature, posts the record into a Journal (its own books), answers
// 201 for a new record and 409 with the stored payload's hash for a known key. Fault hooks
// make it fail before committing or hang after committing. It logs every body per key.
type receiver struct {
	t       testing.TB
	j       Ledger
	now     func() time.Time
	mu      sync.Mutex
	seen    map[string][][]byte // every body received, per key
	posts   int
	failing func(n int, key string) int  // status to answer before committing, 0 to proceed
	hang    func(n int, key string) bool // commit, then hang until the client gives up
}

func newReceiver(t testing.TB, j Ledger, now func() time.Time) *receiver {
	return &receiver{t: t, j: j, now: now, seen: map[string][][]byte{}}
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := VerifySignature(testSecret, r.Header.Get(HeaderSignature), body, rv.now(), time.Minute); err != nil {
		rv.t.Errorf("receiver: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if got := PayloadHash(body); got != r.Header.Get(HeaderPayloadHash) {
		rv.t.Errorf("receiver: payload hash header %s, body hash %s", r.Header.Get(HeaderPayloadHash), got)
	}
	rv.mu.Lock()
	n := rv.posts
	rv.posts++
	rv.seen[key] = append(rv.seen[key], body)
	failing, hang := rv.failing, rv.hang
	rv.mu.Unlock()
	if failing != nil {
		if code := failing(n, key); code != 0 {
			if code == -1 { // drop the connection
				c, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					c.Close()
				}
				return
			}
			http.Error(w, "ledger unavailable", code)
			return
		}
	}
	rec, err := ParseRecord(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	if rec.IdempotencyKey != key {
		http.Error(w, "Idempotency-Key differs from the record", http.StatusBadRequest)
		return
	}
	res, err := rv.j.Post(r.Context(), rec)
	switch {
	case errors.Is(err, ErrConflict):
		stored, gerr := rv.j.Get(r.Context(), key)
		if gerr != nil {
			http.Error(w, gerr.Error(), http.StatusInternalServerError)
			return
		}
		h, _ := stored.Hash()
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, `{"error":"idempotency key reused","payload_sha256":%q}`, h)
		return
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if hang != nil && hang(n, key) {
		<-r.Context().Done() // committed; the client times out
		return
	}
	if res.Replayed {
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, `{"error":"already exists","payload_sha256":%q}`, res.PayloadHash)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// bodies returns a copy of the bodies received per key.
func (rv *receiver) bodies() map[string][][]byte {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := map[string][][]byte{}
	for k, v := range rv.seen {
		out[k] = append([][]byte(nil), v...)
	}
	return out
}

func TestSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a":"1"}`)
	at := time.Unix(1764072000, 0)
	h := Sign(testSecret, at, body)
	if !strings.HasPrefix(h, "t=1764072000,v1=") || len(h) != len("t=1764072000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	must(t, VerifySignature(testSecret, h, body, at.Add(time.Minute), 5*time.Minute))
	// Rotation: an extra v1 value does not hurt.
	must(t, VerifySignature(testSecret, h+",v1="+strings.Repeat("0", 64), body, at, 0))
	tests := []struct {
		name, header string
		body         []byte
		secret       []byte
		now          time.Time
		want         error
	}{
		{"tampered body", h, []byte(`{"a":"2"}`), testSecret, at, ErrSignature},
		{"wrong secret", h, body, []byte("another-secret-0000"), at, ErrSignature},
		{"too old", h, body, testSecret, at.Add(6 * time.Minute), ErrSignatureExpired},
		{"from the future", h, body, testSecret, at.Add(-6 * time.Minute), ErrSignatureExpired},
		{"no t", strings.Split(h, ",")[1], body, testSecret, at, ErrSignature},
		{"no v1", "t=1764072000", body, testSecret, at, ErrSignature},
		{"short v1", "t=1764072000,v1=abcd", body, testSecret, at, ErrSignature},
		{"garbage", "hello", body, testSecret, at, ErrSignature},
		{"empty", "", body, testSecret, at, ErrSignature},
		{"signed t changed", strings.Replace(h, "t=1764072000", "t=1764072001", 1), body, testSecret, at, ErrSignature},
	}
	for _, tc := range tests {
		if err := VerifySignature(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzVerifySignature(f *testing.F) {
	body := []byte(`{"a":"1"}`)
	at := time.Unix(1764072000, 0)
	f.Add(Sign(testSecret, at, body), body)
	f.Add("t=1,v1=00,v1=zz", []byte{})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := VerifySignature(testSecret, header, body, at, time.Hour)
		if err == nil {
			// Accepted only if some v1 is the genuine MAC of "t.body" for the header's t.
			var ts string
			for _, part := range strings.Split(header, ",") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
					ts = v
				}
			}
			if want := hex.EncodeToString(mac(testSecret, ts, body)); !strings.Contains(strings.ToLower(header), want) {
				t.Fatalf("accepted a header without the genuine signature: %q", header)
			}
		} else if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrSignatureExpired) {
			t.Fatalf("unexpected error type: %v", err)
		}
	})
}

func TestHTTPSinkResponses(t *testing.T) {
	t.Parallel()
	rec := cryptoRecord()
	hash, _ := rec.Hash()
	tests := []struct {
		name     string
		status   int
		body     string
		want     error // nil: delivered
		replayed bool
		retry    bool
	}{
		{"created", 201, "", nil, false, false},
		{"ok", 200, `{}`, nil, false, false},
		{"already exists with the same payload", 409, `{"payload_sha256":"` + hash + `"}`, nil, true, false},
		{"409 with another payload", 409, `{"payload_sha256":"` + strings.Repeat("0", 64) + `"}`, ErrConflict, false, false},
		{"409 without a hash", 409, `conflict`, ErrConflict, false, false},
		{"422", 422, `{"error":"bad"}`, ErrInvalid, false, false},
		{"400", 400, ``, ErrInvalid, false, false},
		{"500", 500, ``, nil, false, true},
		{"503", 503, ``, nil, false, true},
		{"429", 429, ``, nil, false, true},
		{"401", 401, ``, nil, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *http.Request
			var gotBody []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				gotBody, _ = io.ReadAll(r.Body)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			sink, err := NewHTTPSink(HTTPSinkConfig{URL: srv.URL, Secret: testSecret, Now: func() time.Time { return t0 }})
			must(t, err)
			res, err := sink.Post(ctx, rec)
			switch {
			case tc.retry:
				if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want a retryable error", err)
				}
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			default:
				must(t, err)
				if res.Replayed != tc.replayed || res.PayloadHash != hash {
					t.Fatalf("result %+v", res)
				}
			}
			want, _ := rec.Encode()
			if !bytes.Equal(gotBody, want) || got.Header.Get(HeaderIdempotencyKey) != rec.IdempotencyKey ||
				got.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("request: %v %s", got.Header, gotBody)
			}
			must(t, VerifySignature(testSecret, got.Header.Get(HeaderSignature), gotBody, t0, time.Second))
		})
	}
}

func TestHTTPSinkTimeoutAndNetwork(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	sink, err := NewHTTPSink(HTTPSinkConfig{URL: srv.URL, Secret: testSecret, Timeout: 50 * time.Millisecond})
	must(t, err)
	_, err = sink.Post(ctx, cryptoRecord())
	if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) {
		t.Fatalf("timeout: got %v, want a retryable error", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	sink, err = NewHTTPSink(HTTPSinkConfig{URL: url, Secret: testSecret})
	must(t, err)
	if _, err := sink.Post(ctx, cryptoRecord()); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("connection refused: got %v, want a retryable error", err)
	}
}

func TestNewHTTPSinkRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []HTTPSinkConfig{
		{URL: "ftp://x", Secret: testSecret},
		{URL: "/relative", Secret: testSecret},
		{URL: "https://ledger.example", Secret: []byte("short")},
	} {
		if _, err := NewHTTPSink(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// An invalid record is never sent.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("invalid record sent")
	}))
	defer srv.Close()
	sink, _ := NewHTTPSink(HTTPSinkConfig{URL: srv.URL, Secret: testSecret})
	bad := cryptoRecord()
	bad.Net = nil
	if _, err := sink.Post(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}
