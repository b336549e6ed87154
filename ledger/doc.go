// Package ledger forwards settled money to the merchant's books through one interface shared
// by card and crypto payments (DESIGN §6).
//
// # Records
//
// A Record is shaped like a card processor's balance transaction: identity (idempotency
// key, merchant, source type and id), a reporting category (charge, refund,
// charge_reversal, fee, ...), the settlement money in minor units of a fiat currency (gross,
// fee, net = gross − fee, fee details), and for crypto the original money (asset, atomic
// amount, scale), the locked exchange rate with its source and time, the fair-value rate at
// receipt, the chain evidence (txid, output, block, confirmations), balanced double-entry
// postings and metadata. Amounts are *big.Int, never floats. Record.Encode gives the
// canonical JSON (sorted keys, amounts as integer strings, UTC microsecond times); its
// SHA-256 is the payload hash sinks compare.
//
// # Exactly once
//
// The books follow the money, payment by payment (Expect, DESIGN §6): a confirmed payment
// on an accepted invoice, within the price and the monitoring window, is applied (a charge
// at the option's locked rate, PaymentFiat); any other confirmed payment is an unapplied
// receipt (suspense); anything else is not booked. The Settler, called inside every
// transaction that reviews or transitions an invoice, compares that with each payment's
// latest book row and enqueues (EnqueueTx) exactly the records that move it — a charge
// (crypto_payment:{id}:settled[:n]), an unapplied receipt (…:unapplied[:n]), the reversal
// of a charge (…:reversed[:n]) or the clearing of a receipt (…:cleared[:n]) — numbered
// 1, 2, 3, … per payment, in the SAME transaction as the change, so the records exist if
// and only if it committed. The payload is frozen in the outbox: a retry never re-prices.
// Verify recomputes the invariant and lists every payment whose books differ.
//
// A Relay claims due outbox rows under a lease (FOR UPDATE SKIP LOCKED on Postgres, so
// several replicas share the work), a payment's records strictly in their order, posts each
// to a Sink and marks it delivered. Delivery
// is at least once; every sink dedupes on the idempotency key forever, so the effect is
// exactly once. A retryable failure is rescheduled with exponential backoff and jitter; a
// conflict (same key, different payload) or an invalid record is parked for a human, listed
// by Relay.Parked and re-queued by Relay.Retry once fixed. Nothing is ever overwritten.
//
// # Sinks
//
//   - Journal: the built-in double-entry ledger in chainpay's own database (the default),
//     with per-account balances.
//   - HTTPSink: a signed JSON POST to the merchant's own ledger (see docs/ledger.md).
//   - ParseStripeCSV / ParseStripeJSON: the card adapter, turning a Stripe balance
//     transaction export into records of source type card_charge, so card and crypto money
//     sit side by side in the journal and in exports.
//
// # Chart of accounts
//
// Every record posts its fiat movement the same way: net debited to
// merchants:{id}:balance, fee debited to merchants:{id}:fees, gross credited to
// merchants:{id}:revenue:{source_type} (directions swap for negative amounts). A crypto
// payment also debits the received asset to merchants:{id}:wallets:{chain} against world.
package ledger
