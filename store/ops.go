package store

import (
	"context"
	"time"
)

// OpsTx is the part of the storage contract that operations use: the figures behind
// metrics and readiness. Its methods are implemented in sqldb/ops.go. They are read-only
// aggregates, cheap enough to run on every metrics scrape of a production database (each
// is one indexed or grouped query).
type OpsTx interface {
	// InvoiceCounts counts invoices per status; statuses without invoices are absent.
	InvoiceCounts(ctx context.Context) (map[string]int64, error)
	// PaymentCounts counts payments per chain, asset and status, ordered by those columns.
	// Payment rows are never deleted, so the counts only grow.
	PaymentCounts(ctx context.Context) ([]PaymentCount, error)
	// AwaitingConfirmation summarises, per chain, the payments (not removed) of invoices
	// that are processing: paid in full and waiting for confirmations. Oldest is the
	// earliest SeenAt among them. Chains without such payments are absent.
	AwaitingConfirmation(ctx context.Context) ([]Backlog, error)
	// OutboxBacklog summarises the outbox per topic: pending messages (due or waiting
	// for a retry), parked ones, and the CreatedAt of the oldest pending one. Topics
	// without pending or parked messages are absent.
	OutboxBacklog(ctx context.Context) ([]Backlog, error)
	// WebhookBacklog summarises webhook deliveries (pending, failed, oldest pending
	// CreatedAt) and the events after the dispatcher's feed position after that have not
	// been fanned out yet.
	WebhookBacklog(ctx context.Context, after FeedPos) (WebhookBacklog, error)
	// Cursors lists every chain follower's cursor, by chain.
	Cursors(ctx context.Context) ([]Cursor, error)
	// Leases lists the leases, expired or not, by name.
	Leases(ctx context.Context) ([]Lease, error)
	// WalletCounts counts wallets per chain and network, ordered by those columns.
	WalletCounts(ctx context.Context) ([]WalletCount, error)
	// WalletGaps lists every wallet that derives addresses (Bitcoin), ordered by chain and
	// id, with its highest paid derivation index (see Tx.HighestPaidIndex).
	WalletGaps(ctx context.Context) ([]WalletGap, error)
}

// WalletGap is a deriving wallet's position: NextIndex is the next index to hand out,
// HighestPaid the highest index that received a payment (nil when none did).
type WalletGap struct {
	WalletID, MerchantID, Chain, Network string
	NextIndex                            uint32
	HighestPaid                          *uint32
}

// PaymentCount is the number of payments of one chain, asset and status.
type PaymentCount struct {
	Chain, Asset, Status string
	Count                int64
}

// Backlog is the state of one queue: what waits, what a human must look at, and since
// when the oldest waiting item waits (nil when nothing waits).
type Backlog struct {
	Name    string // outbox topic, or chain
	Pending int64
	Parked  int64 // outbox: parked messages; webhook deliveries: failed ones
	Oldest  *time.Time
}

// WebhookBacklog is the state of webhook delivery: the deliveries queue and the events
// not yet fanned out into deliveries (of merchants with a webhook endpoint: the others'
// events are never fanned out).
type WebhookBacklog struct {
	Deliveries         Backlog
	Undispatched       int64
	OldestUndispatched *time.Time
}

// Lease is a named lease (for example a chain follower's leadership).
type Lease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
}

// WalletCount is the number of wallets of one chain and network.
type WalletCount struct {
	Chain, Network string
	Count          int64
}
