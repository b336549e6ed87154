package ops

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// RPCObserver records calls to chain nodes. *Metrics implements it; chain clients that
// take no http.Client can call it around each request.
type RPCObserver interface {
	// ObserveRPC records one request to endpoint (see Endpoint) of chain that took d and
	// failed with err (nil on success).
	ObserveRPC(chain, endpoint string, d time.Duration, err error)
}

var _ RPCObserver = (*Metrics)(nil)

// ObserveRPC implements RPCObserver: chainpay_rpc_requests_total{chain,endpoint,outcome}
// and chainpay_rpc_request_duration_seconds{chain,endpoint}.
func (m *Metrics) ObserveRPC(chain, endpoint string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.rpcCalls.WithLabelValues(chain, endpoint, outcome).Inc()
	m.rpcDur.WithLabelValues(chain, endpoint).Observe(d.Seconds())
}

// Endpoint is the label of a node URL: scheme://host[:port]. Credentials, path and query are
// dropped, because providers put API keys there (https://mainnet.infura.io/v3/KEY).
func Endpoint(u *url.URL) string {
	if u == nil {
		return "unknown"
	}
	return u.Scheme + "://" + u.Host
}

// RPCTransport returns a RoundTripper for a chain client's http.Client that records every
// request through o, labelled with the request's Endpoint. A transport error or an HTTP
// status of 400 or more counts as an error; a JSON-RPC error inside a 200 response (the
// usual way EVM nodes report them) does not, because the body is not read here. next nil
// means http.DefaultTransport.
func RPCTransport(chain string, o RPCObserver, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &rpcTransport{chain: chain, o: o, next: next}
}

// RPCTransport is RPCTransport with m as the observer.
func (m *Metrics) RPCTransport(chain string, next http.RoundTripper) http.RoundTripper {
	return RPCTransport(chain, m, next)
}

type rpcTransport struct {
	chain string
	o     RPCObserver
	next  http.RoundTripper
}

func (t *rpcTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	obs := err
	if err == nil && resp.StatusCode >= 400 {
		obs = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	t.o.ObserveRPC(t.chain, Endpoint(r.URL), time.Since(start), obs)
	return resp, err
}
