package bitcoin

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// childDeriver derives the public keys of one extended public key's non-hardened children
// (BIP 32 CKDpub) the way hdkeychain.ExtendedKey.Derive does, with the parent's point
// decompressed once instead of on every call, and without building the child's extended
// key. A receive address is derived on every invoice created, so this is on the create
// path: hdkeychain parses the parent's compressed key (a field square root) per child and
// the caller parsed the child's key again. TestChildDeriverMatchesHDKeychain checks the two
// agree.
type childDeriver struct {
	parent  []byte              // the parent's compressed public key (33 bytes)
	parentJ btcec.JacobianPoint // the parent's point
	macs    sync.Pool           // of hash.Hash: HMAC-SHA512 keyed with the parent's chain code
}

func newChildDeriver(parent *hdkeychain.ExtendedKey) (*childDeriver, error) {
	if parent.Depth() == 255 { // BIP 32 depth is one byte: wallets refuse to derive below it
		return nil, hdkeychain.ErrDeriveBeyondMaxDepth
	}
	pub, err := parent.ECPubKey()
	if err != nil {
		return nil, err
	}
	d := &childDeriver{parent: pub.SerializeCompressed()}
	pub.AsJacobian(&d.parentJ)
	code := parent.ChainCode()
	d.macs.New = func() any { return hmac.New(sha512.New, code) }
	return d, nil
}

// child returns the public key of child index (below hdkeychain.HardenedKeyStart), or
// hdkeychain.ErrInvalidChild for the indexes BIP 32 skips (probability about 2^-127).
func (d *childDeriver) child(index uint32) (*btcec.PublicKey, error) {
	var data [33 + 4]byte
	copy(data[:33], d.parent)
	binary.BigEndian.PutUint32(data[33:], index)
	mac := d.macs.Get().(hash.Hash)
	mac.Reset()
	_, _ = mac.Write(data[:])
	var sum [sha512.Size]byte
	i := mac.Sum(sum[:0])
	d.macs.Put(mac)

	var il btcec.ModNScalar
	if overflow := il.SetByteSlice(i[:32]); overflow {
		return nil, hdkeychain.ErrInvalidChild
	}
	var ilJ, childJ btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(&il, &ilJ)
	if (ilJ.X.IsZero() && ilJ.Y.IsZero()) || ilJ.Z.IsZero() {
		return nil, hdkeychain.ErrInvalidChild
	}
	btcec.AddNonConst(&ilJ, &d.parentJ, &childJ) // reads its inputs only: d is shared by goroutines
	if (childJ.X.IsZero() && childJ.Y.IsZero()) || childJ.Z.IsZero() {
		return nil, hdkeychain.ErrInvalidChild // the point at infinity
	}
	childJ.ToAffine()
	return btcec.NewPublicKey(&childJ.X, &childJ.Y), nil
}
