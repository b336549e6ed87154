package invoices

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// The state machine: pure functions of (State, options, payments, clock). Nothing here does
// I/O, reads a clock or keeps state between calls; doc.go states the rules as a contract.
// Reading order: errors, Paid/Progress, Evaluate (status, then flags), Resolve, Cancel,
// Validate, then the arithmetic helpers (tally, threshold) at the bottom.

// Errors returned by Resolve, Cancel and Validate. They come wrapped with context; test with
// errors.Is.
var (
	// ErrResolveSame means the invoice already has the status the merchant asked for.
	ErrResolveSame = errors.New("invoice already has that status")
	// ErrResolveStatus means the merchant asked for a status other than settled or invalid.
	ErrResolveStatus = errors.New("an invoice can only be resolved to settled or invalid")
	// ErrReasonRequired means a resolve came without a reason.
	ErrReasonRequired = errors.New("a reason is required to resolve an invoice")
	// ErrNotCancelable means the invoice is not new or already has a payment.
	ErrNotCancelable = errors.New("only a new invoice without payments can be canceled")
	// ErrBadInput means Validate found a state, option or payment the machine cannot use.
	ErrBadInput = errors.New("invalid state machine input")
)

// Paid is what has been paid on an invoice, as computed by Progress.
type Paid struct {
	// Fraction is Σ amount/AmountDue over the counted payments (mempool and confirmed, seen
	// no later than MonitorUntil, late payments included). 1 means exactly the amount due.
	Fraction *big.Rat
	// Confirmed is the same sum over the payments that have their option's confirmations.
	Confirmed *big.Rat
	// Remaining maps each option ID to what is still due in that option's asset, in atomic
	// units, for the invoice to count as paid in full: ceil((threshold − Fraction) × AmountDue),
	// never negative, and at least 1 while the invoice is not paid in full.
	Remaining map[string]*big.Int
}

// Progress reports what has been paid on the invoice. It is pure and never panics; unusable
// options and payments (see Validate) are skipped.
func Progress(s State, opts []Option, pays []Payment) Paid {
	t := tallyPayments(s, opts, pays)
	out := Paid{Fraction: t.all, Confirmed: t.allConfirmed, Remaining: make(map[string]*big.Int, len(opts))}
	for _, o := range opts {
		if !usableOption(o) {
			continue
		}
		if _, dup := out.Remaining[o.ID]; dup {
			continue
		}
		out.Remaining[o.ID] = t.remaining(o.AmountDue)
	}
	return out
}

// Evaluate applies the payments at chain time now and returns the new state and the event
// types it emits, in order: status events (EventProcessing, EventSettled, EventExpired,
// EventInvalid) first, then EventPaidLate, then EventReorged. now is the chain's time (see
// DESIGN §4 "Chain time decides"), never the wall clock of a follower that is behind.
//
// It is idempotent: evaluating the returned state again with the same payments and time
// returns the same state and no events. It never mutates s, opts or pays, never panics, and
// skips options and payments it cannot use (see Validate).
func Evaluate(s State, opts []Option, pays []Payment, now time.Time) (State, []string) {
	t := tallyPayments(s, opts, pays)
	next := s
	next.Flags = normalizeFlags(s.Flags)
	marked := slices.Contains(next.Flags, FlagMarked)
	var events []string

	// 1. Status: follow Transitions until none applies, so that one call reaches the fixed
	// point (new → processing → invalid when evaluated long after the monitoring window, for
	// instance) and a second call has nothing left to do. The rules never lead back to a
	// status they left within one evaluation, so the walk is short; the bound is a guard.
	for range len(Transitions) {
		tr, ok := nextTransition(next, t, now)
		if !ok {
			break
		}
		next.Status = tr.To
		events = append(events, tr.Event)
		if tr.To == StatusSettled {
			at := now
			next.SettledAt = &at
		}
	}

	// 2. Flags that mirror the payments as they are now. paid_partial is left as the merchant
	// saw it once the invoice is marked.
	if !marked {
		next.Flags = setFlag(next.Flags, FlagPaidPartial, t.all.Sign() > 0 && !t.paid(t.all))
	}
	next.Flags = setFlag(next.Flags, FlagPaidOver, t.overpaid())

	// 3. Sticky flags: set once with their event, never cleared (they are history).
	if t.late && !slices.Contains(next.Flags, FlagPaidLate) {
		next.Flags = setFlag(next.Flags, FlagPaidLate, true)
		events = append(events, EventPaidLate)
	}
	if next.Status == StatusSettled && t.lostAfterSettlement(marked) && !slices.Contains(next.Flags, FlagReorged) {
		next.Flags = setFlag(next.Flags, FlagReorged, true)
		events = append(events, EventReorged)
	}
	return next, events
}

