package refunds_test

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/money"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// drain delivers the ledger outbox to the built-in journal.
func (e *env) drain() {
	e.t.Helper()
	relay, err := ledger.NewRelay(e.st, ledger.NewJournal(e.st, nil), ledger.RelayConfig{Holder: "test"})
	must(e.t, err)
	for {
		n, err := relay.RunOnce(ctx)
		must(e.t, err)
		if n == 0 {
			return
		}
	}
}

func (e *env) verify() []ledger.Difference {
	e.t.Helper()
	e.drain()
	diffs, err := ledger.Verify(ctx, e.st, e.mid)
	must(e.t, err)
	return diffs
}

func (e *env) records(source string) []store.LedgerRecord {
	e.t.Helper()
	var out []store.LedgerRecord
	must(e.t, e.st.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.LedgerRecords(ctx, store.LedgerFilter{MerchantID: e.mid, SourceType: source})
		return err
	}))
	return out
}

func (e *env) observe(id string, t refunds.Transfer, tip int64) {
	e.t.Helper()
	must(e.t, e.st.Tx(ctx, func(tx store.Tx) error { _, err := e.ref.ObserveTx(ctx, tx, id, t, tip); return err }))
}

// TestRefundBookedOnceAndReversedOnReorg: a refund seen in the mempool is sent, in a block
// with its confirmations completed and booked once as a refund record (revenue debited);
// observing it again posts nothing; a reorg reverses the record and the refund waits as
// sent; mined again it is booked again under the next key. ledger.Verify agrees at every
// step, and counts the refund's books.
func TestRefundBookedOnceAndReversedOnReorg(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Destination: regtestAddr(t, 9)})
		must(t, err)
		if diffs := e.verify(); len(diffs) != 0 {
			t.Fatalf("before the refund moves: %v", diffs)
		}
		txid := strings.Repeat("ab", 32)
		fee := big.NewInt(500)
		e.observe(r.ID, refunds.Transfer{TxID: txid, OutputIndex: 0, Amount: new(big.Int).Sub(r.AmountAtomic, big.NewInt(1)), Fee: fee}, e.height)
		if got, _ := e.ref.Get(ctx, e.mid, r.ID); got.Status != store.RefundClaimed {
			t.Fatalf("a transfer short of the amount moved the refund to %s", got.Status)
		}
		e.observe(r.ID, refunds.Transfer{TxID: txid, OutputIndex: 0, Amount: r.AmountAtomic, Fee: fee}, e.height)
		if got, _ := e.ref.Get(ctx, e.mid, r.ID); got.Status != store.RefundSent || got.NetworkFee.Cmp(fee) != 0 {
			t.Fatalf("seen in the mempool: %s fee %v", got.Status, got.NetworkFee)
		}
		h := e.height + 5
		e.observe(r.ID, refunds.Transfer{TxID: txid, OutputIndex: 0, Amount: r.AmountAtomic, BlockHeight: &h, BlockHash: "blk1"}, h)
		e.observe(r.ID, refunds.Transfer{TxID: txid, OutputIndex: 0, Amount: r.AmountAtomic, BlockHeight: &h, BlockHash: "blk1"}, h+1)
		got, _ := e.ref.Get(ctx, e.mid, r.ID)
		if got.Status != store.RefundCompleted || got.CompletedAt == nil {
			t.Fatalf("confirmed: %s", got.Status)
		}
		if diffs := e.verify(); len(diffs) != 0 {
			t.Fatalf("after completion: %v", diffs)
		}
		recs := e.records(ledger.SourceCryptoRefund)
		if len(recs) != 1 {
			t.Fatalf("%d refund records, want 1", len(recs))
		}
		rec, err := ledger.ParseRecord([]byte(recs[0].Payload))
		must(t, err)
		// 500 sat of fee at the locked rate (60000 USD/BTC) is 0.30 USD.
		if rec.IdempotencyKey != ledger.RefundKey(r.ID, 1) || rec.ReportingCategory != ledger.CategoryRefund ||
			rec.Gross.Int64() != -1000 || rec.Fee.Int64() != 30 || rec.Net.Int64() != -1030 || rec.Chain.TxID != txid ||
			rec.Original.Amount.Cmp(new(big.Int).Neg(r.AmountAtomic)) != 0 || rec.Metadata["from_unapplied"] != "0" ||
			len(rec.FeeDetails) != 1 || rec.FeeDetails[0].Type != "network_fee" {
			t.Fatalf("refund record: %+v", rec)
		}
		// The export carries it beside the payment.
		var rows []string
		exp := export.New(e.st, export.Config{})
		must(t, exp.Rows(ctx, export.Query{MerchantID: e.mid, Format: export.FormatCSV,
			Period: export.Period{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)}}, func(row *export.Row) error {
			rows = append(rows, row.Get("source_type")+"/"+row.Get("reporting_category")+"/"+row.Get("gross")+"/"+row.Get("crypto_amount"))
			return nil
		}))
		if want := "crypto_refund/refund/-10.00/-" + money.FormatAmount(r.AmountAtomic, 8); !slices.Contains(rows, want) {
			t.Fatalf("export rows %v lack %s", rows, want)
		}
		// The invoice view counts it.
		dd, err := e.inv.Get(ctx, e.mid, d.Invoice.ID)
		must(t, err)
		bal, err := refunds.Balance(dd)
		must(t, err)
		if bal.RefundedFiat.Int64() != 1000 || bal.RemainingFiat.Int64() != 1500 {
			t.Fatalf("balance refunded %s remaining %s", bal.RefundedFiat, bal.RemainingFiat)
		}

		// A reorg takes the block out: the record is reversed, the refund waits as sent.
		must(t, e.st.Tx(ctx, func(tx store.Tx) error { return e.ref.OrphanedTx(ctx, tx, r.ID) }))
		if got, _ := e.ref.Get(ctx, e.mid, r.ID); got.Status != store.RefundSent || got.BlockHeight != nil {
			t.Fatalf("after the reorg: %s %v", got.Status, got.BlockHeight)
		}
		if diffs := e.verify(); len(diffs) != 0 {
			t.Fatalf("after the reorg: %v", diffs)
		}
		recs = e.records(ledger.SourceCryptoRefund)
		if len(recs) != 2 || recs[1].ReportingCategory != ledger.CategoryRefundReversal || recs[1].Gross.Int64() != 1000 {
			t.Fatalf("after the reorg: %d records %+v", len(recs), recs)
		}
		// Mined again in another block: booked again, under the next key.
		h2 := h + 1
		e.observe(r.ID, refunds.Transfer{TxID: txid, OutputIndex: 0, Amount: r.AmountAtomic, BlockHeight: &h2, BlockHash: "blk2"}, h2)
		if diffs := e.verify(); len(diffs) != 0 {
			t.Fatalf("after re-mining: %v", diffs)
		}
		recs = e.records(ledger.SourceCryptoRefund)
		if len(recs) != 3 || recs[2].IdempotencyKey != ledger.RefundKey(r.ID, 3) {
			t.Fatalf("after re-mining: %d records", len(recs))
		}
	})
}

