package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/chainpay/chainpay/store"
)

// Ledger is the interface card and crypto settlements are posted to. Post is idempotent on
// the record's idempotency key, forever: posting the same record again reports
// Result.Replayed; posting a different record under a used key is ErrConflict; an invalid
// record is ErrInvalid. Get returns a posted record (ErrNotFound when none).
type Ledger interface {
	Post(ctx context.Context, rec Record) (Result, error)
	Get(ctx context.Context, idempotencyKey string) (Record, error)
}

// Sink is what the relay delivers records to: a Ledger's Post. Errors wrapping ErrConflict
// or ErrInvalid park the record; any other error is retried with backoff.
type Sink interface {
	Post(ctx context.Context, rec Record) (Result, error)
}

// Journal is the built-in double-entry ledger in chainpay's own database (the default sink).
// Records are append-only, unique on their idempotency key with the hash of their canonical
// payload; postings feed per-account balances.
type Journal struct {
	st  store.Store
	now func() time.Time
}

var (
	_ Ledger = (*Journal)(nil)
	_ Sink   = (*Journal)(nil)
)

// NewJournal returns the journal over st; now is the clock (time.Now when nil).
func NewJournal(st store.Store, now func() time.Time) *Journal {
	if now == nil {
		now = time.Now
	}
	return &Journal{st: st, now: now}
}

// Post stores rec and its postings in one transaction, or reports a replay or conflict (see
// Ledger). A record for a merchant the store does not know is ErrInvalid.
func (j *Journal) Post(ctx context.Context, rec Record) (Result, error) {
	payload, err := rec.Encode()
	if err != nil {
		return Result{}, err
	}
	hash := PayloadHash(payload)
	sum, _ := hex.DecodeString(hash)
	res := Result{IdempotencyKey: rec.IdempotencyKey, PayloadHash: hash}
	// The projection is made from the payload as stored (what a reader of the payload gets),
	// not from rec: the two can only agree.
	stored, err := ParseRecord(payload)
	if err != nil {
		return Result{}, err
	}
	now := j.now().UTC()
	row := store.LedgerRecord{
		ID: store.NewID("lgr", now), IdempotencyKey: rec.IdempotencyKey, MerchantID: rec.MerchantID,
		SourceType: rec.SourceType, SourceID: rec.SourceID, ReportingCategory: rec.ReportingCategory,
		Currency: rec.Currency, Gross: rec.Gross, Fee: rec.Fee, Net: rec.Net, OccurredAt: rec.OccurredAt,
		Payload: string(payload), PayloadHash: sum, Projection: stored.Flat(hash), CreatedAt: now,
	}
	for _, p := range rec.Postings {
		row.Postings = append(row.Postings, store.LedgerPosting{Account: p.Account, Asset: p.Asset, Amount: p.Amount, Direction: p.Direction})
	}
	err = j.st.Tx(ctx, func(tx store.Tx) error {
		res.Replayed = false
		if _, err := tx.GetMerchant(ctx, rec.MerchantID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w %q: unknown merchant %q", ErrInvalid, rec.IdempotencyKey, rec.MerchantID)
		} else if err != nil {
			return err
		}
		inserted, err := tx.InsertLedgerRecord(ctx, row)
		if err != nil || inserted {
			return err
		}
		have, err := tx.LedgerRecordByKey(ctx, rec.IdempotencyKey)
		if err != nil {
			return err
		}
		if hex.EncodeToString(have.PayloadHash) != hash {
			return fmt.Errorf("%w: %s is stored with payload sha256 %x, this one is %s",
				ErrConflict, rec.IdempotencyKey, have.PayloadHash, hash)
		}
		res.Replayed = true
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("journal post %s: %w", rec.IdempotencyKey, err)
	}
	return res, nil
}

// Get returns the record posted under key, decoded from its stored payload.
func (j *Journal) Get(ctx context.Context, key string) (Record, error) {
	var row store.LedgerRecord
	err := j.st.View(ctx, func(tx store.Tx) error {
		var err error
		row, err = tx.LedgerRecordByKey(ctx, key)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, fmt.Errorf("journal get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("journal get %q: %w", key, err)
	}
	rec, err := ParseRecord([]byte(row.Payload))
	if err != nil {
		return Record{}, fmt.Errorf("journal get %q: stored payload: %w", key, err)
	}
	return rec, nil
}

// Records lists posted records (decoded) matching f, ordered by occurred_at.
func (j *Journal) Records(ctx context.Context, f store.LedgerFilter) ([]Record, error) {
	var rows []store.LedgerRecord
	err := j.st.View(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.LedgerRecords(ctx, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("journal records: %w", err)
	}
	out := make([]Record, 0, len(rows))
	for _, row := range rows {
		rec, err := ParseRecord([]byte(row.Payload))
		if err != nil {
			return nil, fmt.Errorf("journal records: stored payload of %s: %w", row.IdempotencyKey, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// Balances returns the merchant's account balances (debits − credits per account and asset).
func (j *Journal) Balances(ctx context.Context, merchantID string) ([]store.LedgerBalance, error) {
	var out []store.LedgerBalance
	err := j.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.LedgerBalances(ctx, merchantID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("journal balances of %s: %w", merchantID, err)
	}
	return out, nil
}