// Transition is one rule of the state machine: an invoice in one of the From statuses for
// which When holds moves to To and emits Event. Transitions lists them in priority order;
// docs/invoices.md shows the same table (TransitionTable renders it, a test compares).
type Transition struct {
	From   []Status
	When   string // the condition in words
	To     Status
	Event  string
	Ledger string // what the books do, in words (package ledger reconciles per payment)
	cond   func(s State, t tally, now time.Time) bool
}

// chainDecided are the statuses the chain decides. settled is not among them: a machine
// settlement stays settled (a payment lost after it sets FlagReorged and its record is
// reversed).
var chainDecided = []Status{StatusNew, StatusProcessing, StatusExpired, StatusInvalid}

// Transitions are the chain-driven edges, tried in order; the first that applies is taken.
// They never apply to an invoice the merchant decided (FlagMarked or FlagCanceled): only
// merchant decisions are final. Expired and invalid are outcomes of the chain and are
// recomputed whenever the payments change: a payment that reappears, is mined again,
// confirms late or replaces an in-time one restores what the payments justify.
var Transitions = []Transition{
	{From: chainDecided, To: StatusSettled, Event: EventSettled,
		When:   "the payments seen by expiry pay it in full and have their confirmations (even after the monitoring window)",
		Ledger: "the payments that pay the price are booked as charges once confirmed",
		cond:   func(s State, t tally, now time.Time) bool { return t.paid(t.inTimeConfirmed) }},
	{From: []Status{StatusNew, StatusExpired, StatusInvalid}, To: StatusProcessing, Event: EventProcessing,
		When:   "the payments seen by expiry pay it in full, not all confirmed yet, and the monitoring window is open",
		Ledger: "nothing is booked while unconfirmed; a confirmed payment waits as an unapplied receipt",
		cond: func(s State, t tally, now time.Time) bool {
			return t.paid(t.inTime) && !now.After(monitorUntil(s))
		}},
	{From: []Status{StatusNew, StatusProcessing, StatusExpired}, To: StatusInvalid, Event: EventInvalid,
		When:   "the payments seen by expiry pay it in full but are not all confirmed when the monitoring window ends",
		Ledger: "confirmed payments are unapplied receipts",
		cond:   func(s State, t tally, now time.Time) bool { return t.paid(t.inTime) && now.After(monitorUntil(s)) }},
	{From: []Status{StatusProcessing}, To: StatusInvalid, Event: EventInvalid,
		When:   "a payment vanished (double spend, reorg, eviction) and what is left no longer pays in full",
		Ledger: "confirmed payments left are unapplied receipts",
		cond:   func(s State, t tally, now time.Time) bool { return !t.paid(t.inTime) }},
	{From: []Status{StatusNew}, To: StatusExpired, Event: EventExpired,
		When:   "the chain time reached expiry and the payments seen by then do not pay in full",
		Ledger: "confirmed payments are unapplied receipts",
		cond:   func(s State, t tally, now time.Time) bool { return !now.Before(s.ExpiresAt) }},
}

// nextTransition returns the first transition that applies to s, if any.
func nextTransition(s State, t tally, now time.Time) (Transition, bool) {
	if decided(s) {
		return Transition{}, false
	}
	for _, tr := range Transitions {
		if tr.To != s.Status && slices.Contains(tr.From, s.Status) && tr.cond(s, t, now) {
			return tr, true
		}
	}
	return Transition{}, false
}

// decided reports whether the merchant made the invoice's status final (resolve or cancel).
func decided(s State) bool {
	return slices.Contains(s.Flags, FlagMarked) || slices.Contains(s.Flags, FlagCanceled)
}

