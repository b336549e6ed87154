package ledger

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

func TestSettlementSinglePaymentIsExactlyThePrice(t *testing.T) {
	t.Parallel()
	for _, p := range fixture(t, "sto_a", 40) {
		rec := p.record(t)
		if rec.Gross.Cmp(p.price) != 0 {
			t.Fatalf("%s: gross %s, price %s", p.inv.ID, rec.Gross, p.price)
		}
		// 1 % fee, half-even on the minor unit.
		wantFee := roundHalfEven(new(big.Int).Mul(p.price, big.NewInt(100)), big.NewInt(10000))
		if rec.Fee.Cmp(wantFee) != 0 || rec.Net.Cmp(new(big.Int).Sub(p.price, wantFee)) != 0 {
			t.Fatalf("%s: fee %s net %s, want fee %s", p.inv.ID, rec.Fee, rec.Net, wantFee)
		}
		if rec.IdempotencyKey != "crypto_payment:"+p.pay.ID+":settled" || rec.SourceID != p.pay.ID ||
			rec.ReportingCategory != CategoryCharge || rec.Currency != "USD" {
			t.Fatalf("identity: %+v", rec)
		}
		if rec.Original.Amount.Cmp(p.pay.Amount) != 0 || rec.Original.Asset != "BTC/8@bitcoin" ||
			rec.ExchangeRate.Rate != p.opt.Rate || rec.Chain.TxID != p.pay.TxID || rec.Chain.Confirmations != 3 {
			t.Fatalf("evidence: %+v %+v %+v", rec.Original, rec.ExchangeRate, rec.Chain)
		}
	}
}

func TestSettlementFeeRounding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gross int64
		bps   int64
		fixed int64
		want  int64
	}{
		{1000, 25, 0, 2},     // 2.5 → 2 (ties to even)
		{1400, 25, 0, 4},     // 3.5 → 4
		{1001, 25, 0, 3},     // 2.5025 → 3
		{2500, 290, 30, 102}, // card-like 2.9 % + 0.30: 72.5 → 72, + 30
		{2500, 0, 0, 0},
		{7, 10000, 0, 7},
	}
	for _, tc := range tests {
		f := FeePolicy{BasisPoints: tc.bps, Fixed: big.NewInt(tc.fixed)}
		if got := f.Fee(big.NewInt(tc.gross), true); got.Int64() != tc.want {
			t.Errorf("fee on %d at %d bp + %d: got %s, want %d", tc.gross, tc.bps, tc.fixed, got, tc.want)
		}
	}
}

// TestSettlementSeveralPaymentsRoundEach: every payment's gross is its own PaymentFiat (one
// half-even rounding per payment, the rule the API, exports and checkout share), so a
// payment's record never depends on the others; the sum may differ from one conversion of
// the total by at most half a minor unit per payment.
func TestSettlementSeveralPaymentsRoundEach(t *testing.T) {
	t.Parallel()
	p := fixture(t, "sto_a", 1)[0]
	// Split the amount due into three payments with awkward sizes.
	due := p.pay.Amount
	parts := []*big.Int{big.NewInt(1111), big.NewInt(333), new(big.Int).Sub(due, big.NewInt(1444))}
	var pays []store.Payment
	for i, a := range parts {
		q := p.pay
		q.ID = p.pay.ID + string(rune('c'-i)) // ids sort opposite to arrival
		q.Amount = a
		q.OutputIndex = int64(i)
		q.SeenAt = t0.Add(time.Duration(i) * time.Second)
		pays = append(pays, q)
	}
	rate := decimal.RequireFromString(p.opt.Rate)
	recs, err := SettlementRecords(Settlement{Invoice: p.inv, Option: p.opt, Payments: []store.Payment{pays[2], pays[0], pays[1]},
		Fee: FeePolicy{BasisPoints: 50, Fixed: big.NewInt(10)}, SettledAt: t0})
	must(t, err)
	sum := new(big.Int)
	for i, r := range recs {
		if r.SourceID != pays[i].ID {
			t.Fatalf("record %d is for %s, want arrival order %s", i, r.SourceID, pays[i].ID)
		}
		sum.Add(sum, r.Gross)
		wantFee := FeePolicy{BasisPoints: 50, Fixed: big.NewInt(10)}.Fee(r.Gross, i == 0)
		if r.Fee.Cmp(wantFee) != 0 {
			t.Fatalf("record %d fee %s, want %s (fixed part only on the first)", i, r.Fee, wantFee)
		}
	}
	for i, r := range recs {
		if want := money.FiatFromCrypto(pays[i].Amount, 8, rate, 2); r.Gross.Cmp(want) != 0 {
			t.Fatalf("record %d gross %s, want the payment's own fiat value %s", i, r.Gross, want)
		}
	}
	diff := new(big.Int).Sub(sum, p.price)
	if diff.CmpAbs(big.NewInt(int64(len(pays)/2+1))) > 0 {
		t.Fatalf("grosses add up to %s, price %s: more than the per-payment rounding", sum, p.price)
	}
}

