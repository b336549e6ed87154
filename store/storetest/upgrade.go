package storetest

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
)

// UpgradeConfirmedAt checks migration 0016 on a store with payments from before it: s is a
// migrated store, undo016 takes 0016 back out of its database by hand (drops
// payments.confirmed_at and forgets the version). Migrating again must record as confirmed
// exactly the payments that had reached their option's confirmations at the chain's
// cursor, so an upgrade sends no invoice.payment_confirmed for old confirmations and still
// sends it for payments that reach theirs later.
func UpgradeConfirmedAt(t *testing.T, s store.Store, undo016 func(t *testing.T)) {
	mid, wid := seed(t, s, "up")
	h := int64(10)
	type pay struct {
		id, status string
		confs      int // the option's
		want       bool
	}
	pays := []pay{
		{"pay_deep", store.PaymentConfirmed, 2, true},     // 2 confirmations at tip 11
		{"pay_shallow", store.PaymentConfirmed, 3, false}, // 2 of 3
		{"pay_zero", store.PaymentMempool, 0, true},       // 0 required, seen
		{"pay_gone", store.PaymentRemoved, 0, false},      // removed
		{"pay_unmined", store.PaymentMempool, 1, false},   // not in a block
	}
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateInvoice(ctx, invoice("inv_up", mid, t0)); err != nil {
			return err
		}
		for i, p := range pays {
			o := option("opt_"+p.id, "inv_up", wid, "bcrt1q"+p.id, uint32(i))
			o.Confirmations = p.confs
			if err := x.CreatePaymentOption(ctx, o); err != nil {
				return err
			}
			sp := store.Payment{ID: p.id, InvoiceID: "inv_up", OptionID: o.ID, Chain: "bitcoin", TxID: "tx-" + p.id,
				Address: o.Address, Asset: "BTC", Amount: big.NewInt(1000), Status: p.status, SeenAt: t0,
				UpdatedAt: t0.Add(time.Duration(i) * time.Minute)}
			if p.status == store.PaymentConfirmed {
				sp.BlockHeight, sp.BlockHash = &h, "b10"
			}
			if _, err := x.UpsertPayment(ctx, sp); err != nil {
				return err
			}
		}
		for _, e := range []store.WebhookEndpoint{
			{ID: "we_gf_pay", Format: "greenfield", Events: []string{"invoice.created", "invoice.payment_received", "invoice.settled"}},
			{ID: "we_gf_settled", Format: "greenfield", Events: []string{"invoice.settled"}},
			{ID: "we_own_pay", Events: []string{"invoice.payment_received"}},
		} {
			e.MerchantID, e.URL, e.Secret, e.Enabled, e.CreatedAt, e.UpdatedAt = mid, "https://shop.example/"+e.ID, "0123456789abcdef", true, t0, t0
			if err := x.CreateWebhookEndpoint(ctx, e); err != nil {
				return err
			}
		}
		return x.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: 11, Hash: "b11", ParentHash: "b10", UpdatedAt: t0})
	})
	undo016(t)
	must(t, s.Migrate(ctx))
	// Greenfield endpoints that receive InvoiceReceivedPayment now receive
	// InvoicePaymentSettled too; others, and chainpay's own endpoints, are unchanged.
	for id, want := range map[string]string{
		"we_gf_pay":     "invoice.created,invoice.payment_received,invoice.settled,invoice.payment_confirmed",
		"we_gf_settled": "invoice.settled",
		"we_own_pay":    "invoice.payment_received",
	} {
		var e store.WebhookEndpoint
		must(t, s.View(ctx, func(x store.Tx) (err error) { e, err = x.WebhookEndpoint(ctx, mid, id); return }))
		if got := strings.Join(e.Events, ","); got != want {
			t.Errorf("endpoint %s after the upgrade: events %s, want %s", id, got, want)
		}
	}
	var got []store.Payment
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.Payments(ctx, "inv_up"); return }))
	if len(got) != len(pays) {
		t.Fatalf("%d payments after the upgrade, want %d", len(got), len(pays))
	}
	for _, g := range got {
		for i, p := range pays {
			if p.id != g.ID {
				continue
			}
			if (g.ConfirmedAt != nil) != p.want {
				t.Errorf("%s (%s, %d required, tip 11, block 10): confirmed at %v after the upgrade, want recorded %v",
					p.id, p.status, p.confs, g.ConfirmedAt, p.want)
			}
			if g.ConfirmedAt != nil && !g.ConfirmedAt.Equal(t0.Add(time.Duration(i)*time.Minute)) {
				t.Errorf("%s: confirmed at %v, want its last change %v", p.id, g.ConfirmedAt, t0.Add(time.Duration(i)*time.Minute))
			}
		}
	}
}
