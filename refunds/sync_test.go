package refunds_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// later is the env's refunds service with its clock moved on by d: what a merchant meets
// when the follower has not stood at the node's tip for d.
func (e *env) later(d time.Duration, cfg refunds.Config) *refunds.Service {
	e.t.Helper()
	cfg.Invoices, cfg.Now = e.inv, func() time.Time { return time.Now().Add(d) }
	s, err := refunds.New(e.st, cfg)
	must(e.t, err)
	return s
}

func createWith(e *env, s *refunds.Service, invoiceID string, req refunds.CreateRequest) (store.Refund, error) {
	dr, err := s.Prepare(ctx, e.mid, invoiceID, req)
	if err != nil {
		return store.Refund{}, err
	}
	var r store.Refund
	err = e.st.Tx(ctx, func(tx store.Tx) (err error) { r, err = s.CreateTx(ctx, tx, dr); return })
	return r, err
}

// TestRefundRefusedWhileFollowerBehind: a refund is decided on what the follower recorded,
// so while the follower has not stood at the node's tip within the sync window (node down,
// catching up after an outage) creating one is refused with NotSyncedError and nothing is
// written; once the follower is at the tip again (its chain time advances) the same request
// succeeds. This is the rule that closes simulator seed 749427 (a payment double-spent
// during a node outage was refunded before the follower caught up).
func TestRefundRefusedWhileFollowerBehind(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		e.pay(d, d.Options[0].AmountDue.Int64()) // the follower stood at the tip just now
		req := refunds.CreateRequest{Amount: "10.00", Destination: regtestAddr(t, 9)}

		stale := e.later(3*time.Minute, refunds.Config{})
		_, err := createWith(e, stale, d.Invoice.ID, req)
		var ns *refunds.NotSyncedError
		if !errors.As(err, &ns) || !errors.Is(err, refunds.ErrNotSynced) || ns.Chain != "bitcoin" {
			t.Fatalf("3 minutes after the follower's last tip: %v, want NotSyncedError on bitcoin", err)
		}
		if !strings.Contains(err.Error(), "bitcoin follower last stood at the node's tip 3m0s ago") {
			t.Fatalf("the refusal does not say how stale the view is: %v", err)
		}
		if rs := e.refundsOf(d.Invoice.ID); len(rs) != 0 {
			t.Fatalf("a refused refund was written: %+v", rs)
		}
		// Within a longer window the same view is fresh enough.
		if _, err := createWith(e, e.later(3*time.Minute, refunds.Config{SyncWindow: 5 * time.Minute}), d.Invoice.ID,
			refunds.CreateRequest{Amount: "1.00", Destination: regtestAddr(t, 9)}); err != nil {
			t.Fatalf("within a 5-minute window: %v", err)
		}
		// The follower polls at the tip again: the chain time is the wall clock.
		must(t, e.st.Tx(ctx, func(tx store.Tx) error {
			return tx.AdvanceChainTime(ctx, "bitcoin", time.Now().Add(3*time.Minute).UTC().Truncate(time.Microsecond))
		}))
		r, err := createWith(e, stale, d.Invoice.ID, req)
		if err != nil || r.Status != store.RefundClaimed {
			t.Fatalf("after the follower caught up: %v %s", err, r.Status)
		}
	})
}

// TestRefundRefusedBeforeFollowerReachedTip: a follower whose cursor has no chain time has
// applied blocks but never stood at the node's tip (still catching up since its first
// start); a refund then is refused.
func TestRefundRefusedBeforeFollowerReachedTip(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("25.00")
		o := d.Options[0]
		now := time.Now().UTC().Truncate(time.Microsecond)
		h := int64(7)
		p := store.Payment{ID: store.NewID("pay", now), InvoiceID: d.Invoice.ID, OptionID: o.ID, Chain: o.Chain,
			TxID: strings.Repeat("cd", 32), Address: o.Address, Asset: o.Asset, Amount: o.AmountDue,
			Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: strings.Repeat("07", 32), SeenAt: now, UpdatedAt: now}
		must(t, e.st.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.UpsertPayment(ctx, p); err != nil {
				return err
			}
			if err := tx.SetCursor(ctx, store.Cursor{Chain: o.Chain, Height: h + 2, Hash: strings.Repeat("09", 32), UpdatedAt: now}); err != nil {
				return err
			}
			_, err := e.inv.ReviewTx(ctx, tx, d.Invoice.ID)
			return err
		}))
		_, err := e.create(d.Invoice.ID, refunds.CreateRequest{Amount: "5.00"})
		var ns *refunds.NotSyncedError
		if !errors.As(err, &ns) || !ns.Synced.IsZero() || !strings.Contains(err.Error(), "bitcoin follower has not stood at the node's tip yet") {
			t.Fatalf("no cursor for bitcoin: %v", err)
		}
	})
}

