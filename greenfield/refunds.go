package greenfield

import (
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
	"github.com/shopspring/decimal"
)

// Greenfield refunds are chainpay refunds (package refunds): a pull payment is one refund of
// one invoice, and its viewLink is the refund's claim page /r/{id}, where the customer gives
// the destination. See docs/greenfield.md "Refunds".

// pullPaymentRequest is Greenfield's CreatePullPaymentRequest.
type pullPaymentRequest struct {
	Name              string       `json:"name"`
	Description       string       `json:"description"`
	Amount            *decimalText `json:"amount"`
	Currency          string       `json:"currency"`
	Period            *int64       `json:"period"`
	BOLT11Expiration  any          `json:"BOLT11Expiration"`
	AutoApproveClaims *bool        `json:"autoApproveClaims"`
	StartsAt          any          `json:"startsAt"`
	ExpiresAt         any          `json:"expiresAt"`
	PaymentMethods    []string     `json:"paymentMethods"`
}

// invoiceRefundRequest is Greenfield's RefundInvoiceRequest.
type invoiceRefundRequest struct {
	Name               string       `json:"name"`
	Description        string       `json:"description"`
	PaymentMethod      string       `json:"paymentMethod"`
	RefundVariant      string       `json:"refundVariant"`
	SubtractPercentage *decimalText `json:"subtractPercentage"`
	CustomAmount       *decimalText `json:"customAmount"`
	CustomCurrency     string       `json:"customCurrency"`
}

// pullPaymentJSON is Greenfield's PullPaymentData.
type pullPaymentJSON struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Currency          string   `json:"currency"`
	Amount            string   `json:"amount"`
	Period            *int64   `json:"period"`
	BOLT11Expiration  string   `json:"BOLT11Expiration"`
	AutoApproveClaims bool     `json:"autoApproveClaims"`
	Archived          bool     `json:"archived"`
	ViewLink          string   `json:"viewLink"`
	StartsAt          int64    `json:"startsAt"`
	ExpiresAt         *int64   `json:"expiresAt"`
	PaymentMethods    []string `json:"paymentMethods"`
}

// orderNumber finds the order in the WooCommerce plugin's pull payment name
// ("Refund for order no.: 123 reason: ...").
var orderNumber = regexp.MustCompile(`(?i)order no\.:\s*([^\s]+)`)

// createPullPayment serves POST stores/{storeId}/pull-payments: Greenfield has no invoice in
// this request, so the invoice is the store's newest one with the order number the name
// carries (the WooCommerce plugin's name) that received money.
func (s *Server) createPullPayment(w http.ResponseWriter, r *http.Request) {
	var req pullPaymentRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	if !s.refundsReady(w) {
		return
	}
	k := keyFrom(r.Context())
	var bad []fieldError
	fail := func(path, msg string) { bad = append(bad, fieldError{Path: path, Message: msg}) }
	switch {
	case req.Amount == nil:
		fail("amount", "required")
	case !req.Amount.ok:
		fail("amount", "must be a decimal string, e.g. \"10.00\"")
	}
	if strings.TrimSpace(req.Currency) == "" {
		fail("currency", "required")
	}
	if req.Period != nil && *req.Period != 0 {
		fail("period", "chainpay refunds are paid once: no recurring pull payments")
	}
	asset, bads := s.refundAsset(r, k.MerchantID, req.PaymentMethods)
	bad = append(bad, bads...)
	m := orderNumber.FindStringSubmatch(req.Name)
	if m == nil {
		fail("name", "chainpay refunds one invoice: the name must carry its order as \"order no.: <orderId>\" (as the WooCommerce plugin sends it), or use POST stores/{storeId}/invoices/{invoiceId}/refund")
	}
	if len(bad) > 0 {
		writeValidation(w, bad)
		return
	}
	invoiceID, err := s.invoiceOfOrder(r, k.MerchantID, m[1])
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	if invoiceID == "" {
		writeValidation(w, []fieldError{{Path: "name", Message: "no invoice of this store has order id " + m[1]}})
		return
	}
	s.createRefund(w, r, invoiceID, req.Name, req.Description, "paymentMethods", refunds.CreateRequest{
		Amount: req.Amount.s, Currency: strings.ToUpper(strings.TrimSpace(req.Currency)), Asset: asset, RatePolicy: refunds.RateOriginal})
}

