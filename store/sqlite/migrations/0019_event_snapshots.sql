-- Issue 23: the invoice as the API rendered it in the transaction that stored the event
-- (store.Event.Snapshot), so the webhook dispatcher does not read the invoice again. '' means
-- the event's writer did not render it (no webhook endpoint then, or an event written before):
-- the dispatcher renders the invoice itself, for stores that have an endpoint.
ALTER TABLE events ADD COLUMN snapshot TEXT NOT NULL DEFAULT '';
