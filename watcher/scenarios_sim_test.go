package watcher_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/watcher"
)

// laggingProxy forwards JSON-RPC to upstream but answers "latest" as the block lag blocks
// below the real tip: a load-balanced or slower node.
func laggingProxy(t *testing.T, upstream string, latest func() uint64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var lag atomic.Int64
	rewrite := func(m map[string]any) {
		if m["method"] != "eth_getBlockByNumber" {
			return
		}
		if ps, ok := m["params"].([]any); ok && len(ps) > 0 && ps[0] == "latest" && lag.Load() > 0 {
			ps[0] = fmt.Sprintf("0x%x", latest()-uint64(lag.Load()))
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var one map[string]any
		var batch []map[string]any
		if json.Unmarshal(body, &one) == nil {
			rewrite(one)
			body, _ = json.Marshal(one)
		} else if json.Unmarshal(body, &batch) == nil {
			for _, m := range batch {
				rewrite(m)
			}
			body, _ = json.Marshal(batch)
		}
		resp, err := http.Post(upstream, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &lag
}

// Scenario 2 on the go-ethereum simulated backend: the follower switches to a node that
// answers one and then two blocks behind; nothing is rewound, removed or re-decided.
func TestScenario2LaggingNodeSimulatedBackend(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.step()
	id, opt := e.shop.invoice(t, "20.00", 1, "ETH")
	e.payETH(opt.Address, opt.AmountDue, true)
	e.commit(1)
	e.step()
	if s := e.shop.get(t, id).Invoice.Status; s != store.StatusSettled {
		t.Fatalf("invoice %s before the lag", s)
	}
	proxy, lag := laggingProxy(t, e.url, func() uint64 {
		n, err := e.client.BlockNumber(ctx)
		if err != nil {
			t.Error(err)
		}
		return n
	})
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: 1337, URLs: []string{proxy.URL},
		Tokens: []watcher.EthereumToken{{Code: "USDC", Contract: e.usdc, Decimals: 6}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	f := watcher.NewFollower(e.shop.st, src, e.shop.svc, watcher.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, l := range []int64{1, 2} {
		lag.Store(l)
		if n, err := f.Step(ctx); err != nil || n != 0 {
			t.Fatalf("lag %d: applied %d, err %v", l, n, err)
		}
	}
	d := e.shop.get(t, id)
	if d.Invoice.Status != store.StatusSettled || len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentConfirmed {
		t.Fatalf("after the lagging node: %s %+v", d.Invoice.Status, d.Payments)
	}
	evs, err := e.shop.svc.Events(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == invoices.EventInvalid || ev.Type == invoices.EventReorged {
			t.Fatalf("event %s after a node answered behind", ev.Type)
		}
	}
	lag.Store(0)
	e.commit(1)
	if n, err := f.Step(ctx); err != nil || n != 1 {
		t.Fatalf("after catching up: applied %d, err %v", n, err)
	}
}

// Scenario 3 on the go-ethereum simulated backend: a one-block reorg takes the paying
// transaction out, and the new branch mines it again a block later; the invoice never goes
// invalid and settles.
func TestScenario3ReminedAfterReorgSimulatedBackend(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.step()
	id, opt := e.shop.invoice(t, "20.00", 3, "ETH")
	e.commit(1)
	fork, err := e.src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := e.client.PendingNonceAt(ctx, evmAddr(e.payer))
	if err != nil {
		t.Fatal(err)
	}
	a := common.HexToAddress(opt.Address)
	tx := e.sign(e.payer, &nonce, &a, opt.AmountDue, nil, 1)
	e.commit(1)
	e.step()
	if s := e.shop.get(t, id).Invoice.Status; s != store.StatusProcessing {
		t.Fatalf("invoice %s before the reorg", s)
	}
	if err := e.backend.Fork(common.HexToHash(fork.Hash)); err != nil {
		t.Fatal(err)
	}
	// The new branch: one block (the pool may or may not offer the transaction again at
	// once), then the transaction mined again, then blocks for its confirmations.
	e.commit(2)
	e.step()
	if err := e.client.SendTransaction(ctx, tx); err != nil && !strings.Contains(err.Error(), "already known") &&
		!strings.Contains(err.Error(), "nonce too low") {
		t.Fatalf("resend: %v", err)
	}
	e.commit(4)
	e.step()
	d := e.shop.get(t, id)
	if d.Invoice.Status != store.StatusSettled || len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentConfirmed {
		t.Fatalf("after the re-mine: %s %+v", d.Invoice.Status, d.Payments)
	}
	evs, err := e.shop.svc.Events(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if slices.Contains(types, invoices.EventInvalid) || slices.Contains(types, invoices.EventReorged) {
		t.Fatalf("events %v: the invoice left its rightful state", types)
	}
}

// With several EVM endpoints the source follows the one furthest ahead: a first endpoint
// that answers two blocks behind never makes the tip go backwards.
func TestEthereumTipFollowsNodeFurthestAhead(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	e.commit(3)
	proxy, lag := laggingProxy(t, e.url, func() uint64 {
		n, err := e.client.BlockNumber(ctx)
		if err != nil {
			t.Error(err)
		}
		return n
	})
	lag.Store(2)
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: 1337,
		URLs: []string{proxy.URL, e.url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	want, err := e.client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := src.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(tip.Height) != want {
		t.Fatalf("tip %d from two nodes, the furthest is at %d", tip.Height, want)
	}
}
