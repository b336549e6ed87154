package api_test

import (
	"strings"
	"testing"
)

func TestWallets(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		m := e.newMerchant("Wallets")
		zpub := "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
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
