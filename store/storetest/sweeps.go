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

func sweepTests() []namedTest {
	return []namedTest{
		{"SweepCandidatesByBalance", testSweepCandidates},
		{"EVMSweepLifecycle", testEVMSweepLifecycle},
	}
}

// seedForwarders creates an EVM wallet and one invoice per status, each with an ETH and a
// USDC option sharing one deposit address; it returns the forwarders by invoice id.
func seedForwarders(t *testing.T, s store.Store, name string) (mid string, fwd map[string]store.Forwarder) {
	t.Helper()
	mid, _ = seed(t, s, name)
	wid := "wal_evm_" + name
	fwd = map[string]store.Forwarder{}
	tx(t, s, func(x store.Tx) error {
		if err := x.CreateWallet(ctx, store.Wallet{ID: wid, MerchantID: mid, Chain: "ethereum", Network: "1337",
			Treasury: "0xTreasury", Tokens: []string{"USDC"}, CreatedAt: t0}); err != nil {
			return err
		}
		for i, status := range []string{store.StatusSettled, store.StatusExpired, store.StatusNew} {
			inv := invoice(fmt.Sprintf("inv_%s_%d", name, i), mid, t0.Add(time.Duration(i)*time.Hour))
			inv.Status = status
			if err := x.CreateInvoice(ctx, inv); err != nil {
				return err
			}
			addr := fmt.Sprintf("0xdep_%s_%d", name, i)
			for _, asset := range []string{"ETH", "USDC"} {
				o := option("opt_"+inv.ID+"_"+asset, inv.ID, wid, addr, 0)
				o.Chain, o.Asset, o.DerivationIndex = "ethereum", asset, nil
				if asset == "USDC" {
					o.Contract = "0xUSDC"
				}
				if err := x.CreatePaymentOption(ctx, o); err != nil {
					return err
				}
			}
			fwd[inv.ID] = store.Forwarder{Chain: "ethereum", Address: addr, InvoiceID: inv.ID, WalletID: wid, MerchantID: mid,
				Treasury: "0xTreasury", Network: "1337"}
		}
		return nil
	})
	return mid, fwd
}

func candidates(t *testing.T, s store.Store, since time.Time) []string {
	t.Helper()
	var fs []store.Forwarder
	must(t, s.View(ctx, func(x store.Tx) (err error) { fs, err = x.SweepCandidates(ctx, "ethereum", since, 100); return }))
	var out []string
	for _, f := range fs {
		out = append(out, f.InvoiceID)
	}
	return out
}

// testSweepCandidates: every forwarder is read whatever its invoice's status, until it has
// been read after its monitoring ended; one left holding funds stays a candidate.
func testSweepCandidates(t *testing.T, s store.Store) {
	name := "swc"
	mid, fwd := seedForwarders(t, s, name)
	ids := []string{"inv_swc_0", "inv_swc_1", "inv_swc_2"}
	if got := candidates(t, s, time.Time{}); !reflect.DeepEqual(got, ids) {
		t.Fatalf("candidates %v, want every forwarder once %v", got, ids)
	}
	var all []store.Forwarder
	must(t, s.View(ctx, func(x store.Tx) (err error) { all, err = x.Forwarders(ctx, "ethereum", "", "", 100); return }))
	if len(all) != 3 || all[0] != fwd["inv_swc_0"] {
		t.Fatalf("forwarders %+v, want 3 starting with %+v", all, fwd["inv_swc_0"])
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) {
		all, err = x.Forwarders(ctx, "ethereum", "inv_swc_1", "", 100)
		return
	}))
	if len(all) != 1 || all[0].InvoiceID != "inv_swc_1" {
		t.Fatalf("forwarders of one invoice: %+v", all)
	}
	// Read while monitored: still candidates (monitoring has not ended).
	readAt := t0.Add(time.Hour)
	bal := []store.ForwarderBalance{{Asset: "ETH", Scale: 18, Amount: big.NewInt(7)},
		{Contract: "0xUSDC", Asset: "USDC", Scale: 6, Amount: big.NewInt(5)}}
	tx(t, s, func(x store.Tx) error {
		for _, id := range ids {
			b := bal
			if id != "inv_swc_1" {
				b = []store.ForwarderBalance{{Asset: "ETH", Scale: 18, Amount: new(big.Int)}}
			}
			if err := x.RecordForwarder(ctx, fwd[id], b, readAt); err != nil {
				return err
			}
		}
		return nil
	})
	if got := candidates(t, s, time.Time{}); len(got) != 3 {
		t.Fatalf("read while monitored: candidates %v, want all 3", got)
	}
	// Read after every invoice's monitoring ended: only the one holding funds remains.
	after := t0.Add(48 * time.Hour)
	tx(t, s, func(x store.Tx) error {
		for _, id := range ids {
			b := []store.ForwarderBalance(nil)
			if id == "inv_swc_1" {
				b = bal
			}
			if err := x.RecordForwarder(ctx, fwd[id], b, after); err != nil {
				return err
			}
		}
		return nil
	})
	if got := candidates(t, s, time.Time{}); !reflect.DeepEqual(got, []string{"inv_swc_1"}) {
		t.Fatalf("after monitoring: candidates %v, want the unswept one only", got)
	}
	var unswept []store.UnsweptBalance
	for _, m := range []string{mid, ""} {
		must(t, s.View(ctx, func(x store.Tx) (err error) { unswept, err = x.UnsweptBalances(ctx, m); return }))
		want := []store.UnsweptBalance{
			{MerchantID: mid, WalletID: "wal_evm_" + name, Chain: "ethereum", Network: "1337", Asset: "ETH", Scale: 18, Amount: big.NewInt(7), Forwarders: 1},
			{MerchantID: mid, WalletID: "wal_evm_" + name, Chain: "ethereum", Network: "1337", Contract: "0xUSDC", Asset: "USDC", Scale: 6, Amount: big.NewInt(5), Forwarders: 1},
		}
		if !reflect.DeepEqual(unswept, want) {
			t.Fatalf("unswept of %q: %+v, want %+v", m, unswept, want)
		}
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { unswept, err = x.UnsweptBalances(ctx, "sto_other"); return }))
	if len(unswept) != 0 {
		t.Fatalf("another merchant sees %+v", unswept)
	}
	// The watermark bounds the monitored set; it never moves back.
	wm := t0.Add(30 * 24 * time.Hour)
	tx(t, s, func(x store.Tx) error { return x.SetSweepWatermark(ctx, "ethereum", wm) })
	tx(t, s, func(x store.Tx) error { return x.SetSweepWatermark(ctx, "ethereum", t0) })
	var got time.Time
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.SweepWatermark(ctx, "ethereum"); return }))
	if !got.Equal(wm) {
		t.Fatalf("watermark %v, want %v", got, wm)
	}
	// Swept empty: nothing left to read.
	tx(t, s, func(x store.Tx) error { return x.RecordForwarder(ctx, fwd["inv_swc_1"], nil, after.Add(time.Minute)) })
	if got := candidates(t, s, time.Time{}); len(got) != 0 {
		t.Fatalf("after the sweep: candidates %v", got)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { unswept, err = x.UnsweptBalances(ctx, ""); return }))
	if len(unswept) != 0 {
		t.Fatalf("unswept after the sweep: %+v", unswept)
	}
}

