package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// The invariants, worded as in docs/invariants.md (one sentence each).
const (
	invRecorded = "1. Every transfer to a watched address on the final best chain is recorded exactly once, with the right amount and block."
	invOutcome  = "2. An invoice paid in full in time (by chain time) whose payments reach their confirmations ends settled unless a merchant decided otherwise, an invoice nothing was paid to ends expired, and statuses change only along the documented transitions."
	invBooks    = "3. The books invariant of DESIGN §6 holds per payment (ledger verify finds no difference), and records reach the sink in order, each exactly once."
	invWebhooks = "4. Every event reaches every endpoint at least once, with an unchanged body and a valid signature, and each payment that reaches its confirmations has exactly one invoice.payment_confirmed event."
	invCursor   = "5. The follower's cursor is on the best chain and never ahead of it, and no confirmed payment refers to a block that is not on it."
	invRefunds  = "6. A refund is sent or completed only by a transaction of its merchant's wallet paying its destination at least what it owes, completed only while that transaction is in the best chain, and at the end every refund such a transaction pays on the best chain is completed."
	invConfig   = "7. An invoice is created, or refused for its amount, only under its store's settings as they are at that moment, whatever another process changed since the invoice service last read them."
)

// orphanGrace is the grace of watcher.Config.OrphanGraceBlocks by default.
const orphanGrace = 12

// auditor holds what the auditor remembers between steps.
type auditor struct {
	status  map[string]string                // invoice id → status at the last check
	options map[string][]store.PaymentOption // invoice id → its options
}

func newAuditor() auditor {
	return auditor{status: map[string]string{}, options: map[string][]store.PaymentOption{}}
}

// snapshot is the store's money-path state, read in one transaction.
type snapshot struct {
	invoices []store.Invoice
	options  map[string][]store.PaymentOption // by invoice id
	payments map[string][]store.Payment       // by invoice id
	cursors  map[string]store.Cursor          // by chain
	books    map[string]store.LedgerBook      // by payment (or refund) id: what the process enqueued last
	refunds  map[string]store.Refund          // by refund id
	// outbox is the ledger outbox: every message in a full read, only the parked ones in a
	// step's read.
	outbox []store.OutboxMessage
}

// read reads the snapshot; a full read (at the end) holds the whole outbox.
func (w *World) read(ctx context.Context, full bool) (snapshot, error) {
	s := snapshot{options: map[string][]store.PaymentOption{}, payments: map[string][]store.Payment{},
		cursors: map[string]store.Cursor{}, books: map[string]store.LedgerBook{}, refunds: map[string]store.Refund{}}
	err := w.raw.View(ctx, func(tx store.Tx) error {
		for _, m := range w.merchants {
			invs, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: m.id, Limit: 1 << 20})
			if err != nil {
				return err
			}
			s.invoices = append(s.invoices, invs...)
		}
		slices.SortFunc(s.invoices, func(a, b store.Invoice) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for _, inv := range s.invoices {
			opts, ok := w.aud.options[inv.ID] // options never change once created
			if !ok {
				var err error
				if opts, err = tx.PaymentOptions(ctx, inv.ID); err != nil {
					return err
				}
				w.aud.options[inv.ID] = opts
			}
			s.options[inv.ID] = opts
		}
		for _, c := range w.chains {
			for _, st := range []string{store.PaymentMempool, store.PaymentConfirmed, store.PaymentRemoved} {
				pays, err := tx.PaymentsByStatus(ctx, c.Name, st)
				if err != nil {
					return err
				}
				for _, p := range pays {
					s.payments[p.InvoiceID] = append(s.payments[p.InvoiceID], p)
				}
			}
		}
		// Payment ids take random bits: order by what the simulation decided.
		for _, pays := range s.payments {
			slices.SortFunc(pays, func(a, b store.Payment) int {
				return cmp.Or(cmp.Compare(a.Chain, b.Chain), cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.OutputIndex, b.OutputIndex))
			})
		}
		for _, c := range w.chains {
			cur, err := tx.Cursor(ctx, c.Name)
			if err == nil {
				s.cursors[c.Name] = cur
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		for _, m := range w.merchants {
			books, err := tx.MerchantLedgerBooks(ctx, m.id)
			if err != nil {
				return err
			}
			for _, b := range books {
				s.books[b.PaymentID] = b
			}
			if len(w.refunds) == 0 {
				continue
			}
			rs, err := tx.ListRefunds(ctx, store.RefundFilter{MerchantID: m.id, Limit: 1 << 20})
			if err != nil {
				return err
			}
			for _, r := range rs {
				s.refunds[r.ID] = r
			}
		}
		statuses := []string{store.OutboxParked}
		if full {
			statuses = []string{store.OutboxPending, store.OutboxDelivered, store.OutboxParked}
		}
		for _, st := range statuses {
			ms, err := tx.OutboxMessages(ctx, ledger.Topic, st)
			if err != nil {
				return err
			}
			s.outbox = append(s.outbox, ms...)
		}
		slices.SortFunc(s.outbox, func(a, b store.OutboxMessage) int { return cmp.Compare(a.Key, b.Key) })
		return nil
	})
	return s, err
}

