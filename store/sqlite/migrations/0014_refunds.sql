-- Refunds without custody (issue 25): the merchant's wallet sends the money back; chainpay
-- prepares the transaction, watches the chain for it and books it like a card refund.
CREATE TABLE refunds (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    invoice_id      TEXT NOT NULL REFERENCES invoices (id),
    -- seq numbers an invoice's refunds 1, 2, ...: two refunds created at once for one invoice
    -- collide here, so the refundable amount is always checked against every other refund.
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'claimed', 'sent', 'completed', 'cancelled', 'failed')),
    asset           TEXT NOT NULL,
    chain           TEXT NOT NULL,
    network         TEXT NOT NULL,
    contract        TEXT NOT NULL DEFAULT '',
    scale           INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    amount_fiat     TEXT NOT NULL CHECK (amount_fiat NOT GLOB '*[^0-9]*' AND amount_fiat <> ''),
    amount_atomic   TEXT NOT NULL CHECK (amount_atomic GLOB '[1-9]*' AND amount_atomic NOT GLOB '*[^0-9]*'),
    fee_from_amount INTEGER NOT NULL CHECK (fee_from_amount IN (0, 1)),
    network_fee     TEXT CHECK (network_fee NOT GLOB '*[^0-9]*'),
    rate_policy     TEXT NOT NULL CHECK (rate_policy IN ('original', 'current', 'explicit')),
    rate            TEXT NOT NULL,
    rate_source     TEXT NOT NULL,
    rate_at         INTEGER NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    destination     TEXT NOT NULL DEFAULT '',
    claimed_at      INTEGER,
    prepared        TEXT NOT NULL DEFAULT '',
    txid            TEXT NOT NULL DEFAULT '',
    output_index    INTEGER,
    block_height    INTEGER,
    block_hash      TEXT NOT NULL DEFAULT '',
    failure_reason  TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX refunds_invoice_seq ON refunds (invoice_id, seq);
CREATE INDEX refunds_invoice ON refunds (invoice_id, created_at, id);
CREATE INDEX refunds_merchant ON refunds (merchant_id, created_at, id);
-- The follower's watch list: refunds waiting for or carrying a transaction.
CREATE INDEX refunds_watch ON refunds (chain, status, block_height) WHERE status IN ('claimed', 'sent', 'completed');

-- Refund permissions: keys holding every permission (the default of a new key) keep holding
-- every permission; narrower keys (a storefront's) get none of the refund ones.
UPDATE api_keys SET permissions = permissions || ',refunds:read,refunds:write'
    WHERE permissions = 'invoices:read,invoices:write,webhooks:manage,exports:read,wallets:read,wallets:write';

-- A refund's PSBT spends coins of the merchant's wallet: payments found through their
-- options' wallet (payment_options_wallet_index) and this index.
CREATE INDEX payments_option ON payments (option_id);
