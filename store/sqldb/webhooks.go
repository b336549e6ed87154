package sqldb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chainpay/chainpay/store"
)

// --- webhook endpoints

const endpointCols = `id, merchant_id, url, description, secret, previous_secret, previous_secret_until, events,
	enabled, created_at, updated_at, format`

// endpointRead are the columns an endpoint is read with: since_xid is set by the store
// (a column default on Postgres, a trigger on SQLite), never written.
const endpointRead = endpointCols + `, since_xid`

func scanEndpoint(r interface{ Scan(...any) error }, e *store.WebhookEndpoint) error {
	return r.Scan(&e.ID, &e.MerchantID, &e.URL, &e.Description, &e.Secret, &e.PreviousSecret,
		nullTimeCol{&e.PreviousSecretUntil}, listCol{&e.Events}, &e.Enabled, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt}, &e.Format,
		&e.Since)
}

func (t *tx) CreateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	_, err := t.exec(ctx, `INSERT INTO webhook_endpoints (`+endpointCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.MerchantID, e.URL, e.Description, e.Secret, e.PreviousSecret, e.PreviousSecretUntil, e.Events,
		e.Enabled, e.CreatedAt, e.UpdatedAt, e.Format)
	return err
}

func (t *tx) WebhookEndpoint(ctx context.Context, merchantID, id string) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	err := scanEndpoint(t.c.QueryRow(ctx, `SELECT `+endpointRead+` FROM webhook_endpoints
		WHERE id = $1 AND ($2 = '' OR merchant_id = $2)`, id, merchantID), &e)
	return e, t.d.Translate(err)
}

