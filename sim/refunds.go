package sim

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// simRefund is what the simulated merchant and customer know of a refund.
type simRefund struct {
	n    int // the simulation's number, for traces
	id   string
	si   *simInvoice
	dest string // the address the customer gives (at creation or on the refund page)
	// coin is a deposit output of the invoice ("txid:vout", Bitcoin): a coin of the
	// merchant's wallet its transactions spend.
	coin  string
	chain string
	// status and txid are what the auditor last saw of the refund (for the trace).
	status, txid string
}

// refundBurial is how deep an invoice's payments must be before the merchant refunds it:
// deeper than any simulated reorg (4 blocks), so what it received cannot shrink below what
// it refunded (a reorg of the customer's own payment after a refund is a loss the books
// report, not something the simulation is about).
const refundBurial = 5

// refundAction performs one random refund action: a merchant creates a refund, a customer
// claims one, the merchant's wallet sends one (sometimes short, sometimes replaced by a
// transaction paying elsewhere), a stranger pays a refund's destination (an exchange
// address receiving other deposits), or the merchant cancels one.
func (w *World) refundAction(ctx context.Context) {
	done := false
	switch r := w.rng.IntN(20); {
	case r < 4:
	case r < 6:
		done = w.claimRefund(ctx)
	case r < 13:
		done = w.sendRefund(ctx)
	case r < 16:
		done = w.strangerPays()
	case r < 18:
		done = w.replaceRefund()
	default:
		done = w.cancelRefund(ctx)
	}
	if !done {
		w.createRefund(ctx)
	}
}

// pickRefund picks a refund in one of statuses (any when none given), recent ones more
// often; nil when there is none.
func (w *World) pickRefund(statuses ...string) *simRefund {
	rs := w.refunds
	if len(statuses) > 0 {
		rs = nil
		for _, sr := range w.refunds {
			r, ok := w.refund(context.Background(), sr)
			if !ok {
				return nil
			}
			if slices.Contains(statuses, r.Status) {
				rs = append(rs, sr)
			}
		}
	}
	n := len(rs)
	if n == 0 {
		return nil
	}
	if w.rng.IntN(3) > 0 {
		return rs[max(0, n-1-w.rng.IntN(min(n, 4)))]
	}
	return rs[w.rng.IntN(n)]
}

// destination makes the n-th customer refund address of chain.
func destination(chain string, n int) string {
	if chain != "bitcoin" {
		return fmt.Sprintf("0x%040x", 0xdead0000+n)
	}
	h := make([]byte, 20)
	h[0], h[1], h[2] = 0xde, byte(n>>8), byte(n)
	a, err := btcutil.NewAddressWitnessPubKeyHash(h, &chaincfg.RegressionNetParams)
	if err != nil {
		panic(err)
	}
	return a.EncodeAddress()
}

// refundable picks an invoice with confirmed payments, all on one chain and buried
// refundBurial deep, and a deposit output of it. The merchant judges depth as a block
// explorer would: by the best chain's height in the world, against the block chainpay
// recorded — so a store that is behind (node down, catching up after an outage) can make a
// payment a reorg took out look buried, and it is chainpay's sync rule
// (refunds.NotSyncedError) that must refuse the refund then (seed 749427). When there is none the merchant waits:
// a block is mined on a chain with confirmed payments (nil is returned).
func (w *World) refundable(ctx context.Context) (*simInvoice, string, string) {
	type candidate struct {
		si          *simInvoice
		chain, coin string
	}
	var cands []candidate
	var waiting []string // chains with confirmed payments
	err := w.raw.View(ctx, func(tx store.Tx) error {
	next:
		for _, si := range w.invoices {
			pays, err := tx.Payments(ctx, si.id)
			if err != nil {
				return err
			}
			slices.SortFunc(pays, func(a, b store.Payment) int {
				return cmp.Or(cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.OutputIndex, b.OutputIndex))
			})
			c := candidate{si: si}
			for _, p := range pays {
				switch {
				case p.Status != store.PaymentConfirmed:
					continue // not received (yet): only confirmed payments are refundable
				case p.BlockHeight == nil || w.chainOf(p.Chain).Height()-*p.BlockHeight+1 < refundBurial,
					c.chain != "" && c.chain != p.Chain:
					continue next
				}
				c.chain = p.Chain
				if c.coin == "" && p.Amount.Sign() > 0 {
					c.coin = fmt.Sprintf("%s:%d", p.TxID, p.OutputIndex)
				}
			}
			if c.coin != "" {
				cands = append(cands, c)
			}
			for _, p := range pays {
				if p.Status == store.PaymentConfirmed && !slices.Contains(waiting, p.Chain) {
					waiting = append(waiting, p.Chain)
				}
			}
		}
		return nil
	})
	if err != nil {
		w.fail("simulation", "read payments: %v", err)
	}
	if len(cands) == 0 {
		if len(waiting) > 0 {
			w.mine(w.chainOf(waiting[w.rng.IntN(len(waiting))])) // the merchant waits for burial
		} else {
			w.mine(w.chains[w.rng.IntN(len(w.chains))])
		}
		return nil, "", ""
	}
	c := cands[w.rng.IntN(len(cands))]
	return c.si, c.chain, c.coin
}

