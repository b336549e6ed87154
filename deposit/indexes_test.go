package deposit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// indexesStore opens a store of b with one merchant and its Bitcoin wallet.
func indexesStore(t *testing.T, b storetest.Backend) store.Store {
	t.Helper()
	ctx := context.Background()
	st := b.Open(t)
	w, err := bitcoin.ParseWallet(zpub, bitcoin.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_a", Name: "a", CreatedAt: now}); err != nil {
			return err
		}
		return tx.CreateWallet(ctx, store.Wallet{ID: "wal_a", MerchantID: "sto_a", Chain: "bitcoin", Network: "mainnet",
			Descriptor: w.Descriptor(), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// eachBackend runs fn in parallel on a fresh store of each backend (see indexesStore).
func eachBackend(t *testing.T, fn func(t *testing.T, ctx context.Context, st store.Store)) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, context.Background(), indexesStore(t, b))
		})
	}
}

// frozen is a clock at which every block lasts under a second: sizes 1, 2, 4, 8, ...
func frozen() time.Time { return time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC) }

func nextIndex(t *testing.T, st store.Store) uint32 {
	t.Helper()
	var ws []store.Wallet
	if err := st.View(context.Background(), func(tx store.Tx) (err error) { ws, err = tx.Wallets(context.Background(), "sto_a"); return }); err != nil {
		t.Fatal(err)
	}
	return ws[0].NextIndex
}

// TestIndexesTwoProcesses: two allocators on one database (two replicas), each with several
// goroutines, never hand out the same index; every index they hand out was reserved.
func TestIndexesTwoProcesses(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		procs := []*deposit.Indexes{deposit.NewIndexes(st, deposit.IndexesConfig{MaxBlock: 8}),
			deposit.NewIndexes(st, deposit.IndexesConfig{MaxBlock: 8})}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			byIx = map[uint32]int{}
		)
		for p, x := range procs {
			for range 4 {
				wg.Go(func() {
					for range 60 {
						i, err := x.Next(ctx, "wal_a")
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if q, dup := byIx[i]; dup {
							t.Errorf("index %d handed out twice (processes %d and %d)", i, q, p)
						}
						byIx[i] = p
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		next := nextIndex(t, st)
		for i := range byIx {
			if i >= next {
				t.Fatalf("index %d handed out but the wallet's next index is %d", i, next)
			}
		}
		if len(byIx) != 480 {
			t.Fatalf("%d indexes, want 480", len(byIx))
		}
	})
}

// TestIndexesCrashLosesOnlyIndexes: a process that stops without Close loses the rest of
// its block (a gap) and the next process never hands those indexes out.
func TestIndexesCrashLosesOnlyIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		clock := frozen
		a := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		var got []uint32
		for range 4 {
			i, err := a.Next(ctx, "wal_a")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, i)
		}
		if fmt.Sprint(got) != "[0 1 2 3]" || nextIndex(t, st) != 7 {
			t.Fatalf("handed out %v with next index %d, want [0 1 2 3] from blocks 0, 1-2, 3-6", got, nextIndex(t, st))
		}
		// a crashes: 4..6 are lost. b starts after them.
		bx := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		i, err := bx.Next(ctx, "wal_a")
		if err != nil || i != 7 {
			t.Fatalf("after a crash the next process hands out %d (%v), want 7", i, err)
		}
		// Closing b gives nothing back wrongly: its block is [7, 8), all used.
		if err := bx.Close(ctx); err != nil || nextIndex(t, st) != 8 {
			t.Fatalf("close: %v, next index %d, want 8", err, nextIndex(t, st))
		}
		if _, err := bx.Next(ctx, "wal_a"); !errors.Is(err, deposit.ErrIndexesClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	})
}

// TestIndexesCloseGivesTheTailBack: a clean stop returns the unused tail of the last block
// when nothing was reserved after it; with reservations after it, it returns nothing that
// was handed out.
func TestIndexesCloseGivesTheTailBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		clock := frozen
		a := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		for range 4 { // blocks 0, 1-2, 3-6: 4..6 unused
			if _, err := a.Next(ctx, "wal_a"); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(ctx); err != nil || nextIndex(t, st) != 4 {
			t.Fatalf("close: %v, next index %d, want 4", err, nextIndex(t, st))
		}
		// c reserves ahead in the background, d reserves too: whatever c can give back on
		// Close, nothing anyone handed out is handed out again.
		c := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		d := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		seen := map[uint32]bool{}
		for _, x := range []*deposit.Indexes{c, c, d, c} {
			i, err := x.Next(ctx, "wal_a")
			if err != nil {
				t.Fatal(err)
			}
			if seen[i] {
				t.Fatalf("index %d handed out twice", i)
			}
			seen[i] = true
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		e := deposit.NewIndexes(st, deposit.IndexesConfig{Now: clock})
		for _, x := range []*deposit.Indexes{e, d, e, d, e, d, e} {
			i, err := x.Next(ctx, "wal_a")
			if err != nil || seen[i] {
				t.Fatalf("after close, index %d (%v) handed out again: %v", i, err, seen)
			}
			seen[i] = true
		}
	})
}

