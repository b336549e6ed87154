// Package refunds pays customers back without custody (issue 25). chainpay holds no key
// that can move a merchant's funds, so a refund is prepared by chainpay, authorised by the
// merchant's own wallet, and then watched on chain like a payment:
//
//   - A merchant creates a refund for an invoice (Service.Prepare, Service.CreateTx): an
//     amount in the invoice's fiat currency or in the asset paid, at the invoice's locked
//     rate, the current rate or an explicit one. A refund never exceeds what the invoice
//     received (its confirmed payments, applied or unapplied) minus what its other refunds
//     already take, in fiat and in the asset (Refundable).
//   - The destination is given by the merchant or claimed once by the customer on the
//     refund page /r/{id} (Service.ClaimTx, ParseDestination); it is then locked.
//   - The merchant's wallet sends the money (a PSBT chainpay builds for Bitcoin, an EIP-681
//     URI or unsigned transaction for EVM chains), and the chain follower moves the refund
//     to sent and completed.
//   - A completed refund is booked once as a `refund` ledger record (ledger.RefundRecord),
//     reversed if a reorg takes its transaction out.
//
// Statuses and their transitions are the table Transitions; docs/refunds.md renders it.
package refunds
