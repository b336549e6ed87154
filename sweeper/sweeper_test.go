package sweeper_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/goleak"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/sweeper"
)

// TestSweepByBalanceWhateverStatus: a partial payment to an expired invoice, a payment to
// a cancelled one, a settled one and ETH sent to a USDC-only invoice all end in the
// treasury, in one batched transaction that is marked confirmed and booked only once it
// has the confirmations.
func TestSweepByBalanceWhateverStatus(t *testing.T) {
	t.Parallel()
	e := setup(t)
	expired := e.invoice("inv_expired", store.StatusExpired, false, "ETH", "USDC")
	cancelled := e.invoice("inv_cancelled", store.StatusInvalid, false, "ETH", "USDC")
	settled := e.invoice("inv_settled", store.StatusSettled, true, "ETH", "USDC")
	usdcOnly := e.invoice("inv_usdc_only", store.StatusNew, true, "USDC")
	e.invoice("inv_unpaid", store.StatusNew, true, "ETH", "USDC")
	e.pay(expired, 0, 1_000_000)
	e.pay(cancelled, 1e15, 2_000_000)
	e.pay(settled, 0, 5_000_000)
	e.pay(usdcOnly, 3e15, 0)
	wantWei, wantUnits := big.NewInt(4e15), big.NewInt(8_000_000)
	s := e.service(nil)
	gasBefore := e.balance(s.Address())

	res := e.round(s)
	if len(res.Sent) != 1 || res.Read != 5 {
		t.Fatalf("first round: read %d, sent %d sweeps, want 5 read and 1 batched sweep", res.Read, len(res.Sent))
	}
	if got := res.Sent[0].Addresses; len(got) != 4 || slices.Contains(got, ethereum.FormatAddress(e.deposit("inv_unpaid", e.treasury))) {
		t.Fatalf("swept %v, want the 4 paid forwarders", got)
	}
	// Mined (the treasury has the money) but not 3 deep: nothing is marked or booked yet,
	// and the balances still show as unswept.
	if e.tokenBalance(e.treasury).Cmp(wantUnits) != 0 {
		t.Fatalf("treasury USDC %s after the sweep was mined, want %s", e.tokenBalance(e.treasury), wantUnits)
	}
	if res := e.round(s); len(res.Finished) != 0 || len(e.open()) != 1 || len(e.feeRecords()) != 0 {
		t.Fatalf("at depth 1: finished %d, open %d, fee records %d; want 0, 1, 0", len(res.Finished), len(e.open()), len(e.feeRecords()))
	}
	if u := e.unswept(); u["USDC"].Cmp(wantUnits) != 0 || u["ETH"].Cmp(wantWei) != 0 {
		t.Fatalf("unswept before confirmation %v, want %s wei and %s units", u, wantWei, wantUnits)
	}
	done := e.settle(s)
	if len(done) != 1 || done[0].Status != store.SweepConfirmed {
		t.Fatalf("finished %+v, want one confirmed sweep", done)
	}
	if got := e.balance(e.treasury); got.Cmp(wantWei) != 0 {
		t.Fatalf("treasury ETH %s, want %s", got, wantWei)
	}
	for _, dep := range []common.Address{expired, cancelled, settled, usdcOnly} {
		if e.balance(dep).Sign() != 0 || e.tokenBalance(dep).Sign() != 0 {
			t.Fatalf("forwarder %s not emptied", dep.Hex())
		}
	}
	if u := e.unswept(); len(u) != 0 {
		t.Fatalf("unswept after the sweep: %v", u)
	}
	recs := e.feeRecords()
	rec, ok := recs[done[0].TxHash]
	if len(recs) != 1 || !ok {
		t.Fatalf("fee records %v, want one for %s", recs, done[0].TxHash)
	}
	if rec.ReportingCategory != ledger.CategoryFee || rec.Fee.Cmp(done[0].Fee) != 0 || rec.Gross.Sign() != 0 || rec.Chain.Confirmations < 3 {
		t.Fatalf("fee record %+v, want a fee of %s wei with 3 confirmations", rec, done[0].Fee)
	}
	// The sweeper key paid exactly the booked gas and nothing else.
	if got, want := e.balance(s.Address()), new(big.Int).Sub(gasBefore, done[0].Fee); got.Cmp(want) != 0 {
		t.Fatalf("sweeper balance %s, want %s", got, want)
	}
	t.Logf("one sweep of 4 forwarders (deploy + ETH/USDC): %d gas", *done[0].GasUsed)
}

