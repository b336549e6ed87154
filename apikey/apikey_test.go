package apikey

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCheckPrefix(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	plain, k := New("sto_1", All(), now)
	p, err := Prefix(plain)
	if err != nil || p != k.Prefix {
		t.Fatalf("prefix %q, %v; stored %q", p, err, k.Prefix)
	}
	if strings.Contains(string(k.Hash), plain) || len(k.Hash) != 32 {
		t.Fatal("stored hash must be a 32-byte digest, not the key")
	}
	if err := Check(plain, k); err != nil {
		t.Fatal(err)
	}
	// One changed character of the secret fails.
	tampered := plain[:len(plain)-1] + string(alphabet[(strings.IndexByte(alphabet, plain[len(plain)-1])+1)%32])
	if err := Check(tampered, k); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered key: %v", err)
	}
	k.RevokedAt = &now
	if err := Check(plain, k); !errors.Is(err, ErrInvalid) {
		t.Fatalf("revoked key: %v", err)
	}
	plain2, _ := New("sto_1", All(), now)
	if plain2 == plain {
		t.Fatal("two keys are equal")
	}
}

func TestPrefixMalformed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "cpk_", "Bearer x", "cpk_abcdefghjkmn_short",
		"cpk_ABCDEFGHJKMN_" + strings.Repeat("a", 40), "xyz_abcdefghjkmn_" + strings.Repeat("a", 40),
		"cpk_abcdefghjkmnX" + strings.Repeat("a", 40)} {
		if _, err := Prefix(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Prefix(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func TestParsePermissions(t *testing.T) {
	t.Parallel()
	got, err := ParsePermissions("invoices:read, invoices:read,exports:read")
	if err != nil || len(got) != 2 || got[0] != InvoicesRead || got[1] != ExportsRead {
		t.Fatalf("got %v, %v", got, err)
	}
	if all, _ := ParsePermissions(""); len(all) != 8 || !slices.Contains(all, RefundsWrite) || !slices.Contains(all, WalletsWrite) || !slices.Contains(all, WalletsRead) {
		t.Fatalf("empty list = %v, want all", all)
	}
	// A storefront key can create and read invoices, and nothing touching wallets.
	if sf, err := ParsePermissions("storefront"); err != nil || !slices.Equal(sf, []string{InvoicesRead, InvoicesWrite}) {
		t.Fatalf("storefront = %v, %v", sf, err)
	}
	if _, err := ParsePermissions("invoices:delete"); err == nil || !strings.Contains(err.Error(), "invoices:delete") {
		t.Fatalf("unknown permission: %v", err)
	}
}

func FuzzPrefix(f *testing.F) {
	plain, _ := New("sto", All(), time.Now())
	f.Add(plain)
	f.Add("cpk_")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Prefix(s)
		if err == nil && (len(p) != 12 || !strings.HasPrefix(s, "cpk_"+p+"_")) {
			t.Fatalf("Prefix(%q) = %q", s, p)
		}
	})
}
