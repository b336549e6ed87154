// Package invoices holds the invoice aggregate: its pure state machine (this file's contract)
// and the service that creates, reads, cancels and resolves invoices.
//
// # State machine
//
// Evaluate, Progress, Resolve and Cancel are pure functions of (State, options, payments,
// now): no I/O, no clock, no globals. The service loads an invoice with its options and
// payments, calls them, and stores the returned state and events in one transaction.
//
// Statuses (DESIGN §4): new, processing, settled, expired, invalid. The transitions are the
// table Transitions in state.go (rendered in docs/invoices.md by TransitionTable): only the
// merchant's decisions (Resolve sets FlagMarked, Cancel sets FlagCanceled) are final;
// expired and invalid are outcomes of the chain, recomputed whenever the payments change, and
// a machine settlement stays settled (a payment lost after it sets FlagReorged).
//
// # Counting payments
//
// A payment counts when its status is PaymentMempool or PaymentConfirmed and it was seen no
// later than MonitorUntil. Removed payments never count; payments seen after MonitorUntil are
// ignored entirely (they set no flag either). A MonitorUntil before ExpiresAt is read as
// ExpiresAt. Payments add up across transactions and across options as exact fractions of
// what each option asks:
//
//	fraction = Σ amount_i / AmountDue(option_i)        (big.Rat, no rounding)
//
// A payment has enough confirmations when its depth is at least its option's Confirmations; a
// mempool payment has depth 0, so with Confirmations = 0 the mempool counts.
//
// # Threshold
//
// The invoice is paid in full when fraction > 0 and fraction ≥ 1 − tol, where
//
//	tol = max(TolerancePercent/100, ToleranceFloor/Price)       clamped to [0, 1]
//
// computed exactly. Exactly at the edge counts as paid. A floor at or above the price makes
// tol 1: any positive payment pays, and nothing paid never does.
//
// # Transitions (Evaluate)
//
// Only payments seen at or before ExpiresAt ("in time") decide the status. now is the chain
// time (DESIGN §4): the service passes the earliest chain time of the followers of the
// invoice's chains, never the wall clock of a follower that is behind. The rules, in order:
//
//   - new, processing, expired, invalid → settled when the in-time payments with enough
//     confirmations reach the threshold (SettledAt = now; EventSettled), even after the
//     monitoring window.
//   - new, expired, invalid → processing when the in-time payments reach the threshold and
//     now ≤ MonitorUntil (EventProcessing).
//   - new, processing, expired → invalid when they reach it but now > MonitorUntil (not
//     confirmed within the window: provisional, settles if they confirm later).
//   - processing → invalid when the in-time payments drop below the threshold (a payment was
//     removed: double spend, reorg, eviction).
//   - new → expired when now ≥ ExpiresAt (exactly at expiry is expired).
//
// Evaluate follows rules until none applies, so one call reaches the fixed point and
// evaluating its result again emits nothing and changes nothing. Once an invoice carries
// FlagMarked or FlagCanceled, Evaluate never changes its status again; it still maintains
// paid_over, paid_late and reorged.
//
// # Flags
//
// Flags are a sorted set without duplicates. Late payments count toward paid_partial and
// paid_over, never toward the status.
//
//   - paid_partial: 0 < fraction < threshold over all counted payments; cleared once paid in
//     full (or when nothing counted is left). Left untouched once the invoice is marked.
//   - paid_over: more than due whatever the tolerance — fraction exceeds 1 by at least one
//     atomic unit of the option of the latest payment, so topping up with the rounded-up
//     remaining amount in another asset is not an overpayment; it follows the payments (a
//     removed overpayment clears it).
//   - paid_late: a counted payment with a positive amount was seen after ExpiresAt (and no
//     later than MonitorUntil). Set once with EventPaidLate, never cleared. The status does
//     not change; the merchant decides with Resolve.
//   - reorged: a settled invoice had a payment removed and what is left no longer reaches the
//     threshold (deep reorg, double spend of a 0-conf payment). Set once with EventReorged,
//     never cleared; the status stays settled and the ledger posts a reversal. A payment that
//     comes back (re-mined) changes nothing. The machine settles on in-time payments and
//     judges machine-settled invoices by them; for a marked invoice it cannot know what the
//     merchant relied on and judges by all counted payments. A payment that only loses
//     confirmations but stays in the mempool still counts and is not a reorg.
//   - marked: set by Resolve.
//
// Events are returned in order: status events first, then EventPaidLate, then EventReorged.
//
// # Merchant actions
//
// Resolve moves an invoice to settled or invalid with a reason, sets FlagMarked and emits
// EventResolved then EventSettled or EventInvalid; it fails with ErrResolveStatus,
// ErrResolveSame or ErrReasonRequired. Cancel moves a new invoice without any payment (of any
// status) to invalid and emits EventInvalid; otherwise ErrNotCancelable.
//
// # Bad input
//
// Evaluate and Progress never panic: options without an id or a positive AmountDue, payments
// to unknown options, with a nil or negative amount or an unknown status are skipped, and a
// tolerance percentage they cannot convert exactly counts as 0 %. Validate reports such input
// as an error wrapping ErrBadInput that names the field, so callers can refuse it up front.
package invoices
