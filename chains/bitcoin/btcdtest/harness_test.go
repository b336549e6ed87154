package btcdtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

func TestStartMineRestart(t *testing.T) {
	t.Parallel()
	n := Start(t)
	if got := n.TipHeight(t); got != 0 {
		t.Fatalf("fresh regtest tip = %d, want 0", got)
	}
	hashes := n.Mine(t, 3)
	if len(hashes) != 3 {
		t.Fatalf("Mine(3) returned %d hashes", len(hashes))
	}
	if got := n.TipHeight(t); got != 3 {
		t.Fatalf("tip after mining 3 = %d", got)
	}
	var best string
	if err := json.Unmarshal(n.Call(t, "getbestblockhash"), &best); err != nil || best != hashes[2].String() {
		t.Fatalf("best block %q (err %v), want last mined %s", best, err, hashes[2])
	}

	url := n.RPCURL()
	n.Stop()
	n.Stop() // idempotent
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := n.TryCall(ctx, "getblockcount"); err == nil {
		t.Fatal("RPC answered after Stop")
	}

	n.Restart(t)
	if n.RPCURL() != url {
		t.Fatalf("Restart changed the endpoint: %s -> %s", url, n.RPCURL())
	}
	// Observed behaviour documented in doc.go: btcd wipes regtest on start.
	if got := n.TipHeight(t); got != 0 {
		t.Fatalf("tip after restart = %d, want 0 (btcd wipes regtest data on start)", got)
	}
}

func TestPayAndInvalidate(t *testing.T) {
	t.Parallel()
	n := Start(t)
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	dest, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), n.Params())
	if err != nil {
		t.Fatal(err)
	}
	destScript, err := txscript.PayToAddrScript(dest)
	if err != nil {
		t.Fatal(err)
	}

	// Two payments in a row: the second spends the first one's change or
	// another coinbase, both must be accepted.
	txid1 := n.Pay(t, dest, 123_456)
	txid2 := n.Pay(t, dest, 7_000)
	var mempool []string
	if err := json.Unmarshal(n.Call(t, "getrawmempool"), &mempool); err != nil {
		t.Fatal(err)
	}
	if !containsAll(mempool, txid1.String(), txid2.String()) {
		t.Fatalf("mempool %v lacks %s and %s", mempool, txid1, txid2)
	}

	blocks := n.Mine(t, 1)
	block := getBlock(t, n, blocks[0])
	found := map[chainhash.Hash]int64{}
	for _, tx := range block.Transactions {
		for _, out := range tx.TxOut {
			if bytes.Equal(out.PkScript, destScript) {
				found[tx.TxHash()] = out.Value
			}
		}
	}
	if found[txid1] != 123_456 || found[txid2] != 7_000 {
		t.Fatalf("block outputs to dest = %v, want %s:123456 and %s:7000", found, txid1, txid2)
	}

	// Reorg: invalidating the block returns the chain to the previous tip.
	before := n.TipHeight(t)
	n.InvalidateBlock(t, blocks[0])
	if got := n.TipHeight(t); got != before-1 {
		t.Fatalf("tip after invalidateblock = %d, want %d", got, before-1)
	}
	// The wallet still pays after the reorg (forgetting the orphaned coinbase).
	n.Pay(t, dest, 50_000)
	n.Mine(t, 2)
	if got := n.TipHeight(t); got != before+1 {
		t.Fatalf("tip after re-mining = %d, want %d", got, before+1)
	}
}

func TestFindBtcdFailsWithToolsHint(t *testing.T) {
	t.Setenv("CHAINPAY_TOOLS_BIN", t.TempDir())
	t.Setenv("CHAINPAY_TOOLS_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", t.TempDir())
	_, err := findBtcd()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("./scripts/tools.sh")) {
		t.Fatalf("findBtcd error = %v, want one naming ./scripts/tools.sh", err)
	}
}

func getBlock(t *testing.T, n *Node, h chainhash.Hash) *wire.MsgBlock {
	t.Helper()
	var s string
	if err := json.Unmarshal(n.Call(t, "getblock", h.String(), 0), &s); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return &block
}

func containsAll(list []string, want ...string) bool {
	set := map[string]bool{}
	for _, s := range list {
		set[s] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}
