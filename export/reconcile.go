package export

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// ErrMismatch means an export's totals differ from the journal's for the same records.
var ErrMismatch = errors.New("export: totals do not reconcile with the journal")

// Totals are the sums reconciliation compares, from an export or from the journal.
type Totals struct {
	Fiat   map[FiatKey]*FiatTotal // per settlement currency and reporting category
	Crypto map[string]*big.Int    // atomic amounts per asset (money.Asset string form)
}

// FiatKey groups rows by settlement currency and reporting category.
type FiatKey struct {
	Currency string
	Category string
}

// FiatTotal is the number of rows and their gross, fee and net, in minor units.
type FiatTotal struct {
	Rows            int64
	Gross, Fee, Net *big.Int
}

func newTotals() Totals {
	return Totals{Fiat: map[FiatKey]*FiatTotal{}, Crypto: map[string]*big.Int{}}
}

func (t Totals) fiat(k FiatKey) *FiatTotal {
	f := t.Fiat[k]
	if f == nil {
		f = &FiatTotal{Gross: new(big.Int), Fee: new(big.Int), Net: new(big.Int)}
		t.Fiat[k] = f
	}
	return f
}

func (t Totals) crypto(asset string) *big.Int {
	v := t.Crypto[asset]
	if v == nil {
		v = new(big.Int)
		t.Crypto[asset] = v
	}
	return v
}

// maxCells is the number of cells of a canonical CSV line.
const maxCells = int(numCols)

// TallyCSV totals a canonical CSV export (as written by Write with FormatCSV): rows, gross,
// fee and net per currency and category, atomic crypto amounts per asset. The header must be
// the canonical one; every amount must parse exactly at its currency's or asset's scale,
// and crypto_amount must equal crypto_amount_atomic. Errors name the line and column.
func TallyCSV(r io.Reader) (Totals, error) {
	t := newTotals()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = maxCells
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return t, fmt.Errorf("export csv: header: %w", err)
	}
	for i, h := range head {
		if h != columns[i] {
			return t, fmt.Errorf("export csv: header column %d is %q, want %q (not a canonical export)", i+1, clip(h), columns[i])
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return t, fmt.Errorf("export csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if err := tallyRow(t, rec); err != nil {
			return t, fmt.Errorf("export csv line %d: %w", line, err)
		}
	}
}

func tallyRow(t Totals, rec []string) error {
	cell := func(i int) string { return unguard(rec[i]) }
	currency, category := cell(ColCurrency), cell(ColReportingCategory)
	scale := int32(-1)
	if c, ok := money.Currency(currency); ok {
		scale = c.Scale
	}
	var asset money.Asset
	if code := cell(ColAsset); code != "" {
		d, err := strconv.ParseInt(rec[ColAssetDecimals], 10, 32)
		if err != nil {
			return fmt.Errorf("asset_decimals %q is not an integer", clip(rec[ColAssetDecimals]))
		}
		asset = money.Asset{Code: code, Scale: int32(d), Chain: cell(ColChain), Contract: cell(ColAssetContract)}
		if err := asset.Validate(); err != nil {
			return err
		}
		if scale < 0 && code == currency {
			scale = asset.Scale // an invoice priced in the crypto asset
		}
		atomic, err := parseCell(rec, ColCryptoAmountAtomic, 0)
		if err != nil {
			return err
		}
		amount, err := parseCell(rec, ColCryptoAmount, asset.Scale)
		if err != nil {
			return err
		}
		if amount.Cmp(atomic) != 0 {
			return fmt.Errorf("crypto_amount %s is not crypto_amount_atomic %s at %d decimals", rec[ColCryptoAmount], rec[ColCryptoAmountAtomic], asset.Scale)
		}
		s := t.crypto(asset.String())
		s.Add(s, atomic)
	}
	if scale < 0 {
		return fmt.Errorf("currency %q is neither ISO 4217 nor the row's asset", clip(currency))
	}
	f := t.fiat(FiatKey{currency, category})
	f.Rows++
	for _, c := range []struct {
		col int
		sum *big.Int
	}{{ColGross, f.Gross}, {ColFee, f.Fee}, {ColNet, f.Net}} {
		v, err := parseCell(rec, c.col, scale)
		if err != nil {
			return err
		}
		c.sum.Add(c.sum, v)
	}
	return nil
}

