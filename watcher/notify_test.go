package watcher_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/goleak"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/bitcoin/btcdtest"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// signalStore calls after once each transaction has committed (in the committing goroutine).
type signalStore struct {
	store.Store
	after func()
}

func (s *signalStore) Tx(ctx context.Context, fn func(store.Tx) error) error {
	err := s.Store.Tx(ctx, fn)
	if err == nil && s.after != nil {
		s.after()
	}
	return err
}

// commitSignals wraps st so that every commit sends on the returned channel (coalesced).
func commitSignals(st store.Store) (*signalStore, <-chan struct{}) {
	ch := make(chan struct{}, 1)
	return &signalStore{Store: st, after: func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}}, ch
}

// awaitStatus waits, commit by commit, until the invoice has status (bounded by timeout).
func awaitStatus(t *testing.T, st store.Store, commits <-chan struct{}, id, status string, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		var inv store.Invoice
		if err := st.View(ctx, func(tx store.Tx) (err error) { inv, err = tx.GetInvoice(ctx, "", id); return }); err != nil {
			t.Fatal(err)
		}
		if inv.Status == status {
			return
		}
		select {
		case <-commits:
		case <-deadline.C:
			t.Fatalf("invoice %s is still %s after %s, want %s", id, inv.Status, timeout, status)
		}
	}
}

// chanNotifier is a Notifier the test drives: Subscribe hands out ch (closed when the
// subscription's context ends), or fails with err.
type chanNotifier struct {
	ch  chan struct{}
	err error
}

func (n *chanNotifier) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	if n.err != nil {
		return nil, n.err
	}
	out := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-n.ch:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// awaitCall waits for the fake chain to be asked method.
func awaitCall(t *testing.T, c *fakeChain, method string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.calls:
			if m == method {
				return
			}
		case <-deadline:
			t.Fatalf("the follower did not call %s", method)
		}
	}
}

// TestRunnerNotifications checks how the runner uses a notifier: it steps on a wake-up
// long before its poll interval, keeps polling when the notifier ends or cannot start, and
// leaves no goroutine behind. Not parallel: goleak needs the process to itself.
func TestRunnerNotifications(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, ignore,
			// Started by go-ethereum's core and leveldb packages for the dev chain, never stopped.
			goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
			goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"))
	})

	t.Run("wake-up steps at once", func(t *testing.T) {
		e := newFakeEnv(t, 1)
		e.chain.calls = make(chan string, 64)
		n := &chanNotifier{ch: make(chan struct{})}
		r := watcher.NewRunner(e.f, time.Hour, watcher.WithNotifier(n))
		r.Start(ctx)
		defer r.Stop()
		awaitCall(t, e.chain, "Mempool") // the first step runs at start
		id, o := e.invoice("25.00")
		e.chain.mine(t0.Add(time.Minute), pay("tx-a", o, o.AmountDue))
		n.ch <- struct{}{}
		awaitCall(t, e.chain, "Mempool") // a second step, an hour before the poll
		e.want(id, "settled")
		r.Stop()
		r.Stop() // idempotent
	})
	t.Run("notifier ends: polling goes on", func(t *testing.T) {
		e := newFakeEnv(t, 1)
		e.chain.calls = make(chan string, 64)
		n := &chanNotifier{ch: make(chan struct{})}
		close(n.ch)
		r := watcher.NewRunner(e.f, 5*time.Millisecond, watcher.WithNotifier(n))
		r.Start(ctx)
		defer r.Stop()
		for range 3 {
			awaitCall(t, e.chain, "Tip")
		}
	})
	t.Run("subscribe fails: polling only", func(t *testing.T) {
		e := newFakeEnv(t, 1)
		e.chain.calls = make(chan string, 64)
		r := watcher.NewRunner(e.f, 5*time.Millisecond, watcher.WithNotifier(&chanNotifier{err: errors.New("no websocket")}))
		r.Start(ctx)
		defer r.Stop()
		for range 3 {
			awaitCall(t, e.chain, "Tip")
		}
	})
	t.Run("btcd websocket, connection cut and restored", func(t *testing.T) {
		testBtcdNotifier(t)
	})
	t.Run("ethereum newHeads", func(t *testing.T) {
		testEthereumNotifier(t)
	})
}

