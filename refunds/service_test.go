package refunds_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

func regtestAddr(t testing.TB, b byte) string {
	t.Helper()
	h := make([]byte, 20)
	h[0] = b
	a, err := btcutil.NewAddressWitnessPubKeyHash(h, &chaincfg.RegressionNetParams)
	must(t, err)
	return a.EncodeAddress()
}

func forEach(t *testing.T, fn func(t *testing.T, b storetest.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// TestPartialRefundsAtOriginalRate: two partial refunds in fiat at the locked rate take the
// whole invoice exactly; a third cent is refused naming what is left; nothing is written
// by a refused refund.
func TestPartialRefundsAtOriginalRate(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00") // 41667 sat at 60000 USD/BTC
		due := d.Options[0].AmountDue.Int64()
		e.pay(d, due)
		r1, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Reason: "one item returned"})
		must(t, err)
		if r1.AmountFiat.Int64() != 1000 || r1.Status != store.RefundPending || r1.RatePolicy != refunds.RateOriginal {
			t.Fatalf("first refund %+v", r1)
		}
		// The smallest amount worth at least 10.00 USD at the locked rate.
		if r1.AmountAtomic.Int64() != 16667 {
			t.Fatalf("10.00 USD at 60000 = %s sat, want 16667", r1.AmountAtomic)
		}
		r2, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "15.00"})
		must(t, err)
		if r2.AmountFiat.Int64() != 1500 || r1.AmountAtomic.Int64()+r2.AmountAtomic.Int64() != due {
			t.Fatalf("second refund %s USD cents / %s sat: the two must take exactly %d sat", r2.AmountFiat, r2.AmountAtomic, due)
		}
		_, err = e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "0.01"})
		var xe *refunds.ExceedsError
		if !errors.As(err, &xe) || !strings.Contains(err.Error(), "0.00 USD (0.00000000 BTC)") {
			t.Fatalf("a cent more: %v, want ExceedsError naming 0.00 USD (0.00000000 BTC) left", err)
		}
		if n := len(e.refundsOf(d.Invoice.ID)); n != 2 {
			t.Fatalf("%d refunds stored after a refused one, want 2", n)
		}
		// Cancelling one makes its amount refundable again.
		must(t, e.st.Tx(ctx, func(tx store.Tx) error { _, err := e.ref.CancelTx(ctx, tx, e.mid, r1.ID); return err }))
		if _, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.01"}); !errors.As(err, &xe) ||
			!strings.Contains(err.Error(), "remaining refundable amount of 10.00 USD (0.00016667 BTC)") {
			t.Fatalf("10.01 after cancelling 10.00: %v", err)
		}
		r3, err := e.create(d.Invoice.ID, refunds.CreateRequest{})
		must(t, err)
		if r3.AmountFiat.Int64() != 1000 || r3.AmountAtomic.Int64() != 16667 {
			t.Fatalf("refund of everything left: %s cents / %s sat, want 1000 / 16667", r3.AmountFiat, r3.AmountAtomic)
		}
	})
}

// TestOverRefundRefused: more than received is refused with the remaining amount in exact
// decimals, in fiat and in the asset, and changes nothing.
func TestOverRefundRefused(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		for _, req := range []refunds.CreateRequest{
			{Amount: "25.01"},
			{Amount: "0.00041668", Currency: "BTC"},
			{Amount: "25.00", RatePolicy: refunds.RateExplicit, Rate: "50000"}, // 0.0005 BTC > 0.00041667 received
		} {
			_, err := e.create(d.Invoice.ID, req)
			var xe *refunds.ExceedsError
			if !errors.As(err, &xe) || !strings.Contains(err.Error(), "25.00 USD (0.00041667 BTC)") {
				t.Fatalf("%+v: %v, want ExceedsError naming 25.00 USD (0.00041667 BTC)", req, err)
			}
		}
		if n := len(e.refundsOf(d.Invoice.ID)); n != 0 {
			t.Fatalf("%d refunds stored", n)
		}
		// Nothing received: nothing to refund.
		d2 := e.invoice("5.00")
		if _, err := e.create(d2.Invoice.ID, refunds.CreateRequest{Amount: "1.00"}); !errors.As(err, new(*invoices.StateError)) {
			t.Fatalf("refund of an unpaid invoice: %v, want a StateError", err)
		}
	})
}

