package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/postgres"
)

var exportT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchExport loads o.exportRows BTC settlement records into the journal on Postgres (COPY),
// then exports a tenth of them and all of them as canonical CSV with export.Exporter,
// sampling the live heap, and compares rows/s with a raw COPY of the same rows' payloads
// in the same order (the database's own read speed, no decoding or formatting).
func benchExport(ctx context.Context, o *options, _ string, r *report, stderr io.Writer) error {
	sc, err := newSchema(ctx, o.pg, "bench_exp")
	if err != nil {
		return err
	}
	if o.keep { // for timing the export's query by hand; drop it by hand
		defer progress(stderr, fmt.Sprintf("export: kept schema %s (-keep)", sc.name))
		defer sc.admin.Close()
	} else {
		defer sc.drop()
	}
	st, err := postgres.Open(ctx, sc.url)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	mid := store.NewID("sto", exportT0)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: "bench", CreatedAt: exportT0})
	}); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, sc.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	loadStart := time.Now()
	if err := loadJournal(ctx, conn, mid, o.exportRows); err != nil {
		return fmt.Errorf("load journal: %w", err)
	}
	progress(stderr, fmt.Sprintf("export: loaded %d records in %s", o.exportRows, time.Since(loadStart).Round(time.Millisecond)))
	if _, err := conn.Exec(ctx, "ANALYZE ledger_records"); err != nil {
		return err
	}
	ex := export.New(st, export.Config{})
	// The peak of a sampled heap is the largest of many GC cycles' heaps, each of which
	// varies with what was in flight when its mark began: one export of a tenth has a tenth
	// of the cycles, so its peak is lower even when nothing grows with the rows. The
	// memory comparison is therefore made against the peaks of ten exports of a tenth (the
	// same rows and cycles in all); the first one's peak is printed too.
	small := o.exportRows / 10
	resSmall, err := measureExport(ctx, ex, mid, small)
	if err != nil {
		return err
	}
	tenth := resSmall
	for range 9 {
		res, err := measureExport(ctx, ex, mid, small)
		if err != nil {
			return err
		}
		tenth.peakHeap, tenth.peakLive = max(tenth.peakHeap, res.peakHeap), max(tenth.peakLive, res.peakLive)
	}
	resAll, err := measureExport(ctx, ex, mid, o.exportRows)
	if err != nil {
		return err
	}
	rawRate, err := rawCopy(ctx, conn, mid, o.exportRows)
	if err != nil {
		return fmt.Errorf("raw COPY baseline: %w", err)
	}
	r.section(fmt.Sprintf("Export — canonical CSV of %d journal records on Postgres", o.exportRows))
	r.ratio("rows/s (limit: raw COPY of payloads)", resAll.rowsPerSec, rawRate, "rows/s", "as close to 1 as the work allows")
	r.ratio(fmt.Sprintf("peak heap @%d (limit: ten @%d)", o.exportRows, small), mib(resAll.peakHeap), mib(tenth.peakHeap), "MiB", "≤ 1.1 (constant memory)")
	r.ratio(fmt.Sprintf("peak live heap @%d (limit: ten @%d)", o.exportRows, small), mib(resAll.peakLive), mib(tenth.peakLive), "MiB", "≤ 1.1 (constant memory)")
	r.line(fmt.Sprintf("peak heap, live heap of one @%d", small), fmt.Sprintf("%.1f MiB, %.1f MiB (ratios %.3f, %.3f: fewer cycles, see above)",
		mib(resSmall.peakHeap), mib(resSmall.peakLive), float64(resAll.peakHeap)/float64(max(resSmall.peakHeap, 1)),
		float64(resAll.peakLive)/float64(max(resSmall.peakLive, 1))))
	r.line("rows/s at a tenth", fmt.Sprintf("%.0f rows/s, %.1f MB written", resSmall.rowsPerSec, float64(resSmall.bytes)/1e6))
	r.line("bytes written (all)", fmt.Sprintf("%.1f MB", float64(resAll.bytes)/1e6))
	return nil
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

type exportRun struct {
	rowsPerSec float64
	// peakHeap is the most heap object bytes sampled (live and not yet collected: it
	// depends on when the GC ran); peakLive the most the GC found live at the end of a
	// cycle (what the export keeps).
	peakHeap, peakLive uint64
	bytes              int64
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// measureExport exports the first n records (one second apart from exportT0) and samples
// the heap every 2 ms while it runs: the heap objects' bytes (garbage not yet collected
// included) and the heap the last GC cycle found live.
func measureExport(ctx context.Context, ex *export.Exporter, mid string, n int) (exportRun, error) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	stop := make(chan struct{})
	var peak, live uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			live = max(live, sample[1].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	w := &countWriter{}
	start := time.Now()
	sum, err := ex.Write(ctx, w, export.Query{MerchantID: mid, Format: export.FormatCSV,
		Period: export.Period{From: exportT0, To: exportT0.Add(time.Duration(n) * time.Second)}})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return exportRun{}, err
	}
	if sum.Records != int64(n) {
		return exportRun{}, fmt.Errorf("exported %d records, want %d", sum.Records, n)
	}
	return exportRun{rowsPerSec: float64(n) / elapsed.Seconds(), peakHeap: peak, peakLive: live, bytes: w.n}, nil
}