func TestSettlementOverpaymentAndCryptoPriced(t *testing.T) {
	t.Parallel()
	p := fixture(t, "sto_a", 1)[0]
	p.pay.Amount = new(big.Int).Mul(p.pay.Amount, big.NewInt(2))
	rec := p.record(t)
	rate := decimal.RequireFromString(p.opt.Rate)
	if want := money.FiatFromCrypto(p.pay.Amount, 8, rate, 2); rec.Gross.Cmp(want) != 0 {
		t.Fatalf("overpaid gross %s, want %s at the locked rate", rec.Gross, want)
	}
	// An invoice priced in BTC settles in BTC at rate 1.
	p = fixture(t, "sto_a", 1)[0]
	p.inv.Currency, p.opt.Rate, p.opt.RateSource = "BTC", "1", "identity"
	rec = p.record(t)
	if rec.Currency != "BTC" || rec.Gross.Cmp(p.pay.Amount) != 0 {
		t.Fatalf("crypto-priced: currency %s gross %s, want BTC %s", rec.Currency, rec.Gross, p.pay.Amount)
	}
}

// TestSettlementUnconfirmed: a store settling at 0 confirmations books the payment with no
// block (height 0, 0 confirmations) and says so; network and exception flags travel along.
func TestSettlementUnconfirmed(t *testing.T) {
	t.Parallel()
	p := fixture(t, "sto_a", 1)[0]
	p.pay.BlockHeight, p.pay.BlockHash, p.pay.Status = nil, "", store.PaymentMempool
	p.opt.Network = "regtest"
	p.inv.Flags = []string{"paid_over"}
	recs, err := SettlementRecords(Settlement{Invoice: p.inv, Option: p.opt, Payments: []store.Payment{p.pay},
		Tip: 100, SettledAt: t0})
	must(t, err)
	rec := recs[0]
	if rec.Chain.BlockHeight != 0 || rec.Chain.Confirmations != 0 || rec.Metadata["unconfirmed"] != "true" ||
		rec.Metadata["network"] != "regtest" || rec.Metadata["exception_flags"] != "paid_over" {
		t.Fatalf("unconfirmed settlement: %+v %+v", rec.Chain, rec.Metadata)
	}
}

