package ledger

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The flat projection of a record is what readers of the journal (exports) decode instead of
// the canonical JSON payload: the same record, as length-prefixed fields in a fixed order,
// decoded without JSON and without validation. It is computed once, when the journal stores
// the record, from the stored payload itself, and it names the SHA-256 of that payload: a
// reader checks the payload against its stored hash and the projection against the same
// hash, so a projection is only ever used for the exact payload it was made from.
//
// Layout (version 1): "f1", the payload hash (hex), then the record's fields. Every field is
// its length in decimal, ':', and its bytes. Times are UTC with microseconds
// ("2006-01-02T15:04:05.000000Z"); amounts are decimal integers; an absent amount or
// optional part is the empty field or "0" for its presence flag.
const flatVersion = "f1"

// flatTime is the fixed-width time layout of the projection.
const flatTime = "2006-01-02T15:04:05.000000Z"

// ErrFlat means a projection is not one this version reads (or is damaged); readers fall
// back to the payload.
var ErrFlat = errors.New("ledger: unreadable flat projection")

// Flat returns the record's flat projection, naming payloadHash (hex SHA-256 of the payload
// the record was decoded from).
func (r Record) Flat(payloadHash string) string {
	var b strings.Builder
	b.Grow(1024)
	f := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	num := func(v *big.Int) {
		if v == nil {
			f("")
			return
		}
		f(v.String())
	}
	tm := func(t time.Time) { f(t.UTC().Format(flatTime)) }
	flag := func(on bool) {
		if on {
			f("1")
		} else {
			f("0")
		}
	}
	f(flatVersion)
	f(payloadHash)
	tm(r.OccurredAt) // first time field: tools that template payloads substitute it in both
	f(r.IdempotencyKey)
	f(r.MerchantID)
	f(r.SourceType)
	f(r.SourceID)
	f(r.ReportingCategory)
	f(r.Description)
	f(r.Currency)
	num(r.Gross)
	num(r.Fee)
	num(r.Net)
	f(r.Reverses)
	flag(r.Original != nil)
	if o := r.Original; o != nil {
		f(o.Asset)
		num(o.Amount)
		f(strconv.Itoa(int(o.Scale)))
	}
	flag(r.ExchangeRate != nil)
	if x := r.ExchangeRate; x != nil {
		f(x.Rate)
		f(x.Source)
		tm(x.At)
	}
	flag(r.FairValue != nil)
	if v := r.FairValue; v != nil {
		f(v.Rate)
		f(v.Source)
		tm(v.At)
		num(v.Amount)
	}
	flag(r.Chain != nil)
	if c := r.Chain; c != nil {
		f(c.Chain)
		f(c.TxID)
		f(strconv.FormatInt(c.OutputIndex, 10))
		f(strconv.FormatInt(c.BlockHeight, 10))
		f(c.BlockHash)
		f(strconv.FormatInt(c.Confirmations, 10))
	}
	f(strconv.Itoa(len(r.FeeDetails)))
	for _, d := range r.FeeDetails {
		f(d.Type)
		num(d.Amount)
		f(d.Description)
	}
	f(strconv.Itoa(len(r.Postings)))
	for _, p := range r.Postings {
		f(p.Account)
		f(p.Asset)
		num(p.Amount)
		f(p.Direction)
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	f(strconv.Itoa(len(keys)))
	for _, k := range keys {
		f(k)
		f(r.Metadata[k])
	}
	return b.String()
}

// ParseFlat decodes a flat projection and returns the record and the payload hash it names.
// It does not validate the record (the journal validated it before storing it): callers
// must check the hash against the payload's. Errors wrap ErrFlat.
func ParseFlat(s string) (rec Record, payloadHash string, err error) {
	d := flatDecoder{s: s}
	if v := d.str(); v != flatVersion {
		return Record{}, "", fmt.Errorf("%w: version %q", ErrFlat, clipFlat(v))
	}
	payloadHash = d.str()
	rec.OccurredAt = d.time()
	rec.IdempotencyKey = d.str()
	rec.MerchantID = d.str()
	rec.SourceType = d.str()
	rec.SourceID = d.str()
	rec.ReportingCategory = d.str()
	rec.Description = d.str()
	rec.Currency = d.str()
	rec.Gross = d.num()
	rec.Fee = d.num()
	rec.Net = d.num()
	rec.Reverses = d.str()
	if d.flag() {
		rec.Original = &Original{Asset: d.str(), Amount: d.num(), Scale: int32(d.int())}
	}
	if d.flag() {
		rec.ExchangeRate = &ExchangeRate{Rate: d.str(), Source: d.str(), At: d.time()}
	}
	if d.flag() {
		rec.FairValue = &FairValue{Rate: d.str(), Source: d.str(), At: d.time(), Amount: d.num()}
	}
	if d.flag() {
		rec.Chain = &ChainEvidence{Chain: d.str(), TxID: d.str(), OutputIndex: d.int(), BlockHeight: d.int(),
			BlockHash: d.str(), Confirmations: d.int()}
	}
	if n := d.count(); n > 0 {
		rec.FeeDetails = make([]FeeDetail, n)
		for i := range rec.FeeDetails {
			rec.FeeDetails[i] = FeeDetail{Type: d.str(), Amount: d.num(), Description: d.str()}
		}
	}
	if n := d.count(); n > 0 {
		rec.Postings = make([]Posting, n)
		for i := range rec.Postings {
			rec.Postings[i] = Posting{Account: d.str(), Asset: d.str(), Amount: d.num(), Direction: d.str()}
		}
	}
	if n := d.count(); n > 0 {
		rec.Metadata = make(map[string]string, n)
		for range n {
			k := d.str()
			rec.Metadata[k] = d.str()
		}
	}
	if d.err == nil && d.s != "" {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return Record{}, "", fmt.Errorf("%w: %v", ErrFlat, d.err)
	}
	return rec, payloadHash, nil
}

func clipFlat(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}

// flatDecoder reads fields; the first error sticks and later reads return zero values.
type flatDecoder struct {
	s   string
	err error
	// ints and words back the amounts that fit a machine word: one allocation each per
	// record instead of two per amount (big.NewInt), half of an export row's allocations.
	ints  []big.Int
	words []big.Word
}

// small returns n as a new *big.Int, from the decoder's slabs when |n| fits a Word.
func (d *flatDecoder) small(n int64) *big.Int {
	abs := uint64(n)
	if n < 0 {
		abs = uint64(-n) // n > math.MinInt64: at most 18 digits
	}
	if abs > uint64(^big.Word(0)) {
		return big.NewInt(n) // a 32-bit platform
	}
	if len(d.ints) == 0 {
		d.ints, d.words = make([]big.Int, 12), make([]big.Word, 12)
	}
	v, w := &d.ints[0], d.words[:1:1] // capacity 1: growing v copies, never touches a neighbour
	d.ints, d.words = d.ints[1:], d.words[1:]
	if abs != 0 { // zero stays the zero Int, as big.NewInt(0) makes it
		w[0] = big.Word(abs)
		v.SetBits(w)
		if n < 0 {
			v.Neg(v)
		}
	}
	return v
}

func (d *flatDecoder) str() string {
	if d.err != nil {
		return ""
	}
	i := strings.IndexByte(d.s, ':')
	if i <= 0 || i > 7 {
		d.err = errors.New("bad field length")
		return ""
	}
	n, err := strconv.Atoi(d.s[:i])
	if err != nil || n < 0 || i+1+n > len(d.s) {
		d.err = errors.New("bad field length")
		return ""
	}
	v := d.s[i+1 : i+1+n]
	d.s = d.s[i+1+n:]
	return v
}

func (d *flatDecoder) num() *big.Int {
	s := d.str()
	if s == "" || d.err != nil {
		return nil
	}
	if len(s) <= 18 { // fits an int64: no big.Int scanner (a quarter of an export row's decoding)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return d.small(n)
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		d.err = fmt.Errorf("bad amount %q", clipFlat(s))
	}
	return v
}

func (d *flatDecoder) int() int64 {
	s := d.str()
	if d.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.err = fmt.Errorf("bad integer %q", clipFlat(s))
	}
	return v
}

