package storetest

import (
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// testBatchedReads: PaymentOptionsOf and PaymentsOf return, for several invoices at once,
// exactly what PaymentOptions and Payments return for each, grouped by invoice id.
func testBatchedReads(t *testing.T, s store.Store) {
	mid, wid := seed(t, s, "b")
	ids := []string{"inv_b2", "inv_b0", "inv_b1", "inv_b3"} // inv_b3 has nothing
	tx(t, s, func(x store.Tx) error {
		for i, id := range ids {
			if err := x.CreateInvoice(ctx, invoice(id, mid, t0.Add(time.Duration(i)*time.Minute))); err != nil {
				return err
			}
		}
		for i, id := range ids[:3] {
			for j := range 2 {
				oid := fmt.Sprintf("opt_%s_%d", id, j)
				if err := x.CreatePaymentOption(ctx, option(oid, id, wid, fmt.Sprintf("bcrt1q%d%d", i, j), uint32(10*i+j))); err != nil {
					return err
				}
				// Payments seen in the reverse order of their ids.
				p := store.Payment{ID: fmt.Sprintf("pay_%s_%d", id, j), InvoiceID: id, OptionID: oid, Chain: "bitcoin",
					TxID: fmt.Sprintf("tx%d%d", i, j), Address: "a", Asset: "BTC", Amount: big.NewInt(int64(1000 + j)),
					Status: store.PaymentMempool, SeenAt: t0.Add(time.Duration(10-j) * time.Second), UpdatedAt: t0}
				if _, err := x.UpsertPayment(ctx, p); err != nil {
					return err
				}
			}
		}
		return nil
	})
	var (
		opts []store.PaymentOption
		pays []store.Payment
	)
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		if opts, err = x.PaymentOptionsOf(ctx, ids); err != nil {
			return err
		}
		pays, err = x.PaymentsOf(ctx, ids)
		return err
	}))
	var wantOpts []store.PaymentOption
	var wantPays []store.Payment
	must(t, s.View(ctx, func(x store.Tx) error {
		for _, id := range []string{"inv_b0", "inv_b1", "inv_b2", "inv_b3"} {
			o, err := x.PaymentOptions(ctx, id)
			if err != nil {
				return err
			}
			p, err := x.Payments(ctx, id)
			if err != nil {
				return err
			}
			wantOpts, wantPays = append(wantOpts, o...), append(wantPays, p...)
		}
		return nil
	}))
	if len(opts) != 6 || !reflect.DeepEqual(opts, wantOpts) {
		t.Fatalf("PaymentOptionsOf: %+v\nwant %+v", opts, wantOpts)
	}
	if len(pays) != 6 || !reflect.DeepEqual(pays, wantPays) || pays[0].ID != "pay_inv_b0_1" {
		t.Fatalf("PaymentsOf: %+v\nwant %+v", pays, wantPays)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		if opts, err = x.PaymentOptionsOf(ctx, nil); err != nil || len(opts) != 0 {
			return fmt.Errorf("no ids: %v %v", opts, err)
		}
		return nil
	}))
}
