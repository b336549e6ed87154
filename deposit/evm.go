package deposit

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// DefaultEVMConfirmations is the depth an EVM payment needs when EVMConfig.Confirmations is
// 0 (DESIGN §4: 12 blocks where the finalized tag is not used).
const DefaultEVMConfirmations = 12

// EVMToken is one ERC-20 token an EVM chain accepts: its contract and its decimals (which
// the chain's watcher checks against the contract's decimals() on start).
type EVMToken struct {
	Contract common.Address
	Decimals uint8
}

// EVMConfig configures an EVM chain.
type EVMConfig struct {
	// Chain is the chain name wallets and payment options use ("ethereum", "polygon", ...).
	Chain string
	// ChainID is the EIP-155 chain id written into payment URIs.
	ChainID uint64
	// Native is the code of the chain's native asset; "" means "ETH".
	Native string
	// Factory is the deployed ForwarderFactory whose CREATE2 addresses are the deposit addresses.
	Factory *ethereum.Factory
	// Tokens are the ERC-20 tokens a wallet may enable, by asset code ("USDC").
	Tokens map[string]EVMToken
	// Confirmations is the default depth before a payment settles; 0 means DefaultEVMConfirmations.
	// Ignored with a Finality tag.
	Confirmations int
	// Finality is the node's block tag ("finalized", "safe") at or below which a payment's
	// block settles it; "" settles on Confirmations blocks of depth (invoices.FinalityChain).
	Finality string
}

// EVM gives every invoice its own deposit address on an EVM chain: the CREATE2 address of
// the invoice's forwarder, whose only possible destination is the wallet's treasury (see
// package chains/ethereum). It allocates nothing: the address is a pure function of the
// factory, the invoice id and the treasury, so DepositAddress returns no index. An EVM is
// immutable and safe for concurrent use.
type EVM struct {
	cfg EVMConfig
}

var (
	_ invoices.Chain         = (*EVM)(nil)
	_ invoices.FinalityChain = (*EVM)(nil)
)

// ErrUnknownToken reports a wallet token code the chain has no configuration for.
var ErrUnknownToken = errors.New("token not configured for this chain")

// NewEVM validates cfg and returns the chain.
func NewEVM(cfg EVMConfig) (*EVM, error) {
	if cfg.Chain == "" {
		return nil, errors.New("new evm chain: chain name is required")
	}
	if cfg.ChainID == 0 {
		return nil, fmt.Errorf("new evm chain %s: chain id is required", cfg.Chain)
	}
	if cfg.Factory == nil {
		return nil, fmt.Errorf("new evm chain %s: factory is required", cfg.Chain)
	}
	if cfg.Native == "" {
		cfg.Native = "ETH"
	}
	if cfg.Confirmations < 0 {
		return nil, fmt.Errorf("new evm chain %s: confirmations %d is negative", cfg.Chain, cfg.Confirmations)
	}
	if cfg.Confirmations == 0 {
		cfg.Confirmations = DefaultEVMConfirmations
	}
	switch cfg.Finality {
	case "":
	case "finalized", "safe":
		cfg.Confirmations = 1 // counted from the final block: its own block is final
	default:
		return nil, fmt.Errorf("new evm chain %s: finality %q is not finalized or safe", cfg.Chain, cfg.Finality)
	}
	native := money.Asset{Code: cfg.Native, Scale: 18, Chain: cfg.Chain}
	if err := native.Validate(); err != nil {
		return nil, fmt.Errorf("new evm chain %s: native asset: %w", cfg.Chain, err)
	}
	tokens := make(map[string]EVMToken, len(cfg.Tokens))
	contracts := map[common.Address]string{}
	for code, tok := range cfg.Tokens {
		if code == cfg.Native {
			return nil, fmt.Errorf("new evm chain %s: token %s has the native asset's code", cfg.Chain, code)
		}
		if tok.Contract == (common.Address{}) {
			return nil, fmt.Errorf("new evm chain %s: token %s: contract: %w", cfg.Chain, code, ethereum.ErrZeroAddress)
		}
		if prev, dup := contracts[tok.Contract]; dup {
			return nil, fmt.Errorf("new evm chain %s: tokens %s and %s share contract %s", cfg.Chain, prev, code, tok.Contract.Hex())
		}
		contracts[tok.Contract] = code
		a := money.Asset{Code: code, Scale: int32(tok.Decimals), Chain: cfg.Chain, Contract: tok.Contract.Hex()}
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("new evm chain %s: token %s: %w", cfg.Chain, code, err)
		}
		tokens[code] = tok
	}
	cfg.Tokens = tokens
	return &EVM{cfg: cfg}, nil
}

// Chain returns the chain name.
func (e *EVM) Chain() string { return e.cfg.Chain }

// Finality implements invoices.FinalityChain: the block tag payments settle on, or "".
func (e *EVM) Finality() string { return e.cfg.Finality }

// ChainID returns the EIP-155 chain id.
func (e *EVM) ChainID() uint64 { return e.cfg.ChainID }

