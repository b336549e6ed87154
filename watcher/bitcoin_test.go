package watcher_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// btcEnv is a real btcd regtest node, a store and a follower of the node.
type btcEnv struct {
	node *btcdtest.Node
	shop *shop
	f    *watcher.Follower
}

func newBTCEnv(t *testing.T, b storetest.Backend, confirmations int) *btcEnv {
	t.Helper()
	node := btcdtest.Start(t)
	node.Fund(t)
	st := b.Open(t)
	e := &btcEnv{node: node, shop: newShop(t, st, confirmations)}
	e.f = e.follower(t)
	return e
}

// follower builds a fresh follower on the same store, as a restarted process would.
func (e *btcEnv) follower(t *testing.T) *watcher.Follower {
	t.Helper()
	return e.followerAt(t, e.node.RPCURL())
}

func (e *btcEnv) followerAt(t *testing.T, rpcURL string) *watcher.Follower {
	t.Helper()
	n, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{rpcURL}, Network: bitcoin.Regtest, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src, err := watcher.NewBitcoinSource(n, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	return watcher.NewFollower(e.shop.st, src, e.shop.svc, watcher.Config{})
}

func (e *btcEnv) step(t *testing.T) {
	t.Helper()
	if _, err := e.f.Step(ctx); err != nil {
		t.Fatal(err)
	}
}

func addr(t *testing.T, s string) btcutil.Address {
	t.Helper()
	a, err := btcutil.DecodeAddress(s, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBitcoinPaymentMempoolToSettled(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newBTCEnv(t, b, 1)
			e.step(t) // cursor at the tip
			inv, opt := e.shop.invoice(t, "25.00")
			// Two partial payments adding up: the first leaves the invoice new + paid_partial.
			due := sats(t, opt)
			e.node.Pay(t, addr(t, opt.Address), due/3)
			e.step(t)
			d := e.shop.get(t, inv.Invoice.ID)
			if d.Invoice.Status != "new" || !slices.Contains(d.Invoice.Flags, "paid_partial") || len(d.Payments) != 1 ||
				d.Payments[0].Status != store.PaymentMempool {
				t.Fatalf("after a partial mempool payment: %+v %+v", d.Invoice, d.Payments)
			}
			rest := d.Paid.Remaining[opt.ID]
			if rest.Int64() != due-due/3 {
				t.Fatalf("remaining %s, want %d", rest, due-due/3)
			}
			e.node.Pay(t, addr(t, opt.Address), rest.Int64())
			e.step(t)
			if d = e.shop.get(t, inv.Invoice.ID); d.Invoice.Status != "processing" || len(d.Payments) != 2 {
				t.Fatalf("paid in full, unconfirmed: %s %v, %d payments", d.Invoice.Status, d.Invoice.Flags, len(d.Payments))
			}
			e.node.Mine(t, 1)
			e.step(t)
			d = e.shop.get(t, inv.Invoice.ID)
			if d.Invoice.Status != "settled" || d.Invoice.SettledAt == nil || slices.Contains(d.Invoice.Flags, "paid_partial") {
				t.Fatalf("after one confirmation: %+v", d.Invoice)
			}
			var total int64
			for _, p := range d.Payments {
				if p.Status != store.PaymentConfirmed || p.BlockHeight == nil {
					t.Fatalf("payment %+v", p)
				}
				total += p.Amount.Int64()
			}
			if total != due {
				t.Fatalf("payments add up to %d sats, want %d", total, due)
			}
			evs, err := e.shop.svc.Events(ctx, e.shop.mid, inv.Invoice.ID)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, ev := range evs {
				types = append(types, ev.Type)
			}
			// Each payment confirms once, in the block that settles the invoice, before it settles.
			want := "invoice.created,invoice.payment_received,invoice.payment_received,invoice.processing," +
				"invoice.payment_confirmed,invoice.payment_confirmed,invoice.settled"
			if got := fmt.Sprint(types); got != "["+stringsJoin(want)+"]" {
				t.Fatalf("events %v, want %s", types, want)
			}
		})
	}
}

func stringsJoin(s string) string {
	out := []byte(s)
	for i := range out {
		if out[i] == ',' {
			out[i] = ' '
		}
	}
	return string(out)
}

