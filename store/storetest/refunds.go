package storetest

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

func refundTests() []namedTest {
	return []namedTest{
		{"RefundRoundTrip", testRefundRoundTrip},
		{"RefundListAndWatch", testRefundListAndWatch},
		{"MerchantCoins", testMerchantCoins},
	}
}

func refund(id, merchantID, invoiceID string, created time.Time) store.Refund {
	return store.Refund{ID: id, MerchantID: merchantID, InvoiceID: invoiceID, Seq: 1, Status: store.RefundPending, Asset: "BTC",
		Chain: "bitcoin", Network: "regtest", Scale: 8, Currency: "USD", AmountFiat: big.NewInt(1250),
		AmountAtomic: new(big.Int).Lsh(big.NewInt(1), 70), RatePolicy: "original", Rate: "60630.000000000000000000",
		RateSource: "fixed", RateAt: t0, Reason: "returned", CreatedAt: created, UpdatedAt: created}
}

// testRefundRoundTrip: a refund reads back exactly (amounts beyond 64 bits included), is
// invisible to another merchant, and updates only at its version.
func testRefundRoundTrip(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "rf")
	r := refund("ref_rf_1", mid, "inv_rf", t0)
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_rf", mid, t0)); err != nil {
			return err
		}
		return x.CreateRefund(ctx, r)
	})
	r.Version = 1
	var got store.Refund
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetRefund(ctx, mid, r.ID); return }))
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, r)
	}
	err := s.View(ctx, func(x store.Tx) error { _, err := x.GetRefund(ctx, "sto_other", r.ID); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another merchant's read: %v, want ErrNotFound", err)
	}
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateRefund(ctx, r) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	other := refund("ref_rf_2", mid, "inv_rf", t0) // same invoice, same seq: two refunds created at once
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateRefund(ctx, other) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second refund with seq 1: %v, want ErrConflict", err)
	}
	upd := got
	at := t0.Add(time.Minute)
	h, oi := int64(7), int64(1)
	upd.Status, upd.Destination, upd.ClaimedAt, upd.TxID, upd.BlockHeight, upd.OutputIndex = store.RefundSent, "bcrt1qdest", &at, "ab12", &h, &oi
	upd.NetworkFee, upd.Prepared, upd.FeeFromAmount = big.NewInt(141), "cHNidP8=", false
	tx(t, s, func(x store.Tx) error { return x.UpdateRefund(ctx, upd) })
	if err := s.Tx(ctx, func(x store.Tx) error { return x.UpdateRefund(ctx, upd) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	upd.Version = 2
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetRefund(ctx, "", r.ID); return }))
	if !reflect.DeepEqual(got, upd) {
		t.Fatalf("after update\n%+v\nwant\n%+v", got, upd)
	}
}

