package deposit_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

type fixedQuoter struct{}

func (fixedQuoter) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{Rate: decimal.RequireFromString("60000"), Source: "fixed", At: time.Now(), Raw: "[]"}, nil
}

// BIP84 test vector account (mnemonic "abandon ... about"): chainpay holds only this zpub.
const zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"

// TestConcurrentAllocation creates 100 invoices at once through the real service and the
// real Bitcoin allocator: 100 distinct addresses from a dense index range 0..99, each equal
// to the wallet's own derivation at that index — on both backends, allocating inside the
// invoice's transaction and from per-process blocks (deposit.Indexes, closed at the end so
// the wallet's next index is 100 again).
func TestConcurrentAllocation(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		for _, blocks := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/blocks=%v", b.Name, blocks), func(t *testing.T) {
				t.Parallel()
				testConcurrentAllocation(t, b, blocks)
			})
		}
	}
}

func testConcurrentAllocation(t *testing.T, b storetest.Backend, blocks bool) {
	{
		{
			ctx := context.Background()
			st := indexesStore(t, b)
			cfg := invoices.Config{Chains: map[string]invoices.Chain{"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)},
				Quoter: fixedQuoter{}}
			var ix *deposit.Indexes
			if blocks {
				ix = deposit.NewIndexes(st, deposit.IndexesConfig{})
				cfg.Indexes = ix
			}
			svc, err := invoices.New(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			w, err := bitcoin.ParseWallet(zpub, bitcoin.Mainnet)
			if err != nil {
				t.Fatal(err)
			}
			const n = 100
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				byIx = map[uint32]string{}
			)
			for i := range n {
				wg.Go(func() {
					d, err := svc.Create(ctx, "sto_a", invoices.CreateRequest{Amount: fmt.Sprintf("%d.00", i+1), Currency: "USD"})
					if err != nil {
						t.Error(err)
						return
					}
					o := d.Options[0]
					mu.Lock()
					defer mu.Unlock()
					if prev, dup := byIx[*o.DerivationIndex]; dup {
						t.Errorf("index %d handed out twice (%s, %s)", *o.DerivationIndex, prev, o.Address)
					}
					byIx[*o.DerivationIndex] = o.Address
				})
			}
			wg.Wait()
			idx := make([]int, 0, n)
			seen := map[string]bool{}
			for i, a := range byIx {
				idx = append(idx, int(i))
				want, err := w.Address(i)
				if err != nil || want.EncodeAddress() != a {
					t.Fatalf("index %d: address %s, wallet derives %v", i, a, want)
				}
				if seen[a] {
					t.Fatalf("address %s reused", a)
				}
				seen[a] = true
			}
			sort.Ints(idx)
			if len(idx) != n || idx[0] != 0 || idx[n-1] != n-1 {
				t.Fatalf("indexes %v: want the dense range 0..%d", idx, n-1)
			}
			if ix != nil {
				if err := ix.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var ws []store.Wallet
			if err := st.View(ctx, func(tx store.Tx) (err error) { ws, err = tx.Wallets(ctx, "sto_a"); return }); err != nil {
				t.Fatal(err)
			}
			if ws[0].NextIndex != n {
				t.Fatalf("wallet next index %d, want %d (highest handed out %d)", ws[0].NextIndex, n, n-1)
			}
		}
	}
}

func TestBitcoinRejectsWrongNetworkWallet(t *testing.T) {
	t.Parallel()
	c := deposit.NewBitcoin(bitcoin.Regtest, 1)
	if _, err := c.Assets(store.Wallet{ID: "wal_x", Network: "mainnet"}); err == nil {
		t.Fatal("a mainnet wallet was accepted on regtest")
	}
}