func (t *tx) WebhookEndpoints(ctx context.Context, merchantID string) ([]store.WebhookEndpoint, error) {
	var out []store.WebhookEndpoint
	err := t.many(ctx, `SELECT `+endpointRead+` FROM webhook_endpoints WHERE merchant_id = $1 ORDER BY id`,
		[]any{merchantID}, func(r Rows) error {
			var e store.WebhookEndpoint
			if err := scanEndpoint(r, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

func (t *tx) UpdateWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return mustAffect(t.exec(ctx, `UPDATE webhook_endpoints SET url = $3, description = $4, secret = $5,
		previous_secret = $6, previous_secret_until = $7, events = $8, enabled = $9, updated_at = $10
		WHERE id = $1 AND merchant_id = $2`,
		e.ID, e.MerchantID, e.URL, e.Description, e.Secret, e.PreviousSecret, e.PreviousSecretUntil, e.Events,
		e.Enabled, e.UpdatedAt))
}

func (t *tx) DeleteWebhookEndpoint(ctx context.Context, merchantID, id string) error {
	// Deliveries and their attempts go with the endpoint (ON DELETE CASCADE).
	return mustAffect(t.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// --- fan-out

func (t *tx) RecordWebhookEvent(ctx context.Context, e store.WebhookEvent) (bool, error) {
	n, err := t.exec(ctx, `INSERT INTO webhook_events (event_id, merchant_id, type, payload, created_at, dispatched_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
		e.EventID, e.MerchantID, e.Type, e.Payload, e.CreatedAt, e.DispatchedAt)
	return n == 1, err
}

// --- deliveries

const deliveryCols = `d.id, d.merchant_id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts,
	d.next_attempt, d.retry_until, d.lease_holder, d.lease_until, d.last_status, d.last_error, d.manual,
	d.created_at, d.updated_at, d.delivered_at, w.payload`

const deliveryFrom = ` FROM webhook_deliveries d JOIN webhook_events w ON w.event_id = d.event_id`

func scanDelivery(r interface{ Scan(...any) error }, d *store.WebhookDelivery) error {
	return r.Scan(&d.ID, &d.MerchantID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts,
		timeCol{&d.NextAttempt}, timeCol{&d.RetryUntil}, &d.LeaseHolder, nullTimeCol{&d.LeaseUntil}, &d.LastStatus,
		&d.LastError, &d.Manual, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}, nullTimeCol{&d.DeliveredAt}, &d.Payload)
}

func (t *tx) CreateWebhookDelivery(ctx context.Context, d store.WebhookDelivery) (bool, error) {
	if d.Status == "" {
		d.Status = store.WebhookPending
	}
	n, err := t.exec(ctx, `INSERT INTO webhook_deliveries (id, merchant_id, endpoint_id, event_id, event_type,
		status, attempts, next_attempt, retry_until, lease_holder, lease_until, last_status, last_error, manual,
		created_at, updated_at, delivered_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
		d.ID, d.MerchantID, d.EndpointID, d.EventID, d.EventType, d.Status, d.Attempts, d.NextAttempt, d.RetryUntil,
		d.LeaseHolder, d.LeaseUntil, d.LastStatus, d.LastError, d.Manual, d.CreatedAt, d.UpdatedAt, d.DeliveredAt)
	return n == 1, err
}

func (t *tx) DueWebhookEndpoints(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := t.many(ctx, `SELECT d.endpoint_id FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.status = 'pending' AND d.next_attempt <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1)
			AND e.enabled
		GROUP BY d.endpoint_id ORDER BY MIN(d.next_attempt), d.endpoint_id LIMIT $2`,
		[]any{now, limit}, func(r Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
	return ids, err
}

func (t *tx) ClaimWebhookDelivery(ctx context.Context, endpointID, holder string, now, leaseUntil time.Time) (store.WebhookDelivery, error) {
	var id string
	err := t.one(ctx, `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'
		AND next_attempt <= $2 AND (lease_until IS NULL OR lease_until < $2)
		ORDER BY next_attempt, id LIMIT 1 `+t.d.SkipLocked(), []any{endpointID, now}, &id)
	if err != nil {
		return store.WebhookDelivery{}, err
	}
	if err := mustAffect(t.exec(ctx, `UPDATE webhook_deliveries SET lease_holder = $2, lease_until = $3
		WHERE id = $1`, id, holder, leaseUntil)); err != nil {
		return store.WebhookDelivery{}, err
	}
	var d store.WebhookDelivery
	err = scanDelivery(t.c.QueryRow(ctx, `SELECT `+deliveryCols+deliveryFrom+` WHERE d.id = $1`, id), &d)
	return d, t.d.Translate(err)
}

func (t *tx) FinishWebhookDelivery(ctx context.Context, d store.WebhookDelivery, holder string, a store.WebhookAttempt) (bool, error) {
	if _, err := t.exec(ctx, `INSERT INTO webhook_attempts (id, delivery_id, number, manual, started_at,
		duration_micros, status_code, response, error, next_attempt)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.DeliveryID, a.Number, a.Manual, a.StartedAt, a.Duration.Microseconds(), a.StatusCode, a.Response,
		a.Error, a.NextAttempt); err != nil {
		return false, fmt.Errorf("record attempt of %s: %w", a.DeliveryID, err)
	}
	n, err := t.exec(ctx, `UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt = $5,
		last_status = $6, last_error = $7, delivered_at = $8, updated_at = $9, manual = $10, lease_holder = '',
		lease_until = NULL WHERE id = $1 AND lease_holder = $2`,
		d.ID, holder, d.Status, d.Attempts, d.NextAttempt, d.LastStatus, d.LastError, d.DeliveredAt, d.UpdatedAt,
		d.Manual)
	return n == 1, err
}

func (t *tx) ReleaseWebhookDelivery(ctx context.Context, id, holder string) error {
	_, err := t.exec(ctx, `UPDATE webhook_deliveries SET lease_holder = '', lease_until = NULL
		WHERE id = $1 AND lease_holder = $2`, id, holder)
	return err
}

func (t *tx) RedeliverWebhook(ctx context.Context, merchantID, id string, now, retryUntil time.Time) error {
	return mustAffect(t.exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt = $3,
		retry_until = CASE WHEN retry_until < $4 THEN $4 ELSE retry_until END, manual = $5,
		lease_holder = '', lease_until = NULL, updated_at = $3
		WHERE id = $1 AND merchant_id = $2`, id, merchantID, now, retryUntil, true))
}

func (t *tx) WebhookDelivery(ctx context.Context, merchantID, id string) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	err := scanDelivery(t.c.QueryRow(ctx, `SELECT `+deliveryCols+deliveryFrom+`
		WHERE d.id = $1 AND d.merchant_id = $2`, id, merchantID), &d)
	return d, t.d.Translate(err)
}

func (t *tx) WebhookDeliveries(ctx context.Context, f store.WebhookDeliveryFilter) ([]store.WebhookDelivery, error) {
	var (
		where = []string{"d.merchant_id = $1"}
		args  = []any{f.MerchantID}
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.EndpointID != "" {
		add("d.endpoint_id = $%d", f.EndpointID)
	}
	if f.Status != "" {
		add("d.status = $%d", f.Status)
	}
	if f.BeforeID != "" {
		add("d.id < $%d", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	q := `SELECT ` + deliveryCols + deliveryFrom + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY d.id DESC LIMIT $%d`, len(args))
	var out []store.WebhookDelivery
	err := t.many(ctx, q, args, func(r Rows) error {
		var d store.WebhookDelivery
		if err := scanDelivery(r, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (t *tx) WebhookAttempts(ctx context.Context, deliveryIDs []string) ([]store.WebhookAttempt, error) {
	if len(deliveryIDs) == 0 {
		return nil, nil
	}
	marks := make([]string, len(deliveryIDs))
	args := make([]any, len(deliveryIDs))
	for i, id := range deliveryIDs {
		marks[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	var out []store.WebhookAttempt
	err := t.many(ctx, `SELECT id, delivery_id, number, manual, started_at, duration_micros, status_code, response,
		error, next_attempt FROM webhook_attempts WHERE delivery_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY started_at, number, id`, args, func(r Rows) error {
		var (
			a  store.WebhookAttempt
			us int64
		)
		if err := r.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.Manual, timeCol{&a.StartedAt}, &us, &a.StatusCode,
			&a.Response, &a.Error, nullTimeCol{&a.NextAttempt}); err != nil {
			return err
		}
		a.Duration = time.Duration(us) * time.Microsecond
		out = append(out, a)
		return nil
	})
	return out, err
}
