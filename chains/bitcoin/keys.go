package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
)

// Network names a Bitcoin network chainpay can watch.
type Network string

// The networks chainpay supports. Testnet means testnet3; testnet4 uses the
// same address encodings.
const (
	Mainnet Network = "mainnet"
	Testnet Network = "testnet"
	Signet  Network = "signet"
	Regtest Network = "regtest"
)

// Params returns the btcd chain parameters for n. The returned value belongs
// to btcd's chaincfg package and must not be modified.
func Params(n Network) (*chaincfg.Params, error) {
	switch n {
	case Mainnet:
		return &chaincfg.MainNetParams, nil
	case Testnet:
		return &chaincfg.TestNet3Params, nil
	case Signet:
		return &chaincfg.SigNetParams, nil
	case Regtest:
		return &chaincfg.RegressionNetParams, nil
	default:
		return nil, fmt.Errorf("%w %q (want mainnet, testnet, signet or regtest)", ErrUnknownNetwork, string(n))
	}
}

// AddressType is the output script type a Wallet derives.
type AddressType string

// The address types a Wallet can derive.
const (
	// P2WPKH is native segwit v0 pay-to-witness-pubkey-hash (BIP 84), the default.
	P2WPKH AddressType = "p2wpkh"
	// P2TR is taproot key-path-only pay-to-taproot (BIP 86).
	P2TR AddressType = "p2tr"
	// P2SHP2WPKH is P2WPKH nested in P2SH (BIP 49).
	P2SHP2WPKH AddressType = "p2sh-p2wpkh"
	// P2PKH is legacy pay-to-pubkey-hash (BIP 44).
	P2PKH AddressType = "p2pkh"
)

// Errors returned by ParseWallet and Wallet methods. Each names one class of
// problem; the wrapped message says exactly what was wrong (it never repeats
// key material).
var (
	// ErrUnknownNetwork means the Network value is not one chainpay knows.
	ErrUnknownNetwork = errors.New("unknown bitcoin network")
	// ErrWrongNetwork means the key or address belongs to another network.
	ErrWrongNetwork = errors.New("wrong network")
	// ErrPrivateKey means a private key (xprv, WIF, ...) was given.
	ErrPrivateKey = errors.New("private key: chainpay only accepts extended public keys")
	// ErrBadChecksum means a base58 or descriptor checksum does not match.
	ErrBadChecksum = errors.New("bad checksum")
	// ErrMalformedKey means the input is truncated, garbage or not an extended key.
	ErrMalformedKey = errors.New("malformed key or descriptor")
	// ErrUnsupportedDescriptor means a well-formed input chainpay cannot use.
	ErrUnsupportedDescriptor = errors.New("unsupported descriptor")
	// ErrHardenedDerivation means hardened derivation was requested from a public key.
	ErrHardenedDerivation = errors.New("hardened derivation is impossible from a public key")
	// ErrIndexOutOfRange means an address index is 2^31 or more (a hardened index).
	ErrIndexOutOfRange = errors.New("address index out of range")
)

// keyVersion describes the 4 version bytes of a serialized extended key
// (SLIP-0132).
type keyVersion struct {
	name     string      // human prefix: "xpub", "zprv", ...
	mainnet  bool        // mainnet, or testnet/signet/regtest
	private  bool        // extended private key
	multisig bool        // Ypub/Zpub/Upub/Vpub multisig variants
	addrType AddressType // script type a bare key implies
}

// lookupVersion returns what the version bytes v denote.
func lookupVersion(v uint32) (keyVersion, bool) {
	switch v {
	case 0x0488b21e:
		return keyVersion{name: "xpub", mainnet: true, addrType: P2WPKH}, true
	case 0x0488ade4:
		return keyVersion{name: "xprv", mainnet: true, private: true}, true
	case 0x049d7cb2:
		return keyVersion{name: "ypub", mainnet: true, addrType: P2SHP2WPKH}, true
	case 0x049d7878:
		return keyVersion{name: "yprv", mainnet: true, private: true}, true
	case 0x04b24746:
		return keyVersion{name: "zpub", mainnet: true, addrType: P2WPKH}, true
	case 0x04b2430c:
		return keyVersion{name: "zprv", mainnet: true, private: true}, true
	case 0x0295b43f:
		return keyVersion{name: "Ypub", mainnet: true, multisig: true}, true
	case 0x0295b005:
		return keyVersion{name: "Yprv", mainnet: true, private: true}, true
	case 0x02aa7ed3:
		return keyVersion{name: "Zpub", mainnet: true, multisig: true}, true
	case 0x02aa7a99:
		return keyVersion{name: "Zprv", mainnet: true, private: true}, true
	case 0x043587cf:
		return keyVersion{name: "tpub", addrType: P2WPKH}, true
	case 0x04358394:
		return keyVersion{name: "tprv", private: true}, true
	case 0x044a5262:
		return keyVersion{name: "upub", addrType: P2SHP2WPKH}, true
	case 0x044a4e28:
		return keyVersion{name: "uprv", private: true}, true
	case 0x045f1cf6:
		return keyVersion{name: "vpub", addrType: P2WPKH}, true
	case 0x045f18bc:
		return keyVersion{name: "vprv", private: true}, true
	case 0x024289ef:
		return keyVersion{name: "Upub", multisig: true}, true
	case 0x024285b5:
		return keyVersion{name: "Uprv", private: true}, true
	case 0x02575483:
		return keyVersion{name: "Vpub", multisig: true}, true
	case 0x02575048:
		return keyVersion{name: "Vprv", private: true}, true
	}
	return keyVersion{}, false
}

