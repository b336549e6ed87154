package regtest

import (
	"fmt"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
)

// MerchantTpub returns the account-level BIP84 extended public key (m/84'/1'/0', regtest)
// of seed: the watch-only key a demo or test merchant gives chainpay. The private side
// exists only here, in dev and test tooling; chainpay itself never sees it.
func MerchantTpub(seed []byte) (string, error) {
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		return "", fmt.Errorf("merchant tpub: %w", err)
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			return "", fmt.Errorf("merchant tpub: %w", err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		return "", fmt.Errorf("merchant tpub: %w", err)
	}
	return pub.String(), nil
}

// RandomMerchantTpub is MerchantTpub of a fresh random seed.
func RandomMerchantTpub() (string, error) {
	seed, err := hdkeychain.GenerateSeed(32)
	if err != nil {
		return "", err
	}
	return MerchantTpub(seed)
}
