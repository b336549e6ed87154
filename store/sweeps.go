package store

import (
	"context"
	"math/big"
	"time"
)

// SweepTx is the part of the storage contract the EVM sweeper uses: which forwarders to
// read, what they held when last read, and the sweep transactions sent. Forwarders are
// swept by balance (issue 28), so nothing here depends on an invoice's status.
type SweepTx interface {
	// SweepCandidates lists the forwarders of chain the sweeper must read: every deposit
	// address of an invoice whose monitoring ends at or after since and that has not been
	// read after its monitoring ended, and every forwarder whose last read left a balance.
	// Ordered by address, at most limit; a forwarder shared by several options is listed once.
	SweepCandidates(ctx context.Context, chain string, since time.Time, limit int) ([]Forwarder, error)
	// Forwarders lists chain's deposit addresses handed out (all of them, or those of one
	// invoice when invoiceID is not ""), ordered by address, after the address after, at
	// most limit: the walk an operator's one-off flush makes.
	Forwarders(ctx context.Context, chain, invoiceID, after string, limit int) ([]Forwarder, error)
	// RecordForwarder stores what a read of f found at at: its non-zero balances replace the
	// previous ones, and the forwarder counts as unswept while any is left.
	RecordForwarder(ctx context.Context, f Forwarder, balances []ForwarderBalance, at time.Time) error
	// SweepWatermark returns chain's watermark (see SweepCandidates); the zero time before
	// the first complete round.
	SweepWatermark(ctx context.Context, chain string) (time.Time, error)
	// SetSweepWatermark moves chain's watermark forward (never back).
	SetSweepWatermark(ctx context.Context, chain string, at time.Time) error
	// CreateEVMSweep records a sweep transaction before it is broadcast (status sent).
	CreateEVMSweep(ctx context.Context, s EVMSweep) error
	// OpenEVMSweeps lists chain's sweeps still in status sent, oldest first.
	OpenEVMSweeps(ctx context.Context, chain string) ([]EVMSweep, error)
	// FinishEVMSweep moves a sent sweep to s.Status (confirmed, reverted or dropped) with its
	// receipt fields; a sweep no longer sent is ErrConflict, an unknown one ErrNotFound.
	FinishEVMSweep(ctx context.Context, s EVMSweep) error
	// GetEVMSweep returns the sweep with transaction hash txHash.
	GetEVMSweep(ctx context.Context, txHash string) (EVMSweep, error)
	// UnsweptBalances sums, per wallet and asset, the balances left in unswept forwarders of
	// merchantID ("" means every merchant, for metrics).
	UnsweptBalances(ctx context.Context, merchantID string) ([]UnsweptBalance, error)
}

// Forwarder is one EVM deposit address: the invoice it was derived for and the wallet
// (treasury) it pays into.
type Forwarder struct {
	Chain      string
	Address    string
	InvoiceID  string
	WalletID   string
	MerchantID string
	Treasury   string
	Network    string
}

// ForwarderBalance is one non-zero balance of a forwarder: native when Contract is "".
type ForwarderBalance struct {
	Contract string
	Asset    string
	Scale    int32
	Amount   *big.Int
}

// EVM sweep statuses.
const (
	SweepSent      = "sent"
	SweepConfirmed = "confirmed"
	SweepReverted  = "reverted"
	SweepDropped   = "dropped"
)

// EVMSweep is one deployAndFlush transaction of the sweeper.
type EVMSweep struct {
	TxHash      string
	Chain       string
	MerchantID  string
	WalletID    string
	Destination string
	Sender      string
	Nonce       int64
	RawTx       string // hex of the signed transaction, rebroadcast while it is not mined
	Addresses   []string
	InvoiceIDs  []string
	Tokens      []string
	Status      string
	BlockNumber *int64
	BlockHash   string
	GasUsed     *int64
	Fee         *big.Int // wei paid for gas, once mined
	SentAt      time.Time
	FinishedAt  *time.Time
}

// UnsweptBalance is what a wallet's forwarders hold of one asset, not swept yet.
type UnsweptBalance struct {
	MerchantID string
	WalletID   string
	Chain      string
	Network    string
	Contract   string
	Asset      string
	Scale      int32
	Amount     *big.Int
	Forwarders int
}
