// Package apikey creates and checks merchant API keys.
//
// A key reads "cpk_" + a 12-character public lookup prefix + "_" + a 40-character secret,
// both Crockford base32 from crypto/rand (60 and 200 bits). Only the prefix and the SHA-256
// of the whole key are stored; SHA-256 suffices because keys are high-entropy random
// strings, not passwords. Checks compare hashes in constant time.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Permissions a key may carry. A shop plugin (storefront) needs only InvoicesRead and
// InvoicesWrite; the wallet permissions guard where customers' money goes (WalletsWrite) and
// the merchant's whole payment history (WalletsRead: an xpub reveals every address).
const (
	InvoicesRead   = "invoices:read"
	InvoicesWrite  = "invoices:write"
	WebhooksManage = "webhooks:manage"
	ExportsRead    = "exports:read"
	WalletsRead    = "wallets:read"
	WalletsWrite   = "wallets:write"
	// RefundsRead lists and reads refunds; RefundsWrite creates, cancels and authorises them
	// (it sends the merchant's money back, so a shop plugin's storefront key lacks it).
	RefundsRead  = "refunds:read"
	RefundsWrite = "refunds:write"
)

// All lists every permission, the default for a new key.
func All() []string {
	return []string{InvoicesRead, InvoicesWrite, WebhooksManage, ExportsRead, WalletsRead, WalletsWrite, RefundsRead, RefundsWrite}
}

// Storefront lists the permissions a shop plugin needs: create and read invoices, nothing
// else. ParsePermissions accepts "storefront" as a name for this set.
func Storefront() []string { return []string{InvoicesRead, InvoicesWrite} }

// Errors.
var (
	// ErrMalformed means the presented string is not shaped like a chainpay key.
	ErrMalformed = errors.New("malformed API key")
	// ErrInvalid means no such key, a wrong secret, or a revoked key; callers answer 401
	// without saying which.
	ErrInvalid = errors.New("invalid API key")
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

// ParsePermissions validates a comma-separated permission list; empty means All, and the
// name "storefront" stands for Storefront.
func ParsePermissions(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return All(), nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		set := []string{p}
		if p == "storefront" {
			set = Storefront()
		} else if !slices.Contains(All(), p) {
			return nil, fmt.Errorf("unknown permission %q (want storefront or one of %s)", p, strings.Join(All(), ", "))
		}
		for _, q := range set {
			if !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	return out, nil
}

// New makes a key for the merchant. The returned plaintext is shown once and never stored.
func New(merchantID string, perms []string, now time.Time) (plaintext string, k store.APIKey) {
	prefix := random(12)
	plaintext = "cpk_" + prefix + "_" + random(40)
	h := sha256.Sum256([]byte(plaintext))
	return plaintext, store.APIKey{
		ID: store.NewID("key", now), MerchantID: merchantID, Prefix: prefix, Hash: h[:],
		Permissions: perms, CreatedAt: now.UTC(),
	}
}

// Prefix extracts the lookup prefix of a presented key.
func Prefix(plaintext string) (string, error) {
	rest, ok := strings.CutPrefix(plaintext, "cpk_")
	if !ok || len(rest) != 12+1+40 || rest[12] != '_' {
		return "", ErrMalformed
	}
	for i := 0; i < len(rest); i++ {
		if i != 12 && !strings.ContainsRune(alphabet, rune(rest[i])) {
			return "", ErrMalformed
		}
	}
	return rest[:12], nil
}

// Check verifies a presented key against the stored one: hash equality in constant time and
// not revoked.
func Check(plaintext string, k store.APIKey) error {
	h := sha256.Sum256([]byte(plaintext))
	if subtle.ConstantTimeCompare(h[:], k.Hash) != 1 {
		return ErrInvalid
	}
	if k.RevokedAt != nil {
		return ErrInvalid
	}
	return nil
}

// Has reports whether the key carries the permission.
func Has(k store.APIKey, perm string) bool { return slices.Contains(k.Permissions, perm) }