// TestSecondPaymentAfterSweep: funds arriving after a sweep are swept again, as often as
// they come; ETH sent to a deployed forwarder goes straight to the treasury.
func TestSecondPaymentAfterSweep(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.invoice("inv_twice", store.StatusSettled, true, "ETH", "USDC")
	s := e.service(nil)
	e.pay(dep, 0, 5_000_000)
	if done := e.settle(s); len(done) != 1 {
		t.Fatalf("first sweep: %+v", done)
	}
	e.pay(dep, 2e15, 7_000_000)
	if got := e.balance(e.treasury); got.Cmp(big.NewInt(2e15)) != 0 {
		t.Fatalf("ETH to a deployed forwarder: treasury has %s, want it forwarded on receipt", got)
	}
	if done := e.settle(s); len(done) != 1 || done[0].Status != store.SweepConfirmed {
		t.Fatalf("second sweep: %+v", done)
	}
	if got := e.tokenBalance(e.treasury); got.Cmp(big.NewInt(12_000_000)) != 0 {
		t.Fatalf("treasury USDC %s, want both payments (12000000)", got)
	}
	if n := len(e.feeRecords()); n != 2 {
		t.Fatalf("%d fee records, want one per sweep (2)", n)
	}
	if res := e.round(s); len(res.Sent) != 0 {
		t.Fatalf("nothing left, yet %d sweeps sent", len(res.Sent))
	}
}

// TestBelowThresholdWaits: a balance worth less than MinValueMultiple × its sweep's gas
// waits (visible as unswept) until it grows.
func TestBelowThresholdWaits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.invoice("inv_dust", store.StatusExpired, true, "ETH", "USDC")
	s := e.service(func(c *sweeper.Config) { c.MinValueMultiple = 10 })
	e.pay(dep, 1e12, 0)
	for range 3 {
		if res := e.round(s); len(res.Sent) != 0 || !slices.Equal(res.Waiting, []string{ethereum.FormatAddress(dep)}) {
			t.Fatalf("dust: sent %d, waiting %v", len(res.Sent), res.Waiting)
		}
	}
	if u := e.unswept(); u["ETH"].Cmp(big.NewInt(1e12)) != 0 {
		t.Fatalf("unswept %v, want the waiting 1e12 wei visible", u)
	}
	e.pay(dep, 1e16, 0)
	if done := e.settle(s); len(done) != 1 {
		t.Fatalf("grown balance: %+v", done)
	}
	if got, want := e.balance(e.treasury), big.NewInt(1e16+1e12); got.Cmp(want) != 0 {
		t.Fatalf("treasury %s, want %s", got, want)
	}
	// A token below the threshold waits too when its price is known.
	dep2 := e.invoice("inv_dust_usdc", store.StatusExpired, true, "USDC")
	priced := e.service(func(c *sweeper.Config) {
		c.Worth = func(_ context.Context, code string, amount *big.Int) (*big.Int, bool) {
			return new(big.Int).Mul(amount, big.NewInt(1e9)), code == "USDC" // 1 unit = 1 gwei
		}
	})
	e.pay(dep2, 0, 1000)
	if res := e.round(priced); len(res.Sent) != 0 || len(res.Waiting) != 1 {
		t.Fatalf("priced token dust: sent %d, waiting %v", len(res.Sent), res.Waiting)
	}
}