func (d *flatDecoder) count() int {
	n := d.int()
	if n < 0 || n > 1<<16 {
		d.err = errors.New("bad count")
		return 0
	}
	return int(n)
}

func (d *flatDecoder) flag() bool {
	switch d.str() {
	case "1":
		return true
	case "0":
		return false
	}
	if d.err == nil {
		d.err = errors.New("bad flag")
	}
	return false
}

func (d *flatDecoder) time() time.Time {
	s := d.str()
	if d.err != nil {
		return time.Time{}
	}
	t, err := parseFlatTime(s)
	if err != nil {
		d.err = fmt.Errorf("bad time %q", clipFlat(s))
	}
	return t
}

// parseFlatTime is time.Parse(flatTime, s), the same time or the same error, with a fast
// path for the fixed-width digits every projection holds (time.Parse walks the layout: a
// fifth of an export row's decoding). FuzzParseFlatTime compares the two.
func parseFlatTime(s string) (time.Time, error) {
	if len(s) != len(flatTime) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Parse(flatTime, s)
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, micro := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
		sec < 0 || sec > 59 || micro < 0 {
		return time.Parse(flatTime, s)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	if t.Day() != day { // the 31st of a 30-day month: time.Parse's error
		return time.Parse(flatTime, s)
	}
	return t, nil
}
