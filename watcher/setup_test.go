package watcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

var ctx = context.Background()

type fixedQuoter struct{}

func (fixedQuoter) Quote(_ context.Context, base, quote string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("50000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// regtestTpub is a fresh merchant's watch-only key (the test is the merchant's wallet;
// chainpay only ever sees the public key).
func regtestTpub(t *testing.T) string {
	t.Helper()
	k, err := regtest.RandomMerchantTpub()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// shop is a merchant with a regtest Bitcoin wallet and an invoice service.
type shop struct {
	st  store.Store
	svc *invoices.Service
	mid string
}

func newShop(t *testing.T, st store.Store, confirmations int) *shop {
	t.Helper()
	svc, err := invoices.New(st, invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, confirmations)},
		Quoter: fixedQuoter{}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := bitcoin.ParseWallet(regtestTpub(t), bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mid := store.NewID("sto", now)
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "shop", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin",
			Network: "regtest", Descriptor: w.Descriptor(), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &shop{st: st, svc: svc, mid: mid}
}

// invoice creates an invoice of price USD and returns it with its BTC option.
func (s *shop) invoice(t *testing.T, price string) (invoices.Details, store.PaymentOption) {
	t.Helper()
	d, err := s.svc.Create(ctx, s.mid, invoices.CreateRequest{Amount: price, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	return d, d.Options[0]
}

func (s *shop) get(t *testing.T, id string) invoices.Details {
	t.Helper()
	d, err := s.svc.Get(ctx, s.mid, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func sats(t *testing.T, o store.PaymentOption) int64 {
	t.Helper()
	if !o.AmountDue.IsInt64() || o.Scale != money.BTC().Scale {
		t.Fatalf("option %+v", o)
	}
	return o.AmountDue.Int64()
}
