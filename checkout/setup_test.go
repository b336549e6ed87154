package checkout_test

import (
	"context"
	"encoding/json"
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

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/checkout"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var ctx = context.Background()

// fixedQuoter prices one BTC at 50,000 of any currency: 25.00 USD is 50,000 sats.
type fixedQuoter struct{}

func (fixedQuoter) Quote(_ context.Context, base, quote string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("50000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// clock is a test clock shared by the invoice service and the checkout handler.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// regtestTpub is a fresh merchant's watch-only key (the test is the merchant's wallet;
// chainpay only ever sees the public key).
func regtestTpub(t testing.TB) string {
	t.Helper()
	k, err := regtest.RandomMerchantTpub()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// env is a merchant "Satoshi's Coffee" with a regtest Bitcoin wallet, the real invoice
// service on a real SQLite store, and the checkout handler behind an httptest server.
type env struct {
	st    store.Store
	svc   *invoices.Service
	mid   string
	clock *clock // nil when the wall clock is used
	srv   *httptest.Server
}

const storeName = "Satoshi's Coffee"

func newEnv(t testing.TB, st store.Store, testClock bool, cfg checkout.Config) *env {
	t.Helper()
	e := &env{st: st}
	icfg := invoices.Config{
		Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: fixedQuoter{},
	}
	if testClock {
		e.clock = &clock{now: time.Now().UTC().Truncate(time.Second)}
		icfg.Now, cfg.Now = e.clock.Now, e.clock.Now
	}
	svc, err := invoices.New(st, icfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	w, err := bitcoin.ParseWallet(regtestTpub(t), bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.mid = store.NewID("sto", now)
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: e.mid, Name: storeName, Settings: "{}", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: e.mid, Chain: "bitcoin",
			Network: "regtest", Descriptor: w.Descriptor(), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Invoices = st, svc
	e.srv = httptest.NewServer(checkout.New(cfg))
	t.Cleanup(e.srv.Close)
	return e
}

// sqliteEnv is newEnv on a fresh SQLite store with a test clock and a fast event poll.
func sqliteEnv(t testing.TB) *env {
	t.Helper()
	return newEnv(t, storetest.SQLite(t), true, checkout.Config{PollInterval: 20 * time.Millisecond})
}

func (e *env) invoice(t testing.TB, req invoices.CreateRequest) invoices.Details {
	t.Helper()
	if req.Amount == "" {
		req.Amount, req.Currency = "25.00", "USD"
	}
	d, err := e.svc.Create(ctx, e.mid, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Options) != 1 {
		t.Fatalf("invoice has %d options, want 1", len(d.Options))
	}
	return d
}

// pay records a payment to the invoice's option as the watcher would (the payment row, then
// a review of the invoice in the same transaction). height nil means in the mempool.
func (e *env) pay(t testing.TB, d invoices.Details, sats int64, height *int64) {
	t.Helper()
	o := d.Options[0]
	now := time.Now().UTC()
	if e.clock != nil {
		now = e.clock.Now()
	}
	p := store.Payment{ID: store.NewID("pay", now), InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: o.Chain,
		TxID: fmt.Sprintf("%064x", time.Now().UnixNano()), Address: o.Address, Asset: o.Asset,
		Amount: big.NewInt(sats), Status: store.PaymentMempool, SeenAt: now, UpdatedAt: now}
	if height != nil {
		p.Status, p.BlockHeight, p.BlockHash = store.PaymentConfirmed, height, fmt.Sprintf("%064x", *height)
	}
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpsertPayment(ctx, p); err != nil {
			return err
		}
		_, err := e.svc.ReviewTx(ctx, tx, d.Invoice.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setTip moves the bitcoin follower's cursor to height and reviews the invoice.
func (e *env) setTip(t testing.TB, height int64, invoiceID string) {
	t.Helper()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: height, Hash: fmt.Sprintf("%064x", height),
			ParentHash: fmt.Sprintf("%064x", height-1), UpdatedAt: time.Now()}); err != nil {
			return err
		}
		_, err := e.svc.ReviewTx(ctx, tx, invoiceID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) review(t testing.TB, id string) {
	t.Helper()
	if err := e.st.Tx(ctx, func(tx store.Tx) error { _, err := e.svc.ReviewTx(ctx, tx, id); return err }); err != nil {
		t.Fatal(err)
	}
}

// get fetches path with optional header pairs and returns the response and its body.
func (e *env) get(t testing.TB, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// status fetches and decodes /i/{id}/status.
func (e *env) status(t testing.TB, id string) checkout.Status {
	t.Helper()
	resp, body := e.get(t, "/i/"+id+"/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status of %s: %d %s", id, resp.StatusCode, body)
	}
	var st checkout.Status
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&st); err != nil {
		t.Fatalf("decode status %s: %v", body, err)
	}
	return st
}

func ptr[T any](v T) *T { return &v }

type storeTx = store.Tx

func bigInt(v int64) *big.Int { return big.NewInt(v) }

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
