package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Header identifies a block.
type Header struct {
	Height int64
	Hash   string
	Parent string
	Time   time.Time
}

// Transfer is value arriving at an address: a transaction output, or a token transfer log.
// A source reports it as a candidate; the follower records it when it pays a watched option.
type Transfer struct {
	TxID    string
	Index   int64 // output index (Bitcoin) or log index (EVM)
	Address string
	Asset   string // asset code
	Amount  *big.Int
	// Spends lists the outpoints ("txid:vout") the transaction spends (Bitcoin; nil on
	// account chains): a replacement (RBF) spends some of the same outpoints.
	Spends []string
	// From is the sender on account chains: the transaction's sender for a native transfer,
	// the ERC-20 Transfer log's from for a token; "" where it is not known (a native
	// transfer found by reconciling balances, Bitcoin). Refunds are matched only when the
	// merchant sent them (refunds.follower).
	From string
	// SeenAt is the node's own first-seen time of an unconfirmed transaction, where the
	// node reports one (zero otherwise).
	SeenAt time.Time
}

// Block is a block with its candidate transfers: see Source.BlockAt.
type Block struct {
	Header
	Transfers []Transfer
}

// Finalizer is implemented by sources of chains whose payments settle on a block tag of
// the node (EVM `finalized`, `safe`) rather than a depth: FinalHeight is the height of the
// node's block at that tag (0: none). After each step the follower stores it, capped at
// its cursor, as the cursor's final height and reviews the invoices whose payments it made
// final.
type Finalizer interface {
	FinalHeight(ctx context.Context) (int64, error)
}

// Source is one chain as a follower reads it, through the node(s) of that chain. A source
// reports candidate transfers: value arriving at any address it can name. The follower
// keeps those that pay a watched payment option, matched against the store (Tx.WatchedAt),
// and hands them all to Config.Refunds; it holds no address map for it, so its memory
// does not grow with the open invoices (issue 22).
type Source interface {
	// Chain names the chain ("bitcoin", "ethereum").
	Chain() string
	// Filtered reports whether the source reports only transfers to the addresses handed
	// to it: then it must be a Watcher, and the follower keeps the watch list for it. A
	// source that is not filtered reports every candidate transfer and is handed nothing.
	// (A method of Source, not an optional interface, so that a wrapper cannot hide it:
	// a filtered source handed no addresses would lose every payment.)
	Filtered() bool
	// Tip returns the node's best block.
	Tip(ctx context.Context) (Header, error)
	// HeaderAt returns the best chain's block header at height.
	HeaderAt(ctx context.Context, height int64) (Header, error)
	// BlockAt returns the best chain's block at height with its candidate transfers (a
	// filtered source's: those to the addresses it was handed).
	BlockAt(ctx context.Context, height int64) (Block, error)
	// Mempool returns the candidate unconfirmed transfers, every one each time (a filtered
	// source's: those to the addresses it was handed); chains without a visible mempool
	// return nil.
	Mempool(ctx context.Context) ([]Transfer, error)
}

// Watcher is implemented by filtered sources (Source.Filtered), which need the watched
// deposit addresses themselves: the EthereumSource reconciles their balances, which no
// block lists. The follower hands it every deposit address still to watch (loaded at
// start, then from the store's option feed) and the refunds' destinations; adding one
// twice is harmless. The follower's counts of the addresses handed over and its closing
// queue exist for a filtered source only.
type Watcher interface {
	Watch(addresses []string) error
}

// Unwatcher is implemented by Watchers that can forget deposit addresses. The follower
// calls it when an invoice closes (see Config.CloseGrace), so that the source's watch set
// and its per-block work stay bounded by the open invoices. Forgetting an address that is
// not watched is harmless.
type Unwatcher interface {
	Unwatch(addresses []string)
}

// Invoices is what the follower needs from the invoice service.
type Invoices interface {
	// ReviewManyTx re-evaluates invoices inside tx (reading them in batched queries) and
	// stores their new states and events; it returns the events per invoice that changed.
	ReviewManyTx(ctx context.Context, tx store.Tx, invoiceIDs []string) (map[string][]string, error)
	// PaymentReceivedTx stores the payment_received event of a new payment.
	PaymentReceivedTx(ctx context.Context, tx store.Tx, p store.Payment) error
}

// Config configures a Follower.
type Config struct {
	// StartHeight is where a follower without a cursor starts; 0 means at the node's tip
	// (blocks before the first start are not scanned).
	StartHeight int64
	// ReorgDepth is how many recent block hashes are kept to find a common ancestor; older
	// ones are deleted as the cursor advances.
	ReorgDepth int
	Now        func() time.Time
	Logger     *slog.Logger
	// Holder identifies this process for the follower's lease ("" = no lease: SQLite and
	// tests, where one process follows each chain).
	Holder string
	// LeaseTTL is how long a lease lasts without renewal; default 15 s.
	LeaseTTL time.Duration
	// TipFreshness is how recent the node's tip block must be (by its timestamp, against
	// the wall clock) for the follower at that tip to count as current: only then does the
	// chain time advance with the wall clock, so that invoices expire without a new block.
	// A follower whose node is stuck further behind judges invoices by the tip block's
	// time. Default 2 h (Bitcoin blocks are sometimes an hour apart); EVM chains can use
	// minutes.
	TipFreshness time.Duration
	// OrphanGraceBlocks is how many blocks a payment that a reorg took out of its block
	// stays pending on a chain without a visible mempool before it is marked removed, so
	// that a transaction mined again a few blocks later keeps its payment row and its
	// invoice its status. Default 12.
	OrphanGraceBlocks int64
	// CloseGrace is how long after the end of an invoice's monitoring window (by chain time)
	// the follower keeps watching its deposit addresses; after that they leave the
	// follower's counts and the source's watch set (Unwatcher), so both are bounded by
	// the open invoices. An address with a payment still unconfirmed, or confirmed less
	// than ReorgDepth blocks deep, stays watched until that payment is buried (a mempool
	// payment must still be matched when it is mined; one a reorg takes out must be matched
	// when it is mined again). Default 6 h: it covers block timestamps up to 2 h off and a
	// reorg re-applying blocks a few hours old. Money sent to an address after that is not
	// recorded (docs/operations.md).
	CloseGrace time.Duration
	// Skipped, when set, is called once for every transfer the follower refuses to store
	// (zero or negative amount, unknown asset): such a transfer is counted and skipped,
	// never allowed to fail its block.
	Skipped func(reason string)
	// Refunds, when set, follows refund transactions with this chain (watcher/refunds.go).
	Refunds Refunds
}

