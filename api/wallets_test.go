package api_test

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/store"
)

// Watch-only test keys: BIP84 account 0 of the BIP84 test vector mnemonic (as zpub and as
// xpub), and the BIP44 vector's account key (another wallet).
const (
	testZpub     = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	testXpub     = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
	testOtherKey = "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"
)

func TestWallets(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Wallets")
		zpub := testZpub
		for _, c := range []struct {
			body   map[string]any
			status int
			field  string
			text   string
		}{
			{map[string]any{"chain": "bitcoin", "key": "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"}, 422, "key", "private"},
			{map[string]any{"chain": "bitcoin", "key": "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc"}, 422, "key", "network"},
			{map[string]any{"chain": "bitcoin", "key": "garbage"}, 422, "key", ""},
			{map[string]any{"chain": "dogecoin", "key": zpub}, 422, "chain", ""},
		} {
			r := e.do("POST", "/v1/wallets", m.key, c.body)
			if r.status != c.status || !strings.Contains(string(r.body), `"field":"`+c.field+`"`) || !strings.Contains(string(r.body), c.text) {
				t.Errorf("%v: %d %s", c.body, r.status, r.body)
			}
		}
		r := e.do("POST", "/v1/wallets", m.key, map[string]any{"chain": "bitcoin", "key": zpub})
		if r.status != 201 {
			t.Fatalf("add wallet: %d %s", r.status, r.body)
		}
		w := r.json(t)
		if !strings.HasPrefix(w["descriptor"].(string), "wpkh(xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)#") || w["highest_index"] != nil {
			t.Fatalf("wallet: %s", r.body)
		}
		if r := e.do("POST", "/v1/wallets", m.key, map[string]any{"chain": "bitcoin", "key": zpub}); r.status != 409 {
			t.Fatalf("second bitcoin wallet: %d", r.status)
		}
		inv := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "payment_methods": []string{"BTC"}}).json(t)
		opt := inv["payment_options"].([]any)[0].(map[string]any)
		if opt["address"] != "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" || !strings.HasPrefix(opt["payment_uri"].(string), "bitcoin:bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu?amount=0.00008334") {
			t.Fatalf("first BTC option: %v", opt)
		}
		l := e.do("GET", "/v1/wallets", m.key, nil).json(t)["data"].([]any)
		var highest any
		for _, x := range l {
			if x.(map[string]any)["chain"] == "bitcoin" {
				highest = x.(map[string]any)["highest_index"]
			}
		}
		if highest != float64(0) {
			t.Fatalf("highest index after one invoice: %v", highest)
		}
	})
}

// TestWalletPermissions: a leaked storefront key (invoice permissions only) can neither add
// the wallet that receives payments nor read the xpubs that reveal the store's history.
func TestWalletPermissions(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Shop")
		shop := e.addKey(m, apikey.Storefront()...)
		body := map[string]any{"chain": "bitcoin", "key": testZpub}
		problem(t, "storefront adds a wallet", e.do("POST", "/v1/wallets", shop, body), 403, "", apikey.WalletsWrite)
		problem(t, "storefront lists wallets", e.do("GET", "/v1/wallets", shop, nil), 403, "", apikey.WalletsRead)
		problem(t, "read-only wallet key adds a wallet", e.do("POST", "/v1/wallets", e.addKey(m, apikey.WalletsRead), body), 403, "", apikey.WalletsWrite)
		if r := e.do("GET", "/v1/wallets", e.addKey(m, apikey.WalletsRead), nil); r.status != 200 {
			t.Errorf("wallets:read lists: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/wallets", e.addKey(m, apikey.WalletsWrite), body); r.status != 201 {
			t.Errorf("wallets:write adds: %d %s", r.status, r.body)
		}
		// The storefront key still does its job.
		if r := e.do("POST", "/v1/invoices", shop, map[string]any{"amount": "5.00", "currency": "USD"}); r.status != 201 {
			t.Errorf("storefront creates an invoice: %d %s", r.status, r.body)
		}
	})
}

