package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// KeyDerivation is where the key of one receive address comes from, as BIP 174 PSBTs
// carry it for a signer: the compressed public key, the fingerprint of the key the path
// starts at, and the path.
type KeyDerivation struct {
	PubKey      []byte
	Fingerprint [4]byte  // the master key's fingerprint when the descriptor names its origin
	Path        []uint32 // hardened steps have hdkeychain.HardenedKeyStart added
}

// KeyDerivation returns the derivation of the receive key at index. With a descriptor key
// origin ([fingerprint/84h/0h/0h]xpub...) the path starts at the master key, as hardware
// wallets expect; for a bare extended key it starts at that key (fingerprint of the
// account key, path 0/index), which software wallets holding the account key can match.
func (w *Wallet) KeyDerivation(index uint32) (KeyDerivation, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return KeyDerivation{}, fmt.Errorf("%w: %d is a hardened index", ErrIndexOutOfRange, index)
	}
	child, err := w.chain.Derive(index)
	if err != nil {
		return KeyDerivation{}, fmt.Errorf("derive key %d: %w", index, err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return KeyDerivation{}, fmt.Errorf("derive key %d: %w", index, err)
	}
	return w.derivation(pub.SerializeCompressed(), append(append([]uint32{}, w.path...), index))
}

// derivation is the KeyDerivation of pub at path (steps below the wallet's key): from the
// descriptor's origin when it names one, else from the wallet's key itself.
func (w *Wallet) derivation(pub []byte, path []uint32) (KeyDerivation, error) {
	d := KeyDerivation{PubKey: pub}
	if w.origin != nil {
		d.Fingerprint = w.origin.fingerprint
		d.Path = append(d.Path, w.origin.path...)
	} else {
		kp, err := w.key.ECPubKey()
		if err != nil {
			return KeyDerivation{}, err
		}
		copy(d.Fingerprint[:], btcutil.Hash160(kp.SerializeCompressed())[:4])
	}
	d.Path = append(d.Path, path...)
	return d, nil
}

// TxOut returns the unspent output op as the node sees it (gettxout, mempool spends
// included), with its confirmations; found is false when it is spent or unknown.
func (n *Node) TxOut(ctx context.Context, op wire.OutPoint) (out *wire.TxOut, confirmations int64, found bool, err error) {
	err = n.rpc.do(ctx, "bitcoin txout "+op.String(), func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "gettxout", op.Hash.String(), op.Index, true)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			found = false
			return nil
		}
		var v struct {
			Confirmations int64   `json:"confirmations"`
			Value         float64 `json:"value"`
			ScriptPubKey  struct {
				Hex string `json:"hex"`
			} `json:"scriptPubKey"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%w: gettxout: %v", ErrBadResponse, err)
		}
		script, err := hex.DecodeString(v.ScriptPubKey.Hex)
		if err != nil {
			return fmt.Errorf("%w: gettxout: script: %v", ErrBadResponse, err)
		}
		// value is BTC as a JSON number with at most 8 decimals: round to satoshi.
		sats := int64(math.Round(v.Value * 1e8))
		out, confirmations, found = wire.NewTxOut(sats, script), v.Confirmations, true
		return nil
	})
	return out, confirmations, found, err
}

// EstimateFeeRate asks the node for a fee rate (estimatesmartfee) for confirmation within
// target blocks, in satoshi per kilo-virtual-byte; ok is false when the node has no
// estimate (too little data, or btcd, which has no estimatesmartfee).
func (n *Node) EstimateFeeRate(ctx context.Context, target int) (satPerKvB int64, ok bool, err error) {
	err = n.rpc.do(ctx, "bitcoin estimatesmartfee", func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "estimatesmartfee", target)
		var rpcErr *RPCError
		if errors.As(err, &rpcErr) {
			ok = false // method not found (btcd) or no estimate
			return nil
		}
		if err != nil {
			return err
		}
		var v struct {
			FeeRate *float64 `json:"feerate"` // BTC/kvB
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%w: estimatesmartfee: %v", ErrBadResponse, err)
		}
		if v.FeeRate == nil || *v.FeeRate <= 0 {
			ok = false
			return nil
		}
		satPerKvB, ok = int64(math.Round(*v.FeeRate*1e8)), true
		return nil
	})
	return satPerKvB, ok, err
}

// SendRawTransaction broadcasts tx (sendrawtransaction). A transaction the node refuses is
// an *RPCError with the node's reason.
func (n *Node) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return chainhash.Hash{}, err
	}
	want := tx.TxHash()
	err := n.rpc.do(ctx, "bitcoin sendrawtransaction "+want.String(), func(ctx context.Context, ep *rpcEndpoint) error {
		raw, err := n.rpc.request(ctx, ep, "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
		if err != nil {
			return err
		}
		var got string
		if err := json.Unmarshal(raw, &got); err != nil || got != want.String() {
			return fmt.Errorf("%w: sendrawtransaction answered %s, want %s", ErrBadResponse, raw, want)
		}
		return nil
	})
	return want, err
}

// ErrNoChangeChain means the wallet's descriptor has no receive chain step (KEY/*) whose
// sibling could take change.
var ErrNoChangeChain = errors.New("the wallet has no change chain")

// Change returns the change output script and key derivation at index on the wallet's
// internal chain: the receive chain's last step 0 replaced by 1 (KEY/1/index for a bare
// key), the chain BIP 44 wallets use for change and scan by themselves. chainpay never
// watches these addresses, so change is never mistaken for a payment.
func (w *Wallet) Change(index uint32) ([]byte, KeyDerivation, error) {
	if len(w.path) == 0 || w.path[len(w.path)-1] != 0 || w.addrType != P2WPKH {
		return nil, KeyDerivation{}, ErrNoChangeChain
	}
	path := append(append([]uint32{}, w.path[:len(w.path)-1]...), 1)
	k := w.key
	var err error
	for _, step := range append(path, index) {
		if k, err = k.Derive(step); err != nil {
			return nil, KeyDerivation{}, fmt.Errorf("derive change key %d: %w", index, err)
		}
	}
	pub, err := k.ECPubKey()
	if err != nil {
		return nil, KeyDerivation{}, err
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), w.params)
	if err != nil {
		return nil, KeyDerivation{}, err
	}
	script := append([]byte{0x00, 0x14}, addr.ScriptAddress()...)
	d, err := w.derivation(pub.SerializeCompressed(), append(path, index))
	return script, d, err
}
