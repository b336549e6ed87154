package regtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

const (
	// SegwitHeight is the tip height the wallet mines to before its first
	// payment. Measured on btcd v0.24.2 regtest: at tip 430 sendrawtransaction
	// rejects witness spends ("segwit isn't active yet"), at tip 431 it accepts
	// them (block 432 is the first under segwit rules); 432 keeps a margin.
	SegwitHeight = 432
	// coinbaseMaturity is the number of confirmations a coinbase needs.
	coinbaseMaturity = 100
	// feeRate is the fee the wallet pays, in satoshi per virtual byte; btcd's
	// default minimum relay fee is 1.
	feeRate = 2
	// dustLimit is the smallest change output the wallet creates.
	dustLimit = 1000
)

// wallet tracks coins owned by the mining key. Coins are verified against the
// node (gettxout) before they are spent, so reorgs and restarts only cost a
// lookup; spent marks outpoints the wallet already spent in the mempool,
// which gettxout does not reflect for confirmed outputs.
type wallet struct {
	mined   []chainhash.Hash // blocks mined to the wallet key, not yet scanned
	coins   []coin
	spent   map[wire.OutPoint]bool
	scanned int // number of mined blocks already scanned for coinbases
	// prevs keeps the outputs each sent transaction spends, so BumpFee can sign a
	// replacement.
	prevs map[chainhash.Hash]map[wire.OutPoint]*wire.TxOut
}

type coin struct {
	op       wire.OutPoint
	value    int64
	coinbase bool
}

func (w *wallet) reset() {
	*w = wallet{spent: make(map[wire.OutPoint]bool), prevs: make(map[chainhash.Hash]map[wire.OutPoint]*wire.TxOut)}
}

// Fund makes sure the wallet can pay: it mines the chain up to SegwitHeight
// (so P2WPKH coinbases are spendable; those of heights 1 to 333 are then
// mature) when it is shorter. Pay and Send call it themselves; call it
// directly to do the mining up front.
func (n *Node) Fund(ctx context.Context) error {
	tip, err := n.TipHeight(ctx)
	if err != nil {
		return fmt.Errorf("regtest: fund: %w", err)
	}
	if tip < SegwitHeight {
		if _, err := n.Mine(ctx, int(SegwitHeight-tip)); err != nil {
			return fmt.Errorf("regtest: fund: %w", err)
		}
	}
	return nil
}

// Pay sends sats satoshi to address in a transaction signed by the wallet key,
// broadcasts it with sendrawtransaction and returns its id. Change goes back
// to the wallet. The transaction stays in the mempool until a block is mined.
func (n *Node) Pay(ctx context.Context, address btcutil.Address, sats int64) (chainhash.Hash, error) {
	if address == nil {
		return chainhash.Hash{}, errors.New("regtest: pay: nil address")
	}
	script, err := txscript.PayToAddrScript(address)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("regtest: pay to %s: %w", address, err)
	}
	tx, err := n.Send(ctx, wire.NewTxOut(sats, script))
	if err != nil {
		return chainhash.Hash{}, err
	}
	return tx.TxHash(), nil
}

// Send broadcasts a transaction with the given outputs (plus change to the
// wallet), signed by the wallet key, and returns it. When every mature coin is
// spent it mines 100 blocks to mature more and tries once again.
func (n *Node) Send(ctx context.Context, outputs ...*wire.TxOut) (*wire.MsgTx, error) {
	tx, err := n.send(ctx, outputs)
	if errors.Is(err, ErrNoFunds) {
		if _, err = n.Mine(ctx, coinbaseMaturity); err == nil {
			tx, err = n.send(ctx, outputs)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("regtest: send: %w", err)
	}
	return tx, nil
}

func (n *Node) send(ctx context.Context, outputs []*wire.TxOut) (*wire.MsgTx, error) {
	if len(outputs) == 0 {
		return nil, errors.New("no outputs")
	}
	for i, o := range outputs {
		if o == nil {
			return nil, fmt.Errorf("output %d: nil", i)
		}
		if o.Value <= 0 {
			return nil, fmt.Errorf("output %d: value %d must be positive", i, o.Value)
		}
		if o.Value > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("output %d: value %d exceeds 21 million BTC", i, o.Value)
		}
	}
	if err := n.Fund(ctx); err != nil {
		return nil, err
	}
	return n.spend(ctx, outputs)
}

