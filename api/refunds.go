package api

import (
	"errors"
	"net/http"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
)

// typeRefundExceeds is the problem of a refund larger than what the invoice can still
// refund; its detail names the remaining refundable amount.
const typeRefundExceeds = "/problems/refund-exceeds-refundable"

// typeChainNotSynced is the problem of a refund asked for while a follower of the invoice's
// chains is not at its node's tip (refunds.NotSyncedError): retry later.
const typeChainNotSynced = "/problems/chain-not-synced"

// createRefundRequest is the body of POST /v1/invoices/{id}/refunds.
type createRefundRequest struct {
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	Asset         string `json:"asset"`
	RatePolicy    string `json:"rate_policy"`
	Rate          string `json:"rate"`
	FeeFromAmount bool   `json:"fee_from_amount"`
	Reason        string `json:"reason"`
	Destination   string `json:"destination"`
}

type failRefundRequest struct {
	Reason string `json:"reason"`
}

// refundsReady answers 503 when the server runs without refunds.
func (s *Server) refundsReady(w http.ResponseWriter) bool {
	if s.cfg.Refunds == nil {
		writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable, Detail: "refunds are not enabled on this server"})
		return false
	}
	return true
}

// refundError maps the refunds service's errors; it reports false for errors it does not
// know (the caller's mapping takes them).
func refundError(w http.ResponseWriter, err error) bool {
	var xe *refunds.ExceedsError
	switch {
	case errors.As(err, &xe):
		writeProblem(w, Problem{Type: typeRefundExceeds, Status: http.StatusUnprocessableEntity, Detail: xe.Error(),
			Errors: []FieldError{{Field: "amount", Detail: xe.Error()}}})
	case errors.Is(err, refunds.ErrNotFound):
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such refund"})
	case errors.Is(err, refunds.ErrNotSynced):
		w.Header().Set("Retry-After", "30")
		writeProblem(w, Problem{Type: typeChainNotSynced, Status: http.StatusServiceUnavailable, Detail: err.Error()})
	default:
		return false
	}
	return true
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	var req createRefundRequest
	raw, p := decodeBody(r, s.cfg.MaxBody, &req)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	k := keyFrom(r.Context())
	if s.replayed(w, r, k.MerchantID, raw) {
		return
	}
	draft, err := s.cfg.Refunds.Prepare(r.Context(), k.MerchantID, r.PathValue("id"), refunds.CreateRequest{
		Amount: req.Amount, Currency: req.Currency, Asset: req.Asset, RatePolicy: req.RatePolicy, Rate: req.Rate,
		FeeFromAmount: req.FeeFromAmount, Reason: req.Reason, Destination: req.Destination})
	if err != nil {
		if !s.replayed(w, r, k.MerchantID, raw) {
			s.invoiceError(w, r, err)
		}
		return
	}
	s.idempotent(w, r, k.MerchantID, raw, func(tx store.Tx) (int, any, error) {
		ref, err := s.cfg.Refunds.CreateTx(r.Context(), tx, draft)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, s.cfg.Refunds.View(ref), nil
	})
}

func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	ref, err := s.cfg.Refunds.Get(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Refunds.View(ref))
}

