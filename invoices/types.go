package invoices

import (
	"math/big"
	"time"

	"github.com/shopspring/decimal"
)

// Status is an invoice's lifecycle status (DESIGN §4).
type Status string

// Invoice statuses.
const (
	StatusNew        Status = "new"        // waiting for payment
	StatusProcessing Status = "processing" // paid in full, waiting for confirmations
	StatusSettled    Status = "settled"    // paid in full with enough confirmations
	StatusExpired    Status = "expired"    // not paid in full before expiry (recomputed if the chain changes)
	StatusInvalid    Status = "invalid"    // payment vanished or unconfirmed at the monitoring end (recomputed), or canceled/resolved (final)
)

// Flag is an exception flag beside the status.
type Flag string

// Exception flags.
const (
	FlagPaidPartial Flag = "paid_partial" // something was paid, not enough
	FlagPaidOver    Flag = "paid_over"    // more than the amount due was paid
	FlagPaidLate    Flag = "paid_late"    // a payment arrived after expiry, inside the monitoring window
	FlagMarked      Flag = "marked"       // the merchant resolved the invoice by hand
	FlagCanceled    Flag = "canceled"     // the merchant canceled the invoice (final, like marked)
	FlagReorged     Flag = "reorged"      // a payment counted for settlement left the chain after settlement
)

// Event types. Each state change is stored as one of these and delivered as a webhook.
const (
	EventCreated         = "invoice.created"
	EventPaymentReceived = "invoice.payment_received"
	// EventPaymentConfirmed is stored once per payment, when it first reaches the
	// confirmations its option requires (0: when first seen); a reorg never makes it
	// happen again for the same payment (see Service.ReviewTx).
	EventPaymentConfirmed = "invoice.payment_confirmed"
	EventProcessing       = "invoice.processing"
	EventSettled          = "invoice.settled"
	EventExpired          = "invoice.expired"
	EventInvalid          = "invoice.invalid"
	EventPaidLate         = "invoice.paid_late"
	EventReorged          = "invoice.reorged"
	EventResolved         = "invoice.resolved"
)

// Payment statuses as the watcher reports them.
const (
	PaymentMempool   = "mempool"   // seen, not in a block
	PaymentConfirmed = "confirmed" // in a block of the best chain
	PaymentRemoved   = "removed"   // replaced, double-spent or reorged out
)

// Policy holds the payment tolerance: an invoice counts as paid when the amount missing is at
// most max(TolerancePercent % of the price, ToleranceFloor). Both zero means exact payment.
type Policy struct {
	TolerancePercent decimal.Decimal // 0 ≤ p < 100
	ToleranceFloor   *big.Int        // in the price currency's atomic units; nil = 0
}

// State is the part of an invoice the state machine reads and writes.
type State struct {
	Status       Status
	Flags        []Flag // a set, kept sorted
	Price        *big.Int
	ExpiresAt    time.Time
	MonitorUntil time.Time // late payments are recorded until then
	SettledAt    *time.Time
	Policy       Policy
}

// Option is one payment option of the invoice: what is due in its asset and how many
// confirmations its chain needs.
type Option struct {
	ID            string
	AmountDue     *big.Int // atomic units of the option's asset; > 0
	Confirmations int      // required; 0 allowed (settles on first sight)
}

// Payment is an on-chain transfer to one option's deposit address.
type Payment struct {
	ID            string
	OptionID      string
	Amount        *big.Int // atomic units of the option's asset
	Status        string   // PaymentMempool, PaymentConfirmed or PaymentRemoved
	Confirmations int      // depth of its block: 0 in the mempool, 1 in the tip block
	SeenAt        time.Time
}