// refusingNode is a Bitcoin node that fails the test if a PSBT is built at all.
type refusingNode struct{ t *testing.T }

func (n refusingNode) TxOut(context.Context, wire.OutPoint) (*wire.TxOut, int64, bool, error) {
	n.t.Error("the node was asked for a coin of a refund that must be refused")
	return nil, 0, false, errors.New("refused")
}
func (n refusingNode) EstimateFeeRate(context.Context, int) (int64, bool, error) {
	n.t.Error("the node was asked for a fee rate of a refund that must be refused")
	return 0, false, errors.New("refused")
}
func (n refusingNode) SendRawTransaction(context.Context, *wire.MsgTx) (chainhash.Hash, error) {
	n.t.Error("a transaction of a refund that must be refused was broadcast")
	return chainhash.Hash{}, errors.New("refused")
}

// TestPrepareRefusedWhenPaymentLeftChain: a refund created against a payment that then left
// the chain (a reorg deeper than the merchant waited for) reserves more than the invoice
// holds; preparing its PSBT is refused (409 StateError naming both amounts) before the node
// is asked anything, and so is preparing it while the follower is not at the tip.
func TestPrepareRefusedWhenPaymentLeftChain(t *testing.T) {
	forEach(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		d := e.invoice("20.00")
		half := d.Options[0].AmountDue.Int64() / 2
		p1 := e.pay(d, half)
		e.pay(d, d.Options[0].AmountDue.Int64()-half)
		r, err := e.create(d.Invoice.ID, refunds.CreateRequest{Destination: regtestAddr(t, 9)}) // everything: 20.00 USD
		must(t, err)
		if r.AmountFiat.Int64() != 2000 {
			t.Fatalf("full refund of %v, want 2000", r.AmountFiat)
		}
		cfg := refunds.Config{Bitcoin: &refunds.BitcoinConfig{Node: refusingNode{t}}}

		// The follower has not been at the tip for 3 minutes: refused before anything else.
		if _, err := e.later(3*time.Minute, cfg).PreparePSBT(ctx, e.mid, r.ID); !errors.Is(err, refunds.ErrNotSynced) {
			t.Fatalf("PSBT while the follower is behind: %v", err)
		}

		// A reorg takes the first payment out.
		must(t, e.st.Tx(ctx, func(tx store.Tx) error {
			p1.Status, p1.BlockHeight, p1.BlockHash, p1.UpdatedAt = store.PaymentRemoved, nil, "", time.Now().UTC().Truncate(time.Microsecond)
			if _, err := tx.UpsertPayment(ctx, p1); err != nil {
				return err
			}
			_, err := e.inv.ReviewTx(ctx, tx, d.Invoice.ID)
			return err
		}))
		_, err = e.later(0, cfg).PreparePSBT(ctx, e.mid, r.ID)
		var se *invoices.StateError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "now holds less than its refunds reserve") ||
			!strings.Contains(err.Error(), "reserved 20.00 USD") {
			t.Fatalf("PSBT of a refund larger than what remains: %v", err)
		}
		if got, _ := e.ref.Get(ctx, e.mid, r.ID); got.Status != store.RefundClaimed || got.Version != r.Version {
			t.Fatalf("the refused preparation changed the refund: %s version %d", got.Status, got.Version)
		}
		// Cancelled, the rest can be refunded.
		must(t, e.st.Tx(ctx, func(tx store.Tx) error { _, err := e.ref.CancelTx(ctx, tx, e.mid, r.ID); return err }))
		r2, err := e.create(d.Invoice.ID, refunds.CreateRequest{Destination: regtestAddr(t, 9)})
		must(t, err)
		if want := new(big.Int).Sub(d.Options[0].AmountDue, big.NewInt(half)); r2.AmountAtomic.Cmp(want) != 0 {
			t.Fatalf("refund of what remains: %v sat, want %v", r2.AmountAtomic, want)
		}
	})
}
