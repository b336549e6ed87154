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
