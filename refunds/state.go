package refunds

import (
	"fmt"
	"strings"

	"github.com/chainpay/chainpay/store"
)

// Status is a refund's status (store.Refund* constants).
type Status = string

// Event types of refunds, stored as invoice events and delivered as webhooks.
const (
	EventCreated   = "refund.created"
	EventClaimed   = "refund.claimed"
	EventSent      = "refund.sent"
	EventCompleted = "refund.completed"
	EventReversed  = "refund.reversed"
	EventDropped   = "refund.dropped"
	EventCancelled = "refund.cancelled"
	EventFailed    = "refund.failed"
)

// EventTypes lists every refund event type.
func EventTypes() []string {
	return []string{EventCreated, EventClaimed, EventSent, EventCompleted, EventReversed, EventDropped, EventCancelled, EventFailed}
}

// Transition is one allowed change of a refund's status: what causes it, the event it
// emits and what the books do.
type Transition struct {
	From, To Status
	Cause    string
	Event    string
	Books    string
}

// Transitions is the refund state machine: a change not listed here is refused (a
// StateError). pending → claimed → sent → completed, with cancelled and failed ending a
// refund that did not complete; a reorg can take a sent or completed refund back.
var Transitions = []Transition{
	{store.RefundPending, store.RefundClaimed, "the customer claims it on the refund page (the merchant's destination at creation claims it at once)", EventClaimed, "nothing"},
	{store.RefundPending, store.RefundCancelled, "the merchant cancels it", EventCancelled, "nothing"},
	{store.RefundClaimed, store.RefundCancelled, "the merchant cancels it (nothing was sent yet)", EventCancelled, "nothing"},
	{store.RefundClaimed, store.RefundSent, "a transaction of the merchant's (spending a coin of its wallet / sent from its treasury) paying at least the amount to the destination is seen (mempool or block)", EventSent, "nothing"},
	{store.RefundClaimed, store.RefundFailed, "the merchant gives it up after a transaction was refused (reason required)", EventFailed, "nothing"},
	{store.RefundSent, store.RefundCompleted, "the transaction has the chain's confirmations", EventCompleted, "one refund record"},
	{store.RefundSent, store.RefundClaimed, "the transaction is in no block and gone from the mempool (evicted, replaced by one paying elsewhere, reorged out): missing from two mempool snapshots, or on a chain without a visible mempool not mined again within the follower's orphan grace (12 blocks)", EventDropped, "nothing"},
	{store.RefundSent, store.RefundFailed, "the merchant gives it up after its transaction vanished (reason required)", EventFailed, "nothing"},
	{store.RefundCompleted, store.RefundSent, "a reorg took the transaction's block out (it waits to be mined again)", EventReversed, "the refund record is reversed"},
}

// CanTransition reports whether a refund may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, t := range Transitions {
		if t.From == from && t.To == to {
			return true
		}
	}
	return false
}

// Final reports whether no transition leaves the status.
func Final(s Status) bool {
	for _, t := range Transitions {
		if t.From == s {
			return false
		}
	}
	return true
}

// TransitionTable renders Transitions as the Markdown table of docs/refunds.md.
func TransitionTable() string {
	var b strings.Builder
	b.WriteString("| from | what happened | to | event | books |\n|---|---|---|---|---|\n")
	for _, t := range Transitions {
		ev := t.Event
		if ev == "" {
			ev = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.From, t.Cause, t.To, ev, t.Books)
	}
	return b.String()
}

// Reserves reports whether a refund in status s counts against the invoice's refundable
// amount: every status but cancelled and failed.
func Reserves(s Status) bool { return s != store.RefundCancelled && s != store.RefundFailed }
