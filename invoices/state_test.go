package invoices

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// The clock of every table: created at t0, expiring 15 minutes later, monitored 24 hours more.
var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp = t0.Add(15 * time.Minute)
	mon = exp.Add(24 * time.Hour)
)

// inv is an invoice priced 25.00 (2500 cents) with the default clock and 0 % tolerance.
func inv(status Status, flags ...Flag) State {
	return State{Status: status, Flags: flags, Price: big.NewInt(2500), ExpiresAt: exp, MonitorUntil: mon}
}

// tolerant sets the invoice's tolerance: percent as a decimal string, floor in cents.
func tolerant(s State, percent string, floor int64) State {
	s.Policy = Policy{TolerancePercent: decimal.RequireFromString(percent), ToleranceFloor: big.NewInt(floor)}
	return s
}

func settledAt(s State, at time.Time) State {
	s.SettledAt = &at
	return s
}

func opt(id string, due int64, confs int) Option {
	return Option{ID: id, AmountDue: big.NewInt(due), Confirmations: confs}
}

// Payment helpers: in the mempool, confirmed at a depth, removed.
func mem(id, option string, amount int64, seen time.Time) Payment {
	return Payment{ID: id, OptionID: option, Amount: big.NewInt(amount), Status: PaymentMempool, SeenAt: seen}
}

func conf(id, option string, amount int64, depth int, seen time.Time) Payment {
	return Payment{ID: id, OptionID: option, Amount: big.NewInt(amount), Status: PaymentConfirmed, Confirmations: depth, SeenAt: seen}
}

func gone(id, option string, amount int64, seen time.Time) Payment {
	return Payment{ID: id, OptionID: option, Amount: big.NewInt(amount), Status: PaymentRemoved, SeenAt: seen}
}

func wei(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad test integer " + s)
	}
	return n
}