// TransitionTable renders Transitions and the merchant's actions as the Markdown table of
// docs/invoices.md.
func TransitionTable() string {
	var b strings.Builder
	b.WriteString("| from | what happened | to | event | ledger |\n|---|---|---|---|---|\n")
	for _, tr := range Transitions {
		from := make([]string, len(tr.From))
		for i, f := range tr.From {
			from[i] = string(f)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", strings.Join(from, ", "), tr.When, tr.To, tr.Event, tr.Ledger)
	}
	for _, m := range merchantActions {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", m.from, m.when, m.to, m.events, m.ledger)
	}
	return b.String()
}

// merchantActions are the table rows of Resolve and Cancel, the final decisions.
var merchantActions = []struct{ from, when, to, events, ledger string }{
	{"any but settled", "the merchant resolves it settled (reason required; sets marked)", "settled",
		EventResolved + ", " + EventSettled, "its confirmed payments are booked as charges (unconfirmed ones when they confirm); unapplied receipts are cleared"},
	{"any but invalid", "the merchant resolves it invalid (reason required; sets marked)", "invalid",
		EventResolved + ", " + EventInvalid, "charges are reversed; its confirmed payments become unapplied receipts"},
	{"new without any payment", "the merchant cancels it (sets canceled)", "invalid",
		EventInvalid, "money paid to it later is an unapplied receipt"},
}

// Resolve records the merchant's manual decision: the invoice moves to StatusSettled or
// StatusInvalid (from any other status), gains FlagMarked, and emits EventResolved followed
// by EventSettled or EventInvalid. Resolving to settled sets SettledAt to now; resolving to
// invalid leaves SettledAt as it was. The reason is not part of State; the caller stores it.
//
// Errors, checked in this order: ErrResolveStatus (to is not settled or invalid),
// ErrResolveSame (the invoice already has status to), ErrReasonRequired (reason is blank).
func Resolve(s State, to Status, reason string, now time.Time) (State, []string, error) {
	if to != StatusSettled && to != StatusInvalid {
		return s, nil, fmt.Errorf("resolve invoice to %q: %w", to, ErrResolveStatus)
	}
	if s.Status == to {
		return s, nil, fmt.Errorf("resolve %s invoice to %s: %w", s.Status, to, ErrResolveSame)
	}
	if strings.TrimSpace(reason) == "" {
		return s, nil, fmt.Errorf("resolve invoice to %s: %w", to, ErrReasonRequired)
	}
	next := s
	next.Status = to
	next.Flags = setFlag(normalizeFlags(s.Flags), FlagMarked, true)
	if to == StatusSettled {
		at := now
		next.SettledAt = &at
	}
	ev := EventSettled
	if to == StatusInvalid {
		ev = EventInvalid
	}
	return next, []string{EventResolved, ev}, nil
}

// Cancel moves a new invoice that has no payment at all (of any status, removed included) to
// StatusInvalid with FlagCanceled (a final decision: money paid later never revives it) and
// emits EventInvalid. Anything else is ErrNotCancelable. now is accepted for symmetry with
// the other transitions; State records no cancel time.
func Cancel(s State, pays []Payment, now time.Time) (State, []string, error) {
	if s.Status != StatusNew {
		return s, nil, fmt.Errorf("cancel %s invoice: %w", s.Status, ErrNotCancelable)
	}
	if len(pays) > 0 {
		return s, nil, fmt.Errorf("cancel invoice with %d payment(s): %w", len(pays), ErrNotCancelable)
	}
	next := s
	next.Flags = setFlag(normalizeFlags(s.Flags), FlagCanceled, true)
	next.Status = StatusInvalid
	return next, []string{EventInvalid}, nil
}

// Validate reports the first problem that makes the input unusable for the machine, wrapped
// around ErrBadInput and naming the field; nil means every option and payment will be counted
// as documented. Evaluate and Progress do not require it: they skip what Validate rejects.
func Validate(s State, opts []Option, pays []Payment) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, args...)...)
	}
	switch s.Status {
	case StatusNew, StatusProcessing, StatusSettled, StatusExpired, StatusInvalid:
	default:
		return bad("status %q is unknown", s.Status)
	}
	if s.Price == nil || s.Price.Sign() <= 0 {
		return bad("price must be positive")
	}
	if s.ExpiresAt.IsZero() {
		return bad("expires_at is missing")
	}
	if s.MonitorUntil.Before(s.ExpiresAt) {
		return bad("monitor_until %s is before expires_at %s", s.MonitorUntil.Format(time.RFC3339), s.ExpiresAt.Format(time.RFC3339))
	}
	if p := s.Policy.TolerancePercent; p.Sign() < 0 || p.Exponent() < -maxPercentExponent || p.Exponent() > 2 || p.Rat().Cmp(big.NewRat(100, 1)) >= 0 {
		return bad("tolerance percent %s must be at least 0 and below 100", p)
	}
	if f := s.Policy.ToleranceFloor; f != nil && f.Sign() < 0 {
		return bad("tolerance floor %s is negative", f)
	}
	for i, f := range s.Flags {
		if i > 0 && s.Flags[i-1] >= f {
			return bad("flags %v are not a sorted set", s.Flags)
		}
	}
	seen := make(map[string]bool, len(opts))
	for _, o := range opts {
		switch {
		case o.ID == "":
			return bad("an option has no id")
		case seen[o.ID]:
			return bad("option %q appears twice", o.ID)
		case o.AmountDue == nil || o.AmountDue.Sign() <= 0:
			return bad("option %q: amount due must be positive", o.ID)
		case o.Confirmations < 0:
			return bad("option %q: confirmations %d is negative", o.ID, o.Confirmations)
		}
		seen[o.ID] = true
	}
	for _, p := range pays {
		switch {
		case !seen[p.OptionID]:
			return bad("payment %q: option %q is not an option of this invoice", p.ID, p.OptionID)
		case p.Amount == nil || p.Amount.Sign() < 0:
			return bad("payment %q: amount must be zero or more", p.ID)
		case p.Status != PaymentMempool && p.Status != PaymentConfirmed && p.Status != PaymentRemoved:
			return bad("payment %q: status %q is unknown", p.ID, p.Status)
		case p.Confirmations < 0:
			return bad("payment %q: confirmations %d is negative", p.ID, p.Confirmations)
		}
	}
	return nil
}

