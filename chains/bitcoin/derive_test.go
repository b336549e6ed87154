package bitcoin

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// referenceChild is hdkeychain's own derivation of the wallet's receive key at index, the
// path Address took before childDeriver.
func referenceChild(t testing.TB, w *Wallet, index uint32) []byte {
	t.Helper()
	child, err := w.chain.Derive(index)
	if err != nil {
		t.Fatalf("hdkeychain Derive(%d): %v", index, err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		t.Fatalf("hdkeychain ECPubKey(%d): %v", index, err)
	}
	return pub.SerializeCompressed()
}

// TestChildDeriverMatchesHDKeychain compares the fast derivation with hdkeychain's for
// every address type, small and random indexes up to 2^31-1, from several goroutines at
// once (the HMAC pool is shared).
func TestChildDeriverMatchesHDKeychain(t *testing.T) {
	for _, s := range []string{bip84Zpub, bip49Ypub, bip44Xpub, coreDocDescriptor, "tr(" + bip86Xpub + "/0/*)",
		"pkh([73c5da0a/44h/0h/0h]" + bip44Xpub + "/0/*)", "wpkh([deadbeef/0h]" + bip380Xpub + "/1/2/*)"} {
		w, err := ParseWallet(s, Mainnet)
		if err != nil {
			t.Fatalf("ParseWallet(%s): %v", s, err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(len(s))))
		indexes := []uint32{0, 1, 2, 19, 20, 1000, hdkeychain.HardenedKeyStart - 1}
		for range 300 {
			indexes = append(indexes, rng.Uint32N(hdkeychain.HardenedKeyStart))
		}
		want := make([][]byte, len(indexes)) // hdkeychain's, on the test goroutine (it may Fatal)
		for k, i := range indexes {
			want[k] = referenceChild(t, w, i)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k, i := range indexes {
					if k%4 != g {
						continue
					}
					pub, err := w.children.child(i)
					if err != nil {
						t.Errorf("%s: child(%d): %v", s, i, err)
						return
					}
					if got := pub.SerializeCompressed(); !bytes.Equal(got, want[k]) {
						t.Errorf("%s: child(%d) = %x, hdkeychain %x", s, i, got, want[k])
					}
				}
			})
		}
		wg.Wait()
	}
	// The documented vector still holds through Address (BIP 84, m/84'/0'/0'/0/0).
	w, _ := ParseWallet(bip84Zpub, Mainnet)
	if a, err := w.Address(0); err != nil || a.EncodeAddress() != "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" {
		t.Fatalf("Address(0) = %v, %v", a, err)
	}
}

// BenchmarkAddress compares childDeriver with hdkeychain's Derive plus ECPubKey, what
// Address used before, in the same run (both up to the child's compressed key).
func BenchmarkAddress(b *testing.B) {
	w, err := ParseWallet(bip84Zpub, Mainnet)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("childDeriver", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			pub, err := w.children.child(uint32(i))
			if err != nil {
				b.Fatal(err)
			}
			_ = pub.SerializeCompressed()
		}
	})
	b.Run("hdkeychain", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			referenceChild(b, w, uint32(i))
		}
	})
}

// TestChildDeriverRefusesMaxDepth: BIP 32 depth is one byte, and hdkeychain (like other
// wallets) derives nothing below depth 255, so a wallet whose chain key is there is refused
// when parsed rather than handing out addresses the merchant's wallet would not find.
func TestChildDeriverRefusesMaxDepth(t *testing.T) {
	w, err := ParseWallet(bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := w.chain.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	at := func(depth uint8) string {
		k := hdkeychain.NewExtendedKey([]byte{0x04, 0x88, 0xb2, 0x1e}, pub.SerializeCompressed(), w.chain.ChainCode(),
			[]byte{1, 2, 3, 4}, depth, 7, false)
		return k.String()
	}
	for _, desc := range []string{"wpkh(" + at(255) + "/*)", "wpkh(" + at(254) + "/0/*)"} {
		if _, err := ParseWallet(desc, Mainnet); !errors.Is(err, hdkeychain.ErrDeriveBeyondMaxDepth) {
			t.Errorf("ParseWallet(%s...) = %v, want ErrDeriveBeyondMaxDepth", desc[:20], err)
		}
	}
	w254, err := ParseWallet("wpkh("+at(254)+"/*)", Mainnet)
	if err != nil {
		t.Fatalf("a chain key at depth 254 derives children at 255: %v", err)
	}
	if pub, err := w254.children.child(3); err != nil || !bytes.Equal(pub.SerializeCompressed(), referenceChild(t, w254, 3)) {
		t.Fatalf("depth 254: child 3 differs from hdkeychain's (%v)", err)
	}
}
