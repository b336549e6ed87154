package greenfield_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/greenfield"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

// testChain stands in for Bitcoin in these tests: chain "bitcoin", asset BTC (so payment
// method ids and speed policies behave as on Bitcoin), deposit addresses from the real index
// allocator. The real chains are driven by the end-to-end test in cmd/chainpay.
type testChain struct{}

func (testChain) Assets(store.Wallet) ([]money.Asset, error) {
	return []money.Asset{{Code: "BTC", Scale: 8, Chain: money.ChainBitcoin}}, nil
}

func (testChain) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	i, err := tx.AllocateIndex(ctx, w.ID)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("bcrt1test%s%d", strings.ToLower(w.ID[len(w.ID)-6:]), i), &i, nil
}

func (testChain) PaymentURI(o store.PaymentOption, amount *big.Int, _ string) string {
	return "bitcoin:" + o.Address + "?amount=" + money.FormatAmount(amount, o.Scale)
}

func (testChain) Confirmations() int { return 1 }

type quoter struct {
	mu   sync.Mutex
	down bool
}

func (q *quoter) Quote(context.Context, string, string) (invoices.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return invoices.Quote{}, errors.New("all sources stale")
	}
	return invoices.Quote{Rate: decimal.RequireFromString("60000"), Source: "test", At: time.Now(), Raw: `[]`}, nil
}

// env is one Greenfield server (with chainpay's webhook delivery) on a real store.
type env struct {
	t     testing.TB
	h     http.Handler // the mux serving the Greenfield paths
	st    store.Store
	inv   *invoices.Service
	hooks *webhooks.Service
	srv   *httptest.Server
	q     *quoter
	disp  *webhooks.Dispatcher
	deliv *webhooks.Deliverer
	refs  *refunds.Service
}

func setup(t testing.TB, b storetest.Backend) *env {
	t.Helper()
	st := b.Open(t)
	q := &quoter{}
	inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{money.ChainBitcoin: testChain{}}, Quoter: q})
	if err != nil {
		t.Fatal(err)
	}
	guard := webhooks.Guard{AllowPrivate: true}
	hooks, err := webhooks.NewService(st, &webhooks.Config{Guard: guard})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := refunds.New(st, refunds.Config{Invoices: inv, Quoter: q, PublicURL: "https://pay.example"})
	if err != nil {
		t.Fatal(err)
	}
	gf := greenfield.New(greenfield.Config{Store: st, Invoices: inv, Webhooks: hooks, Refunds: refs, PublicURL: "https://pay.example"})
	mux := http.NewServeMux()
	for _, p := range greenfield.Paths() {
		mux.Handle(p, gf)
	}
	mux.Handle("/r/", checkout.New(checkout.Config{Store: st, Invoices: inv, Refunds: refs})) // the claim page viewLink names
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	snaps := api.New(api.Config{Store: st, Invoices: inv, PublicURL: "https://pay.example"})
	disp, err := webhooks.NewDispatcher(st, snaps, &webhooks.DispatcherConfig{Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	deliv, err := webhooks.NewDeliverer(st, &webhooks.DelivererConfig{Guard: guard, PollInterval: 20 * time.Millisecond,
		Formats: map[string]webhooks.Formatter{greenfield.FormatName: greenfield.Formatter{}}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, h: mux, st: st, inv: inv, hooks: hooks, srv: srv, q: q, disp: disp, deliv: deliv, refs: refs}
}

// startDelivery runs the dispatcher and deliverer until the test ends.
func (e *env) startDelivery() {
	ctx, cancel := context.WithCancel(context.Background())
	e.disp.Start(ctx)
	e.deliv.Start(ctx)
	e.t.Cleanup(func() { cancel(); e.deliv.Stop(); e.disp.Stop() })
}

type merchant struct{ id, key string }

// newStore creates a store with a Bitcoin wallet and a key with perms (all when none).
func (e *env) newStore(name string, perms ...string) merchant {
	e.t.Helper()
	if len(perms) == 0 {
		perms = apikey.All()
	}
	now := time.Now()
	m := store.Merchant{ID: store.NewID("sto", now), Name: name, CreatedAt: now}
	plain, k := apikey.New(m.ID, perms, now)
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateMerchant(context.Background(), m); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(context.Background(), k); err != nil {
			return err
		}
		return tx.CreateWallet(context.Background(), store.Wallet{ID: store.NewID("wal", now), MerchantID: m.ID,
			Chain: money.ChainBitcoin, Network: "regtest", Descriptor: "test " + m.ID, CreatedAt: now})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return merchant{id: m.ID, key: plain}
}

// newKey adds a key with perms to an existing store.
func (e *env) newKey(storeID string, perms ...string) string {
	e.t.Helper()
	plain, k := apikey.New(storeID, perms, time.Now())
	if err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.CreateAPIKey(context.Background(), k) }); err != nil {
		e.t.Fatal(err)
	}
	return plain
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request the way BTCPay's PHP client does: Authorization: token <key>,
// Accept and Content-Type application/json.
func (e *env) do(method, path, key string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "token "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

// decode parses a response into v, failing on unknown fields so a test names every field
// it relies on in its fixture types.
func decode(t testing.TB, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %v\n%s", r.status, err, r.body)
	}
}

func (e *env) countInvoices(storeID string) int { return e.countIn(e.t, storeID) }

// refundsOf lists the store's chainpay refunds, newest first.
func (e *env) refundsOf(storeID string) []store.Refund {
	e.t.Helper()
	var out []store.Refund
	err := e.st.View(context.Background(), func(tx store.Tx) (err error) {
		out, err = tx.ListRefunds(context.Background(), store.RefundFilter{MerchantID: storeID, Limit: 100})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) countIn(t testing.TB, storeID string) int {
	t.Helper()
	var n int
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		invs, err := tx.ListInvoices(context.Background(), store.InvoiceFilter{MerchantID: storeID, Limit: 1000})
		n = len(invs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pay records a payment to the invoice's only option as the watcher would: status mempool
// (height nil) or confirmed at height, the chain's cursor at tip, then a review.
func (e *env) pay(invoiceID, payID string, amount *big.Int, height *int64, tip int64) {
	e.t.Helper()
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		opts, err := tx.PaymentOptions(ctx, invoiceID)
		if err != nil {
			return err
		}
		o := opts[0]
		now := time.Now().UTC().Truncate(time.Microsecond)
		p := store.Payment{ID: payID, InvoiceID: invoiceID, OptionID: o.ID, Chain: o.Chain, TxID: fmt.Sprintf("%x", sha256.Sum256([]byte(payID))),
			Address: o.Address, Asset: o.Asset, Amount: amount, Status: store.PaymentMempool, SeenAt: now, UpdatedAt: now}
		if height != nil {
			p.Status, p.BlockHeight, p.BlockHash = store.PaymentConfirmed, height, strings.Repeat("cd", 32)
		}
		inserted, err := tx.UpsertPayment(ctx, p)
		if err != nil {
			return err
		}
		if inserted {
			if err := e.inv.PaymentReceivedTx(ctx, tx, p); err != nil {
				return err
			}
		}
		if err := tx.SetCursor(ctx, store.Cursor{Chain: o.Chain, Height: tip, Hash: fmt.Sprintf("%064x", tip),
			ParentHash: fmt.Sprintf("%064x", tip-1), UpdatedAt: now, ChainTime: now}); err != nil {
			return err
		}
		_, err = e.inv.ReviewTx(ctx, tx, invoiceID)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}
