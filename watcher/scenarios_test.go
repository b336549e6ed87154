package watcher_test

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/watcher"
)

// The nine chain-semantics scenarios of issue 19, each the story it tells, on SQLite and
// Postgres, with every store closure run twice (newFakeEnvOn wraps the store in
// storetest.RetryTwice). Expiry is t0+15m; the monitoring window ends t0+24h15m.

// onBackends runs a scenario on each store backend, with the follower matching every
// transfer in the store (the BitcoinSource's path) and on its watch-list path (a
// watcher.Watcher source: the EthereumSource's).
func onBackends(t *testing.T, confirmations int, scenario func(t *testing.T, e *fakeEnv)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		for _, watchList := range []bool{false, true} {
			name := b.Name + "/store-matched"
			if watchList {
				name = b.Name + "/watch-list"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newFakeEnvMode(t, b.Open(t), confirmations, watchList)
				scenario(t, e)
				e.verifyBooks()
			})
		}
	}
}

// verifyBooks checks the books invariant (DESIGN §6) over everything the scenario did:
// every payment's records, as enqueued by the settler, match what its state requires.
func (e *fakeEnv) verifyBooks() {
	e.t.Helper()
	diffs, err := ledger.VerifyEnqueued(ctx, e.shop.st, "")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range diffs {
		e.t.Errorf("books: %+v", d)
	}
	e.t.Logf("ledger verify: %d differences", len(diffs))
}

// neverHad fails when the invoice's events include any of the given types.
func (e *fakeEnv) neverHad(id string, types ...string) {
	e.t.Helper()
	evs := e.events(id)
	for _, typ := range types {
		if slices.Contains(evs, typ) {
			e.t.Fatalf("invoice %s emitted %s: events %v", id, typ, evs)
		}
	}
}

// withFollower replaces the env's follower with one configured by cfg (a restart).
func (e *fakeEnv) withFollower(cfg watcher.Config) {
	cfg.Now, cfg.Logger = e.clock.Now, quiet()
	e.f = watcher.NewFollower(e.shop.st, e.source(), e.shop.svc, cfg)
}

// Scenario 1: a zero-value output to a deposit address (and in the mempool) is skipped and
// counted; the block still applies and other payments in it are recorded.
func TestScenario1ZeroValueOutputDoesNotStopFollower(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		var mu sync.Mutex
		var skipped []string
		e.withFollower(watcher.Config{Skipped: func(r string) { mu.Lock(); skipped = append(skipped, r); mu.Unlock() }})
		dust, od := e.invoice("25.00")
		paid, op := e.invoice("30.00")
		e.chain.setPool(pay("tx-zero-pool", od, big.NewInt(0)))
		e.step()
		e.chain.mine(t0.Add(time.Minute), pay("tx-zero", od, big.NewInt(0)), pay("tx-neg", od, big.NewInt(-5)),
			pay("tx-ok", op, op.AmountDue))
		e.step()
		e.want(paid, invoices.StatusSettled)
		e.want(dust, invoices.StatusNew)
		if d := e.get(dust); len(d.Payments) != 0 {
			t.Fatalf("unstorable transfers stored: %+v", d.Payments)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(skipped) < 3 {
			t.Fatalf("skipped %v, want the zero mempool output, the zero and the negative output counted", skipped)
		}
		var c store.Cursor
		_ = e.shop.st.View(ctx, func(tx store.Tx) (err error) { c, err = tx.Cursor(ctx, "bitcoin"); return })
		if c.Height != e.chain.tip().Height {
			t.Fatalf("cursor %d, tip %d: the follower stopped", c.Height, e.chain.tip().Height)
		}
	})
}

