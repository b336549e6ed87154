package sqldb_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// TestHostileStringsAreData stores invoices whose merchant-supplied strings are SQL
// fragments and reads them back through the filters that put those strings in a WHERE
// clause, on SQLite and Postgres: with parameterised queries they are plain data, nothing
// else is matched, and the tables are intact.
func TestHostileStringsAreData(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`'; DROP TABLE invoices; --`,
		`' OR '1'='1`,
		`1001' UNION SELECT id FROM api_keys --`,
		`$1`, `?`, `\'; SELECT pg_sleep(10); --`,
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := b.Open(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			mid := store.NewID("sto", now)
			var ids []string
			err := st.Tx(ctx, func(tx store.Tx) error {
				if err := tx.CreateMerchant(ctx, store.Merchant{ID: mid, Name: hostile[0], CreatedAt: now}); err != nil {
					return err
				}
				for i, s := range append([]string{"plain"}, hostile...) {
					inv := store.Invoice{ID: store.NewID("inv", now.Add(time.Duration(i))), MerchantID: mid, Status: "new",
						Price: big.NewInt(2500), Currency: "USD", OrderID: s, Metadata: `{"note":` + quote(s) + `}`,
						TolerancePercent: "0", ToleranceFloor: big.NewInt(0), Confirmations: "{}",
						ExpiresAt: now.Add(time.Hour), MonitorUntil: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now}
					if err := tx.CreateInvoice(ctx, inv); err != nil {
						return err
					}
					ids = append(ids, inv.ID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = st.View(ctx, func(tx store.Tx) error {
				m, err := tx.GetMerchant(ctx, mid)
				if err != nil {
					return err
				}
				if m.Name != hostile[0] {
					t.Errorf("merchant name %q, want %q", m.Name, hostile[0])
				}
				for i, s := range hostile {
					got, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, OrderID: s, Limit: 100})
					if err != nil {
						return err
					}
					if len(got) != 1 || got[0].OrderID != s || got[0].ID != ids[i+1] {
						t.Errorf("order_id %q matched %d invoices, want exactly its own", s, len(got))
					}
				}
				all, err := tx.ListInvoices(ctx, store.InvoiceFilter{MerchantID: mid, Limit: 100})
				if err != nil {
					return err
				}
				if len(all) != len(hostile)+1 {
					t.Errorf("%d invoices after the hostile inserts, want %d", len(all), len(hostile)+1)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func quote(s string) string {
	out := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return string(append(out, '"'))
}