// TestSameKeyTwoStores: a second store registering a key another wallet derives from gets
// a 409 naming the conflict, and both stores' invoices keep working (never a 500).
func TestSameKeyTwoStores(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, b := e.newMerchant("A"), e.newMerchant("B")
		if r := e.do("POST", "/v1/wallets", a.key, map[string]any{"chain": "bitcoin", "key": testZpub}); r.status != 201 {
			t.Fatalf("A adds: %d %s", r.status, r.body)
		}
		problem(t, "B adds A's zpub", e.do("POST", "/v1/wallets", b.key, map[string]any{"chain": "bitcoin", "key": testZpub}), 409, "", "already used by another wallet")
		// The same key as a descriptor is the same wallet.
		problem(t, "B adds A's key as a descriptor", e.do("POST", "/v1/wallets", b.key,
			map[string]any{"chain": "bitcoin", "key": "wpkh(" + testXpub + "/0/*)"}), 409, "", "already used by another wallet")
		problem(t, "A adds a second bitcoin wallet", e.do("POST", "/v1/wallets", a.key, map[string]any{"chain": "bitcoin", "key": testOtherKey}), 409, "", "already has a wallet")
		if r := e.do("POST", "/v1/wallets", b.key, map[string]any{"chain": "bitcoin", "key": testOtherKey}); r.status != 201 {
			t.Fatalf("B adds its own: %d %s", r.status, r.body)
		}
		for _, m := range []merchant{a, b, a, b} {
			if r := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "payment_methods": []string{"BTC"}}); r.status != 201 {
				t.Fatalf("invoice: %d %s", r.status, r.body)
			}
		}
	})
}

// TestWalletGap: GET /v1/wallets shows the gap (indexes handed out after the highest paid
// one) and warns once it reaches 20, where fixed-gap-limit wallets stop seeing payments.
func TestWalletGap(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Gap")
		if r := e.do("POST", "/v1/wallets", m.key, map[string]any{"chain": "bitcoin", "key": testZpub}); r.status != 201 {
			t.Fatalf("add wallet: %d %s", r.status, r.body)
		}
		btc := func() map[string]any {
			t.Helper()
			for _, x := range e.do("GET", "/v1/wallets", m.key, nil).json(t)["data"].([]any) {
				if x.(map[string]any)["chain"] == "bitcoin" {
					return x.(map[string]any)
				}
			}
			t.Fatal("no bitcoin wallet listed")
			return nil
		}
		if w := btc(); w["gap"] != float64(0) || w["highest_paid_index"] != nil || w["gap_warning"] != nil {
			t.Fatalf("fresh wallet: %v", w)
		}
		var opts []map[string]any
		for range 21 { // indexes 0..20
			inv := e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "payment_methods": []string{"BTC"}}).json(t)
			opts = append(opts, inv["payment_options"].([]any)[0].(map[string]any))
		}
		if w := btc(); w["gap"] != float64(21) || w["gap_warning"] == nil {
			t.Fatalf("21 unpaid: %v", w)
		}
		pay := func(o map[string]any, inv string) {
			t.Helper()
			now := time.Now().UTC()
			err := e.st.Tx(context.Background(), func(tx store.Tx) error {
				_, err := tx.UpsertPayment(context.Background(), store.Payment{ID: store.NewID("pay", now), InvoiceID: inv, OptionID: o["id"].(string),
					Chain: "bitcoin", TxID: strings.Repeat("ab", 32), OutputIndex: int64(len(inv) % 7), Address: o["address"].(string), Asset: "BTC",
					Amount: big.NewInt(1000), Status: "mempool", SeenAt: now, UpdatedAt: now})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		l := e.do("GET", "/v1/invoices?limit=100", m.key, nil).json(t)["data"].([]any)
		invOf := map[string]string{}
		for _, x := range l {
			inv := x.(map[string]any)
			invOf[inv["payment_options"].([]any)[0].(map[string]any)["id"].(string)] = inv["id"].(string)
		}
		pay(opts[3], invOf[opts[3]["id"].(string)])
		w := btc()
		if w["highest_index"] != float64(20) || w["highest_paid_index"] != float64(3) || w["gap"] != float64(17) || w["gap_warning"] != nil {
			t.Fatalf("index 3 paid: %v", w)
		}
		for range 3 {
			e.do("POST", "/v1/invoices", m.key, map[string]any{"amount": "5.00", "currency": "USD", "payment_methods": []string{"BTC"}})
		}
		if w := btc(); w["gap"] != float64(20) || !strings.Contains(fmt.Sprint(w["gap_warning"]), "gap limit of 20") {
			t.Fatalf("gap 20: %v", w)
		}
	})
}