// TestRefundAtCurrentRate: at the current rate the same fiat amount is a different asset
// amount; the asset ceiling still holds.
func TestRefundAtCurrentRate(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		e.q.set("75000")
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "15.00", RatePolicy: refunds.RateCurrent})
		must(t, err)
		if r.AmountAtomic.Int64() != 20000 || r.AmountFiat.Int64() != 1500 || r.Rate != "75000" || r.RateSource != "test" {
			t.Fatalf("15.00 USD at 75000: %+v, want 20000 sat", r)
		}
		e.q.set("30000")
		// 10.00 USD at 30000 is 33334 sat: more than the 21667 sat left.
		if _, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", RatePolicy: refunds.RateCurrent}); !errors.As(err, new(*refunds.ExceedsError)) {
			t.Fatalf("refund beyond the asset left: %v", err)
		}
	})
}

// TestRefundOfUnappliedReceipt: money paid to an invoice that does not accept it (a partial
// payment of an invoice later resolved invalid) can be refunded.
func TestRefundOfUnappliedReceipt(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, 10000)
		must(t, e.st.Tx(ctx, func(tx store.Tx) error {
			_, err := e.inv.ResolveTx(ctx, tx, e.mid, d.Invoice.ID, invoices.StatusInvalid, "customer paid too little")
			return err
		}))
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Currency: "", Amount: ""})
		must(t, err)
		if r.AmountAtomic.Int64() != 10000 || r.AmountFiat.Int64() != 600 {
			t.Fatalf("refund of the unapplied receipt: %s sat / %s cents, want 10000 / 600", r.AmountAtomic, r.AmountFiat)
		}
	})
}

// TestDestinationAndClaim: a destination in the request claims the refund at once; a
// pending refund is claimed once on the refund page, then locked; bad destinations are
// refused and change nothing.
func TestDestinationAndClaim(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		dest := regtestAddr(t, 1)
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "5.00", Destination: "bitcoin:" + dest + "?amount=1"})
		must(t, err)
		if r.Status != store.RefundClaimed || r.Destination != dest {
			t.Fatalf("refund with a destination: %s %q", r.Status, r.Destination)
		}
		_, err = e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "5.00", Destination: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"})
		if !errors.As(err, new(*invoices.ValidationError)) || !strings.Contains(err.Error(), "destination") {
			t.Fatalf("a mainnet destination for a regtest refund: %v", err)
		}
		p, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "5.00"})
		must(t, err)
		claim := func(to string) (store.Refund, error) {
			var out store.Refund
			err := e.st.Tx(ctx, func(tx store.Tx) (err error) { out, err = e.ref.ClaimTx(ctx, tx, p.ID, to); return })
			return out, err
		}
		if _, err := claim("not an address"); !errors.As(err, new(*invoices.ValidationError)) {
			t.Fatalf("claim with garbage: %v", err)
		}
		c, err := claim(regtestAddr(t, 2))
		must(t, err)
		if c.Status != store.RefundClaimed || c.ClaimedAt == nil {
			t.Fatalf("claimed: %+v", c)
		}
		if _, err := claim(regtestAddr(t, 3)); !errors.As(err, new(*invoices.StateError)) {
			t.Fatalf("second claim: %v, want StateError", err)
		}
		got, err := e.ref.Get(ctx, e.mid, p.ID)
		must(t, err)
		if got.Destination != regtestAddr(t, 2) {
			t.Fatalf("destination after a refused second claim: %s", got.Destination)
		}
		var evs []store.Event
		must(t, e.st.View(ctx, func(tx store.Tx) (err error) { evs, err = tx.Events(ctx, d.Invoice.ID); return }))
		count := map[string]int{}
		for _, ev := range evs {
			count[ev.Type]++
		}
		if count[refunds.EventCreated] != 2 || count[refunds.EventClaimed] != 2 {
			t.Fatalf("events %v: want 2 refund.created and 2 refund.claimed", count)
		}
	})
}

// TestConcurrentRefundsNeverExceed: refunds of one invoice created at the same time never
// add up to more than it received.
func TestConcurrentRefundsNeverExceed(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.00"})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.As(err, new(*refunds.ExceedsError)):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 2 || len(e.refundsOf(d.Invoice.ID)) != 2 {
			t.Fatalf("%d refunds of 10.00 succeeded on a 25.00 invoice, want 2", ok)
		}
	})
}

// TestTransitions: every status change goes through the table; final statuses have no
// way out.
func TestTransitions(t *testing.T) {
	for _, s := range []string{store.RefundCancelled, store.RefundFailed} {
		if !refunds.Final(s) {
			t.Fatalf("%s is not final", s)
		}
	}
	if refunds.CanTransition(store.RefundPending, store.RefundSent) || !refunds.CanTransition(store.RefundSent, store.RefundCompleted) {
		t.Fatal("transition table")
	}
	if refunds.CanTransition(store.RefundSent, store.RefundCancelled) {
		t.Fatal("a refund whose money is in flight cannot be cancelled")
	}
}
