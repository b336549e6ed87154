package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Reader is the storage an Exporter reads: read-only transactions over the journal.
// store.Store satisfies it.
type Reader interface {
	View(ctx context.Context, fn func(store.Tx) error) error
}

// Config configures an Exporter.
type Config struct {
	// PageSize is how many records one keyset page reads, in one read transaction streamed
	// to the formatter (default 10,000).
	PageSize int
	// Now is the clock that fixes an export's snapshot (default time.Now).
	Now func() time.Time
}

// Exporter writes exports of the journal. It holds no state between calls; one Exporter
// serves concurrent exports.
type Exporter struct {
	st       Reader
	pageSize int
	now      func() time.Time
}

// New returns an Exporter over st.
func New(st Reader, cfg Config) *Exporter {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Exporter{st: st, pageSize: cfg.PageSize, now: cfg.Now}
}

// Query is one export: a store's records settled in Period, in Format.
type Query struct {
	MerchantID string
	Period     Period
	Format     Format
	// Currency restricts the QuickBooks and Xero formats (a bank account has one
	// currency). Empty means the only currency of the period; Prepare fails, naming
	// "currency", when there are several. The other formats carry every currency and
	// ignore it.
	Currency string
	// AsOf is the snapshot: records stored in the journal after it are left out. Zero
	// means the time Prepare (or Write) runs.
	AsOf time.Time
}

// Summary reports a finished export.
type Summary struct {
	Records int64 // journal records read
	Lines   int64 // data lines written (header excluded)
	AsOf    time.Time
}

// Prepare validates q against the journal before anything is written, so that an HTTP
// handler can still answer with a problem: the format, the period, the currency of the
// single-currency formats (inferred when empty). It fixes q.AsOf. Errors about the query
// are *ParamError.
func (e *Exporter) Prepare(ctx context.Context, q Query) (Query, error) {
	if q.MerchantID == "" {
		return q, &ParamError{"store", "required"}
	}
	if _, err := ParseFormat(string(q.Format)); err != nil {
		return q, err
	}
	if !q.Period.To.After(q.Period.From) {
		return q, &ParamError{"to", "the period is empty"}
	}
	if q.AsOf.IsZero() {
		q.AsOf = e.now().UTC()
	}
	if q.Format != FormatQuickBooks && q.Format != FormatXero {
		return q, nil
	}
	if q.Currency != "" {
		q.Currency = strings.ToUpper(q.Currency)
		if err := (money.Asset{Code: q.Currency}).Validate(); err != nil {
			return q, &ParamError{"currency", fmt.Sprintf("%q is not a currency code", clip(q.Currency))}
		}
		return q, nil
	}
	var cur []string
	err := e.st.View(ctx, func(tx store.Tx) (err error) {
		cur, err = tx.LedgerCurrencies(ctx, e.filter(q))
		return err
	})
	if err != nil {
		return q, fmt.Errorf("export: currencies of the period: %w", err)
	}
	switch len(cur) {
	case 0: // nothing to export: a header-only file
	case 1:
		q.Currency = cur[0]
	default:
		return q, &ParamError{"currency", fmt.Sprintf("the %s format holds one currency and the period has %s: choose one",
			q.Format, strings.Join(cur, ", "))}
	}
	return q, nil
}

func (e *Exporter) filter(q Query) store.LedgerFilter {
	from, to, asOf := q.Period.From, q.Period.To, q.AsOf
	return store.LedgerFilter{MerchantID: q.MerchantID, From: &from, To: &to, AsOf: &asOf, Limit: e.pageSize}
}

// Write streams the export of q to w: it Prepares q, writes the header, then reads the
// journal page by page (keyset pagination, one short read transaction per page) and
// writes and flushes each page before reading the next, so memory does not grow with the
// number of rows. When w has a Flush method (an http.ResponseWriter, a bufio.Writer) it is
// called after every page. A failure mid-way returns an error after a partial output: the
// caller must discard it (the HTTP handler aborts the response; the CLI removes the file).
func (e *Exporter) Write(ctx context.Context, w io.Writer, q Query) (Summary, error) {
	q, err := e.Prepare(ctx, q)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{AsOf: q.AsOf}
	out := newRowWriter(q.Format, w, q.Currency)
	if err := out.header(); err != nil {
		return sum, fmt.Errorf("export: write: %w", err)
	}
	err = e.each(ctx, q, func(r *Row) error {
		n, err := out.row(r)
		sum.Records++
		sum.Lines += int64(n)
		if err != nil {
			return fmt.Errorf("export: write: %w", err)
		}
		return nil
	}, func() error {
		if err := out.flush(); err != nil {
			return fmt.Errorf("export: write: %w", err)
		}
		return flush(w)
	})
	if err != nil {
		return sum, err
	}
	if err := out.flush(); err != nil {
		return sum, fmt.Errorf("export: write: %w", err)
	}
	return sum, flush(w)
}

