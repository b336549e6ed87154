package store

import (
	"context"
	"math/big"
	"time"
)

// LedgerTx is the part of the storage contract that the ledger package uses: the built-in
// double-entry journal and the outbox operations its relay needs beyond the generic ones.
// Its methods are implemented in sqldb/ledger.go.
type LedgerTx interface {
	// InsertLedgerRecord stores r and its postings unless a record with the same
	// idempotency key exists; it reports whether it inserted. The caller compares payload
	// hashes with LedgerRecordByKey when it did not (same hash: a replay; different: a
	// conflict). Concurrent inserts of one key serialise: the loser waits for the winner's
	// transaction and then reports false.
	InsertLedgerRecord(ctx context.Context, r LedgerRecord) (inserted bool, err error)
	// LedgerRecordByKey returns the record with the idempotency key, with its postings;
	// ErrNotFound when there is none.
	LedgerRecordByKey(ctx context.Context, key string) (LedgerRecord, error)
	// LedgerRecords lists a merchant's records ordered by (occurred_at, id), without
	// postings, for exports and reconciliation. With f.After it continues after that
	// position (keyset pagination: each page is one short query on the
	// (merchant_id, occurred_at, id) index, however deep into the period it is).
	LedgerRecords(ctx context.Context, f LedgerFilter) ([]LedgerRecord, error)
	// EachLedgerRecord is LedgerRecords for exports, streamed: it calls fn with each record
	// of the page as the database sends it (fetching and formatting overlap, and a page of
	// any size costs no memory), and sets only what an export reads: ID, IdempotencyKey,
	// MerchantID, OccurredAt, Payload, PayloadHash, CreatedAt and Projection (no amounts,
	// whose decoding is the expensive part of a row). Where the database can hash, it checks
	// the payload against PayloadHash itself and sends the payload only for records without
	// a projection (see PayloadChecked): half the bytes of a row. The record is reused
	// between calls: fn must copy what it keeps. An error from fn stops the read and is
	// returned.
	EachLedgerRecord(ctx context.Context, f LedgerFilter, fn func(*LedgerRecord) error) error
	// LedgerTotals is the journal's side of an export reconciliation for the records
	// matching f (Limit and After ignored): their number per (currency, reporting
	// category) and the sums of their postings per (reporting category, account, asset).
	// Sums are exact (big integers, not the database's arithmetic). Both lists are sorted.
	LedgerTotals(ctx context.Context, f LedgerFilter) (LedgerTotals, error)
	// LedgerCurrencies lists the distinct settlement currencies of the records matching f
	// (Limit and After ignored), sorted.
	LedgerCurrencies(ctx context.Context, f LedgerFilter) ([]string, error)
	// LedgerBalances returns, per (account, asset), the sums of the merchant's debit and
	// credit postings, ordered by account and asset. Sums are exact (computed on big
	// integers, not by the database).
	LedgerBalances(ctx context.Context, merchantID string) ([]LedgerBalance, error)

	// OutboxByKey returns the message of topic with the given key; ErrNotFound when none.
	OutboxByKey(ctx context.Context, topic, key string) (OutboxMessage, error)
	// RequeueOutbox moves a parked message back to pending, due at next, keeping its
	// attempts and last error for the record. It returns ErrNotFound when no parked
	// message has that id in topic.
	RequeueOutbox(ctx context.Context, topic, id string, next time.Time) error

	// AppendLedgerBook records that the record b.RecordKey (already enqueued in the outbox)
	// is the b.Seq-th of payment b.PaymentID. A second row with the same (payment, seq) or
	// record key is ErrConflict (two settlers raced; the store retries the loser).
	AppendLedgerBook(ctx context.Context, b LedgerBook) error
	// LatestLedgerBooks returns, for every payment of the invoice that has books, its row
	// with the highest seq, ordered by payment id: one indexed read.
	LatestLedgerBooks(ctx context.Context, invoiceID string) ([]LedgerBook, error)
	// MerchantLedgerBooks returns the latest book row of every payment of the merchant
	// with books, ordered by payment id (for ledger verification).
	MerchantLedgerBooks(ctx context.Context, merchantID string) ([]LedgerBook, error)
	// ClaimDueInOrder is ClaimDue for a topic whose messages may belong to a payment's
	// books: a message that is the n-th record of a payment (n > 1) is only claimed once
	// the (n−1)-th is delivered, so a payment's records reach the sink in order. Messages
	// without books are claimed like ClaimDue does.
	ClaimDueInOrder(ctx context.Context, topic, holder string, now, leaseUntil time.Time, limit int) ([]OutboxMessage, error)
	// MerchantIDs lists every merchant id, sorted.
	MerchantIDs(ctx context.Context) ([]string, error)
}

