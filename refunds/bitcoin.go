package refunds

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/psbt"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

// BitcoinNode is what a Bitcoin refund needs of the node (*bitcoin.Node): which coins are
// unspent, a fee rate, and broadcasting the signed transaction.
type BitcoinNode interface {
	TxOut(ctx context.Context, op wire.OutPoint) (out *wire.TxOut, confirmations int64, found bool, err error)
	EstimateFeeRate(ctx context.Context, target int) (satPerKvB int64, ok bool, err error)
	SendRawTransaction(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error)
}

var _ BitcoinNode = (*bitcoin.Node)(nil)

// BitcoinConfig configures Bitcoin refunds.
type BitcoinConfig struct {
	Node BitcoinNode
	// FeeFloor and FeeCap bound the node's fee estimate, in sat/vB (defaults 1 and 500);
	// the floor is used when the node has no estimate (btcd has no estimatesmartfee).
	FeeFloor, FeeCap int64
	// FeeTarget is the confirmation target asked of estimatesmartfee (default 6 blocks).
	FeeTarget int
	// MaxCoins bounds the wallet's coins considered (default 200, newest first after the
	// invoice's own).
	MaxCoins int
}

// ErrNoBitcoin means the server runs without a Bitcoin node for refunds.
var ErrNoBitcoin = errors.New("refunds: no Bitcoin node configured")

// vsize estimates (P2WPKH inputs and outputs; other outputs by their script length).
const (
	txOverheadVB   = 11 // version, locktime, counts, segwit marker (rounded up)
	p2wpkhInputVB  = 68
	outputBaseVB   = 9 // value and script length
	dustChangeSats = 294
)

