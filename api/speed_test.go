package api_test

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

// TestRevokedKeyStopsWithinTheCacheTTL: servers cache API keys for KeyCacheTTL, so a key
// revoked by another process (chainpay apikey revoke) stops working once that has passed.
func TestRevokedKeyStopsWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	const ttl = 200 * time.Millisecond
	eachWith(t, []func(*api.Config){func(c *api.Config) { c.KeyCacheTTL = ttl }}, func(t *testing.T, e *env) {
		m := e.newMerchant("Revoke")
		if r := e.do("GET", "/v1/invoices", m.key, nil); r.status != http.StatusOK {
			t.Fatalf("before revoking: %d", r.status)
		}
		prefix, err := apikey.Prefix(m.key)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		revoked := time.Now()
		err = e.st.Tx(ctx, func(tx store.Tx) error {
			k, err := tx.APIKeyByPrefix(ctx, prefix)
			if err != nil {
				return err
			}
			return tx.RevokeAPIKey(ctx, k.ID, revoked)
		})
		if err != nil {
			t.Fatal(err)
		}
		for {
			r := e.do("GET", "/v1/invoices", m.key, nil)
			if r.status == http.StatusUnauthorized {
				break
			}
			if time.Since(revoked) > ttl+2*time.Second {
				t.Fatalf("revoked key still accepted %s after revocation (cache TTL %s): %d", time.Since(revoked), ttl, r.status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A key created now works at once: unknown keys are not cached.
		fresh := e.newMerchant("Fresh")
		if r := e.do("GET", "/v1/invoices", fresh.key, nil); r.status != http.StatusOK {
			t.Fatalf("new key: %d", r.status)
		}
	})
}

// TestIdempotencyStormOpensNoGap: 40 concurrent requests with one Idempotency-Key on a
// Bitcoin wallet whose indexes come from per-process blocks create one invoice; the indexes
// the losers were given go back, so the next 39 invoices fill 0..39 without a hole.
func TestIdempotencyStormOpensNoGap(t *testing.T) {
	t.Parallel()
	withBlocks := func(c *api.Config) {
		svc, err := invoices.New(c.Store, invoices.Config{Chains: map[string]invoices.Chain{
			"bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)}, Quoter: &quoter{},
			Indexes: deposit.NewIndexes(c.Store, deposit.IndexesConfig{})})
		if err != nil {
			panic(err)
		}
		c.Invoices = svc
	}
	eachWith(t, []func(*api.Config){withBlocks}, func(t *testing.T, e *env) {
		m := e.newMerchant("Storm")
		if r := e.do("POST", "/v1/wallets", m.key, map[string]any{"chain": "bitcoin", "key": testZpub}); r.status != 201 {
			t.Fatalf("add wallet: %d %s", r.status, r.body)
		}
		body := map[string]any{"amount": "10.00", "currency": "USD", "payment_methods": []string{"BTC"}}
		const n = 40
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			ids  = map[string]bool{}
			addr = map[string]bool{}
		)
		for range n {
			wg.Go(func() {
				r := e.do("POST", "/v1/invoices", m.key, body, "Idempotency-Key", "storm-1")
				if r.status != http.StatusCreated {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				v := r.json(t)
				mu.Lock()
				ids[v["id"].(string)] = true
				addr[v["payment_options"].([]any)[0].(map[string]any)["address"].(string)] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(ids) != 1 || len(addr) != 1 {
			t.Fatalf("%d invoices, %d addresses from one key; want 1 and 1", len(ids), len(addr))
		}
		for range n - 1 {
			if r := e.do("POST", "/v1/invoices", m.key, body); r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
		}
		var idx []int
		err := e.st.View(context.Background(), func(tx store.Tx) error {
			ws, err := tx.Wallets(context.Background(), m.id)
			if err != nil {
				return err
			}
			for _, w := range ws {
				if w.Chain != "bitcoin" {
					continue
				}
				invs, err := tx.ListInvoices(context.Background(), store.InvoiceFilter{MerchantID: m.id, Limit: 100})
				if err != nil {
					return err
				}
				for _, inv := range invs {
					opts, err := tx.PaymentOptions(context.Background(), inv.ID)
					if err != nil {
						return err
					}
					for _, o := range opts {
						if o.WalletID == w.ID {
							idx = append(idx, int(*o.DerivationIndex))
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Ints(idx)
		for i, v := range idx {
			if v != i {
				t.Fatalf("indexes on invoices %v: want 0..%d without a hole", idx, n-1)
			}
		}
		if len(idx) != n {
			t.Fatalf("%d indexes, want %d", len(idx), n)
		}
	})
}
