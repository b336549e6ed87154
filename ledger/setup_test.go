package ledger

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/goleak"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The shared admin pool storetest keeps for creating Postgres schemas lives for the
		// whole test binary.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).triggerHealthCheck.func1"),
	)
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad integer %q", s)
	}
	return v
}

// paid is a settled single-payment invoice: its records and what they must say.
type paid struct {
	inv   store.Invoice
	opt   store.PaymentOption
	pay   store.Payment
	price *big.Int
}

// fixture builds n settled invoices of merchant mid, priced 1.00 to n.00 USD plus some
// cents, each paid exactly in BTC at a locked quote (money.CryptoDue), one payment each.
func fixture(t testing.TB, mid string, n int) []paid {
	t.Helper()
	rate := decimal.RequireFromString("64123.45")
	out := make([]paid, n)
	for i := range n {
		price := big.NewInt(int64(100*(i+1) + 37*i%100))
		due, eff, err := money.CryptoDue(price, 2, rate, 8)
		must(t, err)
		id := fmt.Sprintf("%s_%03d", mid, i)
		h := int64(1000 + i)
		out[i] = paid{
			inv: store.Invoice{ID: "inv_" + id, MerchantID: mid, Status: store.StatusSettled, Price: price, Currency: "USD",
				OrderID: "order-" + id},
			opt: store.PaymentOption{ID: "opt_" + id, InvoiceID: "inv_" + id, Asset: "BTC", Chain: "bitcoin", Network: "regtest",
				Scale: 8, Address: "bcrt1q" + id, AmountDue: due, Rate: eff.String(), RateSource: "median(coinbase,kraken)", RateAt: t0},
			pay: store.Payment{ID: "pay_" + id, InvoiceID: "inv_" + id, OptionID: "opt_" + id, Chain: "bitcoin",
				TxID: fmt.Sprintf("%064x", i+1), OutputIndex: int64(i % 3), Address: "bcrt1q" + id, Asset: "BTC", Amount: due,
				Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: fmt.Sprintf("%064x", 1000+i), SeenAt: t0},
			price: price,
		}
	}
	return out
}

func (p paid) record(t testing.TB) Record {
	t.Helper()
	recs, err := SettlementRecords(Settlement{Invoice: p.inv, Option: p.opt, Payments: []store.Payment{p.pay},
		Tip: *p.pay.BlockHeight + 2, Fee: FeePolicy{BasisPoints: 100}, SettledAt: t0.Add(time.Minute)})
	must(t, err)
	if len(recs) != 1 {
		t.Fatalf("%d records for one payment", len(recs))
	}
	return recs[0]
}

// openStore opens a fresh store of backend b with merchant mid.
func openStore(t testing.TB, b storetest.Backend, mids ...string) store.Store {
	t.Helper()
	st := b.Open(t)
	must(t, st.Tx(ctx, func(tx store.Tx) error {
		for _, mid := range mids {
			if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: mid, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	}))
	return st
}

// enqueue builds the records of ps and enqueues them, one transaction per settlement as the
// invoice service does. Every other payment gets a chain in its books: the settlement
// (record 1), its reversal (2) and a second settlement (3), all due at once and enqueued
// with outbox ids that sort in reverse, so only the relay's per-payment order delivers them
// settlement first.
func enqueue(t testing.TB, st store.Store, ps []paid) map[string]Record {
	t.Helper()
	want := map[string]Record{}
	for i, p := range ps {
		rec := p.record(t)
		rec.Metadata["payment_sequence"] = "1"
		chain := []Record{rec}
		if i%2 == 1 {
			rev, err := Reversal(rec, t0)
			must(t, err)
			rev.Metadata["payment_sequence"] = "2"
			again := rec
			again.IdempotencyKey = SettlementKeyRound(p.pay.ID, 3)
			again.Metadata = map[string]string{"payment_sequence": "3"}
			chain = append(chain, rev, again)
		}
		must(t, st.Tx(ctx, func(tx store.Tx) error {
			for seq, r := range chain {
				want[r.IdempotencyKey] = r
				state, amount := store.BookApplied, r.Gross
				if r.Reverses != "" {
					state, amount = store.BookNone, new(big.Int)
				}
				// Later records get earlier outbox ids and due times.
				at := t0.Add(-time.Duration(seq) * time.Second)
				if err := enqueueBook(ctx, tx, r, store.LedgerBook{PaymentID: p.pay.ID, Seq: int64(seq + 1), InvoiceID: p.inv.ID,
					MerchantID: p.inv.MerchantID, State: state, Amount: amount, RecordKey: r.IdempotencyKey, CreatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	return want
}
