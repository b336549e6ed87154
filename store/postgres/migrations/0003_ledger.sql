-- The built-in double-entry journal (ledger sink). Records are append-only and unique on
-- their idempotency key; gross/fee/net are signed fiat minor units.
CREATE TABLE ledger_records (
    id                  TEXT PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    source_type         TEXT NOT NULL,
    source_id           TEXT NOT NULL,
    reporting_category  TEXT NOT NULL,
    currency            TEXT NOT NULL,
    gross               NUMERIC(78,0) NOT NULL,
    fee                 NUMERIC(78,0) NOT NULL,
    net                 NUMERIC(78,0) NOT NULL CHECK (net = gross - fee),
    occurred_at         TIMESTAMPTZ NOT NULL,
    payload             TEXT NOT NULL,
    payload_hash        BYTEA NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_records_merchant ON ledger_records (merchant_id, occurred_at, id);

CREATE TABLE ledger_postings (
    record_id    TEXT NOT NULL REFERENCES ledger_records (id),
    seq          INTEGER NOT NULL,
    merchant_id  TEXT NOT NULL,
    account      TEXT NOT NULL,
    asset        TEXT NOT NULL,
    amount       NUMERIC(78,0) NOT NULL CHECK (amount > 0),
    direction    TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    PRIMARY KEY (record_id, seq)
);
CREATE INDEX ledger_postings_account ON ledger_postings (merchant_id, account, asset);
