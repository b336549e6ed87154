package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/export"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

var exportDay = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)

// postCardRows posts n USD card charges (and one EUR charge when eur is set) for the
// merchant through the real journal, settled on exportDay.
func postCardRows(t *testing.T, st store.Store, merchantID string, n int, eur bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,amount,fee,net,currency,created,reporting_category,description\n")
	for i := range n {
		at := exportDay.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05")
		b.WriteString("txn_" + merchantID + "_" + big.NewInt(int64(i)).String() + ",10.00,0.30,9.70,usd," + at + ",charge,=cmd()\n")
	}
	if eur {
		b.WriteString("txn_" + merchantID + "_eur,5.00,0.00,5.00,eur,2026-11-10 12:00:00,charge,euro\n")
	}
	recs, err := ledger.ParseStripeCSV(strings.NewReader(b.String()), merchantID)
	if err != nil {
		t.Fatal(err)
	}
	j := ledger.NewJournal(st, func() time.Time { return exportDay.Add(24 * time.Hour) })
	for _, r := range recs {
		if _, err := j.Post(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportSettlements(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			m := e.newMerchant("shop")
			other := e.newMerchant("other")
			postCardRows(t, e.st, m.id, 5, true)
			postCardRows(t, e.st, other.id, 3, false)
			base := "/v1/exports/settlements?from=2026-11-10&to=2026-11-10"

			r := e.do("GET", base+"&format=csv", m.key, nil)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
				!strings.Contains(r.header.Get("Content-Disposition"), "attachment") || r.header.Get("Chainpay-Export-As-Of") == "" {
				t.Fatalf("csv: %d %v\n%s", r.status, r.header, r.body)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatalf("csv body: %v", err)
			}
			if len(rows) != 7 || strings.Join(rows[0], ",") != strings.Join(export.Columns(), ",") {
				t.Fatalf("csv: %d lines, header %v", len(rows), rows[0])
			}
			for _, row := range rows[1:] {
				if row[2] != m.id {
					t.Fatalf("a row of store %s in the export of %s", row[2], m.id)
				}
			}
			if !strings.Contains(string(r.body), ",'=cmd(),") {
				t.Fatal("the formula description was not neutralised")
			}

			r = e.do("GET", base+"&format=jsonl", m.key, nil)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/x-ndjson") {
				t.Fatalf("jsonl: %d %v", r.status, r.header)
			}
			lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
			var first map[string]string
			if len(lines) != 6 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["description"] != "=cmd()" {
				t.Fatalf("jsonl: %d lines, first %s", len(lines), lines[0])
			}

			r = e.do("GET", base+"&format=quickbooks&currency=USD", m.key, nil)
			if r.status != http.StatusOK || strings.Count(string(r.body), "\r\n") != 11 { // header + 5 × (gross, fee)
				t.Fatalf("quickbooks: %d\n%s", r.status, r.body)
			}
			if r := e.do("GET", base+"&format=koinly", m.key, nil); r.status != http.StatusOK || string(r.body) != "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash\r\n" {
				t.Fatalf("koinly of card rows only: %d\n%s", r.status, r.body)
			}

			// Bad requests name the parameter.
			for _, c := range []struct{ query, field string }{
				{"?to=2026-11-10&format=csv", "from"},
				{"?from=2026-11-10&format=csv", "to"},
				{"?from=2026-11-10&to=2026-11-09&format=csv", "to"},
				{"?from=10.11.2026&to=2026-11-10&format=csv", "from"},
				{"?from=2026-11-10&to=2026-11-10&format=xlsx", "format"},
				{"?from=2026-11-10&to=2026-11-10", "format"},
				{"?from=2026-11-10&to=2026-11-10&format=xero", "currency"},
				{"?from=2026-11-10&to=2026-11-10&format=xero&currency=%3D1", "currency"},
			} {
				r := e.do("GET", "/v1/exports/settlements"+c.query, m.key, nil)
				if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/problem+json" ||
					!strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
					t.Errorf("%s: %d %s, want 400 naming %s", c.query, r.status, r.body, c.field)
				}
			}
			reader := e.newMerchant("reader", apikey.InvoicesRead)
			if r := e.do("GET", base+"&format=csv", reader.key, nil); r.status != http.StatusForbidden {
				t.Fatalf("a key without exports:read: %d", r.status)
			}
			if r := e.do("GET", base+"&format=csv", "", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("no key: %d", r.status)
			}
		})
	}
}

// TestExportStreamsPages: an export of many pages arrives whole; a record that cannot be
// exported in a later page aborts the transfer instead of ending the file early.
func TestExportStreamsPages(t *testing.T) {
	t.Parallel()
	e := setup(t, storetest.Backends()[0])
	m := e.newMerchant("shop")
	postCardRows(t, e.st, m.id, 250, false)
	srv := httptest.NewServer(api.New(api.Config{Store: e.st, Exports: export.New(e.st, export.Config{PageSize: 7})}))
	t.Cleanup(srv.Close)
	paged := *e
	paged.srv = srv
	r := paged.do("GET", "/v1/exports/settlements?from=2026-11-10&to=2026-11-10&format=csv", m.key, nil)
	if r.status != http.StatusOK || strings.Count(string(r.body), "\r\n") != 251 {
		t.Fatalf("%d, %d lines", r.status, strings.Count(string(r.body), "\r\n"))
	}

	// A stored payload that no longer matches its hash, settled late in the day: the
	// response has started when the export reaches it.
	rec, err := ledger.ParseStripeCSV(strings.NewReader("id,amount,fee,net,currency,created,reporting_category\n"+
		"txn_late,1.00,0.00,1.00,usd,2026-11-10 23:00:00,charge\n"), m.id)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := rec[0].Encode()
	sum := sha256.Sum256(payload)
	row := store.LedgerRecord{ID: "lgr_late", IdempotencyKey: rec[0].IdempotencyKey, MerchantID: m.id, SourceType: rec[0].SourceType,
		SourceID: rec[0].SourceID, ReportingCategory: "charge", Currency: "USD", Gross: big.NewInt(100), Fee: big.NewInt(0),
		Net: big.NewInt(100), OccurredAt: rec[0].OccurredAt, Payload: strings.Replace(string(payload), `"1.00"`, `"9.00"`, 1) + " ",
		PayloadHash: sum[:], CreatedAt: exportDay}
	if err := e.st.Tx(t.Context(), func(tx store.Tx) error { _, err := tx.InsertLedgerRecord(t.Context(), row); return err }); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/v1/exports/settlements?from=2026-11-10&to=2026-11-10&format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+m.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("a failure mid-stream must break the transfer: status %d, read error %v, %d bytes", resp.StatusCode, err, len(body))
	}
}