// listRefunds serves GET /v1/refunds and GET /v1/invoices/{id}/refunds.
func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	q := r.URL.Query()
	f := store.RefundFilter{MerchantID: keyFrom(r.Context()).MerchantID, InvoiceID: r.PathValue("id")}
	extra := []string{"status"}
	if f.InvoiceID == "" {
		extra = append(extra, "invoice_id")
		f.InvoiceID = q.Get("invoice_id")
	}
	limit, bad := pageQuery(q, extra...)
	if v := q.Get("status"); v != "" {
		switch v {
		case store.RefundPending, store.RefundClaimed, store.RefundSent, store.RefundCompleted, store.RefundCancelled, store.RefundFailed:
			f.Status = v
		default:
			bad = append(bad, FieldError{Field: "status", Detail: "must be one of pending, claimed, sent, completed, cancelled, failed"})
		}
	}
	if v := q.Get("cursor"); v != "" {
		t, id, ok := decodeCursorOf(v, "ref_")
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
	f.Limit = limit + 1
	rs, err := s.cfg.Refunds.List(r.Context(), f)
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	out := listJSON[refunds.View]{Object: "list", Data: []refunds.View{}}
	if len(rs) > limit {
		rs, out.HasMore = rs[:limit], true
	}
	for _, ref := range rs {
		out.Data = append(out.Data, s.cfg.Refunds.View(ref))
	}
	if out.HasMore {
		last := rs[len(rs)-1]
		c := encodeCursor(last.CreatedAt, last.ID)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cancelRefund(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	if _, p := decodeOptionalBody(r, s.cfg.MaxBody); p != nil {
		writeProblem(w, *p)
		return
	}
	s.refundChange(w, r, func(tx store.Tx, mid, id string) (store.Refund, error) {
		return s.cfg.Refunds.CancelTx(r.Context(), tx, mid, id)
	})
}

func (s *Server) failRefund(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	var req failRefundRequest
	if _, p := decodeBody(r, s.cfg.MaxBody, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	s.refundChange(w, r, func(tx store.Tx, mid, id string) (store.Refund, error) {
		return s.cfg.Refunds.FailTx(r.Context(), tx, mid, id, req.Reason)
	})
}

// refundChange runs a merchant's change of a refund in one transaction and answers the
// refund.
func (s *Server) refundChange(w http.ResponseWriter, r *http.Request, fn func(tx store.Tx, merchantID, id string) (store.Refund, error)) {
	var ref store.Refund
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) (err error) {
		ref, err = fn(tx, keyFrom(r.Context()).MerchantID, r.PathValue("id"))
		return err
	})
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Refunds.View(ref))
}

// refundAmounts are the refund figures of an invoice view.
func refundAmounts(d invoices.Details) (refunded, refundable string, ok bool) {
	b, err := refunds.Balance(d)
	if err != nil {
		return "", "", false
	}
	sc := b.Currency().Scale
	return money.FormatAmount(b.RefundedFiat, sc), money.FormatAmount(b.RemainingFiat, sc), true
}

type psbtJSON struct {
	Object     string       `json:"object"`
	PSBT       string       `json:"psbt"`
	NetworkFee string       `json:"network_fee_atomic"`
	Refund     refunds.View `json:"refund"`
}

type submitPSBTRequest struct {
	PSBT string `json:"psbt"`
}

// refundPSBT prepares (again) the unsigned PSBT of a claimed Bitcoin refund.
func (s *Server) refundPSBT(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	ref, err := s.cfg.Refunds.PreparePSBT(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.refundChainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, psbtJSON{Object: "refund_psbt", PSBT: ref.Prepared, NetworkFee: ref.NetworkFee.String(),
		Refund: s.cfg.Refunds.View(ref)})
}

// submitRefundPSBT finalises, checks and broadcasts the merchant's signed PSBT.
func (s *Server) submitRefundPSBT(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	var req submitPSBTRequest
	if _, p := decodeBody(r, s.cfg.MaxBody, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	ref, err := s.cfg.Refunds.SubmitPSBT(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"), req.PSBT)
	if err != nil {
		s.refundChainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Refunds.View(ref))
}

// refundTransaction answers the EIP-681 URI and unsigned transaction of a claimed EVM refund.
func (s *Server) refundTransaction(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	p, err := s.cfg.Refunds.PrepareEVM(r.Context(), keyFrom(r.Context()).MerchantID, r.PathValue("id"))
	if err != nil {
		s.refundChainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) refundChainError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, refunds.ErrNoBitcoin) {
		writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "this server has no Bitcoin node for refunds (CHAINPAY_BITCOIN_RPC): send the refund from your wallet, chainpay follows it"})
		return
	}
	s.invoiceError(w, r, err)
}
