// Package sim is a deterministic simulator of chainpay's money path, in the manner of
// TigerBeetle's VOPR: it runs the real invoice service, chain followers, ledger settler and
// relay, and webhook dispatcher and deliverer against a simulated world driven by one seed —
// a clock, a Bitcoin-like chain (mempool, RBF, double spends, evictions, dust and zero-value
// outputs, reorgs), an EVM-like chain (no visible mempool, re-mined transactions, nodes that
// lag, fail or time out), merchants and customers acting at random, crashes at transaction
// boundaries, busy stores, failing ledger sinks and webhook endpoints. An auditor holds the
// expected state and checks the invariants of docs/invariants.md after every step.
//
// The same seed reproduces the same run: every decision of the simulated world comes from a
// PCG generator seeded from the seed, time comes only from the simulated clock, and the
// components whose goroutines could reorder decisions (the webhook deliverer) only ever see
// a world that is still while they run.
//
// Run one seed with Run; cmd/sim runs many and replays one with a trace.
package sim
