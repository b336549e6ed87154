// Package store is chainpay's storage contract: the rows the domain packages persist, the
// sentinel errors every backend translates its driver errors into, and the transaction
// boundary ("one transaction per business fact").
//
// The contract is deliberately wider than the small consumer-declared interfaces used
// elsewhere: it is the one seam between the domain and SQL, implemented once in package
// sqldb over two drivers, store/sqlite (the embedded default) and store/postgres
// (production, several replicas). Package storetest holds the conformance suite that runs
// against both.
//
// Money columns hold atomic integers (NUMERIC(78,0) on Postgres, TEXT on SQLite) and cross
// this seam as *big.Int; times cross it as UTC time.Time at microsecond precision.
package store