var (
	btc1 = []Option{opt("btc", 10000, 1)} // 10000 sat due, 1 confirmation
	btc0 = []Option{opt("btc", 10000, 0)} // 0 confirmations: the mempool settles
	btc6 = []Option{opt("btc", 10000, 6)}
	// Two options for the same invoice: 10000 sat or 0.01 ETH.
	btcEth = []Option{opt("btc", 10000, 1), {ID: "eth", AmountDue: wei("10000000000000000"), Confirmations: 12}}
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	before := t0.Add(time.Minute) // a payment time well inside the window
	late := exp.Add(time.Hour)
	ethPay := func(id string, amount string, status string, depth int, seen time.Time) Payment {
		return Payment{ID: id, OptionID: "eth", Amount: wei(amount), Status: status, Confirmations: depth, SeenAt: seen}
	}

	tests := []struct {
		name       string
		state      State
		opts       []Option
		pays       []Payment
		now        time.Time
		wantStatus Status
		wantFlags  []Flag
		wantEvents []string
		settles    bool // SettledAt must be set to now by this call
	}{
		// Expiry.
		{name: "new without payments before expiry stays new",
			state: inv(StatusNew), opts: btc1, now: exp.Add(-time.Nanosecond),
			wantStatus: StatusNew},
		{name: "new without payments exactly at expiry expires",
			state: inv(StatusNew), opts: btc1, now: exp,
			wantStatus: StatusExpired, wantEvents: []string{EventExpired}},
		{name: "partial payment before expiry keeps the invoice new and flags it",
			state: inv(StatusNew), opts: btc1, pays: []Payment{mem("p1", "btc", 4000, before)}, now: before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
		{name: "partial payment at expiry expires with paid_partial",
			state: inv(StatusNew), opts: btc1, pays: []Payment{conf("p1", "btc", 9999, 3, before)}, now: exp,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidPartial}, wantEvents: []string{EventExpired}},
		{name: "payment seen exactly at expiry is in time",
			state: inv(StatusNew), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, exp)}, now: exp,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "in-time payment evaluated after expiry still counts",
			state: inv(StatusNew), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: late,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},

		// Confirmations.
		{name: "full payment in the mempool with 1 confirmation required is processing",
			state: inv(StatusNew), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "0 confirmations required settles from the mempool directly",
			state: inv(StatusNew), opts: btc0, pays: []Payment{mem("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "1 confirmation reached settles directly",
			state: inv(StatusNew), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "a confirmed status with depth 0 is not a confirmation",
			state: inv(StatusNew), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 0, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "5 of 6 confirmations stays processing",
			state: inv(StatusProcessing), opts: btc6, pays: []Payment{conf("p1", "btc", 10000, 5, before)}, now: before,
			wantStatus: StatusProcessing},
		{name: "6 of 6 confirmations settles",
			state: inv(StatusProcessing), opts: btc6, pays: []Payment{conf("p1", "btc", 10000, 6, before)}, now: late,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "one payment confirmed and another not is processing",
			state: inv(StatusNew), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 6000, 2, before), mem("p2", "btc", 4000, before)},
			now:        before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "the second payment confirming settles",
			state: inv(StatusProcessing), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 6000, 2, before), conf("p2", "btc", 4000, 1, before)},
			now:        before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "settlement after expiry is not blocked when paid in time",
			state: inv(StatusProcessing), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: mon,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "unconfirmed part covered by confirmed overpayment settles",
			state: inv(StatusNew), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 10000, 1, before), mem("p2", "btc", 500, before)},
			now:        before,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidOver}, wantEvents: []string{EventSettled}, settles: true},

		// Adding up.
		{name: "three partial payments add up",
			state: inv(StatusNew), opts: btc1,
			pays: []Payment{mem("p1", "btc", 3333, before), mem("p2", "btc", 3333, before.Add(time.Second)),
				mem("p3", "btc", 3334, before.Add(2*time.Second))},
			now:        before.Add(2 * time.Second),
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "payments across two options add up to exactly the amount due",
			state: inv(StatusNew), opts: btcEth,
			pays:       []Payment{conf("p1", "btc", 4000, 1, before), ethPay("p2", "6000000000000000", PaymentConfirmed, 12, before)},
			now:        before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "across two options one wei short is partial",
			state: inv(StatusNew), opts: btcEth,
			pays:       []Payment{conf("p1", "btc", 4000, 1, before), ethPay("p2", "5999999999999999", PaymentConfirmed, 12, before)},
			now:        before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
		{name: "across two options each with its own confirmations",
			state: inv(StatusNew), opts: btcEth,
			pays:       []Payment{conf("p1", "btc", 4000, 1, before), ethPay("p2", "6000000000000000", PaymentConfirmed, 11, before)},
			now:        before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},

		// Tolerance.
		{name: "1 percent tolerance: exactly at the edge is paid",
			state: tolerant(inv(StatusNew), "1", 0), opts: btc1, pays: []Payment{mem("p1", "btc", 9900, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "1 percent tolerance: one unit below the edge is partial",
			state: tolerant(inv(StatusNew), "1", 0), opts: btc1, pays: []Payment{mem("p1", "btc", 9899, before)}, now: before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
		{name: "fractional percent 0.5: edge is paid",
			state: tolerant(inv(StatusNew), "0.5", 0), opts: btc1, pays: []Payment{conf("p1", "btc", 9950, 1, before)}, now: before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "floor larger than percent: floor 50 of 2500 (2 %) beats 1 %, edge paid",
			state: tolerant(inv(StatusNew), "1", 50), opts: btc1, pays: []Payment{mem("p1", "btc", 9800, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "floor larger than percent: just below the floor edge is partial",
			state: tolerant(inv(StatusNew), "1", 50), opts: btc1, pays: []Payment{mem("p1", "btc", 9799, before)}, now: before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
		{name: "percent larger than floor: 5 % beats 2 %, edge paid",
			state: tolerant(inv(StatusNew), "5", 50), opts: btc1, pays: []Payment{mem("p1", "btc", 9500, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "percent larger than floor: just below the percent edge is partial",
			state: tolerant(inv(StatusNew), "5", 50), opts: btc1, pays: []Payment{mem("p1", "btc", 9499, before)}, now: before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
		{name: "tolerance at expiry: within tolerance is not expired",
			state: tolerant(inv(StatusNew), "1", 0), opts: btc1, pays: []Payment{mem("p1", "btc", 9900, before)}, now: exp,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "floor at or above the price: any positive payment pays",
			state: tolerant(inv(StatusNew), "0", 2500), opts: btc1, pays: []Payment{mem("p1", "btc", 1, before)}, now: before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "floor at or above the price: nothing paid still expires",
			state: tolerant(inv(StatusNew), "0", 9999), opts: btc1, pays: []Payment{mem("p1", "btc", 0, before)}, now: exp,
			wantStatus: StatusExpired, wantEvents: []string{EventExpired}},
		{name: "tolerance does not hide an overpayment: one unit over is paid_over",
			state: tolerant(inv(StatusNew), "5", 0), opts: btc0, pays: []Payment{mem("p1", "btc", 10001, before)}, now: before,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidOver}, wantEvents: []string{EventSettled}, settles: true},
		{name: "topping up with the rounded-up remaining in another asset is not paid_over",
			// 0.4 of the price in USDC (due 25,000,000), then ceil(0.6 × 41,667) = 25,001 sat of BTC:
			// 0.2 sat of rounding over, less than one unit of the last option.
			state: inv(StatusNew), opts: []Option{opt("btc", 41667, 0), opt("usdc", 25000000, 0)},
			pays: []Payment{mem("p1", "usdc", 10000000, before), mem("p2", "btc", 25001, before.Add(time.Second))}, now: before.Add(time.Second),
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "one unit more than the rounded-up remaining is paid_over",
			state: inv(StatusNew), opts: []Option{opt("btc", 41667, 0), opt("usdc", 25000000, 0)},
			pays: []Payment{mem("p1", "usdc", 10000000, before), mem("p2", "btc", 25002, before.Add(time.Second))}, now: before.Add(time.Second),
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidOver}, wantEvents: []string{EventSettled}, settles: true},
		{name: "exactly the amount due is not paid_over",
			state: inv(StatusNew), opts: btc0, pays: []Payment{mem("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},

		// Late payments.
		{name: "payment just after expiry is late: expired and paid_late",
			state: inv(StatusNew), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 1, exp.Add(time.Nanosecond))}, now: late,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate}, wantEvents: []string{EventExpired, EventPaidLate}},
		{name: "late payment on an expired invoice flags once, status stays",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, late)}, now: late,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate}, wantEvents: []string{EventPaidLate}},
		{name: "another late payment emits nothing new",
			state: inv(StatusExpired, FlagPaidLate), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 4000, late), mem("p2", "btc", 4000, late.Add(time.Hour))},
			now:        late.Add(time.Hour),
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate, FlagPaidPartial}},
		{name: "late payment completing a partial one clears paid_partial",
			state: inv(StatusExpired, FlagPaidPartial), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 4000, before), mem("p2", "btc", 6000, late)},
			now:        late,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate}, wantEvents: []string{EventPaidLate}},
		{name: "late overpayment sets paid_over",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{mem("p1", "btc", 12000, late)}, now: late,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate, FlagPaidOver}, wantEvents: []string{EventPaidLate}},
		{name: "payment seen exactly at the end of monitoring is late",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, mon)}, now: mon,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate}, wantEvents: []string{EventPaidLate}},
		{name: "payment after the monitoring window is ignored entirely",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{conf("p1", "btc", 20000, 3, mon.Add(time.Nanosecond))}, now: mon.Add(time.Hour),
			wantStatus: StatusExpired},
		{name: "new invoice with only a payment after the window just expires",
			state: inv(StatusNew), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, mon.Add(time.Second))}, now: mon.Add(time.Hour),
			wantStatus: StatusExpired, wantEvents: []string{EventExpired}},
		{name: "a second payment after settlement and expiry is late and over",
			state: settledAt(inv(StatusSettled), before), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 10000, 3, before), mem("p2", "btc", 10000, late)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidLate, FlagPaidOver}, wantEvents: []string{EventPaidLate}},
		{name: "a removed late payment sets no flag",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{gone("p1", "btc", 10000, late)}, now: late,
			wantStatus: StatusExpired},

		// Removed payments.
		{name: "removed payment before settlement: processing becomes invalid",
			state: inv(StatusProcessing), opts: btc1, pays: []Payment{gone("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusInvalid, wantEvents: []string{EventInvalid}},
		{name: "removed part of a processing invoice: invalid and still partial",
			state: inv(StatusProcessing), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 5000, before), gone("p2", "btc", 5000, before)},
			now:        before,
			wantStatus: StatusInvalid, wantFlags: []Flag{FlagPaidPartial}, wantEvents: []string{EventInvalid}},
		{name: "removed payment replaced in time keeps processing",
			state: inv(StatusProcessing), opts: btc1,
			pays:       []Payment{gone("p1", "btc", 10000, before), mem("p2", "btc", 10000, before.Add(time.Minute))},
			now:        before.Add(time.Minute),
			wantStatus: StatusProcessing},
		{name: "removed payment on a new invoice is not counted",
			state: inv(StatusNew), opts: btc1, pays: []Payment{gone("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusNew},
		{name: "removed payment after settlement: reorged, still settled",
			state: settledAt(inv(StatusSettled), before), opts: btc1, pays: []Payment{gone("p1", "btc", 10000, before)}, now: late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagReorged}, wantEvents: []string{EventReorged}},
		{name: "reorged payment re-mined: flag stays, nothing emitted",
			state: settledAt(inv(StatusSettled, FlagReorged), before), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 10000, 1, before)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagReorged}},
		{name: "settled payment back in the mempool is not a reorg",
			state: settledAt(inv(StatusSettled), before), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: late,
			wantStatus: StatusSettled},
		{name: "one of two settled payments removed drops below: reorged and partial",
			state: settledAt(inv(StatusSettled), before), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 6000, 9, before), gone("p2", "btc", 4000, before)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidPartial, FlagReorged}, wantEvents: []string{EventReorged}},
		{name: "removed overpayment after settlement is not a reorg and clears paid_over",
			state: settledAt(inv(StatusSettled, FlagPaidOver), before), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 10000, 9, before), gone("p2", "btc", 4000, before)},
			now:        late,
			wantStatus: StatusSettled},
		{name: "late payment does not cover a reorged in-time payment",
			state: settledAt(inv(StatusSettled), before), opts: btc1,
			pays:       []Payment{gone("p1", "btc", 10000, before), conf("p2", "btc", 10000, 1, late)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagPaidLate, FlagReorged}, wantEvents: []string{EventPaidLate, EventReorged}},

		// Monitoring window.
		{name: "processing exactly at the end of monitoring stays processing",
			state: inv(StatusProcessing), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: mon,
			wantStatus: StatusProcessing},
		{name: "processing past the monitoring window becomes invalid",
			state: inv(StatusProcessing), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: mon.Add(time.Nanosecond),
			wantStatus: StatusInvalid, wantEvents: []string{EventInvalid}},
		{name: "new evaluated long after the window, paid in time but unconfirmed, is invalid at once",
			state: inv(StatusNew), opts: btc6, pays: []Payment{conf("p1", "btc", 10000, 2, before)}, now: mon.Add(time.Hour),
			wantStatus: StatusInvalid, wantEvents: []string{EventInvalid}},
		{name: "new evaluated long after the window but confirmed settles",
			state: inv(StatusNew), opts: btc6, pays: []Payment{conf("p1", "btc", 10000, 6, before)}, now: mon.Add(time.Hour),
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "monitor_until before expiry reads as expiry: in time counts, late ignored",
			state: func() State { s := inv(StatusNew); s.MonitorUntil = time.Time{}; return s }(),
			opts:  btc1, pays: []Payment{mem("p1", "btc", 10000, before), mem("p2", "btc", 10000, exp.Add(time.Second))},
			now:        late,
			wantStatus: StatusInvalid, wantEvents: []string{EventInvalid}},

		// Outcomes of the chain are recomputed; merchant decisions are final.
		{name: "expired is recomputed when an in-time payment shows up (settles at 0 confirmations)",
			state: inv(StatusExpired), opts: btc0, pays: []Payment{mem("p1", "btc", 10000, before)}, now: late,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "expired is recomputed when an in-time payment shows up unconfirmed (processing)",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{mem("p1", "btc", 10000, before)}, now: late,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "expired stays expired when only a late payment shows up",
			state: inv(StatusExpired), opts: btc0, pays: []Payment{mem("p1", "btc", 10000, exp.Add(time.Second))}, now: late,
			wantStatus: StatusExpired, wantFlags: []Flag{FlagPaidLate}, wantEvents: []string{EventPaidLate}},
		{name: "invalid (payment vanished) is recomputed when the payment is mined again",
			state: inv(StatusInvalid), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: before,
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "invalid at the end of the window settles when the in-time payment confirms after it",
			state: inv(StatusInvalid), opts: btc1, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: mon.Add(48 * time.Hour),
			wantStatus: StatusSettled, wantEvents: []string{EventSettled}, settles: true},
		{name: "invalid stays invalid while nothing pays in full",
			state: inv(StatusInvalid), opts: btc1, pays: []Payment{gone("p1", "btc", 10000, before)}, now: before,
			wantStatus: StatusInvalid},
		{name: "canceled is final even if paid in time",
			state: inv(StatusInvalid, FlagCanceled), opts: btc0, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: before,
			wantStatus: StatusInvalid, wantFlags: []Flag{FlagCanceled}},

		// Merchant resolved (marked).
		{name: "marked invalid never changes status",
			state: inv(StatusInvalid, FlagMarked), opts: btc0, pays: []Payment{conf("p1", "btc", 10000, 1, before)}, now: before,
			wantStatus: StatusInvalid, wantFlags: []Flag{FlagMarked}},
		{name: "marked settled underpaid: paid_partial kept, no reorg without removal",
			state: settledAt(inv(StatusSettled, FlagMarked, FlagPaidPartial), late), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 5000, before)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagPaidPartial}},
		{name: "marked keeps paid_partial even when paid in full later",
			state: settledAt(inv(StatusSettled, FlagMarked, FlagPaidPartial), before), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 5000, before), mem("p2", "btc", 5000, before)},
			now:        before,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagPaidPartial}},
		{name: "marked settled after a late payment: late payment removed is reorged",
			state: settledAt(inv(StatusSettled, FlagMarked, FlagPaidLate), late), opts: btc1,
			pays:       []Payment{gone("p1", "btc", 10000, late)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagPaidLate, FlagReorged}, wantEvents: []string{EventReorged}},
		{name: "marked settled on a late payment: an earlier removed attempt is no reorg",
			state: settledAt(inv(StatusSettled, FlagMarked, FlagPaidLate), late), opts: btc1,
			pays:       []Payment{gone("p1", "btc", 10000, before), conf("p2", "btc", 10000, 2, late)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagPaidLate}},
		{name: "zero-amount late payment is not paid_late",
			state: inv(StatusExpired), opts: btc1, pays: []Payment{mem("p1", "btc", 0, late)}, now: late,
			wantStatus: StatusExpired},
		{name: "marked settled still gains paid_late and paid_over",
			state: settledAt(inv(StatusSettled, FlagMarked), late), opts: btc1,
			pays:       []Payment{mem("p1", "btc", 10000, late), mem("p2", "btc", 1, late)},
			now:        late,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagPaidLate, FlagPaidOver}, wantEvents: []string{EventPaidLate}},

		// Input hygiene.
		{name: "unsorted duplicate flags come back as a sorted set",
			state: settledAt(inv(StatusSettled, FlagReorged, FlagMarked, FlagReorged), before), opts: btc1,
			pays:       []Payment{conf("p1", "btc", 10000, 1, before)},
			now:        before,
			wantStatus: StatusSettled, wantFlags: []Flag{FlagMarked, FlagReorged}},
		{name: "a mempool payment reporting a depth has no confirmations",
			state: inv(StatusNew), opts: btc1,
			pays:       []Payment{{ID: "p1", OptionID: "btc", Amount: big.NewInt(10000), Status: PaymentMempool, Confirmations: 3, SeenAt: before}},
			now:        before,
			wantStatus: StatusProcessing, wantEvents: []string{EventProcessing}},
		{name: "unusable payments and options are skipped",
			state: inv(StatusNew), opts: []Option{opt("btc", 10000, 1), opt("zero", 0, 0), {ID: "nil"}},
			pays: []Payment{
				mem("p1", "nowhere", 10000, before), mem("p2", "zero", 10000, before), mem("p3", "nil", 1, before),
				{ID: "p4", OptionID: "btc", Status: PaymentMempool, SeenAt: before}, // nil amount
				mem("p5", "btc", -10000, before),
				{ID: "p6", OptionID: "btc", Amount: big.NewInt(10000), Status: "bogus", SeenAt: before},
				mem("p7", "btc", 1000, before),
			},
			now:        before,
			wantStatus: StatusNew, wantFlags: []Flag{FlagPaidPartial}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inputFlags := slices.Clone(tc.state.Flags)
			got, events := Evaluate(tc.state, tc.opts, tc.pays, tc.now)
			if got.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", got.Status, tc.wantStatus)
			}
			if !slices.Equal(got.Flags, tc.wantFlags) {
				t.Errorf("flags = %v, want %v", got.Flags, tc.wantFlags)
			}
			if !slices.Equal(events, tc.wantEvents) {
				t.Errorf("events = %v, want %v", events, tc.wantEvents)
			}
			switch {
			case tc.settles && (got.SettledAt == nil || !got.SettledAt.Equal(tc.now)):
				t.Errorf("settled_at = %v, want %v", got.SettledAt, tc.now)
			case !tc.settles && !sameTime(got.SettledAt, tc.state.SettledAt):
				t.Errorf("settled_at changed from %v to %v", tc.state.SettledAt, got.SettledAt)
			}
			if !slices.Equal(tc.state.Flags, inputFlags) {
				t.Errorf("input flags mutated: %v, were %v", tc.state.Flags, inputFlags)
			}
			// Idempotency: the result is a fixed point.
			again, more := Evaluate(got, tc.opts, tc.pays, tc.now)
			if len(more) != 0 {
				t.Errorf("second Evaluate emitted %v", more)
			}
			if diff := stateDiff(got, again); diff != "" {
				t.Errorf("second Evaluate changed the state: %s", diff)
			}
		})
	}
}

