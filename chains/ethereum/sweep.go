package ethereum

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/contracts/bindings"
)

// ErrEmptyBatch reports a sweep with no invoices.
var ErrEmptyBatch = errors.New("empty sweep batch")

// DeployAndFlushCalldata returns the calldata of
// ForwarderFactory.deployAndFlush(keys, destination, tokens) for the given
// invoice ids: one transaction that deploys every forwarder not deployed yet and
// sends its ETH and its balance of each token to destination. Invoice ids must
// be valid (see InvoiceKey) and distinct; tokens must be non-zero and distinct.
// The caller signs and sends the transaction with a key that only pays gas.
func DeployAndFlushCalldata(invoiceIDs []string, destination common.Address, tokens []common.Address) ([]byte, error) {
	if len(invoiceIDs) == 0 {
		return nil, fmt.Errorf("deployAndFlush calldata: %w", ErrEmptyBatch)
	}
	if destination == (common.Address{}) {
		return nil, fmt.Errorf("deployAndFlush calldata: destination: %w", ErrZeroAddress)
	}
	keys := make([][32]byte, len(invoiceIDs))
	seen := make(map[common.Hash]string, len(invoiceIDs))
	for i, id := range invoiceIDs {
		key, err := InvoiceKey(id)
		if err != nil {
			return nil, fmt.Errorf("deployAndFlush calldata: invoice %d: %w", i, err)
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("deployAndFlush calldata: %w: %q listed twice", ErrInvalidInvoiceID, prev)
		}
		seen[key] = id
		keys[i] = key
	}
	seenTokens := make(map[common.Address]bool, len(tokens))
	for i, tok := range tokens {
		if tok == (common.Address{}) {
			return nil, fmt.Errorf("deployAndFlush calldata: token %d: %w", i, ErrZeroAddress)
		}
		if seenTokens[tok] {
			return nil, fmt.Errorf("deployAndFlush calldata: token %s listed twice", tok.Hex())
		}
		seenTokens[tok] = true
	}
	data, err := bindings.NewForwarderFactory().TryPackDeployAndFlush(keys, destination, tokens)
	if err != nil {
		return nil, fmt.Errorf("deployAndFlush calldata: pack: %w", err)
	}
	return data, nil
}

// DefaultMaxBatch is the default number of invoices per deployAndFlush call. At
// about 90,000 gas per invoice (deploy + ETH + one token, Osaka pricing) a batch
// of 50 uses about 4.5M gas, well under the 16,777,216 per-transaction cap of
// EIP-7825, leaving room for more tokens and for state-creation repricing.
const DefaultMaxBatch = 50

// SweeperConfig configures a Sweeper. The zero value uses the defaults.
type SweeperConfig struct {
	// MaxBatch bounds the invoices per transaction; 0 means DefaultMaxBatch.
	MaxBatch int
}

// Sweeper builds the deployAndFlush calls that move deposits to one destination.
// It only builds calldata: signing and sending (with a key that pays gas and
// nothing else) belong to the caller. A Sweeper is immutable and safe for
// concurrent use.
type Sweeper struct {
	factory     common.Address
	destination common.Address
	tokens      []common.Address
	maxBatch    int
}

// SweepCall is one transaction a Sweeper asks for: call To with Data.
type SweepCall struct {
	To         common.Address
	Data       []byte
	InvoiceIDs []string
}

// NewSweeper returns a Sweeper for factory that sweeps ETH and the given tokens to destination.
func NewSweeper(factory *Factory, destination common.Address, tokens []common.Address, cfg *SweeperConfig) (*Sweeper, error) {
	if factory == nil {
		return nil, errors.New("new sweeper: nil factory")
	}
	if destination == (common.Address{}) {
		return nil, fmt.Errorf("new sweeper: destination: %w", ErrZeroAddress)
	}
	maxBatch := DefaultMaxBatch
	if cfg != nil && cfg.MaxBatch != 0 {
		maxBatch = cfg.MaxBatch
	}
	if maxBatch < 0 {
		return nil, fmt.Errorf("new sweeper: MaxBatch %d is negative", maxBatch)
	}
	// Validate the tokens once, with a dummy id.
	if _, err := DeployAndFlushCalldata([]string{"validate"}, destination, tokens); err != nil {
		return nil, fmt.Errorf("new sweeper: %w", err)
	}
	return &Sweeper{
		factory:     factory.Address(),
		destination: destination,
		tokens:      append([]common.Address(nil), tokens...),
		maxBatch:    maxBatch,
	}, nil
}

// Calls splits invoiceIDs into batches of at most MaxBatch, in order, and
// returns one deployAndFlush call per batch. Ids must be valid and distinct
// across the whole list.
func (s *Sweeper) Calls(invoiceIDs []string) ([]SweepCall, error) {
	if len(invoiceIDs) == 0 {
		return nil, fmt.Errorf("sweep calls: %w", ErrEmptyBatch)
	}
	seen := make(map[string]bool, len(invoiceIDs))
	for _, id := range invoiceIDs {
		if seen[id] {
			return nil, fmt.Errorf("sweep calls: %w: %q listed twice", ErrInvalidInvoiceID, truncate(id))
		}
		seen[id] = true
	}
	calls := make([]SweepCall, 0, (len(invoiceIDs)+s.maxBatch-1)/s.maxBatch)
	for start := 0; start < len(invoiceIDs); start += s.maxBatch {
		ids := invoiceIDs[start:min(start+s.maxBatch, len(invoiceIDs))]
		data, err := DeployAndFlushCalldata(ids, s.destination, s.tokens)
		if err != nil {
			return nil, fmt.Errorf("sweep calls: batch at %d: %w", start, err)
		}
		calls = append(calls, SweepCall{To: s.factory, Data: data, InvoiceIDs: append([]string(nil), ids...)})
	}
	return calls, nil
}
