-- Issue 23: the flat projection of each journal record (ledger.Record.Flat), computed when
-- the journal stores it, which exports decode instead of re-parsing the JSON payload. Records
-- stored before have '' and are exported from their payload as before.
ALTER TABLE ledger_records ADD COLUMN projection TEXT NOT NULL DEFAULT '';
