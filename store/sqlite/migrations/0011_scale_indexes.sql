-- Indexes for the follower's hot queries and for retention (issue 22), guarded by
-- TestHotQueriesUseIndexes in store/postgres: new deposit addresses by chain and creation
-- time (WatchedOptions); an invoice's options on one chain (InvoicesToReview's EXISTS, which
-- also serves every invoice_id lookup, so the single-column index goes); the largest
-- confirmation target of a chain (InvoicesToReview's lower height bound); payments by chain
-- and height (InvoicesToReview's confirmed part, OrphanPayments); idempotency records by age
-- (DeleteIdempotencyKeysBefore).
CREATE INDEX payment_options_chain_created ON payment_options (chain, created_at, id);
CREATE INDEX payment_options_invoice_chain ON payment_options (invoice_id, chain);
DROP INDEX payment_options_invoice;
CREATE INDEX payment_options_chain_confirmations ON payment_options (chain, confirmations);
CREATE INDEX payments_chain_height ON payments (chain, block_height);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
