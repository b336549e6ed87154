// Package export turns the ledger journal into files finance imports: the canonical
// settlement export (RFC 4180 CSV and JSON Lines with identical keys, one row per ledger
// record: crypto settlements, their reversals and imported card rows) and three accounting
// formats derived from the same rows (Koinly universal CSV, QuickBooks Online 3-column bank
// CSV, Xero bank-statement CSV). docs/exports.md defines every column.
//
// # Streaming
//
// An Exporter pages through the journal with keyset pagination on (occurred_at, id): every
// page is one short read transaction on an index, and rows are written and flushed page by
// page, so memory stays constant however long the period is. Every page reads the same
// snapshot: records stored after the export started (AsOf) are left out, which works
// because the journal is append-only.
//
// # Reconciliation
//
// Reconcile proves an export against the journal: it reads a canonical CSV export (one it
// writes itself, or a file finance already holds), totals it per currency and reporting
// category (rows, gross, fee, net) and per crypto asset (atomic amounts), and compares the
// totals with the journal's own, computed from the double-entry postings of the same records
// (revenue, fee, balance and wallet accounts). Any difference is ErrMismatch.
//
// # Spreadsheet safety
//
// CSV cells that begin with '=', '+', '-', '@', a tab or a carriage return are prefixed with
// a single quote so a spreadsheet never evaluates them, except cells of amount columns that
// are plain decimal numbers (a refund's "-25.00" must stay a number). JSON Lines is not a
// spreadsheet format and carries the values unchanged.
package export
