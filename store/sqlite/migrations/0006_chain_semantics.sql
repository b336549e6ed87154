-- Chain semantics (issue 19): chain time per follower, spent outpoints of Bitcoin payments
-- (an RBF replacement keeps the sighting time of the payment it replaces), orphaned payments
-- on chains without a visible mempool stay pending for some blocks, and a canceled invoice is
-- told apart from one the chain made invalid (only merchant decisions are final).
ALTER TABLE chain_cursors ADD COLUMN chain_time INTEGER NOT NULL DEFAULT 0;

ALTER TABLE payments ADD COLUMN spends TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN orphaned_height INTEGER;
CREATE INDEX payments_chain_status ON payments (chain, status);

CREATE TABLE payment_spends (
    chain       TEXT NOT NULL,
    outpoint    TEXT NOT NULL,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    PRIMARY KEY (chain, outpoint, payment_id)
);

UPDATE invoices SET flags = 'canceled' || CASE WHEN flags = '' THEN '' ELSE ',' || flags END
    WHERE status = 'invalid' AND resolution_reason = 'canceled by the merchant';