// TestDiscardedDraftsGiveIndexesBack: drafts that were prepared but never committed (a
// replayed Idempotency-Key, a conflict) give their indexes to the next invoices, so retries
// open no gap in the merchant's wallet.
func TestDiscardedDraftsGiveIndexesBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		ix := deposit.NewIndexes(st, deposit.IndexesConfig{})
		svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)},
			Quoter: fixedQuoter{}, Indexes: ix})
		if err != nil {
			t.Fatal(err)
		}
		req := invoices.CreateRequest{Amount: "5.00", Currency: "USD"}
		for range 5 {
			d, err := svc.Prepare(ctx, "sto_a", req)
			if err != nil {
				t.Fatal(err)
			}
			d.Discard()
			d.Discard() // idempotent
		}
		seen := map[uint32]bool{}
		for range 3 {
			d, err := svc.Create(ctx, "sto_a", req)
			if err != nil {
				t.Fatal(err)
			}
			seen[*d.Options[0].DerivationIndex] = true
		}
		if !seen[0] || len(seen) != 3 {
			t.Fatalf("indexes after discarded drafts: %v, want three distinct ones starting at 0", seen)
		}
		for i := range seen {
			if i > 2 {
				t.Fatalf("index %d handed out while lower discarded ones were free: %v", i, seen)
			}
		}
	})
}

// TestStaleDraftIsRefused: a wallet added by another process between Prepare and CreateTx
// makes CreateTx refuse the draft, and Create prepares again and offers the new asset.
func TestStaleDraftIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)},
			Quoter: fixedQuoter{}})
		if err != nil {
			t.Fatal(err)
		}
		req := invoices.CreateRequest{Amount: "5.00", Currency: "USD", PaymentMethods: []string{"BTC"}}
		d, err := svc.Prepare(ctx, "sto_a", req)
		if err != nil {
			t.Fatal(err)
		}
		// Another process changes the store's settings (chainpay store set).
		if err := st.Tx(ctx, func(tx store.Tx) error {
			return tx.SetMerchantSettings(ctx, "sto_a", `{"max_amount":{"USD":"1.00"}}`)
		}); err != nil {
			t.Fatal(err)
		}
		err = st.Tx(ctx, func(tx store.Tx) error { _, err := svc.CreateTx(ctx, tx, d, nil); return err })
		if !errors.Is(err, invoices.ErrStaleDraft) {
			t.Fatalf("CreateTx of a stale draft: %v, want ErrStaleDraft", err)
		}
		var ve *invoices.ValidationError
		if _, err := svc.Create(ctx, "sto_a", req); !errors.As(err, &ve) || ve.Fields["amount"] == "" {
			t.Fatalf("create above the new maximum: %v, want a validation error on amount", err)
		}
	})
}

// TestRefusalRereadsSettings: a request the service's cached settings refuse is checked
// against the store's current settings before it is refused, so a maximum another process
// raised (chainpay store set, another replica) takes effect at once, on both backends
// (simulator invariant 7 found the refusal under stale settings).
func TestRefusalRereadsSettings(t *testing.T) {
	eachBackend(t, func(t *testing.T, ctx context.Context, st store.Store) {
		svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)},
			Quoter: fixedQuoter{}})
		if err != nil {
			t.Fatal(err)
		}
		setMax := func(usd string) {
			t.Helper()
			if err := st.Tx(ctx, func(tx store.Tx) error {
				return tx.SetMerchantSettings(ctx, "sto_a", `{"max_amount":{"USD":"`+usd+`"}}`)
			}); err != nil {
				t.Fatal(err)
			}
		}
		req := invoices.CreateRequest{Amount: "5.00", Currency: "USD"}
		setMax("1.00")
		var ve *invoices.ValidationError
		if _, err := svc.Prepare(ctx, "sto_a", req); !errors.As(err, &ve) || ve.Fields["amount"] == "" {
			t.Fatalf("prepare above the maximum: %v, want a validation error on amount", err)
		}
		setMax("100.00") // the service still has 1.00 cached
		d, err := svc.Prepare(ctx, "sto_a", req)
		if err != nil {
			t.Fatalf("prepare under the raised maximum: %v", err)
		}
		if err := st.Tx(ctx, func(tx store.Tx) error { _, err := svc.CreateTx(ctx, tx, d, nil); return err }); err != nil {
			t.Fatalf("create under the raised maximum: %v", err)
		}
		setMax("2.00") // lowered: the cache has 100.00 and the guard refuses what it prepared
		if _, err := svc.Create(ctx, "sto_a", req); !errors.As(err, &ve) || ve.Fields["amount"] == "" {
			t.Fatalf("create above the lowered maximum: %v, want a validation error on amount", err)
		}
	})
}
