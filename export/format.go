package export

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is an export file format.
type Format string

// The formats.
const (
	FormatCSV        Format = "csv"        // canonical columns, RFC 4180
	FormatJSONL      Format = "jsonl"      // canonical columns, one JSON object per line
	FormatKoinly     Format = "koinly"     // Koinly universal CSV (crypto rows only)
	FormatQuickBooks Format = "quickbooks" // QuickBooks Online 3-column bank CSV (one currency)
	FormatXero       Format = "xero"       // Xero bank-statement CSV (one currency)
)

// Formats lists every format, in the order documented.
func Formats() []Format {
	return []Format{FormatCSV, FormatJSONL, FormatKoinly, FormatQuickBooks, FormatXero}
}

// ErrBadParam is wrapped by every ParamError.
var ErrBadParam = errors.New("export: bad parameter")

// ParamError names the request parameter (or CLI flag, without dashes) that is wrong.
type ParamError struct {
	Param  string
	Detail string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Detail }

// Unwrap makes errors.Is(err, ErrBadParam) true.
func (e *ParamError) Unwrap() error { return ErrBadParam }

// ParseFormat parses a format name (case-insensitive).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Formats() {
		if f == k {
			return f, nil
		}
	}
	names := make([]string, 0, 5)
	for _, k := range Formats() {
		names = append(names, string(k))
	}
	if s == "" {
		return "", &ParamError{"format", "required: one of " + strings.Join(names, ", ")}
	}
	return "", &ParamError{"format", fmt.Sprintf("%q is not one of %s", clip(s), strings.Join(names, ", "))}
}

// MediaType is the Content-Type of the format.
func (f Format) MediaType() string {
	if f == FormatJSONL {
		return "application/x-ndjson; charset=utf-8"
	}
	return "text/csv; charset=utf-8; header=present"
}

// Ext is the file name extension of the format, without the dot.
func (f Format) Ext() string {
	if f == FormatJSONL {
		return "jsonl"
	}
	return "csv"
}

// Period is a half-open time interval [From, To) of settlement times (occurred_at), UTC.
type Period struct {
	From, To time.Time
}

// maxYear bounds dates: four-digit years only (what RFC 3339 and the databases carry).
const maxYear = 9999

// ParsePeriod parses the bounds of an export. Each is a date (YYYY-MM-DD, a whole UTC day)
// or an RFC 3339 time. from is inclusive. A date as to is inclusive too (the period runs to
// the end of that day: from=2026-11-01&to=2026-11-30 is all of November); a time as to is
// exclusive. The period must not be empty. Errors are *ParamError naming "from" or "to".
func ParsePeriod(from, to string) (Period, error) {
	f, _, err := parseBound("from", from)
	if err != nil {
		return Period{}, err
	}
	t, isDate, err := parseBound("to", to)
	if err != nil {
		return Period{}, err
	}
	if isDate {
		t = t.AddDate(0, 0, 1)
	}
	if !t.After(f) {
		return Period{}, &ParamError{"to", fmt.Sprintf("%s is not after from %s: the period is empty", clip(to), clip(from))}
	}
	return Period{From: f, To: t}, nil
}

func parseBound(name, s string) (time.Time, bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, &ParamError{name, "required: a date (YYYY-MM-DD) or an RFC 3339 time"}
	}
	t, err := time.Parse(time.DateOnly, s)
	isDate := err == nil
	if !isDate {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}, false, &ParamError{name, fmt.Sprintf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", clip(s))}
		}
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > maxYear {
		return time.Time{}, false, &ParamError{name, fmt.Sprintf("%q is outside years 1 to %d", clip(s), maxYear)}
	}
	return t, isDate, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
