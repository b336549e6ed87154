package store

// LedgerTx is the part of the storage contract that the ledger package uses: the built-in
// double-entry journal. Its methods are implemented in sqldb/ledger.go.
type LedgerTx interface{}
