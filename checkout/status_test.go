package checkout

import (
	"math/big"
	"testing"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := func(v int64) *int64 { return &v }
	opt := store.PaymentOption{ID: "opt_a", Chain: "bitcoin", AmountDue: big.NewInt(1000), Confirmations: 3, Scale: 8}
	pay := func(status string, height *int64) store.Payment {
		return store.Payment{ID: "pay", OptionID: "opt_a", Chain: "bitcoin", Amount: big.NewInt(1000), Status: status, BlockHeight: height}
	}
	canceled := func(d invoices.Details) invoices.Details { // as invoices.Service.CancelTx leaves it
		d.Invoice.Flags = append(d.Invoice.Flags, string(invoices.FlagCanceled))
		return d
	}
	details := func(status string, flags []string, frac *big.Rat, remaining int64, tip int64, pays ...store.Payment) invoices.Details {
		return invoices.Details{
			Invoice: store.Invoice{ID: "inv_x", Status: status, Flags: flags, ExpiresAt: now.Add(time.Minute),
				RedirectURL: "https://shop.example/done"},
			Options:  []store.PaymentOption{opt},
			Payments: pays,
			Tips:     map[string]int64{"bitcoin": tip},
			Paid:     invoices.Paid{Fraction: frac, Remaining: map[string]*big.Int{"opt_a": big.NewInt(remaining)}},
		}
	}
	zero, third, full := new(big.Rat), big.NewRat(1, 3), big.NewRat(1, 1)
	for _, tc := range []struct {
		name     string
		d        invoices.Details
		now      time.Time
		state    State
		detail   string
		amount   int64
		confs    *Confirmations
		redirect bool
	}{
		{"new", details("new", nil, zero, 1000, 0), now, StateWaiting, "detail.waiting", 1000, nil, false},
		{"new with tolerance shows the full amount", details("new", nil, zero, 990, 0), now, StateWaiting, "detail.waiting", 1000, nil, false},
		{"partial", details("new", []string{"paid_partial"}, third, 667, 0, pay("mempool", nil)), now, StatePartial, "detail.partial", 667, nil, false},
		{"new past expiry", details("new", nil, zero, 1000, 0), now.Add(time.Minute), StateExpired, "detail.expired", 1000, nil, false},
		{"partial past expiry", details("new", []string{"paid_partial"}, third, 667, 0, pay("mempool", nil)), now.Add(2 * time.Minute), StateExpired, "detail.expired_partial", 667, nil, false},
		{"processing in mempool", details("processing", nil, full, 0, 100, pay("mempool", nil)), now, StateDetected, "detail.detected", 0, &Confirmations{0, 3}, false},
		{"processing at the tip", details("processing", nil, full, 0, 100, pay("confirmed", h(100))), now, StateConfirming, "detail.confirming", 0, &Confirmations{1, 3}, false},
		{"processing two deep", details("processing", nil, full, 0, 101, pay("confirmed", h(100))), now, StateConfirming, "detail.confirming", 0, &Confirmations{2, 3}, false},
		{"block above the tip counts as unconfirmed", details("processing", nil, full, 0, 99, pay("confirmed", h(100))), now, StateDetected, "detail.detected", 0, &Confirmations{0, 3}, false},
		{"least confirmed decides", details("processing", nil, full, 0, 105, pay("confirmed", h(100)), pay("confirmed", h(104))), now, StateConfirming, "detail.confirming", 0, &Confirmations{2, 3}, false},
		{"removed payments ignored", details("processing", nil, full, 0, 105, pay("removed", nil), pay("confirmed", h(104))), now, StateConfirming, "detail.confirming", 0, &Confirmations{2, 3}, false},
		{"settled", details("settled", nil, full, 0, 103, pay("confirmed", h(100))), now, StatePaid, "detail.paid", 0, nil, true},
		{"settled overpaid", details("settled", []string{"paid_over"}, full, 0, 103, pay("confirmed", h(100))), now, StatePaid, "detail.paid_over", 0, nil, true},
		{"settled after expiry stays paid", details("settled", nil, full, 0, 103, pay("confirmed", h(100))), now.Add(time.Hour), StatePaid, "detail.paid", 0, nil, true},
		{"expired", details("expired", nil, zero, 1000, 0), now, StateExpired, "detail.expired", 1000, nil, false},
		{"expired partly paid", details("expired", []string{"paid_partial"}, third, 667, 0, pay("confirmed", h(1))), now, StateExpired, "detail.expired_partial", 667, nil, false},
		{"expired paid late", details("expired", []string{"paid_late"}, full, 0, 0, pay("mempool", nil)), now, StateExpired, "detail.expired_late", 0, nil, false},
		{"canceled", details("invalid", nil, zero, 1000, 0), now, StateInvalid, "detail.canceled", 1000, nil, false},
		{"invalid payment", details("invalid", nil, zero, 1000, 0, pay("removed", nil)), now, StateInvalid, "detail.invalid", 1000, nil, false},
		{"canceled, then paid", canceled(details("invalid", nil, full, 0, 9, pay("confirmed", h(1)))), now, StateInvalid, "detail.canceled_paid", 0, nil, false},
		{"marked invalid", details("invalid", []string{"marked"}, full, 0, 9, pay("confirmed", h(1))), now, StateInvalid, "detail.invalid_marked", 0, nil, false},
		{"unknown status", details("weird", nil, zero, 1000, 0), now, StateInvalid, "detail.canceled", 1000, nil, false},
	} {
		v := evaluate(tc.d, tc.now)
		if v.state != tc.state || v.detail != tc.detail || v.amounts["opt_a"].Int64() != tc.amount {
			t.Errorf("%s: %s %s amount %s; want %s %s %d", tc.name, v.state, v.detail, v.amounts["opt_a"], tc.state, tc.detail, tc.amount)
		}
		if (v.confs == nil) != (tc.confs == nil) || (v.confs != nil && *v.confs != *tc.confs) {
			t.Errorf("%s: confirmations %+v, want %+v", tc.name, v.confs, tc.confs)
		}
		if (v.redirectURL != "") != tc.redirect {
			t.Errorf("%s: redirect %q", tc.name, v.redirectURL)
		}
		if want := tc.state == StateWaiting || tc.state == StatePartial; v.payable() != want {
			t.Errorf("%s: payable %v", tc.name, v.payable())
		}
	}
}

func TestTimeLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15:00"}, {time.Millisecond, "0:01"}, {0, "0:00"}, {-time.Hour, "0:00"},
		{59*time.Second + time.Millisecond, "1:00"}, {2*time.Hour + 3*time.Minute + 4*time.Second, "2:03:04"},
		{49 * time.Hour, "49:00:00"},
	} {
		if got := timeLeft(tc.d); got != tc.want {
			t.Errorf("timeLeft(%s) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

func TestWalletURL(t *testing.T) {
	t.Parallel()
	for uri, ok := range map[string]bool{
		"bitcoin:bc1qxyz?amount=1": true, "ethereum:0xabc@1?value=1": true, "javascript:alert(1)": false,
		"data:text/html,x": false, "https://evil.example": false, "": false, "%zz": false,
	} {
		if got := walletURL(uri) != ""; got != ok {
			t.Errorf("walletURL(%q) allowed = %v, want %v", uri, got, ok)
		}
	}
}

func TestNetworkName(t *testing.T) {
	t.Parallel()
	for _, tc := range [][3]string{{"bitcoin", "mainnet", "Bitcoin"}, {"bitcoin", "regtest", "Bitcoin (regtest)"},
		{"ethereum", "", "Ethereum"}, {"", "", ""}} {
		if got := networkName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("networkName(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"inv_01hx5m3k8e9w2q7r4t6y8u0p1a": true, "inv_": false, "opt_01hx": false, "INV_01": false,
		"inv_01/..": false, "inv_" + string(make([]byte, 61)): false,
	} {
		if validID(id) != ok {
			t.Errorf("validID(%q) = %v", id, !ok)
		}
	}
}
