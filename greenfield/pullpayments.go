package greenfield

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
)

// Pull payments after their creation (createPullPayment, refundInvoice): every chainpay
// refund of the store is one pull payment, archived when it was cancelled; its one payout
// is the refund once the customer claimed it. See docs/greenfield.md "Refunds".

// pullPaymentOf renders a stored refund as PullPaymentData. name is shown when the caller
// may see the refund's reason (the store's own key); the amount is in the invoice's
// currency (the create answer may have named the asset: the refund does not remember
// which one was asked).
func (s *Server) pullPaymentOf(ref store.Refund, withName bool) pullPaymentJSON {
	v := s.cfg.Refunds.View(ref)
	p := pullPaymentJSON{ID: ref.ID, Currency: v.Currency, Amount: v.Amount, BOLT11Expiration: "30",
		Archived: ref.Status == store.RefundCancelled, ViewLink: s.cfg.PublicURL + "/r/" + ref.ID,
		StartsAt: ref.CreatedAt.Unix(), PaymentMethods: []string{PaymentMethodID(ref.Asset, ref.Chain)}}
	if withName {
		p.Name = ref.Reason
	}
	return p
}

// listPullPayments serves GET stores/{storeId}/pull-payments: the store's refunds, newest
// first, without the cancelled (archived) ones unless includeArchived=true (a query
// parameter, as BTCPay reads it; the PHP client sends it as a JSON body, also accepted).
func (s *Server) listPullPayments(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	include := false
	if q := r.URL.Query().Get("includeArchived"); q != "" {
		v, err := strconv.ParseBool(q)
		if err != nil {
			writeValidation(w, []fieldError{{Path: "includeArchived", Message: "must be true or false"}})
			return
		}
		include = v
	}
	if r.ContentLength != 0 {
		var body struct {
			IncludeArchived *bool `json:"includeArchived"`
		}
		if e := decodeBody(r, s.cfg.MaxBody, &body); e != nil {
			e.write(w)
			return
		}
		if body.IncludeArchived != nil {
			include = include || *body.IncludeArchived
		}
	}
	mid := keyFrom(r.Context()).MerchantID
	out := []pullPaymentJSON{}
	f := store.RefundFilter{MerchantID: mid, Limit: 200}
	for {
		page, err := s.cfg.Refunds.List(r.Context(), f)
		if err != nil {
			s.invoiceError(w, r, err)
			return
		}
		for _, ref := range page {
			if include || ref.Status != store.RefundCancelled {
				out = append(out, s.pullPaymentOf(ref, true))
			}
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		at := last.CreatedAt
		f.BeforeCreated, f.BeforeID = &at, last.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// publicRefund reads the refund of a pull payment id for the public routes; it answers 404
// in Greenfield's shape itself.
func (s *Server) publicRefund(w http.ResponseWriter, r *http.Request) (store.Refund, bool) {
	if !s.refundsReady(w) {
		return store.Refund{}, false
	}
	ref, err := s.cfg.Refunds.Get(r.Context(), "", r.PathValue("pullPaymentId"))
	if errors.Is(err, refunds.ErrNotFound) {
		writeError(w, http.StatusNotFound, "pullpayment-not-found", "no such pull payment")
		return store.Refund{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return store.Refund{}, false
	}
	return ref, true
}

// getPullPayment serves GET pull-payments/{pullPaymentId}. Like BTCPay's, it needs no key:
// whoever has the id has the claim link too. The name (the merchant's refund reason) is
// left out; the store-scoped list shows it.
func (s *Server) getPullPayment(w http.ResponseWriter, r *http.Request) {
	if ref, ok := s.publicRefund(w, r); ok {
		writeJSON(w, http.StatusOK, s.pullPaymentOf(ref, false))
	}
}

// archivePullPayment serves DELETE stores/{storeId}/pull-payments/{pullPaymentId}: it
// cancels the refund if nothing was sent for it yet (pending or claimed); archiving an
// archived one again is a no-op. A refund that was sent, completed or failed cannot be
// archived: 400 pullpayment-not-archivable, nothing changes.
func (s *Server) archivePullPayment(w http.ResponseWriter, r *http.Request) {
	if !s.refundsReady(w) {
		return
	}
	mid, id := keyFrom(r.Context()).MerchantID, r.PathValue("pullPaymentId")
	err := s.cfg.Store.Tx(r.Context(), func(tx store.Tx) error {
		ref, err := s.cfg.Refunds.GetTx(r.Context(), tx, mid, id)
		if err != nil || ref.Status == store.RefundCancelled {
			return err
		}
		_, err = s.cfg.Refunds.CancelTx(r.Context(), tx, mid, id)
		return err
	})
	var se *invoices.StateError
	switch {
	case err == nil:
		s.cfg.Logger.Info("greenfield pull payment archived", "refund", id, "key", keyFrom(r.Context()).ID)
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, refunds.ErrNotFound):
		writeError(w, http.StatusNotFound, "pullpayment-not-found", "no such pull payment in this store")
	case errors.As(err, &se):
		writeError(w, http.StatusBadRequest, "pullpayment-not-archivable",
			"this pull payment's refund was already sent or given up, so it cannot be archived (cancelled): "+se.Error())
	default:
		s.internal(w, r, err)
	}
}

// payoutJSON is Greenfield's PayoutData: the 2.0 names (payoutMethodId, originalAmount, ...)
// and the older ones the PHP client reads (paymentMethod, cryptoCode, amount,
// paymentMethodAmount).
type payoutJSON struct {
	ID                  string  `json:"id"`
	Revision            int64   `json:"revision"`
	PullPaymentID       string  `json:"pullPaymentId"`
	Date                int64   `json:"date"`
	Destination         string  `json:"destination"`
	OriginalAmount      string  `json:"originalAmount"`
	OriginalCurrency    string  `json:"originalCurrency"`
	PayoutAmount        string  `json:"payoutAmount"`
	PayoutCurrency      string  `json:"payoutCurrency"`
	PayoutMethodID      string  `json:"payoutMethodId"`
	Amount              string  `json:"amount"`
	PaymentMethod       string  `json:"paymentMethod"`
	CryptoCode          string  `json:"cryptoCode"`
	PaymentMethodAmount string  `json:"paymentMethodAmount"`
	State               string  `json:"state"`
	PaymentProof        any     `json:"paymentProof"`
	TransactionID       *string `json:"transactionId,omitempty"`
}

// payoutState maps a claimed refund's status to a payout state.
func payoutState(status string) string {
	switch status {
	case store.RefundClaimed:
		return "AwaitingPayment" // the merchant's wallet sends it (chainpay holds no keys)
	case store.RefundSent:
		return "InProgress"
	case store.RefundCompleted:
		return "Completed"
	default: // cancelled, failed
		return "Cancelled"
	}
}

// listPayouts serves GET pull-payments/{pullPaymentId}/payouts (public, as BTCPay's): the
// claimed refund as its one payout; none before the customer claims it. A cancelled or
// failed payout is listed only with includeCancelled=true.
func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.publicRefund(w, r)
	if !ok {
		return
	}
	includeCancelled, _ := strconv.ParseBool(r.URL.Query().Get("includeCancelled"))
	out := []payoutJSON{}
	if ref.Destination != "" && ref.ClaimedAt != nil &&
		(includeCancelled || (ref.Status != store.RefundCancelled && ref.Status != store.RefundFailed)) {
		v := s.cfg.Refunds.View(ref)
		method := PaymentMethodID(ref.Asset, ref.Chain)
		asset := money.FormatAmount(ref.AmountAtomic, ref.Scale)
		p := payoutJSON{ID: ref.ID, PullPaymentID: ref.ID, Date: ref.ClaimedAt.Unix(), Destination: ref.Destination,
			OriginalAmount: v.Amount, OriginalCurrency: v.Currency, PayoutAmount: asset, PayoutCurrency: ref.Asset,
			PayoutMethodID: method, Amount: v.Amount, PaymentMethod: method, CryptoCode: ref.Asset, PaymentMethodAmount: asset,
			State: payoutState(ref.Status), Revision: int64(ref.Version)}
		if ref.TxID != "" {
			txid := ref.TxID
			p.TransactionID = &txid
			p.PaymentProof = map[string]any{"proofType": "PayoutTransactionOnChainBlob", "transactionId": txid}
		}
		out = append(out, p)
	}
	writeJSON(w, http.StatusOK, out)
}
