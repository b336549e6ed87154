package greenfield

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// createInvoiceRequest is Greenfield's CreateInvoiceRequest.
type createInvoiceRequest struct {
	Amount                *decimalText     `json:"amount"`
	Currency              *string          `json:"currency"`
	Metadata              json.RawMessage  `json:"metadata"`
	Checkout              *checkoutOptions `json:"checkout"`
	Receipt               json.RawMessage  `json:"receipt"`               // accepted, no receipt page
	AdditionalSearchTerms []string         `json:"additionalSearchTerms"` // accepted, no text search
}

// checkoutOptions is Greenfield's CheckoutOptions.
type checkoutOptions struct {
	SpeedPolicy           *string      `json:"speedPolicy"`
	PaymentMethods        []string     `json:"paymentMethods"`
	DefaultPaymentMethod  *string      `json:"defaultPaymentMethod"`
	LazyPaymentMethods    *bool        `json:"lazyPaymentMethods"`
	ExpirationMinutes     *decimalText `json:"expirationMinutes"`
	MonitoringMinutes     *decimalText `json:"monitoringMinutes"`
	PaymentTolerance      *decimalText `json:"paymentTolerance"`
	RedirectURL           *string      `json:"redirectURL"`
	RedirectAutomatically *bool        `json:"redirectAutomatically"`
	RequiresRefundEmail   *bool        `json:"requiresRefundEmail"`
	CheckoutType          *string      `json:"checkoutType"`
	DefaultLanguage       *string      `json:"defaultLanguage"`
}

// servicePaths maps the invoices service's field names to Greenfield's JSON paths.
var servicePaths = map[string]string{
	"amount": "amount", "currency": "currency", "order_id": "metadata.orderId", "metadata": "metadata",
	"expires_in": "checkout.expirationMinutes", "redirect_url": "checkout.redirectURL",
	"tolerance_percent": "checkout.paymentTolerance", "tolerance_floor": "checkout.paymentTolerance",
	"payment_methods": "checkout.paymentMethods", "confirmations": "checkout.speedPolicy",
}

// methodIndex maps the store's Greenfield payment method ids to its assets.
func methodIndex(assets []money.Asset) map[string]money.Asset {
	out := make(map[string]money.Asset, len(assets))
	for _, a := range assets {
		out[PaymentMethodID(a.Code, a.Chain)] = a
	}
	return out
}