// TestBitcoinReorgs pays an invoice, buries the payment under depth-1 blocks, invalidates
// the payment's block and mines a longer branch (in which btcd mines the transaction again
// from its mempool). The follower must rewind to the common ancestor, keep exactly one
// payment row, move it to the new block and settle only when the new branch has enough
// confirmations.
func TestBitcoinReorgs(t *testing.T) {
	t.Parallel()
	e := newBTCEnv(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite}, 8)
	e.step(t)
	for depth := 1; depth <= 6; depth++ {
		inv, opt := e.shop.invoice(t, "10.00")
		e.node.Pay(t, addr(t, opt.Address), sats(t, opt))
		hashes := e.node.Mine(t, depth)
		e.step(t)
		before := e.shop.get(t, inv.Invoice.ID)
		if len(before.Payments) != 1 || *before.Payments[0].BlockHeight != e.node.TipHeight(t)-int64(depth)+1 {
			t.Fatalf("depth %d: before reorg %+v", depth, before.Payments)
		}
		e.node.InvalidateBlock(t, hashes[0])
		e.node.Mine(t, depth+1)
		e.step(t)
		after := e.shop.get(t, inv.Invoice.ID)
		if len(after.Payments) != 1 {
			t.Fatalf("depth %d: %d payment rows after the reorg", depth, len(after.Payments))
		}
		p := after.Payments[0]
		if p.Status != store.PaymentConfirmed || p.BlockHash == before.Payments[0].BlockHash || p.BlockHash == hashes[0].String() {
			t.Fatalf("depth %d: payment after reorg %+v (old block %s)", depth, p, before.Payments[0].BlockHash)
		}
		if got, want := e.node.TipHeight(t)-*p.BlockHeight+1, int64(depth+1); got != want {
			t.Fatalf("depth %d: payment has %d confirmations on the new branch, want %d", depth, got, want)
		}
		if after.Invoice.Status != "processing" {
			t.Fatalf("depth %d: invoice %s with %d of 8 confirmations", depth, after.Invoice.Status, depth+1)
		}
		e.node.Mine(t, 8-(depth+1))
		e.step(t)
		if s := e.shop.get(t, inv.Invoice.ID).Invoice.Status; s != "settled" {
			t.Fatalf("depth %d: %s after 8 confirmations", depth, s)
		}
		var c store.Cursor
		_ = e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return })
		if c.Height != e.node.TipHeight(t) {
			t.Fatalf("cursor %d, tip %d", c.Height, e.node.TipHeight(t))
		}
	}
}

// TestBitcoinRestartNoMissNoDuplicate stops following between blocks, lets blocks with
// payments arrive, and starts a new follower on the same store.
func TestBitcoinRestartNoMissNoDuplicate(t *testing.T) {
	t.Parallel()
	e := newBTCEnv(t, storetest.Backend{Name: "postgres", Open: storetest.Postgres}, 1)
	e.step(t)
	var ids []string
	for i := range 3 {
		inv, opt := e.shop.invoice(t, fmt.Sprintf("%d.00", i+1))
		ids = append(ids, inv.Invoice.ID)
		e.node.Pay(t, addr(t, opt.Address), sats(t, opt))
		e.node.Mine(t, 1)
		if i == 0 {
			e.step(t)
		}
	}
	// "Crash": drop the follower; a new one (a restarted process) continues from the cursor.
	e.f = e.follower(t)
	e.step(t)
	e.step(t)
	for _, id := range ids {
		d := e.shop.get(t, id)
		if d.Invoice.Status != "settled" || len(d.Payments) != 1 {
			t.Fatalf("%s: %s with %d payments", id, d.Invoice.Status, len(d.Payments))
		}
	}
}

// TestBitcoinNodeOutage cuts the connection to the node (a proxy in front of btcd stops
// forwarding) while a payment is mined: steps fail with an unreachable-node error and
// change nothing; once the node is reachable again the follower catches up and settles.
func TestBitcoinNodeOutage(t *testing.T) {
	t.Parallel()
	e := newBTCEnv(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite}, 1)
	proxy := newProxy(t, e.node.RPCURL())
	e.f = e.followerAt(t, proxy.url)
	e.step(t)
	inv, opt := e.shop.invoice(t, "3.00")
	proxy.setDown(true)
	e.node.Pay(t, addr(t, opt.Address), sats(t, opt))
	e.node.Mine(t, 2)
	for range 3 {
		_, err := e.f.Step(ctx)
		if err == nil || !errors.Is(err, bitcoin.ErrUnreachable) {
			t.Fatalf("step during the outage: %v, want ErrUnreachable", err)
		}
	}
	if d := e.shop.get(t, inv.Invoice.ID); d.Invoice.Status != "new" || len(d.Payments) != 0 {
		t.Fatalf("during the outage: %s, %d payments", d.Invoice.Status, len(d.Payments))
	}
	proxy.setDown(false)
	e.step(t)
	d := e.shop.get(t, inv.Invoice.ID)
	if d.Invoice.Status != "settled" || len(d.Payments) != 1 {
		t.Fatalf("after the outage: %s, %d payments", d.Invoice.Status, len(d.Payments))
	}
}

// proxy is a TCP forwarder in front of the node. While down it closes every connection at
// once (existing and new), as a dead or unreachable node would.
type proxy struct {
	url    string
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{target: u.Host, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	pu := &url.URL{Scheme: "http", Host: ln.Addr().String(), User: u.User}
	p.url = pu.String()
	return p
}

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *proxy) setDown(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = v
	if v {
		for c := range p.conns {
			c.Close()
		}
	}
}

