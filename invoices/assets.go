package invoices

import (
	"context"
	"fmt"
	"strings"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Assets lists the crypto assets the merchant's wallets accept on the chains this server
// follows, in wallet order: what Prepare offers as payment options when an invoice names
// no payment methods. Wallets of chains that are not configured are skipped, as Prepare
// skips them.
func (s *Service) Assets(ctx context.Context, merchantID string) ([]money.Asset, error) {
	ws, err := s.Wallets(ctx, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read wallets: %w", err)
	}
	var out []money.Asset
	for _, w := range ws {
		c, ok := s.cfg.Chains[w.Chain]
		if !ok {
			continue
		}
		as, err := c.Assets(w)
		if err != nil {
			return nil, fmt.Errorf("wallet %s: %w", w.ID, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

// PriceScale is the scale of an invoice's price currency: its ISO 4217 minor units, or the
// scale of the option priced in its own crypto asset (0 when neither is known).
func PriceScale(currency string, opts []store.PaymentOption) int32 {
	if a, ok := money.Currency(currency); ok {
		return a.Scale
	}
	for _, o := range opts {
		if o.Asset == currency {
			return o.Scale
		}
	}
	return 0
}

// MethodID names a payment method: an asset on a network (its chain name), "USDC-base".
func MethodID(a money.Asset) string { return a.Code + "-" + a.Chain }

// MethodMatches reports whether the payment method m, as a merchant names it in
// payment_methods, selects asset a: the bare asset code selects it on every network
// ("USDC"); CODE-network selects it on that network only ("USDC-base", the network in any
// case, so Greenfield's "USDC-BASE" reads the same).
func MethodMatches(m string, a money.Asset) bool {
	if m == a.Code {
		return true
	}
	code, network, ok := strings.Cut(m, "-")
	return ok && code == a.Code && strings.EqualFold(network, a.Chain)
}