// refundAsset maps Greenfield payment method ids to one asset ("" for none or several).
func (s *Server) refundAsset(r *http.Request, merchantID string, ids []string) (string, []fieldError) {
	if len(ids) == 0 {
		return "", nil
	}
	assets, err := s.cfg.Invoices.Assets(r.Context(), merchantID)
	if err != nil {
		return "", []fieldError{{Path: "paymentMethods", Message: "cannot read the store's payment methods"}}
	}
	idx := methodIndex(assets)
	var found []string
	var bad []fieldError
	for i, id := range ids {
		if v, ok := legacyMethodIDs[id]; ok {
			id = v
		}
		a, ok := idx[id]
		if !ok {
			bad = append(bad, fieldError{Path: fmt.Sprintf("paymentMethods[%d]", i), Message: "not a payment method of this store: " + id})
			continue
		}
		if !slices.Contains(found, a.Code) {
			found = append(found, a.Code)
		}
	}
	if len(found) == 1 {
		return found[0], bad
	}
	return "", bad
}

// invoiceOfOrder returns the store's newest invoice with the order id that received money
// (else the newest with it; "" when there is none).
func (s *Server) invoiceOfOrder(r *http.Request, merchantID, orderID string) (string, error) {
	list, err := s.cfg.Invoices.List(r.Context(), store.InvoiceFilter{MerchantID: merchantID, OrderID: orderID, Limit: 20})
	if err != nil || len(list) == 0 {
		return "", err
	}
	for _, inv := range list {
		d, err := s.cfg.Invoices.Get(r.Context(), merchantID, inv.ID)
		if err != nil {
			return "", err
		}
		if b, err := refunds.Balance(d); err == nil && b.ReceivedFiat.Sign() > 0 {
			return inv.ID, nil
		}
	}
	return list[0].ID, nil
}

