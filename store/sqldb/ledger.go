package sqldb

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
)

// --- ledger journal

const ledgerRecordCols = `id, idempotency_key, merchant_id, source_type, source_id, reporting_category, currency,
	gross, fee, net, occurred_at, payload, payload_hash, created_at, projection`

func scanLedgerRecord(r interface{ Scan(...any) error }, l *store.LedgerRecord) error {
	return r.Scan(&l.ID, &l.IdempotencyKey, &l.MerchantID, &l.SourceType, &l.SourceID, &l.ReportingCategory,
		&l.Currency, bigCol{&l.Gross}, bigCol{&l.Fee}, bigCol{&l.Net}, timeCol{&l.OccurredAt}, &l.Payload,
		&l.PayloadHash, timeCol{&l.CreatedAt}, &l.Projection)
}

func (t *tx) InsertLedgerRecord(ctx context.Context, r store.LedgerRecord) (bool, error) {
	for _, v := range []*big.Int{r.Gross, r.Fee, r.Net} {
		if v == nil {
			return false, fmt.Errorf("ledger record %s: nil amount", r.IdempotencyKey)
		}
	}
	n, err := t.exec(ctx, `INSERT INTO ledger_records (`+ledgerRecordCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (idempotency_key) DO NOTHING`,
		r.ID, r.IdempotencyKey, r.MerchantID, r.SourceType, r.SourceID, r.ReportingCategory, r.Currency,
		r.Gross, r.Fee, r.Net, r.OccurredAt, r.Payload, r.PayloadHash, r.CreatedAt, r.Projection)
	if err != nil || n == 0 {
		return false, err
	}
	for i, p := range r.Postings {
		if p.Amount == nil {
			return false, fmt.Errorf("ledger record %s posting %d: nil amount", r.IdempotencyKey, i)
		}
		if _, err := t.exec(ctx, `INSERT INTO ledger_postings (record_id, seq, merchant_id, account, asset, amount, direction)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, i, r.MerchantID, p.Account, p.Asset, p.Amount, p.Direction); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (t *tx) LedgerRecordByKey(ctx context.Context, key string) (store.LedgerRecord, error) {
	var r store.LedgerRecord
	err := scanLedgerRecord(t.c.QueryRow(ctx, `SELECT `+ledgerRecordCols+` FROM ledger_records WHERE idempotency_key = $1`, key), &r)
	if err != nil {
		return r, t.d.Translate(err)
	}
	err = t.many(ctx, `SELECT account, asset, amount, direction FROM ledger_postings WHERE record_id = $1 ORDER BY seq`,
		[]any{r.ID}, func(rows Rows) error {
			var p store.LedgerPosting
			if err := rows.Scan(&p.Account, &p.Asset, bigCol{&p.Amount}, &p.Direction); err != nil {
				return err
			}
			r.Postings = append(r.Postings, p)
			return nil
		})
	return r, err
}

// ledgerWhere renders f's conditions on the ledger_records columns (prefixed with alias),
// starting the placeholders at $1. Limit is not rendered; After only when keyset is set.
func ledgerWhere(f store.LedgerFilter, alias string, keyset bool) (string, []any) {
	var (
		where = []string{alias + "merchant_id = $1"}
		args  = []any{f.MerchantID}
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.SourceType != "" {
		add(alias+"source_type = $%d", f.SourceType)
	}
	// With a keyset cursor inside the period the cursor alone bounds the start: given both
	// bounds, SQLite picks the From range for the index and scans every earlier page again.
	afterFrom := keyset && f.After != nil && (f.From == nil || !f.After.OccurredAt.Before(*f.From))
	if f.From != nil && !afterFrom {
		add(alias+"occurred_at >= $%d", *f.From)
	}
	if f.To != nil {
		add(alias+"occurred_at < $%d", *f.To)
	}
	if f.AsOf != nil {
		add(alias+"created_at <= $%d", *f.AsOf)
	}
	if keyset && f.After != nil {
		args = append(args, f.After.OccurredAt, f.After.ID)
		// A row-value comparison: both SQLite (3.15+) and Postgres use the
		// (merchant_id, occurred_at, id) index for it.
		where = append(where, fmt.Sprintf("(%soccurred_at, %sid) > ($%d, $%d)", alias, alias, len(args)-1, len(args)))
	}
	return strings.Join(where, " AND "), args
}

func (t *tx) LedgerRecords(ctx context.Context, f store.LedgerFilter) ([]store.LedgerRecord, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	where, args := ledgerWhere(f, "", true)
	args = append(args, limit)
	out := make([]store.LedgerRecord, 0, min(limit, 1000))
	err := t.many(ctx, `SELECT `+ledgerRecordCols+` FROM ledger_records WHERE `+where+
		fmt.Sprintf(` ORDER BY occurred_at, id LIMIT $%d`, len(args)), args,
		func(r Rows) error {
			var l store.LedgerRecord
			if err := scanLedgerRecord(r, &l); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

func (t *tx) EachLedgerRecord(ctx context.Context, f store.LedgerFilter, fn func(*store.LedgerRecord) error) error {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	where, args := ledgerWhere(f, "", true)
	args = append(args, limit)
	var l store.LedgerRecord
	cols := `payload, false`
	if t.d.Name() == "postgres" {
		cols = `CASE WHEN projection = '' THEN payload ELSE '' END, sha256(convert_to(payload, 'UTF8')) = payload_hash`
		l.PayloadChecked = true
	}
	return t.many(ctx, `SELECT id, idempotency_key, merchant_id, occurred_at, `+cols+`, payload_hash, created_at, projection
		FROM ledger_records WHERE `+where+fmt.Sprintf(` ORDER BY occurred_at, id LIMIT $%d`, len(args)), args,
		func(r Rows) error {
			if err := r.Scan(&l.ID, &l.IdempotencyKey, &l.MerchantID, timeCol{&l.OccurredAt}, &l.Payload, &l.PayloadOK,
				&l.PayloadHash, timeCol{&l.CreatedAt}, &l.Projection); err != nil {
				return err
			}
			return fn(&l)
		})
}

func (t *tx) LedgerTotals(ctx context.Context, f store.LedgerFilter) (store.LedgerTotals, error) {
	var res store.LedgerTotals
	where, args := ledgerWhere(f, "r.", false)
	err := t.many(ctx, `SELECT r.currency, r.reporting_category, COUNT(*) FROM ledger_records r WHERE `+where+`
		GROUP BY r.currency, r.reporting_category ORDER BY r.currency, r.reporting_category`, args,
		func(r Rows) error {
			var c store.LedgerRecordCount
			if err := r.Scan(&c.Currency, &c.ReportingCategory, &c.Count); err != nil {
				return err
			}
			res.Records = append(res.Records, c)
			return nil
		})
	if err != nil {
		return res, err
	}
	type key struct{ category, account, asset string }
	sums := map[key]*store.LedgerPostingTotal{}
	err = t.many(ctx, `SELECT r.reporting_category, p.account, p.asset, p.amount, p.direction
		FROM ledger_records r JOIN ledger_postings p ON p.record_id = r.id WHERE `+where, args,
		func(r Rows) error {
			var (
				k        key
				amt      *big.Int
				dir      string
				category string
			)
			if err := r.Scan(&category, &k.account, &k.asset, bigCol{&amt}, &dir); err != nil {
				return err
			}
			k.category = category
			s := sums[k]
			if s == nil {
				s = &store.LedgerPostingTotal{ReportingCategory: k.category, Account: k.account, Asset: k.asset,
					Debits: new(big.Int), Credits: new(big.Int)}
				sums[k] = s
			}
			switch dir {
			case store.Debit:
				s.Debits.Add(s.Debits, amt)
			case store.Credit:
				s.Credits.Add(s.Credits, amt)
			default:
				return fmt.Errorf("sqldb: ledger posting direction %q", dir)
			}
			return nil
		})
	if err != nil {
		return res, err
	}
	for _, s := range sums {
		res.Postings = append(res.Postings, *s)
	}
	slices.SortFunc(res.Postings, func(a, b store.LedgerPostingTotal) int {
		return cmp.Or(cmp.Compare(a.ReportingCategory, b.ReportingCategory), cmp.Compare(a.Account, b.Account),
			cmp.Compare(a.Asset, b.Asset))
	})
	return res, nil
}

func (t *tx) LedgerCurrencies(ctx context.Context, f store.LedgerFilter) ([]string, error) {
	where, args := ledgerWhere(f, "", false)
	var out []string
	err := t.many(ctx, `SELECT DISTINCT currency FROM ledger_records WHERE `+where+` ORDER BY currency`, args,
		func(r Rows) error {
			var c string
			if err := r.Scan(&c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	return out, err
}

func (t *tx) LedgerBalances(ctx context.Context, merchantID string) ([]store.LedgerBalance, error) {
	var out []store.LedgerBalance
	err := t.many(ctx, `SELECT account, asset, amount, direction FROM ledger_postings WHERE merchant_id = $1
		ORDER BY account, asset`, []any{merchantID}, func(r Rows) error {
		var (
			p   store.LedgerPosting
			amt *big.Int
		)
		if err := r.Scan(&p.Account, &p.Asset, bigCol{&amt}, &p.Direction); err != nil {
			return err
		}
		if n := len(out); n == 0 || out[n-1].Account != p.Account || out[n-1].Asset != p.Asset {
			out = append(out, store.LedgerBalance{Account: p.Account, Asset: p.Asset,
				Debits: new(big.Int), Credits: new(big.Int), Balance: new(big.Int)})
		}
		b := &out[len(out)-1]
		switch p.Direction {
		case store.Debit:
			b.Debits.Add(b.Debits, amt)
			b.Balance.Add(b.Balance, amt)
		case store.Credit:
			b.Credits.Add(b.Credits, amt)
			b.Balance.Sub(b.Balance, amt)
		default:
			return fmt.Errorf("sqldb: ledger posting direction %q", p.Direction)
		}
		return nil
	})
	return out, err
}

// --- outbox (ledger relay)

func (t *tx) OutboxByKey(ctx context.Context, topic, key string) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	err := scanOutbox(t.c.QueryRow(ctx, `SELECT `+outboxCols+` FROM outbox WHERE topic = $1 AND key = $2`, topic, key), &m)
	return m, t.d.Translate(err)
}

func (t *tx) RequeueOutbox(ctx context.Context, topic, id string, next time.Time) error {
	return mustAffect(t.exec(ctx, `UPDATE outbox SET status = 'pending', next_attempt = $3, lease_holder = '',
		lease_until = NULL WHERE topic = $1 AND id = $2 AND status = 'parked'`, topic, id, next))
}

// --- per-payment books

const ledgerBookCols = `payment_id, seq, invoice_id, merchant_id, state, amount, record_key, created_at`

func (t *tx) AppendLedgerBook(ctx context.Context, b store.LedgerBook) error {
	if b.Amount == nil {
		return fmt.Errorf("ledger book %s/%d: nil amount", b.PaymentID, b.Seq)
	}
	_, err := t.exec(ctx, `INSERT INTO ledger_books (`+ledgerBookCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		b.PaymentID, b.Seq, b.InvoiceID, b.MerchantID, b.State, b.Amount, b.RecordKey, b.CreatedAt)
	return err
}

func (t *tx) latestBooks(ctx context.Context, col, id string) ([]store.LedgerBook, error) {
	var out []store.LedgerBook
	err := t.many(ctx, `SELECT `+ledgerBookCols+` FROM ledger_books b WHERE b.`+col+` = $1
		AND b.seq = (SELECT MAX(m.seq) FROM ledger_books m WHERE m.payment_id = b.payment_id) ORDER BY b.payment_id`,
		[]any{id}, func(r Rows) error {
			var b store.LedgerBook
			if err := r.Scan(&b.PaymentID, &b.Seq, &b.InvoiceID, &b.MerchantID, &b.State, bigCol{&b.Amount},
				&b.RecordKey, timeCol{&b.CreatedAt}); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	return out, err
}

func (t *tx) LatestLedgerBooks(ctx context.Context, invoiceID string) ([]store.LedgerBook, error) {
	return t.latestBooks(ctx, "invoice_id", invoiceID)
}

func (t *tx) MerchantLedgerBooks(ctx context.Context, merchantID string) ([]store.LedgerBook, error) {
	return t.latestBooks(ctx, "merchant_id", merchantID)
}

// inOrder holds back a payment's n-th record until its (n−1)-th is delivered.
const inOrder = `AND NOT EXISTS (SELECT 1 FROM ledger_books b
	JOIN ledger_books pb ON pb.payment_id = b.payment_id AND pb.seq = b.seq - 1
	JOIN outbox po ON po.topic = o.topic AND po.key = pb.record_key
	WHERE b.record_key = o.key AND po.status <> 'delivered')`

func (t *tx) ClaimDueInOrder(ctx context.Context, topic, holder string, now, leaseUntil time.Time, limit int) ([]store.OutboxMessage, error) {
	return t.claim(ctx, inOrder, topic, holder, now, leaseUntil, limit)
}

func (t *tx) MerchantIDs(ctx context.Context) ([]string, error) {
	var out []string
	err := t.many(ctx, `SELECT id FROM merchants ORDER BY id`, nil, func(r Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}
