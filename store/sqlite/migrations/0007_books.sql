-- The per-payment books (issue 20): one row per ledger record the settler enqueued for a
-- payment, numbered 1, 2, 3, ... per payment. state is the payment's booked state after the
-- record (applied, unapplied or none); amount is the fiat value booked in that state (signed
-- canonical integer TEXT in the invoice currency's minor units). The relay delivers a
-- payment's records in seq order; the settler reads the latest row of each payment.
CREATE TABLE ledger_books (
    payment_id   TEXT NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    invoice_id   TEXT NOT NULL,
    merchant_id  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('applied', 'unapplied', 'none')),
    amount       TEXT NOT NULL CHECK (amount = '0' OR amount GLOB '[1-9]*' AND amount NOT GLOB '*[^0-9]*'),
    record_key   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (payment_id, seq)
);
CREATE INDEX ledger_books_invoice ON ledger_books (invoice_id, payment_id, seq);
CREATE INDEX ledger_books_merchant ON ledger_books (merchant_id, payment_id, seq);
