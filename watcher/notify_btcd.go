package watcher

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultNotifyPing is how often a BtcdNotifier pings the node to notice a dead connection.
const DefaultNotifyPing = 30 * time.Second

// BtcdNotifierConfig configures a BtcdNotifier.
type BtcdNotifierConfig struct {
	// URLs are the nodes' JSON-RPC URLs with credentials, as in bitcoin.NodeConfig
	// (http://user:password@host:port); the websocket is /ws on the same host and port
	// (ws:// for http, wss:// for https). After a failed connection the next URL is tried.
	URLs []string
	// TLS configures wss:// connections (for example btcd's self-signed rpc.cert); nil
	// means the system roots.
	TLS *tls.Config
	// Ping is the interval of websocket pings; a connection that answers nothing for two
	// intervals is dropped and re-established. Default DefaultNotifyPing.
	Ping   time.Duration
	Logger *slog.Logger
}

// BtcdNotifier wakes a Runner on btcd's websocket notifications: it connects to btcd's
// JSON-RPC websocket at /ws with HTTP basic auth, sends notifyblocks, and reports every
// blockconnected and blockdisconnected notification.
//
// bitcoind has no such websocket (it publishes blocks over ZMQ, which chainpay does not
// speak): its RPC port rejects the websocket handshake, the notifier says so once in the
// log and closes its channel, and the runner polls only.
type BtcdNotifier struct {
	eps    []btcdEndpoint
	dialer websocket.Dialer
	ping   time.Duration
	log    *slog.Logger
}

type btcdEndpoint struct {
	ws   string // ws(s)://host:port/ws
	name string // without credentials, for logs
	auth string // Authorization header value ("" = none)
}

var _ Notifier = (*BtcdNotifier)(nil)

// NewBtcdNotifier validates cfg and returns a notifier; it makes no network calls.
func NewBtcdNotifier(cfg BtcdNotifierConfig) (*BtcdNotifier, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("new btcd notifier: no node URL configured")
	}
	if cfg.Ping < 0 {
		return nil, fmt.Errorf("new btcd notifier: negative ping interval %s", cfg.Ping)
	}
	if cfg.Ping == 0 {
		cfg.Ping = DefaultNotifyPing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &BtcdNotifier{ping: cfg.Ping, log: cfg.Logger.With("chain", "bitcoin"),
		dialer: websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: cfg.TLS}}
	for i, raw := range cfg.URLs {
		ep, err := btcdWebsocket(raw)
		if err != nil {
			return nil, fmt.Errorf("new btcd notifier: node URL %d: %w", i, err)
		}
		n.eps = append(n.eps, ep)
	}
	return n, nil
}

// btcdWebsocket turns a JSON-RPC URL into the node's websocket endpoint.
func btcdWebsocket(raw string) (btcdEndpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return btcdEndpoint{}, fmt.Errorf("not a URL: %w", err)
	}
	var ep btcdEndpoint
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return ep, fmt.Errorf("scheme %q: want http or https (the JSON-RPC URL)", u.Scheme)
	}
	if u.Host == "" {
		return ep, errors.New("no host")
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		ep.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
		u.User = nil
	}
	u.Path, u.RawQuery, u.Fragment = "/ws", "", ""
	ep.ws, ep.name = u.String(), u.String()
	return ep, nil
}

// Subscribe implements Notifier.
func (n *BtcdNotifier) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	next := 0
	return subscribe(ctx, n.log, "btcd websocket", func(ctx context.Context, connected, wake func()) error {
		ep := n.eps[next%len(n.eps)]
		err := n.session(ctx, ep, connected, wake)
		if err != nil && !errors.Is(err, errNeverNotifies) {
			next++ // fail over to the next node
		}
		return err
	}), nil
}

// btcdMessage is a JSON-RPC 1.0 response or notification on btcd's websocket.
type btcdMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// notifyBlocksID is the request id of the notifyblocks call.
const notifyBlocksID = "chainpay-notifyblocks"

func (n *BtcdNotifier) session(ctx context.Context, ep btcdEndpoint, connected, wake func()) error {
	h := http.Header{}
	if ep.auth != "" {
		h.Set("Authorization", ep.auth)
	}
	conn, resp, err := n.dialer.DialContext(ctx, ep.ws, h)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden:
				return fmt.Errorf("%s: credentials rejected (HTTP %d)", ep.name, resp.StatusCode)
			case http.StatusNotFound, http.StatusMethodNotAllowed:
				// bitcoind answers GET on its RPC port with 405.
				return fmt.Errorf("%s: HTTP %d to the websocket handshake (not btcd?): %w", ep.name, resp.StatusCode, errNeverNotifies)
			}
			return fmt.Errorf("%s: websocket handshake: HTTP %d", ep.name, resp.StatusCode)
		}
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	defer conn.Close()
	// Reading blocks; closing the connection is what ends it when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	deadline := func() { _ = conn.SetReadDeadline(time.Now().Add(2*n.ping + 5*time.Second)) }
	deadline()
	conn.SetPongHandler(func(string) error { deadline(); return nil })
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); wg.Wait() }()
	wg.Go(func() {
		t := time.NewTicker(n.ping)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// WriteControl may run concurrently with the reader and the one writer.
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
					return
				}
			}
		}
	})

	req, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": notifyBlocksID, "method": "notifyblocks", "params": []any{}})
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, req); err != nil {
		return fmt.Errorf("%s: send notifyblocks: %w", ep.name, err)
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("%s: %w", ep.name, err)
		}
		deadline()
		var m btcdMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: undecodable websocket message %q: %w", ep.name, rpcText(data), err)
		}
		switch m.Method {
		case "blockconnected", "blockdisconnected", "filteredblockconnected", "filteredblockdisconnected":
			wake()
			continue
		}
		if string(m.ID) != `"`+notifyBlocksID+`"` {
			continue // another notification
		}
		if m.Error != nil {
			return fmt.Errorf("%s: notifyblocks: rpc error %d: %s", ep.name, m.Error.Code, m.Error.Message)
		}
		connected()
	}
}

// rpcText abbreviates a message for an error.
func rpcText(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