// label names an invoice in failure messages: the simulation's number when it knows it.
func (w *World) label(id string) string {
	for _, si := range w.invoices {
		if si.id == id {
			return fmt.Sprintf("inv#%d", si.n)
		}
	}
	return id
}

// checkChain checks invariants 1 and 5 for chain c, whose follower has just reached the
// node's tip with a node that is neither behind nor failing.
func (w *World) checkChain(s snapshot, c *Chain) {
	cur, ok := s.cursors[c.Name]
	if !ok {
		w.fail(invCursor, "%s: the follower has no cursor after a successful step", c.Name)
		return
	}
	if cur.Height > c.Height() || cur.Hash != c.HashAt(cur.Height) {
		w.fail(invCursor, "%s: cursor at %d %s, best chain has %q there (tip %d)", c.Name, cur.Height, cur.Hash,
			c.HashAt(cur.Height), c.Height())
		return
	}
	type key struct {
		txid string
		idx  int64
	}
	pays := map[key]store.Payment{}
	watched := map[string]store.Invoice{} // address → invoice
	for _, inv := range s.invoices {
		for _, o := range s.options[inv.ID] {
			if o.Chain == c.Name {
				watched[o.Address] = inv
			}
		}
		for _, p := range s.payments[inv.ID] {
			if p.Chain != c.Name {
				continue
			}
			pays[key{p.TxID, p.OutputIndex}] = p
			if p.Status == store.PaymentConfirmed {
				if p.BlockHeight == nil || c.HashAt(*p.BlockHeight) != p.BlockHash {
					w.fail(invCursor, "%s: confirmed payment %s:%d of %s is in block %s, not on the best chain",
						c.Name, p.TxID, p.OutputIndex, w.label(inv.ID), p.BlockHash)
					return
				}
			}
		}
	}
	if !c.Mempool {
		// Without a visible mempool, a payment a reorg took out of its block stays pending
		// for the grace blocks (watcher.Config.OrphanGraceBlocks, 12) while it may be mined
		// again.
		for _, tx := range c.Pool() {
			for i := range tx.Outputs {
				p, ok := pays[key{tx.ID, int64(i)}]
				if ok && p.Status == store.PaymentRemoved && tx.Unwound >= 0 && c.Height()-tx.Unwound < orphanGrace {
					w.fail(invRecorded, "%s: payment %s:%d marked removed %d blocks after a reorg took it out of its block, while it waits to be mined again",
						c.Name, tx.ID, i, c.Height()-tx.Unwound)
					return
				}
			}
		}
	}
	c.Confirmed(func(b watcher.Header, tx *Tx, i int, o Output) {
		if w.failure != nil || b.Height > cur.Height || o.Amount.Sign() <= 0 {
			return
		}
		inv, ok := watched[o.Address]
		if !ok || b.Time.After(inv.MonitorUntil) || b.Time.Before(inv.CreatedAt) {
			return
		}
		p, ok := pays[key{tx.ID, int64(i)}]
		switch {
		case !ok:
			w.fail(invRecorded, "%s: output %s:%d (%s) to %s in block %d is not recorded", c.Name, tx.ID, i, o.Amount,
				w.label(inv.ID), b.Height)
		case p.Amount.Cmp(o.Amount) != 0:
			w.fail(invRecorded, "%s: output %s:%d recorded with amount %s, sent %s", c.Name, tx.ID, i, p.Amount, o.Amount)
		case p.Status != store.PaymentConfirmed || p.BlockHash != b.Hash:
			w.fail(invRecorded, "%s: output %s:%d in block %d %s recorded as %s in block %q", c.Name, tx.ID, i,
				b.Height, b.Hash, p.Status, p.BlockHash)
		}
	})
}