// Rows calls fn with every canonical row of q in export order (q must be Prepared or
// have AsOf set), reading page by page. The *Row is reused: fn must not keep it.
func (e *Exporter) Rows(ctx context.Context, q Query, fn func(*Row) error) error {
	if q.AsOf.IsZero() {
		q.AsOf = e.now().UTC()
	}
	return e.each(ctx, q, fn, nil)
}

// batchSize is how many records the reader hands the formatter at a time.
const batchSize = 64

// each reads the journal page by page and calls fn with every row, and endPage after each
// page. One reader goroutine streams each page from the database (store.Tx.EachLedgerRecord)
// in batches of batchSize records to the formatter, at most a few batches ahead, so reading
// and formatting overlap and memory stays bounded whatever the page size.
func (e *Exporter) each(ctx context.Context, q Query, fn func(*Row) error, endPage func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		recs    []store.LedgerRecord
		endPage bool // the last batch of a page
		err     error
	}
	var (
		batches = make(chan *batch, 2)
		free    = make(chan *batch, 4) // batches the formatter is done with, reused
		wg      sync.WaitGroup
	)
	defer wg.Wait() // the reader has stopped before each returns
	defer cancel()
	wg.Go(func() {
		defer close(batches)
		send := func(b *batch) bool {
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		next := func() *batch {
			select {
			case b := <-free:
				b.recs, b.endPage, b.err = b.recs[:0], false, nil
				return b
			default:
				return &batch{recs: make([]store.LedgerRecord, 0, batchSize)}
			}
		}
		f := e.filter(q)
		for {
			var (
				b    = next()
				n    int // records of the page read
				sent int // of them, handed to the formatter
				last store.LedgerCursor
			)
			err := ctx.Err()
			if err == nil {
				err = e.st.View(ctx, func(tx store.Tx) error {
					// A retried read starts the page again and skips what was handed over:
					// the records of a period as of AsOf never change, nor does their order.
					n, b.recs = 0, b.recs[:0]
					return tx.EachLedgerRecord(ctx, f, func(l *store.LedgerRecord) error {
						n++
						last = store.LedgerCursor{OccurredAt: l.OccurredAt, ID: l.ID}
						if n <= sent {
							return nil
						}
						b.recs = append(b.recs, *l)
						if len(b.recs) == batchSize {
							if !send(b) {
								return ctx.Err()
							}
							sent += len(b.recs)
							b = next()
						}
						return nil
					})
				})
			}
			if err != nil {
				b.err = fmt.Errorf("export: read the journal: %w", err)
				send(b)
				return
			}
			b.endPage = true
			if !send(b) || n < f.Limit {
				return
			}
			f.After = &last
		}
	})
	var row Row // reused for every record (fn must not keep it): one allocation, not one a row
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		for i := range b.recs {
			var err error
			row, err = buildRow(b.recs[i])
			if errors.Is(err, errNeedPayload) {
				row, err = e.buildWhole(ctx, b.recs[i].IdempotencyKey)
			}
			if err != nil {
				return err
			}
			if err := fn(&row); err != nil {
				return err
			}
		}
		if b.endPage && endPage != nil {
			if err := endPage(); err != nil {
				return err
			}
		}
		clear(b.recs) // a recycled batch must not keep the last page's strings alive
		select {
		case free <- b:
		default:
		}
	}
	return ctx.Err()
}

// buildWhole builds the row of the record with the idempotency key from the whole record
// (its payload included): for the rare record whose projection this version cannot read.
func (e *Exporter) buildWhole(ctx context.Context, key string) (Row, error) {
	var l store.LedgerRecord
	if err := e.st.View(ctx, func(tx store.Tx) (err error) { l, err = tx.LedgerRecordByKey(ctx, key); return }); err != nil {
		return Row{}, fmt.Errorf("export: read record %s: %w", key, err)
	}
	return buildRow(l)
}

// flush pushes w's buffered bytes to the client when w can.
func flush(w io.Writer) error {
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case http.Flusher:
		f.Flush()
	}
	return nil
}

// IsParamError reports whether err is about the query (a 4xx / usage error) rather than
// the journal or the output.
func IsParamError(err error) bool { return errors.Is(err, ErrBadParam) }
