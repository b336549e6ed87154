// Package ops is what an operator watches: Prometheus metrics at /metrics (served on a
// listener of its own, or behind a bearer token: GuardedHandler), liveness at /healthz and
// readiness at /readyz.
//
// Figures come from three places:
//
//   - the database (store.OpsTx): invoices by status, payments, payments waiting for
//     confirmations, outbox and webhook backlogs, chain cursors. They are the same on every
//     replica; aggregate them with max(), not sum().
//   - this process: each chain follower's Status (leader or standby, consecutive failures),
//     the node's tip height, the rate service's quotes, and the counters and histograms this
//     process records itself (HTTP requests through Instrument, node RPC calls through
//     RPCTransport or ObserveRPC).
//   - the Go runtime and the process (the standard Go and process collectors).
//
// Store figures, tips and rates are read when Prometheus scrapes, at most once per
// Config.Refresh (default 15 s); scrapes in between get the cached values. A part that
// cannot be read is left out of the scrape and counted in
// chainpay_ops_refresh_errors_total{part}, so a stale value is never reported as current.
//
// Metrics use their own registry, never the process-global default one: two Metrics in one
// process (tests, several servers) do not collide.
//
// Readiness runs its checks (database, migrations, one per chain, rates) concurrently, each
// bounded by Config.Timeout, and answers 200 {"status":"ready",...} or 503
// {"status":"not_ready",...} naming each check with ok and a detail. A check can be left out
// per request with ?exclude=NAME (for example a load balancer that should keep sending API
// traffic while a chain node is down: /readyz?exclude=chain:bitcoin).
package ops
