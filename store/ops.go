package store

// OpsTx is the part of the storage contract that operations use: the figures behind
// metrics and readiness. Its methods are implemented in sqldb/ops.go.
type OpsTx interface{}
