package refunds_test

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var ctx = context.Background()

// regtestChain hands out real regtest addresses (P2WPKH of a fixed hash per index), so
// refunds validate destinations for the bitcoin regtest network.
type regtestChain struct{}

func (regtestChain) Assets(store.Wallet) ([]money.Asset, error) {
	return []money.Asset{money.BTC()}, nil
}

func (regtestChain) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	i, err := tx.AllocateIndex(ctx, w.ID)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("bcrt1q-deposit-%s-%d", w.ID, i), &i, nil
}

func (regtestChain) PaymentURI(o store.PaymentOption, amount *big.Int, _ string) string {
	return "bitcoin:" + o.Address
}

func (regtestChain) Confirmations() int { return 1 }

// quoter answers a settable rate.
type quoter struct {
	mu   sync.Mutex
	rate string
}

func (q *quoter) set(r string) { q.mu.Lock(); q.rate = r; q.mu.Unlock() }

func (q *quoter) Quote(_ context.Context, base, quote string) (invoices.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return invoices.Quote{Rate: decimal.RequireFromString(q.rate), Source: "test", At: time.Now(), Raw: `[]`}, nil
}

type env struct {
	t   *testing.T
	st  store.Store
	inv *invoices.Service
	ref *refunds.Service
	q   *quoter
	mid string
	// height is the tip pay mines its next block at (per env: subtests run in parallel).
	height int64
}

func setup(t *testing.T, b storetest.Backend) *env {
	t.Helper()
	st := b.Open(t)
	q := &quoter{rate: "60000"}
	inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": regtestChain{}}, Quoter: q,
		Settler: &ledger.Settler{}})
	must(t, err)
	ref, err := refunds.New(st, refunds.Config{Invoices: inv, Quoter: q, PublicURL: "https://pay.example/"})
	must(t, err)
	now := time.Now()
	mid := store.NewID("sto", now)
	must(t, st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "m", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin",
			Network: "regtest", Descriptor: "wpkh(test-" + mid + ")", CreatedAt: now})
	}))
	return &env{t: t, st: st, inv: inv, ref: ref, q: q, mid: mid, height: 100}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// invoice creates a USD invoice at the quoter's rate.
func (e *env) invoice(amount string) invoices.Details {
	e.t.Helper()
	d, err := e.inv.Create(ctx, e.mid, invoices.CreateRequest{Amount: amount, Currency: "USD"})
	must(e.t, err)
	return d
}

// pay records a payment of sats to the invoice's option, confirmed in a new block at the
// tip, and reviews the invoice as the watcher does.
func (e *env) pay(d invoices.Details, sats int64) store.Payment {
	e.t.Helper()
	o := d.Options[0]
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := e.height
	e.height++
	p := store.Payment{ID: store.NewID("pay", now), InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: o.Chain,
		TxID: fmt.Sprintf("%064x", h), OutputIndex: 0, Address: o.Address, Asset: o.Asset, Amount: big.NewInt(sats),
		Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: fmt.Sprintf("%064x", h), SeenAt: now, UpdatedAt: now}
	must(e.t, e.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, p); err != nil {
			return err
		}
		if err := tx.SetCursor(ctx, store.Cursor{Chain: o.Chain, Height: h, Hash: p.BlockHash, UpdatedAt: now, ChainTime: now}); err != nil {
			return err
		}
		_, err := e.inv.ReviewTx(ctx, tx, d.Invoice.ID)
		return err
	}))
	return p
}

// create asks for a refund in one transaction, as the API does.
func (e *env) create(invoiceID string, req refunds.CreateRequest) (store.Refund, error) {
	dr, err := e.ref.Prepare(ctx, e.mid, invoiceID, req)
	if err != nil {
		return store.Refund{}, err
	}
	var r store.Refund
	err = e.st.Tx(ctx, func(tx store.Tx) (err error) {
		r, err = e.ref.CreateTx(ctx, tx, dr)
		return err
	})
	return r, err
}

func (e *env) refundsOf(invoiceID string) []store.Refund {
	e.t.Helper()
	var out []store.Refund
	must(e.t, e.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.RefundsOfInvoice(ctx, invoiceID); return }))
	return out
}
