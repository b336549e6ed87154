package ops_test

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// follower is a chain follower whose status the test sets.
type follower struct {
	mu sync.Mutex
	st watcher.Status
}

func (f *follower) Status() watcher.Status { f.mu.Lock(); defer f.mu.Unlock(); return f.st }
func (f *follower) set(st watcher.Status)  { f.mu.Lock(); defer f.mu.Unlock(); f.st = st }

// tip is a node tip the test sets; err makes it fail.
type tip struct {
	mu     sync.Mutex
	height int64
	err    error
}

func (t *tip) Tip(context.Context) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.height, t.err
}
func (t *tip) set(h int64, err error) { t.mu.Lock(); defer t.mu.Unlock(); t.height, t.err = h, err }

// bundle is a real SQLite store with a clock, a follower, a node tip and a real rate service
// over a fixed source whose quotes are stamped by quoteClock.
type bundle struct {
	st         store.Store
	clk        *clock
	quoteClk   *clock
	btc        *follower
	btcTip     *tip
	rates      *rates.Service
	cfg        *ops.Config
	merchantID string
	walletID   string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{st: storetest.SQLite(t), clk: &clock{t: t0}, quoteClk: &clock{t: t0}, btc: &follower{}, btcTip: &tip{}}
	fixed, err := rates.NewFixed("fixed", map[rates.Pair]decimal.Decimal{{Base: "BTC", Quote: "USD"}: decimal.NewFromInt(60000)}, b.quoteClk.Now)
	if err != nil {
		t.Fatal(err)
	}
	b.rates, err = rates.New([]rates.Source{fixed}, rates.Config{MaxAge: time.Minute, MinSources: 1, Now: b.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	b.cfg = &ops.Config{
		Store:   b.st,
		Chains:  []ops.Chain{{Name: "bitcoin", Follower: b.btc, Tip: b.btcTip.Tip, MaxLag: 2, MaxFailing: time.Minute}},
		Rates:   b.rates,
		Pairs:   []rates.Pair{{Base: "BTC", Quote: "USD"}, {Base: "ETH", Quote: "USD"}}, // nobody quotes ETH: skipped
		Now:     b.clk.Now,
		Version: "test",
	}
	b.merchantID, b.walletID = "sto_ops", "wal_ops"
	b.tx(t, func(x store.Tx) error {
		if err := x.CreateMerchant(ctx, store.Merchant{ID: b.merchantID, Name: "ops", CreatedAt: t0}); err != nil {
			return err
		}
		return x.CreateWallet(ctx, store.Wallet{ID: b.walletID, MerchantID: b.merchantID, Chain: "bitcoin", Network: "regtest",
			Descriptor: "wpkh(tpub/0/*)", CreatedAt: t0})
	})
	return b
}

func (b *bundle) tx(t *testing.T, fn func(store.Tx) error) {
	t.Helper()
	if err := b.st.Tx(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// invoice creates an invoice in status with one payment seen at seen (none when seen is zero).
func (b *bundle) invoice(t *testing.T, n int, status, paymentStatus string, seen time.Time) {
	t.Helper()
	id := fmt.Sprintf("inv_%d", n)
	b.tx(t, func(x store.Tx) error {
		err := x.CreateInvoice(ctx, store.Invoice{ID: id, MerchantID: b.merchantID, Status: status, Price: big.NewInt(2500),
			Currency: "USD", TolerancePercent: "0", ToleranceFloor: big.NewInt(0), Confirmations: "{}",
			ExpiresAt: t0.Add(15 * time.Minute), MonitorUntil: t0.Add(24 * time.Hour), CreatedAt: t0, UpdatedAt: t0})
		if err != nil || seen.IsZero() {
			return err
		}
		idx := uint32(n)
		opt := store.PaymentOption{ID: fmt.Sprintf("opt_%d", n), InvoiceID: id, Asset: "BTC", Chain: "bitcoin", Network: "regtest",
			Scale: 8, Address: fmt.Sprintf("bcrt1q%d", n), WalletID: b.walletID, DerivationIndex: &idx, AmountDue: big.NewInt(1000),
			Rate: "60000", RateSource: "fixed", RateAt: t0, QuoteExpiresAt: t0.Add(time.Minute), RawQuotes: "[]", Confirmations: 1, CreatedAt: t0}
		if err := x.CreatePaymentOption(ctx, opt); err != nil {
			return err
		}
		_, err = x.UpsertPayment(ctx, store.Payment{ID: fmt.Sprintf("pay_%d", n), InvoiceID: id, OptionID: opt.ID, Chain: "bitcoin",
			TxID: fmt.Sprintf("tx%d", n), Address: opt.Address, Asset: "BTC", Amount: big.NewInt(1000), Status: paymentStatus,
			SeenAt: seen, UpdatedAt: seen})
		return err
	})
}

// value returns the value of the metric name with exactly the given labels, and whether it
// was exposed.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsEqual(m.GetLabel(), want) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

func mustValue(t *testing.T, reg prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(t, reg, name, labels...)
	if !ok {
		t.Fatalf("%s%v is not exposed", name, labels)
	}
	if got != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
	}
}