// rawCopy streams the payloads of the first n records in export order with COPY TO.
func rawCopy(ctx context.Context, conn *pgx.Conn, mid string, n int) (float64, error) {
	w := &countWriter{}
	q := fmt.Sprintf(`COPY (SELECT id, payload FROM ledger_records WHERE merchant_id = '%s' AND occurred_at >= '%s' AND occurred_at < '%s'
		ORDER BY occurred_at, id) TO STDOUT`, mid, exportT0.Format(time.RFC3339), exportT0.Add(time.Duration(n)*time.Second).Format(time.RFC3339))
	start := time.Now()
	tag, err := conn.PgConn().CopyTo(ctx, w, q)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() != int64(n) {
		return 0, fmt.Errorf("COPY read %d rows, want %d", tag.RowsAffected(), n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// loadJournal stores n BTC settlement records one second apart, built from one real
// settlement record by substituting the payment id, txid and time at fixed widths (so the
// payload stays canonical), with COPY in batches.
func loadJournal(ctx context.Context, conn *pgx.Conn, mid string, n int) error {
	h := int64(871203)
	recs, err := ledger.SettlementRecords(ledger.Settlement{
		Invoice: store.Invoice{ID: "inv_A", MerchantID: mid, Currency: "USD", Price: big.NewInt(2500), OrderID: "1001"},
		Option: store.PaymentOption{ID: "opt_A", InvoiceID: "inv_A", Asset: "BTC", Scale: 8, Chain: "bitcoin",
			Rate: "64123.45", RateSource: "median(coinbase,kraken)", RateAt: exportT0},
		Payments: []store.Payment{{ID: "pay_@@@@@@@@@@", InvoiceID: "inv_A", OptionID: "opt_A", Chain: "bitcoin",
			TxID: strings.Repeat("ab", 27) + "@@@@@@@@@@", OutputIndex: 1,
			Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Amount: big.NewInt(38987), BlockHeight: &h,
			BlockHash: "00000000000000000001c2f1a7c4e6a3d2b1f0e9d8c7b6a5f4e3d2c1b0a99887", SeenAt: exportT0}},
		Tip:        871204,
		Fee:        ledger.FeePolicy{BasisPoints: 100},
		FairValues: map[string]ledger.Rate{"pay_@@@@@@@@@@": {Rate: "64200.00", Source: "coinbase", At: exportT0}},
		SettledAt:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		return err
	}
	payload, err := recs[0].Encode()
	if err != nil {
		return err
	}
	const at = "2000-01-01T00:00:00.000000Z"
	if !strings.Contains(string(payload), at) {
		return fmt.Errorf("settlement payload has no %s to substitute", at)
	}
	parts := strings.Split(strings.Replace(string(payload), at, "%T", 1), "@@@@@@@@@@")
	rec := recs[0]
	// The projection the journal stores beside the payload (ledger.Record.Flat), templated
	// the same way: ids and the first time at fixed widths, and the payload hash.
	stored, err := ledger.ParseRecord(payload)
	if err != nil {
		return err
	}
	hashMark := strings.Repeat("#", 64)
	flat := stored.Flat(hashMark)
	if !strings.Contains(flat, at) {
		return fmt.Errorf("projection has no %s to substitute", at)
	}
	flatParts := strings.Split(strings.Replace(flat, at, "%T", 1), "@@@@@@@@@@")
	num := func(v *big.Int) pgtype.Numeric { return pgtype.Numeric{Int: v, Valid: true} }
	cols := []string{"id", "idempotency_key", "merchant_id", "source_type", "source_id", "reporting_category", "currency",
		"gross", "fee", "net", "occurred_at", "payload", "payload_hash", "created_at", "projection"}
	const batch = 5000
	rows := make([][]any, 0, batch)
	var sb strings.Builder
	for i := range n {
		id := fmt.Sprintf("%010d", i)
		occurred := exportT0.Add(time.Duration(i) * time.Second)
		sb.Reset()
		for j, part := range parts {
			if j > 0 {
				sb.WriteString(id)
			}
			sb.WriteString(part)
		}
		p := strings.Replace(sb.String(), "%T", occurred.Format(export.TimeFormat), 1)
		sum := sha256.Sum256([]byte(p))
		sb.Reset()
		for j, part := range flatParts {
			if j > 0 {
				sb.WriteString(id)
			}
			sb.WriteString(part)
		}
		proj := strings.Replace(strings.Replace(sb.String(), "%T", occurred.Format(export.TimeFormat), 1), hashMark, hex.EncodeToString(sum[:]), 1)
		if i < 3 { // the templated projection decodes to the templated payload's record
			want, err := ledger.ParseRecord([]byte(p))
			if err != nil {
				return err
			}
			got, named, err := ledger.ParseFlat(proj)
			if err != nil || named != hex.EncodeToString(sum[:]) || !reflect.DeepEqual(got, want) {
				return fmt.Errorf("templated projection of record %d does not match its payload (%v)", i, err)
			}
		}
		rows = append(rows, []any{"lgr_" + id, "crypto_payment:pay_" + id + ":settled", mid, rec.SourceType, "pay_" + id,
			rec.ReportingCategory, rec.Currency, num(rec.Gross), num(rec.Fee), num(rec.Net), occurred, p, sum[:], occurred, proj})
		if len(rows) == batch || i == n-1 {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"ledger_records"}, cols, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			rows = rows[:0]
		}
	}
	return nil
}
