package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// nodeFakeRequest is a decoded JSON-RPC request seen by a fake node.
type nodeFakeRequest struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// nodeFakeHandler answers one call with a result or an RPC error.
type nodeFakeHandler func(req nodeFakeRequest) (result any, rpcErr *RPCError)

// startNodeFake runs a JSON-RPC server that answers through h, counting requests.
func startNodeFake(t *testing.T, h nodeFakeHandler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		user, pass, ok := r.BasicAuth()
		if !ok || user != "u" || pass != "p" {
			http.Error(w, "401 Unauthorized.", http.StatusUnauthorized)
			return
		}
		var req nodeFakeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		result, rpcErr := h(req)
		resp := map[string]any{"result": result, "error": nil, "id": req.ID}
		if rpcErr != nil {
			resp["error"] = map[string]any{"code": rpcErr.Code, "message": rpcErr.Message}
			resp["result"] = nil
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// startNodeRaw runs a server that answers every request with status and body.
func startNodeRaw(t *testing.T, status int, contentType, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// startNodeHang runs a server that reads requests and never answers (until
// the test ends or the client goes away) and returns its URL.
func startNodeHang(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Drain the body so the server notices when the client disconnects.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs before s.Close
	return withCreds(s.URL)
}

// withCreds adds the fake's credentials to a server URL.
func withCreds(u string) string { return strings.Replace(u, "http://", "http://u:p@", 1) }

// deadURL returns a URL on which nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://u:p@" + addr
}

func newTestNode(t *testing.T, timeout time.Duration, urls ...string) *Node {
	t.Helper()
	n, err := NewNode(NodeConfig{URLs: urls, Network: Regtest, Timeout: timeout})
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// healthyNodeFake answers like an in-sync regtest node whose only block is
// the genesis block.
func healthyNodeFake(req nodeFakeRequest) (any, *RPCError) {
	genesis := chaincfg.RegressionNetParams.GenesisHash.String()
	switch req.Method {
	case "getblockhash":
		return genesis, nil
	case "getblockchaininfo":
		return map[string]any{"chain": "regtest", "blocks": 0, "headers": 0, "bestblockhash": genesis}, nil
	case "getblock":
		return nodeTestHex(chaincfg.RegressionNetParams.GenesisBlock), nil
	case "getrawmempool":
		return []string{}, nil
	}
	return nil, &RPCError{Code: -32601, Message: "Method not found"}
}

func nodeTestHex(v interface{ Serialize(io.Writer) error }) string {
	var buf bytes.Buffer
	if err := v.Serialize(&buf); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf.Bytes())
}

// nodeTestTx is a segwit transaction (one witness input, two outputs).
func nodeTestTx() *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	in := wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{1, 2, 3}, Index: 1}, nil, wire.TxWitness{{0x30, 0x44}, {0x02, 0x11}})
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(150_000, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0xab}, 20)...)))
	tx.AddTxOut(wire.NewTxOut(2_849_850, append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0xcd}, 20)...)))
	return tx
}

func TestNewNodeConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  NodeConfig
		want string
	}{
		{"no urls", NodeConfig{Network: Regtest}, "no node URLs"},
		{"unknown network", NodeConfig{URLs: []string{"http://h:1"}, Network: "bitcoin"}, "unknown bitcoin network"},
		{"bad scheme", NodeConfig{URLs: []string{"ftp://u:secret@h:1"}, Network: Regtest}, "scheme must be http or https"},
		{"missing host", NodeConfig{URLs: []string{"http://"}, Network: Regtest}, "missing host"},
		{"query", NodeConfig{URLs: []string{"http://h:1/?wallet=x"}, Network: Regtest}, "query and fragment"},
		{"unparsable", NodeConfig{URLs: []string{"http://u:secret@h:1/%zz"}, Network: Regtest}, "not a valid URL"},
		{"negative timeout", NodeConfig{URLs: []string{"http://h:1"}, Network: Regtest, Timeout: -time.Second}, "negative timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewNode(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewNode error = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

// TestNodeErrorForms checks that every kind of broken answer maps to its
// sentinel error, through TipHeight (the most common call).
func TestNodeErrorForms(t *testing.T) {
	t.Parallel()
	html := "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
	tests := []struct {
		name    string
		server  func(t *testing.T) string // returns the URL to use
		want    error
		wantMsg string
	}{
		{"garbage 200", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 200, "application/json", "this is not json")
			return withCreds(s.URL)
		}, ErrBadResponse, "not a JSON-RPC reply"},
		{"html 200", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 200, "text/html", html)
			return withCreds(s.URL)
		}, ErrBadResponse, "502 Bad Gateway"},
		{"html 502 from a proxy", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 502, "text/html", html)
			return withCreds(s.URL)
		}, ErrUnreachable, "HTTP 502"},
		{"503 without body", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 503, "text/plain", "")
			return withCreds(s.URL)
		}, ErrUnreachable, "HTTP 503"},
		{"wrong credentials", func(t *testing.T) string {
			s, _ := startNodeFake(t, healthyNodeFake)
			return strings.Replace(s.URL, "http://", "http://u:wrong@", 1)
		}, ErrUnauthorized, "HTTP 401"},
		{"404 html", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 404, "text/html", "<h1>Not Found</h1>")
			return withCreds(s.URL)
		}, ErrBadResponse, "HTTP 404"},
		{"wrong id", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 200, "application/json", `{"result":{"blocks":1},"error":null,"id":"other"}`)
			return withCreds(s.URL)
		}, ErrBadResponse, "does not match request id"},
		{"malformed error object", func(t *testing.T) string {
			s, _ := startNodeRaw(t, 500, "application/json", `{"result":null,"error":"boom","id":1}`)
			return withCreds(s.URL)
		}, ErrBadResponse, "malformed error object"},
		{"result of the wrong type", func(t *testing.T) string {
			s, _ := startNodeFake(t, func(nodeFakeRequest) (any, *RPCError) { return []int{1, 2}, nil })
			return withCreds(s.URL)
		}, ErrBadResponse, "getblockchaininfo"},
		{"best hash too short", func(t *testing.T) string {
			s, _ := startNodeFake(t, func(nodeFakeRequest) (any, *RPCError) {
				return map[string]any{"blocks": 5, "bestblockhash": "abcd"}, nil
			})
			return withCreds(s.URL)
		}, ErrBadResponse, "has 4 characters"},
		{"missing blocks", func(t *testing.T) string {
			s, _ := startNodeFake(t, func(nodeFakeRequest) (any, *RPCError) {
				return map[string]any{"bestblockhash": chaincfg.RegressionNetParams.GenesisHash.String()}, nil
			})
			return withCreds(s.URL)
		}, ErrBadResponse, "missing or negative blocks"},
		{"connection refused", deadURL, ErrUnreachable, "connection refused"},
		{"timeout", startNodeHang, ErrUnreachable, "no answer within 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := newTestNode(t, 200*time.Millisecond, tt.server(t))
			_, _, err := n.TipHeight(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("TipHeight error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("TipHeight error = %q, want it to mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), ":p@") || strings.Contains(err.Error(), ":wrong@") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestNodeRPCErrorIsNotFailedOver(t *testing.T) {
	t.Parallel()
	first, firstHits := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
		return nil, &RPCError{Code: -5, Message: "No information available about transaction"}
	})
	second, secondHits := startNodeFake(t, healthyNodeFake)
	n := newTestNode(t, time.Second, withCreds(first.URL), withCreds(second.URL))

	_, err := n.RawTransaction(context.Background(), chainhash.Hash{9})
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != -5 || rpcErr.Method != "getrawtransaction" {
		t.Fatalf("RawTransaction error = %v, want *RPCError -5 from getrawtransaction", err)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("RPC code -5 is not ErrNotFound: %v", err)
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrBadResponse) {
		t.Fatalf("RPC error misclassified: %v", err)
	}
	if firstHits.Load() != 1 || secondHits.Load() != 0 {
		t.Fatalf("hits first=%d second=%d, want 1 and 0 (an RPC error is an answer)", firstHits.Load(), secondHits.Load())
	}

	// Other codes are RPC errors too, but not ErrNotFound.
	third, _ := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
		return nil, &RPCError{Code: -8, Message: "Block height out of range"}
	})
	n = newTestNode(t, time.Second, withCreds(third.URL))
	_, err = n.BlockHash(context.Background(), 99)
	if !errors.As(err, &rpcErr) || rpcErr.Code != -8 || errors.Is(err, ErrNotFound) {
		t.Fatalf("BlockHash error = %v, want *RPCError -8 that is not ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "height 99") || !strings.Contains(err.Error(), "Block height out of range") {
		t.Fatalf("BlockHash error %q lacks context", err)
	}
}

