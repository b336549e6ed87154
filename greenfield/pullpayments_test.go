package greenfield_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// TestPullPaymentListReadArchive: the store's chainpay refunds as Greenfield pull payments
// (SQLite, Postgres): listed newest first (archived ones only when asked), read by id
// without a key (as BTCPay's route), archived (= cancelled) while nothing was sent, and
// refused in Greenfield's shape once a refund was sent or given up; the claimed refund is
// the pull payment's payout.
func TestPullPaymentListReadArchive(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, b)
			m := e.newStore("Shop")
			other := e.newStore("Other")
			e.paidInvoice(m, "3001")
			base := "/api/v1/stores/" + m.id + "/pull-payments"
			create := func(amount string) gfPullPayment {
				t.Helper()
				var pp gfPullPayment
				r := e.do("POST", base, m.key, map[string]any{"name": "Refund for order no.: 3001 reason: r" + amount,
					"amount": amount, "currency": "USD", "paymentMethods": []string{"BTC-CHAIN"}})
				decode(t, r, &pp)
				if r.status != 200 || pp.ID == "" {
					t.Fatalf("create: %d %s", r.status, r.body)
				}
				return pp
			}
			list := func(query string, body any) []gfPullPayment {
				t.Helper()
				var out []gfPullPayment
				r := e.do("GET", base+query, m.key, body)
				decode(t, r, &out)
				if r.status != 200 {
					t.Fatalf("list%s: %d %s", query, r.status, r.body)
				}
				return out
			}
			ids := func(pps []gfPullPayment) []string {
				var out []string
				for _, p := range pps {
					out = append(out, p.ID)
				}
				return out
			}
			a, b2, c := create("1.00"), create("2.00"), create("3.00")
			got := list("", nil)
			if !slices.Equal(ids(got), []string{c.ID, b2.ID, a.ID}) {
				t.Fatalf("list %v, want newest first %v", ids(got), []string{c.ID, b2.ID, a.ID})
			}
			if p := got[2]; p.Amount != "1.00" || p.Currency != "USD" || p.Archived || p.Name != "Refund for order no.: 3001 reason: r1.00" ||
				p.ViewLink != "https://pay.example/r/"+a.ID || !slices.Equal(p.PaymentMethods, []string{"BTC-CHAIN"}) || p.StartsAt != a.StartsAt {
				t.Fatalf("listed %+v, created %+v", p, a)
			}
			// The WooCommerce plugin's key (no refunds:read) cannot list; another store's id is 404.
			plugin := e.newKey(m.id, apikey.InvoicesRead, apikey.InvoicesWrite, apikey.WebhooksManage, apikey.RefundsWrite)
			var pr gfProblem
			if r := e.do("GET", base, plugin, nil); r.status != 403 || decodeInto(t, r, &pr) != "missing-permission" {
				t.Fatalf("list with the plugin's key: %d %s", r.status, r.body)
			}
			if r := e.do("GET", "/api/v1/stores/"+other.id+"/pull-payments", m.key, nil); r.status != 404 {
				t.Fatalf("another store's list: %d %s", r.status, r.body)
			}
			if r := e.do("GET", base+"?includeArchived=maybe", m.key, nil); r.status != 422 {
				t.Fatalf("includeArchived=maybe: %d %s", r.status, r.body)
			}
			// Read by id, no key (name left out); an unknown id is 404 in Greenfield's shape.
			var one gfPullPayment
			r := e.do("GET", "/api/v1/pull-payments/"+b2.ID, "", nil)
			decode(t, r, &one)
			if r.status != 200 || one.ID != b2.ID || one.Amount != "2.00" || one.Name != "" || one.ViewLink != b2.ViewLink {
				t.Fatalf("read: %d %s", r.status, r.body)
			}
			if r := e.do("GET", "/api/v1/pull-payments/ref_nope", "", nil); r.status != 404 || decodeInto(t, r, &pr) != "pullpayment-not-found" {
				t.Fatalf("read unknown: %d %s", r.status, r.body)
			}
			// Archive a (pending): cancelled; again: still 200; gone from the default list.
			for range 2 {
				if r := e.do("DELETE", base+"/"+a.ID, m.key, nil); r.status != http.StatusOK {
					t.Fatalf("archive: %d %s", r.status, r.body)
				}
			}
			if ref, err := e.refs.Get(ctx, m.id, a.ID); err != nil || ref.Status != store.RefundCancelled {
				t.Fatalf("archived refund: %v %+v", err, ref)
			}
			if got := ids(list("", nil)); !slices.Equal(got, []string{c.ID, b2.ID}) {
				t.Fatalf("list after archiving %s: %v", a.ID, got)
			}
			all := list("?includeArchived=true", nil)
			if !slices.Equal(ids(all), []string{c.ID, b2.ID, a.ID}) || !all[2].Archived || all[0].Archived {
				t.Fatalf("includeArchived: %+v", all)
			}
			if got := ids(list("", map[string]any{"includeArchived": true})); len(got) != 3 { // the PHP client's GET body
				t.Fatalf("includeArchived in the body: %v", got)
			}
			// Another store's key cannot archive this store's pull payment.
			if r := e.do("DELETE", "/api/v1/stores/"+other.id+"/pull-payments/"+b2.ID, other.key, nil); r.status != 404 {
				t.Fatalf("archive by another store: %d %s", r.status, r.body)
			}
			// b is claimed by the customer (refund page): its payout awaits the merchant's wallet.
			if _, err := e.refs.Claim(ctx, b2.ID, "bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgpvxat9t"); err != nil {
				t.Fatal(err)
			}
			var payouts []gfPayout
			decode(t, e.do("GET", "/api/v1/pull-payments/"+b2.ID+"/payouts", "", nil), &payouts)
			if len(payouts) != 1 || payouts[0].State != "AwaitingPayment" || payouts[0].PullPaymentID != b2.ID ||
				payouts[0].Destination != "bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgpvxat9t" || payouts[0].OriginalAmount != "2.00" ||
				payouts[0].OriginalCurrency != "USD" || payouts[0].PayoutCurrency != "BTC" || payouts[0].PayoutMethodID != "BTC-CHAIN" ||
				payouts[0].PaymentMethod != "BTC-CHAIN" || payouts[0].CryptoCode != "BTC" || payouts[0].PaymentMethodAmount != payouts[0].PayoutAmount {
				t.Fatalf("payouts of the claimed refund: %+v", payouts)
			}
			decode(t, e.do("GET", "/api/v1/pull-payments/"+c.ID+"/payouts", "", nil), &payouts)
			if len(payouts) != 0 {
				t.Fatalf("payouts of an unclaimed refund: %+v", payouts)
			}
			// The merchant's wallet sent b (the watcher saw the transaction): it can no longer
			// be archived; 400 in Greenfield's shape, nothing changes.
			if err := e.st.Tx(ctx, func(tx store.Tx) error {
				ref, err := tx.GetRefund(ctx, m.id, b2.ID)
				if err != nil {
					return err
				}
				ref.Status, ref.TxID = store.RefundSent, "ab"+b2.ID
				return tx.UpdateRefund(ctx, ref)
			}); err != nil {
				t.Fatal(err)
			}
			r = e.do("DELETE", base+"/"+b2.ID, m.key, nil)
			if r.status != 400 || decodeInto(t, r, &pr) != "pullpayment-not-archivable" {
				t.Fatalf("archive a sent refund: %d %s", r.status, r.body)
			}
			if ref, _ := e.refs.Get(ctx, m.id, b2.ID); ref.Status != store.RefundSent {
				t.Fatalf("refused archive changed the refund: %+v", ref)
			}
			decode(t, e.do("GET", "/api/v1/pull-payments/"+b2.ID+"/payouts", "", nil), &payouts)
			if len(payouts) != 1 || payouts[0].State != "InProgress" {
				t.Fatalf("payouts of the sent refund: %+v", payouts)
			}
			// c is claimed, then given up by the merchant (failed): not archivable either, and its
			// payout is listed only with includeCancelled.
			if _, err := e.refs.Claim(ctx, c.ID, "bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgpvxat9t"); err != nil {
				t.Fatal(err)
			}
			if err := e.st.Tx(ctx, func(tx store.Tx) error {
				_, err := e.refs.FailTx(ctx, tx, m.id, c.ID, "the wallet refused the transaction")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if r := e.do("DELETE", base+"/"+c.ID, m.key, nil); r.status != 400 {
				t.Fatalf("archive a failed refund: %d %s", r.status, r.body)
			}
			decode(t, e.do("GET", "/api/v1/pull-payments/"+c.ID+"/payouts", "", nil), &payouts)
			if len(payouts) != 0 {
				t.Fatalf("failed payout listed without includeCancelled: %+v", payouts)
			}
			decode(t, e.do("GET", "/api/v1/pull-payments/"+c.ID+"/payouts?includeCancelled=true", "", nil), &payouts)
			if len(payouts) != 1 || payouts[0].State != "Cancelled" {
				t.Fatalf("failed payout with includeCancelled: %+v", payouts)
			}
		})
	}
}

// decodeInto decodes a Greenfield problem and returns its code.
func decodeInto(t *testing.T, r response, p *gfProblem) string {
	t.Helper()
	decode(t, r, p)
	return p.Code
}