// TestEvaluateSequence follows one invoice through its life as the watcher would report it.
func TestEvaluateSequence(t *testing.T) {
	t.Parallel()
	opts := []Option{opt("btc", 10000, 2)}
	s := inv(StatusNew)
	pays := []Payment{}
	step := func(now time.Time, want Status, wantEvents ...string) {
		t.Helper()
		var events []string
		s, events = Evaluate(s, opts, pays, now)
		if s.Status != want || !slices.Equal(events, wantEvents) {
			t.Fatalf("at %s: status %s events %v, want %s %v", now.Sub(t0), s.Status, events, want, wantEvents)
		}
	}
	step(t0, StatusNew)
	pays = append(pays, mem("p1", "btc", 3000, t0.Add(time.Minute)))
	step(t0.Add(time.Minute), StatusNew)
	if !slices.Contains(s.Flags, FlagPaidPartial) {
		t.Fatalf("flags %v: want paid_partial after a partial payment", s.Flags)
	}
	pays = append(pays, mem("p2", "btc", 7000, t0.Add(10*time.Minute)))
	step(t0.Add(10*time.Minute), StatusProcessing, EventProcessing)
	if slices.Contains(s.Flags, FlagPaidPartial) {
		t.Fatalf("flags %v: paid_partial must clear once paid in full", s.Flags)
	}
	pays[0] = conf("p1", "btc", 3000, 1, pays[0].SeenAt)
	pays[1] = conf("p2", "btc", 7000, 1, pays[1].SeenAt)
	step(exp.Add(5*time.Minute), StatusProcessing)
	pays[0].Confirmations, pays[1].Confirmations = 2, 2
	step(exp.Add(15*time.Minute), StatusSettled, EventSettled)
	pays[1] = gone("p2", "btc", 7000, pays[1].SeenAt)
	step(exp.Add(time.Hour), StatusSettled, EventReorged)
	pays[1] = conf("p2", "btc", 7000, 1, pays[1].SeenAt)
	step(exp.Add(2*time.Hour), StatusSettled)
	if want := []Flag{FlagReorged}; !slices.Equal(s.Flags, want) {
		t.Fatalf("flags %v, want %v", s.Flags, want)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	now := exp.Add(time.Hour)
	tests := []struct {
		name       string
		state      State
		to         Status
		reason     string
		wantErr    error
		wantFlags  []Flag
		wantEvents []string
	}{
		{name: "expired paid late to settled", state: inv(StatusExpired, FlagPaidLate), to: StatusSettled, reason: "paid late, accepted",
			wantFlags: []Flag{FlagMarked, FlagPaidLate}, wantEvents: []string{EventResolved, EventSettled}},
		{name: "expired partial to settled", state: inv(StatusExpired, FlagPaidPartial), to: StatusSettled, reason: "rest paid by card",
			wantFlags: []Flag{FlagMarked, FlagPaidPartial}, wantEvents: []string{EventResolved, EventSettled}},
		{name: "new to invalid", state: inv(StatusNew), to: StatusInvalid, reason: "customer gave up",
			wantFlags: []Flag{FlagMarked}, wantEvents: []string{EventResolved, EventInvalid}},
		{name: "processing to settled", state: inv(StatusProcessing), to: StatusSettled, reason: "trusted customer",
			wantFlags: []Flag{FlagMarked}, wantEvents: []string{EventResolved, EventSettled}},
		{name: "settled to invalid", state: settledAt(inv(StatusSettled), t0), to: StatusInvalid, reason: "refunded off-chain",
			wantFlags: []Flag{FlagMarked}, wantEvents: []string{EventResolved, EventInvalid}},
		{name: "invalid to settled", state: inv(StatusInvalid), to: StatusSettled, reason: "double spend was ours",
			wantFlags: []Flag{FlagMarked}, wantEvents: []string{EventResolved, EventSettled}},
		{name: "marked invalid to settled keeps one marked flag", state: inv(StatusInvalid, FlagMarked), to: StatusSettled, reason: "changed my mind",
			wantFlags: []Flag{FlagMarked}, wantEvents: []string{EventResolved, EventSettled}},
		{name: "same status", state: settledAt(inv(StatusSettled), t0), to: StatusSettled, reason: "again", wantErr: ErrResolveSame},
		{name: "same status invalid", state: inv(StatusInvalid), to: StatusInvalid, reason: "again", wantErr: ErrResolveSame},
		{name: "to processing", state: inv(StatusNew), to: StatusProcessing, reason: "x", wantErr: ErrResolveStatus},
		{name: "to expired", state: inv(StatusNew), to: StatusExpired, reason: "x", wantErr: ErrResolveStatus},
		{name: "to new", state: inv(StatusExpired), to: StatusNew, reason: "x", wantErr: ErrResolveStatus},
		{name: "to unknown", state: inv(StatusExpired), to: Status("paid"), reason: "x", wantErr: ErrResolveStatus},
		{name: "empty reason", state: inv(StatusExpired), to: StatusSettled, reason: "", wantErr: ErrReasonRequired},
		{name: "blank reason", state: inv(StatusExpired), to: StatusInvalid, reason: " \t\n", wantErr: ErrReasonRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inputFlags := slices.Clone(tc.state.Flags)
			got, events, err := Resolve(tc.state, tc.to, tc.reason, now)
			if !slices.Equal(tc.state.Flags, inputFlags) {
				t.Errorf("input flags mutated: %v, were %v", tc.state.Flags, inputFlags)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if events != nil || stateDiff(got, tc.state) != "" {
					t.Errorf("on error: events %v, state change %s", events, stateDiff(got, tc.state))
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Status != tc.to || !slices.Equal(got.Flags, tc.wantFlags) || !slices.Equal(events, tc.wantEvents) {
				t.Errorf("got %s %v %v, want %s %v %v", got.Status, got.Flags, events, tc.to, tc.wantFlags, tc.wantEvents)
			}
			switch tc.to {
			case StatusSettled:
				if got.SettledAt == nil || !got.SettledAt.Equal(now) {
					t.Errorf("settled_at = %v, want %v", got.SettledAt, now)
				}
			case StatusInvalid:
				if !sameTime(got.SettledAt, tc.state.SettledAt) {
					t.Errorf("settled_at changed from %v to %v", tc.state.SettledAt, got.SettledAt)
				}
			}
			// The machine leaves a resolved invoice alone, whatever the payments say.
			pays := []Payment{conf("p1", "btc", 10000, 9, t0.Add(time.Minute))}
			after, more := Evaluate(got, btc1, pays, mon.Add(time.Hour))
			if after.Status != got.Status || len(more) != 0 {
				t.Errorf("Evaluate after Resolve: %s %v, want %s and no events", after.Status, more, got.Status)
			}
		})
	}
}

func TestResolveErrorsNameTheProblem(t *testing.T) {
	t.Parallel()
	_, _, err := Resolve(inv(StatusNew), StatusExpired, "x", t0)
	if err == nil || !strings.Contains(err.Error(), `"expired"`) {
		t.Errorf("err = %v, want it to name the target status", err)
	}
	_, _, err = Resolve(inv(StatusSettled), StatusSettled, "x", t0)
	if err == nil || !strings.Contains(err.Error(), "settled") {
		t.Errorf("err = %v, want it to name the status", err)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		state   State
		pays    []Payment
		wantErr bool
	}{
		{name: "new without payments", state: inv(StatusNew)},
		{name: "new with a mempool payment", state: inv(StatusNew), pays: []Payment{mem("p1", "btc", 1, t0)}, wantErr: true},
		{name: "new with only a removed payment", state: inv(StatusNew), pays: []Payment{gone("p1", "btc", 1, t0)}, wantErr: true},
		{name: "new with a payment after the window", state: inv(StatusNew), pays: []Payment{mem("p1", "btc", 1, mon.Add(time.Hour))}, wantErr: true},
		{name: "processing", state: inv(StatusProcessing), wantErr: true},
		{name: "expired", state: inv(StatusExpired), wantErr: true},
		{name: "settled", state: inv(StatusSettled), wantErr: true},
		{name: "invalid", state: inv(StatusInvalid), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, events, err := Cancel(tc.state, tc.pays, t0)
			if tc.wantErr {
				if !errors.Is(err, ErrNotCancelable) {
					t.Fatalf("err = %v, want ErrNotCancelable", err)
				}
				if events != nil || got.Status != tc.state.Status {
					t.Errorf("on error: status %s events %v", got.Status, events)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Status != StatusInvalid || !slices.Equal(events, []string{EventInvalid}) || !slices.Equal(got.Flags, []Flag{FlagCanceled}) {
				t.Errorf("got %s %v %v, want invalid, [canceled], [%s]", got.Status, got.Flags, events, EventInvalid)
			}
			if _, more := Evaluate(got, btc1, nil, mon.Add(time.Hour)); len(more) != 0 {
				t.Errorf("Evaluate after Cancel emitted %v", more)
			}
			// Money paid in time after a cancel never revives the invoice.
			paid := []Payment{conf("p1", "btc", 10000, 6, t0)}
			if next, more := Evaluate(got, btc1, paid, t0); next.Status != StatusInvalid || slices.Contains(more, EventSettled) {
				t.Errorf("a canceled invoice paid in time became %s %v", next.Status, more)
			}
		})
	}
}

func TestStateProgress(t *testing.T) {
	t.Parallel()
	before := t0.Add(time.Minute)
	tests := []struct {
		name          string
		state         State
		opts          []Option
		pays          []Payment
		wantFraction  string
		wantConfirmed string
		wantRemaining map[string]string
	}{
		{name: "nothing paid", state: inv(StatusNew), opts: btcEth,
			wantFraction: "0", wantConfirmed: "0",
			wantRemaining: map[string]string{"btc": "10000", "eth": "10000000000000000"}},
		{name: "nothing paid with tolerance: remaining is the threshold rounded up",
			state: tolerant(inv(StatusNew), "1", 0), opts: []Option{opt("a", 333, 1)},
			wantFraction: "0", wantConfirmed: "0", wantRemaining: map[string]string{"a": "330"}}, // ceil(0.99*333 = 329.67)
		{name: "partial across options, confirmed only where deep enough", state: inv(StatusNew), opts: btcEth,
			pays: []Payment{conf("p1", "btc", 2500, 1, before),
				{ID: "p2", OptionID: "eth", Amount: wei("2500000000000000"), Status: PaymentConfirmed, Confirmations: 3, SeenAt: before}},
			wantFraction: "1/2", wantConfirmed: "1/4",
			wantRemaining: map[string]string{"btc": "5000", "eth": "5000000000000000"}},
		{name: "remaining rounds up in each asset", state: inv(StatusNew), opts: []Option{opt("a", 3, 0), opt("b", 10, 0)},
			pays:         []Payment{mem("p1", "a", 1, before)},
			wantFraction: "1/3", wantConfirmed: "1/3", wantRemaining: map[string]string{"a": "2", "b": "7"}}, // b: ceil(20/3)
		{name: "overpaid: nothing remaining", state: inv(StatusSettled), opts: btc1,
			pays:         []Payment{conf("p1", "btc", 15000, 1, before)},
			wantFraction: "3/2", wantConfirmed: "3/2", wantRemaining: map[string]string{"btc": "0"}},
		{name: "within tolerance: nothing remaining", state: tolerant(inv(StatusProcessing), "1", 0), opts: btc1,
			pays:         []Payment{mem("p1", "btc", 9900, before)},
			wantFraction: "99/100", wantConfirmed: "0", wantRemaining: map[string]string{"btc": "0"}},
		{name: "late counts, removed and after-window do not", state: inv(StatusExpired), opts: btc1,
			pays: []Payment{mem("p1", "btc", 1000, exp.Add(time.Hour)), gone("p2", "btc", 5000, before),
				mem("p3", "btc", 5000, mon.Add(time.Second))},
			wantFraction: "1/10", wantConfirmed: "0", wantRemaining: map[string]string{"btc": "9000"}},
		{name: "floor above price: one unit remains while nothing is paid", state: tolerant(inv(StatusNew), "0", 5000), opts: btc1,
			wantFraction: "0", wantConfirmed: "0", wantRemaining: map[string]string{"btc": "1"}},
		{name: "unusable options have no remaining", state: inv(StatusNew), opts: []Option{opt("btc", 10000, 0), opt("zero", 0, 0), opt("btc", 5, 0)},
			wantFraction: "0", wantConfirmed: "0", wantRemaining: map[string]string{"btc": "10000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Progress(tc.state, tc.opts, tc.pays)
			if got.Fraction.RatString() != tc.wantFraction || got.Confirmed.RatString() != tc.wantConfirmed {
				t.Errorf("fraction %s confirmed %s, want %s %s", got.Fraction.RatString(), got.Confirmed.RatString(), tc.wantFraction, tc.wantConfirmed)
			}
			if len(got.Remaining) != len(tc.wantRemaining) {
				t.Errorf("remaining %v, want %v", got.Remaining, tc.wantRemaining)
			}
			for id, want := range tc.wantRemaining {
				if r := got.Remaining[id]; r == nil || r.String() != want {
					t.Errorf("remaining[%s] = %v, want %s", id, r, want)
				}
			}
		})
	}
}

// TestStateProgressRemainingPays checks Remaining against Evaluate: paying exactly what
// Remaining says in any one option makes the invoice paid in full, and one unit less does not.
func TestStateProgressRemainingPays(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 500 {
		s := tolerant(inv(StatusNew), []string{"0", "0.5", "1", "3.25"}[r.IntN(4)], r.Int64N(200))
		opts := []Option{opt("a", 1+r.Int64N(100000), 0), opt("b", 1+r.Int64N(1000), 0)}
		pays := []Payment{mem("p0", opts[r.IntN(2)].ID, r.Int64N(opts[0].AmountDue.Int64()/2+1), t0)}
		for _, o := range opts {
			rem := Progress(s, opts, pays).Remaining[o.ID]
			full := append(slices.Clone(pays), Payment{ID: "x", OptionID: o.ID, Amount: rem, Status: PaymentMempool, SeenAt: t0})
			if got, _ := Evaluate(s, opts, full, t0); got.Status != StatusSettled {
				t.Fatalf("case %d option %s: paying remaining %s leaves status %s", i, o.ID, rem, got.Status)
			}
			if rem.Sign() == 0 {
				continue
			}
			short := append(slices.Clone(pays), Payment{ID: "x", OptionID: o.ID, Amount: new(big.Int).Sub(rem, big.NewInt(1)), Status: PaymentMempool, SeenAt: t0})
			if got, _ := Evaluate(s, opts, short, t0); got.Status != StatusNew {
				t.Fatalf("case %d option %s: paying remaining−1 (%s) gives status %s", i, o.ID, rem, got.Status)
			}
		}
	}
}

func TestStateValidate(t *testing.T) {
	t.Parallel()
	good := func() (State, []Option, []Payment) {
		return tolerant(inv(StatusNew), "1.5", 10), btcEth, []Payment{mem("p1", "btc", 1, t0)}
	}
	tests := []struct {
		name   string
		mutate func(*State, *[]Option, *[]Payment)
		want   string // a fragment the error must contain; "" = valid
	}{
		{name: "valid", mutate: func(*State, *[]Option, *[]Payment) {}},
		{name: "unknown status", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.Status = "paid" }, want: `status "paid"`},
		{name: "nil price", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.Price = nil }, want: "price"},
		{name: "zero expiry", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.ExpiresAt = time.Time{} }, want: "expires_at"},
		{name: "window before expiry", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.MonitorUntil = t0 }, want: "monitor_until"},
		{name: "percent 100", mutate: func(s *State, _ *[]Option, _ *[]Payment) {
			s.Policy.TolerancePercent = decimal.NewFromInt(100)
		}, want: "tolerance percent"},
		{name: "negative percent", mutate: func(s *State, _ *[]Option, _ *[]Payment) {
			s.Policy.TolerancePercent = decimal.RequireFromString("-1")
		}, want: "tolerance percent"},
		{name: "absurd exponent", mutate: func(s *State, _ *[]Option, _ *[]Payment) {
			s.Policy.TolerancePercent = decimal.New(1, -1000)
		}, want: "tolerance percent"},
		{name: "negative floor", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.Policy.ToleranceFloor = big.NewInt(-1) }, want: "floor"},
		{name: "unsorted flags", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.Flags = []Flag{FlagReorged, FlagMarked} }, want: "flags"},
		{name: "duplicate flags", mutate: func(s *State, _ *[]Option, _ *[]Payment) { s.Flags = []Flag{FlagMarked, FlagMarked} }, want: "flags"},
		{name: "option without id", mutate: func(_ *State, o *[]Option, _ *[]Payment) { *o = []Option{opt("", 1, 0)} }, want: "no id"},
		{name: "duplicate option", mutate: func(_ *State, o *[]Option, _ *[]Payment) { *o = []Option{opt("btc", 1, 0), opt("btc", 2, 0)} }, want: `option "btc" appears twice`},
		{name: "zero due", mutate: func(_ *State, o *[]Option, _ *[]Payment) { *o = []Option{opt("btc", 0, 0)} }, want: `option "btc": amount due`},
		{name: "negative confirmations", mutate: func(_ *State, o *[]Option, _ *[]Payment) { *o = []Option{opt("btc", 1, -1)} }, want: "confirmations -1"},
		{name: "payment to unknown option", mutate: func(_ *State, _ *[]Option, p *[]Payment) { (*p)[0].OptionID = "doge" }, want: `payment "p1": option "doge"`},
		{name: "nil amount", mutate: func(_ *State, _ *[]Option, p *[]Payment) { (*p)[0].Amount = nil }, want: `payment "p1": amount`},
		{name: "negative amount", mutate: func(_ *State, _ *[]Option, p *[]Payment) { (*p)[0].Amount = big.NewInt(-1) }, want: `payment "p1": amount`},
		{name: "unknown payment status", mutate: func(_ *State, _ *[]Option, p *[]Payment) { (*p)[0].Status = "pending" }, want: `status "pending"`},
		{name: "negative depth", mutate: func(_ *State, _ *[]Option, p *[]Payment) { (*p)[0].Confirmations = -2 }, want: "confirmations -2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, opts, pays := good()
			tc.mutate(&s, &opts, &pays)
			err := Validate(s, opts, pays)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBadInput mentioning %q", err, tc.want)
			}
			// The machine copes with what Validate rejects.
			Evaluate(s, opts, pays, mon)
			Progress(s, opts, pays)
		})
	}
}