// TestFlushUnconfiguredToken: a token chainpay is not configured for is invisible to the
// rounds and flushed on request, per invoice or for every forwarder.
func TestFlushUnconfiguredToken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.invoice("inv_dai_a", store.StatusSettled, true, "USDC")
	b := e.invoice("inv_dai_b", store.StatusExpired, false, "USDC")
	tabi := bindings.NewTestToken()
	for _, dep := range []common.Address{a, b} {
		e.mustSend(e.payer, &e.dai, nil, tabi.PackTransfer(dep, ether(3)))
	}
	e.pay(a, 0, 1_000_000)
	s := e.service(nil)
	e.settle(s)
	if e.daiBalance(a).Cmp(ether(3)) != 0 || e.tokenBalance(a).Sign() != 0 {
		t.Fatal("rounds must sweep the configured token and leave the unconfigured one")
	}
	stop := e.mining()
	defer stop()
	out, err := s.Flush(ctx, e.dai, "inv_dai_b")
	if err != nil {
		t.Fatal(err)
	}
	if out.Holding != 1 || len(out.Sweeps) != 1 || out.Sweeps[0].Status != store.SweepConfirmed {
		t.Fatalf("flush of one invoice: %+v", out)
	}
	if e.daiBalance(b).Sign() != 0 || e.daiBalance(a).Cmp(ether(3)) != 0 || e.daiBalance(e.treasury).Cmp(ether(3)) != 0 {
		t.Fatal("flush of inv_dai_b moved the wrong funds")
	}
	out, err = s.Flush(ctx, e.dai, "")
	if err != nil {
		t.Fatal(err)
	}
	if out.Holding != 1 || e.daiBalance(a).Sign() != 0 || e.daiBalance(e.treasury).Cmp(ether(6)) != 0 {
		t.Fatalf("flush of all: %+v, treasury DAI %s", out, e.daiBalance(e.treasury))
	}
	if n := len(e.feeRecords()); n != 3 {
		t.Fatalf("%d fee records, want 3 (one sweep, two flushes)", n)
	}
}

// TestReorgedSweepRetried: a sweep mined and then reorged out is not confirmed on the
// orphaned block; the node mines it again on the new branch, and it is confirmed and
// booked once, with the new branch's block.
func TestReorgedSweepRetried(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.invoice("inv_reorg", store.StatusSettled, true, "USDC")
	e.pay(dep, 0, 5_000_000)
	s := e.service(nil)
	head, err := e.client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := e.round(s) // sent and mined in the next block
	if len(res.Sent) != 1 || e.tokenBalance(e.treasury).Cmp(big.NewInt(5_000_000)) != 0 {
		t.Fatalf("sweep not mined: %+v", res)
	}
	first := res.Sent[0]
	r, err := e.client.TransactionReceipt(ctx, common.HexToHash(first.TxHash))
	if err != nil {
		t.Fatal(err)
	}
	orphan := r.BlockHash
	if res := e.round(s); len(res.Finished) != 0 {
		t.Fatalf("finished at depth 2 of 3: %+v", res.Finished)
	}
	// Reorg: a longer branch from before the sweep.
	if err := e.backend.Fork(head.Hash()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.backend.Commit()
	}
	done := e.settle(s)
	if len(done) != 1 || done[0].TxHash != first.TxHash || done[0].Status != store.SweepConfirmed {
		t.Fatalf("finished %+v, want the sweep confirmed on the new branch", done)
	}
	canon, err := e.client.HeaderByNumber(ctx, big.NewInt(*done[0].BlockNumber))
	if err != nil {
		t.Fatal(err)
	}
	if done[0].BlockHash == orphan.Hex() || done[0].BlockHash != canon.Hash().Hex() {
		t.Fatalf("confirmed in block %s, want the canonical %s (not the orphaned %s)", done[0].BlockHash, canon.Hash().Hex(), orphan.Hex())
	}
	if e.tokenBalance(e.treasury).Cmp(big.NewInt(5_000_000)) != 0 || e.tokenBalance(dep).Sign() != 0 {
		t.Fatal("the treasury does not hold the sweep after the reorg")
	}
	if recs := e.feeRecords(); len(recs) != 1 || recs[first.TxHash].Chain.BlockHash != canon.Hash().Hex() {
		t.Fatalf("fee records %v: want one, on the canonical block", recs)
	}
}

// TestDroppedSweepRetried: a sweep whose nonce another transaction took (replaced in the
// pool, or reorged out with its nonce used on the new branch) is never confirmed or
// booked; it is dropped and the forwarder, still holding the funds, is swept again.
func TestDroppedSweepRetried(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.invoice("inv_dropped", store.StatusExpired, true, "USDC")
	e.pay(dep, 0, 5_000_000)
	s := e.service(nil)
	res, err := s.SweepOnce(ctx) // sent, not mined
	if err != nil || len(res.Sent) != 1 {
		t.Fatalf("first round: %+v, %v", res, err)
	}
	first := res.Sent[0]
	self := s.Address()
	tx, err := types.SignNewTx(e.gasKey, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: uint64(first.Nonce), GasTipCap: big.NewInt(50e9), GasFeeCap: big.NewInt(500e9),
		Gas: 21_000, To: &self})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	e.backend.Commit()
	if e.tokenBalance(e.treasury).Sign() != 0 {
		t.Fatal("the sweep was mined; the replacement should have taken its nonce")
	}
	done := e.settle(s)
	if len(done) != 2 || done[0].TxHash != first.TxHash || done[0].Status != store.SweepDropped ||
		done[1].Status != store.SweepConfirmed {
		t.Fatalf("finished %+v, want the first dropped and a new one confirmed", done)
	}
	if e.tokenBalance(e.treasury).Cmp(big.NewInt(5_000_000)) != 0 || e.tokenBalance(dep).Sign() != 0 {
		t.Fatal("the retried sweep did not reach the treasury")
	}
	recs := e.feeRecords()
	if _, ok := recs[first.TxHash]; ok || len(recs) != 1 {
		t.Fatalf("fee records %v: want only the confirmed retry booked", recs)
	}
}

