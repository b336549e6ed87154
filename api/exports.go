package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/chainpay/chainpay/export"
)

// exportSettlements streams GET /v1/exports/settlements: the key's store's ledger records
// settled in [from, to) in the requested format. Everything that can be wrong with the
// request is checked before the first byte (400 naming the parameter); the body is then
// written and flushed page by page. A failure after the first byte aborts the response, so
// the client sees a broken transfer, never a complete-looking truncated file.
func (s *Server) exportSettlements(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	qv := r.URL.Query()
	var bad []FieldError
	addBad := func(err error) {
		var pe *export.ParamError
		if errors.As(err, &pe) {
			bad = append(bad, FieldError{Field: pe.Param, Detail: pe.Detail})
		}
	}
	format, err := export.ParseFormat(qv.Get("format"))
	addBad(err)
	period, err := export.ParsePeriod(qv.Get("from"), qv.Get("to"))
	addBad(err)
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters", Errors: bad})
		return
	}
	ex := s.cfg.Exports
	if ex == nil {
		ex = export.New(s.cfg.Store, export.Config{Now: s.cfg.Now})
	}
	k := keyFrom(ctx)
	q, err := ex.Prepare(ctx, export.Query{MerchantID: k.MerchantID, Period: period, Format: format, Currency: qv.Get("currency")})
	if export.IsParamError(err) {
		addBad(err)
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: err.Error(), Errors: bad})
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", format.MediaType())
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="chainpay-settlements-%s-%s-%s.%s"`,
		format, period.From.Format("20060102T150405Z"), period.To.Format("20060102T150405Z"), format.Ext()))
	h.Set("Chainpay-Export-As-Of", q.AsOf.Format("2006-01-02T15:04:05.000000Z"))
	cw := &countingWriter{w: w, rc: http.NewResponseController(w)}
	sum, err := ex.Write(ctx, cw, q)
	if err == nil {
		return
	}
	if cw.n == 0 { // nothing sent yet: still time for a problem
		h.Del("Content-Disposition")
		h.Del("Chainpay-Export-As-Of")
		s.internal(w, r, err)
		return
	}
	if ctx.Err() == nil {
		s.cfg.Logger.Error("export aborted mid-stream", "store", k.MerchantID, "format", format, "records", sum.Records, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// countingWriter counts the bytes handed to the response and flushes it on request.
type countingWriter struct {
	w  io.Writer
	rc *http.ResponseController
	n  int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Flush sends what is buffered to the client (export.Exporter calls it after every page).
func (c *countingWriter) Flush() error {
	if c.n == 0 {
		return nil // keep the status open until the first page is written
	}
	return c.rc.Flush()
}