// serializedExtKeyLen is version(4) depth(1) fingerprint(4) child(4)
// chaincode(32) key(33) checksum(4).
const serializedExtKeyLen = 82

// parseExtendedKey decodes a base58 extended public key for network n and
// returns it re-versioned to the network's plain xpub/tpub version, together
// with what its original version implied.
func parseExtendedKey(s string, n Network, params *chaincfg.Params) (*hdkeychain.ExtendedKey, keyVersion, error) {
	raw := base58.Decode(s)
	if len(raw) == 0 {
		return nil, keyVersion{}, fmt.Errorf("%w: extended key is not base58 (%d characters)", ErrMalformedKey, len(s))
	}
	if len(raw) != serializedExtKeyLen {
		if wif, err := btcutil.DecodeWIF(s); err == nil && wif != nil {
			return nil, keyVersion{}, fmt.Errorf("%w: got a WIF private key", ErrPrivateKey)
		}
		return nil, keyVersion{}, fmt.Errorf("%w: extended key decodes to %d bytes, want %d (truncated or not an extended key)",
			ErrMalformedKey, len(raw), serializedExtKeyLen)
	}
	payload, sum := raw[:78], raw[78:]
	if !bytes.Equal(sum, chainhash.DoubleHashB(payload)[:4]) {
		return nil, keyVersion{}, fmt.Errorf("%w: extended key base58 checksum mismatch (typo or truncated copy?)", ErrBadChecksum)
	}
	ver, ok := lookupVersion(binary.BigEndian.Uint32(payload[:4]))
	if !ok {
		return nil, keyVersion{}, fmt.Errorf("%w: unknown extended key version 0x%x (want xpub/ypub/zpub or tpub/upub/vpub)",
			ErrMalformedKey, payload[:4])
	}
	if ver.private || payload[45] == 0x00 {
		return nil, keyVersion{}, fmt.Errorf("%w: got %s", ErrPrivateKey, ver.name)
	}
	if ver.multisig {
		return nil, keyVersion{}, fmt.Errorf("%w: %s is a multisig key version; chainpay supports single-key wallets",
			ErrUnsupportedDescriptor, ver.name)
	}
	if ver.mainnet != (n == Mainnet) {
		kind := "a testnet/signet/regtest"
		if ver.mainnet {
			kind = "a mainnet"
		}
		return nil, keyVersion{}, fmt.Errorf("%w: %s is %s key but the network is %s", ErrWrongNetwork, ver.name, kind, n)
	}
	key, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		return nil, keyVersion{}, fmt.Errorf("%w: %s does not hold a valid secp256k1 public key: %v", ErrMalformedKey, ver.name, err)
	}
	key, err = key.CloneWithVersion(params.HDPublicKeyID[:])
	if err != nil {
		return nil, keyVersion{}, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	return key, ver, nil
}

// Wallet is a watch-only account: one extended public key, the script type
// its addresses use, the network, and the derivation steps from the key to the
// receive chain. A Wallet is immutable and safe for concurrent use.
type Wallet struct {
	network  Network
	params   *chaincfg.Params
	addrType AddressType
	key      *hdkeychain.ExtendedKey // as given, re-versioned to xpub/tpub
	origin   *keyOrigin              // optional [fingerprint/path] from a descriptor
	path     []uint32                // unhardened steps from key to the chain
	chain    *hdkeychain.ExtendedKey // key/path..., parent of every address key
	children *childDeriver           // derives chain's children (Address)
	desc     string                  // canonical descriptor with checksum
}