// Balance returns the wallet's spendable satoshi: mature coinbases and change
// that still exist on the node (gettxout) and are not spent by the wallet's
// own mempool transactions. Immature coinbases are not counted.
func (n *Node) Balance(ctx context.Context) (int64, error) {
	n.walletMu.Lock()
	defer n.walletMu.Unlock()
	if err := n.scanCoinbases(ctx); err != nil {
		return 0, fmt.Errorf("regtest: balance: %w", err)
	}
	var total int64
	kept := n.wallet.coins[:0]
	for _, c := range n.wallet.coins {
		usable, alive, err := n.usable(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("regtest: balance: %w", err)
		}
		if !alive {
			continue
		}
		kept = append(kept, c)
		if usable {
			total += c.value
		}
	}
	n.wallet.coins = kept
	return total, nil
}

// spend builds, signs and broadcasts a transaction paying outputs from the
// wallet coins, assuming fund has already run.
func (n *Node) spend(ctx context.Context, outputs []*wire.TxOut) (*wire.MsgTx, error) {
	var want int64
	for _, o := range outputs {
		want += o.Value
	}
	n.walletMu.Lock()
	defer n.walletMu.Unlock()
	if err := n.scanCoinbases(ctx); err != nil {
		return nil, err
	}

	tx := wire.NewMsgTx(2)
	for _, o := range outputs {
		tx.AddTxOut(o)
	}
	prev := make(map[wire.OutPoint]*wire.TxOut)
	var have, fee int64
	kept := n.wallet.coins[:0]
	for _, c := range n.wallet.coins {
		if have >= want+fee {
			kept = append(kept, c)
			continue
		}
		usable, alive, err := n.usable(ctx, c)
		if err != nil {
			return nil, err
		}
		if !alive {
			continue // spent or reorged away: forget it
		}
		kept = append(kept, c)
		if !usable {
			continue
		}
		in := wire.NewTxIn(&c.op, nil, nil)
		in.Sequence = rbfSequence // every wallet payment can be fee-bumped (BIP 125)
		tx.AddTxIn(in)
		prev[c.op] = wire.NewTxOut(c.value, n.pkScript)
		have += c.value
		fee = feeRate * estimateVSize(len(tx.TxIn), len(tx.TxOut)+1)
	}
	n.wallet.coins = kept
	if have < want+fee {
		return nil, fmt.Errorf("%w: need %d sat, have %d", ErrNoFunds, want+fee, have)
	}
	change := have - want - fee
	changeIndex := -1
	if change >= dustLimit {
		changeIndex = len(tx.TxOut)
		tx.AddTxOut(wire.NewTxOut(change, n.pkScript))
	}

	if err := n.signAndSend(ctx, tx, prev); err != nil {
		return nil, err
	}
	txid := tx.TxHash()
	if n.wallet.prevs == nil {
		n.wallet.prevs = make(map[chainhash.Hash]map[wire.OutPoint]*wire.TxOut)
	}
	n.wallet.prevs[txid] = prev
	for _, in := range tx.TxIn {
		n.wallet.spent[in.PreviousOutPoint] = true
	}
	if changeIndex >= 0 {
		n.wallet.coins = append(n.wallet.coins, coin{
			op:    wire.OutPoint{Hash: txid, Index: uint32(changeIndex)},
			value: change,
		})
	}
	return tx, nil
}

// rbfSequence is the input sequence number that signals replaceability (BIP 125).
const rbfSequence = wire.MaxTxInSequenceNum - 2

// signAndSend signs every input of tx (P2WPKH of the wallet key, spending prev) and
// broadcasts it.
func (n *Node) signAndSend(ctx context.Context, tx *wire.MsgTx, prev map[wire.OutPoint]*wire.TxOut) error {
	fetcher := txscript.NewMultiPrevOutFetcher(prev)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, in := range tx.TxIn {
		wit, err := txscript.WitnessSignature(tx, hashes, i, prev[in.PreviousOutPoint].Value,
			n.pkScript, txscript.SigHashAll, n.key, true)
		if err != nil {
			return fmt.Errorf("sign input %d: %w", i, err)
		}
		in.Witness = wit
	}
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return fmt.Errorf("serialize: %w", err)
	}
	raw, err := n.Call(ctx, "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
	if err != nil {
		return err
	}
	var got string
	if err := json.Unmarshal(raw, &got); err != nil || got != tx.TxHash().String() {
		return fmt.Errorf("sendrawtransaction answered %s, want txid %s", abbreviate(raw), tx.TxHash())
	}
	return nil
}

