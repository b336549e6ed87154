package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/rates"
)

// Rates is what GET /v1/rates needs: the current aggregated quote of a pair.
type Rates interface {
	Quote(ctx context.Context, p rates.Pair) (rates.Aggregate, error)
}

type rateSourceJSON struct {
	Source string    `json:"source"`
	Rate   string    `json:"rate"`
	At     time.Time `json:"at"`
}

type rateDroppedJSON struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type rateJSON struct {
	Object  string            `json:"object"`
	Base    string            `json:"base"`
	Quote   string            `json:"quote"`
	Rate    string            `json:"rate"`
	Method  string            `json:"method"`
	At      time.Time         `json:"at"`
	Sources []rateSourceJSON  `json:"sources"`
	Dropped []rateDroppedJSON `json:"dropped"`
}

func (s *Server) getRate(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Rates == nil {
		writeProblem(w, Problem{Type: typeRates, Status: http.StatusServiceUnavailable, Detail: "no rate service is configured"})
		return
	}
	q := r.URL.Query()
	base, quote := strings.TrimSpace(q.Get("base")), strings.TrimSpace(q.Get("quote"))
	var bad []FieldError
	if base == "" || strings.ToUpper(base) != base || len(base) > 12 {
		bad = append(bad, FieldError{Field: "base", Detail: "required: an upper-case asset code such as BTC"})
	}
	if _, ok := money.Currency(quote); !ok {
		bad = append(bad, FieldError{Field: "quote", Detail: "required: an ISO 4217 currency such as USD"})
	}
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters", Errors: bad})
		return
	}
	a, err := s.cfg.Rates.Quote(r.Context(), rates.Pair{Base: base, Quote: quote})
	switch {
	case errors.Is(err, rates.ErrUnsupportedPair):
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity, Detail: "no source quotes " + base + "/" + quote,
			Errors: []FieldError{{Field: "base", Detail: "not quoted against " + quote}}})
		return
	case errors.Is(err, rates.ErrUnavailable):
		w.Header().Set("Retry-After", "30")
		writeProblem(w, Problem{Type: typeRates, Status: http.StatusServiceUnavailable, Detail: err.Error()})
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	out := rateJSON{Object: "rate", Base: base, Quote: quote, Rate: a.Rate.String(), Method: a.Method, At: a.At.UTC(),
		Sources: []rateSourceJSON{}, Dropped: []rateDroppedJSON{}}
	for _, u := range a.Used {
		out.Sources = append(out.Sources, rateSourceJSON{Source: u.Source, Rate: u.Rate.String(), At: u.At.UTC()})
	}
	for _, d := range a.Dropped {
		out.Dropped = append(out.Dropped, rateDroppedJSON{Source: d.Source, Reason: string(d.Reason), Detail: d.Detail})
	}
	writeJSON(w, http.StatusOK, out)
}
