package bitcoin

import (
	"encoding/binary"
	"math/big"
	"math/bits"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// scriptKind classifies an output script by its standard template.
type scriptKind uint8

const (
	kindOther  scriptKind = iota
	kindP2WPKH            // OP_0 <20>
	kindP2TR              // OP_1 <32>
	kindP2WSH             // OP_0 <32>
	kindP2PKH             // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
	kindP2SH              // OP_HASH160 <20> OP_EQUAL
)

// classify returns the template of script and the offset of its 20- or
// 32-byte program. It only inspects the length and a few fixed bytes.
func classify(script []byte) (scriptKind, int) {
	switch len(script) {
	case 22:
		if script[0] == 0x00 && script[1] == 0x14 {
			return kindP2WPKH, 2
		}
	case 34:
		if script[1] == 0x20 {
			switch script[0] {
			case 0x51:
				return kindP2TR, 2
			case 0x00:
				return kindP2WSH, 2
			}
		}
	case 25:
		if script[0] == 0x76 && script[1] == 0xa9 && script[2] == 0x14 && script[23] == 0x88 && script[24] == 0xac {
			return kindP2PKH, 3
		}
	case 23:
		if script[0] == 0xa9 && script[1] == 0x14 && script[22] == 0x87 {
			return kindP2SH, 2
		}
	}
	return kindOther, 0
}

// ScriptSet is the set of output scripts chainpay watches, each with an
// owner reference (for example the id of the invoice address that produced
// it). Standard scripts are stored by their fixed-size program in one map per
// template, so a lookup hashes at most 32 bytes and costs the same for ten
// scripts or ten million; other scripts fall back to a map keyed by the whole
// script. In front of the maps sits a one-hash bit filter of about 16 bits per
// script, indexed by the program's first bytes (hash output, so uniform):
// it fits in the CPU cache where the maps do not, and turns away about 94% of
// the outputs that are not watched before they touch a map.
//
// Lookups may run concurrently; Add and Remove need exclusive access. The
// zero value is an empty set ready to use.
type ScriptSet struct {
	filter []uint64 // bit i set: some watched program hashes to i
	mask   uint64   // number of filter bits - 1 (a power of two - 1)
	fixed  int      // standard scripts added (drives filter growth)

	p2wpkh map[[20]byte]uint64
	p2pkh  map[[20]byte]uint64
	p2sh   map[[20]byte]uint64
	p2tr   map[[32]byte]uint64
	p2wsh  map[[32]byte]uint64
	other  map[string]uint64
}

// NewScriptSet returns an empty set whose filter is sized for about capacity
// scripts. The maps are not pre-sized: the mix of templates is unknown, and
// Go maps grow table by table without a stop-the-world rehash. The set stays
// correct beyond capacity; the filter doubles as it fills.
func NewScriptSet(capacity int) *ScriptSet {
	s := &ScriptSet{}
	s.resizeFilter(capacity)
	return s
}

// filterBitsPerScript trades cache footprint for false positives: with one
// hash and 16 bits per script about 1 - e^(-1/16) = 6% of unwatched programs
// pass the filter.
const filterBitsPerScript = 16

// minFilterBits keeps small sets from rebuilding the filter often.
const minFilterBits = 1 << 16

// filterIndex picks the filter bit for a standard program; kind is mixed in
// so that equal programs under different templates spread apart.
func filterIndex(program []byte, kind scriptKind) uint64 {
	return binary.LittleEndian.Uint64(program[:8]) ^ uint64(kind)*0x9e3779b97f4a7c15
}

// resizeFilter rebuilds the filter for about n standard scripts.
func (s *ScriptSet) resizeFilter(n int) {
	nbits := uint64(minFilterBits)
	if want := uint64(max(n, 0)) * filterBitsPerScript; want > nbits {
		nbits = 1 << bits.Len64(want-1)
	}
	s.filter = make([]uint64, nbits/64)
	s.mask = nbits - 1
	for p := range s.p2wpkh {
		s.setBit(p[:], kindP2WPKH)
	}
	for p := range s.p2pkh {
		s.setBit(p[:], kindP2PKH)
	}
	for p := range s.p2sh {
		s.setBit(p[:], kindP2SH)
	}
	for p := range s.p2tr {
		s.setBit(p[:], kindP2TR)
	}
	for p := range s.p2wsh {
		s.setBit(p[:], kindP2WSH)
	}
}

func (s *ScriptSet) setBit(program []byte, kind scriptKind) {
	i := filterIndex(program, kind) & s.mask
	s.filter[i>>6] |= 1 << (i & 63)
}

// mayContain reports whether a standard program can be in the set; false
// is definite.
func (s *ScriptSet) mayContain(program []byte, kind scriptKind) bool {
	if s.filter == nil {
		return false
	}
	i := filterIndex(program, kind) & s.mask
	return s.filter[i>>6]&(1<<(i&63)) != 0
}

// Add watches script on behalf of ref, replacing the reference if the script
// was already watched. The set keeps a copy; script may be reused afterwards.
func (s *ScriptSet) Add(script []byte, ref uint64) {
	kind, off := classify(script)
	if kind != kindOther {
		// Count conservatively (a replaced script counts twice); the
		// count only decides when the filter grows.
		s.fixed++
		if s.filter == nil || uint64(s.fixed)*filterBitsPerScript > s.mask+1 {
			s.resizeFilter(2 * s.fixed)
		}
		s.setBit(script[off:], kind)
	}
	switch kind {
	case kindP2WPKH:
		if s.p2wpkh == nil {
			s.p2wpkh = make(map[[20]byte]uint64)
		}
		s.p2wpkh[[20]byte(script[off:])] = ref
	case kindP2PKH:
		if s.p2pkh == nil {
			s.p2pkh = make(map[[20]byte]uint64)
		}
		s.p2pkh[[20]byte(script[off:off+20])] = ref
	case kindP2SH:
		if s.p2sh == nil {
			s.p2sh = make(map[[20]byte]uint64)
		}
		s.p2sh[[20]byte(script[off:off+20])] = ref
	case kindP2TR:
		if s.p2tr == nil {
			s.p2tr = make(map[[32]byte]uint64)
		}
		s.p2tr[[32]byte(script[off:])] = ref
	case kindP2WSH:
		if s.p2wsh == nil {
			s.p2wsh = make(map[[32]byte]uint64)
		}
		s.p2wsh[[32]byte(script[off:])] = ref
	default:
		if s.other == nil {
			s.other = make(map[string]uint64)
		}
		s.other[string(script)] = ref
	}
}

// Remove stops watching script. Removing a script that is not watched does
// nothing. The filter keeps the script's bit (other scripts may share it),
// which only costs a map lookup for outputs that hit it.
func (s *ScriptSet) Remove(script []byte) {
	kind, off := classify(script)
	switch kind {
	case kindP2WPKH:
		delete(s.p2wpkh, [20]byte(script[off:]))
	case kindP2PKH:
		delete(s.p2pkh, [20]byte(script[off:off+20]))
	case kindP2SH:
		delete(s.p2sh, [20]byte(script[off:off+20]))
	case kindP2TR:
		delete(s.p2tr, [32]byte(script[off:]))
	case kindP2WSH:
		delete(s.p2wsh, [32]byte(script[off:]))
	default:
		delete(s.other, string(script))
	}
}

// Lookup returns the reference script was added with, and whether it is
// watched. It does not allocate.
func (s *ScriptSet) Lookup(script []byte) (uint64, bool) {
	var ref uint64
	var ok bool
	kind, off := classify(script)
	if kind != kindOther && !s.mayContain(script[off:], kind) {
		return 0, false
	}
	switch kind {
	case kindP2WPKH:
		ref, ok = s.p2wpkh[[20]byte(script[off:])]
	case kindP2PKH:
		ref, ok = s.p2pkh[[20]byte(script[off:off+20])]
	case kindP2SH:
		ref, ok = s.p2sh[[20]byte(script[off:off+20])]
	case kindP2TR:
		ref, ok = s.p2tr[[32]byte(script[off:])]
	case kindP2WSH:
		ref, ok = s.p2wsh[[32]byte(script[off:])]
	default:
		ref, ok = s.other[string(script)]
	}
	return ref, ok
}

// Len returns the number of watched scripts.
func (s *ScriptSet) Len() int {
	return len(s.p2wpkh) + len(s.p2pkh) + len(s.p2sh) + len(s.p2tr) + len(s.p2wsh) + len(s.other)
}

// Match is one block output paying a watched script.
type Match struct {
	// TxID is the id (non-witness hash) of the paying transaction.
	TxID chainhash.Hash
	// TxIndex is the transaction's position in the block (0 = coinbase).
	TxIndex int
	// Vout is the output's index in the transaction.
	Vout uint32
	// PkScript is the output script; it shares memory with the block.
	PkScript []byte
	// Amount is the output value in satoshi.
	Amount *big.Int
	// Ref is the owner reference the script was added with.
	Ref uint64
}

// MatchBlock returns every output of b that pays a script in s, in block
// order. It does one map lookup per output and hashes a transaction only when
// one of its outputs matches. It validates nothing: the block is assumed to
// come from a node that did.
func MatchBlock(b *wire.MsgBlock, s *ScriptSet) []Match {
	var matches []Match
	for i, tx := range b.Transactions {
		var txid chainhash.Hash
		hashed := false
		for vout, out := range tx.TxOut {
			ref, ok := s.Lookup(out.PkScript)
			if !ok {
				continue
			}
			if !hashed {
				txid = tx.TxHash()
				hashed = true
			}
			matches = append(matches, Match{
				TxID:     txid,
				TxIndex:  i,
				Vout:     uint32(vout),
				PkScript: out.PkScript,
				Amount:   big.NewInt(out.Value),
				Ref:      ref,
			})
		}
	}
	return matches
}
