package ledger_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
)

func TestCollectionFeeRecord(t *testing.T) {
	t.Parallel()
	eth := money.Asset{Code: "ETH", Scale: 18, Chain: "ethereum"}
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	c := ledger.CollectionFee{MerchantID: "sto_1", Native: eth, Network: "1", TxHash: "0xabc", BlockHeight: 10,
		BlockHash: "0xblock", Confirmations: 12, Fee: big.NewInt(2_700_000_000_000_000), Forwarders: 3, OccurredAt: at}
	r, err := ledger.CollectionFeeRecord(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReportingCategory != ledger.CategoryFee || r.SourceType != ledger.SourceEVMCollection || r.Gross.Sign() != 0 ||
		r.Fee.Cmp(c.Fee) != 0 || r.Net.Cmp(new(big.Int).Neg(c.Fee)) != 0 {
		t.Fatalf("record %+v: want a fee record, gross 0, net = −fee", r)
	}
	if r.IdempotencyKey != "evm_collection:ethereum:0xabc:fee" {
		t.Fatalf("key %q", r.IdempotencyKey)
	}
	for _, p := range r.Postings {
		if p.Account == ledger.AccountRevenue("sto_1", ledger.SourceEVMCollection) {
			t.Fatalf("a sweep is not revenue: %+v", r.Postings)
		}
	}
	if len(r.Postings) != 2 || r.Postings[0].Account != ledger.AccountFees("sto_1") || r.Postings[0].Direction != ledger.Debit {
		t.Fatalf("postings %+v: want fees debited, balance credited", r.Postings)
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.ParseRecord(b); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	for name, mut := range map[string]func(*ledger.CollectionFee){
		"zero fee":    func(c *ledger.CollectionFee) { c.Fee = new(big.Int) },
		"token asset": func(c *ledger.CollectionFee) { c.Native.Contract = "0xA0b8" },
		"no merchant": func(c *ledger.CollectionFee) { c.MerchantID = "" },
	} {
		bad := c
		mut(&bad)
		if _, err := ledger.CollectionFeeRecord(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "no merchant" && !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