// tally is the arithmetic Evaluate and Progress decide on: payment sums as exact fractions of
// the amount due, and the threshold they are compared with.
type tally struct {
	threshold *big.Rat // paid in full when a sum ≥ threshold (and > 0)

	inTime          *big.Rat // counted payments seen at or before ExpiresAt
	inTimeConfirmed *big.Rat // ... of those, the ones with their option's confirmations
	all             *big.Rat // counted payments seen at or before MonitorUntil
	allConfirmed    *big.Rat // ... of those, the ones with their option's confirmations

	// lastDue is the AmountDue of the option of the latest counted payment (by SeenAt, then
	// id): paying "the remaining amount" rounds up to whole atomic units of that option, so a
	// sum above 1 by less than one of its units is rounding, not an overpayment.
	lastDue  *big.Int
	lastSeen time.Time
	lastID   string

	late    bool // a counted payment was seen after ExpiresAt
	removed bool // a payment seen at or before MonitorUntil was removed
}

// tallyPayments sums the payments. A payment counts when it is in the mempool or confirmed,
// has a non-negative amount, belongs to a usable option, and was seen no later than
// MonitorUntil; removed payments and payments seen after MonitorUntil never count.
func tallyPayments(s State, opts []Option, pays []Payment) tally {
	t := tally{threshold: threshold(s.Policy, s.Price),
		inTime: new(big.Rat), inTimeConfirmed: new(big.Rat), all: new(big.Rat), allConfirmed: new(big.Rat)}
	byID := make(map[string]Option, len(opts))
	for _, o := range opts {
		if _, dup := byID[o.ID]; usableOption(o) && !dup {
			byID[o.ID] = o
		}
	}
	until := monitorUntil(s)
	for _, p := range pays {
		o, ok := byID[p.OptionID]
		if !ok || p.Amount == nil || p.Amount.Sign() < 0 || p.SeenAt.After(until) {
			continue
		}
		if p.Status == PaymentRemoved {
			t.removed = true
			continue
		}
		if p.Status != PaymentMempool && p.Status != PaymentConfirmed {
			continue
		}
		share := new(big.Rat).SetFrac(p.Amount, o.AmountDue)
		if p.Amount.Sign() > 0 && (t.lastDue == nil || p.SeenAt.After(t.lastSeen) ||
			(p.SeenAt.Equal(t.lastSeen) && p.ID > t.lastID)) {
			t.lastDue, t.lastSeen, t.lastID = o.AmountDue, p.SeenAt, p.ID
		}
		confirmed := confirmationsOf(p) >= o.Confirmations
		inTime := !p.SeenAt.After(s.ExpiresAt)
		t.all.Add(t.all, share)
		if confirmed {
			t.allConfirmed.Add(t.allConfirmed, share)
		}
		if inTime {
			t.inTime.Add(t.inTime, share)
			if confirmed {
				t.inTimeConfirmed.Add(t.inTimeConfirmed, share)
			}
		}
		if !inTime && p.Amount.Sign() > 0 {
			t.late = true
		}
	}
	return t
}

// overpaid reports whether more than the amount due was paid: the sum exceeds 1 by at least
// one atomic unit of the option of the latest payment. Topping up with the rounded-up
// remaining amount (possibly in another asset) overshoots by less than that and is not an
// overpayment; one unit more is.
func (t tally) overpaid() bool {
	excess := new(big.Rat).Sub(t.all, big.NewRat(1, 1))
	if excess.Sign() <= 0 || t.lastDue == nil {
		return false
	}
	return excess.Mul(excess, new(big.Rat).SetInt(t.lastDue)).Cmp(big.NewRat(1, 1)) >= 0
}

