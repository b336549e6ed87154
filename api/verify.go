package api

import (
	"context"
	"math/big"
	"net/http"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

type bookingJSON struct {
	Currency  string `json:"currency"`
	Applied   string `json:"applied"`
	Unapplied string `json:"unapplied"`
	Refunded  string `json:"refunded"`
}

type differenceJSON struct {
	PaymentID *string     `json:"payment_id"`
	RefundID  *string     `json:"refund_id"`
	InvoiceID string      `json:"invoice_id"`
	Expected  bookingJSON `json:"expected"`
	Enqueued  bookingJSON `json:"enqueued"`
	Booked    bookingJSON `json:"booked"`
	Reason    string      `json:"reason"`
}

type verificationJSON struct {
	Object      string           `json:"object"`
	Against     string           `json:"against"`
	OK          bool             `json:"ok"`
	Differences []differenceJSON `json:"differences"`
}

func bookingView(b ledger.Booking) bookingJSON {
	f := func(v *big.Int) string {
		if c, ok := money.Currency(b.Currency); ok {
			return money.FormatAmount(v, c.Scale)
		}
		return v.String()
	}
	return bookingJSON{Currency: b.Currency, Applied: f(b.Applied), Unapplied: f(b.Unapplied), Refunded: f(b.Refunded)}
}

// verifyLedger recomputes the books invariant for the key's store (ledger.Verify) and lists
// every payment whose books differ. against=journal (default) compares with the built-in
// journal and the outbox; against=outbox only with what chainpay enqueued (an external sink).
func (s *Server) verifyLedger(w http.ResponseWriter, r *http.Request) {
	against := r.URL.Query().Get("against")
	verify := map[string]func(context.Context, store.Store, string) ([]ledger.Difference, error){
		"": ledger.Verify, "journal": ledger.Verify, "outbox": ledger.VerifyEnqueued}[against]
	if verify == nil {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters",
			Errors: []FieldError{{Field: "against", Detail: "journal or outbox"}}})
		return
	}
	if against == "" {
		against = "journal"
	}
	diffs, err := verify(r.Context(), s.cfg.Store, keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := verificationJSON{Object: "ledger_verification", Against: against, OK: len(diffs) == 0, Differences: []differenceJSON{}}
	for _, d := range diffs {
		out.Differences = append(out.Differences, differenceJSON{PaymentID: strPtr(d.PaymentID), RefundID: strPtr(d.RefundID), InvoiceID: d.InvoiceID,
			Expected: bookingView(d.Expected), Enqueued: bookingView(d.Enqueued), Booked: bookingView(d.Booked), Reason: d.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}