// refundInvoice serves POST stores/{storeId}/invoices/{id}/refund.
func (s *Server) refundInvoice(w http.ResponseWriter, r *http.Request) {
	var req invoiceRefundRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	if !s.refundsReady(w) {
		return
	}
	k := keyFrom(r.Context())
	d, err := s.cfg.Invoices.Get(r.Context(), k.MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	var bad []fieldError
	fail := func(path, msg string) { bad = append(bad, fieldError{Path: path, Message: msg}) }
	asset := ""
	if req.PaymentMethod == "" {
		fail("paymentMethod", "required")
	} else if a, bads := s.refundAsset(r, k.MerchantID, []string{req.PaymentMethod}); len(bads) > 0 {
		fail("paymentMethod", bads[0].Message)
	} else {
		asset = a
	}
	pct := decimal.Zero
	if p := req.SubtractPercentage; p != nil {
		v, err := decimal.NewFromString(p.s)
		if !p.ok || err != nil || v.IsNegative() || v.GreaterThan(decimal.NewFromInt(100)) {
			fail("subtractPercentage", "must be a number from 0 to 100")
		} else {
			pct = v
		}
	}
	cr := refunds.CreateRequest{Asset: asset}
	custom := req.CustomAmount != nil || req.CustomCurrency != ""
	switch req.RefundVariant {
	case "RateThen", "CurrentRate", "Fiat":
		if custom {
			fail("customAmount", "only with refundVariant Custom")
		}
	case "Custom":
		if req.CustomAmount == nil || !req.CustomAmount.ok {
			fail("customAmount", "required with refundVariant Custom: a decimal string")
		}
		if strings.TrimSpace(req.CustomCurrency) == "" {
			fail("customCurrency", "required with refundVariant Custom")
		}
	case "":
		fail("refundVariant", "required: RateThen, CurrentRate, Fiat or Custom")
	default:
		fail("refundVariant", "must be RateThen, CurrentRate, Fiat or Custom (OverpaidAmount is not supported)")
	}
	if len(bad) > 0 {
		writeValidation(w, bad)
		return
	}
	bal, err := refunds.Balance(d)
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	cur, _ := money.Currency(d.Invoice.Currency)
	switch req.RefundVariant {
	case "RateThen":
		// What the customer paid, in the asset: everything still refundable at the original rate.
		cr.RatePolicy = refunds.RateOriginal
		if !pct.IsZero() {
			ab := assetBalance(bal, asset)
			if ab == nil {
				s.invoiceError(w, r, &invoices.ValidationError{Fields: map[string]string{"paymentMethod": "the invoice received nothing in this payment method"}})
				return
			}
			cr.Amount, cr.Currency = reduce(ab.RemainingAtomic, ab.Option.Scale, pct), ab.Option.Asset
		}
	case "CurrentRate", "Fiat":
		// The invoice's value still refundable, paid in the asset at today's rate.
		cr.RatePolicy = refunds.RateCurrent
		cr.Amount, cr.Currency = reduce(bal.RemainingFiat, cur.Scale, pct), d.Invoice.Currency
	case "Custom":
		c := strings.ToUpper(strings.TrimSpace(req.CustomCurrency))
		cr.RatePolicy = refunds.RateOriginal
		if c != "" && c == d.Invoice.Currency {
			if _, fiat := money.Currency(c); fiat {
				cr.RatePolicy = refunds.RateCurrent // a fiat amount is paid at the current rate, as BTCPay does at payout
			}
		}
		v, err := decimal.NewFromString(req.CustomAmount.s)
		if err != nil {
			writeValidation(w, []fieldError{{Path: "customAmount", Message: "must be a decimal string"}})
			return
		}
		cr.Amount, cr.Currency = v.Mul(decimal.NewFromInt(1).Sub(pct.Div(decimal.NewFromInt(100)))).String(), c
	}
	s.createRefund(w, r, d.Invoice.ID, req.Name, req.Description, "paymentMethod", cr)
}

func assetBalance(b refunds.Refundable, asset string) *refunds.AssetBalance {
	for i := range b.Assets {
		if asset == "" || b.Assets[i].Option.Asset == asset {
			return &b.Assets[i]
		}
	}
	return nil
}

// reduce formats v (at scale) less pct percent, rounded down to the scale.
func reduce(v *big.Int, scale int32, pct decimal.Decimal) string {
	d := decimal.NewFromBigInt(v, -scale)
	d = d.Sub(d.Mul(pct).Div(decimal.NewFromInt(100))).RoundDown(scale)
	return d.StringFixed(scale)
}

// createRefund creates the chainpay refund and answers PullPaymentData.
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request, invoiceID, name, description, assetPath string, cr refunds.CreateRequest) {
	k := keyFrom(r.Context())
	reason := strings.TrimSpace(strings.TrimSpace(name) + " " + strings.TrimSpace(description))
	if len(reason) > 500 {
		writeValidation(w, []fieldError{{Path: "name", Message: "name and description together: at most 500 characters"}})
		return
	}
	cr.Reason = reason
	draft, err := s.cfg.Refunds.Prepare(r.Context(), k.MerchantID, invoiceID, cr)
	if err != nil {
		s.refundError(w, r, err, assetPath)
		return
	}
	var ref store.Refund
	err = s.cfg.Store.Tx(r.Context(), func(tx store.Tx) (err error) {
		ref, err = s.cfg.Refunds.CreateTx(r.Context(), tx, draft)
		return err
	})
	if err != nil {
		s.refundError(w, r, err, assetPath)
		return
	}
	s.cfg.Logger.Info("greenfield refund created", "refund", ref.ID, "invoice", invoiceID, "key", k.ID)
	v := s.cfg.Refunds.View(ref)
	amount, currency := v.Amount, v.Currency
	if cr.Currency != "" && cr.Currency == v.Asset && cr.Currency != v.Currency {
		amount, currency = v.AmountAsset, v.Asset
	}
	if cr.Amount == "" { // everything left in the asset
		amount, currency = v.AmountAsset, v.Asset
	}
	writeJSON(w, http.StatusOK, pullPaymentJSON{
		ID: ref.ID, Name: name, Description: description, Currency: currency, Amount: amount,
		BOLT11Expiration: "30", ViewLink: s.cfg.PublicURL + "/r/" + ref.ID, StartsAt: ref.CreatedAt.Unix(),
		PaymentMethods: []string{PaymentMethodID(ref.Asset, ref.Chain)},
	})
}

// refundError maps the refunds service's errors: over-refunds are 422 on amount.
func (s *Server) refundError(w http.ResponseWriter, r *http.Request, err error, assetPath string) {
	var ex *refunds.ExceedsError
	if errors.As(err, &ex) {
		writeValidation(w, []fieldError{{Path: "amount", Message: ex.Error()}})
		return
	}
	if errors.Is(err, refunds.ErrNotSynced) {
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "chain-not-synced", err.Error())
		return
	}
	var ve *invoices.ValidationError
	if errors.As(err, &ve) {
		paths := map[string]string{"rate_policy": "refundVariant", "asset": assetPath, "reason": "name"}
		var out []fieldError
		keys := mapKeys(ve.Fields)
		sort.Strings(keys)
		for _, f := range keys {
			p := f
			if q, ok := paths[f]; ok {
				p = q
			}
			out = append(out, fieldError{Path: p, Message: ve.Fields[f]})
		}
		writeValidation(w, out)
		return
	}
	s.invoiceError(w, r, err)
}

func (s *Server) refundsReady(w http.ResponseWriter) bool {
	if s.cfg.Refunds == nil {
		writeError(w, http.StatusServiceUnavailable, "refunds-unavailable", "refunds are not configured on this server")
		return false
	}
	return true
}
