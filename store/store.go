package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math/big"
	"time"
)

// Sentinel errors. Backends translate driver errors into these at the adapter, so callers
// branch with errors.Is and never see a driver type.
var (
	// ErrNotFound means the row does not exist (or belongs to another store).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness constraint or an optimistic version check failed.
	ErrConflict = errors.New("store: conflict")
	// ErrLeaseLost means a claimed queue message is no longer held by the caller.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrBusy means the database was busy or a serializable transaction lost a race;
	// Store.Tx retries these itself and only returns ErrBusy when retries are exhausted.
	ErrBusy = errors.New("store: busy")
	// ErrConfigChanged means a merchant's configuration is no longer at the version a
	// transaction was guarded with (Tx.GuardMerchantConfig); the transaction rolled back.
	ErrConfigChanged = errors.New("store: the store's settings, wallets or webhook endpoints changed")
)

// Store is the storage contract. Every read and write happens inside Tx or View.
type Store interface {
	// Tx runs fn in one read-write transaction and commits when fn returns nil. Busy and
	// serialization failures are retried with backoff, so fn must be safe to run again
	// (no side effects outside the transaction).
	Tx(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Migrate applies the embedded migrations that have not been applied yet.
	Migrate(ctx context.Context) error
	// MigrationStatus reports the applied and the embedded (latest) schema versions.
	MigrationStatus(ctx context.Context) (applied, latest int, err error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Dialect names the backend: "sqlite" or "postgres".
	Dialect() string
	// Close releases the connections.
	Close() error
}

// Tx is one transaction. Its methods must not be used after the function passed to
// Store.Tx or Store.View returns.
type Tx interface {
	LedgerTx  // store/ledger.go
	WebhookTx // store/webhooks.go
	OpsTx     // store/ops.go
	SweepTx   // store/sweeps.go
	RefundTx  // store/refunds.go

	CreateMerchant(ctx context.Context, m Merchant) error
	GetMerchant(ctx context.Context, id string) (Merchant, error)
	// MerchantWallets returns the merchant with its wallets (ordered as Wallets orders them)
	// and its ConfigVersion in one query: what an invoice is prepared from.
	MerchantWallets(ctx context.Context, id string) (Merchant, []Wallet, error)
	// GuardMerchantConfig fails the transaction with ErrConfigChanged unless the merchant's
	// configuration is still at version (Merchant.ConfigVersion). On Postgres it travels
	// with the transaction's next statement or its COMMIT (no round trip of its own), and
	// the error is reported there; elsewhere it is checked at once.
	GuardMerchantConfig(ctx context.Context, id string, version int64) error
	// SetMerchantSettings replaces the merchant's settings (a JSON object).
	SetMerchantSettings(ctx context.Context, id, settings string) error

	CreateAPIKey(ctx context.Context, k APIKey) error
	// APIKeyByPrefix returns the key with the given lookup prefix, revoked or not.
	APIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error)
	// RevokeAPIKey marks the key revoked at the given time; revoking twice keeps the first time.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error

	CreateWallet(ctx context.Context, w Wallet) error
	// Wallets lists a merchant's wallets ordered by chain.
	Wallets(ctx context.Context, merchantID string) ([]Wallet, error)
	// AllocateIndex hands out the wallet's next derivation index and advances it, atomically:
	// concurrent callers never get the same index and a rolled-back transaction gives its
	// index back, so the allocated range stays dense.
	AllocateIndex(ctx context.Context, walletID string) (uint32, error)
	// ReserveIndexes reserves the wallet's next n derivation indexes for the caller and
	// returns the first: one short statement, meant to run in a transaction of its own that
	// commits at once, so no lock is held across an invoice's transaction. Concurrent
	// callers (processes, replicas) get disjoint ranges; reserved indexes are never handed
	// out again, whether or not the caller uses them (those it does not use are a gap).
	ReserveIndexes(ctx context.Context, walletID string, n uint32) (first uint32, err error)
	// ReturnIndexes gives the unused tail [from, end) of a reservation back when nothing was
	// reserved after it (the wallet's next index is still end), and reports whether it did.
	ReturnIndexes(ctx context.Context, walletID string, from, end uint32) (bool, error)
	// HighestPaidIndex returns the highest derivation index of the wallet whose payment option
	// received a payment, or nil when none did. Its cost is proportional to the number of
	// unpaid indexes above it (the wallet's gap), not to the wallet's history.
	HighestPaidIndex(ctx context.Context, walletID string) (*uint32, error)

	// CreateInvoice, CreatePaymentOption and AppendEvent are plain inserts that may travel
	// with the transaction's next statement or its commit (a pipeline): a conflict they
	// cause may be reported by that later call or by Store.Tx.
	CreateInvoice(ctx context.Context, inv Invoice) error
	// GetInvoice returns the invoice if it belongs to merchantID ("" means any merchant,
	// for internal callers such as the watcher and the checkout page).
	GetInvoice(ctx context.Context, merchantID, id string) (Invoice, error)
	ListInvoices(ctx context.Context, f InvoiceFilter) ([]Invoice, error)
	// UpdateInvoice writes inv if the stored version equals inv.Version, and increments it;
	// otherwise it returns ErrConflict.
	UpdateInvoice(ctx context.Context, inv Invoice) error

	CreatePaymentOption(ctx context.Context, o PaymentOption) error
	PaymentOptions(ctx context.Context, invoiceID string) ([]PaymentOption, error)
	// PaymentOptionsOf lists the options of several invoices in one query, ordered by
	// invoice id and then as PaymentOptions orders them (a list page, without N+1 queries).
	PaymentOptionsOf(ctx context.Context, invoiceIDs []string) ([]PaymentOption, error)

	// UpsertPayment inserts a payment or, when one with the same (chain, txid, output index)
	// exists, updates its status and block; a mempool sighting never downgrades a confirmed
	// payment. It reports whether it inserted.
	UpsertPayment(ctx context.Context, p Payment) (inserted bool, err error)
	Payments(ctx context.Context, invoiceID string) ([]Payment, error)
	// PaymentsOf lists the payments of several invoices in one query, ordered by invoice id
	// and then as Payments orders them.
	PaymentsOf(ctx context.Context, invoiceIDs []string) ([]Payment, error)
	// PaymentsByStatus lists a chain's payments in one status (e.g. the mempool ones).
	PaymentsByStatus(ctx context.Context, chain, status string) ([]Payment, error)
	// OrphanPayments moves the chain's payments in blocks above height back to unconfirmed
	// (a reorg rewinds to height: their transactions normally return to the mempool; the
	// follower removes those that do not), records height as their OrphanedHeight, and
	// returns the ids of their invoices.
	OrphanPayments(ctx context.Context, chain string, height int64, at time.Time) ([]string, error)
	// PaymentsSpending lists the chain's payments whose transactions spend any of the given
	// outpoints ("txid:vout"): the payments a replacement (RBF) or double spend conflicts with.
	PaymentsSpending(ctx context.Context, chain string, outpoints []string) ([]Payment, error)
	// MarkPaymentConfirmed records that the payment reached its option's confirmations at
	// at, unless that was recorded before: it reports whether this call recorded it (true
	// exactly once per payment, whatever reorgs, restarts or concurrent transactions do;
	// UpsertPayment and OrphanPayments never clear it). ErrNotFound for an unknown id.
	MarkPaymentConfirmed(ctx context.Context, paymentID string, at time.Time) (bool, error)

	// OptionFeed lists the payment options on chain at feed positions after after, in feed
	// order, at most limit, each with its invoice's MonitorUntil, and the feed's horizon: no
	// option can ever appear at a position below FeedPos{XID: horizon} that is not already
	// visible, whatever the order in which transactions commit or the clocks of the replicas
	// that created them (see FeedPos). A consumer reads every option the feed returns but
	// moves its cursor only past those below the horizon.
	OptionFeed(ctx context.Context, chain string, after FeedPos, limit int) ([]WatchedOption, int64, error)
	// WatchList lists the payment options on chain that a follower starting now must watch:
	// those of the invoices monitored after monitoredAfter (monitor_until > monitoredAfter)
	// or with a payment on chain still in the mempool or confirmed above height
	// pendingAbove (the rule is per invoice, as in WatchedAt: every option on chain of such
	// an invoice, not only the one paid). It also returns the position to follow OptionFeed from: every option
	// below it was committed before the list was read (so the list holds it if it qualifies).
	WatchList(ctx context.Context, chain string, monitoredAfter time.Time, pendingAbove int64) ([]WatchedOption, FeedPos, error)
	// WatchedAt lists the payment options on chain at any of addresses that a follower
	// watches, by the rule of WatchList applied to each option's invoice: its monitoring
	// ends after monitoredAfter, or it has a payment on chain still in the mempool or
	// confirmed above height pendingAbove. It is how a follower matches a block's or the
	// mempool's transfers (no address map in memory), ordered by address and asset.
	WatchedAt(ctx context.Context, chain string, addresses []string, monitoredAfter time.Time, pendingAbove int64) ([]WatchedOption, error)
	// ClosingOptions lists the payment options on chain of the invoices whose monitoring
	// ends in (after, upTo] (monitor_until, which never changes), with their MonitorUntil,
	// ordered by invoice: a follower that keeps a filtered source's watch set reads the
	// invoices leaving its watch rule as the rule's time moves from after to upTo, at a
	// cost proportional to them, and keeps no list of the open ones (issue 22).
	ClosingOptions(ctx context.Context, chain string, after, upTo time.Time) ([]WatchedOption, error)
	// InvoicesDue lists the ids of invoices with an option on chain whose state may change
	// without a new payment: new ones whose expiry chain time at reached, processing ones whose
	// monitoring ended before at, and those with a confirmed payment on chain that reaches its
	// option's confirmations at a height in (above, upTo] (tip heights: the review that
	// settles or books it; after a rewind, the range the chain lost). Every such invoice is
	// listed, in id order: no page limit.
	InvoicesDue(ctx context.Context, chain string, at time.Time, above, upTo int64) ([]string, error)
	// InvoicesByID returns the invoices with the given ids (any merchant), in id order; ids
	// without an invoice are left out.
	InvoicesByID(ctx context.Context, ids []string) ([]Invoice, error)

	AppendEvent(ctx context.Context, e Event) error
	// Events lists an invoice's events in CreatedAt order (then id).
	Events(ctx context.Context, invoiceID string) ([]Event, error)

	// ClaimIdempotencyKey records key for the merchant with the request hash. It returns
	// (nil, nil) when this call claimed the key, or the existing record otherwise. Concurrent
	// claims of one key serialise: the loser waits for the winner's transaction.
	ClaimIdempotencyKey(ctx context.Context, r IdempotencyRecord) (*IdempotencyRecord, error)
	// CompleteIdempotencyKey stores the response of a claimed key.
	CompleteIdempotencyKey(ctx context.Context, r IdempotencyRecord) error
	// PutIdempotencyKey stores the merchant's key with the request hash and the response, in
	// one write that may travel with the transaction's commit (its error then comes from
	// Store.Tx). A key that already has a record is ErrConflict; a concurrent transaction
	// that wrote the key is waited for (its commit makes this one ErrConflict, its rollback
	// lets this one through).
	PutIdempotencyKey(ctx context.Context, r IdempotencyRecord) error
	// IdempotencyKey returns the merchant's record of key; ErrNotFound when there is none.
	IdempotencyKey(ctx context.Context, merchantID, key string) (IdempotencyRecord, error)
	// DeleteIdempotencyKeysBefore deletes at most limit idempotency records created before
	// before (oldest first) and returns how many it deleted; a retried request whose key is
	// gone is processed anew. Callers repeat it until it deletes fewer than limit.
	DeleteIdempotencyKeysBefore(ctx context.Context, before time.Time, limit int) (int64, error)

	// Cursor returns the chain follower's position; ErrNotFound before the first block.
	Cursor(ctx context.Context, chain string) (Cursor, error)
	// SetCursor moves the cursor and records the block hash at its height. The cursor's
	// ChainTime only moves forward: a smaller value keeps the stored one.
	SetCursor(ctx context.Context, c Cursor) error
	// AdvanceChainTime moves the chain's ChainTime forward to at (never back); it does
	// nothing before the chain's first cursor.
	AdvanceChainTime(ctx context.Context, chain string, at time.Time) error
	// BlockHashes returns the recorded hashes from height down, newest first, at most limit.
	BlockHashes(ctx context.Context, chain string, from int64, limit int) ([]Cursor, error)
	// ForgetBlocksAbove deletes recorded hashes above height (a rewind).
	ForgetBlocksAbove(ctx context.Context, chain string, height int64) error
	// ForgetBlocksBelow deletes at most limit recorded hashes below height (those beyond the
	// reorg depth), lowest first, and returns how many it deleted. The limit bounds the
	// work of one call when a long history is first pruned.
	ForgetBlocksBelow(ctx context.Context, chain string, height int64, limit int) (int64, error)

	// AcquireLease takes or renews the named lease for holder until the given time. It
	// succeeds when the lease is free, expired at now, or already held by holder.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// HoldsLease reports whether holder holds the named lease at now (a fencing check
	// inside a transaction that must only commit under the lease).
	HoldsLease(ctx context.Context, name, holder string, now time.Time) (bool, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// DeleteCursor forgets a chain follower's position and recorded blocks (dev chains that
	// start over).
	DeleteCursor(ctx context.Context, chain string) error

	// Enqueue adds a message to the outbox of topic; a second message with the same
	// (topic, key) is ErrConflict.
	Enqueue(ctx context.Context, m OutboxMessage) error
	// ClaimDue leases up to limit due messages of topic to holder until leaseUntil. Claims
	// by concurrent holders never overlap.
	ClaimDue(ctx context.Context, topic, holder string, now, leaseUntil time.Time, limit int) ([]OutboxMessage, error)
	// MarkDelivered, Reschedule and Park finish a message claimed by holder. They return
	// ErrLeaseLost, changing nothing, when the message is no longer pending under holder's
	// lease (it expired and another holder claimed it, or it was finished already).
	MarkDelivered(ctx context.Context, id, holder string, at time.Time) error
	// ExtendOutboxLeases moves the lease of each of ids that is still pending under
	// holder's lease to until (the heartbeat of a relay with a batch in flight) and returns
	// how many it moved; a message finished or taken over meanwhile is left alone.
	ExtendOutboxLeases(ctx context.Context, holder string, ids []string, until time.Time) (int, error)
	Reschedule(ctx context.Context, id, holder string, next time.Time, lastError string) error
	Park(ctx context.Context, id, holder, reason string) error
	OutboxMessages(ctx context.Context, topic, status string) ([]OutboxMessage, error)
}

// Merchant is a store in the product sense (a merchant account). It is named Merchant here
// to avoid confusion with this package.
type Merchant struct {
	ID        string
	Name      string
	Settings  string // JSON object
	CreatedAt time.Time
	// HasWebhooks reports whether the merchant had a webhook endpoint (enabled or not) when
	// it was read; set by MerchantWallets only.
	HasWebhooks bool
	// ConfigVersion changes whenever the settings, a wallet (but its next index) or the set
	// of webhook endpoints change, by any process (database triggers, migration 0021); set
	// by MerchantWallets only.
	ConfigVersion int64
}

// APIKey is a merchant's API key. Only a hash of the secret is stored; Prefix is the public
// lookup part of the key.
type APIKey struct {
	ID          string
	MerchantID  string
	Prefix      string
	Hash        []byte
	Permissions []string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// Wallet enables a chain for a merchant: a watch-only extended public key or descriptor
// (Bitcoin) or a treasury address (EVM). NextIndex is the next derivation index to hand out.
type Wallet struct {
	ID         string
	MerchantID string
	Chain      string
	Network    string
	Descriptor string // Bitcoin: canonical output descriptor
	Treasury   string // EVM: the merchant's treasury address
	Tokens     []string
	NextIndex  uint32
	CreatedAt  time.Time
}

// Invoice statuses (DESIGN §4).
const (
	StatusNew        = "new"
	StatusProcessing = "processing"
	StatusSettled    = "settled"
	StatusExpired    = "expired"
	StatusInvalid    = "invalid"
)

// Invoice is the stored invoice. Price is in the atomic units of Currency (fiat minor units
// or crypto base units).
type Invoice struct {
	ID               string
	MerchantID       string
	Status           string
	Flags            []string
	Price            *big.Int
	Currency         string
	OrderID          string
	Metadata         string // JSON object, "" for none
	RedirectURL      string
	TolerancePercent string // decimal string, "0" for none
	ToleranceFloor   *big.Int
	Confirmations    string // JSON object: chain -> required confirmations policy
	ExpiresAt        time.Time
	MonitorUntil     time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	SettledAt        *time.Time
	ResolutionReason string
	Version          int64
}

// InvoiceFilter selects invoices of one merchant, newest first, for cursor pagination.
type InvoiceFilter struct {
	MerchantID  string
	Status      string
	OrderID     string
	CreatedFrom *time.Time // inclusive
	CreatedTo   *time.Time // exclusive
	// Before is the pagination cursor: only invoices ordered after it (older) are returned.
	BeforeCreated *time.Time
	BeforeID      string
	Limit         int
}

// PaymentOption is one way to pay an invoice: an asset, a unique deposit address and a
// locked quote.
type PaymentOption struct {
	ID              string
	InvoiceID       string
	Asset           string // asset code, e.g. "BTC", "USDC"
	Chain           string
	Network         string
	Contract        string
	Scale           int32
	Address         string
	WalletID        string
	DerivationIndex *uint32
	AmountDue       *big.Int
	Rate            string // decimal: fiat per whole crypto unit, back-computed (DESIGN §3)
	RateSource      string
	RateAt          time.Time
	QuoteExpiresAt  time.Time
	RawQuotes       string // JSON array of the raw source quotes used
	Confirmations   int
	CreatedAt       time.Time
}

// Payment statuses.
const (
	PaymentMempool   = "mempool"
	PaymentConfirmed = "confirmed"
	PaymentRemoved   = "removed"
)

// Payment is one on-chain transfer to a deposit address, unique on (chain, txid, output index).
type Payment struct {
	ID          string
	InvoiceID   string
	OptionID    string
	Chain       string
	TxID        string
	OutputIndex int64
	Address     string
	Asset       string
	Amount      *big.Int
	Status      string
	BlockHeight *int64
	BlockHash   string
	// SeenAt is when the payment was first seen: its first mempool sighting (the node's own
	// first-seen time where it offers one), else its block's time; a replacement (RBF)
	// keeps the sighting time of the payment it replaces.
	SeenAt    time.Time
	UpdatedAt time.Time
	// Spends lists the outpoints ("txid:vout") the paying transaction spends (Bitcoin;
	// empty on account chains). Two payments spending one outpoint conflict: at most one
	// of them can be mined.
	Spends []string
	// OrphanedHeight is the common ancestor's height when a reorg took the payment out of
	// its block and it has not been mined again since; nil otherwise.
	OrphanedHeight *int64
	// ConfirmedAt is when chainpay first saw the payment reach its option's confirmations
	// (MarkPaymentConfirmed; the invoice.payment_confirmed event was stored with it); nil
	// before. It stays set when a reorg later takes the payment out of its block.
	ConfirmedAt *time.Time
}

// Event is a stored state change of an invoice; webhooks deliver them.
type Event struct {
	ID         string
	MerchantID string
	InvoiceID  string
	Type       string
	Data       string // JSON
	CreatedAt  time.Time
	// Snapshot is the invoice as the merchant API rendered it in the event's transaction
	// (JSON), which webhooks send as the event's data.invoice; "" when the writer did not
	// render it (the webhook dispatcher then renders the invoice when it fans the event out).
	// Read by EventFeed, not by Events.
	Snapshot string
}

// IdempotencyRecord remembers the first response to a creating request.
type IdempotencyRecord struct {
	MerchantID     string
	Key            string
	RequestHash    []byte
	ResponseStatus int // 0 while the claiming transaction runs
	ResponseBody   []byte
	CreatedAt      time.Time
}

// FeedPos is a position in a commit-ordered feed of rows (new payment options, new events):
// the id of the transaction that inserted the row and a number drawn when it was inserted.
// On Postgres XID is the inserting transaction's id (pg_current_xact_id) and a reader's
// horizon is the oldest transaction still running (pg_snapshot_xmin): a row below
// FeedPos{XID: horizon} that is not visible now never will be. On SQLite, whose writers
// run one at a time, XID = Seq is a number taken inside the inserting transaction (the
// largest so far plus one) and the horizon is the largest plus one. Either way a consumer
// that reads everything after its cursor and moves the cursor only past what it read below
// the horizon never skips a row, whatever the commit order and the clocks of the replicas.
type FeedPos struct {
	XID int64
	Seq int64
}

// After reports whether p is after q in feed order.
func (p FeedPos) After(q FeedPos) bool {
	return p.XID > q.XID || (p.XID == q.XID && p.Seq > q.Seq)
}

// WatchedOption is a payment option as a chain follower watches it: with its invoice's end of
// monitoring and its feed position.
type WatchedOption struct {
	PaymentOption
	MonitorUntil time.Time
	Pos          FeedPos
}

// Cursor is a chain follower's position: the last processed block.
type Cursor struct {
	Chain      string
	Height     int64
	Hash       string
	ParentHash string
	UpdatedAt  time.Time
	// ChainTime is the follower's chain time: the time of the newest block it applied (never
	// later than the wall clock), or the wall clock while it sits at the fresh tip of a
	// synced node. Invoices on the chain are judged against it (expiry, monitoring end), so
	// a follower that is behind never expires an invoice that was paid in time.
	ChainTime time.Time
	// Final is the height of the chain's final block as of the cursor: the node's
	// `finalized` (or `safe`) block, for chains whose payments settle on a block tag; 0
	// when not followed. SetCursor never lowers it except to keep it at or below Height
	// (a rewind), and a cursor that passes 0 keeps the stored one.
	Final int64
}

// Outbox message statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxParked    = "parked"
)

// OutboxMessage is a side effect (a ledger record, a webhook) committed in the same
// transaction as the fact that caused it and delivered at least once by a relay.
type OutboxMessage struct {
	ID          string
	Topic       string // "ledger", "webhook:<endpoint id>", ...
	Key         string // idempotency key of the message within its topic
	Payload     string
	Status      string
	Attempts    int
	NextAttempt time.Time
	LeaseHolder string
	LeaseUntil  *time.Time
	LastError   string
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

// NewID returns a new identifier "prefix_" followed by 26 Crockford base32 characters: a
// 48-bit millisecond timestamp and 80 random bits, so ids sort by creation time.
func NewID(prefix string, now time.Time) string {
	var random [10]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return formatID(prefix, now, random)
}

// formatID is NewID with the random bits given.
func formatID(prefix string, now time.Time, random [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(now.UnixMilli())<<16)
	copy(b[6:], random[:])
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	// The 128 bits as 26 base32 digits, most significant first (the first holds 3 bits).
	hi, lo := binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint64(b[8:16])
	out := make([]byte, len(prefix)+1+26)
	copy(out, prefix)
	out[len(prefix)] = '_'
	for i := len(out) - 1; i > len(prefix); i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}
