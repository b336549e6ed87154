-- Balance-based EVM sweeping (issue 28): the sweeper reads forwarder balances and sweeps
-- whatever is there, whatever the invoice's status. The per-option sweeps table of 0005
-- is replaced.
DROP TABLE sweeps;

-- evm_forwarders: every forwarder the sweeper has read, with its last read time. unswept is
-- 1 while its last read (or a sweep not confirmed yet) left a balance in it.
CREATE TABLE evm_forwarders (
    chain        TEXT NOT NULL,
    address      TEXT NOT NULL,
    invoice_id   TEXT NOT NULL REFERENCES invoices (id),
    wallet_id    TEXT NOT NULL REFERENCES wallets (id),
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    treasury     TEXT NOT NULL,
    network      TEXT NOT NULL,
    unswept      INTEGER NOT NULL DEFAULT 0 CHECK (unswept IN (0, 1)),
    checked_at   INTEGER NOT NULL,
    PRIMARY KEY (chain, address)
);
CREATE INDEX evm_forwarders_unswept ON evm_forwarders (chain) WHERE unswept = 1;
CREATE INDEX evm_forwarders_wallet ON evm_forwarders (wallet_id) WHERE unswept = 1;

-- evm_forwarder_balances: the non-zero balances of the last read, per asset ('' = native).
CREATE TABLE evm_forwarder_balances (
    chain     TEXT NOT NULL,
    address   TEXT NOT NULL,
    contract  TEXT NOT NULL DEFAULT '',
    asset     TEXT NOT NULL,
    scale     INTEGER NOT NULL,
    amount    TEXT NOT NULL CHECK (amount GLOB '[1-9]*' AND amount NOT GLOB '*[^0-9]*'),
    read_at   INTEGER NOT NULL,
    PRIMARY KEY (chain, address, contract),
    FOREIGN KEY (chain, address) REFERENCES evm_forwarders (chain, address)
);

-- evm_sweeps: one row per deployAndFlush transaction, written (with the signed bytes)
-- before it is broadcast; status sent → confirmed | reverted | dropped.
CREATE TABLE evm_sweeps (
    tx_hash       TEXT PRIMARY KEY,
    chain         TEXT NOT NULL,
    merchant_id   TEXT NOT NULL REFERENCES merchants (id),
    wallet_id     TEXT NOT NULL REFERENCES wallets (id),
    destination   TEXT NOT NULL,
    sender        TEXT NOT NULL,
    nonce         INTEGER NOT NULL,
    raw_tx        TEXT NOT NULL,
    addresses     TEXT NOT NULL,
    invoice_ids   TEXT NOT NULL,
    tokens        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL CHECK (status IN ('sent', 'confirmed', 'reverted', 'dropped')),
    block_number  INTEGER,
    block_hash    TEXT NOT NULL DEFAULT '',
    gas_used      INTEGER,
    fee           TEXT,
    sent_at       INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX evm_sweeps_open ON evm_sweeps (chain) WHERE status = 'sent';

-- evm_sweep_marks: per chain, the start of the last complete candidate round: every
-- forwarder whose invoice stopped being monitored before it has been read after that.
CREATE TABLE evm_sweep_marks (
    chain      TEXT PRIMARY KEY,
    watermark  INTEGER NOT NULL
);

CREATE INDEX invoices_monitor_until ON invoices (monitor_until);