func testEVMSweepLifecycle(t *testing.T, s store.Store) {
	mid, fwd := seedForwarders(t, s, "swl")
	f := fwd["inv_swl_0"]
	sw := store.EVMSweep{TxHash: "0xaa", Chain: "ethereum", MerchantID: mid, WalletID: f.WalletID, Destination: f.Treasury,
		Sender: "0xgas", Nonce: 4, RawTx: "0x02f8", Addresses: []string{f.Address}, InvoiceIDs: []string{f.InvoiceID},
		Tokens: []string{"0xUSDC"}, Status: store.SweepSent, SentAt: t0}
	tx(t, s, func(x store.Tx) error { return x.CreateEVMSweep(ctx, sw) })
	if err := s.Tx(ctx, func(x store.Tx) error { return x.CreateEVMSweep(ctx, sw) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	var open []store.EVMSweep
	must(t, s.View(ctx, func(x store.Tx) (err error) { open, err = x.OpenEVMSweeps(ctx, "ethereum"); return }))
	if len(open) != 1 || !reflect.DeepEqual(open[0], sw) {
		t.Fatalf("open %+v, want %+v", open, sw)
	}
	h, gas, at := int64(12), int64(90_000), t0.Add(time.Minute)
	done := sw
	done.Status, done.BlockNumber, done.BlockHash, done.GasUsed, done.Fee, done.FinishedAt =
		store.SweepConfirmed, &h, "0xblock", &gas, new(big.Int).Mul(big.NewInt(90_000), big.NewInt(3e9)), &at
	tx(t, s, func(x store.Tx) error { return x.FinishEVMSweep(ctx, done) })
	if err := s.Tx(ctx, func(x store.Tx) error { return x.FinishEVMSweep(ctx, done) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second finish: %v, want ErrConflict", err)
	}
	unknown := done
	unknown.TxHash = "0xbb"
	if err := s.Tx(ctx, func(x store.Tx) error { return x.FinishEVMSweep(ctx, unknown) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown finish: %v, want ErrNotFound", err)
	}
	var got store.EVMSweep
	must(t, s.View(ctx, func(x store.Tx) (err error) { got, err = x.GetEVMSweep(ctx, "0xaa"); return }))
	if !reflect.DeepEqual(got, done) {
		t.Fatalf("finished %+v, want %+v", got, done)
	}
	must(t, s.View(ctx, func(x store.Tx) (err error) { open, err = x.OpenEVMSweeps(ctx, "ethereum"); return }))
	if len(open) != 0 {
		t.Fatalf("open after finish: %+v", open)
	}
}