// TokenCodes returns the configured token codes, sorted.
func (e *EVM) TokenCodes() []string {
	out := make([]string, 0, len(e.cfg.Tokens))
	for c := range e.cfg.Tokens {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Treasury parses the wallet's treasury address, checking the wallet belongs to this chain.
func (e *EVM) Treasury(w store.Wallet) (common.Address, error) {
	if w.Chain != e.cfg.Chain {
		return common.Address{}, fmt.Errorf("wallet %s is for chain %q, not %q", w.ID, w.Chain, e.cfg.Chain)
	}
	a, err := ethereum.ParseAddress(w.Treasury)
	if err != nil {
		return common.Address{}, fmt.Errorf("wallet %s treasury: %w", w.ID, err)
	}
	if a == (common.Address{}) {
		return common.Address{}, fmt.Errorf("wallet %s treasury: %w", w.ID, ethereum.ErrZeroAddress)
	}
	return a, nil
}

// Assets implements invoices.Chain: the native asset, then the wallet's tokens in the
// order the wallet lists them. A token the chain does not configure is an error wrapping
// ErrUnknownToken, so a misconfiguration is loud rather than silently dropping an asset.
func (e *EVM) Assets(w store.Wallet) ([]money.Asset, error) {
	if _, err := e.Treasury(w); err != nil {
		return nil, err
	}
	out := []money.Asset{{Code: e.cfg.Native, Scale: 18, Chain: e.cfg.Chain}}
	seen := map[string]bool{}
	for _, code := range w.Tokens {
		if seen[code] {
			continue
		}
		seen[code] = true
		tok, ok := e.cfg.Tokens[code]
		if !ok {
			return nil, fmt.Errorf("wallet %s: %w: %q (configured: %v)", w.ID, ErrUnknownToken, code, e.TokenCodes())
		}
		out = append(out, money.Asset{Code: code, Scale: int32(tok.Decimals), Chain: e.cfg.Chain, Contract: tok.Contract.Hex()})
	}
	return out, nil
}

// DepositAddress implements invoices.Chain: the EIP-55 CREATE2 address of the invoice's
// forwarder for the wallet's treasury. Every asset of the invoice shares it. It writes
// nothing and returns a nil index.
func (e *EVM) DepositAddress(_ context.Context, _ store.Tx, w store.Wallet, invoiceID string) (string, *uint32, error) {
	treasury, err := e.Treasury(w)
	if err != nil {
		return "", nil, err
	}
	a, err := e.cfg.Factory.DepositAddress(invoiceID, treasury)
	if err != nil {
		return "", nil, err
	}
	return ethereum.FormatAddress(a), nil, nil
}

// PaymentURI implements invoices.Chain: an EIP-681 URI with the chain id, for the native
// asset (value in wei) or an ERC-20 transfer of the option's contract. The label is not
// part of EIP-681 and is dropped. It returns "" for an option it cannot describe (a bad
// address or amount), which callers show as "no wallet link".
func (e *EVM) PaymentURI(o store.PaymentOption, amount *big.Int, _ string) string {
	to, err := ethereum.ParseAddress(o.Address)
	if err != nil {
		return ""
	}
	var uri string
	if o.Contract == "" {
		uri, err = ethereum.NativeURI(e.cfg.ChainID, to, amount)
	} else {
		token, perr := ethereum.ParseAddress(o.Contract)
		if perr != nil {
			return ""
		}
		uri, err = ethereum.TokenURI(e.cfg.ChainID, token, to, amount)
	}
	if err != nil {
		return ""
	}
	return uri
}

// Confirmations implements invoices.Chain.
func (e *EVM) Confirmations() int { return e.cfg.Confirmations }

var _ invoices.WalletMaker = (*EVM)(nil)

// NewWallet implements invoices.WalletMaker: a treasury address (EIP-55 checked when mixed
// case, never the zero address) and token codes this chain is configured for.
func (e *EVM) NewWallet(in invoices.WalletInput) (store.Wallet, error) {
	if in.Key != "" {
		return store.Wallet{}, fmt.Errorf("%s wallets take a treasury address, not a key", e.cfg.Chain)
	}
	a, err := ethereum.ParseAddress(in.Treasury)
	if err != nil {
		return store.Wallet{}, err
	}
	if a == (common.Address{}) {
		return store.Wallet{}, ethereum.ErrZeroAddress
	}
	var tokens []string
	for _, code := range in.Tokens {
		if _, ok := e.cfg.Tokens[code]; !ok {
			return store.Wallet{}, fmt.Errorf("%w: %q (configured: %v)", ErrUnknownToken, code, e.TokenCodes())
		}
		if !slices.Contains(tokens, code) {
			tokens = append(tokens, code)
		}
	}
	return store.Wallet{Chain: e.cfg.Chain, Network: fmt.Sprint(e.cfg.ChainID), Treasury: ethereum.FormatAddress(a), Tokens: tokens}, nil
}
