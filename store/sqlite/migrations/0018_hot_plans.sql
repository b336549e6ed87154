-- Postgres' migration 0018 turns parallel scans off on invoices, payment_options and
-- payments (a generic plan's default selectivity made InvoicesDue launch parallel workers on
-- large databases). SQLite plans no parallel scans; the number is kept so that both stores
-- have the same migrations.

-- InvoicesDue reads the invoices whose due time (a new invoice's expiry, a processing one's
-- end of monitoring) the chain time reached through one expression index (see Postgres'
-- 0018).
CREATE INDEX invoices_due ON invoices (CASE status WHEN 'new' THEN expires_at WHEN 'processing' THEN monitor_until END);
DROP INDEX invoices_status_expires;
