package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Reference vectors, all for the mnemonic "abandon abandon abandon abandon
// abandon abandon abandon abandon abandon abandon abandon about".
const (
	// SLIP-0132 "Bitcoin Test Vectors" and BIP 84 (account m/84'/0'/0').
	bip84Zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	bip84Zprv = "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE"
	// BIP 86 (account m/86'/0'/0').
	bip86Xpub = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"
	bip86Xprv = "xprv9xgqHN7yz9MwCkxsBPN5qetuNdQSUttZNKw1dcYTV4mkaAFiBVGQziHs3NRSWMkCzvgjEe3n9xV8oYywvM8at9yRqyaZVz6TYYhX98VjsUk"
	// SLIP-0132 (account m/49'/0'/0').
	bip49Ypub = "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP"
	// SLIP-0132 (account m/44'/0'/0').
	bip44Xpub = "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"
	// BIP 49 testnet vector (account m/49'/1'/0').
	bip49Upub = "upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY"
	// BIP 380 key expression vectors (an xpub at depth 3 and an xprv).
	bip380Xpub = "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
	bip380Xprv = "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc"
	// Bitcoin Core `deriveaddresses` RPC help example (checksum included).
	coreDocDescriptor = "wpkh([d34db33f/84h/0h/0h]xpub6DJ2dNUysrn5Vt36jH2KLBT2i1auw1tTSSomg8PhqNiUtx8QX2SvC9nrHu81fT41fvDUnhMjEzQgXnQjKEu3oaqMSzhSrHMxyyoEAmUHQbY/0/*)#cjjspncu"
)

func TestWalletAddressVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		input    string
		network  Network
		wantType AddressType
		want     []string // addresses at index 0, 1, ...
	}{
		{"BIP84 bare zpub", bip84Zpub, Mainnet, P2WPKH,
			[]string{"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"}},
		{"BIP84 wpkh descriptor", "wpkh([73c5da0a/84h/0h/0h]" + bip84Zpub + "/0/*)", Mainnet, P2WPKH,
			[]string{"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"}},
		{"BIP84 change chain", "wpkh(" + bip84Zpub + "/1/*)", Mainnet, P2WPKH,
			[]string{"bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"}},
		{"BIP86 tr descriptor", "tr(" + bip86Xpub + "/0/*)", Mainnet, P2TR,
			[]string{"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"}},
		{"BIP86 change chain", "tr([73c5da0a/86'/0'/0']" + bip86Xpub + "/1/*)", Mainnet, P2TR,
			[]string{"bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7"}},
		{"BIP49 bare ypub", bip49Ypub, Mainnet, P2SHP2WPKH, []string{"37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf"}},
		{"BIP49 sh(wpkh) descriptor", "sh(wpkh(" + bip49Ypub + "/0/*))", Mainnet, P2SHP2WPKH, []string{"37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf"}},
		{"BIP44 pkh descriptor", "pkh(" + bip44Xpub + "/0/*)", Mainnet, P2PKH, []string{"1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"}},
		{"BIP49 testnet upub", bip49Upub, Testnet, P2SHP2WPKH, []string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"}},
		// Signet and regtest share testnet's P2SH version byte.
		{"BIP49 upub on signet", bip49Upub, Signet, P2SHP2WPKH, []string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"}},
		{"BIP49 upub on regtest", bip49Upub, Regtest, P2SHP2WPKH, []string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := ParseWallet(tt.input, tt.network)
			if err != nil {
				t.Fatalf("ParseWallet: %v", err)
			}
			if w.AddressType() != tt.wantType {
				t.Errorf("AddressType = %q, want %q", w.AddressType(), tt.wantType)
			}
			if w.Network() != tt.network {
				t.Errorf("Network = %q, want %q", w.Network(), tt.network)
			}
			for i, want := range tt.want {
				addr, err := w.Address(uint32(i))
				if err != nil {
					t.Fatalf("Address(%d): %v", i, err)
				}
				if got := addr.EncodeAddress(); got != want {
					t.Errorf("Address(%d) = %s, want %s", i, got, want)
				}
			}
			// The canonical descriptor must reproduce the same addresses.
			again, err := ParseWallet(w.Descriptor(), tt.network)
			if err != nil {
				t.Fatalf("reparse %s: %v", w.Descriptor(), err)
			}
			if again.Descriptor() != w.Descriptor() {
				t.Errorf("descriptor not stable: %s then %s", w.Descriptor(), again.Descriptor())
			}
			a0, _ := again.Address(0)
			if a0.EncodeAddress() != tt.want[0] {
				t.Errorf("reparsed Address(0) = %s, want %s", a0, tt.want[0])
			}
		})
	}
}