// TestNotDerivedForwarderIsLeftAlone: a forwarder row naming another treasury than the
// one its address was derived for (a tampered row) is never swept: the factory would
// deploy and flush another, empty address, paying gas for nothing, round after round.
func TestNotDerivedForwarderIsLeftAlone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.addWallet("sto_tampered", e.attacker)
	dep := e.invoiceIn("sto_tampered", w, e.deposit("inv_tampered", e.treasury), "inv_tampered", store.StatusSettled, true, "USDC")
	e.pay(dep, 0, 5_000_000)
	s := e.service(nil)
	res := e.round(s)
	if len(res.Sent) != 0 || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, sweeper.ErrNotDerived) {
		t.Fatalf("tampered forwarder: %+v", res)
	}
	if e.tokenBalance(dep).Cmp(big.NewInt(5_000_000)) != 0 || e.tokenBalance(e.attacker).Sign() != 0 {
		t.Fatal("funds moved")
	}
}

// TestRevertingForwarderIsSplitOut: a treasury that refuses ETH (a contract without
// receive) makes the flush of a forwarder holding ETH revert; the batch is split, the
// others are swept and the bad one is reported and skipped.
func TestRevertingForwarderIsSplitOut(t *testing.T) {
	t.Parallel()
	e := setup(t)
	refuser := e.usdc // the token contract has no receive function
	w := e.addWallet("sto_refuser", refuser)
	var bad common.Address
	for i, id := range []string{"inv_r0", "inv_r1", "inv_bad", "inv_r3"} {
		dep := e.invoiceIn("sto_refuser", w, e.deposit(id, refuser), id, store.StatusSettled, true, "ETH", "USDC")
		if id == "inv_bad" {
			bad = dep
			e.pay(dep, 1e15, 0)
		} else {
			e.pay(dep, 0, int64(1_000_000*(i+1)))
		}
	}
	s := e.service(nil)
	res := e.round(s)
	if len(res.Failed) != 1 || res.Failed[0].InvoiceID != "inv_bad" || !errors.Is(res.Failed[0].Err, sweeper.ErrReverted) {
		t.Fatalf("failures %+v, want inv_bad reverting", res.Failed)
	}
	e.settle(s)
	if got := e.tokenBalance(refuser); got.Cmp(big.NewInt(1_000_000+2_000_000+4_000_000)) != 0 {
		t.Fatalf("destination got %s units, want 7000000", got)
	}
	if e.balance(bad).Cmp(big.NewInt(1e15)) != 0 {
		t.Fatal("the reverting forwarder's ETH moved")
	}
	if res := e.round(s); len(res.Sent) != 0 || len(res.Failed) != 0 {
		t.Fatalf("within RetryAfter: %+v, want nothing attempted", res)
	}
}