// TestEvaluateProperties drives random invoices through random payment histories and checks
// the machine's invariants after every step (see checkScenario).
func TestEvaluateProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3000) {
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		checkScenario(t, func(n int) int { return r.IntN(n) })
	}
}

// FuzzEvaluate is TestEvaluateProperties with the fuzzer choosing the history.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("settle, reorg, re-mine, pay late, resolve"))
	f.Add(slices.Repeat([]byte{0, 3, 1, 2, 5, 0, 7, 1}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkScenario(t, func(n int) int {
			if len(data) == 0 {
				return 0
			}
			b := int(data[0])
			data = data[1:]
			return b % n
		})
	})
}

// allowed lists the status edges each action may take.
var allowed = map[string]map[[2]Status]bool{
	"evaluate": {
		{StatusNew, StatusProcessing}: true, {StatusNew, StatusSettled}: true, {StatusNew, StatusExpired}: true,
		{StatusNew, StatusInvalid}:        true,
		{StatusProcessing, StatusSettled}: true, {StatusProcessing, StatusInvalid}: true,
		// Outcomes of the chain are recomputed when the payments change.
		{StatusExpired, StatusProcessing}: true, {StatusExpired, StatusSettled}: true, {StatusExpired, StatusInvalid}: true,
		{StatusInvalid, StatusProcessing}: true, {StatusInvalid, StatusSettled}: true,
	},
	"cancel": {{StatusNew, StatusInvalid}: true},
}