// Scenario 2: an EVM node that answers a block or two behind is waited for: nothing is
// rewound or removed, no invoice changes, and following resumes when it catches up.
func TestScenario2LaggingNodeIsNotAReorg(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		e.chain.noMempool = true
		settled, o1 := e.invoice("25.00")
		processing, o2 := e.invoice("30.00")
		e.chain.mine(t0.Add(time.Minute), pay("tx-1", o1, o1.AmountDue))
		e.step()
		e.want(settled, invoices.StatusSettled)
		e.withFollower(watcher.Config{}) // confirmations are per invoice: 1 here
		e.chain.mine(t0.Add(2*time.Minute), pay("tx-2", o2, o2.AmountDue))
		e.step()
		before := e.events(settled)
		for lag := 1; lag <= 2; lag++ {
			e.chain.lag = lag
			if n := e.step(); n != 0 {
				t.Fatalf("lag %d: applied %d blocks", lag, n)
			}
		}
		e.want(settled, invoices.StatusSettled)
		e.want(processing, invoices.StatusSettled)
		for _, id := range []string{settled, processing} {
			for _, p := range e.get(id).Payments {
				if p.Status != store.PaymentConfirmed {
					t.Fatalf("payment %s is %s after the node answered behind", p.TxID, p.Status)
				}
			}
			e.neverHad(id, invoices.EventInvalid, invoices.EventReorged)
		}
		if got := e.events(settled); !slices.Equal(got, before) {
			t.Fatalf("events changed while the node lagged: %v → %v", before, got)
		}
		e.chain.lag = 0
		e.chain.mine(t0.Add(3 * time.Minute))
		if n := e.step(); n != 1 {
			t.Fatalf("applied %d after the node caught up, want 1", n)
		}
	})
}

// Scenario 3: a real one-block EVM reorg whose transaction is mined again one block later:
// the payment stays pending in between and the invoice never leaves its rightful state.
func TestScenario3ReorgedTransactionMinedAgain(t *testing.T) {
	t.Parallel()
	onBackends(t, 2, func(t *testing.T, e *fakeEnv) {
		e.chain.noMempool = true
		id, o := e.invoice("25.00")
		fork := e.chain.tip().Height
		p := pay("tx-a", o, o.AmountDue)
		e.chain.mine(t0.Add(time.Minute), p)
		e.step()
		e.want(id, invoices.StatusProcessing)
		e.chain.fork(fork)
		e.chain.mine(t0.Add(time.Minute)) // the other block at the same height, without tx-a
		e.step()
		d := e.want(id, invoices.StatusProcessing)
		if d.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("orphaned payment %+v, want pending", d.Payments[0])
		}
		e.chain.mine(t0.Add(2*time.Minute), p) // mined again one block later
		e.chain.mine(t0.Add(3 * time.Minute))
		e.step()
		e.want(id, invoices.StatusSettled)
		e.neverHad(id, invoices.EventInvalid, invoices.EventReorged)
	})
}

// Scenario 4: a follower that is far behind judges each block by its own time: an invoice
// paid in a block before expiry settles, and a processing invoice is not declared invalid
// during a catch-up longer than its monitoring window.
func TestScenario4CatchUpJudgesByBlockTime(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		expiring, o1 := e.invoice("25.00")
		monitored, o2 := e.invoice("30.00")
		e.chain.setPool(pay("tx-2", o2, o2.AmountDue))
		e.step()
		e.want(monitored, invoices.StatusProcessing)
		// The follower is down for two days; the chain goes on.
		for i := range 10 {
			e.chain.mine(t0.Add(time.Duration(i+1) * time.Minute))
		}
		e.chain.mine(t0.Add(12*time.Minute), pay("tx-1", o1, o1.AmountDue))
		for i := range 20 {
			e.chain.mine(t0.Add(time.Duration(13+i) * time.Minute))
		}
		e.chain.mine(t0.Add(20*time.Hour), pay("tx-2", o2, o2.AmountDue))
		e.chain.mine(t0.Add(47 * time.Hour))
		e.clock.set(t0.Add(48 * time.Hour))
		e.withFollower(watcher.Config{})
		e.step()
		e.want(expiring, invoices.StatusSettled)
		e.want(monitored, invoices.StatusSettled)
		e.neverHad(expiring, invoices.EventExpired, invoices.EventPaidLate)
		e.neverHad(monitored, invoices.EventInvalid)
	})
}

