package bitcoin

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// descriptorInputCharset is the BIP 380 character set, in the order that
// gives each character its checksum symbol.
const descriptorInputCharset = "0123456789()[],'/*abcdefgh@:$%{}" +
	"IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" +
	"ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "

// descriptorChecksumCharset is the bech32 alphabet the checksum is written in.
const descriptorChecksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// descsumPolymod advances the BIP 380 BCH checksum state c by one symbol.
func descsumPolymod(c uint64, val uint64) uint64 {
	c0 := c >> 35
	c = (c&0x7ffffffff)<<5 ^ val
	if c0&1 != 0 {
		c ^= 0xf5dee51989
	}
	if c0&2 != 0 {
		c ^= 0xa9fdca3312
	}
	if c0&4 != 0 {
		c ^= 0x1bab10e32d
	}
	if c0&8 != 0 {
		c ^= 0x3706b1677a
	}
	if c0&16 != 0 {
		c ^= 0x644d626ffd
	}
	return c
}

// DescriptorChecksum returns the 8-character BIP 380 checksum of a descriptor
// written without its "#checksum" suffix. It fails on characters outside the
// descriptor character set.
func DescriptorChecksum(desc string) (string, error) {
	c := uint64(1)
	cls, clsCount := uint64(0), 0
	for i := 0; i < len(desc); i++ {
		pos := strings.IndexByte(descriptorInputCharset, desc[i])
		if pos < 0 {
			return "", fmt.Errorf("%w: character %q at offset %d is not allowed in a descriptor", ErrMalformedKey, desc[i], i)
		}
		c = descsumPolymod(c, uint64(pos&31))
		cls = cls*3 + uint64(pos>>5)
		clsCount++
		if clsCount == 3 {
			c = descsumPolymod(c, cls)
			cls, clsCount = 0, 0
		}
	}
	if clsCount > 0 {
		c = descsumPolymod(c, cls)
	}
	for range 8 {
		c = descsumPolymod(c, 0)
	}
	c ^= 1
	var out [8]byte
	for i := range out {
		out[i] = descriptorChecksumCharset[(c>>(5*(7-i)))&31]
	}
	return string(out[:]), nil
}

// keyOrigin is the optional [fingerprint/path] prefix of a key expression.
// It does not change the scripts; chainpay keeps it so the canonical
// descriptor still tells a hardware wallet where the key came from.
type keyOrigin struct {
	fingerprint [4]byte
	path        []uint32 // hardened steps have hdkeychain.HardenedKeyStart added
}