// checkTransitions checks the status changes since the last step (invariant 2, second
// half): without a merchant's action an invoice moves only along invoices.Transitions (the
// documented table; several edges may be taken in one step), so settled is left only by a
// merchant's action; a status the merchant decided changes only by another decision.
func (w *World) checkTransitions(s snapshot, touched map[string]bool) {
	valid := []string{store.StatusNew, store.StatusProcessing, store.StatusSettled, store.StatusExpired, store.StatusInvalid}
	for _, inv := range s.invoices {
		if !slices.Contains(valid, inv.Status) {
			w.fail(invOutcome, "%s has status %q", w.label(inv.ID), inv.Status)
			return
		}
		prev, seen := w.aud.status[inv.ID]
		w.aud.status[inv.ID] = inv.Status
		if !seen || prev == inv.Status || touched[inv.ID] {
			continue
		}
		if inv.Status == store.StatusExpired && !w.crashedInStep {
			if c, ok := w.singleChain(s.options[inv.ID]); ok && inv.ExpiresAt.After(w.chainTime[c]) {
				w.fail(invOutcome, "%s (%s only) expired at %s before its chain reached its expiry %s: the %s node's tip is %s old",
					w.label(inv.ID), w.chains[c].Name, w.at(w.clock.Peek()), w.at(inv.ExpiresAt), w.chains[c].Name,
					w.clock.Peek().Sub(w.chains[c].blocks[w.chains[c].Visible()].Time).Round(time.Minute))
				return
			}
		}
		if !reachable(prev, inv.Status) {
			w.fail(invOutcome, "%s went from %s to %s without a merchant's decision: no documented transition leads there",
				w.label(inv.ID), prev, inv.Status)
			return
		}
		if si := w.byID(inv.ID); si != nil && si.decided != "" && !si.uncertain {
			w.fail(invOutcome, "%s, which the merchant made %s, went from %s to %s", w.label(inv.ID), si.decided, prev, inv.Status)
			return
		}
	}
}

// checkOutcomes checks invariant 2's expectations at the end of a run, after quiescence.
func (w *World) checkOutcomes(s snapshot) {
	byID := map[string]store.Invoice{}
	for _, inv := range s.invoices {
		byID[inv.ID] = inv
	}
	for _, si := range w.invoices {
		inv, ok := byID[si.id]
		if !ok || si.uncertain {
			continue
		}
		want, why := w.expectedStatus(si, inv)
		if want != "" && inv.Status != want {
			w.fail(invOutcome, "%s (expiring at %s) ends %s %v, expected %s: %s; its payments: %s", w.label(inv.ID),
				w.at(inv.ExpiresAt), inv.Status, inv.Flags, want, why, w.describe(s.payments[inv.ID]))
			return
		}
	}
}

// expectedStatus is the status invariant 2 requires of an invoice at the end ("" when it
// requires none), and why.
func (w *World) expectedStatus(si *simInvoice, inv store.Invoice) (string, string) {
	if si.decided != "" {
		return si.decided, "the merchant decided so"
	}
	if len(si.sent) == 0 {
		return store.StatusExpired, "nothing was ever sent to it"
	}
	paid := new(big.Rat)
	for _, o := range si.opts {
		c := w.chainOf(o.Chain)
		sum := new(big.Int)
		c.Confirmed(func(b watcher.Header, _ *Tx, _ int, out Output) {
			if out.Address == o.Address && !b.Time.After(inv.ExpiresAt) {
				sum.Add(sum, out.Amount)
			}
		})
		paid.Add(paid, new(big.Rat).SetFrac(sum, o.AmountDue))
	}
	if paid.Cmp(big.NewRat(1, 1)) >= 0 {
		return store.StatusSettled, fmt.Sprintf("%s of the amount due is confirmed on the best chain in blocks before expiry", paid.FloatString(3))
	}
	return "", ""
}

