package refunds_test

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/bitcoin/regtest"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// merchantWallet is the merchant's own signer: the account key m/84'/1'/0' of a seed whose
// public half (tpub) is all chainpay gets.
type merchantWallet struct {
	account *hdkeychain.ExtendedKey
	tpub    string
}

func newMerchantWallet(t *testing.T) merchantWallet {
	t.Helper()
	seed := bytes.Repeat([]byte{0x42}, 32)
	tpub, err := regtest.MerchantTpub(seed)
	must(t, err)
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	must(t, err)
	for _, i := range []uint32{84, 1, 0} {
		k, err = k.Derive(hdkeychain.HardenedKeyStart + i)
		must(t, err)
	}
	return merchantWallet{account: k, tpub: tpub}
}

// sign signs every input of the PSBT with the key its BIP 32 derivation names, as an
// external signer (Sparrow, a hardware wallet) does: it checks the fingerprint is its
// account key's, derives the path, and checks the public key matches before signing.
func (m merchantWallet) sign(t *testing.T, b64 string) string {
	t.Helper()
	p, err := psbt.NewFromRawBytes(strings.NewReader(b64), true)
	must(t, err)
	accPub, err := m.account.ECPubKey()
	must(t, err)
	fp := binary.LittleEndian.Uint32(btcutil.Hash160(accPub.SerializeCompressed())[:4])
	prevs := map[wire.OutPoint]*wire.TxOut{}
	for i, in := range p.Inputs {
		prevs[p.UnsignedTx.TxIn[i].PreviousOutPoint] = in.WitnessUtxo
	}
	hashes := txscript.NewTxSigHashes(p.UnsignedTx, txscript.NewMultiPrevOutFetcher(prevs))
	for i, in := range p.Inputs {
		if len(in.Bip32Derivation) != 1 || in.Bip32Derivation[0].MasterKeyFingerprint != fp {
			t.Fatalf("input %d: derivation %+v does not name this wallet's key (fingerprint %08x)", i, in.Bip32Derivation, fp)
		}
		d := in.Bip32Derivation[0]
		k := m.account
		for _, step := range d.Bip32Path {
			k, err = k.Derive(step)
			must(t, err)
		}
		priv, err := k.ECPrivKey()
		must(t, err)
		if !bytes.Equal(priv.PubKey().SerializeCompressed(), d.PubKey) {
			t.Fatalf("input %d: path %v derives another key", i, d.Bip32Path)
		}
		sig, err := txscript.RawTxInWitnessSignature(p.UnsignedTx, hashes, i, in.WitnessUtxo.Value, in.WitnessUtxo.PkScript, txscript.SigHashAll, priv)
		must(t, err)
		p.Inputs[i].PartialSigs = []*psbt.PartialSig{{PubKey: d.PubKey, Signature: sig}}
	}
	out, err := p.B64Encode()
	must(t, err)
	return out
}

