package ledger

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/chainpay/chainpay/money"
)

// SourceEVMCollection is the source type of an EVM sweep: the internal transfer that
// collects deposits from per-invoice forwarders into the merchant's treasury. It is not
// revenue (the payments were booked when they settled); only its gas is booked, as a fee.
const SourceEVMCollection = "evm_collection"

// FeeTypeNetwork is the fee detail type of a network (gas) fee.
const FeeTypeNetwork = "network_fee"

// CollectionFee is what CollectionFeeRecord needs about a mined sweep.
type CollectionFee struct {
	MerchantID string
	// Native is the chain's native asset (ETH/18@ethereum): gas is paid in it.
	Native money.Asset
	// Network is the chain id of the wallet, for the export's network column.
	Network       string
	TxHash        string
	BlockHeight   int64
	BlockHash     string
	Confirmations int64
	// Fee is the gas paid: gas used × effective gas price, in the native asset's base units.
	Fee *big.Int
	// Forwarders is how many forwarders the transaction swept.
	Forwarders int
	// Reverted marks a sweep that reverted on chain: its gas was paid all the same.
	Reverted bool
	// OccurredAt is when the sweep was confirmed.
	OccurredAt time.Time
}

// CollectionFeeKey is the idempotency key of a sweep's fee record:
// evm_collection:{chain}:{txhash}:fee.
func CollectionFeeKey(chain, txHash string) string {
	return SourceEVMCollection + ":" + chain + ":" + txHash + ":fee"
}

// CollectionFeeRecord builds the `fee` record of a sweep's gas (network fee of
// collection), so finance sees what EVM collection costs. It is denominated in the native
// asset (gas is paid in it and no invoice gives a fiat currency or a locked rate): gross
// 0, fee = net loss = the gas, posted from the merchant's balance to their fees account.
// Enqueue it with EnqueueTx in the transaction that marks the sweep confirmed.
func CollectionFeeRecord(c CollectionFee) (Record, error) {
	if c.Fee == nil || c.Fee.Sign() <= 0 {
		return Record{}, fmt.Errorf("collection fee of %s: fee must be positive", c.TxHash)
	}
	if err := c.Native.Validate(); err != nil || c.Native.Contract != "" || c.Native.Chain == "" {
		return Record{}, fmt.Errorf("collection fee of %s: native asset %q must be a chain's coin: %v", c.TxHash, c.Native, err)
	}
	asset := c.Native.String()
	desc := fmt.Sprintf("network fee of sweeping %d deposit addresses to the treasury", c.Forwarders)
	if c.Reverted {
		desc = "network fee of a sweep that reverted on chain"
	}
	fee := new(big.Int).Set(c.Fee)
	r := Record{
		IdempotencyKey:    CollectionFeeKey(c.Native.Chain, c.TxHash),
		MerchantID:        c.MerchantID,
		SourceType:        SourceEVMCollection,
		SourceID:          c.TxHash,
		ReportingCategory: CategoryFee,
		Description:       desc,
		Currency:          c.Native.Code,
		Gross:             new(big.Int),
		Fee:               fee,
		Net:               new(big.Int).Neg(fee),
		FeeDetails:        []FeeDetail{{Type: FeeTypeNetwork, Amount: new(big.Int).Set(fee), Description: "gas paid by the sweeper key"}},
		Original:          &Original{Asset: asset, Amount: new(big.Int).Set(fee), Scale: c.Native.Scale},
		ExchangeRate:      &ExchangeRate{Rate: "1", Source: "same_asset", At: c.OccurredAt},
		OccurredAt:        c.OccurredAt,
		Chain: &ChainEvidence{Chain: c.Native.Chain, TxID: c.TxHash, OutputIndex: -1, BlockHeight: c.BlockHeight,
			BlockHash: c.BlockHash, Confirmations: c.Confirmations},
		Postings: appendPair(nil, AccountFees(c.MerchantID), AccountBalance(c.MerchantID), asset, fee),
		Metadata: map[string]string{"network": c.Network, "forwarders": strconv.Itoa(c.Forwarders)},
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	return r, nil
}
