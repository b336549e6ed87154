package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Errors returned by Node. ErrWrongNetwork (declared with the key parsers) is
// also returned when a node serves another network's chain.
var (
	// ErrUnreachable means no configured endpoint could be reached: connection
	// refused, timeout, or an HTTP 5xx answer that is not a JSON-RPC reply.
	ErrUnreachable = errors.New("bitcoin node unreachable")
	// ErrUnauthorized means an endpoint rejected the RPC credentials (HTTP 401
	// or 403).
	ErrUnauthorized = errors.New("bitcoin node rejected the RPC credentials")
	// ErrSyncing means the node is still in initial block download or its
	// block chain lags the headers it knows; its tip is not the network's.
	ErrSyncing = errors.New("bitcoin node is still syncing")
	// ErrBadResponse means an endpoint answered with something that is not a
	// valid reply: malformed JSON, a mismatched id, wrong hex, bytes that do not
	// decode as a block or transaction, or data whose hash is not the one
	// asked for.
	ErrBadResponse = errors.New("bad response from bitcoin node")
	// ErrNotFound means the node does not know the requested block or
	// transaction (RPC error code -5). A mempool transaction that was mined or
	// evicted between two calls is the common case.
	ErrNotFound = errors.New("not found on bitcoin node")
)

// rpcCodeNotFound is RPC_INVALID_ADDRESS_OR_KEY, used by bitcoind and btcd for
// unknown blocks and transactions.
const rpcCodeNotFound = -5

// maxResponseBytes bounds a response body: a maximal 4 MB block is 8 MB of hex.
const maxResponseBytes = 32 << 20

// RPCError is an error object a node returned for a call. The node answered,
// so a Node does not fail over to another endpoint on an RPCError.
type RPCError struct {
	Method  string
	Code    int
	Message string
}