// checkScenario builds an invoice and a history of payments from pick (pick(n) is in [0, n))
// and checks, after every step: no panic; flags a sorted set; sticky flags (marked, paid_late,
// reorged) never dropped; events matching the status path along allowed edges, status
// events before EventPaidLate before EventReorged, each flag event exactly when its flag
// appears; marked invoices keep their status; settled invoices have SettledAt; Evaluate is
// idempotent; inputs are not mutated; Progress is consistent.
func checkScenario(t *testing.T, pick func(n int) int) {
	t.Helper()
	dues := []int64{1, 3, 1000, 10000, 100000000}
	var opts []Option
	for i := range 1 + pick(2) {
		opts = append(opts, Option{ID: []string{"btc", "eth"}[i], AmountDue: big.NewInt(dues[pick(len(dues))]), Confirmations: []int{0, 1, 2, 6, -1}[pick(5)]})
	}
	s := inv(StatusNew)
	s.Price = big.NewInt([]int64{1, 99, 2500}[pick(3)])
	s = tolerant(s, []string{"0", "0.5", "1", "5", "99.99", "100", "250", "-3"}[pick(8)], []int64{0, 0, 1, 50, 5000}[pick(5)])
	if pick(8) == 0 {
		s.MonitorUntil = s.ExpiresAt.Add(-time.Minute) // a window ending before expiry
	}
	now := t0
	var pays []Payment
	steps := []time.Duration{0, time.Nanosecond, time.Minute, 7 * time.Minute, 15 * time.Minute, 6 * time.Hour, 25 * time.Hour}

	for step := range 3 + pick(25) {
		now = now.Add(steps[pick(len(steps))])
		switch pick(9) {
		case 0, 1, 2: // a new payment of a share of one option's due
			o := opts[pick(len(opts))]
			amount := new(big.Int).Mul(o.AmountDue, big.NewInt(int64(pick(5))))
			amount.Quo(amount, big.NewInt(int64(1+pick(4))))
			seen := now.Add(-time.Duration(pick(3)) * time.Minute)
			pays = append(pays, Payment{ID: string(rune('a' + len(pays))), OptionID: o.ID, Amount: amount, Status: PaymentMempool, SeenAt: seen})
		case 3, 4: // a block: every live payment gets one confirmation deeper
			for i := range pays {
				if pays[i].Status != PaymentRemoved {
					pays[i].Status = PaymentConfirmed
					pays[i].Confirmations++
				}
			}
		case 5: // a reorg or double spend removes one payment
			if len(pays) > 0 {
				i := pick(len(pays))
				pays[i].Status, pays[i].Confirmations = PaymentRemoved, 0
			}
		case 6: // a removed payment is mined again
			if len(pays) > 0 {
				i := pick(len(pays))
				if pays[i].Status == PaymentRemoved {
					pays[i].Status, pays[i].Confirmations = PaymentConfirmed, 1
				}
			}
		case 7: // the merchant resolves (errors are fine)
			to := []Status{StatusSettled, StatusInvalid, StatusExpired}[pick(3)]
			next, events, err := Resolve(s, to, []string{"", "ok"}[pick(2)], now)
			if err == nil {
				if next.Status != to || !slices.Contains(next.Flags, FlagMarked) || !slices.Equal(events, []string{EventResolved, map[Status]string{StatusSettled: EventSettled, StatusInvalid: EventInvalid}[to]}) {
					t.Fatalf("step %d: Resolve to %s gave %s %v %v", step, to, next.Status, next.Flags, events)
				}
				s = next
			} else if stateDiff(next, s) != "" || events != nil {
				t.Fatalf("step %d: failed Resolve changed something: %s %v", step, stateDiff(next, s), events)
			}
		case 8: // the merchant cancels (errors are fine)
			next, events, err := Cancel(s, pays, now)
			if err == nil {
				if !allowed["cancel"][[2]Status{s.Status, next.Status}] || !slices.Equal(events, []string{EventInvalid}) {
					t.Fatalf("step %d: Cancel %s → %s %v", step, s.Status, next.Status, events)
				}
				s = next
			}
		}

		flagsBefore := slices.Clone(s.Flags)
		paysBefore := clonePayments(pays)
		next, events := Evaluate(s, opts, pays, now)

		if !slices.Equal(s.Flags, flagsBefore) || !samePayments(pays, paysBefore) {
			t.Fatalf("step %d: Evaluate mutated its input", step)
		}
		for i := 1; i < len(next.Flags); i++ {
			if next.Flags[i-1] >= next.Flags[i] {
				t.Fatalf("step %d: flags %v are not a sorted set", step, next.Flags)
			}
		}
		for _, f := range []Flag{FlagMarked, FlagPaidLate, FlagReorged} {
			if slices.Contains(s.Flags, f) && !slices.Contains(next.Flags, f) {
				t.Fatalf("step %d: sticky flag %s dropped: %v → %v", step, f, s.Flags, next.Flags)
			}
		}
		checkEvents(t, step, s, next, events, now)
		if slices.Contains(s.Flags, FlagMarked) && next.Status != s.Status {
			t.Fatalf("step %d: marked invoice moved %s → %s", step, s.Status, next.Status)
		}
		if next.Status == StatusSettled && next.SettledAt == nil {
			t.Fatalf("step %d: settled without settled_at", step)
		}
		again, more := Evaluate(next, opts, pays, now)
		if len(more) != 0 || stateDiff(next, again) != "" {
			t.Fatalf("step %d: not idempotent: events %v, diff %s", step, more, stateDiff(next, again))
		}

		p := Progress(next, opts, pays)
		if p.Confirmed.Cmp(p.Fraction) > 0 || p.Fraction.Sign() < 0 {
			t.Fatalf("step %d: confirmed %s > fraction %s", step, p.Confirmed, p.Fraction)
		}
		if over := slices.Contains(next.Flags, FlagPaidOver); over && p.Fraction.Cmp(big.NewRat(1, 1)) <= 0 ||
			!over && overByAUnit(p.Fraction, next, opts, pays) {
			t.Fatalf("step %d: fraction %s but flags %v", step, p.Fraction, next.Flags)
		}
		for id, r := range p.Remaining {
			if r.Sign() < 0 {
				t.Fatalf("step %d: remaining[%s] = %s", step, id, r)
			}
		}
		if next.Status == StatusProcessing && p.Fraction.Sign() <= 0 {
			t.Fatalf("step %d: processing with nothing paid", step)
		}
		s = next
	}
}

