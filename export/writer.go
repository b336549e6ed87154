package export

import (
	"bufio"
	"io"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chainpay/chainpay/money"
)

// rowWriter writes one format: a header, then rows (it may skip rows the format cannot
// carry, or write several lines for one row). flush pushes buffered bytes to the
// underlying writer.
type rowWriter interface {
	header() error
	row(r *Row) (lines int, err error)
	flush() error
}

func newRowWriter(f Format, w io.Writer, currency string) rowWriter {
	switch f {
	case FormatJSONL:
		return &jsonlWriter{w: bufio.NewWriterSize(w, 64<<10)}
	case FormatKoinly:
		return &koinlyWriter{csvOut: newCSVOut(w)}
	case FormatQuickBooks:
		return &quickBooksWriter{csvOut: newCSVOut(w), currency: currency}
	case FormatXero:
		return &xeroWriter{csvOut: newCSVOut(w), currency: currency}
	default:
		return &canonicalCSVWriter{csvOut: newCSVOut(w)}
	}
}

// --- CSV injection guard

// Guard neutralises a CSV cell a spreadsheet would evaluate as a formula: a cell beginning
// with '=', '+', '-', '@', a tab or a carriage return gets a leading single quote. With
// numeric set (an amount column), a cell that is a plain decimal number ("-25.00", "-3")
// is left alone so it stays a number.
func Guard(cell string, numeric bool) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if numeric && isDecimal(cell) {
			return cell
		}
		return "'" + cell
	}
	return cell
}

// isDecimal reports whether s is an optional '-', digits, and optionally '.' and digits.
func isDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i+1 < len(s):
			point = true
		default:
			return false
		}
	}
	return digits > 0
}

// csvOut writes guarded RFC 4180 records (CRLF line ends, quotes where needed), the bytes
// encoding/csv writes with UseCRLF (FuzzCSVOutMatchesEncodingCSV compares them), without
// its per-field rescans: a fifth of an export row's formatting.
type csvOut struct{ b *bufio.Writer }

func newCSVOut(w io.Writer) csvOut { return csvOut{b: bufio.NewWriterSize(w, 64<<10)} }

func (c *csvOut) write(cells []string, numeric func(i int) bool) error {
	for i, s := range cells {
		if i > 0 {
			c.b.WriteByte(',')
		}
		s = Guard(s, numeric(i))
		if !needsQuotes(s) {
			c.b.WriteString(s)
			continue
		}
		// As encoding/csv quotes: quotes doubled, a bare CR dropped, LF written as CRLF.
		c.b.WriteByte('"')
		for len(s) > 0 {
			i := strings.IndexAny(s, "\"\r\n")
			if i < 0 {
				i = len(s)
			}
			c.b.WriteString(s[:i])
			if s = s[i:]; s == "" {
				break
			}
			switch s[0] {
			case '"':
				c.b.WriteString(`""`)
			case '\n':
				c.b.WriteString("\r\n")
			}
			s = s[1:]
		}
		c.b.WriteByte('"')
	}
	_, err := c.b.WriteString("\r\n") // a write error sticks in b: this returns it
	return err
}

func (c *csvOut) flush() error { return c.b.Flush() }