// TestBIP86TaprootScript checks the P2TR output script against the BIP 86
// scriptPubKey (output key = internal key tweaked with an empty script tree).
func TestBIP86TaprootScript(t *testing.T) {
	t.Parallel()
	w, err := ParseWallet("tr("+bip86Xpub+"/0/*)", Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
		"5120a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
	} {
		got, err := w.PkScript(uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		if hexs(got) != want {
			t.Errorf("PkScript(%d) = %x, want %s", i, got, want)
		}
	}
}

// TestAccountKeysMatchPrivateVectors checks that the public account keys used
// above are the neutered BIP 84 and BIP 86 account private keys, so the
// vectors are internally consistent.
func TestAccountKeysMatchPrivateVectors(t *testing.T) {
	t.Parallel()
	xprv := chaincfg.MainNetParams.HDPrivateKeyID[:]
	for _, tt := range []struct {
		prv, pub   string
		pubVersion []byte
	}{
		{bip84Zprv, bip84Zpub, []byte{0x04, 0xb2, 0x47, 0x46}},
		{bip86Xprv, bip86Xpub, chaincfg.MainNetParams.HDPublicKeyID[:]},
	} {
		// hdkeychain only neuters xprv/tprv versions: re-version first.
		k, err := hdkeychain.NewKeyFromString(reversion(t, tt.prv, xprv))
		if err != nil {
			t.Fatal(err)
		}
		neutered, err := k.Neuter()
		if err != nil {
			t.Fatal(err)
		}
		pub, err := neutered.CloneWithVersion(tt.pubVersion)
		if err != nil {
			t.Fatal(err)
		}
		if pub.String() != tt.pub {
			t.Errorf("neutered %s...: got %s, want %s", tt.prv[:8], pub, tt.pub)
		}
	}
}

// TestTestnetKeyVersions re-serializes the BIP 84 account key with the vpub
// and tpub versions: same key material, so the same witness programs, encoded
// with each test network's HRP.
func TestTestnetKeyVersions(t *testing.T) {
	t.Parallel()
	main, err := ParseWallet(bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	mainScript, err := main.PkScript(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range [][]byte{{0x04, 0x5f, 0x1c, 0xf6}, {0x04, 0x35, 0x87, 0xcf}} {
		for net, hrp := range map[Network]string{Testnet: "tb1q", Signet: "tb1q", Regtest: "bcrt1q"} {
			key := reversion(t, bip84Zpub, version)
			w, err := ParseWallet(key, net)
			if err != nil {
				t.Fatalf("%s on %s: %v", key[:4], net, err)
			}
			if w.AddressType() != P2WPKH {
				t.Errorf("%s: type %s, want p2wpkh", key[:4], w.AddressType())
			}
			addr, err := w.Address(0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(addr.EncodeAddress(), hrp) {
				t.Errorf("%s on %s: address %s, want prefix %s", key[:4], net, addr, hrp)
			}
			script, _ := w.PkScript(0)
			if hexs(script) != hexs(mainScript) {
				t.Errorf("%s on %s: script %x, want %x", key[:4], net, script, mainScript)
			}
			if !strings.Contains(w.Descriptor(), "(tpub") {
				t.Errorf("canonical descriptor should use tpub: %s", w.Descriptor())
			}
		}
	}
}

func TestDescriptorChecksum(t *testing.T) {
	t.Parallel()
	// BIP 380 test vector and the Bitcoin Core RPC documentation example.
	for _, full := range []string{"raw(deadbeef)#89f8spxm", coreDocDescriptor} {
		body, sum, _ := strings.Cut(full, "#")
		got, err := DescriptorChecksum(body)
		if err != nil {
			t.Fatal(err)
		}
		if got != sum {
			t.Errorf("DescriptorChecksum(%s) = %s, want %s", body, got, sum)
		}
	}
	if _, err := DescriptorChecksum("raw(Ü)"); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("non-charset character: err = %v, want ErrMalformedKey", err)
	}
}

func TestParseWalletCoreDescriptor(t *testing.T) {
	t.Parallel()
	w, err := ParseWallet(coreDocDescriptor, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if w.AddressType() != P2WPKH {
		t.Errorf("type = %s", w.AddressType())
	}
	// Already canonical ('h' markers, xpub, /0/*): printed back unchanged.
	if w.Descriptor() != coreDocDescriptor {
		t.Errorf("Descriptor() = %s, want %s", w.Descriptor(), coreDocDescriptor)
	}
	// The apostrophe form parses to the same wallet with the canonical 'h' form.
	apos := strings.Replace(strings.TrimSuffix(coreDocDescriptor, "#cjjspncu"), "84h/0h/0h", "84'/0'/0'", 1)
	w2, err := ParseWallet(apos, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Descriptor() != coreDocDescriptor {
		t.Errorf("apostrophe form canonicalised to %s", w2.Descriptor())
	}
}

func TestParseWalletErrors(t *testing.T) {
	t.Parallel()
	validBody := "wpkh(" + bip84Zpub + "/0/*)"
	sum, err := DescriptorChecksum(validBody)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(bip84Zpub)
	flipped[40] ^= 'a' ^ 'b' // base58 checksum no longer matches
	if flipped[40] == bip84Zpub[40] {
		t.Fatal("test setup: flip did nothing")
	}
	tests := []struct {
		name    string
		input   string
		network Network
		want    error
		msg     string // substring the message must contain
	}{
		{"mainnet key on testnet", bip84Zpub, Testnet, ErrWrongNetwork, "zpub is a mainnet key but the network is testnet"},
		{"testnet key on mainnet", bip49Upub, Mainnet, ErrWrongNetwork, "upub is a testnet/signet/regtest key"},
		{"mainnet key in descriptor on regtest", validBody, Regtest, ErrWrongNetwork, "network is regtest"},
		{"zprv", bip84Zprv, Mainnet, ErrPrivateKey, "got zprv"},
		{"xprv", bip86Xprv, Mainnet, ErrPrivateKey, "got xprv"},
		{"xprv in descriptor", "wpkh(" + bip380Xprv + "/0/*)", Mainnet, ErrPrivateKey, "chainpay only accepts extended public keys"},
		{"xprv on testnet is still a private key", bip86Xprv, Testnet, ErrPrivateKey, "got xprv"},
		{"WIF private key", "L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1", Mainnet, ErrPrivateKey, "WIF"},
		{"WIF in descriptor", "wpkh(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1/*)", Mainnet, ErrPrivateKey, "WIF"},
		{"wrong descriptor checksum", validBody + "#" + strings.ToUpper(sum[:1]) + sum[1:], Mainnet, ErrBadChecksum, "descriptor checksum"},
		{"BIP380 error in payload", "raw(deedbeef)#89f8spxm", Mainnet, ErrBadChecksum, "hashes to"},
		{"BIP380 missing checksum", "raw(deadbeef)#", Mainnet, ErrBadChecksum, "8 characters"},
		{"BIP380 checksum too long", "raw(deadbeef)#89f8spxmx", Mainnet, ErrBadChecksum, "got 9"},
		{"BIP380 checksum too short", "raw(deadbeef)#89f8spx", Mainnet, ErrBadChecksum, "got 7"},
		{"base58 checksum", string(flipped), Mainnet, ErrBadChecksum, "base58 checksum"},
		{"truncated key", bip84Zpub[:100], Mainnet, ErrMalformedKey, "truncated"},
		{"garbage", "hello world", Mainnet, ErrMalformedKey, "not base58"},
		{"empty", "  ", Mainnet, ErrMalformedKey, "empty"},
		{"unknown network", bip84Zpub, Network("litecoin"), ErrUnknownNetwork, "litecoin"},
		{"BIP380 valid raw is unsupported", "raw(deadbeef)#89f8spxm", Mainnet, ErrUnsupportedDescriptor, "raw(...)"},
		{"multisig", "wsh(multi(1," + bip86Xpub + "/0/*," + bip84Zpub + "/0/*))", Mainnet, ErrUnsupportedDescriptor, "wsh(...)"},
		{"tr with script tree", "tr(" + bip86Xpub + "/0/*,pk(" + bip84Zpub + "/0/*))", Mainnet, ErrUnsupportedDescriptor, "script tree"},
		{"single public key", "wpkh(0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600)", Mainnet, ErrUnsupportedDescriptor, "only one address"},
		{"not ranged", "wpkh(" + bip84Zpub + "/0/5)", Mainnet, ErrUnsupportedDescriptor, "must end in /*"},
		{"no derivation", "wpkh(" + bip84Zpub + ")", Mainnet, ErrUnsupportedDescriptor, "no /* wildcard"},
		{"multipath", "wpkh(" + bip84Zpub + "/<0;1>/*)", Mainnet, ErrUnsupportedDescriptor, "multipath"},
		{"bare master key", "xpub661MyMwAqRbcFkPHucMnrGNzDwb6teAX1RbKQmqtEF8kK3Z7LZ59qafCjB9eCRLiTVG3uxBxgKvRgbubRhqSKXnGGb1aoaqLrpMBDrVxga8", Mainnet, ErrUnsupportedDescriptor, "depth 0"},
		{"hardened step", "wpkh(" + bip380Xpub + "/3h/*)", Mainnet, ErrHardenedDerivation, "3h"},
		{"hardened apostrophe step", "wpkh(" + bip380Xpub + "/0'/*)", Mainnet, ErrHardenedDerivation, "0'"},
		{"hardened wildcard", "wpkh(" + bip380Xpub + "/0/*h)", Mainnet, ErrHardenedDerivation, "*h"},
		{"BIP380 H indicator in origin", "wpkh([deadbeef/0H/0H/0H]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "0H"},
		{"BIP380 negative step", "wpkh([deadbeef/-0/-0/-0]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "-0"},
		{"BIP380 short fingerprint", "wpkh([deadbef/0h/0h/0h]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "8 hex"},
		{"BIP380 non-hex fingerprint", "wpkh([gaaaaaaa]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "not hex"},
		{"BIP380 two origins", "wpkh([aaaaaaaa][aaaaaaaa]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "brackets"},
		{"BIP380 trailing slash in origin", "wpkh([deadbeef/0h/0h/0h/]" + bip380Xpub + "/0/*)", Mainnet, ErrMalformedKey, "empty derivation step"},
		{"BIP380 index out of range", "wpkh(" + bip380Xpub + "/2147483648/*)", Mainnet, ErrMalformedKey, "out of range"},
		{"BIP380 invalid index", "wpkh(" + bip380Xpub + "/1aa/*)", Mainnet, ErrMalformedKey, "1aa"},
		{"BIP380 origin without key", "wpkh([deadbeef])", Mainnet, ErrMalformedKey, "no key"},
		{"unclosed", "wpkh(" + bip84Zpub + "/0/*", Mainnet, ErrMalformedKey, "closing parenthesis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := ParseWallet(tt.input, tt.network)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseWallet error = %v (wallet %v), want %v", err, w, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			// Error messages must never echo key material.
			for _, secret := range []string{bip84Zprv[4:40], bip86Xprv[4:40], bip380Xprv[4:40], "yDtCWekvXuE6oXD9jCY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error message leaks key material: %v", err)
				}
			}
		})
	}
}

func TestAddressIndexRange(t *testing.T) {
	t.Parallel()
	w, err := ParseWallet(bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Address(hdkeychain.HardenedKeyStart); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("Address(2^31) err = %v, want ErrIndexOutOfRange", err)
	}
	if _, err := w.PkScript(hdkeychain.HardenedKeyStart - 1); err != nil {
		t.Errorf("PkScript(2^31-1): %v", err)
	}
}

func TestParams(t *testing.T) {
	t.Parallel()
	for n, want := range map[Network]*chaincfg.Params{
		Mainnet: &chaincfg.MainNetParams, Testnet: &chaincfg.TestNet3Params,
		Signet: &chaincfg.SigNetParams, Regtest: &chaincfg.RegressionNetParams,
	} {
		got, err := Params(n)
		if err != nil || got != want {
			t.Errorf("Params(%s) = %v, %v", n, got.Name, err)
		}
	}
}

func FuzzParseWallet(f *testing.F) {
	for _, s := range []string{
		bip84Zpub, bip49Ypub, bip49Upub, bip84Zprv, coreDocDescriptor,
		"tr(" + bip86Xpub + "/0/*)", "pkh([73c5da0a/44h/0h/0h]" + bip44Xpub + "/0/*)",
		"sh(wpkh(" + bip49Ypub + "/0/*))", "raw(deadbeef)#89f8spxm", "wpkh([deadbeef/0h]" + bip380Xpub + "/1/2/*)",
		"wpkh(" + bip84Zpub[:60] + "/0/*)", "",
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	nets := []Network{Mainnet, Testnet, Signet, Regtest}
	f.Fuzz(func(t *testing.T, s string, netIdx uint8) {
		net := nets[int(netIdx)%len(nets)]
		w, err := ParseWallet(s, net)
		if err != nil {
			if w != nil {
				t.Fatalf("non-nil wallet with error %v", err)
			}
			return
		}
		a1, err1 := w.Address(7)
		a2, err2 := w.Address(7)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("Address(7) not deterministic: %v vs %v", err1, err2)
		}
		if err1 != nil {
			return // ErrInvalidChild, astronomically rare
		}
		if a1.EncodeAddress() != a2.EncodeAddress() {
			t.Fatalf("Address(7) differs: %s vs %s", a1, a2)
		}
		if pub, err := w.children.child(7); err != nil || !bytes.Equal(pub.SerializeCompressed(), referenceChild(t, w, 7)) {
			t.Fatalf("child 7 differs from hdkeychain's (%v)", err)
		}
		params, _ := Params(net)
		if !a1.IsForNet(params) {
			t.Fatalf("address %s not for %s", a1, net)
		}
		w2, err := ParseWallet(w.Descriptor(), net)
		if err != nil {
			t.Fatalf("canonical descriptor %q does not parse: %v", w.Descriptor(), err)
		}
		b, err := w2.Address(7)
		if err != nil || b.EncodeAddress() != a1.EncodeAddress() {
			t.Fatalf("canonical descriptor derives %v (%v), want %s", b, err, a1)
		}
	})
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

// reversion re-serializes a base58 extended key with other version bytes.
func reversion(t *testing.T, key string, version []byte) string {
	t.Helper()
	raw := base58.Decode(key)
	if len(raw) != 82 {
		t.Fatalf("reversion: %d bytes", len(raw))
	}
	payload := append(append([]byte{}, version...), raw[4:78]...)
	return base58.Encode(append(payload, chainhash.DoubleHashB(payload)[:4]...))
}