// createRefund: a merchant refunds part or all of an invoice, giving the customer's
// address or letting the customer claim it.
func (w *World) createRefund(ctx context.Context) {
	si, chain, coin := w.refundable(ctx)
	if si == nil {
		return // the merchant waits (refundable mined a block)
	}
	n := len(w.refunds) + 1
	sr := &simRefund{n: n, si: si, dest: destination(chain, n), coin: coin, chain: chain}
	req := refunds.CreateRequest{Reason: fmt.Sprintf("sim refund %d", n)}
	switch w.rng.IntN(3) {
	case 0: // everything left
	case 1:
		req.Amount = fmt.Sprintf("%d.%02d", 1+w.rng.IntN(60), w.rng.IntN(100))
	default:
		req.Amount = fmt.Sprintf("0.%02d", 1+w.rng.IntN(99))
	}
	if w.rng.IntN(2) == 0 {
		req.Destination = sr.dest
	}
	m := w.merchants[si.m].id
	dr, err := w.proc.ref.Prepare(ctx, m, si.id, req)
	if err != nil {
		w.tracef("merchant %d: refund of inv#%d (%q USD) refused: %v", si.m+1, si.n, req.Amount, err)
		return
	}
	var r store.Refund
	err = w.fs.Tx(ctx, func(tx store.Tx) (err error) { r, err = w.proc.ref.CreateTx(ctx, tx, dr); return })
	if w.crashed() {
		// Whether it committed: the reason names it.
		var rs []store.Refund
		if err := w.raw.View(ctx, func(tx store.Tx) (err error) { rs, err = tx.RefundsOfInvoice(ctx, si.id); return }); err != nil {
			w.fail("simulation", "read refunds: %v", err)
			return
		}
		i := slices.IndexFunc(rs, func(r store.Refund) bool { return r.Reason == req.Reason })
		if i < 0 {
			return
		}
		r, err = rs[i], nil
	}
	if err != nil {
		w.tracef("merchant %d: refund of inv#%d (%q USD) refused: %v", si.m+1, si.n, req.Amount, err)
		return
	}
	sr.id = r.ID
	w.refunds = append(w.refunds, sr)
	w.tracef("merchant %d: ref#%d of inv#%d: %s USD = %s %s, %s", si.m+1, n, si.n, fiat(r.AmountFiat), r.AmountAtomic, r.Asset, r.Status)
}

func fiat(minor *big.Int) string {
	return new(big.Rat).SetFrac(minor, big.NewInt(100)).FloatString(2)
}

// refund reads sr's refund; false when it cannot be read (the simulation failed).
func (w *World) refund(ctx context.Context, sr *simRefund) (store.Refund, bool) {
	var r store.Refund
	err := w.raw.View(ctx, func(tx store.Tx) (err error) { r, err = tx.GetRefund(ctx, "", sr.id); return })
	if err != nil {
		w.fail("simulation", "read refund %s: %v", sr.id, err)
		return r, false
	}
	return r, true
}

// claimRefund: a customer claims a pending refund on its page. It reports whether there
// was one.
func (w *World) claimRefund(ctx context.Context) bool {
	sr := w.pickRefund(store.RefundPending)
	if sr == nil {
		return false
	}
	_, err := w.proc.ref.Claim(ctx, sr.id, sr.dest)
	if w.crashed() {
		return true
	}
	if err != nil {
		w.tracef("customer: claim of ref#%d refused: %v", sr.n, err)
		return true
	}
	w.tracef("customer claims ref#%d to %s", sr.n, sr.dest)
	return true
}

// treasury is merchant m's EVM sending address (its wallet's treasury).
func treasury(m int) string { return fmt.Sprintf("0x%040x", m+1) }