// TestTwoFollowersOneLeader runs two followers of one chain on one Postgres: exactly one
// processes blocks; when it stops renewing its lease (its process died or lost the
// database), the other takes over and nothing is missed or doubled.
func TestTwoFollowersOneLeader(t *testing.T) {
	t.Parallel()
	e := newBTCEnv(t, storetest.Backend{Name: "postgres", Open: storetest.Postgres}, 1)
	mk := func(holder string) *watcher.Follower {
		n, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{e.node.RPCURL()}, Network: bitcoin.Regtest, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		src, err := watcher.NewBitcoinSource(n, bitcoin.Regtest)
		if err != nil {
			t.Fatal(err)
		}
		return watcher.NewFollower(e.shop.st, src, e.shop.svc, watcher.Config{Holder: holder, LeaseTTL: 5 * time.Second}) // generous: a busy CI machine
	}
	a, b := mk("replica-a"), mk("replica-b")
	if _, err := a.Step(ctx); err != nil {
		t.Fatal(err)
	}
	inv, opt := e.shop.invoice(t, "7.00")
	e.node.Pay(t, addr(t, opt.Address), sats(t, opt))
	e.node.Mine(t, 1)
	if _, err := b.Step(ctx); !errors.Is(err, watcher.ErrNotLeader) {
		t.Fatalf("standby stepped while the leader holds the lease: %v", err)
	}
	if d := e.shop.get(t, inv.Invoice.ID); len(d.Payments) != 0 {
		t.Fatal("the standby recorded a payment")
	}
	// The leader goes silent. The standby takes over once the lease expires (bounded wait).
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := b.Step(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, watcher.ErrNotLeader) || time.Now().After(deadline) {
			t.Fatalf("standby did not take over: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := a.Step(ctx); !errors.Is(err, watcher.ErrNotLeader) {
		t.Fatalf("the old leader came back and was not fenced out: %v", err)
	}
	d := e.shop.get(t, inv.Invoice.ID)
	if d.Invoice.Status != "settled" || len(d.Payments) != 1 {
		t.Fatalf("after fail-over: %s with %d payments", d.Invoice.Status, len(d.Payments))
	}
	// Graceful hand-over: releasing makes the other replica the leader at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Step(ctx); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// TestScenario6FeeBumpRealBtcd: on real btcd, a payment replaced by a fee bump (BIP 125,
// same inputs, built by the regtest wallet like a wallet's "bump fee") keeps the sighting
// time of the transaction it replaces; the invoice stays processing and settles on the
// replacement, never invalid.
func TestScenario6FeeBumpRealBtcd(t *testing.T) {
	t.Parallel()
	e := newBTCEnv(t, storetest.Backend{Name: "sqlite", Open: storetest.SQLite}, 1)
	e.step(t)
	inv, opt := e.shop.invoice(t, "7.00")
	script, err := txscript.PayToAddrScript(addr(t, opt.Address))
	if err != nil {
		t.Fatal(err)
	}
	orig := e.node.Send(t, wire.NewTxOut(sats(t, opt), script))
	e.step(t)
	d := e.shop.get(t, inv.Invoice.ID)
	if d.Invoice.Status != store.StatusProcessing || len(d.Payments) != 1 {
		t.Fatalf("before the bump: %s %+v", d.Invoice.Status, d.Payments)
	}
	firstSeen := d.Payments[0].SeenAt
	time.Sleep(1100 * time.Millisecond) // the node times first sightings in whole seconds
	bump := e.node.BumpFee(t, orig, 1000)
	e.step(t)
	e.step(t) // the original is missing from two snapshots: removed
	d = e.shop.get(t, inv.Invoice.ID)
	byTx := map[string]store.Payment{}
	for _, p := range d.Payments {
		byTx[p.TxID] = p
	}
	o, b := byTx[orig.TxHash().String()], byTx[bump.TxHash().String()]
	if o.Status != store.PaymentRemoved || b.Status != store.PaymentMempool || !b.SeenAt.Equal(firstSeen) {
		t.Fatalf("original %s, replacement %s seen %v (first sighting %v)", o.Status, b.Status, b.SeenAt, firstSeen)
	}
	if d.Invoice.Status != store.StatusProcessing {
		t.Fatalf("after the bump: %s", d.Invoice.Status)
	}
	e.node.Mine(t, 1)
	e.step(t)
	if s := e.shop.get(t, inv.Invoice.ID).Invoice.Status; s != store.StatusSettled {
		t.Fatalf("after mining the replacement: %s", s)
	}
	evs, err := e.shop.svc.Events(ctx, "", inv.Invoice.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == "invoice.invalid" || ev.Type == "invoice.paid_late" {
			t.Fatalf("event %s for a fee-bumped payment", ev.Type)
		}
	}
}
