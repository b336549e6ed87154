-- The follower's hot tables are read only by index lookups of a few rows (issue 22). In a
-- generic plan (pgx prepares its statements; Postgres switches to a generic plan after five
-- runs) a range condition on a parameter, such as InvoicesDue's `expires_at <= $2`, is given
-- the default selectivity of one third of the rows the index bound selects, so on a large
-- database the planner expects thousands of due invoices where there are none and plans a
-- Gather with parallel workers. Launching the workers cost 20-30 ms a query on the
-- benchmark's 2 cores (the whole of the large/small gap of `cmd/bench -only watcher-scale`,
-- measured with auto_explain), for a query that reads a handful of index pages. The tables
-- that grow with every invoice never need a parallel scan: every hot query on them is an
-- index read, guarded by TestHotQueriesUseIndexes, which also fails on a parallel plan
-- (custom or generic). (The webhook dispatcher's event feed had the same generic plan.)
ALTER TABLE invoices SET (parallel_workers = 0);
ALTER TABLE payment_options SET (parallel_workers = 0);
ALTER TABLE payments SET (parallel_workers = 0);
ALTER TABLE payment_spends SET (parallel_workers = 0);
ALTER TABLE events SET (parallel_workers = 0);
ALTER TABLE webhook_events SET (parallel_workers = 0);
ALTER TABLE outbox SET (parallel_workers = 0);
ALTER TABLE ledger_books SET (parallel_workers = 0);
ALTER TABLE chain_blocks SET (parallel_workers = 0);

-- InvoicesDue's time arm reads the invoices whose due time the chain time reached: a new
-- invoice's expiry, a processing one's end of monitoring. With `status = 'new' AND
-- expires_at <= $2` the custom plans of a statement's first five runs took most new invoices
-- to be due (expires_at's statistics are those of all history, nearly all of it expired) and
-- read every new and processing invoice through the status index (10,000 rows a call on the
-- -quick benchmark's large database). One expression index on the due time gives the
-- planner statistics of the open invoices alone and an index range of exactly the due ones.
-- (A processing invoice is now due at its monitor_until itself, not only after it: one more
-- review, at that instant, which the state machine judges as before.)
CREATE INDEX invoices_due ON invoices ((CASE status WHEN 'new' THEN expires_at WHEN 'processing' THEN monitor_until END));
-- invoices_status_expires (0012) served only InvoicesDue's former 'new' arm.
DROP INDEX invoices_status_expires;