// sendRefund: the merchant's wallet sends a claimed refund: the amount owed, sometimes
// less or more; on Bitcoin it spends a deposit output of the invoice (two refunds spending
// the same one conflict, the later replacing the earlier). It reports whether there was
// one to send.
func (w *World) sendRefund(ctx context.Context) bool {
	sr := w.pickRefund(store.RefundClaimed)
	if sr == nil {
		return false
	}
	r, ok := w.refund(ctx, sr)
	if !ok {
		return true
	}
	amount, kind := refunds.Due(r), "the amount"
	switch w.rng.IntN(8) {
	case 0:
		amount, kind = new(big.Int).Sub(amount, big.NewInt(1)), "1 short"
	case 1:
		amount, kind = new(big.Int).Add(amount, big.NewInt(1000)), "more"
	}
	c := w.chainOf(sr.chain)
	outs := []Output{{Address: r.Destination, Amount: amount}}
	var tx *Tx
	if c.Mempool {
		outs = append(outs, Output{Address: "merchant-change", Amount: big.NewInt(5_000)})
		tx = c.NewTx(sr.coin, w.clock.Peek(), outs...)
	} else {
		tx = c.NewTx("", w.clock.Peek(), outs...)
		tx.From = treasury(sr.si.m)
	}
	replaced := c.Send(tx)
	w.tracef("merchant %d's wallet sends ref#%d %s (%s %s) in %s%s", sr.si.m+1, sr.n, kind, amount, c.Asset, tx.ID, replacedNote(replaced))
	return true
}

func replacedNote(replaced *Tx) string {
	if replaced == nil {
		return ""
	}
	return ", replacing " + replaced.ID
}

// strangerPays: someone else sends a refund's destination exactly what the refund owes
// (the customer gave an exchange deposit address, which receives other deposits).
func (w *World) strangerPays() bool {
	sr := w.pickRefund(store.RefundPending, store.RefundClaimed, store.RefundSent)
	if sr == nil {
		return false
	}
	r, ok := w.refund(context.Background(), sr)
	if !ok {
		return true
	}
	c := w.chainOf(sr.chain)
	outs := []Output{{Address: sr.dest, Amount: refunds.Due(r)}}
	var tx *Tx
	if c.Mempool {
		tx = c.NewTx(fmt.Sprintf("stranger-coin-%d", w.rng.Uint64()), w.clock.Peek(), outs...)
	} else {
		tx = c.NewTx("", w.clock.Peek(), outs...)
		tx.From = "0x00000000000000000000000000000000057a7e75"
	}
	c.Send(tx)
	w.tracef("a stranger pays %s %s to ref#%d's destination in %s", refunds.Due(r), c.Asset, sr.n, tx.ID)
	return true
}

// replaceRefund: the merchant's wallet replaces (RBF) a pending refund transaction by one
// paying its change address instead: the refund's transaction vanishes.
func (w *World) replaceRefund() bool {
	c := w.chains[btcIdx]
	var txs []*Tx
	for _, t := range c.Pool() {
		if t.Coin != "" && slices.ContainsFunc(w.refunds, func(sr *simRefund) bool { return sr.coin == t.Coin }) {
			txs = append(txs, t)
		}
	}
	if len(txs) == 0 {
		return false
	}
	old := txs[w.rng.IntN(len(txs))]
	tx := c.NewTx(old.Coin, w.clock.Peek(), Output{Address: "merchant-change", Amount: big.NewInt(50_000)})
	c.Send(tx)
	w.tracef("the merchant's wallet replaces %s by %s paying itself", old.ID, tx.ID)
	return true
}

// cancelRefund: the merchant cancels a refund (refused once something was sent).
func (w *World) cancelRefund(ctx context.Context) bool {
	sr := w.pickRefund(store.RefundPending, store.RefundClaimed, store.RefundSent)
	if sr == nil {
		return false
	}
	m := w.merchants[sr.si.m].id
	err := w.fs.Tx(ctx, func(tx store.Tx) error { _, err := w.proc.ref.CancelTx(ctx, tx, m, sr.id); return err })
	if w.crashed() {
		return true
	}
	if err != nil {
		w.tracef("merchant %d: cancel of ref#%d refused: %v", sr.si.m+1, sr.n, err)
		return true
	}
	w.tracef("merchant %d cancels ref#%d", sr.si.m+1, sr.n)
	return true
}

// merchantSent reports whether tx was sent by the merchant of sr: it spends a coin of the
// merchant's wallet (Bitcoin), or comes from its treasury (EVM).
func (w *World) merchantSent(sr *simRefund, tx *Tx) bool {
	if tx.Coin != "" {
		return slices.ContainsFunc(w.refunds, func(o *simRefund) bool { return o.si.m == sr.si.m && o.coin == tx.Coin })
	}
	return tx.From == treasury(sr.si.m)
}

