-- Sweeps record which EVM payment options' forwarders have been swept to the treasury.
CREATE TABLE sweeps (
    option_id  TEXT PRIMARY KEY REFERENCES payment_options (id),
    tx_hash    TEXT NOT NULL,
    swept_at   INTEGER NOT NULL
);