// Scenario 5: an outage longer than expiry plus the monitoring window: the restarted
// follower still watches the invoices that were monitored when the missed blocks were made.
func TestScenario5OutageLongerThanMonitoringWindow(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		id, o := e.invoice("25.00")
		e.chain.mine(t0.Add(10*time.Minute), pay("tx-a", o, o.AmountDue))
		for i := range 5 {
			e.chain.mine(t0.Add(time.Duration(30+i) * time.Hour))
		}
		e.clock.set(t0.Add(36 * time.Hour))
		e.withFollower(watcher.Config{}) // a new process: the watch list is loaded afresh
		e.step()
		d := e.want(id, invoices.StatusSettled)
		if len(d.Payments) != 1 || d.Payments[0].Status != store.PaymentConfirmed {
			t.Fatalf("payments %+v, want the one made during the outage", d.Payments)
		}
		e.neverHad(id, invoices.EventExpired, invoices.EventPaidLate)
	})
}

// Scenario 6: a payment broadcast in time and fee-bumped (RBF, same spent outpoint) after
// expiry stays in time: the replacement keeps the first sighting time.
func TestScenario6FeeBumpAfterExpiry(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		id, o := e.invoice("25.00")
		first := pay("tx-a", o, o.AmountDue)
		first.Spends = []string{"funding:0"}
		e.chain.setPool(first)
		e.step()
		e.want(id, invoices.StatusProcessing)
		e.clock.set(t0.Add(40 * time.Minute)) // after expiry
		bump := pay("tx-b", o, o.AmountDue)
		bump.Spends = []string{"funding:0"}
		e.chain.setPool(bump)
		e.step()
		e.step()
		d := e.want(id, invoices.StatusProcessing)
		e.neverHad(id, invoices.EventInvalid, invoices.EventPaidLate)
		for _, p := range d.Payments {
			if p.TxID == "tx-b" && p.SeenAt.After(d.Invoice.ExpiresAt) {
				t.Fatalf("replacement seen at %v, after expiry %v", p.SeenAt, d.Invoice.ExpiresAt)
			}
		}
		e.chain.mine(t0.Add(41*time.Minute), bump)
		e.step()
		e.want(id, invoices.StatusSettled)
		e.neverHad(id, invoices.EventInvalid, invoices.EventPaidLate, invoices.EventExpired)
		if slices.Contains(e.get(id).Invoice.Flags, string(invoices.FlagPaidLate)) {
			t.Fatal("a fee bump of an in-time payment is not late")
		}
	})
}

// Scenario 7: the Bitcoin source reports every mempool output to an address in each
// snapshot, from a cache (a transaction is fetched once), with the node's first-seen time;
// the follower matches an option created after the transaction was first seen
// (TestMempoolMatchesLaterOption).
func TestScenario7MempoolCache(t *testing.T) {
	t.Parallel()
	params := &chaincfg.RegressionNetParams
	addr, err := btcutil.NewAddressWitnessPubKeyHash(make([]byte, 20), params)
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{1}, Index: 3}, nil, nil))
	tx.AddTxOut(wire.NewTxOut(12345, script))
	tx.AddTxOut(wire.NewTxOut(0, script))                // a zero-value output too: the follower skips it
	tx.AddTxOut(wire.NewTxOut(0, []byte{0x6a, 1, 0x2a})) // OP_RETURN: no address, not reported
	firstSeen := t0.Add(-time.Minute)
	node := &poolNode{txs: map[chainhash.Hash]*wire.MsgTx{tx.TxHash(): tx}, seen: firstSeen}
	src, err := watcher.NewBitcoinSource(node, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := src.Mempool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Amount.Int64() != 12345 || got[0].Address != addr.EncodeAddress() || got[1].Index != 1 ||
			!got[0].SeenAt.Equal(firstSeen) || got[0].TxID != tx.TxHash().String() ||
			!slices.Equal(got[0].Spends, []string{wire.OutPoint{Hash: chainhash.Hash{1}, Index: 3}.String()}) {
			t.Fatalf("snapshot: %+v", got)
		}
	}
	if node.fetches != 1 {
		t.Fatalf("fetched the transaction %d times, want once (the cache keeps its transfers)", node.fetches)
	}
}

// poolNode is a BitcoinNode with a mempool and no blocks.
type poolNode struct {
	txs     map[chainhash.Hash]*wire.MsgTx
	seen    time.Time
	fetches int
}