// pays reports whether tx pays address at least amount in one output.
func pays(tx *Tx, address string, amount *big.Int) bool {
	return slices.ContainsFunc(tx.Outputs, func(o Output) bool { return o.Address == address && o.Amount.Cmp(amount) >= 0 })
}

// checkRefunds checks invariant 6 after a step: a sent or completed refund follows a
// transaction of its merchant's that pays its destination at least what it owes; a
// completed one's transaction is in the best chain's block the refund names, on a chain
// whose follower is at a healthy tip (fresh). At the end (final), also: a refund still
// claimed or sent has no transaction of its merchant's paying it on the best chain, and a
// sent one's transaction is not gone.
func (w *World) checkRefunds(s snapshot, fresh []bool, final bool) {
	for _, sr := range w.refunds {
		r, ok := s.refunds[sr.id]
		if !ok {
			w.fail("simulation", "ref#%d (%s) is not in the store", sr.n, sr.id)
			return
		}
		if seen := sr.status + " " + sr.txid; seen != r.Status+" "+r.TxID {
			w.tracef("ref#%d is %s %s", sr.n, r.Status, r.TxID)
			sr.status, sr.txid = r.Status, r.TxID
		}
		ci := slices.IndexFunc(w.chains, func(c *Chain) bool { return c.Name == sr.chain })
		c := w.chains[ci]
		if r.Status == store.RefundSent || r.Status == store.RefundCompleted {
			tx := c.Lookup(r.TxID)
			switch {
			case tx == nil:
				w.fail(invRefunds, "ref#%d is %s with transaction %q, which was never sent", sr.n, r.Status, r.TxID)
				return
			case !w.merchantSent(sr, tx):
				w.fail(invRefunds, "ref#%d is %s with %s, which the merchant did not send (spends %q, from %q)", sr.n, r.Status, tx.ID, tx.Coin, tx.From)
				return
			case !pays(tx, r.Destination, refunds.Due(r)):
				w.fail(invRefunds, "ref#%d is %s with %s, which does not pay %s %s to %s", sr.n, r.Status, tx.ID, refunds.Due(r), c.Asset, r.Destination)
				return
			}
			if r.Status == store.RefundCompleted && (final || fresh[ci]) {
				b, on := c.BlockOf(tx)
				if !on || r.BlockHeight == nil || b.Height != *r.BlockHeight || b.Hash != r.BlockHash {
					w.fail(invRefunds, "ref#%d is completed with %s in block %s, which is not where the best chain has it (%v %s)", sr.n, tx.ID, r.BlockHash, on, b.Hash)
					return
				}
			}
			if final && r.Status == store.RefundSent {
				if _, on := c.BlockOf(tx); !on {
					w.fail(invRefunds, "ref#%d is still sent with %s, which is in no block of the best chain after quiescence", sr.n, tx.ID)
					return
				}
			}
		}
		if final && (r.Status == store.RefundClaimed || r.Status == store.RefundSent) {
			c.Confirmed(func(b watcher.Header, tx *Tx, i int, o Output) {
				if w.failure == nil && i == 0 && w.merchantSent(sr, tx) && pays(tx, r.Destination, refunds.Due(r)) {
					w.fail(invRefunds, "ref#%d is %s, but the merchant's %s pays it in block %d of the best chain", sr.n, r.Status, tx.ID, b.Height)
				}
			})
			if w.failure != nil {
				return
			}
		}
	}
}

// refundBooks compares, per refund, the book the snapshot holds with what invariant 3
// requires (as ledger verify does): a completed refund booked at its fiat amount, any
// other not at all; it describes the first difference ("" when there is none).
func (w *World) refundBooks(s snapshot) string {
	for _, sr := range w.refunds {
		r, ok := s.refunds[sr.id]
		if !ok {
			continue
		}
		want := booking(store.BookNone, nil)
		if r.Status == store.RefundCompleted {
			want = booking(store.BookApplied, r.AmountFiat)
		}
		b := s.books[r.ID]
		if have := booking(b.State, b.Amount); have != want {
			return fmt.Sprintf("ref#%d of %s (%s): expected %s, enqueued %s", sr.n, w.label(r.InvoiceID), r.Status, want, have)
		}
	}
	return ""
}

// everyoneIsTheMerchant is an injected node adapter bug (Bugs.RefundsIgnoreSender): every
// transfer to a refund's destination comes out as sent by the refund's merchant.
func (w *World) everyoneIsTheMerchant(ts []watcher.Transfer) []watcher.Transfer {
	for i, t := range ts {
		for _, sr := range w.refunds {
			if sr.dest == t.Address {
				ts[i].Spends, ts[i].From = []string{sr.coin}, treasury(sr.si.m)
			}
		}
	}
	return ts
}