// PreparePSBT builds the unsigned BIP 174 PSBT that pays refund id from the merchant's own
// wallet and stores it on the refund (Prepared, NetworkFee): inputs are coins chainpay saw
// arrive at the wallet and the node reports unspent — the invoice's own deposit outputs
// first, then the wallet's newest — each with its witness UTXO and BIP 32 derivation (the
// key's fingerprint and path) so any PSBT signer can sign; one output pays the destination,
// one returns the change to the wallet's change chain (KEY/1/i, i the first input's index:
// an address chainpay does not watch, so change is never taken for a payment). The fee rate is the node's
// estimate within [FeeFloor, FeeCap]. Preparing again replaces the previous PSBT.
func (s *Service) PreparePSBT(ctx context.Context, merchantID, id string) (store.Refund, error) {
	if s.btc == nil {
		return store.Refund{}, ErrNoBitcoin
	}
	var (
		r      store.Refund
		wallet store.Wallet
		coins  []store.WalletCoin
	)
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		if r, err = s.GetTx(ctx, tx, merchantID, id); err != nil {
			return err
		}
		if err := preparable(r, "bitcoin"); err != nil {
			return err
		}
		d, err := s.cfg.Invoices.GetTx(ctx, tx, r.MerchantID, r.InvoiceID)
		if err != nil {
			return err
		}
		if err := s.checkSynced(ctx, tx, chainsOf(d, r.Chain)); err != nil {
			return err
		}
		if err := covered(d, r); err != nil {
			return err
		}
		walletID := ""
		for _, o := range d.Options {
			if o.Chain == "bitcoin" {
				walletID = o.WalletID
			}
		}
		ws, err := tx.Wallets(ctx, r.MerchantID)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if w.ID == walletID {
				wallet = w
			}
		}
		if wallet.ID == "" {
			return &invoices.StateError{Err: errors.New("the invoice's Bitcoin wallet is gone")}
		}
		all, err := tx.WalletCoins(ctx, wallet.ID, s.btc.MaxCoins)
		if err != nil {
			return err
		}
		// The invoice's own deposit outputs first.
		for _, c := range all {
			if c.Payment.InvoiceID == r.InvoiceID {
				coins = append(coins, c)
			}
		}
		for _, c := range all {
			if c.Payment.InvoiceID != r.InvoiceID {
				coins = append(coins, c)
			}
		}
		return nil
	})
	if err != nil {
		return store.Refund{}, err
	}
	w, err := bitcoin.ParseWallet(wallet.Descriptor, bitcoin.Network(wallet.Network))
	if err != nil {
		return store.Refund{}, fmt.Errorf("wallet %s: %w", wallet.ID, err)
	}
	if w.AddressType() != bitcoin.P2WPKH {
		return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("PSBTs are prepared for native segwit (wpkh) wallets; this wallet is %s: send the refund from your wallet and chainpay follows it", w.AddressType())}
	}
	params, err := bitcoin.Params(bitcoin.Network(r.Network))
	if err != nil {
		return store.Refund{}, err
	}
	dest, err := btcutil.DecodeAddress(r.Destination, params)
	if err != nil {
		return store.Refund{}, fmt.Errorf("refund %s destination: %w", r.ID, err)
	}
	destScript, err := txscript.PayToAddrScript(dest)
	if err != nil {
		return store.Refund{}, err
	}
	rate, err := s.feeRate(ctx)
	if err != nil {
		return store.Refund{}, err
	}
	if !r.AmountAtomic.IsInt64() {
		return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{"amount": "too large for one Bitcoin output"}}
	}
	amount := r.AmountAtomic.Int64()

	type input struct {
		op    wire.OutPoint
		out   *wire.TxOut
		index uint32
	}
	var (
		ins   []input
		total int64
		fee   int64
	)
	destVB := int64(outputBaseVB + len(destScript))
	for _, c := range coins {
		h, err := chainhash.NewHashFromStr(c.Payment.TxID)
		if err != nil || c.Payment.OutputIndex < 0 {
			continue
		}
		op := wire.OutPoint{Hash: *h, Index: uint32(c.Payment.OutputIndex)}
		out, confs, found, err := s.btc.Node.TxOut(ctx, op)
		if err != nil {
			return store.Refund{}, fmt.Errorf("check coin %s: %w", op, err)
		}
		if !found || confs < 1 {
			continue // spent already, or not confirmed
		}
		ins = append(ins, input{op: op, out: out, index: c.DerivationIndex})
		total += out.Value
		vsize := txOverheadVB + int64(len(ins))*p2wpkhInputVB + destVB + outputBaseVB + 22
		fee = rate * vsize
		need := amount + fee
		if r.FeeFromAmount {
			need = amount
		}
		if total >= need {
			break
		}
	}
	need := amount + fee
	if r.FeeFromAmount {
		need = amount
	}
	if total < need || len(ins) == 0 {
		return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("the wallet's unspent coins chainpay knows of hold %s BTC, the refund needs %s BTC with its fee: send it from your wallet directly and chainpay follows it",
			bitcoin.FormatBTC(big.NewInt(total)), bitcoin.FormatBTC(big.NewInt(need)))}
	}
	pay := amount
	if r.FeeFromAmount {
		pay = amount - fee
		if pay < dustChangeSats {
			return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("the network fee of %d sat leaves %d sat for the customer: below the dust limit", fee, pay)}
		}
	}
	change := total - pay - fee
	changeScript, changeKey, err := w.Change(ins[0].index)
	if err != nil {
		return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("change: %v: send the refund from your wallet directly and chainpay follows it", err)}
	}
	tx := wire.NewMsgTx(2)
	for _, in := range ins {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: in.op, Sequence: wire.MaxTxInSequenceNum - 2}) // RBF signalled
	}
	tx.AddTxOut(wire.NewTxOut(pay, destScript))
	withChange := change >= dustChangeSats
	if withChange {
		tx.AddTxOut(wire.NewTxOut(change, changeScript))
	} else {
		fee += change // too small to keep: it goes to the miners
	}
	p, err := psbt.NewFromUnsignedTx(tx)
	if err != nil {
		return store.Refund{}, err
	}
	for i, in := range ins {
		kd, err := w.KeyDerivation(in.index)
		if err != nil {
			return store.Refund{}, err
		}
		p.Inputs[i].WitnessUtxo = in.out
		p.Inputs[i].SighashType = txscript.SigHashAll
		p.Inputs[i].Bip32Derivation = []*psbt.Bip32Derivation{derivation(kd)}
	}
	if withChange {
		p.Outputs[1].Bip32Derivation = []*psbt.Bip32Derivation{derivation(changeKey)}
	}
	b64, err := p.B64Encode()
	if err != nil {
		return store.Refund{}, err
	}
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		cur, err := s.GetTx(ctx, tx, merchantID, id)
		if err != nil {
			return err
		}
		if err := preparable(cur, "bitcoin"); err != nil {
			return err
		}
		cur.Prepared, cur.NetworkFee, cur.UpdatedAt = b64, big.NewInt(fee), s.now()
		if err := tx.UpdateRefund(ctx, cur); err != nil {
			return err
		}
		cur.Version++
		r = cur
		return nil
	})
	return r, err
}