func TestSettlementRejectsBadInput(t *testing.T) {
	t.Parallel()
	base := fixture(t, "sto_a", 1)[0]
	tests := []struct {
		name   string
		mutate func(s *Settlement)
		want   string
	}{
		{"no payments", func(s *Settlement) { s.Payments = nil }, "no payments"},
		{"foreign payment", func(s *Settlement) { s.Payments[0].OptionID = "opt_other" }, "belongs to option opt_other"},
		{"bad rate", func(s *Settlement) { s.Option.Rate = "abc" }, "plain decimal"},
		{"bad fee", func(s *Settlement) { s.Fee.BasisPoints = 10001 }, "basis points"},
		{"other currency", func(s *Settlement) { s.Invoice.Currency = "ETH" }, "neither fiat"},
		{"bad fair value", func(s *Settlement) { s.FairValues = map[string]Rate{base.pay.ID: {Rate: "-1"}} }, "fair value"},
		{"no time", func(s *Settlement) { s.SettledAt = time.Time{} }, "settled_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Settlement{Invoice: base.inv, Option: base.opt, Payments: []store.Payment{base.pay}, SettledAt: t0}
			tc.mutate(&s)
			if _, err := SettlementRecords(s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestReversalMirrors(t *testing.T) {
	t.Parallel()
	p := fixture(t, "sto_a", 1)[0]
	rec := p.record(t)
	rec.FairValue = &FairValue{Rate: "60000", Source: "x", At: t0, Amount: big.NewInt(1)}
	rev, err := Reversal(rec, t0.Add(time.Hour))
	must(t, err)
	if rev.IdempotencyKey != "crypto_payment:"+p.pay.ID+":reversed" || rev.Reverses != rec.IdempotencyKey ||
		rev.ReportingCategory != CategoryChargeReversal || !rev.OccurredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("identity: %+v", rev)
	}
	for _, pair := range [][2]*big.Int{{rec.Gross, rev.Gross}, {rec.Fee, rev.Fee}, {rec.Net, rev.Net},
		{rec.Original.Amount, rev.Original.Amount}, {rec.FairValue.Amount, rev.FairValue.Amount}} {
		if new(big.Int).Add(pair[0], pair[1]).Sign() != 0 {
			t.Fatalf("%s not negated: %s", pair[0], pair[1])
		}
	}
	if rev.ExchangeRate.Rate != rec.ExchangeRate.Rate {
		t.Fatal("reversal re-priced")
	}
	// Original and reversal together leave every account at zero.
	bal := map[string]*big.Int{}
	for _, r := range []Record{rec, rev} {
		for _, q := range r.Postings {
			k := q.Account + " " + q.Asset
			if bal[k] == nil {
				bal[k] = new(big.Int)
			}
			if q.Direction == Debit {
				bal[k].Add(bal[k], q.Amount)
			} else {
				bal[k].Sub(bal[k], q.Amount)
			}
		}
	}
	for k, v := range bal {
		if v.Sign() != 0 {
			t.Errorf("%s: %s after reversal", k, v)
		}
	}
	// The original is unchanged (no aliasing).
	if rec.Gross.Sign() <= 0 || rec.Postings[0].Direction != Debit {
		t.Fatal("Reversal modified its input")
	}
	if _, err := Reversal(rev, t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reversing a reversal: got %v", err)
	}
}

func TestSettlementRoundsAndKeys(t *testing.T) {
	t.Parallel()
	p := fixture(t, "sto_a", 1)[0]
	first := p.record(t)
	// The payment left the chain and confirmed again in another block: the second
	// settlement has its own key, so it never collides with the first.
	h := *p.pay.BlockHeight + 1
	p.pay.BlockHeight, p.pay.BlockHash = &h, "other"
	recs, err := SettlementRecords(Settlement{Invoice: p.inv, Option: p.opt, Payments: []store.Payment{p.pay}, SettledAt: t0, Round: 2})
	must(t, err)
	if recs[0].IdempotencyKey != first.IdempotencyKey+":2" {
		t.Fatalf("round 2 key %s", recs[0].IdempotencyKey)
	}
	for _, c := range []struct{ in, want string }{
		{"crypto_payment:pay_1:settled", "crypto_payment:pay_1:reversed"},
		{"crypto_payment:pay_1:settled:2", "crypto_payment:pay_1:reversed:2"},
		{"card:stripe:txn_1", "card:stripe:txn_1:reversed"},
	} {
		if got := ReversalKey(c.in); got != c.want {
			t.Errorf("ReversalKey(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestEnqueueTx(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t, b, "sto_a")
			p := fixture(t, "sto_a", 1)[0]
			rec := p.record(t)
			must(t, st.Tx(ctx, func(tx store.Tx) error { return EnqueueTx(ctx, tx, rec, t0) }))
			// Same record again (a retried settlement transaction): no-op.
			must(t, st.Tx(ctx, func(tx store.Tx) error { return EnqueueTx(ctx, tx, rec, t0.Add(time.Hour)) }))
			// A re-priced record under the same key is refused.
			other := rec
			other.ExchangeRate = &ExchangeRate{Rate: "1", Source: "live", At: t0}
			err := st.Tx(ctx, func(tx store.Tx) error { return EnqueueTx(ctx, tx, other, t0) })
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("different payload: got %v, want ErrConflict", err)
			}
			// A rolled-back settlement leaves no outbox row.
			q := fixture(t, "sto_a", 2)[1]
			boom := errors.New("settlement failed")
			err = st.Tx(ctx, func(tx store.Tx) error {
				if err := EnqueueTx(ctx, tx, q.record(t), t0); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			var msgs []store.OutboxMessage
			must(t, st.View(ctx, func(tx store.Tx) (err error) { msgs, err = tx.OutboxMessages(ctx, Topic, ""); return }))
			if len(msgs) != 1 || msgs[0].Key != rec.IdempotencyKey || msgs[0].Status != store.OutboxPending {
				t.Fatalf("outbox: %+v", msgs)
			}
			want, _ := rec.Encode()
			if msgs[0].Payload != string(want) {
				t.Fatal("payload is not the canonical encoding")
			}
			// Invalid records never reach the outbox.
			bad := rec
			bad.IdempotencyKey = ""
			if err := st.Tx(ctx, func(tx store.Tx) error { return EnqueueTx(ctx, tx, bad, t0) }); !errors.Is(err, ErrInvalid) {
				t.Fatalf("invalid record: got %v", err)
			}
		})
	}
}