// paid reports whether the fraction sum pays the invoice in full: something was paid and it
// reaches the threshold (exactly at the threshold counts).
func (t tally) paid(sum *big.Rat) bool {
	return sum.Sign() > 0 && sum.Cmp(t.threshold) >= 0
}

// lostAfterSettlement reports whether a settled invoice has lost the payments it settled on:
// a payment was removed and what is left no longer pays in full. The machine settles on the
// payments seen in time; for an invoice the merchant marked it does not know what the
// merchant relied on and uses every counted payment, late ones included.
func (t tally) lostAfterSettlement(marked bool) bool {
	basis := t.inTime
	if marked {
		basis = t.all
	}
	return t.removed && !t.paid(basis)
}

// remaining is what is still due in an option's asset given what has been paid:
// ceil((threshold − all) × due), never negative, at least one atomic unit while unpaid.
func (t tally) remaining(due *big.Int) *big.Int {
	missing := new(big.Rat).Sub(t.threshold, t.all)
	missing.Mul(missing, new(big.Rat).SetInt(due))
	out := ceilRat(missing)
	if out.Sign() < 0 {
		out.SetInt64(0)
	}
	if out.Sign() == 0 && !t.paid(t.all) {
		out.SetInt64(1)
	}
	return out
}

// maxPercentExponent bounds the decimal exponent of TolerancePercent that is converted to a
// fraction: 10^-40 % is far below any asset's resolution, and a huge exponent would make the
// exact conversion allocate without bound.
const maxPercentExponent = 40

// threshold is 1 − tol with tol = max(TolerancePercent/100, ToleranceFloor/price) clamped to
// [0, 1]. At tol = 1 the threshold is 0 and any positive payment pays (see tally.paid). A
// percentage the machine cannot convert exactly (exponent beyond ±40, see Validate) counts
// as 0 %, the strict choice: the merchant is never short.
func threshold(p Policy, price *big.Int) *big.Rat {
	tol := new(big.Rat)
	switch pct := p.TolerancePercent; {
	case pct.Sign() <= 0:
	case pct.Exponent() > 2: // at least 1000 %
		tol.SetInt64(1)
	case pct.Exponent() >= -maxPercentExponent:
		tol.Quo(pct.Rat(), big.NewRat(100, 1))
	}
	if p.ToleranceFloor != nil && p.ToleranceFloor.Sign() > 0 && price != nil && price.Sign() > 0 {
		if floor := new(big.Rat).SetFrac(p.ToleranceFloor, price); floor.Cmp(tol) > 0 {
			tol = floor
		}
	}
	one := big.NewRat(1, 1)
	if tol.Cmp(one) > 0 {
		tol.SetInt64(1)
	}
	return tol.Sub(one, tol)
}

// ceilRat rounds r up to an integer.
func ceilRat(r *big.Rat) *big.Int {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int)) // Euclidean: q = floor, m ≥ 0
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// monitorUntil is the end of the monitoring window; a window ending before expiry is read as
// ending at expiry.
func monitorUntil(s State) time.Time {
	if s.MonitorUntil.Before(s.ExpiresAt) {
		return s.ExpiresAt
	}
	return s.MonitorUntil
}

// confirmationsOf is a payment's depth; a payment in the mempool has none.
func confirmationsOf(p Payment) int {
	if p.Status != PaymentConfirmed {
		return 0
	}
	return p.Confirmations
}

// usableOption reports whether payments to o can be counted: it has an id and a positive
// amount due. Negative required confirmations read as 0.
func usableOption(o Option) bool {
	return o.ID != "" && o.AmountDue != nil && o.AmountDue.Sign() > 0
}

// normalizeFlags returns a sorted copy of flags without duplicates; it never aliases flags.
func normalizeFlags(flags []Flag) []Flag {
	out := slices.Clone(flags)
	slices.Sort(out)
	return slices.Compact(out)
}

// setFlag adds (on) or removes f from the sorted set flags, keeping it sorted.
func setFlag(flags []Flag, f Flag, on bool) []Flag {
	i, found := slices.BinarySearch(flags, f)
	switch {
	case on && !found:
		return slices.Insert(flags, i, f)
	case !on && found:
		return slices.Delete(flags, i, i+1)
	}
	return flags
}