// LeaseName is the lease that elects the replica following chain.
func LeaseName(chain string) string { return "follower:" + chain }

// EVMTipFreshness is the TipFreshness for EVM chains, whose blocks come seconds apart: a
// node whose tip is older than this is stuck or syncing, and must not let invoices expire
// by the wall clock (an hour-old tip passes the 2 h Bitcoin default; simulator seed 1167).
const EVMTipFreshness = 10 * time.Minute

// ErrNotLeader means another replica holds the follower's lease.
var ErrNotLeader = errors.New("another replica follows this chain")

// Follower follows one chain. Step is not safe for concurrent use: exactly one follower per
// chain may run at a time (see Lease for several replicas).
type Follower struct {
	st  store.Store
	src Source
	inv Invoices
	cfg Config
	// monitoredAfter and pendingAbove are the watch rule of this step (Tx.WatchedAt), set
	// from the cursor when the step starts: an option is watched while its invoice is
	// monitored after monitoredAfter (CloseGrace before the chain time) or has a payment on
	// this chain unconfirmed or confirmed above pendingAbove (ReorgDepth below the cursor).
	monitoredAfter time.Time
	pendingAbove   int64
	// pooled holds the transactions of the last mempool snapshot whose transfers were
	// matched; fresh the addresses of the options the feed returned since. A snapshot
	// matches the transfers of its new transactions and those to fresh addresses only (an
	// option committed after a transaction was first matched is in the feed). Both change
	// only after the pass committed; pooled is bounded by the node's mempool.
	pooled map[string]bool
	fresh  map[string]bool
	// leaseUntil is when the lease this follower last took or renewed runs out (Holder set):
	// a step that finds it passed, or loses the lease, forgets pooled and missing, because
	// another replica may have judged the mempool's payments meanwhile.
	leaseUntil time.Time

	// broken is why the follower cannot follow its source at all (Step returns it).
	broken error

	// For a filtered source only (nil otherwise). The follower keeps no list of the open
	// invoices or of the addresses it handed over: the source holds its watch set, and the
	// store lists the invoices leaving the watch rule (closeInvoices).
	watcher Watcher
	// closedThrough is the watch rule's time (monitoredAfter) up to which the invoices that
	// left the rule were read (store.ClosingOptions); deferred holds, per invoice whose
	// window ended before it but that still had a payment pending (or that the feed
	// returned later), the addresses of its options on the chain: checked again each step.
	// Bounded by the invoices past their window with a pending payment.
	closedThrough time.Time
	deferred      map[string][]string
	// refundTo holds the refund destinations handed to the source (watchRefunds): closing
	// an invoice never unwatches a refund's address.
	refundTo map[string]bool
	// loaded means the feed's start was read (and, for a filtered source, the watch list
	// loaded); feed is the position in the option feed up to which every option has been
	// seen (store.FeedPos): in memory only, a restarted follower starts again.
	loaded bool
	feed   store.FeedPos
	// missing counts consecutive mempool snapshots that lacked a mempool payment (by payment
	// id) or a sent refund's transaction ("refund:" + refund id). It is updated only after
	// the transaction that judged the snapshot committed.
	missing map[string]int
	// refundSince holds, per sent refund whose transaction is in no block on a chain
	// without a visible mempool, the height the follower first found it so
	// (refundsOrphanedTx). Updated only after commit.
	refundSince map[string]int64
	// tipTime is the time of the block at the cursor, once known (zero before).
	tipTime time.Time
}

// NewFollower returns a follower of src.
func NewFollower(st store.Store, src Source, inv Invoices, cfg Config) *Follower {
	if cfg.ReorgDepth == 0 {
		cfg.ReorgDepth = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.TipFreshness == 0 {
		cfg.TipFreshness = 2 * time.Hour
	}
	if cfg.OrphanGraceBlocks == 0 {
		cfg.OrphanGraceBlocks = 12
	}
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = 6 * time.Hour
	}
	cfg.CloseGrace = max(cfg.CloseGrace, blockTimeSlack)
	cfg.Logger = cfg.Logger.With("chain", src.Chain())
	f := &Follower{st: st, src: src, inv: inv, cfg: cfg, missing: map[string]int{}, refundSince: map[string]int64{},
		pooled: map[string]bool{}, fresh: map[string]bool{}}
	if src.Filtered() {
		w, ok := src.(Watcher)
		if !ok {
			f.broken = fmt.Errorf("follower of %s: the source reports only the addresses handed to it but takes none (it is not a watcher.Watcher)", src.Chain())
		}
		f.watcher = w
		f.deferred, f.refundTo = map[string][]string{}, map[string]bool{}
	}
	return f
}

type watchKey struct{ address, asset string }

// watchedOpt is what a matched transfer needs of its payment option (match): what a
// payment to it records.
type watchedOpt struct {
	id, invoiceID string
	createdAt     time.Time
}

func watchedOf(o store.PaymentOption) watchedOpt {
	return watchedOpt{id: o.ID, invoiceID: o.InvoiceID, createdAt: o.CreatedAt}
}