func parseCell(rec []string, col int, scale int32) (*big.Int, error) {
	v, err := money.ParseSignedAmount(rec[col], scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", columns[col], err)
	}
	return v, nil
}

// unguard undoes Guard on a text cell.
func unguard(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("=+-@\t\r", s[1]) >= 0 {
		return s[1:]
	}
	return s
}

// JournalTotals computes the journal's totals for the records of merchantID settled in p
// and stored by asOf, from their double-entry postings (not from the records' payloads
// the export reads): gross = credits − debits on the revenue accounts, fee = debits −
// credits on the fee account, net = debits − credits on the balance account, crypto =
// debits − credits on the wallet accounts; rows are the records counted. An unapplied
// receipt's gross is the credit to the suspense account.
func (e *Exporter) JournalTotals(ctx context.Context, merchantID string, p Period, asOf time.Time) (Totals, error) {
	t := newTotals()
	var lt store.LedgerTotals
	f := e.filter(Query{MerchantID: merchantID, Period: p, AsOf: asOf})
	err := e.st.View(ctx, func(tx store.Tx) (err error) {
		lt, err = tx.LedgerTotals(ctx, f)
		return err
	})
	if err != nil {
		return t, fmt.Errorf("export: journal totals: %w", err)
	}
	for _, c := range lt.Records {
		t.fiat(FiatKey{c.Currency, c.ReportingCategory}).Rows += c.Count
	}
	revenue := ledger.AccountRevenue(merchantID, "")
	wallets := ledger.AccountWallet(merchantID, "")
	for _, p := range lt.Postings {
		a, err := money.ParseAsset(p.Asset)
		if err != nil {
			return t, fmt.Errorf("export: journal posting to %s: %w", p.Account, err)
		}
		debit := new(big.Int).Sub(p.Debits, p.Credits)
		k := FiatKey{a.Code, p.ReportingCategory}
		switch {
		case strings.HasPrefix(p.Account, revenue), p.Account == ledger.AccountSuspense(merchantID):
			// An unapplied receipt's gross goes to suspense instead of revenue.
			s := t.fiat(k).Gross
			s.Sub(s, debit)
		case p.Account == ledger.AccountFees(merchantID):
			s := t.fiat(k).Fee
			s.Add(s, debit)
		case p.Account == ledger.AccountBalance(merchantID):
			s := t.fiat(k).Net
			s.Add(s, debit)
		case strings.HasPrefix(p.Account, wallets):
			s := t.crypto(p.Asset)
			s.Add(s, debit)
		}
	}
	return t, nil
}

// Reconciliation is the comparison of an export with the journal.
type Reconciliation struct {
	MerchantID string
	Period     Period
	AsOf       time.Time
	Lines      []Line
	OK         bool // every line matches
}

// Line compares one measure: Rows, Gross, Fee or Net of a currency and category, or Amount
// of a crypto asset. Export and Journal are decimal strings (at the currency's or asset's
// scale; row counts as integers).
type Line struct {
	Currency string // fiat lines: the settlement currency
	Category string // fiat lines: the reporting category
	Asset    string // crypto lines: the asset, e.g. "BTC/8@bitcoin"
	Measure  string // "rows", "gross", "fee", "net" or "amount"
	Export   string
	Journal  string
	Match    bool
}

