package store

import (
	"context"
	"math/big"
	"time"
)

// RefundTx is the part of the storage contract the refunds package uses (issue 25): refund
// requests, their destinations, the transactions that pay them and their state. Its methods
// are implemented in sqldb/refunds.go.
type RefundTx interface {
	// CreateRefund inserts r (Version 1); a second refund with the same id is ErrConflict.
	CreateRefund(ctx context.Context, r Refund) error
	// GetRefund returns the refund if it belongs to merchantID ("" means any merchant, for
	// the claim page and the chain follower).
	GetRefund(ctx context.Context, merchantID, id string) (Refund, error)
	// UpdateRefund writes r if the stored version equals r.Version, and increments it;
	// otherwise ErrConflict (a concurrent change: the caller reloads and decides again).
	UpdateRefund(ctx context.Context, r Refund) error
	// RefundsOfInvoice lists an invoice's refunds, oldest first (created_at, id).
	RefundsOfInvoice(ctx context.Context, invoiceID string) ([]Refund, error)
	// RefundsOfInvoices lists the refunds of several invoices in one query, ordered by
	// invoice id and then as RefundsOfInvoice orders them.
	RefundsOfInvoices(ctx context.Context, invoiceIDs []string) ([]Refund, error)
	// ListRefunds lists a merchant's refunds newest first for cursor pagination.
	ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, error)
	// OpenRefunds lists chain's refunds a chain follower must watch: those in status claimed
	// or sent, and completed ones whose transaction is in a block above minHeight (a reorg
	// may still take them out). Ordered by id.
	OpenRefunds(ctx context.Context, chain string, minHeight int64) ([]Refund, error)
	// WalletCoins lists confirmed payments to the wallet's deposit addresses with their
	// options' derivation indexes, newest first, at most limit: the coins a refund's PSBT may
	// spend (the caller checks with the node that they are unspent).
	WalletCoins(ctx context.Context, walletID string, limit int) ([]WalletCoin, error)
	// MerchantCoins returns those of outpoints ("txid:vout") that chainpay recorded as
	// payments (any status) to merchantID's deposit addresses on chain, sorted: coins of the
	// merchant's own wallet, so a transaction spending one was signed by the merchant.
	MerchantCoins(ctx context.Context, merchantID, chain string, outpoints []string) ([]string, error)
}

// WalletCoin is a payment chainpay saw arrive at one of a wallet's deposit addresses.
type WalletCoin struct {
	Payment         Payment
	DerivationIndex uint32
}

// Refund statuses (issue 25): pending (no destination yet) → claimed (destination known,
// waiting for the merchant's wallet to send) → sent (the transaction is seen) → completed
// (it has its confirmations); cancelled and failed end a refund that did not complete.
const (
	RefundPending   = "pending"
	RefundClaimed   = "claimed"
	RefundSent      = "sent"
	RefundCompleted = "completed"
	RefundCancelled = "cancelled"
	RefundFailed    = "failed"
)

// Refund is money the merchant sends back to the customer for an invoice, from the
// merchant's own wallet (chainpay holds no keys). AmountFiat is in minor units of Currency
// (the invoice's currency) and is what the books record; AmountAtomic is the asset amount
// the merchant parts with (FeeFromAmount: the network fee comes out of it, so the customer
// receives AmountAtomic − NetworkFee; otherwise the customer receives AmountAtomic).
type Refund struct {
	ID         string
	MerchantID string
	InvoiceID  string
	// Seq numbers the invoice's refunds from 1; a second refund with the same (invoice, seq)
	// is ErrConflict (two refunds created at once: the loser re-reads and checks again).
	Seq           int64
	Status        string
	Asset         string // asset code paid back, e.g. "BTC"
	Chain         string
	Network       string
	Contract      string
	Scale         int32
	Currency      string   // the invoice currency
	AmountFiat    *big.Int // minor units of Currency, ≥ 0
	AmountAtomic  *big.Int // atomic units of Asset, > 0
	FeeFromAmount bool
	NetworkFee    *big.Int // atomic units of the chain's fee asset once known; nil before
	RatePolicy    string   // "original", "current" or "explicit"
	Rate          string   // decimal: Currency per whole Asset unit
	RateSource    string
	RateAt        time.Time
	Reason        string
	Destination   string // address the refund is paid to; "" until given or claimed
	ClaimedAt     *time.Time
	// Prepared is what the merchant's wallet signs: a base64 PSBT (Bitcoin) or the unsigned
	// transaction as JSON (EVM); "" until prepared.
	Prepared string
	TxID     string
	// OutputIndex is the output paying Destination (Bitcoin) or -1 (EVM native) / the log
	// index (ERC-20).
	OutputIndex   *int64
	BlockHeight   *int64
	BlockHash     string
	FailureReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   *time.Time
	Version       int64
}

// RefundFilter selects a merchant's refunds (of one invoice when InvoiceID is set), newest
// first, for cursor pagination.
type RefundFilter struct {
	MerchantID    string
	InvoiceID     string
	Status        string
	BeforeCreated *time.Time
	BeforeID      string
	Limit         int
}