// checkEvents checks that events walk allowed edges from prev.Status to next.Status and that
// the flag events match the flags that appeared, in order.
func checkEvents(t *testing.T, step int, prev, next State, events []string, now time.Time) {
	t.Helper()
	byEvent := map[string]Status{EventProcessing: StatusProcessing, EventSettled: StatusSettled,
		EventExpired: StatusExpired, EventInvalid: StatusInvalid}
	cur, i := prev.Status, 0
	for ; i < len(events); i++ {
		to, ok := byEvent[events[i]]
		if !ok {
			break
		}
		if !allowed["evaluate"][[2]Status{cur, to}] {
			t.Fatalf("step %d: edge %s → %s not allowed (events %v)", step, cur, to, events)
		}
		cur = to
		if to == StatusSettled && (next.SettledAt == nil || !next.SettledAt.Equal(now)) {
			t.Fatalf("step %d: settled at %v, want now %v", step, next.SettledAt, now)
		}
	}
	if cur != next.Status {
		t.Fatalf("step %d: status %s → %s with events %v", step, prev.Status, next.Status, events)
	}
	var want []string
	for _, f := range []struct {
		flag  Flag
		event string
	}{{FlagPaidLate, EventPaidLate}, {FlagReorged, EventReorged}} {
		if !slices.Contains(prev.Flags, f.flag) && slices.Contains(next.Flags, f.flag) {
			want = append(want, f.event)
		}
	}
	if !slices.Equal(events[i:], want) {
		t.Fatalf("step %d: flag events %v, want %v (flags %v → %v)", step, events[i:], want, prev.Flags, next.Flags)
	}
	if cur == prev.Status && !sameTime(prev.SettledAt, next.SettledAt) {
		t.Fatalf("step %d: settled_at changed without a status change", step)
	}
}

