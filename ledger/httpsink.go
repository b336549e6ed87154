package ledger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP headers of the HTTP sink protocol.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderSignature      = "Chainpay-Signature"
	HeaderPayloadHash    = "Chainpay-Payload-Sha256"
)

// HTTPSinkConfig configures an HTTPSink.
type HTTPSinkConfig struct {
	// URL receives the records (http or https).
	URL string
	// Secret signs every request (HMAC-SHA256); at least 16 bytes.
	Secret []byte
	// Timeout bounds one POST (default 15 s).
	Timeout time.Duration
	// Client sends the requests (default: a client without its own timeout; Timeout applies).
	Client *http.Client
	// Now is the clock used for signature timestamps (default time.Now).
	Now func() time.Time
}

// HTTPSink posts records to the merchant's own ledger over HTTP: a JSON POST of the record's
// canonical encoding with headers Idempotency-Key, Chainpay-Payload-Sha256 and
// Chainpay-Signature: t=UNIX,v1=HEX (HMAC-SHA256 of "t.body" with the shared secret).
//
// Responses: 2xx is delivered. 409 is delivered when its JSON body's "payload_sha256" equals
// this payload's hash (the receiver already holds the same record) and ErrConflict
// otherwise. 400 and 422 are ErrInvalid. Anything else (5xx, 408, 429, 401, 403, 404,
// timeouts, network errors) is retryable.
type HTTPSink struct {
	cfg HTTPSinkConfig
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink validates cfg and applies its defaults.
func NewHTTPSink(cfg HTTPSinkConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ledger http sink: URL %q must be an absolute http(s) URL", cfg.URL)
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("ledger http sink: the signing secret must be at least 16 bytes")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &HTTPSink{cfg: cfg}, nil
}

// Post sends rec once. See HTTPSink for how responses map to results and errors.
func (s *HTTPSink) Post(ctx context.Context, rec Record) (Result, error) {
	body, err := rec.Encode()
	if err != nil {
		return Result{}, err
	}
	hash := PayloadHash(body)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("ledger http sink: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chainpay-ledger/1")
	req.Header.Set(HeaderIdempotencyKey, rec.IdempotencyKey)
	req.Header.Set(HeaderPayloadHash, hash)
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, s.cfg.Now(), body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("ledger http sink: post %s: %w", rec.IdempotencyKey, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := Result{IdempotencyKey: rec.IdempotencyKey, PayloadHash: hash}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return res, nil
	case c == http.StatusConflict:
		var got struct {
			PayloadSHA256 string `json:"payload_sha256"`
		}
		if json.Unmarshal(respBody, &got) == nil && strings.EqualFold(got.PayloadSHA256, hash) {
			res.Replayed = true
			return res, nil
		}
		return Result{}, fmt.Errorf("ledger http sink: %s: %w (HTTP 409: %s)", rec.IdempotencyKey, ErrConflict, snippet(respBody))
	case c == http.StatusBadRequest || c == http.StatusUnprocessableEntity:
		return Result{}, fmt.Errorf("ledger http sink: %s: %w (HTTP %d: %s)", rec.IdempotencyKey, ErrInvalid, c, snippet(respBody))
	default:
		return Result{}, fmt.Errorf("ledger http sink: %s: HTTP %d: %s", rec.IdempotencyKey, c, snippet(respBody))
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// Sign returns the Chainpay-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature verification errors.
var (
	// ErrSignature means the signature header is malformed or no v1 signature matches.
	ErrSignature = errors.New("ledger: bad signature")
	// ErrSignatureExpired means the signature's timestamp is outside the tolerance.
	ErrSignatureExpired = errors.New("ledger: signature timestamp outside tolerance")
)

// VerifySignature checks a Chainpay-Signature header against body, as a receiving ledger
// should: some v1 value must equal the HMAC of "t.body" (compared in constant time; several
// v1 values are allowed while a secret is rotated), and t must be within tolerance of now
// (replay protection; tolerance ≤ 0 means 5 minutes).
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	if len(header) > 4096 {
		return fmt.Errorf("%w: header too long", ErrSignature)
	}
	var (
		ts   string
		sigs [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrSignature, truncate(part))
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two timestamps", ErrSignature)
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%w: v1 must be 64 hex digits", ErrSignature)
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts == "" || ts[0] == '+' || ts[0] == '-' {
		return fmt.Errorf("%w: missing or malformed t", ErrSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrSignature)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %d, now %d", ErrSignatureExpired, sec, now.Unix())
	}
	return nil
}
