-- chainpay schema, Postgres dialect. Amounts are atomic integers NUMERIC(78,0); times TIMESTAMPTZ.
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    prefix       TEXT NOT NULL UNIQUE,
    hash         BYTEA NOT NULL,
    permissions  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE wallets (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    chain        TEXT NOT NULL,
    network      TEXT NOT NULL,
    descriptor   TEXT NOT NULL DEFAULT '',
    treasury     TEXT NOT NULL DEFAULT '',
    tokens       TEXT NOT NULL DEFAULT '',
    next_index   BIGINT NOT NULL DEFAULT 0 CHECK (next_index >= 0),
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (merchant_id, chain)
);

CREATE TABLE invoices (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    status             TEXT NOT NULL,
    flags              TEXT NOT NULL DEFAULT '',
    price              NUMERIC(78,0) NOT NULL CHECK (price > 0),
    currency           TEXT NOT NULL,
    order_id           TEXT NOT NULL DEFAULT '',
    metadata           TEXT NOT NULL DEFAULT '',
    redirect_url       TEXT NOT NULL DEFAULT '',
    tolerance_percent  TEXT NOT NULL DEFAULT '0',
    tolerance_floor    NUMERIC(78,0) NOT NULL DEFAULT 0,
    confirmations      TEXT NOT NULL DEFAULT '{}',
    expires_at         TIMESTAMPTZ NOT NULL,
    monitor_until      TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    settled_at         TIMESTAMPTZ,
    resolution_reason  TEXT NOT NULL DEFAULT '',
    version            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX invoices_merchant_created ON invoices (merchant_id, created_at DESC, id DESC);
CREATE INDEX invoices_merchant_order ON invoices (merchant_id, order_id);
CREATE INDEX invoices_open ON invoices (status, monitor_until);

CREATE TABLE payment_options (
    id                TEXT PRIMARY KEY,
    invoice_id        TEXT NOT NULL REFERENCES invoices (id),
    asset             TEXT NOT NULL,
    chain             TEXT NOT NULL,
    network           TEXT NOT NULL,
    contract          TEXT NOT NULL DEFAULT '',
    scale             INTEGER NOT NULL,
    address           TEXT NOT NULL,
    wallet_id         TEXT NOT NULL REFERENCES wallets (id),
    derivation_index  BIGINT,
    amount_due        NUMERIC(78,0) NOT NULL CHECK (amount_due > 0),
    rate              TEXT NOT NULL,
    rate_source       TEXT NOT NULL,
    rate_at           TIMESTAMPTZ NOT NULL,
    quote_expires_at  TIMESTAMPTZ NOT NULL,
    raw_quotes        TEXT NOT NULL DEFAULT '[]',
    confirmations     INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (chain, network, contract, address)
);
CREATE INDEX payment_options_invoice ON payment_options (invoice_id);
CREATE UNIQUE INDEX payment_options_wallet_index ON payment_options (wallet_id, derivation_index) WHERE derivation_index IS NOT NULL;

CREATE TABLE payments (
    id            TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL REFERENCES invoices (id),
    option_id     TEXT NOT NULL REFERENCES payment_options (id),
    chain         TEXT NOT NULL,
    txid          TEXT NOT NULL,
    output_index  BIGINT NOT NULL,
    address       TEXT NOT NULL,
    asset         TEXT NOT NULL,
    amount        NUMERIC(78,0) NOT NULL CHECK (amount > 0),
    status        TEXT NOT NULL,
    block_height  BIGINT,
    block_hash    TEXT NOT NULL DEFAULT '',
    seen_at       TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (chain, txid, output_index)
);
CREATE INDEX payments_invoice ON payments (invoice_id);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    invoice_id   TEXT NOT NULL REFERENCES invoices (id),
    type         TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_invoice ON events (invoice_id, id);

CREATE TABLE idempotency_keys (
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    key              TEXT NOT NULL,
    request_hash     BYTEA NOT NULL,
    response_status  INTEGER NOT NULL,
    response_body    BYTEA NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, key)
);

CREATE TABLE chain_cursors (
    chain        TEXT PRIMARY KEY,
    height       BIGINT NOT NULL,
    hash         TEXT NOT NULL,
    parent_hash  TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE chain_blocks (
    chain        TEXT NOT NULL,
    height       BIGINT NOT NULL,
    hash         TEXT NOT NULL,
    parent_hash  TEXT NOT NULL,
    PRIMARY KEY (chain, height)
);

CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    topic         TEXT NOT NULL,
    key           TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TIMESTAMPTZ NOT NULL,
    lease_holder  TEXT NOT NULL DEFAULT '',
    lease_until   TIMESTAMPTZ,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    delivered_at  TIMESTAMPTZ,
    UNIQUE (topic, key)
);
CREATE INDEX outbox_due ON outbox (topic, status, next_attempt);
