-- Which events a webhook endpoint receives (issue 22): those after it in the event feed, not
-- those stamped after its created_at. Both times come from the clocks of API replicas, so an
-- event from a replica whose clock is behind, committed after a new endpoint, was judged
-- "before it existed" and never delivered to it.
--
-- since_xid is the id of the transaction that created the endpoint (as events.feed_xid is the
-- inserting transaction's): the endpoint receives the events of its own and of later
-- transactions. Creating an endpoint locks the dispatcher's cursor first, so no fan-out runs
-- between its transaction id and its commit. Endpoints created before this migration get 0:
-- every event the dispatcher has not passed yet.
ALTER TABLE webhook_endpoints ADD COLUMN since_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ALTER COLUMN since_xid SET DEFAULT pg_current_xact_id()::text::bigint;

-- The refunds grow with the invoices too: the invoice list reads them by invoice (an index
-- read, guarded by TestHotQueriesUseIndexes), never with parallel workers (see 0018).
ALTER TABLE refunds SET (parallel_workers = 0);
