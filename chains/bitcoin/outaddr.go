package bitcoin

import (
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
)

// OutputAddress returns the address an output script pays, in the network's standard
// encoding (the form a Wallet hands deposit addresses out in), for the templates that have
// one: P2WPKH, P2TR, P2WSH, P2PKH and P2SH. Other scripts (bare keys and multisig,
// OP_RETURN, nonstandard ones) have none: ok is false. It reads only the script's template
// bytes (see classify), so it never fails on hostile input.
func OutputAddress(script []byte, p *chaincfg.Params) (string, bool) {
	kind, off := classify(script)
	var (
		a   btcutil.Address
		err error
	)
	switch kind {
	case kindP2WPKH:
		a, err = btcutil.NewAddressWitnessPubKeyHash(script[off:off+20], p)
	case kindP2WSH:
		a, err = btcutil.NewAddressWitnessScriptHash(script[off:off+32], p)
	case kindP2TR:
		a, err = btcutil.NewAddressTaproot(script[off:off+32], p)
	case kindP2PKH:
		a, err = btcutil.NewAddressPubKeyHash(script[off:off+20], p)
	case kindP2SH:
		a, err = btcutil.NewAddressScriptHashFromHash(script[off:off+20], p)
	default:
		return "", false
	}
	if err != nil {
		return "", false
	}
	return a.EncodeAddress(), true
}