// toCreateRequest validates a Greenfield request against the store's assets and converts
// it. The invoices service validates the rest (amount, currency, ranges) in Prepare.
func (s *Server) toCreateRequest(req createInvoiceRequest, assets []money.Asset) (invoices.CreateRequest, []fieldError) {
	var (
		out invoices.CreateRequest
		bad []fieldError
	)
	fail := func(path, msg string) { bad = append(bad, fieldError{Path: path, Message: msg}) }
	switch {
	case req.Amount == nil || (req.Amount.ok && strings.TrimSpace(req.Amount.s) == ""):
		fail("amount", "required: chainpay has no top-up invoices, send the amount to pay")
	case !req.Amount.ok:
		fail("amount", "must be a decimal string or number, e.g. \"25.00\"")
	default:
		out.Amount = req.Amount.s
	}
	if req.Currency == nil || strings.TrimSpace(*req.Currency) == "" {
		fail("currency", "required: chainpay stores have no default currency")
	} else {
		out.Currency = strings.ToUpper(strings.TrimSpace(*req.Currency))
	}
	orderID := ""
	if m := bytes.TrimSpace(req.Metadata); len(m) > 0 && !bytes.Equal(m, []byte("null")) {
		var fields map[string]json.RawMessage
		if m[0] != '{' || json.Unmarshal(m, &fields) != nil {
			fail("metadata", "must be a JSON object")
		} else {
			out.Metadata = req.Metadata
			if raw, ok := fields["orderId"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				var str string
				var num json.Number
				switch {
				case json.Unmarshal(raw, &str) == nil:
					orderID = str
				case json.Unmarshal(raw, &num) == nil:
					orderID = num.String()
				default:
					fail("metadata.orderId", "must be a string")
				}
			}
		}
	}
	out.OrderID = orderID
	c := req.Checkout
	if c == nil {
		c = &checkoutOptions{}
	}
	byID := methodIndex(assets)
	hasBitcoin := slices.ContainsFunc(assets, func(a money.Asset) bool { return a.Chain == money.ChainBitcoin })
	if c.SpeedPolicy != nil {
		n, ok := speedPolicies[*c.SpeedPolicy]
		switch {
		case !ok:
			fail("checkout.speedPolicy", "must be one of HighSpeed, MediumSpeed, LowMediumSpeed, LowSpeed")
		case hasBitcoin:
			// BTCPay's speed policy counts Bitcoin confirmations; EVM chains keep their
			// finality rule.
			out.Confirmations = map[string]int{money.ChainBitcoin: n}
		}
	}
	for i, id := range c.PaymentMethods {
		path := fmt.Sprintf("checkout.paymentMethods[%d]", i)
		if v, ok := legacyMethodIDs[id]; ok {
			id = v
		}
		a, ok := byID[id]
		switch {
		case ok:
			// The asset on its network: USDC-BASE offers USDC on base, not on ethereum.
			if m := invoices.MethodID(a); !slices.Contains(out.PaymentMethods, m) {
				out.PaymentMethods = append(out.PaymentMethods, m)
			}
		case strings.Contains(id, "-LN") || strings.Contains(id, "Lightning"):
			fail(path, fmt.Sprintf("%q: chainpay does not support Lightning", id))
		default:
			have := mapKeys(byID)
			sort.Strings(have)
			fail(path, fmt.Sprintf("%q is not a payment method of this store (it has %s)", id, strings.Join(have, ", ")))
		}
	}
	if c.ExpirationMinutes != nil {
		n, err := wholeNumber(*c.ExpirationMinutes)
		if err != nil || n < 1 || n > 30*24*60 {
			fail("checkout.expirationMinutes", "must be a whole number of minutes from 1 to 43200 (30 days)")
		} else {
			out.ExpiresIn = time.Duration(n) * time.Minute
		}
	}
	if c.MonitoringMinutes != nil {
		n, err := wholeNumber(*c.MonitoringMinutes)
		if err != nil || n != s.cfg.MonitoringMinutes {
			fail("checkout.monitoringMinutes", fmt.Sprintf("chainpay monitors every invoice for %d minutes after expiry (a server setting); "+
				"omit the field or send %d", s.cfg.MonitoringMinutes, s.cfg.MonitoringMinutes))
		}
	}
	if c.PaymentTolerance != nil {
		d, err := decimal.NewFromString(c.PaymentTolerance.s)
		if !c.PaymentTolerance.ok || err != nil || d.IsNegative() || d.GreaterThanOrEqual(decimal.NewFromInt(100)) {
			fail("checkout.paymentTolerance", "must be a percentage from 0 to below 100")
		} else {
			out.TolerancePercent = d.String()
		}
	}
	if c.RedirectURL != nil && *c.RedirectURL != "" {
		u := *c.RedirectURL
		if strings.Contains(u, "{InvoiceId}") {
			fail("checkout.redirectURL", "the {InvoiceId} placeholder is not supported (chainpay's checkout returns to the URL as given); {OrderId} is")
		}
		out.RedirectURL = strings.ReplaceAll(u, "{OrderId}", url.QueryEscape(orderID))
	}
	if c.CheckoutType != nil && *c.CheckoutType != "V1" && *c.CheckoutType != "V2" {
		fail("checkout.checkoutType", "must be V1, V2 or null")
	}
	if c.DefaultLanguage != nil && len(*c.DefaultLanguage) > 20 {
		fail("checkout.defaultLanguage", "at most 20 characters (a language code such as en-US)")
	}
	if c.DefaultPaymentMethod != nil && *c.DefaultPaymentMethod != "" {
		id := *c.DefaultPaymentMethod
		if v, ok := legacyMethodIDs[id]; ok {
			id = v
		}
		if _, ok := byID[id]; !ok {
			fail("checkout.defaultPaymentMethod", fmt.Sprintf("%q is not a payment method of this store", *c.DefaultPaymentMethod))
		}
	}
	if r := bytes.TrimSpace(req.Receipt); len(r) > 0 && r[0] != '{' && !bytes.Equal(r, []byte("null")) {
		fail("receipt", "must be an object")
	}
	return out, bad
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wholeNumber reads a decimal that must be an integer.
func wholeNumber(d decimalText) (int64, error) {
	if !d.ok {
		return 0, errors.New("not a number")
	}
	v, err := decimal.NewFromString(d.s)
	if err != nil || !v.IsInteger() || v.Abs().GreaterThan(decimal.NewFromInt(1<<40)) {
		return 0, errors.New("not a whole number")
	}
	return v.IntPart(), nil
}

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) {
	var req createInvoiceRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	k := keyFrom(r.Context())
	assets, err := s.cfg.Invoices.Assets(r.Context(), k.MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	cr, bad := s.toCreateRequest(req, assets)
	if len(bad) > 0 {
		writeValidation(w, bad)
		return
	}
	d, err := s.cfg.Invoices.Create(r.Context(), k.MerchantID, cr)
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	// Greenfield answers 200 (not 201) to a create: the PHP client checks for exactly 200.
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}

// invoiceError maps the invoice service's errors to Greenfield errors.
func (s *Server) invoiceError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve *invoices.ValidationError
		se *invoices.StateError
	)
	switch {
	case errors.As(err, &ve):
		var out []fieldError
		keys := mapKeys(ve.Fields)
		sort.Strings(keys)
		for _, f := range keys {
			path, ok := servicePaths[f]
			if !ok {
				path = f
			}
			msg := ve.Fields[f]
			if f == "expires_in" {
				msg = "must be from 1 to 43200 minutes (30 days)"
			}
			out = append(out, fieldError{Path: path, Message: msg})
		}
		writeValidation(w, out)
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "invoice-state-invalid", se.Error())
	case errors.Is(err, invoices.ErrNotFound):
		writeError(w, http.StatusNotFound, "invoice-not-found", "no such invoice in this store")
	case errors.Is(err, invoices.ErrStaleDraft): // Create prepared it three times
		writeError(w, http.StatusConflict, "store-config-changed",
			"this store's wallets or settings kept changing while the invoice was created; retry the request")
	case errors.Is(err, invoices.ErrRatesUnavailable):
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "rates-unavailable",
			"no fresh exchange rate is available, so no invoice can be priced now; retry shortly")
	default:
		s.internal(w, r, err)
	}
}

