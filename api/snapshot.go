package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chainpay/chainpay/invoices"
)

// Snapshot renders the invoice as GET /v1/invoices/{id} returns it (the same JSON object,
// without the trailing newline), whatever store it belongs to. The webhook Dispatcher calls
// it to freeze the invoice into every event's payload, so a webhook shows the merchant
// exactly what the API would. It satisfies webhooks.Snapshots. An unknown id is an error
// wrapping invoices.ErrNotFound.
func (s *Server) Snapshot(ctx context.Context, invoiceID string) (json.RawMessage, error) {
	d, err := s.cfg.Invoices.Get(ctx, "", invoiceID)
	if err != nil {
		return nil, fmt.Errorf("snapshot of invoice %s: %w", invoiceID, err)
	}
	b, err := json.Marshal(s.invoiceView(d))
	if err != nil {
		return nil, fmt.Errorf("snapshot of invoice %s: encode: %w", invoiceID, err)
	}
	return b, nil
}

// render is Snapshot of an invoice at hand (invoices.Render): the create path's answer and
// the invoice.created event's payload, rendered once.
func (s *Server) render(d invoices.Details) (json.RawMessage, error) {
	return json.Marshal(s.invoiceView(d))
}
