-- The built-in double-entry journal (ledger sink). Records are append-only and unique on
-- their idempotency key; gross/fee/net are signed fiat minor units as canonical integer TEXT.
CREATE TABLE ledger_records (
    id                  TEXT PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    source_type         TEXT NOT NULL,
    source_id           TEXT NOT NULL,
    reporting_category  TEXT NOT NULL,
    currency            TEXT NOT NULL,
    gross               TEXT NOT NULL CHECK (gross = '0' OR gross GLOB '[1-9]*' AND gross NOT GLOB '*[^0-9]*' OR gross GLOB '-[1-9]*' AND substr(gross, 2) NOT GLOB '*[^0-9]*'),
    fee                 TEXT NOT NULL CHECK (fee = '0' OR fee GLOB '[1-9]*' AND fee NOT GLOB '*[^0-9]*' OR fee GLOB '-[1-9]*' AND substr(fee, 2) NOT GLOB '*[^0-9]*'),
    net                 TEXT NOT NULL CHECK (net = '0' OR net GLOB '[1-9]*' AND net NOT GLOB '*[^0-9]*' OR net GLOB '-[1-9]*' AND substr(net, 2) NOT GLOB '*[^0-9]*'),
    occurred_at         INTEGER NOT NULL,
    payload             TEXT NOT NULL,
    payload_hash        BLOB NOT NULL,
    created_at          INTEGER NOT NULL
);
CREATE INDEX ledger_records_merchant ON ledger_records (merchant_id, occurred_at, id);

CREATE TABLE ledger_postings (
    record_id    TEXT NOT NULL REFERENCES ledger_records (id),
    seq          INTEGER NOT NULL,
    merchant_id  TEXT NOT NULL,
    account      TEXT NOT NULL,
    asset        TEXT NOT NULL,
    amount       TEXT NOT NULL CHECK (amount GLOB '[1-9]*' AND amount NOT GLOB '*[^0-9]*'),
    direction    TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    PRIMARY KEY (record_id, seq)
);
CREATE INDEX ledger_postings_account ON ledger_postings (merchant_id, account, asset);