// invoiceJSON is Greenfield's InvoiceData.
type invoiceJSON struct {
	ID                                string          `json:"id"`
	StoreID                           string          `json:"storeId"`
	Amount                            string          `json:"amount"`
	Currency                          string          `json:"currency"`
	Type                              string          `json:"type"`
	CheckoutLink                      string          `json:"checkoutLink"`
	CreatedTime                       int64           `json:"createdTime"`
	ExpirationTime                    int64           `json:"expirationTime"`
	MonitoringExpiration              int64           `json:"monitoringExpiration"`
	Status                            string          `json:"status"`
	AdditionalStatus                  string          `json:"additionalStatus"`
	AvailableStatusesForManualMarking []string        `json:"availableStatusesForManualMarking"`
	Archived                          bool            `json:"archived"`
	Metadata                          json.RawMessage `json:"metadata"`
	Checkout                          checkoutJSON    `json:"checkout"`
	Receipt                           receiptJSON     `json:"receipt"`
}

type checkoutJSON struct {
	SpeedPolicy           *string     `json:"speedPolicy"`
	PaymentMethods        []string    `json:"paymentMethods"`
	DefaultPaymentMethod  *string     `json:"defaultPaymentMethod"`
	ExpirationMinutes     int64       `json:"expirationMinutes"`
	MonitoringMinutes     int64       `json:"monitoringMinutes"`
	PaymentTolerance      json.Number `json:"paymentTolerance"`
	RedirectURL           *string     `json:"redirectURL"`
	RedirectAutomatically bool        `json:"redirectAutomatically"`
	DefaultLanguage       *string     `json:"defaultLanguage"`
}

