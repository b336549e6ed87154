package refunds

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

// EVMPayment is what the merchant's treasury wallet signs and sends for an EVM refund:
// an EIP-681 URI and the same transfer as an unsigned transaction (nonce, gas and fees are
// the wallet's to set).
type EVMPayment struct {
	URI         string         `json:"uri"`
	Transaction EVMTransaction `json:"transaction"`
}

// EVMTransaction is an unsigned transaction as eth_sendTransaction takes it.
type EVMTransaction struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Value   string `json:"value"` // hex wei
	Data    string `json:"data"`  // hex calldata: "0x" for a native transfer, ERC-20 transfer(address,uint256) otherwise
	ChainID string `json:"chainId"`
}

// transferSelector is the ERC-20 transfer(address,uint256) selector.
var transferSelector = []byte{0xa9, 0x05, 0x9c, 0xbb}

// PrepareEVM returns the payment the merchant's treasury must send for refund id (claimed,
// on an EVM chain): a native transfer of the amount to the destination, or the token's
// transfer(destination, amount).
func (s *Service) PrepareEVM(ctx context.Context, merchantID, id string) (EVMPayment, error) {
	var (
		r        store.Refund
		treasury string
	)
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		if r, err = s.GetTx(ctx, tx, merchantID, id); err != nil {
			return err
		}
		if r.Chain == "bitcoin" {
			return &invoices.StateError{Err: fmt.Errorf("refund %s is paid in Bitcoin: use its PSBT", r.ID)}
		}
		if err := preparable(r, r.Chain); err != nil {
			return err
		}
		d, err := s.cfg.Invoices.GetTx(ctx, tx, r.MerchantID, r.InvoiceID)
		if err != nil {
			return err
		}
		if err := s.checkSynced(ctx, tx, chainsOf(d, r.Chain)); err != nil {
			return err
		}
		if err := covered(d, r); err != nil {
			return err
		}
		ws, err := tx.Wallets(ctx, r.MerchantID)
		if err != nil {
			return err
		}
		for _, o := range d.Options {
			if o.Asset != r.Asset || o.Chain != r.Chain {
				continue
			}
			for _, w := range ws {
				if w.ID == o.WalletID {
					treasury = w.Treasury
				}
			}
		}
		if treasury == "" {
			return &invoices.StateError{Err: errors.New("the invoice's treasury wallet is gone")}
		}
		return nil
	})
	if err != nil {
		return EVMPayment{}, err
	}
	return EVMPaymentOf(r, treasury)
}

// EVMPaymentOf builds the EVM payment of a claimed refund from treasury.
func EVMPaymentOf(r store.Refund, treasury string) (EVMPayment, error) {
	chainID, err := strconv.ParseUint(r.Network, 10, 64)
	if err != nil {
		return EVMPayment{}, fmt.Errorf("refund %s: network %q is not a chain id", r.ID, r.Network)
	}
	to, err := ethereum.ParseAddress(r.Destination)
	if err != nil {
		return EVMPayment{}, err
	}
	from, err := ethereum.ParseAddress(treasury)
	if err != nil {
		return EVMPayment{}, err
	}
	p := EVMPayment{Transaction: EVMTransaction{From: from.Hex(), ChainID: hexutil.EncodeUint64(chainID)}}
	if r.Contract == "" {
		if p.URI, err = ethereum.NativeURI(chainID, to, r.AmountAtomic); err != nil {
			return EVMPayment{}, err
		}
		p.Transaction.To, p.Transaction.Value, p.Transaction.Data = to.Hex(), hexutil.EncodeBig(r.AmountAtomic), "0x"
		return p, nil
	}
	token, err := ethereum.ParseAddress(r.Contract)
	if err != nil {
		return EVMPayment{}, err
	}
	if p.URI, err = ethereum.TokenURI(chainID, token, to, r.AmountAtomic); err != nil {
		return EVMPayment{}, err
	}
	data := append([]byte{}, transferSelector...)
	data = append(data, common.LeftPadBytes(to.Bytes(), 32)...)
	data = append(data, common.LeftPadBytes(r.AmountAtomic.Bytes(), 32)...)
	p.Transaction.To, p.Transaction.Value, p.Transaction.Data = token.Hex(), hexutil.EncodeBig(new(big.Int)), hexutil.Encode(data)
	return p, nil
}
