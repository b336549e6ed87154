package bitcoin

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

// checkOutputAddress compares OutputAddress with btcd's own reading of the script: an
// address is returned exactly for the single-address templates btcd classifies the same
// way, it is btcd's address, and it decodes back to the same script.
func checkOutputAddress(t *testing.T, script []byte, p *chaincfg.Params) (string, bool) {
	t.Helper()
	got, ok := OutputAddress(script, p)
	class, addrs, _, err := txscript.ExtractPkScriptAddrs(script, p)
	single := err == nil && len(addrs) == 1
	switch class {
	case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy,
		txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
	default:
		single = false
	}
	if ok != single {
		t.Fatalf("script %x: OutputAddress ok=%v (%q), btcd class %v with %d addresses (err %v)", script, ok, got, class, len(addrs), err)
	}
	if !ok {
		return "", false
	}
	if want := addrs[0].EncodeAddress(); got != want {
		t.Fatalf("script %x: OutputAddress %q, btcd %q", script, got, want)
	}
	a, err := btcutil.DecodeAddress(got, p)
	if err != nil || !a.IsForNet(p) {
		t.Fatalf("script %x: %q does not decode for %s: %v", script, got, p.Name, err)
	}
	back, err := txscript.PayToAddrScript(a)
	if err != nil || !bytes.Equal(back, script) {
		t.Fatalf("script %x: %q pays %x, not the script (%v)", script, got, back, err)
	}
	return got, true
}

// TestOutputAddressMainnetBlock reads every output of a real mainnet block, and random
// scripts of every template on every network, P2TR included.
func TestOutputAddressMainnetBlock(t *testing.T) {
	t.Parallel()
	blk := decodeBlock(t, readMainnetBlock(t))
	n, with := 0, 0
	for _, tx := range blk.Transactions {
		for _, o := range tx.TxOut {
			n++
			if _, ok := checkOutputAddress(t, o.PkScript, &chaincfg.MainNetParams); ok {
				with++
			}
		}
	}
	t.Logf("%d of %d outputs have an address", with, n)
	if with < n*9/10 {
		t.Fatalf("only %d of %d outputs have an address", with, n)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var buf [34]byte
	for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams} {
		kinds := map[scriptKind]int{}
		for range 2000 {
			s := randomTemplate(rng, &buf)
			k, _ := classify(s)
			if _, ok := checkOutputAddress(t, s, p); ok {
				kinds[k]++
			}
		}
		for _, k := range []scriptKind{kindP2WPKH, kindP2TR, kindP2WSH, kindP2PKH, kindP2SH} {
			if kinds[k] == 0 {
				t.Errorf("%s: no random %d script was read", p.Name, k)
			}
		}
	}
}

// TestOutputAddressOfWallets: the address of a wallet's receive script is the address the
// wallet handed out, for every address type.
func TestOutputAddressOfWallets(t *testing.T) {
	t.Parallel()
	for _, desc := range []string{bip84Zpub, bip49Ypub, bip44Xpub, coreDocDescriptor, "tr(" + bip86Xpub + "/0/*)",
		"pkh([73c5da0a/44h/0h/0h]" + bip44Xpub + "/0/*)", "wpkh([deadbeef/0h]" + bip380Xpub + "/1/2/*)"} {
		for _, net := range []Network{Mainnet, Regtest} {
			w, err := ParseWallet(desc, net)
			if err != nil && net != Mainnet {
				continue // a key versioned for mainnet (zpub, ypub)
			}
			if err != nil {
				t.Fatalf("ParseWallet(%s): %v", desc, err)
			}
			for i := range uint32(20) {
				addr, err := w.Address(i)
				if err != nil {
					t.Fatal(err)
				}
				script, err := w.PkScript(i)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := OutputAddress(script, w.params)
				if !ok || got != addr.EncodeAddress() {
					t.Fatalf("%s on %v, index %d: OutputAddress %q, %v; wallet %q", desc, net, i, got, ok, addr.EncodeAddress())
				}
			}
		}
	}
}

// randomTemplate writes a random script of one of the five address templates into buf, or
// one byte off such a script (then it has no address).
func randomTemplate(rng *rand.Rand, buf *[34]byte) []byte {
	var s []byte
	switch rng.IntN(5) {
	case 0:
		s = append(buf[:0], 0x00, 0x14)
		s = s[:22]
	case 1:
		s = append(buf[:0], 0x00, 0x20)
		s = s[:34]
	case 2:
		s = append(buf[:0], 0x51, 0x20)
		s = s[:34]
	case 3:
		s = append(buf[:0], 0x76, 0xa9, 0x14)
		s = s[:25]
		s[23], s[24] = 0x88, 0xac
	default:
		s = append(buf[:0], 0xa9, 0x14)
		s = s[:23]
		s[22] = 0x87
	}
	head := map[int]int{22: 2, 34: 2, 25: 3, 23: 2}[len(s)]
	fill(rng, s[head:head+len(s)-head-map[int]int{22: 0, 34: 0, 25: 2, 23: 1}[len(s)]])
	if rng.IntN(8) == 0 {
		s[rng.IntN(len(s))] ^= byte(1 + rng.IntN(255))
	}
	return s
}

func FuzzOutputAddress(f *testing.F) {
	f.Add([]byte{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add(append([]byte{0x51, 0x20}, make([]byte, 32)...))
	f.Add([]byte{0x6a, 0x01, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, script []byte) {
		checkOutputAddress(t, script, &chaincfg.MainNetParams)
	})
}