// csvSpecial marks the bytes that make encoding/csv quote a field anywhere in it.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// needsQuotes reports whether encoding/csv (comma ',') would quote field: it holds a comma,
// a quote or a line break, starts with a space (any Unicode space), or is `\.`.
func needsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` {
		return true
	}
	for i := 0; i < len(field); i++ {
		if csvSpecial[field[i]] {
			return true
		}
	}
	if c := field[0]; c < utf8.RuneSelf {
		return c == ' ' || c == '\t' || c == '\v' || c == '\f'
	}
	r, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r)
}

func noNumbers(int) bool { return false }

// --- canonical CSV

type canonicalCSVWriter struct{ csvOut }

func (c *canonicalCSVWriter) header() error { return c.write(columns[:], noNumbers) }

func (c *canonicalCSVWriter) row(r *Row) (int, error) {
	return 1, c.write(r.Values[:], func(i int) bool { return numericCols[i] })
}

// --- JSON Lines

type jsonlWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (j *jsonlWriter) header() error { return nil }

func (j *jsonlWriter) row(r *Row) (int, error) {
	b := append(j.buf[:0], '{')
	for i, v := range r.Values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, columns[i])
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	b = append(b, '}', '\n')
	j.buf = b
	_, err := j.w.Write(b)
	return 1, err
}

func (j *jsonlWriter) flush() error { return j.w.Flush() }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, U+2028/U+2029 escaped (JavaScript), invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// --- Koinly universal

// koinlyHeader is Koinly's universal template (the optional columns kept that a payment
// processor can fill).
var koinlyHeader = []string{"Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency",
	"Fee Amount", "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash"}

var koinlyNumeric = []bool{false, true, false, true, false, true, false, true, false, false, false, false}

type koinlyWriter struct {
	csvOut
	cells [12]string
}

func (k *koinlyWriter) header() error { return k.write(koinlyHeader, noNumbers) }

// row writes a crypto row as a receive (a settlement) or a send (a reversal) of the asset;
// card rows have no crypto and are skipped.
func (k *koinlyWriter) row(r *Row) (int, error) {
	o := r.rec.Original
	if o == nil {
		return 0, nil
	}
	c := &k.cells
	*c = [12]string{}
	c[0] = r.rec.OccurredAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
	amount := money.FormatAmount(new(big.Int).Abs(o.Amount), o.Scale)
	if o.Amount.Sign() < 0 {
		c[1], c[2] = amount, r.orig.Code
	} else {
		c[3], c[4] = amount, r.orig.Code
		c[9] = "income"
	}
	// Net worth: the fair value at receipt when recorded, else the settled gross; only in
	// fiat (Koinly prices crypto-denominated rows itself).
	if r.cur.IsFiat() && r.cur.Code != "" {
		v := r.rec.Gross
		if f := r.rec.FairValue; f != nil {
			v = f.Amount
		}
		c[7], c[8] = money.FormatAmount(new(big.Int).Abs(v), r.cur.Scale), r.cur.Code
	}
	c[10] = r.rec.Description + " (" + r.rec.IdempotencyKey + ")"
	if r.rec.Chain != nil {
		c[11] = r.rec.Chain.TxID
	}
	return 1, k.write(c[:], func(i int) bool { return koinlyNumeric[i] })
}

// --- QuickBooks Online, 3 columns

type quickBooksWriter struct {
	csvOut
	currency string
}

func (q *quickBooksWriter) header() error {
	return q.write([]string{"Date", "Description", "Amount"}, noNumbers)
}

// row writes the gross as one bank line and the fee (if any) as a second, negated, so the
// lines of a record add up to its net, like a processor's payout.
func (q *quickBooksWriter) row(r *Row) (int, error) {
	if r.rec.Currency != q.currency {
		return 0, nil
	}
	date := r.rec.OccurredAt.UTC().Format("01/02/2006")
	amountCol := func(i int) bool { return i == 2 }
	desc := r.rec.Description + " (" + r.rec.IdempotencyKey + ")"
	if err := q.write([]string{date, desc, money.FormatAmount(r.rec.Gross, r.cur.Scale)}, amountCol); err != nil {
		return 0, err
	}
	if r.rec.Fee.Sign() == 0 {
		return 1, nil
	}
	fee := money.FormatAmount(new(big.Int).Neg(r.rec.Fee), r.cur.Scale)
	return 2, q.write([]string{date, "Processing fee (" + r.rec.IdempotencyKey + ")", fee}, amountCol)
}

// --- Xero bank statement

type xeroWriter struct {
	csvOut
	currency string
}

// xeroHeader is Xero's bank statement import template; '*' marks its required columns.
var xeroHeader = []string{"*Date", "*Amount", "Payee", "Description", "Reference", "Check Number"}

func (x *xeroWriter) header() error { return x.write(xeroHeader, noNumbers) }

// row writes the gross and the negated fee as statement lines, like quickBooksWriter.
func (x *xeroWriter) row(r *Row) (int, error) {
	if r.rec.Currency != x.currency {
		return 0, nil
	}
	date := r.rec.OccurredAt.UTC().Format("02/01/2006")
	amountCol := func(i int) bool { return i == 1 }
	payee := "Card payment"
	if r.rec.Original != nil {
		payee = "Crypto payment (" + r.orig.Code + ")"
	}
	if err := x.write([]string{date, money.FormatAmount(r.rec.Gross, r.cur.Scale), payee, r.rec.Description,
		r.rec.IdempotencyKey, ""}, amountCol); err != nil {
		return 0, err
	}
	if r.rec.Fee.Sign() == 0 {
		return 1, nil
	}
	fee := money.FormatAmount(new(big.Int).Neg(r.rec.Fee), r.cur.Scale)
	return 2, x.write([]string{date, fee, "chainpay", "Processing fee", r.rec.IdempotencyKey, ""}, amountCol)
}