// TestVerifyFindsUnbookedRefund: a refund marked completed without its record is a
// difference ledger.Verify names by refund id.
func TestVerifyFindsUnbookedRefund(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64())
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "10.00", Destination: regtestAddr(t, 9)})
		must(t, err)
		h := int64(7)
		r.Status, r.TxID, r.BlockHeight = store.RefundCompleted, "tx", &h
		must(t, e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateRefund(ctx, r) }))
		diffs := e.verify()
		if len(diffs) != 1 || diffs[0].RefundID != r.ID || diffs[0].Expected.Refunded.Int64() != 1000 || diffs[0].Booked.Refunded.Sign() != 0 {
			t.Fatalf("differences %v", diffs)
		}
	})
}

// TestRefundOfUnappliedReceiptClearsSuspense: a refund of money the invoice did not accept
// is taken out of the suspense account, not out of revenue.
func TestRefundOfUnappliedReceiptClearsSuspense(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, 10000) // a partial payment: an unapplied receipt of 6.00 USD
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Destination: regtestAddr(t, 4)})
		must(t, err)
		h := e.height + 1
		e.observe(r.ID, refunds.Transfer{TxID: strings.Repeat("cd", 32), Amount: r.AmountAtomic, BlockHeight: &h, BlockHash: "b"}, h)
		if diffs := e.verify(); len(diffs) != 0 {
			t.Fatalf("differences %v", diffs)
		}
		var bals []store.LedgerBalance
		must(t, e.st.View(ctx, func(tx store.Tx) (err error) { bals, err = tx.LedgerBalances(ctx, e.mid); return }))
		for _, b := range bals {
			if strings.HasSuffix(b.Account, ":suspense:unapplied") && b.Balance.Sign() != 0 {
				t.Fatalf("suspense after refunding the unapplied receipt: %s", b.Balance)
			}
			if strings.Contains(b.Account, ":revenue:") && b.Balance.Sign() != 0 {
				t.Fatalf("revenue touched by an unapplied refund: %+v", b)
			}
		}
	})
}
