package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries a request's signature.
const SignatureHeader = "Chainpay-Signature"

// Signature verification errors; Verify wraps them with detail.
var (
	// ErrBadSignatureHeader means the header is not "t=UNIX,v1=HEX[,v1=HEX...]".
	ErrBadSignatureHeader = errors.New("webhooks: malformed signature header")
	// ErrNoSignature means the header has no v1 signature.
	ErrNoSignature = errors.New("webhooks: no v1 signature in header")
	// ErrTimestamp means the signed timestamp is outside the tolerance window (an old
	// request replayed, or clocks far apart).
	ErrTimestamp = errors.New("webhooks: timestamp outside the tolerance window")
	// ErrSignatureMismatch means no v1 signature matches the body with the secret.
	ErrSignatureMismatch = errors.New("webhooks: signature does not match")
)

// Header limits keep verification cheap on hostile input.
const (
	maxHeaderLen  = 4096
	maxSignatures = 8
)

// Sign returns the Chainpay-Signature header value for body sent at t: "t=UNIX,v1=HEX" with
// v1 = hex(HMAC-SHA256(secret, UNIX + "." + body)). Extra secrets (a rotated-out secret that
// is still honoured) add one v1 value each.
func Sign(secret string, t time.Time, body []byte, extra ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range append([]string{secret}, extra...) {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ParsedSignature is a parsed Chainpay-Signature header.
type ParsedSignature struct {
	Timestamp int64    // unix seconds
	T         string   // the t value as sent: the signed string starts with it
	V1        [][]byte // decoded v1 signatures (32 bytes each)
}

// ParseSignatureHeader parses "t=UNIX,v1=HEX[,v1=HEX...]". Elements with other keys (future
// schemes) are ignored; exactly one t is required, at most 8 v1 values are accepted.
func ParseSignatureHeader(header string) (ParsedSignature, error) {
	var p ParsedSignature
	if len(header) > maxHeaderLen {
		return p, fmt.Errorf("%w: longer than %d bytes", ErrBadSignatureHeader, maxHeaderLen)
	}
	if strings.TrimSpace(header) == "" {
		return p, fmt.Errorf("%w: empty", ErrBadSignatureHeader)
	}
	seenT := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return p, fmt.Errorf("%w: element %q is not key=value", ErrBadSignatureHeader, clip(part))
		}
		switch k {
		case "t":
			if seenT {
				return p, fmt.Errorf("%w: more than one t", ErrBadSignatureHeader)
			}
			seenT = true
			if v == "" || len(v) > 12 || strings.Trim(v, "0123456789") != "" {
				return p, fmt.Errorf("%w: t=%q is not a unix time in seconds", ErrBadSignatureHeader, clip(v))
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return p, fmt.Errorf("%w: t=%q is not a unix time in seconds", ErrBadSignatureHeader, clip(v))
			}
			p.Timestamp, p.T = n, v
		case "v1":
			if len(p.V1) == maxSignatures {
				return p, fmt.Errorf("%w: more than %d v1 signatures", ErrBadSignatureHeader, maxSignatures)
			}
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return p, fmt.Errorf("%w: v1=%q is not %d hex digits", ErrBadSignatureHeader, clip(v), 2*sha256.Size)
			}
			p.V1 = append(p.V1, sig)
		}
	}
	if !seenT {
		return p, fmt.Errorf("%w: no t= timestamp", ErrBadSignatureHeader)
	}
	if len(p.V1) == 0 {
		return p, ErrNoSignature
	}
	return p, nil
}

// Verify checks a Chainpay-Signature header against the raw request body: the timestamp must
// be within tolerance of now (either direction) and one of the v1 values must equal
// HMAC-SHA256(secret, t + "." + body). Comparisons are constant-time. Errors wrap
// ErrBadSignatureHeader, ErrNoSignature, ErrTimestamp or ErrSignatureMismatch.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if secret == "" {
		return errors.New("webhooks: empty secret")
	}
	if tolerance <= 0 {
		return fmt.Errorf("webhooks: tolerance must be positive, got %v", tolerance)
	}
	p, err := ParseSignatureHeader(header)
	if err != nil {
		return err
	}
	age := now.Unix() - p.Timestamp
	if limit := int64(tolerance / time.Second); age > limit || age < -limit {
		return fmt.Errorf("%w: signed at %d, now %d, tolerance %v", ErrTimestamp, p.Timestamp, now.Unix(), tolerance)
	}
	want := mac(secret, p.T, body)
	match := 0
	for _, sig := range p.V1 {
		match |= boolInt(hmac.Equal(sig, want))
	}
	if match == 0 {
		return ErrSignatureMismatch
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// clip shortens hostile input quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