func TestNodeFailover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		first func(t *testing.T) (string, *atomic.Int64)
	}{
		{"dead url", func(t *testing.T) (string, *atomic.Int64) { return deadURL(t), nil }},
		{"503", func(t *testing.T) (string, *atomic.Int64) {
			s, hits := startNodeRaw(t, 503, "text/html", "<h1>Service Unavailable</h1>")
			return withCreds(s.URL), hits
		}},
		{"garbage", func(t *testing.T) (string, *atomic.Int64) {
			s, hits := startNodeRaw(t, 200, "text/plain", "garbage")
			return withCreds(s.URL), hits
		}},
		{"wrong password", func(t *testing.T) (string, *atomic.Int64) {
			s, hits := startNodeFake(t, healthyNodeFake)
			return strings.Replace(s.URL, "http://", "http://u:nope@", 1), hits
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			firstURL, firstHits := tt.first(t)
			live, liveHits := startNodeFake(t, healthyNodeFake)
			n := newTestNode(t, time.Second, firstURL, withCreds(live.URL))
			ctx := context.Background()
			h, hash, err := n.TipHeight(ctx)
			if err != nil || h != 0 || hash != *chaincfg.RegressionNetParams.GenesisHash {
				t.Fatalf("TipHeight = %d, %s, %v; want 0, regtest genesis, nil", h, hash, err)
			}
			// The healthy endpoint is remembered: later calls go straight to it.
			for range 3 {
				if _, err := n.BlockHash(ctx, 0); err != nil {
					t.Fatalf("BlockHash after failover: %v", err)
				}
			}
			if firstHits != nil && firstHits.Load() != 1 {
				t.Fatalf("failed endpoint hit %d times, want 1", firstHits.Load())
			}
			if liveHits.Load() != 4 {
				t.Fatalf("live endpoint hit %d times, want 4", liveHits.Load())
			}
		})
	}
}

func TestNodeAllEndpointsFail(t *testing.T) {
	t.Parallel()
	garbage, _ := startNodeRaw(t, 200, "text/plain", "garbage")
	n := newTestNode(t, time.Second, deadURL(t), withCreds(garbage.URL))
	_, err := n.MempoolTxIDs(context.Background())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error = %v, want both ErrUnreachable and ErrBadResponse", err)
	}
	if !strings.Contains(err.Error(), "all 2 endpoints failed") {
		t.Fatalf("error = %q, want it to say all endpoints failed", err)
	}
}

