-- Merchant webhooks, SQLite dialect: endpoints, the events fanned out to them (payload frozen
-- once), one delivery per (event, endpoint), the log of every attempt, and the fan-out cursor.
CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY,
    merchant_id            TEXT NOT NULL REFERENCES merchants (id),
    url                    TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    secret                 TEXT NOT NULL,
    previous_secret        TEXT NOT NULL DEFAULT '',
    previous_secret_until  INTEGER,
    events                 TEXT NOT NULL,
    enabled                INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id);

CREATE TABLE webhook_events (
    event_id       TEXT PRIMARY KEY REFERENCES events (id),
    merchant_id    TEXT NOT NULL,
    type           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    dispatched_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL REFERENCES webhook_events (event_id),
    event_type    TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    retry_until   INTEGER NOT NULL,
    lease_holder  TEXT NOT NULL DEFAULT '',
    lease_until   INTEGER,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    manual        INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    delivered_at  INTEGER,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt, endpoint_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    manual           INTEGER NOT NULL CHECK (manual IN (0, 1)),
    started_at       INTEGER NOT NULL,
    duration_micros  INTEGER NOT NULL,
    status_code      INTEGER NOT NULL,
    response         TEXT NOT NULL,
    error            TEXT NOT NULL,
    next_attempt     INTEGER
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

CREATE TABLE webhook_cursors (
    name      TEXT PRIMARY KEY,
    position_at  INTEGER NOT NULL
);

-- The dispatcher scans events by time from its cursor (minus a look-back window).
CREATE INDEX events_created ON events (created_at, id);