// TestRegtestRefunds runs refunds against a real btcd regtest node: an invoice paid from
// the harness wallet and followed by the real follower; a partial refund at the original
// rate and one at the current rate, each a PSBT signed by the merchant's key as an
// external signer would, submitted, broadcast, confirmed and booked once; an over-refund
// refused; the first refund's block reorged out, its record reversed, mined again and
// booked again; ledger verify clean at the end.
func TestRegtestRefunds(t *testing.T) {
	node := btcdtest.Start(t)
	node.Fund(t)
	st := storetest.SQLite(t)
	q := &quoter{rate: "60000"}
	inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Regtest, 1)},
		Quoter: q, Settler: &ledger.Settler{}})
	must(t, err)
	bn, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest, Timeout: 5 * time.Second})
	must(t, err)
	ref, err := refunds.New(st, refunds.Config{Invoices: inv, Quoter: q, Bitcoin: &refunds.BitcoinConfig{Node: bn, FeeFloor: 2}})
	must(t, err)
	src, err := watcher.NewBitcoinSource(bn, bitcoin.Regtest)
	must(t, err)
	f := watcher.NewFollower(st, src, inv, watcher.Config{Refunds: ref.Follower()})
	mw := newMerchantWallet(t)
	w, err := bitcoin.ParseWallet(mw.tpub, bitcoin.Regtest)
	must(t, err)
	now := time.Now()
	mid := store.NewID("sto", now)
	must(t, st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "m", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: store.NewID("wal", now), MerchantID: mid, Chain: "bitcoin",
			Network: "regtest", Descriptor: w.Descriptor(), CreatedAt: now})
	}))
	step := func() {
		t.Helper()
		for i := 0; i < 3; i++ {
			if _, err := f.Step(ctx); err != nil {
				t.Fatalf("follower: %v", err)
			}
		}
	}
	step() // the follower starts at the tip
	get := func(id string) store.Refund {
		t.Helper()
		r, err := ref.Get(ctx, mid, id)
		must(t, err)
		return r
	}
	refundRecords := func() []string {
		var keys []string
		must(t, st.View(ctx, func(tx store.Tx) error {
			ms, err := tx.OutboxMessages(ctx, ledger.Topic, store.OutboxPending)
			for _, m := range ms {
				if strings.HasPrefix(m.Key, ledger.SourceCryptoRefund) {
					keys = append(keys, m.Key)
				}
			}
			return err
		}))
		return keys
	}

	d, err := inv.Create(ctx, mid, invoices.CreateRequest{Amount: "25.00", Currency: "USD"})
	must(t, err)
	o := d.Options[0]
	addr, err := btcutil.DecodeAddress(o.Address, &chaincfg.RegressionNetParams)
	must(t, err)
	node.Pay(t, addr, o.AmountDue.Int64())
	node.Mine(t, 1)
	step()
	if d, err = inv.Get(ctx, mid, d.Invoice.ID); err != nil || d.Invoice.Status != store.StatusSettled {
		t.Fatalf("invoice %s, %v: want settled", d.Invoice.Status, err)
	}

	create := func(req refunds.CreateRequest) (store.Refund, error) {
		dr, err := ref.Prepare(ctx, mid, d.Invoice.ID, req)
		if err != nil {
			return store.Refund{}, err
		}
		var r store.Refund
		err = st.Tx(ctx, func(tx store.Tx) (err error) { r, err = ref.CreateTx(ctx, tx, dr); return })
		return r, err
	}
	destA, destB := regtestAddr(t, 0xa1), regtestAddr(t, 0xb2)
	a, err := create(refunds.CreateRequest{Amount: "10.00", Destination: destA, Reason: "partial, original rate"})
	must(t, err)
	q.set("50000")
	b, err := create(refunds.CreateRequest{Amount: "6.00", RatePolicy: refunds.RateCurrent, Destination: destB})
	must(t, err)
	if b.AmountAtomic.Int64() != 12000 || a.AmountAtomic.Int64() != 16667 {
		t.Fatalf("amounts: original %s sat, current %s sat; want 16667 and 12000", a.AmountAtomic, b.AmountAtomic)
	}
	// 25.00 − 10.00 − 6.00 = 9.00 USD left; 9.01 is refused.
	if _, err := create(refunds.CreateRequest{Amount: "9.01", Destination: destB}); err == nil || !strings.Contains(err.Error(), "9.00 USD") {
		t.Fatalf("over-refund: %v", err)
	}

	pay := func(r store.Refund) *wire.MsgTx {
		t.Helper()
		prepared, err := ref.PreparePSBT(ctx, mid, r.ID)
		must(t, err)
		p, err := psbt.NewFromRawBytes(strings.NewReader(prepared.Prepared), true)
		must(t, err)
		if r.ID == a.ID && p.UnsignedTx.TxIn[0].PreviousOutPoint.Hash.String() != d.Payments[0].TxID {
			t.Fatalf("the PSBT does not spend the invoice's own deposit output first")
		}
		if n := len(p.Outputs); n != 2 || len(p.Outputs[1].Bip32Derivation) != 1 || p.Outputs[1].Bip32Derivation[0].Bip32Path[0] != 1 {
			t.Fatalf("change output: %d outputs, derivation %+v; want change on the internal chain 1/i", n, p.Outputs[1].Bip32Derivation)
		}
		// An unsigned PSBT is refused and changes nothing.
		if _, err := ref.SubmitPSBT(ctx, mid, r.ID, prepared.Prepared); err == nil || !strings.Contains(err.Error(), "sign") {
			t.Fatalf("unsigned PSBT: %v", err)
		}
		sent, err := ref.SubmitPSBT(ctx, mid, r.ID, mw.sign(t, prepared.Prepared))
		must(t, err)
		if sent.Status != store.RefundSent || sent.TxID == "" {
			t.Fatalf("after submit: %s %q", sent.Status, sent.TxID)
		}
		h, err := chainhash.NewHashFromStr(sent.TxID)
		must(t, err)
		tx, err := bn.RawTransaction(ctx, *h)
		must(t, err)
		return tx
	}

	// Someone else pays A's destination exactly A's amount (another deposit to the
	// customer's exchange address): it spends no coin of the merchant's wallet, so A stays
	// claimed, in the mempool and mined.
	daddr, err := btcutil.DecodeAddress(destA, &chaincfg.RegressionNetParams)
	must(t, err)
	node.Pay(t, daddr, a.AmountAtomic.Int64())
	step()
	if r := get(a.ID); r.Status != store.RefundClaimed {
		t.Fatalf("refund A after a stranger's transfer in the mempool: %s", r.Status)
	}
	node.Mine(t, 1)
	step()
	if r := get(a.ID); r.Status != store.RefundClaimed {
		t.Fatalf("refund A after a stranger's transfer mined: %s", r.Status)
	}

	txA := pay(a)
	step() // the mempool sighting keeps it sent
	blocks := node.Mine(t, 1)
	step()
	if r := get(a.ID); r.Status != store.RefundCompleted {
		t.Fatalf("refund A after a block: %s", r.Status)
	}
	if keys := refundRecords(); len(keys) != 1 || keys[0] != ledger.RefundKey(a.ID, 1) {
		t.Fatalf("records after A completed: %v", keys)
	}
	step()
	if keys := refundRecords(); len(keys) != 1 {
		t.Fatalf("records after stepping again: %v (booked twice?)", keys)
	}

	// The block holding A is reorged out; A waits as sent, its record is reversed; the
	// transaction is mined again on the new branch and A is booked again.
	node.InvalidateBlock(t, blocks[0])
	var buf bytes.Buffer
	must(t, txA.Serialize(&buf))
	_, _ = node.TryCall(ctx, "sendrawtransaction", bytesHex(buf.Bytes())) // back into the mempool if btcd dropped it
	// The node behind the follower is waited for (lag is not a reorg) until the new branch
	// is longer; the follower then rewinds and applies the new branch.
	step()
	if r := get(a.ID); r.Status != store.RefundCompleted {
		t.Fatalf("refund A while the node lags: %s", r.Status)
	}
	node.Mine(t, 2)
	step()
	if r := get(a.ID); r.Status != store.RefundCompleted {
		t.Fatalf("refund A re-mined: %s", r.Status)
	}
	if keys := refundRecords(); len(keys) != 3 || keys[1] != ledger.RefundReversalKey(a.ID, 2) || keys[2] != ledger.RefundKey(a.ID, 3) {
		t.Fatalf("records after the reorg: %v", keys)
	}

	// A's change went to the wallet's change chain, which chainpay does not watch: the
	// invoice saw no new payment. B spends another coin of the wallet: a second invoice's.
	if d2, _ := inv.Get(ctx, mid, d.Invoice.ID); len(d2.Payments) != 1 {
		t.Fatalf("the invoice has %d payments after a refund with change", len(d2.Payments))
	}
	other, err := inv.Create(ctx, mid, invoices.CreateRequest{Amount: "30.00", Currency: "USD"})
	must(t, err)
	oaddr, err := btcutil.DecodeAddress(other.Options[0].Address, &chaincfg.RegressionNetParams)
	must(t, err)
	node.Pay(t, oaddr, other.Options[0].AmountDue.Int64())
	node.Mine(t, 1)
	step()
	pay(b)
	node.Mine(t, 1)
	step()
	if r := get(b.ID); r.Status != store.RefundCompleted || r.NetworkFee == nil || r.NetworkFee.Sign() <= 0 {
		t.Fatalf("refund B: %s fee %v", r.Status, r.NetworkFee)
	}
	diffs, err := ledger.VerifyEnqueued(ctx, st, mid)
	must(t, err)
	if len(diffs) != 0 {
		t.Fatalf("ledger verify: %v", diffs)
	}
	// The destinations hold the refunds on chain.
	for _, r := range []store.Refund{get(a.ID), get(b.ID)} {
		h, _ := chainhash.NewHashFromStr(r.TxID)
		out, confs, found, err := bn.TxOut(ctx, wire.OutPoint{Hash: *h, Index: uint32(*r.OutputIndex)})
		must(t, err)
		if !found || confs < 1 || big.NewInt(out.Value).Cmp(r.AmountAtomic) < 0 {
			t.Fatalf("refund %s on chain: found %v confs %d value %v", r.ID, found, confs, out)
		}
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