// Reconcile compares the totals of a canonical CSV export with the journal's totals for
// the same store, period and snapshot. With export nil it writes the export itself
// (streaming it straight into the tally, never holding it) at snapshot asOf (zero: now);
// otherwise it reads the given file, and asOf should be when that file was made. The result
// lists every measure; when any differs the error wraps ErrMismatch and names the first.
func (e *Exporter) Reconcile(ctx context.Context, merchantID string, p Period, export io.Reader, asOf time.Time) (Reconciliation, error) {
	if asOf.IsZero() {
		asOf = e.now().UTC()
	}
	res := Reconciliation{MerchantID: merchantID, Period: p, AsOf: asOf}
	var (
		got Totals
		err error
	)
	if export != nil {
		got, err = TallyCSV(export)
	} else {
		got, err = e.tallyOwnExport(ctx, Query{MerchantID: merchantID, Period: p, Format: FormatCSV, AsOf: asOf})
	}
	if err != nil {
		return res, err
	}
	want, err := e.JournalTotals(ctx, merchantID, p, asOf)
	if err != nil {
		return res, err
	}
	res.Lines = compare(got, want)
	res.OK = true
	for _, l := range res.Lines {
		if !l.Match {
			res.OK = false
			what := l.Currency + " " + l.Category
			if l.Asset != "" {
				what = l.Asset
			}
			return res, fmt.Errorf("%w: %s %s: export %s, journal %s", ErrMismatch, what, l.Measure, l.Export, l.Journal)
		}
	}
	return res, nil
}

func (e *Exporter) tallyOwnExport(ctx context.Context, q Query) (Totals, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := e.Write(ctx, pw, q)
		pw.CloseWithError(err)
		done <- err
	}()
	t, terr := TallyCSV(pr)
	pr.CloseWithError(errors.New("export: tally stopped")) // unblocks the writer if the tally failed
	werr := <-done
	if werr != nil {
		return t, werr
	}
	return t, terr
}

func compare(got, want Totals) []Line {
	var lines []Line
	keys := map[FiatKey]bool{}
	for k := range got.Fiat {
		keys[k] = true
	}
	for k := range want.Fiat {
		keys[k] = true
	}
	sorted := make([]FiatKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b FiatKey) int {
		return cmp.Or(cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Category, b.Category))
	})
	zero := FiatTotal{Gross: new(big.Int), Fee: new(big.Int), Net: new(big.Int)}
	for _, k := range sorted {
		g, w := got.Fiat[k], want.Fiat[k]
		if g == nil {
			g = &zero
		}
		if w == nil {
			w = &zero
		}
		scale := int32(0)
		if c, ok := money.Currency(k.Currency); ok {
			scale = c.Scale
		}
		lines = append(lines, Line{Currency: k.Currency, Category: k.Category, Measure: "rows",
			Export: strconv.FormatInt(g.Rows, 10), Journal: strconv.FormatInt(w.Rows, 10), Match: g.Rows == w.Rows})
		for _, m := range []struct {
			name string
			g, w *big.Int
		}{{"gross", g.Gross, w.Gross}, {"fee", g.Fee, w.Fee}, {"net", g.Net, w.Net}} {
			lines = append(lines, Line{Currency: k.Currency, Category: k.Category, Measure: m.name,
				Export: fmtAmount(m.g, scale, k.Currency), Journal: fmtAmount(m.w, scale, k.Currency), Match: m.g.Cmp(m.w) == 0})
		}
	}
	assets := map[string]bool{}
	for a := range got.Crypto {
		assets[a] = true
	}
	for a := range want.Crypto {
		assets[a] = true
	}
	names := make([]string, 0, len(assets))
	for a := range assets {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		g, w := got.Crypto[a], want.Crypto[a]
		if g == nil {
			g = new(big.Int)
		}
		if w == nil {
			w = new(big.Int)
		}
		scale := int32(0)
		if as, err := money.ParseAsset(a); err == nil {
			scale = as.Scale
		}
		lines = append(lines, Line{Asset: a, Measure: "amount", Export: money.FormatAmount(g, scale),
			Journal: money.FormatAmount(w, scale), Match: g.Cmp(w) == 0})
	}
	return lines
}

// fmtAmount formats minor units of an ISO currency; other codes (a crypto-priced invoice's
// asset) are shown in atomic units.
func fmtAmount(v *big.Int, scale int32, currency string) string {
	if _, ok := money.Currency(currency); !ok {
		return v.String() + " (atomic)"
	}
	return money.FormatAmount(v, scale)
}
