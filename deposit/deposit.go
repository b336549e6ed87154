// Package deposit gives invoices their deposit addresses and wallet URIs, one type per chain
// family, each implementing invoices.Chain. The server only ever holds public data: Bitcoin
// extended public keys or descriptors, EVM treasury addresses.
package deposit

import (
	"context"
	"fmt"
	"math/big"
	"sync"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Bitcoin derives one fresh receive address per invoice from the merchant's watch-only
// wallet. With an index allocator configured (invoices.Config.Indexes, an *Indexes in
// `chainpay serve`) the invoice service takes the index from it and asks AddressAt;
// otherwise DepositAddress takes it from store.Tx.AllocateIndex inside the invoice's
// transaction. Either way an index is never handed out twice.
type Bitcoin struct {
	Network bitcoin.Network
	Confs   int // default confirmations; DESIGN §4 default 1
	mu      sync.Mutex
	parsed  map[string]*bitcoin.Wallet // by descriptor
}

var _ invoices.Chain = (*Bitcoin)(nil)

// NewBitcoin returns the Bitcoin chain for network.
func NewBitcoin(n bitcoin.Network, confirmations int) *Bitcoin {
	return &Bitcoin{Network: n, Confs: confirmations, parsed: map[string]*bitcoin.Wallet{}}
}

func (b *Bitcoin) wallet(w store.Wallet) (*bitcoin.Wallet, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if pw, ok := b.parsed[w.Descriptor]; ok {
		return pw, nil
	}
	pw, err := bitcoin.ParseWallet(w.Descriptor, bitcoin.Network(w.Network))
	if err != nil {
		return nil, err
	}
	b.parsed[w.Descriptor] = pw
	return pw, nil
}

// Assets implements invoices.Chain.
func (b *Bitcoin) Assets(w store.Wallet) ([]money.Asset, error) {
	if w.Network != string(b.Network) {
		return nil, fmt.Errorf("wallet %s is for %s but this chain runs on %s", w.ID, w.Network, b.Network)
	}
	return []money.Asset{money.BTC()}, nil
}

var _ invoices.DustLimiter = (*Bitcoin)(nil)

// DustLimit implements invoices.DustLimiter: the smallest output Bitcoin Core relays to the
// wallet's address type at its default dust relay fee (3 sat/vB): 294 sat for P2WPKH, 330
// for P2TR, 540 for P2SH-P2WPKH, 546 for P2PKH.
func (b *Bitcoin) DustLimit(w store.Wallet, _ money.Asset) *big.Int {
	pw, err := b.wallet(w)
	if err != nil {
		return big.NewInt(546) // the largest, for a wallet that does not parse
	}
	switch pw.AddressType() {
	case bitcoin.P2WPKH:
		return big.NewInt(294)
	case bitcoin.P2TR:
		return big.NewInt(330)
	case bitcoin.P2SHP2WPKH:
		return big.NewInt(540)
	default:
		return big.NewInt(546)
	}
}

// DepositAddress implements invoices.Chain.
func (b *Bitcoin) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	pw, err := b.wallet(w)
	if err != nil {
		return "", nil, err
	}
	idx, err := tx.AllocateIndex(ctx, w.ID)
	if err != nil {
		return "", nil, fmt.Errorf("allocate index: %w", err)
	}
	addr, err := pw.Address(idx)
	if err != nil {
		return "", nil, err
	}
	return addr.EncodeAddress(), &idx, nil
}

var _ invoices.IndexedChain = (*Bitcoin)(nil)

// AddressAt implements invoices.IndexedChain: the wallet's receive address at index.
func (b *Bitcoin) AddressAt(w store.Wallet, index uint32) (string, error) {
	pw, err := b.wallet(w)
	if err != nil {
		return "", err
	}
	addr, err := pw.Address(index)
	if err != nil {
		return "", err
	}
	return addr.EncodeAddress(), nil
}

// PaymentURI implements invoices.Chain: a BIP21 URI with the exact amount.
func (b *Bitcoin) PaymentURI(o store.PaymentOption, amount *big.Int, label string) string {
	return bitcoin.BIP21(o.Address, amount, label, "")
}

// Confirmations implements invoices.Chain.
func (b *Bitcoin) Confirmations() int { return b.Confs }

var _ invoices.WalletMaker = (*Bitcoin)(nil)

// NewWallet implements invoices.WalletMaker: the key must be an extended PUBLIC key or
// descriptor of this chain's network.
func (b *Bitcoin) NewWallet(in invoices.WalletInput) (store.Wallet, error) {
	if in.Treasury != "" || len(in.Tokens) > 0 {
		return store.Wallet{}, fmt.Errorf("bitcoin wallets take a key, not a treasury or tokens")
	}
	w, err := bitcoin.ParseWallet(in.Key, b.Network)
	if err != nil {
		return store.Wallet{}, err
	}
	return store.Wallet{Chain: "bitcoin", Network: string(b.Network), Descriptor: w.Descriptor()}, nil
}
