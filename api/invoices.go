package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// createInvoiceRequest is the body of POST /v1/invoices.
type createInvoiceRequest struct {
	Amount           string          `json:"amount"`
	Currency         string          `json:"currency"`
	OrderID          string          `json:"order_id"`
	Metadata         json.RawMessage `json:"metadata"`
	ExpiresIn        *int64          `json:"expires_in"` // seconds
	Confirmations    map[string]int  `json:"confirmations"`
	PaymentMethods   []string        `json:"payment_methods"`
	RedirectURL      string          `json:"redirect_url"`
	TolerancePercent string          `json:"tolerance_percent"`
	ToleranceFloor   string          `json:"tolerance_floor"`
}

type invoiceJSON struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	Status           string          `json:"status"`
	Flags            []string        `json:"flags"`
	Amount           string          `json:"amount"`
	Currency         string          `json:"currency"`
	AmountPaid       string          `json:"amount_paid"`       // in Currency, at each option's locked rate
	AmountRefunded   string          `json:"amount_refunded"`   // completed refunds, in Currency
	AmountRefundable string          `json:"amount_refundable"` // received minus refunds not cancelled or failed
	OrderID          *string         `json:"order_id"`
	Metadata         json.RawMessage `json:"metadata"`
	RedirectURL      *string         `json:"redirect_url"`
	CheckoutURL      string          `json:"checkout_url"`
	TolerancePercent string          `json:"tolerance_percent"`
	ToleranceFloor   string          `json:"tolerance_floor"`
	CreatedAt        time.Time       `json:"created_at"`
	ExpiresAt        time.Time       `json:"expires_at"`
	MonitoringUntil  time.Time       `json:"monitoring_until"`
	SettledAt        *time.Time      `json:"settled_at"`
	ResolutionReason *string         `json:"resolution_reason"`
	PaymentOptions   []optionJSON    `json:"payment_options"`
}

type optionJSON struct {
	ID                    string    `json:"id"`
	PaymentMethod         string    `json:"payment_method"` // asset on network: "USDC-base"
	Asset                 string    `json:"asset"`
	Chain                 string    `json:"chain"`
	Network               string    `json:"network"`
	Contract              *string   `json:"contract"`
	Decimals              int32     `json:"decimals"`
	Address               string    `json:"address"`
	AmountDue             string    `json:"amount_due"`
	AmountDueAtomic       string    `json:"amount_due_atomic"`
	AmountRemaining       string    `json:"amount_remaining"`
	AmountRemainingAtomic string    `json:"amount_remaining_atomic"`
	Rate                  string    `json:"rate"`
	RateSource            string    `json:"rate_source"`
	RateAt                time.Time `json:"rate_at"`
	QuoteExpiresAt        time.Time `json:"quote_expires_at"`
	PaymentURI            string    `json:"payment_uri"`
	ConfirmationsRequired int       `json:"confirmations_required"`
}

type paymentJSON struct {
	ID           string    `json:"id"`
	Object       string    `json:"object"`
	OptionID     string    `json:"option_id"`
	Asset        string    `json:"asset"`
	Chain        string    `json:"chain"`
	TxID         string    `json:"txid"`
	OutputIndex  int64     `json:"output_index"`
	Address      string    `json:"address"`
	Amount       string    `json:"amount"`
	AmountAtomic string    `json:"amount_atomic"`
	AmountFiat   *string   `json:"amount_fiat"` // ledger.PaymentFiat in Currency, as the ledger books it
	Currency     string    `json:"currency"`
	Status       string    `json:"status"`
	BlockHeight  *int64    `json:"block_height"`
	BlockHash    *string   `json:"block_hash"`
	SeenAt       time.Time `json:"seen_at"`
	// ConfirmedAt is when the payment first reached its option's confirmations (the time of
	// its invoice.payment_confirmed event); null before. A reorg does not clear it.
	ConfirmedAt *time.Time `json:"confirmed_at"`
}