// checkBooks checks invariant 3 against what the process committed to deliver (the outbox):
// no record is parked, and ledger.VerifyEnqueued, the books issue's verification, finds no
// difference. Unless full, the verification runs only when the cheaper check of the
// snapshot (booksDiffer) finds a difference: the same expectation (ledger.Expect) from the
// invoices, options, payments and cursors the snapshot holds, against the books it holds.
func (w *World) checkBooks(ctx context.Context, s snapshot, full bool) {
	for _, m := range s.outbox {
		if m.Status == store.OutboxParked {
			w.fail(invBooks, "ledger record %s parked: %s", shortKey(m.Key), m.LastError)
			return
		}
	}
	quick := ""
	if !full {
		if quick = w.booksDiffer(s); quick == "" {
			return
		}
	}
	diffs, err := ledger.VerifyEnqueued(ctx, w.raw, "")
	if err != nil {
		w.fail("simulation", "ledger verify: %v", err)
		return
	}
	if len(diffs) > 0 {
		slices.SortFunc(diffs, func(a, b ledger.Difference) int { return cmp.Compare(a.InvoiceID+a.PaymentID, b.InvoiceID+b.PaymentID) })
		d := diffs[0]
		inv := w.invoice(s, d.InvoiceID)
		w.fail(invBooks, "ledger verify finds %d difference(s); %s (%s %v): payment %s: expected %s (%s), enqueued %s",
			len(diffs), w.label(d.InvoiceID), inv.Status, inv.Flags, w.payment(s, d.InvoiceID, d.PaymentID), d.Expected, d.Reason, d.Enqueued)
		return
	}
	if quick != "" {
		w.fail("simulation", "the auditor's books check finds a difference ledger verify does not: %s", quick)
	}
}

// booksDiffer compares, per payment, what ledger.Expect requires of the snapshot's invoices
// with the book the snapshot holds, as ledger verify does; it describes the first difference
// ("" when there is none).
func (w *World) booksDiffer(s snapshot) string {
	tips := map[string]int64{}
	for _, c := range w.chains {
		tips[c.Name] = s.cursors[c.Name].Height
	}
	for _, inv := range s.invoices {
		exps, err := ledger.Expect(invoices.Details{Invoice: inv, Options: s.options[inv.ID], Payments: s.payments[inv.ID], Tips: tips})
		if err != nil {
			return fmt.Sprintf("%s: %v", w.label(inv.ID), err)
		}
		for _, e := range exps {
			want := booking(e.State, e.Amount)
			b := s.books[e.Payment.ID]
			if have := booking(b.State, b.Amount); have != want {
				return fmt.Sprintf("%s: payment %s:%d: expected %s (%s), enqueued %s", w.label(inv.ID), e.Payment.TxID,
					e.Payment.OutputIndex, want, e.Reason, have)
			}
		}
	}
	return w.refundBooks(s)
}

// booking is a book as ledger verify compares it: the amount applied and unapplied.
func booking(state string, amount *big.Int) string {
	applied, unapplied := "0", "0"
	if amount != nil {
		switch state {
		case store.BookApplied:
			applied = amount.String()
		case store.BookUnapplied:
			unapplied = amount.String()
		}
	}
	return "applied " + applied + ", unapplied " + unapplied
}

