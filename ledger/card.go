package ledger

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/money"
)

// StripeKey is the idempotency key of an imported Stripe balance transaction.
func StripeKey(balanceTransactionID string) string { return "card:stripe:" + balanceTransactionID }

// maxImport bounds an import's size (rows are small; a month of a busy shop fits easily).
const maxImport = 64 << 20

// ParseStripeCSV reads a Stripe balance-transaction export as CSV and maps every row to a
// card record of merchantID (source_type card_charge, key card:stripe:{id}), so card rows
// sit beside crypto records in the journal. Columns are found by header name, case
// insensitive, accepting both the Reporting API's itemized balance report names and the
// balance-transaction field names: balance_transaction_id|id, gross|amount, fee, net,
// currency, created_utc|created|"created (utc)", reporting_category|"reporting category"
// (falling back to type), source_id|source, description. Amounts there are decimal strings in
// major units ("25.00", "-3.20"), exact to the currency's minor units. Errors name the line
// and column.
func ParseStripeCSV(r io.Reader, merchantID string) ([]Record, error) {
	cr := csv.NewReader(io.LimitReader(r, maxImport))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("stripe csv: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	idx := map[string]int{
		"id":       find("balance_transaction_id", "id"),
		"gross":    find("gross", "amount"),
		"fee":      find("fee"),
		"net":      find("net"),
		"currency": find("currency"),
		"created":  find("created_utc", "created", "created (utc)", "created_at"),
		"category": find("reporting_category", "reporting category", "type"),
		"source":   find("source_id", "source"),
		"desc":     find("description"),
	}
	for _, k := range []string{"id", "gross", "fee", "net", "currency", "created", "category"} {
		if idx[k] < 0 {
			return nil, fmt.Errorf("stripe csv: header has no %s column (have %s)", k, truncate(strings.Join(header, ",")))
		}
	}
	var out []Record
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("stripe csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		get := func(k string) string {
			if i := idx[k]; i >= 0 && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		if len(row) == 1 && get("id") == "" {
			continue // blank line
		}
		cur, ok := money.Currency(strings.ToUpper(get("currency")))
		if !ok {
			return nil, fmt.Errorf("stripe csv line %d: currency %q is not an ISO 4217 code", line, truncate(get("currency")))
		}
		amt := func(k string) (*big.Int, error) {
			v, err := money.ParseSignedAmount(get(k), cur.Scale)
			if err != nil {
				return nil, fmt.Errorf("stripe csv line %d: %s: %w", line, k, err)
			}
			return v, nil
		}
		gross, err := amt("gross")
		if err != nil {
			return nil, err
		}
		fee, err := amt("fee")
		if err != nil {
			return nil, err
		}
		net, err := amt("net")
		if err != nil {
			return nil, err
		}
		at, err := parseStripeTime(get("created"))
		if err != nil {
			return nil, fmt.Errorf("stripe csv line %d: created: %w", line, err)
		}
		rec, err := cardRecord(merchantID, stripeRow{
			id: get("id"), source: get("source"), category: strings.ToLower(get("category")),
			description: get("desc"), currency: cur, gross: gross, fee: fee, net: net, created: at,
		})
		if err != nil {
			return nil, fmt.Errorf("stripe csv line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// ParseStripeJSON reads Stripe balance transactions as JSON, either a list object
// ({"object":"list","data":[...]}) or a bare array, in the API's shape: integer minor units
// in amount, fee and net, a lower-case currency, created in Unix seconds, fee_details, an
// optional exchange_rate, and source as an id or an expanded object with an id.
func ParseStripeJSON(data []byte, merchantID string) ([]Record, error) {
	if len(data) > maxImport {
		return nil, fmt.Errorf("stripe json: larger than %d bytes", maxImport)
	}
	var items []json.RawMessage
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("stripe json: %w", err)
		}
	} else {
		var list struct {
			Object string            `json:"object"`
			Data   []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("stripe json: %w", err)
		}
		if list.Object != "list" {
			return nil, fmt.Errorf("stripe json: expected a list object or an array, got object %q", truncate(list.Object))
		}
		items = list.Data
	}
	out := make([]Record, 0, len(items))
	for i, raw := range items {
		var bt struct {
			ID                string          `json:"id"`
			Object            string          `json:"object"`
			Amount            rawNumber       `json:"amount"`
			Fee               rawNumber       `json:"fee"`
			Net               rawNumber       `json:"net"`
			Currency          string          `json:"currency"`
			Created           rawNumber       `json:"created"`
			ReportingCategory string          `json:"reporting_category"`
			Type              string          `json:"type"`
			Description       *string         `json:"description"`
			ExchangeRate      *rawNumber      `json:"exchange_rate"`
			Source            json.RawMessage `json:"source"`
			FeeDetails        []struct {
				Amount      rawNumber `json:"amount"`
				Currency    string    `json:"currency"`
				Description *string   `json:"description"`
				Type        string    `json:"type"`
			} `json:"fee_details"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&bt); err != nil {
			return nil, fmt.Errorf("stripe json data[%d]: %w", i, err)
		}
		if bt.Object != "" && bt.Object != "balance_transaction" {
			return nil, fmt.Errorf("stripe json data[%d]: object %q is not a balance_transaction", i, truncate(bt.Object))
		}
		cur, ok := money.Currency(strings.ToUpper(bt.Currency))
		if !ok {
			return nil, fmt.Errorf("stripe json data[%d]: currency %q is not an ISO 4217 code", i, truncate(bt.Currency))
		}
		ints := make([]*big.Int, 3)
		for j, n := range []rawNumber{bt.Amount, bt.Fee, bt.Net} {
			v, err := parseInt([]string{"amount", "fee", "net"}[j], string(n))
			if err != nil {
				return nil, fmt.Errorf("stripe json data[%d]: %w", i, err)
			}
			ints[j] = v
		}
		sec, err := strconv.ParseInt(string(bt.Created), 10, 64)
		if err != nil || sec < 0 || sec > 1<<40 {
			return nil, fmt.Errorf("stripe json data[%d]: created %q is not Unix seconds", i, truncate(string(bt.Created)))
		}
		row := stripeRow{
			id: bt.ID, category: bt.ReportingCategory, currency: cur,
			gross: ints[0], fee: ints[1], net: ints[2], created: time.Unix(sec, 0).UTC(),
		}
		if row.category == "" {
			row.category = bt.Type
		}
		if bt.Description != nil {
			row.description = *bt.Description
		}
		if len(bt.Source) > 0 && string(bt.Source) != "null" {
			var s string
			if json.Unmarshal(bt.Source, &s) != nil {
				var obj struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(bt.Source, &obj); err != nil {
					return nil, fmt.Errorf("stripe json data[%d]: source is neither an id nor an object with an id", i)
				}
				s = obj.ID
			}
			row.source = s
		}
		if bt.ExchangeRate != nil && *bt.ExchangeRate != "null" {
			// The API sends a JSON number (possibly with an exponent); keep it exact as a
			// plain decimal string.
			d, err := decimal.NewFromString(string(*bt.ExchangeRate))
			if err != nil || d.Sign() <= 0 || d.Exponent() < -40 || d.Exponent() > 40 {
				return nil, fmt.Errorf("stripe json data[%d]: exchange_rate %q is not a positive decimal", i, truncate(string(*bt.ExchangeRate)))
			}
			row.exchangeRate = d.String()
		}
		for j, f := range bt.FeeDetails {
			v, err := parseInt(fmt.Sprintf("fee_details[%d].amount", j), string(f.Amount))
			if err != nil {
				return nil, fmt.Errorf("stripe json data[%d]: %w", i, err)
			}
			if !strings.EqualFold(f.Currency, cur.Code) {
				return nil, fmt.Errorf("stripe json data[%d]: fee_details[%d] currency %q differs from %s", i, j, truncate(f.Currency), cur.Code)
			}
			d := FeeDetail{Type: f.Type, Amount: v}
			if f.Description != nil {
				d.Description = *f.Description
			}
			row.feeDetails = append(row.feeDetails, d)
		}
		rec, err := cardRecord(merchantID, row)
		if err != nil {
			return nil, fmt.Errorf("stripe json data[%d]: %w", i, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// rawNumber keeps a JSON value's text, so that a malformed number is reported by the parser
// that knows the field's name rather than by encoding/json.
type rawNumber string

func (n *rawNumber) UnmarshalJSON(b []byte) error {
	*n = rawNumber(b)
	return nil
}

type stripeRow struct {
	id, source, category, description string
	currency                          money.Asset
	gross, fee, net                   *big.Int
	created                           time.Time
	exchangeRate                      string
	feeDetails                        []FeeDetail
}

func cardRecord(merchantID string, s stripeRow) (Record, error) {
	if s.id == "" {
		return Record{}, errors.New("balance transaction id is empty")
	}
	source := s.source
	if source == "" {
		source = s.id
	}
	rec := Record{
		IdempotencyKey: StripeKey(s.id), MerchantID: merchantID, SourceType: SourceCardCharge, SourceID: source,
		ReportingCategory: s.category, Description: s.description, Currency: s.currency.Code,
		Gross: s.gross, Fee: s.fee, Net: s.net, FeeDetails: s.feeDetails, OccurredAt: s.created,
		Metadata: map[string]string{"processor": "stripe", "balance_transaction": truncate(s.id)},
	}
	if len(rec.Description) > maxTextLen {
		rec.Description = rec.Description[:maxTextLen]
	}
	if s.exchangeRate != "" {
		rec.ExchangeRate = &ExchangeRate{Rate: s.exchangeRate, Source: "stripe", At: s.created}
	}
	rec.Postings = MoneyPostings(merchantID, SourceCardCharge, s.currency, s.gross, s.fee, s.net)
	if err := rec.Validate(); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// parseStripeTime accepts Unix seconds, "2006-01-02 15:04:05" (UTC, the reports' format) and
// RFC 3339.
func parseStripeTime(s string) (time.Time, error) {
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil && sec >= 0 && sec < 1<<40 {
		return time.Unix(sec, 0).UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither Unix seconds, \"YYYY-MM-DD HH:MM:SS\" nor RFC 3339", truncate(s))
}