type receiptJSON struct {
	Enabled bool `json:"enabled"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// metadataOf is the invoice's metadata object, with orderId added from chainpay's order_id
// when the metadata lacks it (invoices created over chainpay's own API).
func metadataOf(inv store.Invoice) json.RawMessage {
	fields := map[string]json.RawMessage{}
	if inv.Metadata != "" {
		if err := json.Unmarshal([]byte(inv.Metadata), &fields); err != nil {
			return json.RawMessage(inv.Metadata)
		}
	}
	if _, ok := fields["orderId"]; !ok && inv.OrderID != "" {
		b, _ := json.Marshal(inv.OrderID)
		fields["orderId"] = b
	}
	b, _ := json.Marshal(fields)
	return b
}

func (s *Server) invoiceView(d invoices.Details) invoiceJSON {
	inv := d.Invoice
	v := invoiceJSON{ID: inv.ID, StoreID: inv.MerchantID, Amount: money.FormatAmount(inv.Price, invoices.PriceScale(inv.Currency, d.Options)),
		Currency: inv.Currency, Type: "Standard", CheckoutLink: s.cfg.PublicURL + "/i/" + inv.ID,
		CreatedTime: inv.CreatedAt.Unix(), ExpirationTime: inv.ExpiresAt.Unix(), MonitoringExpiration: inv.MonitorUntil.Unix(),
		Status: invoiceStatus(inv.Status), AdditionalStatus: additionalStatus(inv.Flags), Metadata: metadataOf(inv),
		AvailableStatusesForManualMarking: []string{}}
	for _, st := range []string{"Settled", "Invalid"} {
		if st != v.Status {
			v.AvailableStatusesForManualMarking = append(v.AvailableStatusesForManualMarking, st)
		}
	}
	c := checkoutJSON{PaymentMethods: []string{}, ExpirationMinutes: int64(inv.ExpiresAt.Sub(inv.CreatedAt) / time.Minute),
		MonitoringMinutes: int64(inv.MonitorUntil.Sub(inv.ExpiresAt) / time.Minute), PaymentTolerance: json.Number("0"),
		RedirectURL: strPtr(inv.RedirectURL), RedirectAutomatically: inv.RedirectURL != ""}
	if p, err := decimal.NewFromString(inv.TolerancePercent); err == nil {
		c.PaymentTolerance = json.Number(p.String())
	}
	var confs map[string]int
	if json.Unmarshal([]byte(inv.Confirmations), &confs) == nil {
		if n, ok := confs[money.ChainBitcoin]; ok {
			c.SpeedPolicy = strPtr(speedPolicyOf(n))
		}
	}
	for _, o := range d.Options {
		c.PaymentMethods = append(c.PaymentMethods, PaymentMethodID(o.Asset, o.Chain))
	}
	v.Checkout = c
	return v
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Invoices.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}

// paymentJSON is Greenfield's Payment.
type paymentJSON struct {
	ID           string `json:"id"`
	ReceivedDate int64  `json:"receivedDate"`
	Value        string `json:"value"`
	Fee          string `json:"fee"`
	Status       string `json:"status"` // Invalid, Processing or Settled
	Destination  string `json:"destination"`
	TxID         string `json:"transactionId"` // not in Greenfield's schema; plugins read it
}

// invoicePaymentMethodJSON is Greenfield's InvoicePaymentMethodDataModel with both BTCPay
// 1.x and 2.0 names (paymentMethod/paymentMethodId, cryptoCode/currency,
// networkFee/paymentMethodFee): clients read either.
type invoicePaymentMethodJSON struct {
	PaymentMethod     string         `json:"paymentMethod"`
	PaymentMethodID   string         `json:"paymentMethodId"`
	CryptoCode        string         `json:"cryptoCode"`
	Currency          string         `json:"currency"`
	Destination       string         `json:"destination"`
	PaymentLink       string         `json:"paymentLink"`
	Rate              string         `json:"rate"`
	PaymentMethodPaid string         `json:"paymentMethodPaid"`
	TotalPaid         string         `json:"totalPaid"`
	Due               string         `json:"due"`
	Amount            string         `json:"amount"`
	NetworkFee        string         `json:"networkFee"`
	PaymentMethodFee  string         `json:"paymentMethodFee"`
	Payments          []paymentJSON  `json:"payments"`
	Activated         bool           `json:"activated"`
	AdditionalData    map[string]any `json:"additionalData"`
}

// counts reports whether a payment counts toward the invoice (the invoices package's rule:
// not removed, seen by the end of monitoring).
func counts(inv store.Invoice, p store.Payment) bool {
	return p.Status != store.PaymentRemoved && !p.SeenAt.After(inv.MonitorUntil)
}

func paymentStatus(p store.Payment, o store.PaymentOption, tips map[string]int64) string {
	if p.Status == store.PaymentRemoved {
		return "Invalid"
	}
	confs := 0
	if tip := tips[p.Chain]; p.Status == store.PaymentConfirmed && p.BlockHeight != nil && tip >= *p.BlockHeight {
		confs = int(tip - *p.BlockHeight + 1)
	}
	if confs >= o.Confirmations {
		return "Settled"
	}
	return "Processing"
}

func (s *Server) paymentMethodsView(d invoices.Details, onlyAccounted bool) []invoicePaymentMethodJSON {
	out := []invoicePaymentMethodJSON{}
	fraction := d.Paid.Fraction
	if fraction == nil {
		fraction = new(big.Rat)
	}
	for _, o := range d.Options {
		id := PaymentMethodID(o.Asset, o.Chain)
		paid := new(big.Int)
		pays := []paymentJSON{}
		for _, p := range d.Payments {
			if p.OptionID != o.ID {
				continue
			}
			if counts(d.Invoice, p) {
				paid.Add(paid, p.Amount)
			} else if onlyAccounted {
				continue
			}
			pays = append(pays, paymentJSON{ID: p.ID, ReceivedDate: p.SeenAt.Unix(), Value: money.FormatAmount(p.Amount, o.Scale),
				Fee: "0", Status: paymentStatus(p, o, d.Tips), Destination: p.Address, TxID: p.TxID})
		}
		// What all options paid, in this option's asset: Fraction × AmountDue, rounded down.
		tp := new(big.Rat).Mul(fraction, new(big.Rat).SetInt(o.AmountDue))
		totalPaid := new(big.Int).Quo(tp.Num(), tp.Denom())
		due := new(big.Int).Sub(o.AmountDue, totalPaid)
		rem := d.Paid.Remaining[o.ID]
		if rem == nil {
			rem = o.AmountDue
		}
		out = append(out, invoicePaymentMethodJSON{PaymentMethod: id, PaymentMethodID: id, CryptoCode: o.Asset, Currency: o.Asset,
			Destination: o.Address, PaymentLink: s.cfg.Invoices.PaymentURI(o, rem, "Invoice "+d.Invoice.ID), Rate: o.Rate,
			PaymentMethodPaid: money.FormatAmount(paid, o.Scale), TotalPaid: money.FormatAmount(totalPaid, o.Scale),
			Due: money.FormatAmount(due, o.Scale), Amount: money.FormatAmount(o.AmountDue, o.Scale),
			NetworkFee: "0", PaymentMethodFee: "0", Payments: pays, Activated: true, AdditionalData: map[string]any{}})
	}
	return out
}

func (s *Server) invoicePaymentMethods(w http.ResponseWriter, r *http.Request) {
	only := true
	if v := r.URL.Query().Get("onlyAccountedPayments"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeValidation(w, []fieldError{{Path: "onlyAccountedPayments", Message: "must be true or false"}})
			return
		}
		only = b
	}
	d, err := s.cfg.Invoices.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.paymentMethodsView(d, only))
}

type markRequest struct {
	Status *string `json:"status"`
}

// markInvoice is POST .../invoices/{id}/status: the merchant's decision, chainpay's resolve.
func (s *Server) markInvoice(w http.ResponseWriter, r *http.Request) {
	var req markRequest
	if e := decodeBody(r, s.cfg.MaxBody, &req); e != nil {
		e.write(w)
		return
	}
	var to invoices.Status
	switch {
	case req.Status != nil && *req.Status == "Settled":
		to = invoices.StatusSettled
	case req.Status != nil && *req.Status == "Invalid":
		to = invoices.StatusInvalid
	default:
		writeValidation(w, []fieldError{{Path: "status", Message: "must be Settled or Invalid"}})
		return
	}
	k := keyFrom(r.Context())
	reason := fmt.Sprintf("marked %s through the Greenfield API (key %s)", *req.Status, k.ID)
	var d invoices.Details
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) (err error) {
		d, err = s.cfg.Invoices.ResolveTx(r.Context(), tx, k.MerchantID, r.PathValue("id"), to, reason)
		return err
	})
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}