// testRefundListAndWatch: lists page newest first per merchant and invoice; the follower's
// watch list holds claimed and sent refunds and completed ones above the given height.
func testRefundListAndWatch(t *testing.T, s store.Store) {
	mid, _ := seed(t, s, "rl")
	h5, h9 := int64(5), int64(9)
	statuses := []string{store.RefundPending, store.RefundClaimed, store.RefundSent, store.RefundCompleted, store.RefundCompleted, store.RefundCancelled}
	heights := []*int64{nil, nil, nil, &h5, &h9, nil}
	tx(t, s, func(x store.Tx) error {
		for _, id := range []string{"inv_rl_a", "inv_rl_b"} {
			if err := x.CreateInvoice(ctx, invoice(id, mid, t0)); err != nil {
				return err
			}
		}
		for i, st := range statuses {
			inv := "inv_rl_a"
			if i%2 == 1 {
				inv = "inv_rl_b"
			}
			r := refund("ref_rl_"+string(rune('0'+i)), mid, inv, t0.Add(time.Duration(i)*time.Second))
			r.Status, r.BlockHeight, r.Seq = st, heights[i], int64(i+1)
			if err := x.CreateRefund(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(rs []store.Refund) (out []string) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	var page []store.Refund
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		page, err = x.ListRefunds(ctx, store.RefundFilter{MerchantID: mid, Limit: 4})
		return
	}))
	if got, want := ids(page), []string{"ref_rl_5", "ref_rl_4", "ref_rl_3", "ref_rl_2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("first page %v, want %v", got, want)
	}
	last := page[len(page)-1]
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		page, err = x.ListRefunds(ctx, store.RefundFilter{MerchantID: mid, InvoiceID: "inv_rl_b", BeforeCreated: &last.CreatedAt, BeforeID: last.ID})
		return
	}))
	if got, want := ids(page), []string{"ref_rl_1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("invoice b after the cursor: %v, want %v", got, want)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		page, err = x.RefundsOfInvoices(ctx, []string{"inv_rl_b", "inv_rl_a"})
		return
	}))
	if got, want := ids(page), []string{"ref_rl_0", "ref_rl_2", "ref_rl_4", "ref_rl_1", "ref_rl_3", "ref_rl_5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("refunds of invoices %v, want %v", got, want)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { page, err = x.OpenRefunds(ctx, "bitcoin", 6); return }))
	if got, want := ids(page), []string{"ref_rl_1", "ref_rl_2", "ref_rl_4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("watch list %v, want %v", got, want)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		page, err = x.ListRefunds(ctx, store.RefundFilter{MerchantID: "sto_none"})
		return
	}))
	if len(page) != 0 {
		t.Fatalf("another merchant lists %v", ids(page))
	}
}

// testMerchantCoins: of the outpoints asked, only those recorded as payments (any status)
// to the merchant's invoices on the chain come back, sorted and once each; another
// merchant's coin, another output of the same transaction, another chain and malformed
// outpoints do not.
func testMerchantCoins(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "mc")
	oid, owid := seed(t, s, "mc2")
	txA, txB, txO := "aa"+fmt.Sprint(t0.Unix()), "bb"+fmt.Sprint(t0.Unix()), "cc"+fmt.Sprint(t0.Unix())
	tx(t, s, func(x store.Tx) error {
		for i, c := range []struct{ inv, mid, wid, txid, status string }{
			{"inv_mc_1", mid, wid, txA, store.PaymentConfirmed},
			{"inv_mc_2", mid, wid, txB, store.PaymentRemoved},
			{"inv_mc_3", oid, owid, txO, store.PaymentConfirmed},
		} {
			if err := x.CreateInvoice(ctx, invoice(c.inv, c.mid, t0)); err != nil {
				return err
			}
			o := option("opt_"+c.inv, c.inv, c.wid, "bcrt1qmc"+fmt.Sprint(i), uint32(i))
			if err := x.CreatePaymentOption(ctx, o); err != nil {
				return err
			}
			p := store.Payment{ID: "pay_" + c.inv, InvoiceID: c.inv, OptionID: o.ID, Chain: "bitcoin", TxID: c.txid, OutputIndex: 1,
				Address: o.Address, Asset: "BTC", Amount: big.NewInt(1000), Status: c.status, SeenAt: t0, UpdatedAt: t0}
			if _, err := x.UpsertPayment(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.MerchantCoins(ctx, mid, "bitcoin", []string{txB + ":1", txA + ":0", txA + ":1", txO + ":1", "junk", txA + ":1"})
		return
	}))
	if want := []string{txA + ":1", txB + ":1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("merchant coins %v, want %v", got, want)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		got, err = x.MerchantCoins(ctx, mid, "ethereum", []string{txA + ":1"})
		return
	}))
	if len(got) != 0 {
		t.Fatalf("merchant coins on another chain: %v", got)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.MerchantCoins(ctx, mid, "bitcoin", nil); return }))
	if len(got) != 0 {
		t.Fatalf("merchant coins of nothing: %v", got)
	}
}