// Booked states of a payment (LedgerBook.State).
const (
	BookApplied   = "applied"   // booked as a charge (revenue)
	BookUnapplied = "unapplied" // booked as an unapplied receipt (suspense)
	BookNone      = "none"      // nothing booked (never confirmed, or reversed/cleared)
)

// LedgerBook is one row of a payment's books: its Seq-th ledger record (RecordKey) and the
// payment's booked State and Amount (fiat minor units, ≥ 0) after that record.
type LedgerBook struct {
	PaymentID  string
	Seq        int64
	InvoiceID  string
	MerchantID string
	State      string
	Amount     *big.Int
	RecordKey  string
	CreatedAt  time.Time
}

// LedgerRecord is one journal entry: the searchable columns of a ledger record, its
// canonical JSON payload with the payload's SHA-256, and its postings. Gross, Fee and Net
// are signed fiat minor units (negative for refunds and reversals).
type LedgerRecord struct {
	ID                string
	IdempotencyKey    string
	MerchantID        string
	SourceType        string
	SourceID          string
	ReportingCategory string
	Currency          string
	Gross             *big.Int
	Fee               *big.Int
	Net               *big.Int
	OccurredAt        time.Time
	Payload           string
	PayloadHash       []byte
	// Projection is the record's flat projection (ledger.Record.Flat) computed when it was
	// stored, which exports decode instead of the payload; "" for records stored before it
	// existed.
	Projection string
	CreatedAt  time.Time
	Postings   []LedgerPosting
	// PayloadChecked is set by EachLedgerRecord when the database itself compared the
	// payload's SHA-256 with PayloadHash (Postgres): PayloadOK is the outcome, and Payload
	// is then read only for records without a projection.
	PayloadChecked, PayloadOK bool
}

// Posting directions.
const (
	Debit  = "debit"
	Credit = "credit"
)

// LedgerPosting is one side of a double-entry movement: a positive amount of an asset
// debited or credited to an account.
type LedgerPosting struct {
	Account   string
	Asset     string // money.Asset string form, e.g. "USD/2", "BTC/8@bitcoin"
	Amount    *big.Int
	Direction string // Debit or Credit
}

// LedgerFilter selects a merchant's ledger records. Zero fields do not filter.
type LedgerFilter struct {
	MerchantID string
	SourceType string
	From       *time.Time // occurred_at inclusive
	To         *time.Time // occurred_at exclusive
	// AsOf keeps only records created (stored in the journal) at or before it. Records are
	// append-only, so paging through a period with one AsOf reads one stable snapshot even
	// while new records arrive.
	AsOf *time.Time
	// After is the keyset cursor: only records ordered after it by (occurred_at, id).
	After *LedgerCursor
	Limit int // default 1000
}

// LedgerCursor is a position in the (occurred_at, id) order of ledger records: the last
// record of the previous page.
type LedgerCursor struct {
	OccurredAt time.Time
	ID         string
}

// LedgerTotals is what LedgerTotals returns.
type LedgerTotals struct {
	Records  []LedgerRecordCount  // ordered by currency, category
	Postings []LedgerPostingTotal // ordered by category, account, asset
}

// LedgerRecordCount is the number of records of one currency and reporting category.
type LedgerRecordCount struct {
	Currency          string
	ReportingCategory string
	Count             int64
}

// LedgerPostingTotal sums the postings to one account in one asset made by records of one
// reporting category.
type LedgerPostingTotal struct {
	ReportingCategory string
	Account           string
	Asset             string
	Debits            *big.Int
	Credits           *big.Int
}

// LedgerBalance is the position of one account in one asset: Debits − Credits = Balance.
type LedgerBalance struct {
	Account string
	Asset   string
	Debits  *big.Int
	Credits *big.Int
	Balance *big.Int
}