// TestSweepGasFigures measures what the gas constants that price the threshold stand for,
// and checks they are not below the real cost nor more than twice it.
func TestSweepGasFigures(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := e.service(nil)
	// The treasury exists and holds USDC already: the first payment's account and storage
	// creation is a one-time cost, not a forwarder's.
	e.pay(e.treasury, 1, 1)
	cases := []struct {
		name              string
		wei, units        int64
		deployed          bool
		native            bool
		tokens            int
		prepaid, prepaidU int64
	}{
		{name: "deploy + ETH", wei: 1e16, native: true},
		{name: "deploy + USDC", units: 1_000_000, tokens: 1},
		{name: "deploy + ETH + USDC", wei: 1e16, units: 1_000_000, native: true, tokens: 1},
		{name: "deployed + USDC", units: 1_000_000, tokens: 1, deployed: true, prepaidU: 1_000_000},
	}
	for i, c := range cases {
		id := "inv_gas_" + string(rune('a'+i))
		dep := e.invoice(id, store.StatusSettled, true, "ETH", "USDC")
		if c.deployed {
			e.pay(dep, 0, c.prepaidU)
			e.settle(s)
		}
		e.pay(dep, c.wei, c.units)
		done := e.settle(s)
		if len(done) != 1 {
			t.Fatalf("%s: %+v", c.name, done)
		}
		got := uint64(*done[0].GasUsed)
		est := ethereum.SweepGasBase + ethereum.ForwarderSweepGas(c.deployed, c.native, c.tokens)
		t.Logf("%s: %d gas used, estimate %d", c.name, got, est)
		if est < got || est > 2*got {
			t.Errorf("%s: estimate %d for %d gas used: outside [1, 2] × used", c.name, est, got)
		}
	}
}

// TestOneSweeperPerChain: with several replicas, only the lease holder sweeps.
func TestOneSweeperPerChain(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.invoice("inv_lease", store.StatusSettled, true, "USDC")
	e.pay(dep, 0, 5_000_000)
	a := e.service(func(c *sweeper.Config) { c.Holder = "replica-a" })
	b := e.service(func(c *sweeper.Config) { c.Holder = "replica-b" })
	if res := e.round(a); len(res.Sent) != 1 {
		t.Fatalf("holder: %+v", res)
	}
	for range 3 {
		if res := e.round(b); res.Read != 0 || len(res.Sent) != 0 || len(res.Finished) != 0 {
			t.Fatalf("second replica swept: %+v", res)
		}
	}
	if done := e.settle(a); len(done) != 1 || done[0].Status != store.SweepConfirmed {
		t.Fatalf("holder settles: %+v", done)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	good := sweeper.Config{Client: e.client, Store: e.st, Chain: "ethereum", Factory: e.factory, ChainID: 1337, Key: e.gasKey}
	for name, mut := range map[string]func(*sweeper.Config){
		"no client":    func(cfg *sweeper.Config) { cfg.Client = nil },
		"no store":     func(cfg *sweeper.Config) { cfg.Store = nil },
		"no chain":     func(cfg *sweeper.Config) { cfg.Chain = "" },
		"no factory":   func(cfg *sweeper.Config) { cfg.Factory = nil },
		"no chain id":  func(cfg *sweeper.Config) { cfg.ChainID = 0 },
		"no key":       func(cfg *sweeper.Config) { cfg.Key = nil },
		"negative":     func(cfg *sweeper.Config) { cfg.MaxBatch = -1 },
		"zero max fee": func(cfg *sweeper.Config) { cfg.MaxFeePerGas = new(big.Int) },
		"zero token":   func(cfg *sweeper.Config) { cfg.Tokens = []sweeper.Token{{Code: "USDC"}} },
		"dup token": func(cfg *sweeper.Config) {
			cfg.Tokens = []sweeper.Token{{Code: "A", Contract: e.usdc}, {Code: "B", Contract: e.usdc}}
		},
	} {
		cfg := good
		mut(&cfg)
		if _, err := sweeper.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := sweeper.New(good); err != nil {
		t.Fatal(err)
	}
}

func TestStartStop(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	// Runs last, after the backend closed. go-ethereum leaves a process-wide sender cache
	// and a leveldb pool drainer behind by design; they are not the Service's.
	t.Cleanup(func() {
		goleak.VerifyNone(t, ignore,
			goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
			goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
			goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
	})
	e := setup(t)
	dep := e.invoice("inv_loop", store.StatusExpired, true, "ETH")
	e.pay(dep, 1e16, 0)
	s := e.service(func(c *sweeper.Config) {
		c.Interval = 10 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	stop := e.mining()
	s.Start(ctx)
	s.Start(ctx) // no-op
	deadline := time.After(20 * time.Second)
	for len(e.feeRecords()) == 0 {
		select {
		case <-deadline:
			t.Fatal("loop did not sweep and confirm")
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.Stop()
	s.Stop()
	stop()
	if e.balance(e.treasury).Cmp(big.NewInt(1e16)) != 0 {
		t.Fatal("treasury not paid by the loop")
	}
}