// Error returns the method, code and the node's message.
func (e *RPCError) Error() string {
	return fmt.Sprintf("%s: rpc error %d: %s", e.Method, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for RPC code -5.
func (e *RPCError) Is(target error) bool {
	return target == ErrNotFound && e.Code == rpcCodeNotFound
}

// rpcEndpoint is one configured node URL.
type rpcEndpoint struct {
	url      string // request URL without credentials
	name     string // URL with the password redacted, for logs and errors
	user     string
	password string
	auth     bool
	// getblockBool is set once the endpoint rejected an integer getblock
	// verbosity and accepted a boolean (btcd before v0.21, bitcoind before 0.15).
	getblockBool atomic.Bool
}

func parseRPCEndpoint(raw string) (*rpcEndpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the input, which may hold a password.
		return nil, fmt.Errorf("node URL is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("node URL %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("node URL %s: missing host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("node URL %s: query and fragment are not allowed", u.Redacted())
	}
	ep := &rpcEndpoint{name: u.Redacted()}
	if u.User != nil {
		ep.auth = true
		ep.user = u.User.Username()
		ep.password, _ = u.User.Password()
		u.User = nil
	}
	ep.url = u.String()
	return ep, nil
}

// rpcClient speaks JSON-RPC 1.0 (the dialect of bitcoind and btcd) to a list
// of endpoints, failing over between them.
type rpcClient struct {
	endpoints []*rpcEndpoint
	active    atomic.Int64 // index of the endpoint that answered last
	http      *http.Client
	timeout   time.Duration
	log       *slog.Logger
	nextID    atomic.Uint64
}

// rpcRetryable reports whether another endpoint should be tried after err.
func rpcRetryable(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrBadResponse)
}

// do runs attempt against the endpoints, starting with the one that answered
// last, each attempt under its own timeout. It moves on to the next endpoint on
// transport errors, 5xx answers, rejected credentials and bad responses, and
// returns at once on success, on an RPC error object and when ctx ends.
func (c *rpcClient) do(ctx context.Context, what string, attempt func(ctx context.Context, ep *rpcEndpoint) error) error {
	start := int(c.active.Load())
	errs := make([]error, 0, len(c.endpoints))
	for i := range c.endpoints {
		idx := (start + i) % len(c.endpoints)
		ep := c.endpoints[idx]
		actx, cancel := context.WithTimeout(ctx, c.timeout)
		err := attempt(actx, ep)
		cancel()
		if err == nil {
			if idx != start && c.active.CompareAndSwap(int64(start), int64(idx)) {
				c.log.Info("bitcoin node failover", "endpoint", ep.name)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if !rpcRetryable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if len(c.endpoints) > 1 {
			c.log.Warn("bitcoin node endpoint failed", "endpoint", ep.name, "call", what, "err", err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return fmt.Errorf("%s: %w", what, errs[0])
	}
	return fmt.Errorf("%s: all %d endpoints failed: %w", what, len(errs), errors.Join(errs...))
}

// rpcResponse is the JSON-RPC 1.0 reply envelope.
type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// request sends one JSON-RPC call to one endpoint and returns the raw result.
func (c *rpcClient) request(ctx context.Context, ep *rpcEndpoint, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	id := c.nextID.Add(1)
	body, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      uint64 `json:"id"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
	}{"1.0", id, method, params})
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: build request for %s: %w", method, ep.name, err)
	}
	// Every call chainpay makes is a read, so it is safe to resend: marking the request
	// idempotent (a nil header is not sent) lets net/http retry it once when a reused
	// keep-alive connection turns out to have been closed by the node.
	req.Header["Idempotency-Key"] = nil
	req.Header.Set("Content-Type", "application/json")
	if ep.auth {
		req.SetBasicAuth(ep.user, ep.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %s", ErrUnreachable, method, ep.name, transportReason(ctx, err, c.timeout))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading the answer: %s", ErrUnreachable, method, ep.name, transportReason(ctx, err, c.timeout))
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("%w: %s %s: answer larger than %d bytes", ErrBadResponse, method, ep.name, maxResponseBytes)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("%w: %s %s: HTTP %d", ErrUnauthorized, method, ep.name, resp.StatusCode)
	}
	return decodeResponse(method, ep.name, resp.StatusCode, data, id)
}

// decodeResponse turns an HTTP answer into the call's result or an error. A
// JSON-RPC error object is an *RPCError whatever the HTTP status (bitcoind
// sends them with 404 and 500); other non-200 answers are ErrUnreachable when
// the status is 5xx (a proxy or a failing node) and ErrBadResponse otherwise.
func decodeResponse(method, name string, status int, data []byte, id uint64) (json.RawMessage, error) {
	var env rpcResponse
	if err := json.Unmarshal(data, &env); err != nil {
		if status >= 500 {
			return nil, fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrUnreachable, method, name, status, rpcSnippet(data))
		}
		return nil, fmt.Errorf("%w: %s %s: HTTP %d, not a JSON-RPC reply: %s", ErrBadResponse, method, name, status, rpcSnippet(data))
	}
	if len(env.Error) > 0 && !bytes.Equal(env.Error, []byte("null")) {
		var e struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(env.Error, &e); err != nil || e.Code == nil {
			return nil, fmt.Errorf("%w: %s %s: malformed error object %s", ErrBadResponse, method, name, rpcSnippet(env.Error))
		}
		return nil, &RPCError{Method: method, Code: *e.Code, Message: e.Message}
	}
	if status != http.StatusOK {
		if status >= 500 {
			return nil, fmt.Errorf("%w: %s %s: HTTP %d without an error object", ErrUnreachable, method, name, status)
		}
		return nil, fmt.Errorf("%w: %s %s: HTTP %d without an error object", ErrBadResponse, method, name, status)
	}
	if string(env.ID) != strconv.FormatUint(id, 10) {
		return nil, fmt.Errorf("%w: %s %s: reply id %s does not match request id %d", ErrBadResponse, method, name, rpcSnippet(env.ID), id)
	}
	if len(env.Result) == 0 {
		return nil, fmt.Errorf("%w: %s %s: reply has no result", ErrBadResponse, method, name)
	}
	return env.Result, nil
}

// transportReason describes a transport error without the request URL (which
// net/http includes, and which the caller names already).
func transportReason(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return err.Error()
}

// rpcSnippet quotes the start of a body for an error message.
func rpcSnippet(b []byte) string {
	const max = 120
	s := string(b)
	if len(s) > max {
		s = s[:max] + "..."
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	return strconv.Quote(s)
}

// decodeRPCString decodes a JSON string result.
func decodeRPCString(method string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: want a JSON string, got %s", ErrBadResponse, method, rpcSnippet(raw))
	}
	return s, nil
}

// parseRPCHash parses a 64-digit hex hash strictly (chainhash.NewHashFromStr
// accepts short strings and pads them).
func parseRPCHash(s string) (chainhash.Hash, error) {
	if len(s) != 2*chainhash.HashSize {
		return chainhash.Hash{}, fmt.Errorf("hash %s has %d characters, want %d", rpcSnippet([]byte(s)), len(s), 2*chainhash.HashSize)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return chainhash.Hash{}, fmt.Errorf("hash %s is not hex", rpcSnippet([]byte(s)))
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("hash %s: %v", rpcSnippet([]byte(s)), err)
	}
	return *h, nil
}

// decodeRPCHash decodes a JSON string result holding a hash.
func decodeRPCHash(method string, raw json.RawMessage) (chainhash.Hash, error) {
	s, err := decodeRPCString(method, raw)
	if err != nil {
		return chainhash.Hash{}, err
	}
	h, err := parseRPCHash(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("%w: %s: %v", ErrBadResponse, method, err)
	}
	return h, nil
}

// decodeRPCHex decodes a JSON string result holding hex bytes. A string
// without escapes (what nodes send) is hex-decoded in place, skipping a second
// JSON pass over megabytes of block hex; hex.Decode rejects any non-hex byte.
func decodeRPCHex(method string, raw json.RawMessage) ([]byte, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !bytes.ContainsRune(raw[1:len(raw)-1], '\\') {
		inner := raw[1 : len(raw)-1]
		b := make([]byte, hex.DecodedLen(len(inner)))
		if _, err := hex.Decode(b, inner); err != nil {
			return nil, fmt.Errorf("%w: %s: result is not hex: %v", ErrBadResponse, method, err)
		}
		return b, nil
	}
	s, err := decodeRPCString(method, raw)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: result is not hex: %v", ErrBadResponse, method, err)
	}
	return b, nil
}

// verbosityTypeMismatch reports whether a getblock error says the verbosity
// parameter has the wrong JSON type: btcd v0.24 answers a boolean with
// -32602 "parameter #2 'verbosity' must be type int (got bool)", old btcd and
// old bitcoind reject an integer where they want a boolean.
func verbosityTypeMismatch(e *RPCError, sentBool bool) bool {
	switch e.Code {
	case -1, -3, -8, -32602:
	default:
		return false
	}
	msg := strings.ToLower(e.Message)
	if sentBool {
		return strings.Contains(msg, "int") || strings.Contains(msg, "number") || strings.Contains(msg, "numeric")
	}
	return strings.Contains(msg, "bool")
}
