package btcdtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

const (
	// SegwitHeight is the tip height the harness mines to before its first
	// payment. Measured on btcd v0.24.2 regtest: at tip 430 sendrawtransaction
	// rejects witness spends ("segwit isn't active yet"), at tip 431 it accepts
	// them (block 432 is the first under segwit rules); 432 keeps a margin.
	SegwitHeight = 432
	// coinbaseMaturity is the number of confirmations a coinbase needs.
	coinbaseMaturity = 100
	// feeRate is the fee the harness pays, in satoshi per virtual byte; btcd's
	// default minimum relay fee is 1.
	feeRate = 2
	// dustLimit is the smallest change output the harness creates.
	dustLimit = 1000
)

// wallet tracks coins owned by the harness key. Coins are verified against the
// node (gettxout) before they are spent, so reorgs and restarts only cost a
// lookup; spent marks outpoints the harness already spent in the mempool,
// which gettxout does not reflect for confirmed outputs.
type wallet struct {
	mined   []chainhash.Hash // blocks mined to the harness key, not yet scanned
	coins   []coin
	spent   map[wire.OutPoint]bool
	scanned int // number of mined blocks already scanned for coinbases
}

type coin struct {
	op       wire.OutPoint
	value    int64
	coinbase bool
}

func (w *wallet) reset() {
	*w = wallet{spent: make(map[wire.OutPoint]bool)}
}

// Fund makes sure the harness can pay: it mines the chain up to SegwitHeight
// (so P2WPKH coinbases are spendable) when it is shorter. Pay and Send call it
// themselves; call it directly to move the mining out of the measured part of
// a test.
func (n *Node) Fund(t testing.TB) {
	t.Helper()
	if err := n.fund(); err != nil {
		t.Fatalf("btcdtest: fund: %v", err)
	}
}

func (n *Node) fund() error {
	raw, err := n.TryCall(context.Background(), "getblockcount")
	if err != nil {
		return err
	}
	var tip int64
	if err := json.Unmarshal(raw, &tip); err != nil {
		return fmt.Errorf("getblockcount answered %s: %w", abbreviate(raw), err)
	}
	if tip < SegwitHeight {
		if _, err := n.mine(int(SegwitHeight - tip)); err != nil {
			return err
		}
	}
	return nil
}

// Pay sends sats satoshi to address in a transaction signed by the harness key,
// broadcasts it with sendrawtransaction and returns its id. Change goes back to
// the harness. The transaction stays in the mempool until the test mines.
func (n *Node) Pay(t testing.TB, address btcutil.Address, sats int64) chainhash.Hash {
	t.Helper()
	script, err := txscript.PayToAddrScript(address)
	if err != nil {
		t.Fatalf("btcdtest: pay to %s: %v", address, err)
	}
	tx := n.Send(t, wire.NewTxOut(sats, script))
	return tx.TxHash()
}

// Send broadcasts a transaction with the given outputs (plus change to the
// harness), signed by the harness key, and returns it.
func (n *Node) Send(t testing.TB, outputs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx, err := n.send(outputs)
	if errors.Is(err, errNoFunds) {
		// Every mature coinbase is spent: mature some more and retry once.
		if _, err = n.mine(coinbaseMaturity); err == nil {
			tx, err = n.send(outputs)
		}
	}
	if err != nil {
		t.Fatalf("btcdtest: send: %v", err)
	}
	return tx
}

func (n *Node) send(outputs []*wire.TxOut) (*wire.MsgTx, error) {
	if len(outputs) == 0 {
		return nil, errors.New("no outputs")
	}
	var want int64
	for i, o := range outputs {
		if o.Value <= 0 {
			return nil, fmt.Errorf("output %d: value %d must be positive", i, o.Value)
		}
		want += o.Value
	}
	if err := n.fund(); err != nil {
		return nil, err
	}
	return n.spend(outputs)
}

// spend builds, signs and broadcasts a transaction paying outputs from the
// harness coins, assuming fund has already run.
func (n *Node) spend(outputs []*wire.TxOut) (*wire.MsgTx, error) {
	var want int64
	for _, o := range outputs {
		want += o.Value
	}
	n.walletMu.Lock()
	defer n.walletMu.Unlock()
	if err := n.scanCoinbases(); err != nil {
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
		usable, alive, err := n.usable(c)
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
		tx.AddTxIn(wire.NewTxIn(&c.op, nil, nil))
		prev[c.op] = wire.NewTxOut(c.value, n.pkScript)
		have += c.value
		fee = feeRate * estimateVSize(len(tx.TxIn), len(tx.TxOut)+1)
	}
	n.wallet.coins = kept
	if have < want+fee {
		return nil, fmt.Errorf("%w: need %d sat, have %d", errNoFunds, want+fee, have)
	}
	change := have - want - fee
	changeIndex := -1
	if change >= dustLimit {
		changeIndex = len(tx.TxOut)
		tx.AddTxOut(wire.NewTxOut(change, n.pkScript))
	}

	fetcher := txscript.NewMultiPrevOutFetcher(prev)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, in := range tx.TxIn {
		wit, err := txscript.WitnessSignature(tx, hashes, i, prev[in.PreviousOutPoint].Value,
			n.pkScript, txscript.SigHashAll, n.key, true)
		if err != nil {
			return nil, fmt.Errorf("sign input %d: %w", i, err)
		}
		in.Witness = wit
	}

	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serialize: %w", err)
	}
	raw, err := n.TryCall(context.Background(), "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
	if err != nil {
		return nil, err
	}
	txid := tx.TxHash()
	var got string
	if err := json.Unmarshal(raw, &got); err != nil || got != txid.String() {
		return nil, fmt.Errorf("sendrawtransaction answered %s, want txid %s", abbreviate(raw), txid)
	}
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

// estimateVSize over-estimates the virtual size of a transaction with P2WPKH
// inputs and outputs of at most P2WSH/P2TR size.
func estimateVSize(inputs, outputs int) int64 {
	return int64(11 + 69*inputs + 43*outputs)
}

// scanCoinbases records the coinbase outputs of mined blocks that pay the
// harness. The caller holds walletMu.
func (n *Node) scanCoinbases() error {
	for ; n.wallet.scanned < len(n.wallet.mined); n.wallet.scanned++ {
		hash := n.wallet.mined[n.wallet.scanned]
		raw, err := n.TryCall(context.Background(), "getblock", hash.String(), 0)
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
func (n *Node) usable(c coin) (usable, alive bool, err error) {
	if n.wallet.spent[c.op] {
		return false, false, nil
	}
	raw, err := n.TryCall(context.Background(), "gettxout", c.op.Hash.String(), c.op.Index, true)
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
