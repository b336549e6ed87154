package api

import (
	"context"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// unsweptJSON is what a wallet's EVM forwarders (deposit addresses) hold of one asset and
// the sweeper has not moved to the treasury yet: waiting for the next sweep, for a sweep's
// confirmations, or for the balance to be worth its gas.
type unsweptJSON struct {
	Asset        string  `json:"asset"`
	Contract     *string `json:"contract"`
	Decimals     int32   `json:"decimals"`
	Amount       string  `json:"amount"`
	AmountAtomic string  `json:"amount_atomic"`
	Network      string  `json:"network"`
	DepositCount int     `json:"deposit_addresses"`
}

// unsweptByWallet returns the merchant's unswept balances by wallet id.
func (s *Server) unsweptByWallet(ctx context.Context, merchantID string) (map[string][]unsweptJSON, error) {
	var us []store.UnsweptBalance
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { us, err = tx.UnsweptBalances(ctx, merchantID); return }); err != nil {
		return nil, err
	}
	out := map[string][]unsweptJSON{}
	for _, u := range us {
		out[u.WalletID] = append(out[u.WalletID], unsweptJSON{Asset: u.Asset, Contract: strPtr(u.Contract), Decimals: u.Scale,
			Amount: money.FormatAmount(u.Amount, u.Scale), AmountAtomic: u.Amount.String(), Network: u.Network, DepositCount: u.Forwarders})
	}
	return out, nil
}
