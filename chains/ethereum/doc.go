// Package ethereum holds chainpay's pure-Go pieces for Ethereum and other EVM
// chains: per-invoice deposit addresses, EIP-55 address text and EIP-681 payment
// URIs.
//
// # Deposit addresses
//
// Each invoice gets its own deposit address: the CREATE2 address at which the
// ForwarderFactory contract (see the contracts directory) will later create an
// EIP-1167 minimal-proxy clone of its Forwarder implementation. The address is
// known, and can receive ETH and tokens, long before anything is deployed there.
// It is derived as
//
//	invoiceKey   = keccak256(utf8(invoiceID))
//	salt         = keccak256(abi.encode(invoiceKey, destination))
//	initCodeHash = keccak256(EIP-1167 creation code of a clone of implementation)
//	address      = keccak256(0xff ++ factory ++ salt ++ initCodeHash)[12:]
//
// exactly as ForwarderFactory.predict computes it. Because the destination (the
// merchant's treasury) is part of the salt, and the factory initialises every
// clone with the destination its salt was derived from in the creating
// transaction, funds sent to a deposit address can only ever reach that
// destination: deploying "the same invoice" for another destination yields
// another address. The server therefore needs no key that can move funds; a
// sweeper key only pays gas for ForwarderFactory.deployAndFlush, whose calldata
// [DeployAndFlushCalldata] builds and [Sweeper] splits into bounded batches.
//
// # Addresses and URIs
//
// [ParseAddress] accepts 0x-prefixed hex in all-lower, all-upper or valid EIP-55
// mixed case and rejects a mixed-case address whose checksum is wrong (a typo).
// [FormatAddress] writes EIP-55. [PaymentURI] is an EIP-681 request for native
// currency (ethereum:0xTO@CHAIN?value=WEI) or an ERC-20 transfer
// (ethereum:0xTOKEN@CHAIN/transfer?address=0xTO&uint256=UNITS); amounts are
// exact integers in base units, never floats.
package ethereum
