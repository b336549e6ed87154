// Package webhooks delivers signed invoice events to merchants' HTTP endpoints.
//
// # Model
//
// A merchant registers endpoints (Service.Create): a URL, an event filter (event types or
// "*") and a signing secret "whsec_..." shown once. The invoices code stores an event
// (store.Event) in the same transaction as every invoice state change. Three parts turn
// those events into HTTP requests, all through the store, so nothing is lost on a crash:
//
//   - Dispatcher fans events out: for each new event it freezes the payload (event id,
//     type, time and the invoice snapshot: the one the event's writer stored with it — the
//     create path stores its answer — or else one rendered by Snapshots) and creates one
//     delivery per enabled, subscribed endpoint of the event's merchant that existed when
//     the event was written: the endpoint receives the events of its own transaction and
//     of later ones (store.WebhookEndpoint.Since, a position in the event feed, not a time
//     from a replica's clock). Events no endpoint receives are not recorded at all (a store
//     without endpoints costs no webhook writes). A delivery is unique on (event, endpoint)
//     and each event is recorded once as fanned out, so fan-out is exactly once even with
//     several replicas. Creating or deleting an endpoint locks the dispatcher's cursor
//     (shared) first, so a fan-out never misses an endpoint whose position is at or before
//     an event's, nor meets a deleted one. Transactions
//     commit in any order and replicas' clocks differ, so the dispatcher does not follow
//     event times: it follows the commit-ordered event feed (store.EventFeed), whose cursor
//     never passes an event that may still commit (see store.FeedPos).
//   - Deliverer sends due deliveries. It serves each endpoint with its own worker, one
//     request at a time in due order, and at most MaxEndpoints endpoints at once, so a slow,
//     failing or hanging endpoint only delays its own events. Deliveries are leased in the
//     store, so several replicas can run Deliverers. Every request has a timeout (10 s).
//   - Service lists deliveries with their attempt log and redelivers on request.
//
// # Retries
//
// A 2xx response delivers. Network errors, timeouts, 408, 429 and 5xx are retried with
// exponential backoff and jitter (RetryPolicy: 30 s doubling to 6 h) for 3 days after the
// delivery was created, honouring Retry-After (up to the policy's maximum); then the delivery
// fails. Any other status (3xx, other 4xx) fails it at once: redirects are not followed.
// Every attempt is logged with its status code, duration, the first KiB of the response and
// the error. Delivery is at least once: receivers dedupe on the event id ("id" in the body,
// also in the Chainpay-Event-Id header).
//
// # Signatures
//
// Each request carries Chainpay-Signature: t=UNIX,v1=HEX where v1 is
// hex(HMAC-SHA256(secret, t + "." + raw body)). Verify checks it with a tolerance window
// and constant-time comparison. During a secret rotation (Service.RotateSecret) requests
// carry one v1 per valid secret; a verifier accepts any match.
//
// # SSRF guard
//
// Endpoint URLs must be http(s) and must not point to an address the IANA special-purpose
// registries do not mark globally reachable: loopback, private (RFC 1918, fc00::/7),
// link-local (169.254/16 with cloud metadata, fe80::/10), CGNAT (100.64/10), documentation,
// benchmarking, 6to4, Teredo, NAT64 and IPv4-mapped forms of those, unspecified, multicast
// or reserved addresses. Guard.AllowPrivate (development, tests) allows loopback, private
// and CGNAT addresses, never link-local. The
// URL is checked when saved, and the default HTTP client checks the address of every
// connection it dials (a net.Dialer Control hook), which defeats DNS rebinding; it uses no
// proxy.
package webhooks