func clonePayments(pays []Payment) []Payment {
	out := slices.Clone(pays)
	for i := range out {
		out[i].Amount = new(big.Int).Set(pays[i].Amount)
	}
	return out
}

func samePayments(a, b []Payment) bool {
	return slices.EqualFunc(a, b, func(x, y Payment) bool {
		return x.ID == y.ID && x.OptionID == y.OptionID && x.Amount.Cmp(y.Amount) == 0 && x.Status == y.Status &&
			x.Confirmations == y.Confirmations && x.SeenAt.Equal(y.SeenAt)
	})
}

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

// stateDiff describes how two states differ, or returns "" when they are equal.
func stateDiff(a, b State) string {
	var d []string
	if a.Status != b.Status {
		d = append(d, "status "+string(a.Status)+" vs "+string(b.Status))
	}
	if !slices.Equal(a.Flags, b.Flags) {
		d = append(d, "flags differ")
	}
	if (a.Price == nil) != (b.Price == nil) || (a.Price != nil && a.Price.Cmp(b.Price) != 0) {
		d = append(d, "price differs")
	}
	if !a.ExpiresAt.Equal(b.ExpiresAt) || !a.MonitorUntil.Equal(b.MonitorUntil) {
		d = append(d, "clock differs")
	}
	if !sameTime(a.SettledAt, b.SettledAt) {
		d = append(d, "settled_at differs")
	}
	if !a.Policy.TolerancePercent.Equal(b.Policy.TolerancePercent) ||
		(a.Policy.ToleranceFloor == nil) != (b.Policy.ToleranceFloor == nil) ||
		(a.Policy.ToleranceFloor != nil && a.Policy.ToleranceFloor.Cmp(b.Policy.ToleranceFloor) != 0) {
		d = append(d, "policy differs")
	}
	return strings.Join(d, "; ")
}

