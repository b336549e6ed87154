package checkout

import (
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// State is what the customer is told about an invoice. It is derived from the stored
// invoice, its payments, the followers' tips and the clock, never kept in memory, so every
// replica serving the page tells the same story.
type State string

// Customer-facing states, in the order a successful payment goes through them.
const (
	StateWaiting    State = "waiting"    // nothing paid yet
	StatePartial    State = "partial"    // something paid, the remaining amount is still due
	StateDetected   State = "detected"   // paid in full, not yet in a block
	StateConfirming State = "confirming" // paid in full, in a block, waiting for more confirmations
	StatePaid       State = "paid"       // settled
	StateExpired    State = "expired"    // not paid in full before expiry
	StateInvalid    State = "invalid"    // payment vanished, canceled, or marked invalid
)

// Status is the JSON document served at /i/{id}/status and pushed on /i/{id}/events. Amounts
// are decimal strings in the option's asset (never numbers), times are RFC 3339.
type Status struct {
	InvoiceID string `json:"invoice_id"`
	State     State  `json:"state"`
	// Title and Detail are the localized headline and explanation for State.
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Payable tells whether the payment instructions are shown (waiting or partial).
	Payable bool `json:"payable"`
	// Confirmations is set while a payment waits for confirmations (detected, confirming).
	Confirmations *Confirmations `json:"confirmations,omitempty"`
	ExpiresAt     time.Time      `json:"expires_at"`
	Options       []OptionStatus `json:"options"`
	// RedirectURL is the merchant's return URL, set only once the invoice is paid.
	RedirectURL string `json:"redirect_url,omitempty"`
	// ServerTime lets the page correct its countdown for a wrong client clock.
	ServerTime time.Time `json:"server_time"`
}

// Confirmations is the progress of the least confirmed payment: Have of Need blocks.
type Confirmations struct {
	Have int `json:"have"`
	Need int `json:"need"`
}

// OptionStatus is one way to pay, with the amount the customer must send now.
type OptionStatus struct {
	ID      string `json:"id"`
	Asset   string `json:"asset"`
	Chain   string `json:"chain"`
	Network string `json:"network"`
	Address string `json:"address"`
	// AmountDue is the option's full amount; Amount is what to send now: AmountDue while
	// nothing is paid, the remaining amount after a partial payment.
	AmountDue string `json:"amount_due"`
	Amount    string `json:"amount"`
	// URI is the wallet URI (BIP21, EIP-681) for Amount; QR is the URL of its QR image.
	URI string `json:"uri"`
	QR  string `json:"qr"`

	amount *big.Int // Amount as an integer, for the QR image
}

// view is the language-neutral outcome of reading an invoice: the state, which messages
// explain it, and the amounts.
type view struct {
	state       State
	detail      string // message key of the explanation
	confs       *Confirmations
	amounts     map[string]*big.Int // option id -> amount to send now
	redirectURL string
}

// evaluate decides what the customer sees. It is a pure function of the details and now.
func evaluate(d invoices.Details, now time.Time) view {
	inv := d.Invoice
	v := view{amounts: make(map[string]*big.Int, len(d.Options))}
	paidSome := d.Paid.Fraction != nil && d.Paid.Fraction.Sign() > 0
	for _, o := range d.Options {
		amt := o.AmountDue
		if rem, ok := d.Paid.Remaining[o.ID]; ok && paidSome && rem != nil {
			amt = rem
		}
		v.amounts[o.ID] = amt
	}
	flag := func(f invoices.Flag) bool { return slices.Contains(inv.Flags, string(f)) }
	live := 0
	for _, p := range d.Payments {
		if p.Status != store.PaymentRemoved {
			live++
		}
	}
	switch invoices.Status(inv.Status) {
	case invoices.StatusNew:
		switch {
		case !now.Before(inv.ExpiresAt) && paidSome:
			v.state, v.detail = StateExpired, "detail.expired_partial"
		case !now.Before(inv.ExpiresAt):
			// The watcher has not reviewed the invoice yet; the clock already says it.
			v.state, v.detail = StateExpired, "detail.expired"
		case paidSome:
			v.state, v.detail = StatePartial, "detail.partial"
		default:
			v.state, v.detail = StateWaiting, "detail.waiting"
		}
	case invoices.StatusProcessing:
		v.confs = confirmations(d)
		if v.confs.Have == 0 {
			v.state, v.detail = StateDetected, "detail.detected"
		} else {
			v.state, v.detail = StateConfirming, "detail.confirming"
		}
	case invoices.StatusSettled:
		v.state, v.detail = StatePaid, "detail.paid"
		if flag(invoices.FlagPaidOver) {
			v.detail = "detail.paid_over"
		}
		v.redirectURL = inv.RedirectURL
	case invoices.StatusExpired:
		switch {
		case flag(invoices.FlagPaidLate):
			v.state, v.detail = StateExpired, "detail.expired_late"
		case paidSome || live > 0:
			v.state, v.detail = StateExpired, "detail.expired_partial"
		default:
			v.state, v.detail = StateExpired, "detail.expired"
		}
	default: // invalid, or a status this page does not know: never invite a payment
		switch {
		case flag(invoices.FlagMarked):
			v.state, v.detail = StateInvalid, "detail.invalid_marked"
		case flag(invoices.FlagCanceled) && len(d.Payments) > 0:
			// A payment that came after the merchant cancelled: it did not vanish.
			v.state, v.detail = StateInvalid, "detail.canceled_paid"
		case len(d.Payments) == 0:
			v.state, v.detail = StateInvalid, "detail.canceled"
		default:
			v.state, v.detail = StateInvalid, "detail.invalid"
		}
	}
	return v
}

// confirmations reports the least confirmed live payment of a processing invoice: its depth
// below the chain's tip (tip − block height + 1; 0 in the mempool) and its option's
// required confirmations.
func confirmations(d invoices.Details) *Confirmations {
	need := map[string]int{}
	for _, o := range d.Options {
		need[o.ID] = o.Confirmations
	}
	var out *Confirmations
	for _, p := range d.Payments {
		if p.Status == store.PaymentRemoved {
			continue
		}
		have := 0
		if tip := d.Tips[p.Chain]; p.Status == store.PaymentConfirmed && p.BlockHeight != nil && tip >= *p.BlockHeight {
			have = int(tip - *p.BlockHeight + 1)
		}
		if out == nil || have < out.Have {
			out = &Confirmations{Have: have, Need: need[p.OptionID]}
		}
	}
	if out == nil {
		return &Confirmations{}
	}
	if out.Have > out.Need {
		out.Have = out.Need
	}
	return out
}

func (v view) payable() bool { return v.state == StateWaiting || v.state == StatePartial }

// priceText formats the invoice price in its currency: fiat by ISO 4217 minor units, crypto
// by the scale of the option in that asset.
func priceText(d invoices.Details) string {
	inv := d.Invoice
	if c, ok := money.Currency(inv.Currency); ok {
		return money.FormatAmount(inv.Price, c.Scale) + " " + c.Code
	}
	for _, o := range d.Options {
		if o.Asset == inv.Currency {
			return money.FormatAmount(inv.Price, o.Scale) + " " + o.Asset
		}
	}
	return inv.Price.String() + " " + inv.Currency
}

// networkName names the chain and network for people: "Bitcoin", "Bitcoin (regtest)".
func networkName(chain, network string) string {
	name := chain
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	if network != "" && network != "mainnet" {
		name += " (" + network + ")"
	}
	return name
}
