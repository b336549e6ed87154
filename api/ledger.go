package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
)

// LedgerAdmin is what the dead-letter endpoints need from the ledger outbox relay: the parked
// records and a way to queue one again. *ledger.Relay satisfies it.
type LedgerAdmin interface {
	// Parked lists every parked ledger outbox record, oldest first.
	Parked(ctx context.Context) ([]store.OutboxMessage, error)
	// Retry re-queues the parked record id, due now; an error wrapping ledger.ErrNotFound
	// when no parked record has the id.
	Retry(ctx context.Context, id string) error
}

var _ LedgerAdmin = (*ledger.Relay)(nil)

type parkedRecordJSON struct {
	ID             string     `json:"id"`
	Object         string     `json:"object"`
	IdempotencyKey string     `json:"idempotency_key"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	Record         jsonObject `json:"record"`
}

// parkedMerchant returns the merchant of a parked ledger payload: its "merchant_id". A
// payload that is not a JSON object with one (a record parked as malformed) belongs to no
// store and is left to the operator's tools.
func parkedMerchant(payload string) string {
	var p struct {
		MerchantID string `json:"merchant_id"`
	}
	if json.Unmarshal([]byte(payload), &p) != nil {
		return ""
	}
	return p.MerchantID
}

// ledgerAdmin returns the configured relay, or answers 503 and returns nil.
func (s *Server) ledgerAdmin(w http.ResponseWriter) LedgerAdmin {
	if s.cfg.Ledger == nil {
		writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "the ledger relay does not run on this server"})
	}
	return s.cfg.Ledger
}

// parkedOf returns the merchant's parked ledger records, oldest first.
func (s *Server) parkedOf(ctx context.Context, l LedgerAdmin, merchantID string) ([]store.OutboxMessage, error) {
	all, err := l.Parked(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.OutboxMessage
	for _, m := range all {
		if m.Topic == ledger.Topic && parkedMerchant(m.Payload) == merchantID {
			out = append(out, m)
		}
	}
	return out, nil
}

// listParked lists the key's store's dead-lettered ledger records (conflicts, records the
// ledger refused), oldest first, a page at a time; last_error says why each was parked.
func (s *Server) listParked(w http.ResponseWriter, r *http.Request) {
	l := s.ledgerAdmin(w)
	if l == nil {
		return
	}
	q := r.URL.Query()
	limit, bad := pageQuery(q)
	var (
		after   time.Time
		afterID string
	)
	if v := q.Get("cursor"); v != "" {
		var ok bool
		if after, afterID, ok = decodeParkedCursor(v); !ok {
			bad = append(bad, FieldError{Field: "cursor", Detail: "not a cursor this API returned"})
		}
	}
	if len(bad) > 0 {
		writeProblem(w, Problem{Type: typeValidation, Status: http.StatusBadRequest, Detail: "invalid query parameters", Errors: bad})
		return
	}
	msgs, err := s.parkedOf(r.Context(), l, keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := listJSON[parkedRecordJSON]{Object: "list", Data: []parkedRecordJSON{}}
	for _, m := range msgs {
		if afterID != "" && !m.CreatedAt.After(after) && (!m.CreatedAt.Equal(after) || m.ID <= afterID) {
			continue // on an earlier page (the list is ordered by creation time, then id)
		}
		if len(out.Data) == limit {
			out.HasMore = true
			last := out.Data[limit-1]
			c := encodeParkedCursor(last.CreatedAt, last.ID)
			out.NextCursor = &c
			break
		}
		out.Data = append(out.Data, parkedRecordJSON{ID: m.ID, Object: "parked_ledger_record", IdempotencyKey: m.Key,
			Status: m.Status, Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt,
			Record: jsonObject(m.Payload)})
	}
	writeJSON(w, http.StatusOK, out)
}

func encodeParkedCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "|" + id))
}

func decodeParkedCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	ts, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(n).UTC(), id, true
}

// retryParked queues one of the store's parked ledger records again, due now (after the
// cause was fixed). The record is not changed: it is never re-priced. 404 for a record that
// is not parked or belongs to another store.
func (s *Server) retryParked(w http.ResponseWriter, r *http.Request) {
	l := s.ledgerAdmin(w)
	if l == nil {
		return
	}
	if _, p := decodeOptionalBody(r, s.cfg.MaxBody); p != nil {
		writeProblem(w, *p)
		return
	}
	id := r.PathValue("id")
	notFound := Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no parked ledger record " + id + " in this store"}
	msgs, err := s.parkedOf(r.Context(), l, keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	found := false
	for _, m := range msgs {
		found = found || m.ID == id
	}
	if !found {
		writeProblem(w, notFound)
		return
	}
	err = l.Retry(r.Context(), id)
	switch {
	case errors.Is(err, ledger.ErrNotFound): // retried meanwhile
		writeProblem(w, notFound)
	case err != nil:
		s.internal(w, r, err)
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	}
}