func derivation(kd bitcoin.KeyDerivation) *psbt.Bip32Derivation {
	return &psbt.Bip32Derivation{PubKey: kd.PubKey, MasterKeyFingerprint: binary.LittleEndian.Uint32(kd.Fingerprint[:]),
		Bip32Path: kd.Path}
}

// preparable reports whether the refund can have a transaction prepared on chain.
func preparable(r store.Refund, chain string) error {
	switch {
	case r.Chain != chain && chain == "bitcoin":
		return &invoices.StateError{Err: fmt.Errorf("refund %s is paid on %s, not Bitcoin", r.ID, r.Chain)}
	case r.Status == store.RefundPending:
		return &invoices.StateError{Err: fmt.Errorf("refund %s has no destination yet: the customer claims it at its claim_url", r.ID)}
	case r.Status != store.RefundClaimed:
		return &invoices.StateError{Err: fmt.Errorf("refund %s is %s: nothing to send", r.ID, r.Status)}
	}
	return nil
}

// feeRate is the node's estimate in sat/vB within the configured floor and cap.
func (s *Service) feeRate(ctx context.Context) (int64, error) {
	kvb, ok, err := s.btc.Node.EstimateFeeRate(ctx, s.btc.FeeTarget)
	if err != nil {
		return 0, fmt.Errorf("fee rate: %w", err)
	}
	rate := s.btc.FeeFloor
	if ok {
		rate = (kvb + 999) / 1000
	}
	return min(max(rate, s.btc.FeeFloor), s.btc.FeeCap), nil
}

// SubmitPSBT takes the merchant's signed PSBT for refund id, finalises it, checks that it
// pays the destination at least what the refund owes, broadcasts it and records the
// refund as sent. A PSBT that is not fully signed, does not pay the destination, or that
// the node refuses is a ValidationError naming field "psbt" and changes nothing.
func (s *Service) SubmitPSBT(ctx context.Context, merchantID, id, signed string) (store.Refund, error) {
	if s.btc == nil {
		return store.Refund{}, ErrNoBitcoin
	}
	bad := func(format string, args ...any) (store.Refund, error) {
		return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{"psbt": fmt.Sprintf(format, args...)}}
	}
	r, err := s.Get(ctx, merchantID, id)
	if err != nil {
		return store.Refund{}, err
	}
	if err := preparable(r, "bitcoin"); err != nil {
		return store.Refund{}, err
	}
	if len(signed) > 1<<20 {
		return bad("larger than 1 MiB")
	}
	p, err := psbt.NewFromRawBytes(strings.NewReader(strings.TrimSpace(signed)), true)
	if err != nil {
		return bad("not a base64 BIP 174 PSBT: %v", err)
	}
	if err := psbt.MaybeFinalizeAll(p); err != nil {
		return bad("cannot be finalised (is every input signed?): %v", err)
	}
	if !p.IsComplete() {
		return bad("not every input is signed")
	}
	tx, err := psbt.Extract(p)
	if err != nil {
		return bad("cannot extract the transaction: %v", err)
	}
	params, err := bitcoin.Params(bitcoin.Network(r.Network))
	if err != nil {
		return store.Refund{}, err
	}
	dest, err := btcutil.DecodeAddress(r.Destination, params)
	if err != nil {
		return store.Refund{}, err
	}
	destScript, err := txscript.PayToAddrScript(dest)
	if err != nil {
		return store.Refund{}, err
	}
	vout := int64(-1)
	for i, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, destScript) && big.NewInt(o.Value).Cmp(Due(r)) >= 0 {
			vout = int64(i)
			break
		}
	}
	if vout < 0 {
		return bad("the transaction does not pay %s BTC to %s", bitcoin.FormatBTC(Due(r)), r.Destination)
	}
	txid, err := s.btc.Node.SendRawTransaction(ctx, tx)
	var rpcErr *bitcoin.RPCError
	if errors.As(err, &rpcErr) {
		return bad("the node refused the transaction: %s", rpcErr.Message)
	}
	if err != nil {
		return store.Refund{}, fmt.Errorf("broadcast refund %s: %w", id, err)
	}
	var fee *big.Int
	if f, err := p.GetTxFee(); err == nil {
		fee = big.NewInt(int64(f))
	}
	err = s.st.Tx(ctx, func(stx store.Tx) error {
		_, err := s.ObserveTx(ctx, stx, id, Transfer{TxID: txid.String(), OutputIndex: vout, Amount: big.NewInt(tx.TxOut[vout].Value), Fee: fee}, 0)
		return err
	})
	if err != nil {
		return store.Refund{}, err
	}
	return s.Get(ctx, merchantID, id)
}
