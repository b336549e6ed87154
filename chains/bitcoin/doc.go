// Package bitcoin turns a merchant's watch-only Bitcoin account into deposit
// addresses, payment URIs and block matches.
//
// # Watch-only, always
//
// chainpay never holds a Bitcoin private key. A merchant configures one
// account-level extended PUBLIC key or output descriptor; every parser here
// rejects extended private keys (xprv, yprv, zprv, tprv, uprv, vprv) and WIF
// private keys with [ErrPrivateKey], and error messages never echo key material.
//
// # Wallets
//
// [ParseWallet] accepts either a bare extended public key or a single-key
// output descriptor (BIP 380-386):
//
//	zpub6rFR7y4Q2Aij...            bare key: the version picks the script type
//	wpkh([73c5da0a/84h/0h/0h]xpub.../0/*)#checksum
//	sh(wpkh(xpub.../0/*))  pkh(xpub.../0/*)  tr(xpub.../0/*)
//
// Bare keys follow SLIP-0132: xpub/tpub and zpub/vpub derive native segwit
// P2WPKH (BIP 84, the default), ypub/upub derive P2SH-P2WPKH (BIP 49). Legacy
// P2PKH (BIP 44) and taproot P2TR (BIP 86, key path only) need a descriptor.
// Testnet, signet and regtest share the tpub/upub/vpub versions, so a key does
// not say which of them it belongs to; the configured [Network] decides and
// only the address encoding differs. A [Wallet] derives receive addresses
// KEY/0/index; its [Wallet.Descriptor] is the canonical descriptor with a
// BIP 380 checksum, which a merchant can import into their own wallet.
//
// # Payment URIs
//
// [BIP21] builds a `bitcoin:` URI with an exact decimal amount and RFC 3986
// percent-encoding; [ParseBIP21] parses one back, validating the address for a
// network and rejecting unknown required (`req-`) parameters.
//
// # Block matching
//
// [OutputAddress] names the address an output script pays (the five standard
// templates), in the encoding deposit addresses are handed out in: the
// watcher's source reports every such output of a block and the follower
// matches them against the store (issue 22), so no set of watched scripts is
// held in memory. [ScriptSet] and [MatchBlock] match a block against an
// in-memory set of scripts instead (hash maps keyed by the script's fixed-size
// program: one map lookup per output regardless of how many scripts are
// watched); the watcher no longer uses them, and `go run ./cmd/bench -only
// match` compares both with plain decoding.
package bitcoin
