package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// startMainnetBlockServer serves the real mainnet test block as getblock's
// verbosity-0 answer, the way bitcoind sends it (one JSON string of hex).
func startMainnetBlockServer(tb testing.TB) (url string, hash chainhash.Hash, raw []byte) {
	tb.Helper()
	raw = readMainnetBlock(tb)
	h, err := chainhash.NewHashFromStr(mainnetBlockHash)
	if err != nil {
		tb.Fatal(err)
	}
	prefix := []byte(`{"result":"` + hex.EncodeToString(raw) + `","error":null,"id":`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req nodeFakeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(prefix)
		_, _ = w.Write(req.ID)
		_, _ = w.Write([]byte("}"))
	}))
	tb.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "http://u:p@", 1), *h, raw
}

// TestNodeBlockMainnet fetches a real 1.38 MB mainnet block (2,500
// transactions, segwit) through the whole RPC path.
func TestNodeBlockMainnet(t *testing.T) {
	t.Parallel()
	url, hash, raw := startMainnetBlockServer(t)
	n, err := NewNode(NodeConfig{URLs: []string{url}, Network: Mainnet, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	block, err := n.Block(context.Background(), hash)
	if err != nil {
		t.Fatalf("Block: %v", err)
	}
	if block.BlockHash() != hash || len(block.Transactions) != 2500 {
		t.Fatalf("block %s with %d transactions, want %s with 2500", block.BlockHash(), len(block.Transactions), hash)
	}
	var buf bytes.Buffer
	if err := block.Serialize(&buf); err != nil || !bytes.Equal(buf.Bytes(), raw) {
		t.Fatalf("re-serialized block differs from the raw test block (err %v)", err)
	}
}

// BenchmarkNodeBlockMainnet compares fetching the real mainnet block through
// Node (HTTP, JSON, hex, wire decode, hash check) with the baseline of
// decoding the same raw bytes with wire alone.
func BenchmarkNodeBlockMainnet(b *testing.B) {
	url, hash, raw := startMainnetBlockServer(b)
	b.Run("wire-decode-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var block wire.MsgBlock
			if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("node-block", func(b *testing.B) {
		n, err := NewNode(NodeConfig{URLs: []string{url}, Network: Mainnet, Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := n.Block(context.Background(), hash); err != nil {
				b.Fatal(err)
			}
		}
	})
}
