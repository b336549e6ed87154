// Package money holds chainpay's exact amounts: assets, parsing and
// formatting of decimal amount strings, the ISO 4217 currency table, and the
// conversions between fiat prices and crypto amounts used by quotes and
// settlements. It is a leaf package: it imports only the standard library and
// github.com/shopspring/decimal.
//
// # Amounts
//
// An amount is a *big.Int of atomic units (cents, satoshi, wei, token base
// units) together with the scale of its Asset: 2500 at scale 2 is 25.00 USD,
// 1 at scale 8 is one satoshi. Amounts are never floats. The largest amount
// has MaxDigits (78) digits, the precision of the NUMERIC(78,0) column that
// stores it, which holds any uint256 token balance.
//
// ParseAmount reads untrusted decimal strings ("25.00", "0.5", "12") with a
// deliberately narrow grammar and sentinel errors for each kind of rejection;
// FormatAmount writes the canonical string with exactly scale fractional
// digits. JSON carries every amount as such a string.
//
// # Assets
//
// An Asset is a code, a scale, and for crypto a chain and (for tokens) a
// contract. Its String form follows the formance ledger convention,
// "USD/2", "BTC/8@bitcoin", "USDC/6@ethereum:0xA0b8...", and ParseAsset
// reads it back. Currency and Currencies give the active ISO 4217 currencies
// with their minor units; BTC, ETH, USDC and USDT give the default crypto
// assets.
//
// # Conversions
//
// A quote turns a fiat price into a crypto amount due with CryptoDue: the
// price divided by the rate (the price of one whole crypto unit), rounded UP
// to the asset's scale so the merchant is never short, plus the effective
// rate back-computed from that amount so that FiatFromCrypto(due, effective)
// gives back the price exactly. A settlement converts the crypto received
// back to fiat with FiatFromCrypto, which rounds half-even, once. All of this
// is exact big-integer arithmetic; shopspring/decimal is used only to carry
// rates in and out, and package decimal's global DivisionPrecision is never
// consulted.
package money