// checkSinkBooks checks at the end that the sink books every payment as the process
// enqueued it (which checkBooks compared with the invariant).
func (w *World) checkSinkBooks(ctx context.Context, s snapshot) {
	got := map[string]*[2]*big.Int{} // payment id → applied, unapplied
	for _, r := range w.sink.records {
		if r.SourceType == ledger.SourceCryptoRefund {
			// A refund's book is its fiat amount refunded: −gross of its refunds and
			// their reversals.
			b := got[r.SourceID]
			if b == nil {
				b = &[2]*big.Int{new(big.Int), new(big.Int)}
				got[r.SourceID] = b
			}
			b[0].Sub(b[0], r.Gross)
			continue
		}
		if r.SourceType != ledger.SourceCryptoPayment {
			continue
		}
		b := got[r.SourceID]
		if b == nil {
			b = &[2]*big.Int{new(big.Int), new(big.Int)}
			got[r.SourceID] = b
		}
		switch r.ReportingCategory {
		case ledger.CategoryCharge, ledger.CategoryChargeReversal:
			b[0].Add(b[0], r.Gross)
		case ledger.CategoryUnappliedReceipt, ledger.CategoryUnappliedCleared:
			b[1].Add(b[1], r.Gross)
		}
	}
	err := w.raw.View(ctx, func(tx store.Tx) error {
		for _, m := range w.merchants {
			books, err := tx.MerchantLedgerBooks(ctx, m.id)
			if err != nil {
				return err
			}
			for _, lb := range books {
				want := [2]*big.Int{new(big.Int), new(big.Int)}
				switch lb.State {
				case store.BookApplied:
					want[0].Set(lb.Amount)
				case store.BookUnapplied:
					want[1].Set(lb.Amount)
				}
				have := got[lb.PaymentID]
				if have == nil {
					have = &[2]*big.Int{new(big.Int), new(big.Int)}
				}
				if have[0].Cmp(want[0]) != 0 || have[1].Cmp(want[1]) != 0 {
					w.fail(invBooks, "the sink books payment %s of %s as applied %s + unapplied %s, the process enqueued %s %s",
						w.payment(s, lb.InvoiceID, lb.PaymentID), w.label(lb.InvoiceID), have[0], have[1], lb.State, lb.Amount)
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		w.fail("simulation", "read ledger books: %v", err)
	}
}

// invoice finds an invoice of the snapshot.
func (w *World) invoice(s snapshot, id string) store.Invoice {
	for _, inv := range s.invoices {
		if inv.ID == id {
			return inv
		}
	}
	return store.Invoice{ID: id}
}

// payment names a payment by its transaction output, as the trace does.
func (w *World) payment(s snapshot, invoiceID, paymentID string) string {
	for _, p := range s.payments[invoiceID] {
		if p.ID == paymentID {
			return fmt.Sprintf("%s:%d (%s %s, %s)", p.TxID, p.OutputIndex, p.Amount, p.Asset, p.Status)
		}
	}
	return paymentID
}

// checkDelivered checks at the end that every ledger record reached the sink and every
// event reached its merchant's endpoint (invariants 3 and 4).
func (w *World) checkDelivered(ctx context.Context, s snapshot) {
	for _, m := range s.outbox {
		if _, ok := w.sink.hashes[m.Key]; !ok {
			w.fail(invBooks, "ledger record %s (%s) never reached the sink", shortKey(m.Key), m.Status)
			return
		}
	}
	if len(w.sink.hashes) != len(s.outbox) {
		w.fail(invBooks, "the sink holds %d records, the outbox %d", len(w.sink.hashes), len(s.outbox))
		return
	}
	err := w.raw.View(ctx, func(tx store.Tx) error {
		for _, inv := range s.invoices {
			evs, err := tx.Events(ctx, inv.ID)
			if err != nil {
				return err
			}
			host := inv.MerchantID + ".sim"
			for _, e := range evs {
				if !w.hooks.received(host, e.ID) {
					dels, err := tx.WebhookDeliveries(ctx, store.WebhookDeliveryFilter{MerchantID: inv.MerchantID, Limit: 1 << 20})
					if err != nil {
						return err
					}
					state := "no delivery was created"
					for _, d := range dels {
						if d.EventID == e.ID {
							state = fmt.Sprintf("its delivery is %s after %d attempts (created %s, retry until %s, next %s): %s",
								d.Status, d.Attempts, w.at(d.CreatedAt), w.at(d.RetryUntil), w.at(d.NextAttempt), d.LastError)
						}
					}
					w.fail(invWebhooks, "event %s %s of %s (at %s) never reached %s: %s", e.ID, e.Type, w.label(inv.ID),
						w.at(e.CreatedAt), host, state)
					return nil
				}
			}
			if problem := confirmedOnce(evs, s.options[inv.ID], s.payments[inv.ID], s.cursors); problem != "" {
				w.fail(invWebhooks, "%s: %s", w.label(inv.ID), problem)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		w.fail("simulation", "read events: %v", err)
	}
}

// confirmedOnce checks an invoice's invoice.payment_confirmed events at the end (after
// quiescence): at most one per payment ever, and one for every payment confirmed on the
// final chain with its option's confirmations (recorded on the payment too).
func confirmedOnce(evs []store.Event, opts []store.PaymentOption, pays []store.Payment, cursors map[string]store.Cursor) string {
	count := map[string]int{}
	for _, e := range evs {
		if e.Type != invoices.EventPaymentConfirmed {
			continue
		}
		var d struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil || d.PaymentID == "" {
			return fmt.Sprintf("event %s has no payment_id: %s", e.ID, e.Data)
		}
		if count[d.PaymentID]++; count[d.PaymentID] > 1 {
			return fmt.Sprintf("payment %s has %d invoice.payment_confirmed events", d.PaymentID, count[d.PaymentID])
		}
	}
	for _, p := range pays {
		required := -1
		for _, o := range opts {
			if o.ID == p.OptionID {
				required = o.Confirmations
			}
		}
		c, ok := cursors[p.Chain]
		reached := p.Status == store.PaymentConfirmed && p.BlockHeight != nil && ok && required >= 0 &&
			c.Height-*p.BlockHeight+1 >= int64(required)
		if reached && (count[p.ID] != 1 || p.ConfirmedAt == nil) {
			return fmt.Sprintf("payment %s (block %d, %d confirmations required, tip %d) has %d invoice.payment_confirmed events, confirmed at %v",
				p.ID, *p.BlockHeight, required, c.Height, count[p.ID], p.ConfirmedAt)
		}
		if count[p.ID] == 1 && p.ConfirmedAt == nil {
			return fmt.Sprintf("payment %s has its invoice.payment_confirmed event but no confirmation time", p.ID)
		}
	}
	return ""
}

// at formats a time as the trace does: the simulated time since the start.
func (w *World) at(t time.Time) string { return t.Sub(genesis).Round(time.Second).String() }

// describe lists payments for a failure message.
func (w *World) describe(pays []store.Payment) string {
	var parts []string
	for _, p := range pays {
		where := ""
		if p.BlockHeight != nil {
			where = fmt.Sprintf(" in block %d %s", *p.BlockHeight, p.BlockHash)
		}
		parts = append(parts, fmt.Sprintf("%s:%d %s %s seen at %s%s", p.TxID, p.OutputIndex, p.Amount, p.Status, w.at(p.SeenAt), where))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// reachable reports whether the chain-driven transitions lead from one status to another.
func reachable(from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, tr := range invoices.Transitions {
			if slices.Contains(tr.From, invoices.Status(s)) && !seen[string(tr.To)] {
				seen[string(tr.To)] = true
				queue = append(queue, string(tr.To))
			}
		}
	}
	return seen[to]
}

// singleChain returns the index of the one chain all options are on.
func (w *World) singleChain(opts []store.PaymentOption) (int, bool) {
	idx := -1
	for _, o := range opts {
		for i, c := range w.chains {
			if c.Name == o.Chain {
				if idx >= 0 && idx != i {
					return 0, false
				}
				idx = i
			}
		}
	}
	return idx, idx >= 0
}

// Invariants returns the invariants' sentences, in order (docs/invariants.md lists the same).
func Invariants() []string {
	return []string{invRecorded, invOutcome, invBooks, invWebhooks, invCursor, invRefunds, invConfig}
}