func (n *poolNode) TipHeight(context.Context) (int64, chainhash.Hash, error) {
	return 0, chainhash.Hash{}, nil
}
func (n *poolNode) BlockHash(context.Context, int64) (chainhash.Hash, error) {
	return chainhash.Hash{}, fmt.Errorf("no blocks")
}
func (n *poolNode) Block(context.Context, chainhash.Hash) (*wire.MsgBlock, error) {
	return nil, fmt.Errorf("no blocks")
}
func (n *poolNode) MempoolTxIDs(context.Context) ([]chainhash.Hash, error) {
	var out []chainhash.Hash
	for id := range n.txs {
		out = append(out, id)
	}
	return out, nil
}
func (n *poolNode) MempoolTimes(context.Context) (map[chainhash.Hash]time.Time, error) {
	out := map[chainhash.Hash]time.Time{}
	for id := range n.txs {
		out[id] = n.seen
	}
	return out, nil
}
func (n *poolNode) RawTransaction(_ context.Context, id chainhash.Hash) (*wire.MsgTx, error) {
	n.fetches++
	return n.txs[id], nil
}

// Scenario 7, through the follower: a mempool transaction the node saw before expiry but
// the follower first reads after it keeps the node's time and pays in time.
func TestScenario7NodeFirstSeenTimeDecides(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		id, o := e.invoice("25.00")
		p := pay("tx-a", o, o.AmountDue)
		p.SeenAt = t0.Add(10 * time.Minute) // the node's first-seen time, before expiry
		e.chain.setPool(p)
		e.clock.set(t0.Add(30 * time.Minute)) // the follower reads it after expiry
		e.step()
		e.want(id, invoices.StatusProcessing)
		e.neverHad(id, invoices.EventExpired, invoices.EventPaidLate)
	})
}

// Scenario 8: follower closures are retry-safe: with every closure run twice, one mempool
// snapshot without a payment still counts once (it is removed after the second).
func TestScenario8RetriedClosureCountsOnce(t *testing.T) {
	t.Parallel()
	onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
		id, o := e.invoice("25.00")
		e.chain.setPool(pay("tx-a", o, o.AmountDue))
		e.step()
		e.chain.setPool()
		e.step()
		if d := e.want(id, invoices.StatusProcessing); d.Payments[0].Status != store.PaymentMempool {
			t.Fatalf("one missing snapshot counted twice: %+v", d.Payments[0])
		}
		e.step()
		e.want(id, invoices.StatusInvalid)
	})
}

// Scenario 9: a payment still unconfirmed when the monitoring window ends makes the invoice
// invalid for now; mined later, it settles it. The same for one evicted from our node's
// mempool (removed) and mined later.
func TestScenario9LateConfirmationRestoresSettlement(t *testing.T) {
	t.Parallel()
	t.Run("unconfirmed at the end of the window", func(t *testing.T) {
		onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
			id, o := e.invoice("25.00")
			p := pay("tx-a", o, o.AmountDue)
			e.chain.setPool(p)
			e.step()
			e.want(id, invoices.StatusProcessing)
			e.chain.mine(t0.Add(25 * time.Hour)) // a block after the window, without it
			e.clock.set(t0.Add(25 * time.Hour))
			e.step()
			e.want(id, invoices.StatusInvalid)
			e.chain.mine(t0.Add(26*time.Hour), p)
			e.clock.set(t0.Add(26 * time.Hour))
			e.step()
			e.want(id, invoices.StatusSettled)
		})
	})
	t.Run("evicted and mined later", func(t *testing.T) {
		onBackends(t, 1, func(t *testing.T, e *fakeEnv) {
			id, o := e.invoice("25.00")
			p := pay("tx-a", o, o.AmountDue)
			e.chain.setPool(p)
			e.step()
			e.chain.setPool() // evicted from our node's mempool
			e.step()
			e.step()
			d := e.want(id, invoices.StatusInvalid)
			if d.Payments[0].Status != store.PaymentRemoved {
				t.Fatalf("payment %+v, want removed", d.Payments[0])
			}
			e.chain.mine(t0.Add(5*time.Minute), p) // another node's miner had it
			e.step()
			e.want(id, invoices.StatusSettled)
		})
	})
}