// overByAUnit reports whether fraction exceeds 1 by at least one atomic unit of the option of
// the latest counted payment (the paid_over rule).
func overByAUnit(fraction *big.Rat, s State, opts []Option, pays []Payment) bool {
	excess := new(big.Rat).Sub(fraction, big.NewRat(1, 1))
	if excess.Sign() <= 0 {
		return false
	}
	due := map[string]*big.Int{}
	for _, o := range opts {
		if _, dup := due[o.ID]; !dup && o.AmountDue != nil && o.AmountDue.Sign() > 0 {
			due[o.ID] = o.AmountDue
		}
	}
	var last *Payment
	for i := range pays {
		p := &pays[i]
		if due[p.OptionID] == nil || p.Amount == nil || p.Amount.Sign() <= 0 || p.SeenAt.After(monitorUntil(s)) ||
			(p.Status != PaymentMempool && p.Status != PaymentConfirmed) {
			continue
		}
		if last == nil || p.SeenAt.After(last.SeenAt) || (p.SeenAt.Equal(last.SeenAt) && p.ID > last.ID) {
			last = p
		}
	}
	if last == nil {
		return false
	}
	return excess.Mul(excess, new(big.Rat).SetInt(due[last.OptionID])).Cmp(big.NewRat(1, 1)) >= 0
}

// TestDocsTransitionTable: docs/invoices.md shows the transition table the code runs.
func TestDocsTransitionTable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/invoices.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := TransitionTable(); !strings.Contains(string(doc), want) {
		t.Fatalf("docs/invoices.md does not contain the transition table of the code:\n%s", want)
	}
}