type eventJSON struct {
	ID        string          `json:"id"`
	Object    string          `json:"object"`
	Type      string          `json:"type"`
	InvoiceID string          `json:"invoice_id"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

type listJSON[T any] struct {
	Object     string  `json:"object"`
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) invoiceView(d invoices.Details) invoiceJSON {
	inv := d.Invoice
	scale := invoices.PriceScale(inv.Currency, d.Options)
	v := invoiceJSON{
		ID: inv.ID, Object: "invoice", Status: inv.Status, Flags: inv.Flags,
		Amount: money.FormatAmount(inv.Price, scale), Currency: inv.Currency,
		AmountPaid: money.FormatAmount(amountPaid(d), scale),
		OrderID:    strPtr(inv.OrderID), RedirectURL: strPtr(inv.RedirectURL),
		CheckoutURL:      s.cfg.PublicURL + "/i/" + inv.ID,
		TolerancePercent: inv.TolerancePercent, ToleranceFloor: money.FormatAmount(inv.ToleranceFloor, scale),
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt, MonitoringUntil: inv.MonitorUntil,
		SettledAt: inv.SettledAt, ResolutionReason: strPtr(inv.ResolutionReason),
		PaymentOptions: []optionJSON{},
	}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	v.AmountRefunded, v.AmountRefundable = money.FormatAmount(new(big.Int), scale), money.FormatAmount(new(big.Int), scale)
	if refunded, refundable, ok := refundAmounts(d); ok {
		v.AmountRefunded, v.AmountRefundable = refunded, refundable
	}
	if inv.Metadata != "" {
		v.Metadata = json.RawMessage(inv.Metadata)
	} else {
		v.Metadata = json.RawMessage("null")
	}
	for _, o := range d.Options {
		rem := d.Paid.Remaining[o.ID]
		if rem == nil {
			rem = o.AmountDue
		}
		v.PaymentOptions = append(v.PaymentOptions, optionJSON{
			ID: o.ID, PaymentMethod: invoices.MethodID(money.Asset{Code: o.Asset, Chain: o.Chain}),
			Asset: o.Asset, Chain: o.Chain, Network: o.Network, Contract: strPtr(o.Contract),
			Decimals: o.Scale, Address: o.Address,
			AmountDue: money.FormatAmount(o.AmountDue, o.Scale), AmountDueAtomic: o.AmountDue.String(),
			AmountRemaining: money.FormatAmount(rem, o.Scale), AmountRemainingAtomic: rem.String(),
			Rate: o.Rate, RateSource: o.RateSource, RateAt: o.RateAt, QuoteExpiresAt: o.QuoteExpiresAt,
			PaymentURI:            s.cfg.Invoices.PaymentURI(o, rem, "Invoice "+inv.ID),
			ConfirmationsRequired: o.Confirmations,
		})
	}
	return v
}

// amountPaid is the fiat value of the payments that count (in the mempool or confirmed,
// seen by the end of monitoring): the sum of each one's ledger.PaymentFiat, the rounding
// rule the ledger records and exports use too.
func amountPaid(d invoices.Details) *big.Int {
	sum := new(big.Int)
	for _, p := range d.Payments {
		if p.Status == store.PaymentRemoved || p.SeenAt.After(d.Invoice.MonitorUntil) {
			continue
		}
		if v := paymentFiat(d, p); v != nil {
			sum.Add(sum, v)
		}
	}
	return sum
}

// paymentFiat is ledger.PaymentFiat of p (nil when its option is unknown or unusable).
func paymentFiat(d invoices.Details, p store.Payment) *big.Int {
	for _, o := range d.Options {
		if o.ID == p.OptionID {
			v, err := ledger.PaymentFiat(d.Invoice, o, p.Amount)
			if err != nil {
				return nil
			}
			return v
		}
	}
	return nil
}

func paymentView(d invoices.Details, p store.Payment, scale int32) paymentJSON {
	v := paymentJSON{ID: p.ID, Object: "payment", OptionID: p.OptionID, Asset: p.Asset, Chain: p.Chain,
		TxID: p.TxID, OutputIndex: p.OutputIndex, Address: p.Address, Amount: money.FormatAmount(p.Amount, scale),
		AmountAtomic: p.Amount.String(), Status: p.Status, BlockHeight: p.BlockHeight, BlockHash: strPtr(p.BlockHash),
		SeenAt: p.SeenAt, ConfirmedAt: p.ConfirmedAt, Currency: d.Invoice.Currency}
	if f := paymentFiat(d, p); f != nil {
		s := money.FormatAmount(f, invoices.PriceScale(d.Invoice.Currency, d.Options))
		v.AmountFiat = &s
	}
	return v
}

// invoiceError maps service errors to problems.
func (s *Server) invoiceError(w http.ResponseWriter, r *http.Request, err error) {
	if refundError(w, err) {
		return
	}
	var (
		ve *invoices.ValidationError
		se *invoices.StateError
	)
	switch {
	case errors.As(err, &ve):
		p := Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity, Detail: "the request has invalid fields"}
		for _, f := range sortedKeys(ve.Fields) {
			p.Errors = append(p.Errors, FieldError{Field: f, Detail: ve.Fields[f]})
		}
		writeProblem(w, p)
	case errors.As(err, &se):
		writeProblem(w, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: se.Error()})
	case errors.Is(err, invoices.ErrNotFound):
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such invoice"})
	case errors.Is(err, invoices.ErrRatesUnavailable):
		w.Header().Set("Retry-After", "30")
		writeProblem(w, Problem{Type: typeRates, Status: http.StatusServiceUnavailable,
			Detail: "no fresh exchange rate is available, so no invoice can be priced now; retry shortly (" + err.Error() + ")"})
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) {
	var req createInvoiceRequest
	raw, p := decodeBody(r, s.cfg.MaxBody, &req)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	k := keyFrom(r.Context())
	cr := invoices.CreateRequest{Amount: req.Amount, Currency: req.Currency, OrderID: req.OrderID,
		Metadata: req.Metadata, Confirmations: req.Confirmations, PaymentMethods: req.PaymentMethods,
		RedirectURL: req.RedirectURL, TolerancePercent: req.TolerancePercent, ToleranceFloor: req.ToleranceFloor}
	if req.ExpiresIn != nil {
		// Out-of-range values are clamped just outside the accepted range so that Prepare
		// reports them together with every other field error.
		cr.ExpiresIn = time.Duration(min(max(*req.ExpiresIn, -1), 31*24*3600)) * time.Second
		if cr.ExpiresIn == 0 {
			cr.ExpiresIn = -time.Second
		}
	}
	if _, ok := idempotencyKey(r); !ok {
		writeProblem(w, badIdempotencyKey)
		return
	}
	// A retry of a request that was answered is prepared like a new one (no read of the
	// key before it), and its transaction meets the stored key: it replays the stored answer. When
	// Prepare fails, a key that holds a response still replays it, whatever validation or
	// quoting say now (rates down, wallets changed).
	for attempt := 1; ; attempt++ {
		draft, err := s.cfg.Invoices.Prepare(r.Context(), k.MerchantID, cr)
		if err != nil {
			if !s.replayed(w, r, k.MerchantID, raw) {
				s.invoiceError(w, r, err)
			}
			return
		}
		err = s.idempotent(w, r, k.MerchantID, raw, func(tx store.Tx) (int, any, error) {
			// Rendered once: the answer, and the webhook payload of the invoice.created event.
			d, err := s.cfg.Invoices.CreateTx(r.Context(), tx, draft, s.render)
			if err != nil {
				return 0, nil, err
			}
			return http.StatusCreated, d.Snapshot, nil
		})
		if err != nil && invoices.NotCommitted(err) {
			draft.Discard() // its addresses go to the next invoice
		}
		if !errors.Is(err, invoices.ErrStaleDraft) {
			return
		}
		s.cfg.Invoices.Forget(k.MerchantID)
		if attempt == invoices.MaxPrepareAttempts {
			writeProblem(w, Problem{Type: typeConflict, Status: http.StatusConflict,
				Detail: "this store's wallets or settings kept changing while the invoice was created; retry the request"})
			return
		}
	}
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Invoices.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.InvoiceFilter{MerchantID: keyFrom(r.Context()).MerchantID, Limit: 20}
	limit, bad := pageQuery(q, "status", "order_id", "created_from", "created_to")
	f.Limit = limit
	if v := q.Get("status"); v != "" {
		switch invoices.Status(v) {
		case invoices.StatusNew, invoices.StatusProcessing, invoices.StatusSettled, invoices.StatusExpired, invoices.StatusInvalid:
			f.Status = v
		default:
			bad = append(bad, FieldError{Field: "status", Detail: "must be one of new, processing, settled, expired, invalid"})
		}
	}
	f.OrderID = q.Get("order_id")
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"created_from", &f.CreatedFrom}, {"created_to", &f.CreatedTo}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad = append(bad, FieldError{Field: p.name, Detail: "must be an RFC 3339 time, e.g. 2026-11-25T00:00:00Z"})
				continue
			}
			*p.dst = &t
		}
	}
	if v := q.Get("cursor"); v != "" {
		t, id, ok := decodeCursor(v)
		if !ok {
			bad = append(bad, FieldError{Field: "cursor", Detail: "not a cursor this API returned"})
		} else {
			f.BeforeCreated, f.BeforeID = &t, id
		}
	}
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters", Errors: bad})
		return
	}
	f.Limit++ // one more tells whether there is a next page
	out := listJSON[invoiceJSON]{Object: "list", Data: []invoiceJSON{}}
	err := s.cfg.Store.View(r.Context(), func(tx store.Tx) error {
		ds, err := s.cfg.Invoices.ListTx(r.Context(), tx, f)
		if err != nil {
			return err
		}
		if len(ds) > limit {
			ds, out.HasMore = ds[:limit], true
		}
		for _, d := range ds {
			out.Data = append(out.Data, s.invoiceView(d))
		}
		if out.HasMore {
			last := ds[len(ds)-1].Invoice
			c := encodeCursor(last.CreatedAt, last.ID)
			out.NextCursor = &c
		}
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, bool) { return decodeCursorOf(c, "inv_") }

// decodeCursorOf decodes a list cursor whose id has prefix.
func decodeCursorOf(c, prefix string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(id, prefix) {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

func (s *Server) cancelInvoice(w http.ResponseWriter, r *http.Request) {
	k := keyFrom(r.Context())
	if _, p := decodeOptionalBody(r, s.cfg.MaxBody); p != nil {
		writeProblem(w, *p)
		return
	}
	var d invoices.Details
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) (err error) {
		d, err = s.cfg.Invoices.CancelTx(r.Context(), tx, k.MerchantID, r.PathValue("id"))
		return err
	})
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}

type resolveRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (s *Server) resolveInvoice(w http.ResponseWriter, r *http.Request) {
	var req resolveRequest
	if _, p := decodeBody(r, s.cfg.MaxBody, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	var bad []FieldError
	if req.Status != string(invoices.StatusSettled) && req.Status != string(invoices.StatusInvalid) {
		bad = append(bad, FieldError{Field: "status", Detail: "must be settled or invalid"})
	}
	if strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 500 {
		bad = append(bad, FieldError{Field: "reason", Detail: "required, at most 500 characters"})
	}
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity, Detail: "the request has invalid fields", Errors: bad})
		return
	}
	k := keyFrom(r.Context())
	var d invoices.Details
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) (err error) {
		d, err = s.cfg.Invoices.ResolveTx(r.Context(), tx, k.MerchantID, r.PathValue("id"), invoices.Status(req.Status), req.Reason)
		return err
	})
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.invoiceView(d))
}

func (s *Server) invoicePayments(w http.ResponseWriter, r *http.Request) {
	d, err := s.cfg.Invoices.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	scales := map[string]int32{}
	for _, o := range d.Options {
		scales[o.ID] = o.Scale
	}
	out := listJSON[paymentJSON]{Object: "list", Data: []paymentJSON{}}
	for _, p := range d.Payments {
		out.Data = append(out.Data, paymentView(d, p, scales[p.OptionID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) invoiceEvents(w http.ResponseWriter, r *http.Request) {
	evs, err := s.cfg.Invoices.Events(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	out := listJSON[eventJSON]{Object: "list", Data: []eventJSON{}}
	for _, e := range evs {
		out.Data = append(out.Data, eventJSON{ID: e.ID, Object: "event", Type: e.Type, InvoiceID: e.InvoiceID,
			CreatedAt: e.CreatedAt, Data: json.RawMessage(e.Data)})
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeOptionalBody accepts an empty body or an empty JSON object.
func decodeOptionalBody(r *http.Request, max int64) ([]byte, *Problem) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	var empty struct{}
	return decodeBody(r, max, &empty)
}

// idempotent runs fn in one transaction together with the Idempotency-Key bookkeeping: the
// first request with a key stores its response, in one write that travels with the commit
// of its effects; a retry with the same body replays it (Idempotent-Replayed: true); a
// different body is 409. A request whose key another request holds (committed, or in a
// transaction the key's write waits for) fails its own transaction with a conflict and is
// answered from the other's record, so concurrent requests with one key create once.
// Without the header fn simply runs in a transaction. Errors roll back and store nothing.
//
// It answers the request and returns the transaction's error (nil when it committed),
// except for invoices.ErrStaleDraft, which it leaves unanswered for the caller to retry.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, merchantID string, body []byte, fn func(store.Tx) (int, any, error)) error {
	key, ok := idempotencyKey(r)
	if !ok {
		writeProblem(w, badIdempotencyKey)
		return nil
	}
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
	var (
		status   int
		out      []byte
		replayed bool
		mismatch bool
	)
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) error {
		st, v, err := fn(tx)
		if err != nil {
			return err
		}
		var b []byte
		if raw, ok := v.(json.RawMessage); ok { // rendered by json.Marshal already
			b = slices.Clip(raw)
		} else if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		status, out = st, append(b, '\n')
		if key == "" {
			return nil
		}
		return tx.PutIdempotencyKey(r.Context(), store.IdempotencyRecord{MerchantID: merchantID, Key: key,
			RequestHash: sum[:], ResponseStatus: status, ResponseBody: out, CreatedAt: s.cfg.Now().UTC()})
	})
	answer := err
	if key != "" && errors.Is(err, store.ErrConflict) {
		var prev store.IdempotencyRecord
		perr := s.cfg.Store.View(r.Context(), func(tx store.Tx) (err error) {
			prev, err = tx.IdempotencyKey(r.Context(), merchantID, key)
			return err
		})
		switch {
		case perr == nil && string(prev.RequestHash) != string(sum[:]):
			answer, mismatch = nil, true
		case perr == nil:
			answer, status, out, replayed = nil, prev.ResponseStatus, prev.ResponseBody, true
		case !errors.Is(perr, store.ErrNotFound): // else the conflict was not the key's
			answer = perr
		}
	}
	switch {
	case errors.Is(answer, invoices.ErrStaleDraft):
		return err
	case answer != nil:
		s.invoiceError(w, r, answer)
	case mismatch:
		writeProblem(w, Problem{Type: typeIdempotency, Status: http.StatusConflict,
			Detail: "this Idempotency-Key was used with a different request body; use a new key for a new request"})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
	return err
}

// idempotencyKey returns the request's Idempotency-Key ("" when absent); ok is false when the
// header is present but not 1 to 255 visible ASCII characters (an empty header is not
// "absent": a client that meant to send a key must not silently create duplicates).
func idempotencyKey(r *http.Request) (key string, ok bool) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", true
	}
	key = vals[0]
	ok = len(vals) == 1 && key != "" && len(key) <= 255 &&
		!strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e })
	return key, ok
}

var badIdempotencyKey = Problem{Type: typeInvalidRequest, Status: http.StatusBadRequest,
	Detail: "Idempotency-Key must be one header of 1 to 255 visible ASCII characters (omit it to send no key)"}

// replayed answers the request and returns true when its Idempotency-Key is malformed (400)
// or already holds a response (replayed, or 409 for a different body). It changes nothing.
// A request with the key still in flight is waited for.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, merchantID string, body []byte) bool {
	key, ok := idempotencyKey(r)
	if !ok {
		writeProblem(w, badIdempotencyKey)
		return true
	}
	if key == "" {
		return false
	}
	prev, err := s.idempotencyRecord(r.Context(), merchantID, key)
	if err != nil {
		s.internal(w, r, err)
		return true
	}
	if prev == nil {
		return false
	}
	sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
	if string(prev.RequestHash) != string(sum[:]) {
		writeProblem(w, Problem{Type: typeIdempotency, Status: http.StatusConflict,
			Detail: "this Idempotency-Key was used with a different request body; use a new key for a new request"})
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(prev.ResponseStatus)
	_, _ = w.Write(prev.ResponseBody)
	return true
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
