package sqldb

import (
	"context"
	"time"
)

// Lease heartbeats: a worker with a claim in flight keeps its lease short and moves it
// forward while it works, so a claim of a process that died is free again one lease later.

func (t *tx) ExtendOutboxLeases(ctx context.Context, holder string, ids []string, until time.Time) (int, error) {
	moved := 0
	for _, id := range ids {
		n, err := t.exec(ctx, `UPDATE outbox SET lease_until = $3
			WHERE id = $1 AND status = 'pending' AND lease_holder = $2`, id, holder, until)
		if err != nil {
			return moved, err
		}
		moved += int(n)
	}
	return moved, nil
}

func (t *tx) ExtendWebhookLease(ctx context.Context, id, holder string, until time.Time) (bool, error) {
	n, err := t.exec(ctx, `UPDATE webhook_deliveries SET lease_until = $3
		WHERE id = $1 AND status = 'pending' AND lease_holder = $2`, id, holder, until)
	return n == 1, err
}
