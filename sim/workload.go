package sim

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// simInvoice is what the simulated merchant and customer know of an invoice.
type simInvoice struct {
	n       int // the simulation's number, for traces
	id      string
	m       int // merchant index
	opts    []store.PaymentOption
	expires time.Time
	sent    []*Tx // every transaction the customer sent to it
	// decided is the status of the merchant's last successful decision (cancel, resolve).
	decided string
	// uncertain means a crash hid whether a merchant's decision committed.
	uncertain bool
}

func (w *World) byID(id string) *simInvoice {
	for _, si := range w.invoices {
		if si.id == id {
			return si
		}
	}
	return nil
}

func (w *World) chainOf(name string) *Chain {
	for _, c := range w.chains {
		if c.Name == name {
			return c
		}
	}
	panic("sim: unknown chain " + name)
}

// sentTo sums what the customer has sent to address in transactions that are still pending
// or on the best chain (replaced and double-spent ones are gone).
func (w *World) sentTo(si *simInvoice, address string) *big.Int {
	sum := new(big.Int)
	for _, tx := range si.sent {
		for _, o := range tx.Outputs {
			if o.Address == address {
				sum.Add(sum, o.Amount)
			}
		}
	}
	return sum
}

// remaining is what the customer believes is still due on the invoice, in o's asset: the
// fraction not yet sent over all its options, rounded up.
func (w *World) remaining(si *simInvoice, o store.PaymentOption) *big.Int {
	left := big.NewRat(1, 1)
	for _, so := range si.opts {
		left.Sub(left, new(big.Rat).SetFrac(w.sentTo(si, so.Address), so.AmountDue))
	}
	if left.Sign() <= 0 {
		return new(big.Int)
	}
	left.Mul(left, new(big.Rat).SetInt(o.AmountDue))
	q, r := new(big.Int).QuoRem(left.Num(), left.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// act performs one random action of the world and returns the invoices a merchant acted on.
func (w *World) act(ctx context.Context) map[string]bool {
	touched := map[string]bool{}
	defer w.healExpired()
	if w.on("refund") && w.rng.IntN(100) < 25 {
		w.refundAction(ctx)
		return touched
	}
	if w.cfg.ConfigChanges && w.rng.IntN(100) < 8 {
		w.changeSettings(ctx)
		return touched
	}
	switch r := w.rng.IntN(100); {
	case r < 14:
		w.create(ctx)
	case r < 38:
		w.pay()
	case r < 42:
		if w.on("rbf") {
			w.replace()
		}
	case r < 45:
		if w.on("doublespend") {
			w.doubleSpend()
		}
	case r < 47:
		if w.on("evict") {
			w.evict()
		}
	case r < 51:
		if w.on("cancel") {
			w.cancel(ctx, touched)
		}
	case r < 55:
		if w.on("resolve") {
			w.resolve(ctx, touched)
		}
	case r < 73:
		w.mine(w.chains[w.rng.IntN(len(w.chains))])
	case r < 78:
		if w.on("reorg") {
			w.reorg(w.chains[w.rng.IntN(len(w.chains))])
		}
	case r < 86:
		d := time.Duration(1+w.rng.IntN(30)) * time.Minute
		w.clock.Advance(d)
		w.tracef("time passes: %s", d)
	case r < 88:
		if w.on("outage") {
			w.outage()
		}
	case r < 94:
		w.node(w.chains[w.rng.IntN(len(w.chains))])
	case r < 98:
		if w.on("sinkfault") {
			w.externals()
		}
	default:
		if w.on("crash") {
			w.tracef("crash between transactions")
			w.fs.crashed = true
			w.crashed()
		}
	}
	return touched
}

func (w *World) create(ctx context.Context) {
	m := w.rng.IntN(len(w.merchants))
	units, hundredths := 1+w.rng.IntN(400), w.rng.IntN(100)
	price, priceCents := fmt.Sprintf("%d.%02d", units, hundredths), units*100+hundredths
	req := invoices.CreateRequest{Amount: price, Currency: "USD",
		ExpiresIn:     []time.Duration{0, 0, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}[w.rng.IntN(5)],
		Confirmations: map[string]int{"bitcoin": []int{0, 1, 1, 2}[w.rng.IntN(4)]}}
	if w.rng.IntN(3) == 0 {
		req.PaymentMethods = []string{[]string{"BTC", "ETH"}[w.rng.IntN(2)]}
	}
	d, err := w.proc.svc.Create(ctx, w.merchants[m].id, req)
	if w.crashed() {
		return
	}
	if err != nil {
		w.tracef("merchant %d: create invoice of %s USD failed: %v", m+1, price, err)
		var ve *invoices.ValidationError
		if limit := w.merchants[m].maxUSD; errors.As(err, &ve) && strings.Contains(ve.Fields["amount"], "maximum") &&
			(limit == 0 || priceCents <= limit) {
			w.fail(invConfig, "merchant %d: an invoice of %s USD was refused (%s) while the store's maximum was %s",
				m+1, price, ve.Fields["amount"], usd(limit))
		}
		return
	}
	if limit := w.merchants[m].maxUSD; limit > 0 && d.Invoice.Price.Cmp(big.NewInt(int64(limit))) > 0 {
		w.fail(invConfig, "merchant %d: invoice %s of %s USD created while the store's maximum was %s",
			m+1, d.Invoice.ID, price, usd(limit))
	}
	si := &simInvoice{n: len(w.invoices) + 1, id: d.Invoice.ID, m: m, opts: d.Options, expires: d.Invoice.ExpiresAt}
	w.invoices = append(w.invoices, si)
	var opts []string
	for _, o := range d.Options {
		opts = append(opts, fmt.Sprintf("%s %s (%d conf)", o.AmountDue, o.Asset, o.Confirmations))
	}
	w.tracef("merchant %d: inv#%d for %s USD, expires in %s: %v", m+1, si.n, price,
		d.Invoice.ExpiresAt.Sub(w.clock.Peek()).Round(time.Minute), opts)
}

// pickInvoice picks an invoice, recent ones more often; nil when there is none.
func (w *World) pickInvoice() *simInvoice {
	if len(w.invoices) == 0 {
		return nil
	}
	n := len(w.invoices)
	if w.rng.IntN(3) > 0 {
		return w.invoices[max(0, n-1-w.rng.IntN(min(n, 4)))]
	}
	return w.invoices[w.rng.IntN(n)]
}

// pay makes a customer pay an invoice: in full, part of it, more, a dust amount, or again.
func (w *World) pay() {
	si := w.pickInvoice()
	if si == nil {
		return
	}
	o := si.opts[w.rng.IntN(len(si.opts))]
	c := w.chainOf(o.Chain)
	remaining := w.remaining(si, o)
	var amount *big.Int
	var kind string
	switch r := w.rng.IntN(10); {
	case r < 5:
		kind, amount = "the rest", remaining
	case r < 7:
		kind, amount = "half the rest", new(big.Int).Quo(remaining, big.NewInt(2))
	case r < 8 && w.on("overpay"):
		kind, amount = "over", new(big.Int).Quo(new(big.Int).Mul(o.AmountDue, big.NewInt(13)), big.NewInt(10))
	case r < 9 && w.on("dust"):
		kind, amount = "dust", big.NewInt(int64(1+w.rng.IntN(545)))
	case w.on("overpay"):
		kind, amount = "in full again", new(big.Int).Set(o.AmountDue)
	default:
		kind, amount = "the rest", remaining
	}
	if amount.Sign() <= 0 {
		if !w.on("dust") {
			return
		}
		kind, amount = "dust", big.NewInt(int64(1+w.rng.IntN(545)))
	}
	outs := []Output{{Address: o.Address, Amount: amount}}
	if w.rng.IntN(8) == 0 && w.on("zero") {
		kind += " + a zero-value output"
		outs = append(outs, Output{Address: o.Address, Amount: new(big.Int)})
	}
	coin := ""
	if c.Mempool {
		coin = fmt.Sprintf("coin-%d", w.rng.Uint64())
		outs = append(outs, Output{Address: "customer-change", Amount: big.NewInt(10_000)})
	}
	tx := c.NewTx(coin, w.clock.Peek(), outs...)
	c.Send(tx)
	si.sent = append(si.sent, tx)
	w.tracef("customer pays inv#%d %s: %s %s on %s in %s", si.n, kind, amount, o.Asset, o.Chain, tx.ID)
}

// pendingPayment picks a pending Bitcoin transaction that pays an invoice; nil when none.
func (w *World) pendingPayment() (*Chain, *Tx) {
	c := w.chains[btcIdx]
	var txs []*Tx
	for _, t := range c.Pool() {
		if t.Coin != "" && slices.ContainsFunc(t.Outputs, func(o Output) bool { return o.Address != "customer-change" }) {
			txs = append(txs, t)
		}
	}
	if len(txs) == 0 {
		return c, nil
	}
	return c, txs[w.rng.IntN(len(txs))]
}

// payer finds the invoice a transaction pays.
func (w *World) payer(tx *Tx) *simInvoice {
	for _, si := range w.invoices {
		if slices.Contains(si.sent, tx) {
			return si
		}
	}
	return nil
}

// replace fee-bumps (RBF) a pending payment: usually paying the same, sometimes not at all.
func (w *World) replace() {
	c, old := w.pendingPayment()
	if old == nil {
		return
	}
	outs := slices.Clone(old.Outputs)
	what := "fee bump"
	if w.rng.IntN(4) == 0 {
		outs = []Output{{Address: "customer-change", Amount: big.NewInt(20_000)}}
		what = "replacement paying the customer back"
	}
	tx := c.NewTx(old.Coin, w.clock.Peek(), outs...)
	c.Send(tx)
	if si := w.payer(old); si != nil {
		si.sent = append(si.sent, tx)
	}
	w.tracef("customer replaces %s by %s (%s)", old.ID, tx.ID, what)
}

// doubleSpend mines a transaction that spends a pending payment's coin elsewhere.
func (w *World) doubleSpend() {
	c, old := w.pendingPayment()
	if old == nil {
		return
	}
	w.clock.Advance(time.Duration(1+w.rng.IntN(10)) * time.Minute)
	ds := c.NewTx(old.Coin, w.clock.Peek(), Output{Address: "customer-change", Amount: big.NewInt(30_000)})
	h := c.Mine(w.clock.Peek(), nil, ds)
	w.tracef("a miner mines double spend %s of %s in bitcoin block %d", ds.ID, old.ID, h.Height)
}

// evict drops a pending payment from our node's mempool; miners may still mine it.
func (w *World) evict() {
	_, old := w.pendingPayment()
	if old == nil || old.Hidden {
		return
	}
	old.Hidden = true
	w.tracef("our bitcoin node evicts %s from its mempool", old.ID)
}

// mineOn mines one block on c after the time between blocks, taking pending transactions
// at random (all of them when all is set).
func (w *World) mineOn(c *Chain, all bool) watcher.Header {
	if c.Mempool {
		w.clock.Advance(time.Duration(1+w.rng.IntN(20)) * time.Minute)
	} else {
		w.clock.Advance(time.Duration(12+w.rng.IntN(100)) * time.Second)
	}
	var take []*Tx
	for _, t := range c.Pool() {
		if all || w.rng.IntN(10) < 8 {
			take = append(take, t)
		}
	}
	return c.Mine(w.clock.Peek(), take)
}

func (w *World) mine(c *Chain) {
	h := w.mineOn(c, false)
	w.tracef("%s block %d %s (%d txs)", c.Name, h.Height, h.Hash, len(c.blocks[h.Height].Txs))
}

// reorg replaces the top 1..4 blocks of c by a longer branch; the orphaned transactions
// return to the pool, some get mined again, one may be double-spent.
func (w *World) reorg(c *Chain) {
	limit := int(c.Height()) - 3
	if limit < 1 {
		return
	}
	depth := 1 + w.rng.IntN(min(4, limit))
	back := c.Unwind(depth)
	var extra []*Tx
	if c.Mempool && len(back) > 0 && w.rng.IntN(4) == 0 && w.on("doublespend") {
		old := back[w.rng.IntN(len(back))]
		if old.Coin != "" {
			extra = append(extra, c.NewTx(old.Coin, w.clock.Peek(), Output{Address: "customer-change", Amount: big.NewInt(40_000)}))
			w.tracef("the new %s branch double-spends %s", c.Name, old.ID)
		}
	}
	blocks := depth + w.rng.IntN(2)
	for i := range blocks {
		var take []*Tx
		for _, t := range c.Pool() {
			if w.rng.IntN(10) < 6 {
				take = append(take, t)
			}
		}
		if i > 0 {
			extra = nil
		}
		w.clock.Advance(time.Duration(30+w.rng.IntN(300)) * time.Second)
		c.Mine(w.clock.Peek(), take, extra...)
	}
	w.tracef("%s reorg: %d blocks replaced by %d, tip %d %s", c.Name, depth, blocks, c.Height(), c.Tip().Hash)
}

// outage stops the process for hours to days while the chains go on and customers pay.
func (w *World) outage() {
	total := time.Duration(1+w.rng.IntN(72)) * time.Hour
	w.tracef("OUTAGE of %s begins", total)
	for end := w.clock.Peek().Add(total); w.clock.Peek().Before(end); {
		if w.rng.IntN(6) == 0 {
			w.pay()
		}
		for _, c := range w.chains {
			w.clock.Advance(5 * time.Minute)
			c.Mine(w.clock.Peek(), slices.Clone(c.Pool()))
		}
	}
	w.tracef("outage ends; tips bitcoin %d, ethereum %d", w.chains[btcIdx].Height(), w.chains[ethIdx].Height())
}

// node changes how c's node answers: healthy, behind, down, or timing out.
func (w *World) node(c *Chain) {
	c.Lag, c.Down, c.Timeout, c.Stalled = 0, false, false, -1
	r := w.rng.IntN(12)
	if (r >= 4 && r < 8 && !w.on("lag")) || (r >= 8 && !w.on("nodefail")) {
		r = 0
	}
	switch {
	case r < 4:
		w.tracef("%s node healthy", c.Name)
	case r < 8:
		c.Lag = 1 + w.rng.IntN(2)
		w.tracef("%s node answers %d blocks behind", c.Name, c.Lag)
	case r < 9:
		c.Down = true
		w.tracef("%s node down", c.Name)
	case r < 10:
		c.Timeout = true
		w.tracef("%s node times out", c.Name)
	default:
		c.Stalled = c.Height()
		w.tracef("%s node stuck at block %d", c.Name, c.Stalled)
	}
}

// externals changes how the ledger sink and the webhook endpoints answer. An outage of
// theirs lasts at most 12 hours: deliveries give up after their retry window (3 days), after
// which only a merchant's redelivery helps, which is not what invariant 4 is about.
func (w *World) externals() {
	w.healExternals()
	w.externalsUntil = w.clock.Peek().Add(time.Duration(10+w.rng.IntN(710)) * time.Minute)
	switch w.rng.IntN(6) {
	case 0:
		w.sink.Down = true
		w.tracef("ledger sink answers 503")
	case 1:
		w.sink.Timeout = true
		w.tracef("ledger sink times out")
	case 2:
		w.hooks.mu.Lock()
		w.hooks.Down = true
		w.hooks.mu.Unlock()
		w.tracef("webhook endpoints answer 503")
	case 3:
		w.hooks.mu.Lock()
		w.hooks.Timeout = true
		w.hooks.mu.Unlock()
		w.tracef("webhook endpoints time out")
	default:
		w.tracef("ledger sink and webhook endpoints healthy")
	}
}

// healExternals makes the sink and the endpoints answer again.
func (w *World) healExternals() {
	w.sink.Down, w.sink.Timeout = false, false
	w.hooks.mu.Lock()
	w.hooks.Down, w.hooks.Timeout = false, false
	w.hooks.mu.Unlock()
}

// healExpired ends an outage of the sink or endpoints that has lasted its time.
func (w *World) healExpired() {
	if !w.externalsUntil.IsZero() && w.clock.Peek().After(w.externalsUntil) {
		w.externalsUntil = time.Time{}
		w.healExternals()
		w.tracef("ledger sink and webhook endpoints answer again")
	}
}

// decide runs a merchant's decision on an invoice in one transaction.
func (w *World) decide(ctx context.Context, touched map[string]bool, what, status string,
	fn func(tx store.Tx, mid, id string) error) {
	si := w.pickInvoice()
	if si == nil {
		return
	}
	touched[si.id] = true
	err := w.fs.Tx(ctx, func(tx store.Tx) error { return fn(tx, w.merchants[si.m].id, si.id) })
	if w.crashed() {
		si.uncertain = true
		return
	}
	if err != nil {
		w.tracef("merchant %d: %s inv#%d refused: %v", si.m+1, what, si.n, err)
		return
	}
	si.decided = status
	w.tracef("merchant %d: %s inv#%d", si.m+1, what, si.n)
}

func (w *World) cancel(ctx context.Context, touched map[string]bool) {
	w.decide(ctx, touched, "cancel", store.StatusInvalid, func(tx store.Tx, mid, id string) error {
		_, err := w.proc.svc.CancelTx(ctx, tx, mid, id)
		return err
	})
}

func (w *World) resolve(ctx context.Context, touched map[string]bool) {
	to := []invoices.Status{invoices.StatusSettled, invoices.StatusInvalid}[w.rng.IntN(2)]
	w.decide(ctx, touched, "resolve to "+string(to), string(to), func(tx store.Tx, mid, id string) error {
		_, err := w.proc.svc.ResolveTx(ctx, tx, mid, id, to, "decided in the simulation")
		return err
	})
}

// loseEveryFifth is an injected node adapter bug: it loses the transfers of every fifth
// transaction.
func loseEveryFifth(ts []watcher.Transfer) []watcher.Transfer {
	return slices.DeleteFunc(ts, func(t watcher.Transfer) bool {
		return strings.HasSuffix(t.TxID, "0") || strings.HasSuffix(t.TxID, "5")
	})
}

// changeSettings is another process (chainpay store set, another replica) setting, changing
// or lifting a store's maximum invoice amount, straight in the store: the simulated
// process's invoice service keeps the settings it read before (Config.ConfigChanges).
func (w *World) changeSettings(ctx context.Context) {
	m := w.rng.IntN(len(w.merchants))
	limit := []int{0, 5000, 20000}[w.rng.IntN(3)] // USD cents; prices are 1.00-400.99
	settings := "{}"
	if limit > 0 {
		settings = fmt.Sprintf(`{"max_amount":{"USD":"%d.%02d"}}`, limit/100, limit%100)
	}
	err := w.raw.Tx(ctx, func(tx store.Tx) error { return tx.SetMerchantSettings(ctx, w.merchants[m].id, settings) })
	if err != nil {
		w.tracef("merchant %d: settings %s not stored: %v", m+1, settings, err)
		return
	}
	w.merchants[m].maxUSD = limit
	w.tracef("another process sets merchant %d's settings to %s", m+1, settings)
}

// usd formats a store maximum in cents (0: none).
func usd(limit int) string {
	if limit == 0 {
		return "none"
	}
	return fmt.Sprintf("%d.%02d USD", limit/100, limit%100)
}