func (o *keyOrigin) String() string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(hex.EncodeToString(o.fingerprint[:]))
	for _, step := range o.path {
		b.WriteByte('/')
		if step >= hdkeychain.HardenedKeyStart {
			b.WriteString(strconv.FormatUint(uint64(step-hdkeychain.HardenedKeyStart), 10))
			b.WriteByte('h')
		} else {
			b.WriteString(strconv.FormatUint(uint64(step), 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// descriptorFunctions lists the script wrappers chainpay supports, outermost
// first, with the address type each yields.
var descriptorForms = [...]struct {
	open, close string
	addrType    AddressType
}{
	{"sh(wpkh(", "))", P2SHP2WPKH},
	{"wpkh(", ")", P2WPKH},
	{"pkh(", ")", P2PKH},
	{"tr(", ")", P2TR},
}

// parseDescriptor parses a single-key ranged descriptor, verifying its
// checksum when one is present.
func parseDescriptor(s string, n Network, params *chaincfg.Params) (*Wallet, error) {
	body := s
	if i := strings.IndexByte(s, '#'); i >= 0 {
		body = s[:i]
		sum := s[i+1:]
		if len(sum) != 8 {
			return nil, fmt.Errorf("%w: descriptor checksum must be 8 characters after '#', got %d", ErrBadChecksum, len(sum))
		}
		want, err := DescriptorChecksum(body)
		if err != nil {
			return nil, err
		}
		if sum != want {
			return nil, fmt.Errorf("%w: descriptor checksum is %q but the descriptor hashes to %q (typo?)", ErrBadChecksum, sum, want)
		}
	} else if _, err := DescriptorChecksum(body); err != nil {
		return nil, err
	}

	for _, form := range descriptorForms {
		if !strings.HasPrefix(body, form.open) {
			continue
		}
		if !strings.HasSuffix(body, form.close) || len(body) < len(form.open)+len(form.close) {
			return nil, fmt.Errorf("%w: %s... is missing its closing parenthesis", ErrMalformedKey, form.open)
		}
		inner := body[len(form.open) : len(body)-len(form.close)]
		if form.addrType == P2TR && strings.ContainsRune(inner, ',') {
			return nil, fmt.Errorf("%w: tr() with a script tree; chainpay supports key-path-only tr(KEY/0/*) (BIP 86)", ErrUnsupportedDescriptor)
		}
		w, err := parseKeyExpression(inner, n, params)
		if err != nil {
			return nil, err
		}
		w.addrType = form.addrType
		return w, nil
	}

	name, _, found := strings.Cut(body, "(")
	if !found || name == "" {
		return nil, fmt.Errorf("%w: not an extended key or a descriptor like wpkh(KEY/0/*)", ErrMalformedKey)
	}
	return nil, fmt.Errorf("%w: %s(...); chainpay supports pkh, wpkh, sh(wpkh) and tr with one extended public key",
		ErrUnsupportedDescriptor, name)
}

// parseKeyExpression parses [origin]KEY/step/.../* where KEY is an extended
// public key and every step is unhardened.
func parseKeyExpression(expr string, n Network, params *chaincfg.Params) (*Wallet, error) {
	var origin *keyOrigin
	if strings.HasPrefix(expr, "[") {
		end := strings.IndexByte(expr, ']')
		if end < 0 {
			return nil, fmt.Errorf("%w: key origin '[' has no closing ']'", ErrMalformedKey)
		}
		o, err := parseKeyOrigin(expr[1:end])
		if err != nil {
			return nil, err
		}
		origin = o
		expr = expr[end+1:]
	}
	if strings.ContainsAny(expr, "[]") {
		return nil, fmt.Errorf("%w: misplaced or repeated key origin brackets", ErrMalformedKey)
	}
	if strings.ContainsAny(expr, "(),") {
		return nil, fmt.Errorf("%w: expected one key expression, found nested script or several keys", ErrUnsupportedDescriptor)
	}
	keyStr, rest, _ := strings.Cut(expr, "/")
	if keyStr == "" {
		return nil, fmt.Errorf("%w: key expression has no key", ErrMalformedKey)
	}
	if isHexPubKey(keyStr) {
		return nil, fmt.Errorf("%w: a single public key gives only one address; use an extended public key with /0/*",
			ErrUnsupportedDescriptor)
	}
	key, _, err := parseExtendedKey(keyStr, n, params)
	if err != nil {
		return nil, err
	}
	if rest == "" {
		return nil, fmt.Errorf("%w: key has no /* wildcard; chainpay derives a new address per invoice, use KEY/0/*",
			ErrUnsupportedDescriptor)
	}
	steps := strings.Split(rest, "/")
	last := steps[len(steps)-1]
	var path []uint32
	for _, st := range steps[:len(steps)-1] {
		if strings.HasPrefix(st, "<") {
			return nil, fmt.Errorf("%w: multipath step %s; give the receive chain only, e.g. /0/*", ErrUnsupportedDescriptor, st)
		}
		step, hardened, err := parsePathStep(st)
		if err != nil {
			return nil, err
		}
		if hardened {
			return nil, fmt.Errorf("%w: step %s after the extended key", ErrHardenedDerivation, st)
		}
		path = append(path, step)
	}
	switch last {
	case "*":
	case "*h", "*'", "*H":
		return nil, fmt.Errorf("%w: hardened wildcard %s", ErrHardenedDerivation, last)
	default:
		if strings.HasPrefix(last, "<") {
			return nil, fmt.Errorf("%w: multipath step %s; give the receive chain only, e.g. /0/*", ErrUnsupportedDescriptor, last)
		}
		if _, _, err := parsePathStep(last); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: descriptor must end in /* (ranged); chainpay derives a new address per invoice",
			ErrUnsupportedDescriptor)
	}
	return &Wallet{network: n, params: params, key: key, origin: origin, path: path}, nil
}

// parseKeyOrigin parses "fingerprint/step/step" (without brackets).
func parseKeyOrigin(s string) (*keyOrigin, error) {
	parts := strings.Split(s, "/")
	fp := parts[0]
	if len(fp) != 8 {
		return nil, fmt.Errorf("%w: key origin fingerprint must be 8 hex characters, got %d", ErrMalformedKey, len(fp))
	}
	var o keyOrigin
	if _, err := hex.Decode(o.fingerprint[:], []byte(fp)); err != nil {
		return nil, fmt.Errorf("%w: key origin fingerprint is not hex", ErrMalformedKey)
	}
	for _, st := range parts[1:] {
		step, hardened, err := parsePathStep(st)
		if err != nil {
			return nil, fmt.Errorf("key origin: %w", err)
		}
		if hardened {
			step += hdkeychain.HardenedKeyStart
		}
		o.path = append(o.path, step)
	}
	return &o, nil
}

// parsePathStep parses one BIP 32 step "NUM", "NUMh" or "NUM'".
func parsePathStep(st string) (uint32, bool, error) {
	hardened := false
	num := st
	if strings.HasSuffix(st, "h") || strings.HasSuffix(st, "'") {
		hardened = true
		num = st[:len(st)-1]
	}
	if num == "" {
		return 0, false, fmt.Errorf("%w: empty derivation step", ErrMalformedKey)
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false, fmt.Errorf("%w: derivation step %q is not NUM, NUMh or NUM'", ErrMalformedKey, st)
		}
	}
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil || v >= hdkeychain.HardenedKeyStart {
		return 0, false, fmt.Errorf("%w: derivation step %q is out of range (max %d)", ErrMalformedKey, st, hdkeychain.HardenedKeyStart-1)
	}
	return uint32(v), hardened, nil
}

// isHexPubKey reports whether s looks like a hex-encoded raw public key.
func isHexPubKey(s string) bool {
	if len(s) != 66 && len(s) != 130 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// canonicalDescriptor renders the wallet as a descriptor with checksum.
func (w *Wallet) canonicalDescriptor() string {
	var key strings.Builder
	if w.origin != nil {
		key.WriteString(w.origin.String())
	}
	key.WriteString(w.key.String())
	for _, step := range w.path {
		key.WriteByte('/')
		key.WriteString(strconv.FormatUint(uint64(step), 10))
	}
	key.WriteString("/*")
	var body string
	switch w.addrType {
	case P2SHP2WPKH:
		body = "sh(wpkh(" + key.String() + "))"
	case P2WPKH:
		body = "wpkh(" + key.String() + ")"
	case P2PKH:
		body = "pkh(" + key.String() + ")"
	case P2TR:
		body = "tr(" + key.String() + ")"
	}
	sum, err := DescriptorChecksum(body)
	if err != nil {
		// Unreachable: the body holds only base58, digits and "[]()/*h".
		return body
	}
	return body + "#" + sum
}