// match reads from the store the watched options at the addresses of ts (the step's watch
// rule), inside tx: it is how a block's or the mempool's transfers find their options.
func (f *Follower) match(ctx context.Context, tx store.Tx, ts []Transfer) (map[watchKey]watchedOpt, error) {
	seen := make(map[string]bool, len(ts))
	addrs := make([]string, 0, len(ts))
	for _, t := range ts {
		if !seen[t.Address] {
			seen[t.Address] = true
			addrs = append(addrs, t.Address)
		}
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	opts, err := tx.WatchedAt(ctx, f.src.Chain(), addrs, f.monitoredAfter, f.pendingAbove)
	if err != nil {
		return nil, fmt.Errorf("match transfers: %w", err)
	}
	out := make(map[watchKey]watchedOpt, len(opts))
	for _, o := range opts {
		out[watchKey{o.Address, o.Asset}] = watchedOf(o.PaymentOption)
	}
	return out, nil
}

// blockTimeSlack is how far a block's timestamp may lie before the time it was really
// mined (Bitcoin allows a block up to about two hours off): the least CloseGrace.
const blockTimeSlack = 2 * time.Hour

// feedPage is how many options one read of the option feed returns.
const feedPage = 1000

// freshMax bounds the addresses of new options kept for the next mempool pass (f.fresh):
// past it (mempool passes failing for long), the next pass matches every transfer again.
const freshMax = 100_000

// refreshWatchlist prepares the step's matching before blocks are applied. It sets the
// watch rule from the cursor (monitoredAfter, pendingAbove) and reads the option feed
// (store.OptionFeed) after its position, which returns every option committed since,
// whatever the commit order and the clocks of the API replicas that created them (no
// look-back window on created_at): their addresses are fresh for the next mempool pass.
//
// For a filtered source it also keeps the source's watch set: on first use it loads every
// option still to watch at the cursor's chain time, hands it the feed's new options and the
// refunds' destinations, and drops the invoices that closed (closeInvoices). It runs after
// the tip is read: a payment in a block up to the tip went to an invoice committed before
// that block, so its address is watched.
func (f *Follower) refreshWatchlist(ctx context.Context, cur store.Cursor) error {
	chainTime := knownTime(cur.ChainTime)
	f.monitoredAfter = time.Time{} // before the first cursor: every option
	if !chainTime.IsZero() {
		f.monitoredAfter = chainTime.Add(-f.cfg.CloseGrace)
	}
	f.pendingAbove = cur.Height - int64(f.cfg.ReorgDepth)
	if !f.loaded {
		var (
			opts  []store.WatchedOption
			start store.FeedPos
		)
		err := f.st.View(ctx, func(tx store.Tx) (err error) {
			if f.watcher == nil {
				// The feed's horizon only (no rows): the first mempool pass matches every
				// transfer against the store, which holds every option below it.
				var h int64
				_, h, err = tx.OptionFeed(ctx, f.src.Chain(), store.FeedPos{}, 0)
				start = store.FeedPos{XID: h}
				return err
			}
			opts, start, err = tx.WatchList(ctx, f.src.Chain(), f.monitoredAfter, f.pendingAbove)
			return err
		})
		if err != nil {
			return fmt.Errorf("load watched addresses: %w", err)
		}
		// The list holds the invoices monitored after monitoredAfter (and those past it with a
		// pending payment, deferred by watch): the ones closing later are read from there.
		f.closedThrough = f.monitoredAfter
		if err := f.watch(opts); err != nil {
			return err
		}
		f.loaded, f.feed = true, start
		if f.watcher != nil {
			f.cfg.Logger.Debug("watch list loaded", "options", len(opts))
		}
	}
	// Pages of the feed: every visible option after the position is taken, but the
	// position moves only past those below the horizon; the others are read again next time.
	pos, safe := f.feed, true
	for {
		var (
			page    []store.WatchedOption
			horizon int64
		)
		err := f.st.View(ctx, func(tx store.Tx) (err error) {
			page, horizon, err = tx.OptionFeed(ctx, f.src.Chain(), pos, feedPage)
			return err
		})
		if err != nil {
			return fmt.Errorf("read new deposit addresses: %w", err)
		}
		if err := f.watch(page); err != nil {
			return err
		}
		for _, o := range page {
			if safe = safe && o.Pos.XID < horizon; safe {
				f.feed = o.Pos
			}
			pos = o.Pos
		}
		if len(page) < feedPage {
			break
		}
	}
	if f.watcher == nil {
		return nil
	}
	if err := f.watchRefunds(ctx); err != nil {
		return err
	}
	return f.closeInvoices(ctx, cur)
}

// watch takes new options: their addresses are fresh for the next mempool pass, and a
// filtered source is handed them (again, harmlessly, for an option the feed returns twice).
// An option whose invoice's window ended before closedThrough is deferred: the store will
// not list it as closing any more.
func (f *Follower) watch(opts []store.WatchedOption) error {
	if f.watcher == nil {
		for _, o := range opts {
			f.fresh[o.Address] = true
		}
		if len(f.fresh) > freshMax { // passes kept failing: look the whole mempool up again
			clear(f.fresh)
			clear(f.pooled)
		}
		return nil
	}
	var addrs []string
	seen := map[string]bool{}
	for _, o := range opts {
		if !seen[o.Address] {
			seen[o.Address] = true
			addrs = append(addrs, o.Address)
		}
	}
	if len(addrs) > 0 {
		if err := f.watcher.Watch(addrs); err != nil {
			return fmt.Errorf("watch addresses: %w", err)
		}
		f.cfg.Logger.Debug("watching deposit addresses", "count", len(addrs))
	}
	for _, o := range opts { // only once the source took them
		if !o.MonitorUntil.After(f.closedThrough) && !slices.Contains(f.deferred[o.InvoiceID], o.Address) {
			f.deferred[o.InvoiceID] = append(f.deferred[o.InvoiceID], o.Address)
		}
	}
	return nil
}

// closeInvoices drops from the source's watch set the addresses of invoices that left the
// watch rule: their monitoring window ended more than CloseGrace before the chain time (read
// from the store as the rule's time moves, store.ClosingOptions) and they have no payment on
// this chain still unconfirmed or less than ReorgDepth blocks deep (those are deferred and
// checked again at the next step). An address stays while any option at it is watched, by
// the rule that matches transfers (store.WatchedAt), or while it is a refund's destination.
// Its cost is proportional to the invoices closing, not to those watched.
func (f *Follower) closeInvoices(ctx context.Context, cur store.Cursor) error {
	if knownTime(cur.ChainTime).IsZero() {
		return nil
	}
	before := f.monitoredAfter
	var (
		byInvoice map[string][]string // the invoices checked → their addresses; then the deferred ones
		addrs     []string
		still     map[string]bool // addresses with an option still watched
	)
	err := f.st.View(ctx, func(tx store.Tx) error {
		byInvoice, addrs, still = make(map[string][]string, len(f.deferred)), nil, map[string]bool{}
		for id, as := range f.deferred {
			byInvoice[id] = slices.Clone(as)
		}
		if before.After(f.closedThrough) {
			due, err := tx.ClosingOptions(ctx, f.src.Chain(), f.closedThrough, before)
			if err != nil {
				return err
			}
			for _, o := range due {
				if !slices.Contains(byInvoice[o.InvoiceID], o.Address) {
					byInvoice[o.InvoiceID] = append(byInvoice[o.InvoiceID], o.Address)
				}
			}
		}
		seen := map[string]bool{}
		for _, as := range byInvoice {
			for _, a := range as {
				if !seen[a] {
					seen[a] = true
					addrs = append(addrs, a)
				}
			}
		}
		if len(addrs) == 0 {
			return nil
		}
		watched, err := tx.WatchedAt(ctx, f.src.Chain(), addrs, f.monitoredAfter, f.pendingAbove)
		if err != nil {
			return err
		}
		pending := map[string]bool{}
		for _, o := range watched {
			still[o.Address], pending[o.InvoiceID] = true, true
		}
		for id := range byInvoice {
			if !pending[id] {
				delete(byInvoice, id)
			}
		}
		return nil
	})
	if err != nil { // nothing dropped: read again next time
		return fmt.Errorf("read closing invoices: %w", err)
	}
	var gone []string
	for _, a := range addrs {
		if !still[a] && !f.refundTo[a] {
			gone = append(gone, a)
		}
	}
	if u, ok := f.src.(Unwatcher); ok && len(gone) > 0 {
		u.Unwatch(gone)
	}
	if before.After(f.closedThrough) {
		f.closedThrough = before
	}
	f.deferred = byInvoice
	if len(gone) > 0 {
		f.cfg.Logger.Debug("closed invoices left the watch list", "addresses", len(gone), "deferred", len(f.deferred))
	}
	return nil
}

// Deferred reports how many invoices past their monitoring window a filtered source's
// follower keeps watching for a payment still pending (0 for any other source): the only
// state per invoice it holds.
func (f *Follower) Deferred() int { return len(f.deferred) }

// Watches reports whether a transfer to address would find a payment option now, by the
// watch rule of the follower's last step (before the first: every option).
func (f *Follower) Watches(ctx context.Context, address string) (bool, error) {
	var n int
	err := f.st.View(ctx, func(tx store.Tx) error {
		opts, err := tx.WatchedAt(ctx, f.src.Chain(), []string{address}, f.monitoredAfter, f.pendingAbove)
		n = len(opts)
		return err
	})
	return n > 0, err
}

// Step brings the follower up to the node's tip once: new deposit addresses, blocks after
// the cursor (rewinding on reorgs), then the mempool. It returns the number of blocks applied.
//
// With a Holder configured, Step first takes or renews the chain's lease and returns
// ErrNotLeader while another replica holds it; every block transaction re-checks the lease
// (fencing), so a replica that stalled past its lease cannot commit.
func (f *Follower) Step(ctx context.Context) (int, error) {
	n, err := f.step(ctx)
	if errors.Is(err, ErrNotLeader) {
		f.forgetPool()
	}
	return n, err
}

// forgetPool drops what the follower knew of the mempool's payments (after it lost its
// lease): the next pass looks every transaction up again and starts the absence counts over.
func (f *Follower) forgetPool() {
	clear(f.pooled)
	clear(f.missing)
	f.leaseUntil = time.Time{}
}

func (f *Follower) step(ctx context.Context) (int, error) {
	if f.broken != nil {
		return 0, f.broken
	}
	if f.cfg.Holder != "" {
		now := f.cfg.Now().UTC()
		var ok bool
		err := f.st.Tx(ctx, func(tx store.Tx) (err error) {
			ok, err = tx.AcquireLease(ctx, LeaseName(f.src.Chain()), f.cfg.Holder, now, now.Add(f.cfg.LeaseTTL))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("lease: %w", err)
		}
		if !ok {
			return 0, ErrNotLeader
		}
		if now.After(f.leaseUntil) { // first taken, or lapsed since the last step
			f.forgetPool()
		}
		f.leaseUntil = now.Add(f.cfg.LeaseTTL)
	}
	tip, err := f.src.Tip(ctx)
	if err != nil {
		return 0, fmt.Errorf("tip: %w", err)
	}
	cur, err := f.cursor(ctx, tip)
	if err != nil {
		return 0, err
	}
	// The watch rule and the feed are read after the tip: a payment in a block up to the tip
	// went to an invoice created before that block. (For a filtered source this matters:
	// its watch list, loaded before the tip, would miss for good an invoice created and
	// paid in between. Blocks are matched in the store inside their own transaction.)
	if err := f.refreshWatchlist(ctx, cur); err != nil {
		return 0, err
	}
	applied := 0
	switch {
	case tip.Height < cur.Height:
		// The node answers behind our cursor. Lag is not a reorg: only a different block at
		// a height both sides have proves one.
		ours, err := f.recordedHash(ctx, tip.Height)
		if err != nil {
			return 0, err
		}
		if ours == "" || ours == tip.Hash {
			f.cfg.Logger.Info("node is behind the follower: waiting for it", "node_tip", tip.Height, "cursor", cur.Height)
			return 0, nil
		}
		if cur, err = f.rewind(ctx, cur, tip); err != nil {
			return 0, err
		}
	case tip.Height == cur.Height && tip.Hash != cur.Hash:
		// Same height, another block: a reorg.
		if cur, err = f.rewind(ctx, cur, tip); err != nil {
			return 0, err
		}
	}
	for cur.Height < tip.Height {
		if err := ctx.Err(); err != nil {
			return applied, err
		}
		n, next, forked, err := f.follow(ctx, cur, tip)
		applied += n
		cur = next
		if err != nil {
			return applied, err
		}
		if forked {
			if cur, err = f.rewind(ctx, cur, tip); err != nil {
				return applied, err
			}
		}
	}
	at, err := f.chainTimeAt(ctx, cur)
	if err != nil {
		return applied, fmt.Errorf("chain time: %w", err)
	}
	if err := f.advanceFinal(ctx, cur); err != nil {
		return applied, fmt.Errorf("final block: %w", err)
	}
	// The mempool pass commits the chain time in its own transaction (no separate write).
	if err := f.mempool(ctx, tip, at); err != nil {
		return applied, fmt.Errorf("mempool: %w", err)
	}
	// The blocks applied above reviewed what their heights made due; what is left is due
	// by the chain time.
	if err := f.reviewDue(ctx, at, cur.Height); err != nil {
		return applied, fmt.Errorf("review due invoices: %w", err)
	}
	return applied, nil
}

// advanceFinal reads the node's final block (Finalizer sources only) and, when it moved
// above the cursor's final height, stores it (never above the cursor: a final block the
// follower has not applied is not final for it yet) and reviews the invoices with a
// payment that reached its confirmations between the two, in one transaction. A cursor
// that moved meanwhile (another replica) is left for the next step.
func (f *Follower) advanceFinal(ctx context.Context, cur store.Cursor) error {
	fz, ok := f.src.(Finalizer)
	if !ok {
		return nil
	}
	final, err := fz.FinalHeight(ctx)
	if err != nil {
		return err
	}
	final = min(final, cur.Height)
	if final <= cur.Final {
		return nil
	}
	now := f.cfg.Now().UTC()
	return f.st.Tx(ctx, func(tx store.Tx) error {
		if err := f.fence(ctx, tx, now); err != nil {
			return err
		}
		c, err := tx.Cursor(ctx, f.src.Chain())
		if err != nil {
			return err
		}
		if c.Hash != cur.Hash || final <= c.Final {
			return nil
		}
		prev := c.Final
		c.Final, c.UpdatedAt = final, now
		if err := tx.SetCursor(ctx, c); err != nil {
			return err
		}
		// Payments count confirmations from the final block on this chain: those that
		// reach theirs at a final height in (prev, final] are due. No time is due here.
		due, err := tx.InvoicesDue(ctx, f.src.Chain(), time.Time{}, prev, final)
		if err != nil {
			return err
		}
		return f.review(ctx, tx, due)
	})
}

// knownTime is t, or the zero time for the epoch a cursor stored before it had a chain time.
func knownTime(t time.Time) time.Time {
	if !t.After(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}

// BlockTime is the chain time of a block, and the sighting time of the payments it holds:
// its timestamp, but never later than the wall clock (a block may claim a time hours
// ahead), and the wall clock when the source gives no time.
func BlockTime(h Header, now time.Time) time.Time {
	if h.Time.IsZero() || h.Time.After(now) {
		return now
	}
	return h.Time.UTC()
}

// recordedHash returns the hash of the block we applied at height, or "" when none is
// recorded there (below the kept reorg depth).
func (f *Follower) recordedHash(ctx context.Context, height int64) (string, error) {
	var recent []store.Cursor
	err := f.st.View(ctx, func(tx store.Tx) (err error) {
		recent, err = tx.BlockHashes(ctx, f.src.Chain(), height, 1)
		return err
	})
	if err != nil || len(recent) == 0 || recent[0].Height != height {
		return "", err
	}
	return recent[0].Hash, nil
}

// chainTimeAt is the chain time of a follower that has reached the node's tip: the wall
// clock while that tip is fresh (the node is synced), else the tip block's time (a node
// stuck behind holds invoices back instead of expiring them), never before the stored one.
// The mempool pass commits it (tx.AdvanceChainTime); due invoices are judged at it.
func (f *Follower) chainTimeAt(ctx context.Context, cur store.Cursor) (time.Time, error) {
	if f.tipTime.IsZero() {
		h, err := f.src.HeaderAt(ctx, cur.Height)
		if err != nil {
			return time.Time{}, fmt.Errorf("header %d: %w", cur.Height, err)
		}
		f.tipTime = h.Time
	}
	now := f.cfg.Now().UTC()
	at := BlockTime(Header{Time: f.tipTime}, now)
	if now.Sub(at) <= f.cfg.TipFreshness {
		at = now
	}
	return maxTime(at, knownTime(cur.ChainTime)), nil
}

// commitChainTime commits the chain time at in a transaction of its own (when the mempool
// pass, which normally commits it, cannot run).
func (f *Follower) commitChainTime(ctx context.Context, at time.Time) error {
	now := f.cfg.Now().UTC()
	return f.st.Tx(ctx, func(tx store.Tx) error {
		if err := f.fence(ctx, tx, now); err != nil {
			return err
		}
		return tx.AdvanceChainTime(ctx, f.src.Chain(), at)
	})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// reviewBatch is how many due invoices one review transaction handles.
const reviewBatch = 200

// reviewDue re-evaluates the invoices that the chain time at made due (expiry, the end of
// monitoring), so they move even when no block arrives; confirmations were reviewed by the
// blocks that brought them (applyBlock). Every due invoice is reviewed, in transactions of
// reviewBatch invoices; a batch that meets a concurrent change (ErrConflict: the merchant
// acted meanwhile) is reviewed again one invoice per transaction.
func (f *Follower) reviewDue(ctx context.Context, at time.Time, tip int64) error {
	var ids []string
	err := f.st.View(ctx, func(tx store.Tx) (err error) {
		ids, err = tx.InvoicesDue(ctx, f.src.Chain(), at, tip, tip)
		return err
	})
	if err != nil {
		return err
	}
	reviewIn := func(ids []string) error {
		return f.st.Tx(ctx, func(tx store.Tx) error {
			if err := f.fence(ctx, tx, f.cfg.Now().UTC()); err != nil {
				return err
			}
			return f.review(ctx, tx, ids)
		})
	}
	for start := 0; start < len(ids); start += reviewBatch {
		batch := ids[start:min(start+reviewBatch, len(ids))]
		err := reviewIn(batch)
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return err
			}
			continue
		}
		for _, id := range batch {
			if err := reviewIn([]string{id}); err != nil && !errors.Is(err, store.ErrConflict) { // another writer got there first
				return err
			}
		}
	}
	return nil
}

// cursor returns the stored cursor, creating it at the start height on first use.
func (f *Follower) cursor(ctx context.Context, tip Header) (store.Cursor, error) {
	var c store.Cursor
	err := f.st.View(ctx, func(tx store.Tx) (err error) {
		c, err = tx.Cursor(ctx, f.src.Chain())
		return err
	})
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("read cursor: %w", err)
	}
	start := f.cfg.StartHeight - 1
	if f.cfg.StartHeight == 0 {
		start = tip.Height - 1
	}
	start = max(start, 0)
	h, err := f.src.HeaderAt(ctx, start)
	if err != nil {
		return c, fmt.Errorf("header %d: %w", start, err)
	}
	c = store.Cursor{Chain: f.src.Chain(), Height: h.Height, Hash: h.Hash, ParentHash: h.Parent, UpdatedAt: f.cfg.Now().UTC(),
		ChainTime: BlockTime(h, f.cfg.Now().UTC())}
	err = f.st.Tx(ctx, func(tx store.Tx) error { return tx.SetCursor(ctx, c) })
	f.cfg.Logger.Info("follower starts", "height", c.Height+1)
	return c, err
}

// forgetBatch is how many block hashes beyond the reorg depth one applied block deletes at
// most (one in the steady state; a history recorded before pruning drains at this rate).
const forgetBatch = 1000

// Read-ahead and batching of follow: while one batch of blocks is being applied, the next
// blocks are already being fetched, and the blocks fetched meanwhile are applied together in
// one transaction, so catching up costs about the node's block fetch time, not fetch plus
// commit per block.
const (
	prefetchDepth = 32
	maxBatch      = 32
)

// fetched is a block read ahead, or the error that ended the reading.
type fetched struct {
	b   Block
	err error
}

// prefetch reads the blocks from..to in order into the returned channel, ahead of the
// caller, from one goroutine (so the source still sees one caller at a time). stop ends the
// reading and waits for the goroutine; the caller must call it before using the source again.
func (f *Follower) prefetch(ctx context.Context, from, to int64) (<-chan fetched, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan fetched, prefetchDepth)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for h := from; h <= to; h++ {
			b, err := f.src.BlockAt(ctx, h)
			if err != nil {
				err = fmt.Errorf("block %d: %w", h, err)
			}
			select {
			case ch <- fetched{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch, func() { cancel(); <-done }
}

// follow applies the blocks after cur up to tip in batches, and stops early when a block
// does not extend the applied chain (forked: the caller rewinds). It returns the number of
// blocks applied and the cursor after the last committed batch.
func (f *Follower) follow(ctx context.Context, cur store.Cursor, tip Header) (applied int, _ store.Cursor, forked bool, _ error) {
	blocks, stop := f.prefetch(ctx, cur.Height+1, tip.Height)
	defer stop()
	for cur.Height < tip.Height && !forked {
		if err := ctx.Err(); err != nil {
			return applied, cur, false, err
		}
		var batch []Block
		var ferr error
		last := cur.Hash
	gather:
		for len(batch) < maxBatch {
			var r fetched
			var ok bool
			if len(batch) == 0 {
				r, ok = <-blocks // wait for the first block of a batch
			} else {
				select {
				case r, ok = <-blocks:
				default:
					break gather // apply what is already fetched
				}
			}
			switch {
			case !ok:
				break gather
			case r.err != nil:
				ferr = r.err
				break gather
			case r.b.Parent != last:
				forked = true
				break gather
			}
			batch = append(batch, r.b)
			last = r.b.Hash
		}
		if len(batch) > 0 {
			if err := f.apply(ctx, batch); err != nil {
				first, end := batch[0], batch[len(batch)-1]
				return applied, cur, false, fmt.Errorf("apply blocks %d-%d (%s..%s): %w", first.Height, end.Height, first.Hash, end.Hash, err)
			}
			end := batch[len(batch)-1]
			cur = store.Cursor{Chain: f.src.Chain(), Height: end.Height, Hash: end.Hash, ParentHash: end.Parent}
			f.tipTime = end.Time // after commit: in-memory state never changes inside a closure
			applied += len(batch)
		}
		if ferr != nil {
			return applied, cur, false, ferr
		}
		if len(batch) == 0 && !forked {
			break // the reader ended without a block (ctx ended)
		}
	}
	return applied, cur, forked, ctx.Err()
}

// apply records the blocks' transfers as confirmed payments, moves the cursor block by
// block and reviews the invoices whose payments or confirmations changed at each block,
// all in one transaction: the blocks of a batch commit together or not at all.
func (f *Follower) apply(ctx context.Context, bs []Block) error {
	now := f.cfg.Now().UTC()
	var skipped []string
	err := f.st.Tx(ctx, func(tx store.Tx) error {
		skipped = skipped[:0] // the closure may run again: start over
		if err := f.fence(ctx, tx, now); err != nil {
			return err
		}
		// One read matches the transfers of every block of the batch (the step's rule is
		// the same for all of them).
		var all []Transfer
		for _, b := range bs {
			all = append(all, b.Transfers...)
		}
		opts, err := f.match(ctx, tx, all)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if err := f.applyBlock(ctx, tx, b, opts, now, &skipped); err != nil {
				return fmt.Errorf("block %d: %w", b.Height, err)
			}
		}
		return nil
	})
	if err == nil {
		f.reportSkipped(skipped)
	}
	return err
}

// applyBlock is one block of apply, its transfers matched in opts. The block's time (never
// later than now) is the chain time the block's invoices are judged at and the sighting
// time of what it pays.
func (f *Follower) applyBlock(ctx context.Context, tx store.Tx, b Block, opts map[watchKey]watchedOpt, now time.Time, skipped *[]string) error {
	at := BlockTime(b.Header, now)
	touched := map[string]bool{}
	for _, t := range b.Transfers {
		o, ok, reason := storable(t, opts)
		if reason != "" {
			*skipped = append(*skipped, reason)
		}
		if !ok {
			continue
		}
		h := b.Height
		p := store.Payment{ID: store.NewID("pay", now), InvoiceID: o.invoiceID, OptionID: o.id, Chain: f.src.Chain(),
			TxID: t.TxID, OutputIndex: t.Index, Address: t.Address, Asset: t.Asset, Amount: t.Amount,
			Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: b.Hash, SeenAt: at, UpdatedAt: now, Spends: t.Spends}
		if _, err := f.record(ctx, tx, p); err != nil {
			return err
		}
		touched[o.invoiceID] = true
	}
	if err := f.refundsBlockTx(ctx, tx, b); err != nil {
		return err
	}
	if err := tx.SetCursor(ctx, store.Cursor{Chain: f.src.Chain(), Height: b.Height, Hash: b.Hash,
		ParentHash: b.Parent, UpdatedAt: now, ChainTime: at}); err != nil {
		return err
	}
	// Only the ReorgDepth newest hashes are ever read (rewind); older ones go, a bounded
	// batch per block so that a long history recorded before pruning drains gradually.
	if _, err := tx.ForgetBlocksBelow(ctx, f.src.Chain(), b.Height-int64(f.cfg.ReorgDepth)+1, forgetBatch); err != nil {
		return err
	}
	// The payments that reach their confirmations at this height, and the invoices whose
	// expiry or end of monitoring this block's time reached.
	due, err := tx.InvoicesDue(ctx, f.src.Chain(), at, b.Height-1, b.Height)
	if err != nil {
		return err
	}
	for _, id := range due {
		touched[id] = true
	}
	return f.review(ctx, tx, keys(touched))
}

// candidates returns the transfers of ts that pay a watched option, by a read of the store
// outside any write transaction.
func (f *Follower) candidates(ctx context.Context, ts []Transfer) ([]Transfer, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	var opts map[watchKey]watchedOpt
	err := f.st.View(ctx, func(tx store.Tx) (err error) {
		opts, err = f.match(ctx, tx, ts)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []Transfer
	for _, t := range ts {
		if _, ok := opts[watchKey{t.Address, t.Asset}]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// storable returns the option of opts (match) a transfer pays and whether it can be
// stored. A transfer no option watches is ignored silently; one that pays an option but
// cannot be a payment (no positive amount, an amount beyond 256 bits, no transaction id) is
// refused with a reason, so that no single transfer can stop the follower.
func storable(t Transfer, opts map[watchKey]watchedOpt) (o watchedOpt, ok bool, reason string) {
	o, ok = opts[watchKey{t.Address, t.Asset}]
	switch {
	case !ok:
		return o, false, ""
	case t.Amount == nil || t.Amount.Sign() <= 0:
		return o, false, "amount not positive"
	case t.Amount.BitLen() > 256:
		return o, false, "amount beyond 256 bits"
	case t.TxID == "":
		return o, false, "no transaction id"
	}
	return o, true, ""
}

// reportSkipped logs and counts refused transfers, after their transaction committed.
func (f *Follower) reportSkipped(reasons []string) {
	for _, r := range reasons {
		f.cfg.Logger.Warn("transfer skipped", "reason", r)
		if f.cfg.Skipped != nil {
			f.cfg.Skipped(r)
		}
	}
}

// record stores a sighting of p and, for a new payment, its payment_received event. A
// payment whose transaction spends an outpoint that an earlier payment to the same option
// also spends is a replacement (RBF fee bump): it keeps the earliest sighting time, so a
// payment broadcast in time and bumped after expiry is still in time.
func (f *Follower) record(ctx context.Context, tx store.Tx, p store.Payment) (bool, error) {
	if len(p.Spends) > 0 {
		conflicts, err := tx.PaymentsSpending(ctx, p.Chain, p.Spends)
		if err != nil {
			return false, err
		}
		for _, c := range conflicts {
			if c.OptionID == p.OptionID && c.SeenAt.Before(p.SeenAt) {
				p.SeenAt = c.SeenAt
			}
		}
	}
	inserted, err := tx.UpsertPayment(ctx, p)
	if err != nil || !inserted {
		return inserted, err
	}
	return true, f.inv.PaymentReceivedTx(ctx, tx, p)
}

// Release gives up the follower's lease, so a standby replica takes over at once.
func (f *Follower) Release(ctx context.Context) error {
	if f.cfg.Holder == "" {
		return nil
	}
	return f.st.Tx(ctx, func(tx store.Tx) error { return tx.ReleaseLease(ctx, LeaseName(f.src.Chain()), f.cfg.Holder) })
}

// fence aborts a transaction of a follower that no longer holds its lease.
func (f *Follower) fence(ctx context.Context, tx store.Tx, now time.Time) error {
	if f.cfg.Holder == "" {
		return nil
	}
	ok, err := tx.HoldsLease(ctx, LeaseName(f.src.Chain()), f.cfg.Holder, now)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotLeader
	}
	return nil
}

// review re-evaluates the invoices ids inside tx.
func (f *Follower) review(ctx context.Context, tx store.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	changed, err := f.inv.ReviewManyTx(ctx, tx, ids)
	if err != nil {
		return err
	}
	for id, evs := range changed {
		f.cfg.Logger.Info("invoice changed", "invoice", id, "events", evs)
	}
	return nil
}

// keys returns the invoice ids of a touched set.
func keys(touched map[string]bool) []string { return slices.Collect(maps.Keys(touched)) }

// rewind walks the recorded block hashes back to the newest one the node still has on its
// best chain, orphans the payments above it and moves the cursor there.
func (f *Follower) rewind(ctx context.Context, cur store.Cursor, tip Header) (store.Cursor, error) {
	var recent []store.Cursor
	err := f.st.View(ctx, func(tx store.Tx) (err error) {
		recent, err = tx.BlockHashes(ctx, f.src.Chain(), cur.Height, f.cfg.ReorgDepth)
		return err
	})
	if err != nil {
		return cur, err
	}
	for _, r := range recent {
		if r.Height > tip.Height {
			continue // above the node's best chain: orphaned
		}
		h, err := f.src.HeaderAt(ctx, r.Height)
		if err != nil {
			return cur, fmt.Errorf("header %d: %w", r.Height, err)
		}
		if h.Hash != r.Hash {
			continue
		}
		now := f.cfg.Now().UTC()
		// The chain time stays where it was (SetCursor never moves it back): what was
		// already judged at it stands until the new branch's payments say otherwise.
		anc := store.Cursor{Chain: f.src.Chain(), Height: r.Height, Hash: r.Hash, ParentHash: r.ParentHash, UpdatedAt: now}
		err = f.st.Tx(ctx, func(tx store.Tx) error {
			if err := f.fence(ctx, tx, now); err != nil {
				return err
			}
			ids, err := tx.OrphanPayments(ctx, f.src.Chain(), anc.Height, now)
			if err != nil {
				return err
			}
			if err := tx.ForgetBlocksAbove(ctx, f.src.Chain(), anc.Height); err != nil {
				return err
			}
			if err := f.refundsRewindTx(ctx, tx, anc.Height); err != nil {
				return err
			}
			if err := tx.SetCursor(ctx, anc); err != nil {
				return err
			}
			touched := map[string]bool{}
			for _, id := range ids {
				touched[id] = true
			}
			// Payments that stay in blocks at or below the ancestor lost depth too: those
			// that had reached their confirmations at a height the rewind gave up are short
			// of them again and must be judged (and booked) again.
			c, err := tx.Cursor(ctx, f.src.Chain())
			if err != nil {
				return err
			}
			due, err := tx.InvoicesDue(ctx, f.src.Chain(), knownTime(c.ChainTime), anc.Height, cur.Height)
			if err != nil {
				return err
			}
			for _, id := range due {
				touched[id] = true
			}
			return f.review(ctx, tx, keys(touched))
		})
		if err != nil {
			return cur, err
		}
		f.cfg.Logger.Warn("reorg: rewound to common ancestor", "from", cur.Height, "to", anc.Height, "depth", cur.Height-anc.Height)
		f.tipTime = h.Time
		return anc, nil
	}
	return cur, fmt.Errorf("reorg deeper than the %d recorded blocks below height %d: no common ancestor", len(recent), cur.Height)
}

// mempool records unconfirmed transfers and removes mempool payments that disappeared.
// Nothing in memory changes until its transaction has committed (the store may run the
// closure twice).
func (f *Follower) mempool(ctx context.Context, tip Header, at time.Time) error {
	ts, err := f.src.Mempool(ctx)
	if err != nil {
		// The chain time still moves (it is not the mempool's): due invoices wait for the
		// next step, but other chains' invoices are judged at it.
		if cerr := f.commitChainTime(ctx, at); cerr != nil {
			return errors.Join(err, cerr)
		}
		return err
	}
	if ts == nil {
		clear(f.fresh) // no mempool to match them in
		return f.dropOrphans(ctx, tip.Height, at)
	}
	// A block may have arrived while we read the mempool; its transactions left the mempool
	// without being removed. Only judge absences against a stable tip.
	after, err := f.src.Tip(ctx)
	if err != nil {
		return err
	}
	stable := after.Hash == tip.Hash
	now := f.cfg.Now().UTC()
	inPool := map[string]bool{}
	for _, t := range ts {
		inPool[t.TxID] = true
	}
	// What this pass matches against the store: every transfer of a filtered source (it reports
	// watched addresses only); else those of transactions the last pass did not match and
	// those to the addresses of options new since (f.fresh).
	look := ts
	if f.watcher == nil {
		look = nil
		for _, t := range ts {
			if !f.pooled[t.TxID] || f.fresh[t.Address] {
				look = append(look, t)
			}
		}
		// Those that pay no option are dropped in a read of their own, so that the write
		// transaction (SQLite's one writer) does not wait on the lookup of a whole mempool
		// after a restart. An option committed after this read comes through the feed.
		var err error
		if look, err = f.candidates(ctx, look); err != nil {
			return err
		}
	}
	var missing map[string]int
	var skipped, removed []string
	err = f.st.Tx(ctx, func(tx store.Tx) error {
		missing, skipped, removed = map[string]int{}, skipped[:0], removed[:0]
		if err := f.fence(ctx, tx, now); err != nil {
			return err
		}
		if err := tx.AdvanceChainTime(ctx, f.src.Chain(), at); err != nil {
			return err
		}
		touched := map[string]bool{}
		opts, err := f.match(ctx, tx, look)
		if err != nil {
			return err
		}
		for _, t := range look {
			o, ok, reason := storable(t, opts)
			if reason != "" {
				skipped = append(skipped, reason)
			}
			if !ok {
				continue
			}
			// The node's own first-seen time where it has one (it may have seen the
			// transaction before we watched the address), never before the invoice existed.
			seen := now
			if !t.SeenAt.IsZero() && t.SeenAt.Before(now) {
				seen = maxTime(t.SeenAt.UTC(), o.createdAt)
			}
			p := store.Payment{ID: store.NewID("pay", now), InvoiceID: o.invoiceID, OptionID: o.id, Chain: f.src.Chain(),
				TxID: t.TxID, OutputIndex: t.Index, Address: t.Address, Asset: t.Asset, Amount: t.Amount,
				Status: store.PaymentMempool, SeenAt: seen, UpdatedAt: now, Spends: t.Spends}
			inserted, err := f.record(ctx, tx, p)
			if err != nil {
				return err
			}
			if inserted {
				touched[o.invoiceID] = true
			}
		}
		if err := f.refundsGoneTx(ctx, tx, inPool, stable, missing); err != nil {
			return err
		}
		if err := f.refundsMempoolTx(ctx, tx, tip.Height, ts); err != nil {
			return err
		}
		pending, err := tx.PaymentsByStatus(ctx, f.src.Chain(), store.PaymentMempool)
		if err != nil {
			return err
		}
		for _, p := range pending {
			if inPool[p.TxID] || !stable {
				continue // seen (or not judged): the count starts over
			}
			if n := f.missing[p.ID] + 1; n < 2 {
				missing[p.ID] = n
				continue
			}
			p.Status, p.UpdatedAt = store.PaymentRemoved, now
			if _, err := tx.UpsertPayment(ctx, p); err != nil {
				return err
			}
			removed = append(removed, p.TxID+" ("+p.InvoiceID+")")
			touched[p.InvoiceID] = true
		}
		return f.review(ctx, tx, keys(touched))
	})
	if err != nil {
		return err
	}
	f.missing = missing
	if f.watcher == nil { // a filtered source's passes match every transfer (see look)
		f.pooled = inPool
	}
	clear(f.fresh)
	f.reportSkipped(skipped)
	for _, r := range removed {
		f.cfg.Logger.Warn("unconfirmed payment left the mempool", "payment", r)
	}
	return nil
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }

// dropOrphans handles chains without a visible mempool: a payment that a reorg moved out of
// its block stays pending for OrphanGraceBlocks blocks (a transaction mined again on the
// new branch a little later keeps its row and its invoice its status); after that, not
// mined again, it is gone.
func (f *Follower) dropOrphans(ctx context.Context, height int64, at time.Time) error {
	now := f.cfg.Now().UTC()
	var removed []string
	var since map[string]int64
	err := f.st.Tx(ctx, func(tx store.Tx) error {
		removed, since = removed[:0], map[string]int64{}
		if err := f.fence(ctx, tx, now); err != nil {
			return err
		}
		if err := tx.AdvanceChainTime(ctx, f.src.Chain(), at); err != nil {
			return err
		}
		if err := f.refundsOrphanedTx(ctx, tx, height, since); err != nil {
			return err
		}
		pending, err := tx.PaymentsByStatus(ctx, f.src.Chain(), store.PaymentMempool)
		if err != nil {
			return err
		}
		touched := map[string]bool{}
		for _, p := range pending {
			if p.OrphanedHeight != nil && height-*p.OrphanedHeight < f.cfg.OrphanGraceBlocks {
				continue
			}
			p.Status, p.UpdatedAt = store.PaymentRemoved, now
			if _, err := tx.UpsertPayment(ctx, p); err != nil {
				return err
			}
			removed = append(removed, p.TxID+" ("+p.InvoiceID+")")
			touched[p.InvoiceID] = true
		}
		return f.review(ctx, tx, keys(touched))
	})
	if err != nil {
		return err
	}
	f.refundSince = since
	for _, r := range removed {
		f.cfg.Logger.Warn("payment dropped by a reorg and not mined again", "payment", r)
	}
	return nil
}