// testBtcdNotifier follows a real btcd with a poll interval of an hour, so only btcd's
// websocket notifications can make the invoices settle. The websocket goes through a proxy
// that then cuts every connection: the notifier reconnects and the next block still wakes
// the runner.
func testBtcdNotifier(t *testing.T) {
	node := btcdtest.Start(t)
	node.Fund(t)
	st, commits := commitSignals(storetest.SQLite(t))
	s := newShop(t, st, 1)
	n, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: []string{node.RPCURL()}, Network: bitcoin.Regtest, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	src, err := watcher.NewBitcoinSource(n, bitcoin.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, node.RPCURL())
	notifier, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{proxy.url}, Ping: time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r := watcher.NewRunner(watcher.NewFollower(st, src, s.svc, watcher.Config{Logger: quiet()}), time.Hour, watcher.WithNotifier(notifier))
	r.Start(ctx)
	defer r.Stop()
	for round := range 2 {
		inv, opt := s.invoice(t, "12.00")
		node.Pay(t, addr(t, opt.Address), sats(t, opt))
		node.Mine(t, 1)
		awaitStatus(t, st, commits, inv.Invoice.ID, "settled", 20*time.Second)
		if round == 0 {
			proxy.setDown(true)
			proxy.setDown(false)
		}
	}
	r.Stop()
	proxy.setDown(true) // no idle proxied connection outlives the test
}

// testEthereumNotifier follows the in-process EVM dev chain (no block timer to speak of)
// with a poll interval of an hour: the newHeads subscription must wake the runner.
func testEthereumNotifier(t *testing.T) {
	c, err := devchain.Start(ctx, devchain.Config{Listen: "127.0.0.1:0", BlockEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop() }()
	st, commits := commitSignals(storetest.SQLite(t))
	s := newEVMShop(t, st, c.Factory(), devchain.ChainID, c.USDC())
	src, err := watcher.NewEthereumSource(ctx, watcher.EthereumConfig{Chain: "ethereum", ChainID: devchain.ChainID,
		URLs: []string{c.RPCURL()}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	notifier, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: []string{c.WSURL()}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r := watcher.NewRunner(watcher.NewFollower(st, src, s.svc, watcher.Config{Logger: quiet()}), time.Hour, watcher.WithNotifier(notifier))
	r.Start(ctx)
	defer r.Stop()
	for range 2 {
		id, o := s.invoice(t, "20.00", 1, "ETH")
		if _, err := c.PayETH(ctx, common.HexToAddress(o.Address), o.AmountDue); err != nil {
			t.Fatal(err)
		}
		awaitStatus(t, st, commits, id, "settled", 20*time.Second)
	}
}

// TestBtcdNotifierOnBitcoind: bitcoind's RPC port answers the websocket handshake with
// 405; the notifier gives up at once (closing its channel) instead of retrying forever.
func TestBtcdNotifierOnBitcoind(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "JSONRPC server handles only POST requests", http.StatusMethodNotAllowed)
			return
		}
	}))
	defer srv.Close()
	n, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{strings.Replace(srv.URL, "http://", "http://u:p@", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := n.Subscribe(cctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a wake-up from a node without notifications")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier keeps retrying a node without a websocket")
	}
}

func TestNotifierConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		new  func() error
		want string
	}{
		{"btcd no URL", func() error { _, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{}); return err }, "no node URL"},
		{"btcd bad scheme", func() error {
			_, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{"ftp://h:1"}})
			return err
		}, `scheme "ftp"`},
		{"btcd no host", func() error {
			_, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{"http://"}})
			return err
		}, "no host"},
		{"btcd negative ping", func() error {
			_, err := watcher.NewBtcdNotifier(watcher.BtcdNotifierConfig{URLs: []string{"http://h:1"}, Ping: -time.Second})
			return err
		}, "negative ping"},
		{"ethereum no URL", func() error { _, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{}); return err }, "no WebSocket URL"},
		{"ethereum http URL", func() error {
			_, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: []string{"http://user:secret@h:8545"}})
			return err
		}, `scheme "http" cannot subscribe`},
		{"ethereum no host", func() error {
			_, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: []string{"ws://"}})
			return err
		}, "no host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.new()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %v shows the URL's password", err)
			}
		})
	}
	// A subscription with an ended context starts nothing.
	n, err := watcher.NewEthereumNotifier(watcher.EthereumNotifierConfig{URLs: []string{"ws://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Subscribe(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe with an ended context: %v", err)
	}
}