// ParseWallet parses a bare account-level extended public key (xpub, ypub,
// zpub for mainnet; tpub, upub, vpub for testnet, signet and regtest) or a
// single-key ranged descriptor (pkh, wpkh, sh(wpkh), tr with KEY/.../*) for
// network n. Bare xpub/tpub and zpub/vpub keys derive P2WPKH (BIP 84), ypub
// and upub derive P2SH-P2WPKH (BIP 49); the receive chain of a bare key is
// KEY/0. Errors wrap one of the package's sentinel errors.
func ParseWallet(keyOrDescriptor string, n Network) (*Wallet, error) {
	params, err := Params(n)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(keyOrDescriptor)
	if s == "" {
		return nil, fmt.Errorf("%w: empty key", ErrMalformedKey)
	}
	var w *Wallet
	if strings.ContainsAny(s, "([])#/") {
		w, err = parseDescriptor(s, n, params)
	} else {
		w, err = parseBareKey(s, n, params)
	}
	if err != nil {
		return nil, err
	}
	w.chain = w.key
	for _, step := range w.path {
		if w.chain, err = w.chain.Derive(step); err != nil {
			return nil, fmt.Errorf("derive chain key /%d: %w", step, err)
		}
	}
	if w.children, err = newChildDeriver(w.chain); err != nil {
		return nil, fmt.Errorf("chain key: %w", err)
	}
	w.desc = w.canonicalDescriptor()
	return w, nil
}

// accountDepth is the BIP 32 depth of m/purpose'/coin'/account'.
const accountDepth = 3

func parseBareKey(s string, n Network, params *chaincfg.Params) (*Wallet, error) {
	key, ver, err := parseExtendedKey(s, n, params)
	if err != nil {
		return nil, err
	}
	if key.Depth() != accountDepth {
		return nil, fmt.Errorf("%w: bare %s has depth %d, want an account-level key (depth 3: m/purpose'/coin'/account'); "+
			"use a descriptor such as wpkh(KEY/0/*) to say how this key derives addresses",
			ErrUnsupportedDescriptor, ver.name, key.Depth())
	}
	return &Wallet{network: n, params: params, addrType: ver.addrType, key: key, path: []uint32{0}}, nil
}

// Network returns the network the wallet's addresses are for.
func (w *Wallet) Network() Network { return w.network }

// AddressType returns the script type of the wallet's addresses.
func (w *Wallet) AddressType() AddressType { return w.addrType }

// Descriptor returns the wallet's canonical output descriptor with its BIP 380
// checksum, e.g. "wpkh([d34db33f/84h/0h/0h]xpub.../0/*)#xxxxxxxx". Parsing it
// again yields the same addresses.
func (w *Wallet) Descriptor() string { return w.desc }

// String returns the canonical descriptor; it contains only public data.
func (w *Wallet) String() string { return w.desc }

// Address returns the receive address at index (KEY/.../index). Index must be
// below 2^31. With probability about 2^-127 an index has no valid key
// (hdkeychain.ErrInvalidChild); callers skip to the next index then.
func (w *Wallet) Address(index uint32) (btcutil.Address, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return nil, fmt.Errorf("%w: %d is a hardened index (max %d)", ErrIndexOutOfRange, index, hdkeychain.HardenedKeyStart-1)
	}
	pub, err := w.children.child(index)
	if err != nil {
		return nil, fmt.Errorf("derive address %d: %w", index, err)
	}
	var addr btcutil.Address
	switch w.addrType {
	case P2WPKH:
		addr, err = btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), w.params)
	case P2SHP2WPKH:
		// redeemScript = OP_0 <20-byte key hash>
		redeem := append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
		addr, err = btcutil.NewAddressScriptHash(redeem, w.params)
	case P2PKH:
		addr, err = btcutil.NewAddressPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), w.params)
	case P2TR:
		// BIP 86: output key = P + H_TapTweak(P)G, no script tree.
		out := txscript.ComputeTaprootKeyNoScript(pub)
		addr, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(out), w.params)
	default:
		return nil, fmt.Errorf("%w: address type %q", ErrUnsupportedDescriptor, w.addrType)
	}
	if err != nil {
		return nil, fmt.Errorf("encode address %d: %w", index, err)
	}
	return addr, nil
}

// PkScript returns the output script (scriptPubKey) of the receive address at
// index, the bytes a ScriptSet watches for.
func (w *Wallet) PkScript(index uint32) ([]byte, error) {
	addr, err := w.Address(index)
	if err != nil {
		return nil, err
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return nil, fmt.Errorf("script for address %d: %w", index, err)
	}
	return script, nil
}
