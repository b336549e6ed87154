package greenfield_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/chainpay/chainpay/greenfield"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/webhooks"
)

func payload(t *testing.T, typ, details string) string {
	t.Helper()
	p := webhooks.Payload{ID: "evt_1", Type: typ, CreatedAt: time.Unix(1_800_000_000, 0).UTC()}
	p.Data.Invoice = json.RawMessage(`{"id":"inv_1","order_id":"42","metadata":{"itemDesc":"tea"},"expires_at":"2027-01-01T00:00:00Z",
		"payment_options":[{"asset":"USDC","chain":"ethereum","decimals":6,"address":"0xabc","confirmations_required":12}]}`)
	if details != "" {
		p.Data.Details = json.RawMessage(details)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFormatter: the body is a function of the delivery (every attempt sends the same
// bytes), signed with BTCPay-Sig over exactly those bytes, carries the mapped fields, and
// events without a Greenfield counterpart are refused rather than sent in another shape.
func TestFormatter(t *testing.T) {
	ep := store.WebhookEndpoint{ID: "we_1", Secret: "0123456789abcdef", Format: greenfield.FormatName}
	del := store.WebhookDelivery{ID: "wd_1", MerchantID: "sto_1", EventID: "evt_1",
		Payload: payload(t, "invoice.payment_received", `{"invoice_id":"inv_1","payment_id":"pay_1","txid":"0xfeed","asset":"USDC","amount_atomic":"1500000","status":"mempool"}`)}
	var f greenfield.Formatter
	b1, h1, err := f.Format(ep, del)
	if err != nil {
		t.Fatal(err)
	}
	b2, h2, _ := f.Format(ep, del)
	if !bytes.Equal(b1, b2) || h1.Get("BTCPay-Sig") != h2.Get("BTCPay-Sig") || !greenfield.Verify(ep.Secret, h1.Get("BTCPay-Sig"), b1) {
		t.Fatalf("not deterministic or not signed: %s %v", b1, h1)
	}
	if greenfield.Verify("another secret!!", h1.Get("BTCPay-Sig"), b1) || greenfield.Verify(ep.Secret, h1.Get("BTCPay-Sig"), append(b1, ' ')) {
		t.Fatal("signature verifies with the wrong secret or body")
	}
	var ev gfEvent
	if err := json.Unmarshal(b1, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "InvoiceReceivedPayment" || ev.DeliveryID != "wd_1" || ev.WebhookID != "we_1" || ev.StoreID != "sto_1" ||
		ev.InvoiceID != "inv_1" || ev.Timestamp != 1_800_000_000 || ev.Metadata["orderId"] != "42" || ev.Metadata["itemDesc"] != "tea" ||
		ev.AfterExpiration == nil || !*ev.AfterExpiration || *ev.PaymentMethodID != "USDC-ETHEREUM" || ev.Payment.Value != "1.500000" ||
		ev.Payment.Status != "Processing" || ev.Payment.Destination != "0xabc" || ev.IsRedelivery {
		t.Fatalf("event %s", b1)
	}
	del.Manual = true
	b3, _, _ := f.Format(ep, del)
	if json.Unmarshal(b3, &ev) != nil || !ev.IsRedelivery {
		t.Fatalf("redelivery %s", b3)
	}
	// InvoicePaymentSettled: the payment as it confirmed, received when first seen (before
	// expiry here), status Settled, from chainpay's invoice.payment_confirmed.
	del.Manual = false
	del.Payload = payload(t, "invoice.payment_confirmed", `{"invoice_id":"inv_1","payment_id":"pay_1","txid":"0xfeed",
		"output_index":0,"chain":"ethereum","asset":"USDC","address":"0xabc","amount_atomic":"1500000","status":"confirmed",
		"block_height":812,"confirmations":12,"confirmations_required":12,"seen_at":"2026-12-31T23:00:00Z"}`)
	b4, h4, err := f.Format(ep, del)
	if err != nil || !greenfield.Verify(ep.Secret, h4.Get("BTCPay-Sig"), b4) {
		t.Fatalf("InvoicePaymentSettled: %v %s", err, b4)
	}
	ev = gfEvent{}
	if err := json.Unmarshal(b4, &ev); err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC).Unix()
	if ev.Type != "InvoicePaymentSettled" || ev.DeliveryID != "wd_1" || ev.OriginalDeliveryID != "wd_1" || ev.IsRedelivery ||
		ev.WebhookID != "we_1" || ev.StoreID != "sto_1" || ev.InvoiceID != "inv_1" || ev.Timestamp != 1_800_000_000 ||
		ev.Metadata["orderId"] != "42" || ev.AfterExpiration == nil || *ev.AfterExpiration || ev.PaymentMethodID == nil ||
		*ev.PaymentMethodID != "USDC-ETHEREUM" || ev.Payment.ID != "pay_1" || ev.Payment.ReceivedDate != seen ||
		ev.Payment.Value != "1.500000" || ev.Payment.Fee != "0" || ev.Payment.Status != "Settled" || ev.Payment.Destination != "0xabc" {
		t.Fatalf("InvoicePaymentSettled %s", b4)
	}
	for typ, want := range map[string]string{
		"invoice.settled": `"manuallyMarked":true`, "invoice.expired": `"partiallyPaid":true`, "invoice.processing": `"overPaid":true`,
		"invoice.invalid": `"manuallyMarked":true`,
	} {
		del.Payload = payload(t, typ, `{"invoice_id":"inv_1","status":"x","flags":["marked","paid_over","paid_partial"]}`)
		b, _, err := f.Format(ep, del)
		if err != nil || !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s: %v %s", typ, err, b)
		}
	}
	for _, typ := range []string{"invoice.paid_late", "invoice.reorged", "invoice.resolved"} {
		del.Payload = payload(t, typ, "")
		if _, _, err := f.Format(ep, del); err == nil {
			t.Errorf("%s rendered", typ)
		}
	}
	del.Payload = "{"
	if _, _, err := f.Format(ep, del); err == nil {
		t.Error("a broken payload rendered")
	}
}