func TestNodeCallerContextWins(t *testing.T) {
	t.Parallel()
	live, liveHits := startNodeFake(t, healthyNodeFake)
	n := newTestNode(t, 10*time.Second, startNodeHang(t), withCreds(live.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := n.TipHeight(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the caller's deadline", err)
	}
	if liveHits.Load() != 0 {
		t.Fatal("a call whose context ended went on to the next endpoint")
	}
}

func TestNodeCheck(t *testing.T) {
	t.Parallel()
	regGenesis := chaincfg.RegressionNetParams.GenesisHash.String()
	info := func(blocks, headers int, ibd bool) nodeFakeHandler {
		return func(req nodeFakeRequest) (any, *RPCError) {
			if req.Method == "getblockchaininfo" {
				return map[string]any{"blocks": blocks, "headers": headers, "bestblockhash": regGenesis, "initialblockdownload": ibd}, nil
			}
			return healthyNodeFake(req)
		}
	}
	mainnet := func(req nodeFakeRequest) (any, *RPCError) {
		if req.Method == "getblockhash" {
			return chaincfg.MainNetParams.GenesisHash.String(), nil
		}
		return healthyNodeFake(req)
	}
	tests := []struct {
		name     string
		handlers []nodeFakeHandler
		dead     bool // prepend an unreachable URL
		want     error
		wantMsg  []string
	}{
		{"healthy", []nodeFakeHandler{healthyNodeFake}, false, nil, nil},
		{"btcd without ibd field", []nodeFakeHandler{info(10, 10, false)}, false, nil, nil},
		{"one header ahead", []nodeFakeHandler{info(10, 11, false)}, false, nil, nil},
		{"wrong genesis", []nodeFakeHandler{mainnet}, false, ErrWrongNetwork,
			[]string{chaincfg.MainNetParams.GenesisHash.String(), "(mainnet)", regGenesis, "(regtest)"}},
		{"wrong genesis beside a healthy one", []nodeFakeHandler{healthyNodeFake, mainnet}, false, ErrWrongNetwork, []string{"mainnet"}},
		{"initial block download", []nodeFakeHandler{info(100, 100, true)}, false, ErrSyncing, []string{"initial block download"}},
		{"headers ahead", []nodeFakeHandler{info(100, 5000, false)}, false, ErrSyncing, []string{"blocks up to 100 but headers up to 5000"}},
		{"unreachable only", nil, true, ErrUnreachable, nil},
		{"unreachable then healthy", []nodeFakeHandler{healthyNodeFake}, true, nil, nil},
		{"syncing and unreachable", []nodeFakeHandler{info(1, 900, false)}, true, ErrSyncing, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var urls []string
			if tt.dead {
				urls = append(urls, deadURL(t))
			}
			for _, h := range tt.handlers {
				s, _ := startNodeFake(t, h)
				urls = append(urls, withCreds(s.URL))
			}
			n := newTestNode(t, time.Second, urls...)
			err := n.Check(context.Background())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				if tt.dead && n.rpc.active.Load() != 1 {
					t.Fatalf("Check did not prefer the healthy endpoint (active %d)", n.rpc.active.Load())
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("Check error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestNodeBlockAndTransactionDecoding(t *testing.T) {
	t.Parallel()
	genesis := chaincfg.RegressionNetParams.GenesisBlock
	genesisHash := genesis.BlockHash()
	tx := nodeTestTx()
	txid := tx.TxHash()
	tests := []struct {
		name    string
		result  any
		call    func(n *Node) error
		wantErr string // empty: success
	}{
		{"block", nodeTestHex(genesis), func(n *Node) error {
			b, err := n.Block(context.Background(), genesisHash)
			if err == nil && b.BlockHash() != genesisHash {
				t.Errorf("decoded block hash %s", b.BlockHash())
			}
			return err
		}, ""},
		{"block hash mismatch", nodeTestHex(chaincfg.MainNetParams.GenesisBlock), func(n *Node) error {
			_, err := n.Block(context.Background(), genesisHash)
			return err
		}, "asked for block " + genesisHash.String()},
		{"block not hex", "zz" + nodeTestHex(genesis), func(n *Node) error {
			_, err := n.Block(context.Background(), genesisHash)
			return err
		}, "not hex"},
		{"block truncated", nodeTestHex(genesis)[:100], func(n *Node) error {
			_, err := n.Block(context.Background(), genesisHash)
			return err
		}, "decode block"},
		{"block trailing bytes", nodeTestHex(genesis) + "00", func(n *Node) error {
			_, err := n.Block(context.Background(), genesisHash)
			return err
		}, "1 bytes after the block"},
		{"segwit tx", nodeTestHex(tx), func(n *Node) error {
			got, err := n.RawTransaction(context.Background(), txid)
			if err == nil && (got.TxHash() != txid || len(got.TxIn[0].Witness) != 2 || got.TxOut[0].Value != 150_000) {
				t.Errorf("decoded tx %+v", got)
			}
			return err
		}, ""},
		{"segwit tx hex with a JSON escape", json.RawMessage(`"\u00` + hex.EncodeToString([]byte(nodeTestHex(tx)[:1])) + nodeTestHex(tx)[1:] + `"`), func(n *Node) error {
			got, err := n.RawTransaction(context.Background(), txid)
			if err == nil && got.TxHash() != txid {
				t.Errorf("decoded tx %s", got.TxHash())
			}
			return err
		}, ""},
		{"tx id mismatch", nodeTestHex(tx), func(n *Node) error {
			_, err := n.RawTransaction(context.Background(), chainhash.Hash{7})
			return err
		}, "asked for " + chainhash.Hash{7}.String()},
		{"tx truncated", nodeTestHex(tx)[:40], func(n *Node) error {
			_, err := n.RawTransaction(context.Background(), txid)
			return err
		}, "decode transaction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
				if req.Method != "getblock" && req.Method != "getrawtransaction" {
					return nil, &RPCError{Code: -32601, Message: "Method not found"}
				}
				return tt.result, nil
			})
			err := tt.call(newTestNode(t, time.Second, withCreds(s.URL)))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want ErrBadResponse mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestNodeMempoolTxIDs(t *testing.T) {
	t.Parallel()
	a, b := chainhash.Hash{1}, chainhash.Hash{0xff, 2}
	tests := []struct {
		name    string
		result  any
		want    []chainhash.Hash
		wantErr string
	}{
		{"empty", []string{}, []chainhash.Hash{}, ""},
		{"two", []string{a.String(), b.String()}, []chainhash.Hash{a, b}, ""},
		{"short id", []string{a.String(), "abcd"}, nil, "entry 1"},
		{"non hex id", []string{strings.Repeat("g", 64)}, nil, "not hex"},
		{"verbose object", map[string]any{a.String(): map[string]any{}}, nil, "want an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
				if req.Method != "getrawmempool" || len(req.Params) != 0 {
					return nil, &RPCError{Code: -1, Message: "unexpected call"}
				}
				return tt.result, nil
			})
			got, err := newTestNode(t, time.Second, withCreds(s.URL)).MempoolTxIDs(context.Background())
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrBadResponse mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestNodeGetblockVerbosityType checks the switch between integer and boolean
// getblock verbosity against a node that only accepts a boolean, with the
// error message old btcd gives.
func TestNodeGetblockVerbosityType(t *testing.T) {
	t.Parallel()
	genesis := chaincfg.RegressionNetParams.GenesisBlock
	var (
		mu   sync.Mutex
		sent []string
	)
	s, hits := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
		if req.Method != "getblock" || len(req.Params) != 2 {
			return nil, &RPCError{Code: -1, Message: "unexpected call"}
		}
		mu.Lock()
		sent = append(sent, string(req.Params[1]))
		mu.Unlock()
		if string(req.Params[1]) != "false" {
			return nil, &RPCError{Code: -32602, Message: "parameter #2 'verbose' must be type bool (got float64)"}
		}
		return nodeTestHex(genesis), nil
	})
	n := newTestNode(t, time.Second, withCreds(s.URL))
	for range 2 {
		if _, err := n.Block(context.Background(), genesis.BlockHash()); err != nil {
			t.Fatalf("Block: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if hits.Load() != 3 || strings.Join(sent, ",") != "0,false,false" {
		t.Fatalf("sent verbosity %v in %d requests, want 0,false,false (switch once, remember)", sent, hits.Load())
	}

	// A node that rejects both forms ends with its error, after one retry.
	s2, hits2 := startNodeFake(t, func(req nodeFakeRequest) (any, *RPCError) {
		return nil, &RPCError{Code: -32602, Message: "parameter #2 must be type bool or int"}
	})
	_, err := newTestNode(t, time.Second, withCreds(s2.URL)).Block(context.Background(), genesis.BlockHash())
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) || hits2.Load() != 2 {
		t.Fatalf("Block = %v after %d requests, want an RPCError after 2", err, hits2.Load())
	}
}

func TestNodeBlockHashNegativeHeight(t *testing.T) {
	t.Parallel()
	s, hits := startNodeFake(t, healthyNodeFake)
	_, err := newTestNode(t, time.Second, withCreds(s.URL)).BlockHash(context.Background(), -1)
	if err == nil || !strings.Contains(err.Error(), "must not be negative") || hits.Load() != 0 {
		t.Fatalf("BlockHash(-1) = %v after %d requests, want a local error", err, hits.Load())
	}
}

// nodeFuzzTransport answers every request with a fixed status and body in
// which $ID is replaced by the request's id, without a network.
type nodeFuzzTransport struct {
	status int
	body   []byte
}

func (f nodeFuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var req nodeFakeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, err
	}
	body := bytes.ReplaceAll(f.body, []byte("$ID"), req.ID)
	return &http.Response{
		StatusCode: f.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(body)),
		Request:    r,
	}, nil
}

// FuzzNodeResponse feeds arbitrary answers to every Node call: none may
// panic, every error must be classified, and every success must be
// consistent with what was asked.
func FuzzNodeResponse(f *testing.F) {
	genesis := chaincfg.RegressionNetParams.GenesisBlock
	reply := func(result string) string { return `{"result":` + result + `,"error":null,"id":$ID}` }
	f.Add(200, reply(`"`+nodeTestHex(genesis)+`"`))
	f.Add(200, reply(`"`+nodeTestHex(nodeTestTx())+`"`))
	f.Add(200, reply(`"`+genesis.BlockHash().String()+`"`))
	f.Add(200, reply(`{"blocks":7,"headers":7,"bestblockhash":"`+genesis.BlockHash().String()+`"}`))
	f.Add(200, reply(`["`+genesis.BlockHash().String()+`"]`))
	f.Add(500, `{"result":null,"error":{"code":-5,"message":"Block not found"},"id":$ID}`)
	f.Add(502, "<html>bad gateway</html>")
	f.Add(200, `{"result":"zz","id":$ID}`)
	f.Add(200, `{"result":null,"error":{"code":"x"},"id":$ID}`)
	f.Add(401, "")
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			status = 200
		}
		n, err := NewNode(NodeConfig{
			URLs:       []string{"http://u:p@fuzz.invalid"},
			Network:    Regtest,
			HTTPClient: &http.Client{Transport: nodeFuzzTransport{status: status, body: []byte(body)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		want := genesis.BlockHash()
		classified := func(call string, err error) {
			var rpcErr *RPCError
			if err != nil && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrUnreachable) &&
				!errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrWrongNetwork) &&
				!errors.Is(err, ErrSyncing) && !errors.As(err, &rpcErr) {
				t.Fatalf("%s: unclassified error %v", call, err)
			}
		}
		h, _, err := n.TipHeight(ctx)
		classified("TipHeight", err)
		if err == nil && h < 0 {
			t.Fatalf("TipHeight returned negative height %d", h)
		}
		_, err = n.BlockHash(ctx, 3)
		classified("BlockHash", err)
		b, err := n.Block(ctx, want)
		classified("Block", err)
		if err == nil && b.BlockHash() != want {
			t.Fatalf("Block returned block %s for %s", b.BlockHash(), want)
		}
		ids, err := n.MempoolTxIDs(ctx)
		classified("MempoolTxIDs", err)
		if err != nil && ids != nil {
			t.Fatal("MempoolTxIDs returned ids with an error")
		}
		txid := nodeTestTx().TxHash()
		tx, err := n.RawTransaction(ctx, txid)
		classified("RawTransaction", err)
		if err == nil && tx.TxHash() != txid {
			t.Fatalf("RawTransaction returned %s for %s", tx.TxHash(), txid)
		}
		err = n.Check(ctx)
		classified("Check", err)
	})
}
