package greenfield

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chainpay/chainpay/invoices"
)

// TestInvoiceErrorStaleConfig: a creation that kept meeting a changed store configuration
// (invoices.ErrStaleDraft, wrapped or not) is a 409 the client may retry, not a 500.
func TestInvoiceErrorStaleConfig(t *testing.T) {
	s := &Server{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	for _, err := range []error{invoices.ErrStaleDraft, fmt.Errorf("create: %w", invoices.ErrStaleDraft)} {
		rec := httptest.NewRecorder()
		s.invoiceError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/stores/x/invoices", nil), err)
		var p problem
		if rec.Code != http.StatusConflict || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code != "store-config-changed" {
			t.Fatalf("%v: %d %s, want 409 store-config-changed", err, rec.Code, rec.Body)
		}
	}
}