// BumpFee replaces a wallet transaction still in the mempool by one that spends the same
// coins, pays the same outputs and takes extraFee more satoshi out of the change, like a
// wallet's "bump fee" (BIP 125 replace-by-fee). It returns the replacement.
func (n *Node) BumpFee(ctx context.Context, orig *wire.MsgTx, extraFee int64) (*wire.MsgTx, error) {
	n.walletMu.Lock()
	defer n.walletMu.Unlock()
	prev, ok := n.wallet.prevs[orig.TxHash()]
	if !ok {
		return nil, fmt.Errorf("regtest: bump fee: %s is not a wallet transaction", orig.TxHash())
	}
	tx := orig.Copy()
	change := -1
	for i, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, n.pkScript) {
			change = i
		}
	}
	if change < 0 || tx.TxOut[change].Value-extraFee < dustLimit {
		return nil, fmt.Errorf("regtest: bump fee: no change output that can pay %d sat more", extraFee)
	}
	tx.TxOut[change].Value -= extraFee
	for _, in := range tx.TxIn {
		in.Witness = nil
	}
	if err := n.signAndSend(ctx, tx, prev); err != nil {
		return nil, fmt.Errorf("regtest: bump fee: %w", err)
	}
	txid := tx.TxHash()
	n.wallet.prevs[txid] = prev
	// The replaced transaction's change no longer exists; the replacement's does.
	kept := n.wallet.coins[:0]
	for _, c := range n.wallet.coins {
		if c.op.Hash != orig.TxHash() {
			kept = append(kept, c)
		}
	}
	n.wallet.coins = append(kept, coin{op: wire.OutPoint{Hash: txid, Index: uint32(change)}, value: tx.TxOut[change].Value})
	return tx, nil
}

// estimateVSize over-estimates the virtual size of a transaction with P2WPKH
// inputs and outputs of at most P2WSH/P2TR size.
func estimateVSize(inputs, outputs int) int64 {
	return int64(11 + 69*inputs + 43*outputs)
}

// scanCoinbases records the coinbase outputs of mined blocks that pay the
// wallet. The caller holds walletMu.
func (n *Node) scanCoinbases(ctx context.Context) error {
	for ; n.wallet.scanned < len(n.wallet.mined); n.wallet.scanned++ {
		hash := n.wallet.mined[n.wallet.scanned]
		raw, err := n.Call(ctx, "getblock", hash.String(), 0)
		if err != nil {
			var rpcErr *RPCError
			if errors.As(err, &rpcErr) {
				continue // block gone (invalidated); its coinbase is not ours to spend
			}
			return err
		}
		var blockHex string
		if err := json.Unmarshal(raw, &blockHex); err != nil {
			return fmt.Errorf("getblock %s answered %s: %w", hash, abbreviate(raw), err)
		}
		b, err := hex.DecodeString(blockHex)
		if err != nil {
			return fmt.Errorf("getblock %s: hex: %w", hash, err)
		}
		var block wire.MsgBlock
		if err := block.Deserialize(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("getblock %s: decode: %w", hash, err)
		}
		cb := block.Transactions[0]
		for i, out := range cb.TxOut {
			if bytes.Equal(out.PkScript, n.pkScript) && out.Value > 0 {
				n.wallet.coins = append(n.wallet.coins, coin{
					op:       wire.OutPoint{Hash: cb.TxHash(), Index: uint32(i)},
					value:    out.Value,
					coinbase: true,
				})
			}
		}
	}
	return nil
}

// usable reports whether a coin can be spent now (alive and mature) and
// whether it still exists at all. The caller holds walletMu.
func (n *Node) usable(ctx context.Context, c coin) (usable, alive bool, err error) {
	if n.wallet.spent[c.op] {
		return false, false, nil
	}
	raw, err := n.Call(ctx, "gettxout", c.op.Hash.String(), c.op.Index, true)
	if err != nil {
		return false, false, err
	}
	if string(raw) == "null" {
		return false, false, nil
	}
	var out struct {
		Confirmations int64 `json:"confirmations"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return false, false, fmt.Errorf("gettxout %s answered %s: %w", c.op, abbreviate(raw), err)
	}
	if c.coinbase && out.Confirmations < coinbaseMaturity {
		return false, true, nil
	}
	return true, true, nil
}

// p2wpkhScript returns OP_0 <20-byte key hash>, the output script of addr.
func p2wpkhScript(addr *btcutil.AddressWitnessPubKeyHash) []byte {
	prog := addr.WitnessProgram()
	return append([]byte{txscript.OP_0, byte(len(prog))}, prog...)
}
