package webhooks_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/webhooks"
)

var (
	signedAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	body     = []byte(`{"id":"evt_1","type":"invoice.settled"}`)
)

func TestVerify(t *testing.T) {
	t.Parallel()
	const secret, other = "whsec_right", "whsec_wrong"
	good := webhooks.Sign(secret, signedAt, body)
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	v1 := strings.TrimPrefix(good, "t="+ts+",")
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, body, signedAt, nil},
		{"valid within tolerance after", secret, good, body, signedAt.Add(5 * time.Minute), nil},
		{"valid within tolerance before (clock skew)", secret, good, body, signedAt.Add(-5 * time.Minute), nil},
		{"rotation: second v1 matches", secret, webhooks.Sign(other, signedAt, body, secret), body, signedAt, nil},
		{"unknown scheme ignored", secret, good + ",v0=abc", body, signedAt, nil},
		{"spaces around elements", secret, "t=" + ts + ", " + v1, body, signedAt, nil},
		{"tampered body", secret, good, []byte(`{"id":"evt_1","type":"invoice.expired"}`), signedAt, webhooks.ErrSignatureMismatch},
		{"body with an extra byte", secret, good, append(append([]byte{}, body...), ' '), signedAt, webhooks.ErrSignatureMismatch},
		{"wrong secret", other, good, body, signedAt, webhooks.ErrSignatureMismatch},
		{"tampered timestamp", secret, "t=" + strconv.FormatInt(signedAt.Unix()+1, 10) + "," + v1, body, signedAt, webhooks.ErrSignatureMismatch},
		{"timestamp with a leading zero is another signed string", secret, "t=0" + ts + "," + v1, body, signedAt, webhooks.ErrSignatureMismatch},
		{"old timestamp", secret, good, body, signedAt.Add(5*time.Minute + time.Second), webhooks.ErrTimestamp},
		{"future timestamp", secret, good, body, signedAt.Add(-6 * time.Minute), webhooks.ErrTimestamp},
		{"no v1", secret, "t=" + ts, body, signedAt, webhooks.ErrNoSignature},
		{"no t", secret, v1, body, signedAt, webhooks.ErrBadSignatureHeader},
		{"two t", secret, "t=" + ts + ",t=" + ts + "," + v1, body, signedAt, webhooks.ErrBadSignatureHeader},
		{"empty", secret, "", body, signedAt, webhooks.ErrBadSignatureHeader},
		{"negative t", secret, "t=-5," + v1, body, signedAt, webhooks.ErrBadSignatureHeader},
		{"short v1", secret, "t=" + ts + ",v1=abcd", body, signedAt, webhooks.ErrBadSignatureHeader},
		{"non-hex v1", secret, "t=" + ts + ",v1=" + strings.Repeat("zz", 32), body, signedAt, webhooks.ErrBadSignatureHeader},
		{"element without =", secret, good + ",junk", body, signedAt, webhooks.ErrBadSignatureHeader},
		{"too many v1", secret, "t=" + ts + strings.Repeat(","+v1, 9), body, signedAt, webhooks.ErrBadSignatureHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhooks.Verify(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if err := webhooks.Verify("", good, body, time.Minute, signedAt); err == nil {
		t.Fatal("empty secret accepted")
	}
	if err := webhooks.Verify(secret, good, body, 0, signedAt); err == nil {
		t.Fatal("zero tolerance accepted")
	}
}

func TestSignFormat(t *testing.T) {
	t.Parallel()
	// Reference value computed independently: printf '1795608000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
	got := webhooks.Sign("whsec_test", time.Unix(1795608000, 0), []byte(`{"a":1}`))
	const want = "t=1795608000,v1=" + refHMAC
	if got != want {
		t.Fatalf("Sign = %s\nwant %s", got, want)
	}
}

// FuzzVerify checks that Verify never panics on any header and body, that a signature made
// by Sign verifies, and that it does not verify another body.
func FuzzVerify(f *testing.F) {
	f.Add("t=1795608000,v1="+refHMAC, []byte(`{"a":1}`), int64(1795608000))
	f.Add("t=1,v1=00,v1=zz", []byte{}, int64(0))
	f.Add(",,,=,t=,v1=", []byte("x"), int64(-1))
	f.Fuzz(func(t *testing.T, header string, body []byte, unix int64) {
		if unix < 0 || unix > 1<<40 {
			unix = 1795608000
		}
		now := time.Unix(unix, 0)
		_ = webhooks.Verify("whsec_f", header, body, time.Minute, now) // must not panic
		if _, err := webhooks.ParseSignatureHeader(header); err != nil &&
			!errors.Is(err, webhooks.ErrBadSignatureHeader) && !errors.Is(err, webhooks.ErrNoSignature) {
			t.Fatalf("ParseSignatureHeader(%q) error %v wraps no sentinel", header, err)
		}
		h := webhooks.Sign("whsec_f", now, body)
		if err := webhooks.Verify("whsec_f", h, body, time.Minute, now); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err := webhooks.Verify("whsec_f", h, append(append([]byte{}, body...), 'x'), time.Minute, now); !errors.Is(err, webhooks.ErrSignatureMismatch) {
			t.Fatalf("changed body: got %v, want ErrSignatureMismatch", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	payload := []byte(strings.Repeat("x", 2048))
	h := webhooks.Sign("whsec_b", signedAt, payload)
	for b.Loop() {
		if err := webhooks.Verify("whsec_b", h, payload, time.Minute, signedAt); err != nil {
			b.Fatal(err)
		}
	}
}

// refHMAC is HMAC-SHA256("whsec_test", `1795608000.{"a":1}`), computed with openssl.
const refHMAC = "cc7f54aa5dc522c3253b95cbdb901d8a90b99822d2db794d78c5bd0e70db72db"
