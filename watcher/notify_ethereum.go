package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/ethereum/go-ethereum/rpc"
)

// EthereumNotifierConfig configures an EthereumNotifier.
type EthereumNotifierConfig struct {
	// URLs are WebSocket JSON-RPC endpoints (ws:// or wss://) of the chain's nodes; after
	// a failed connection the next one is tried.
	URLs []string
	// Chain names the chain in logs ("ethereum").
	Chain  string
	Logger *slog.Logger
}

// EthereumNotifier wakes a Runner on an EVM node's eth_subscribe("newHeads") over a
// WebSocket; the header itself is not decoded (the follower reads blocks over its own
// RPC), so chains whose headers carry extra or missing fields work alike. go-ethereum's
// client pings the connection and drops it when pongs stop; the notifier then reconnects.
type EthereumNotifier struct {
	urls  []string
	names []string
	log   *slog.Logger
}

var _ Notifier = (*EthereumNotifier)(nil)

// NewEthereumNotifier validates cfg and returns a notifier; it makes no network calls.
func NewEthereumNotifier(cfg EthereumNotifierConfig) (*EthereumNotifier, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("new ethereum notifier: no WebSocket URL configured")
	}
	if cfg.Chain == "" {
		cfg.Chain = "ethereum"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &EthereumNotifier{log: cfg.Logger.With("chain", cfg.Chain)}
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("new ethereum notifier: URL %d: %w", i, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			return nil, fmt.Errorf("new ethereum notifier: URL %d (%s): scheme %q cannot subscribe; want ws or wss", i, redact(raw), u.Scheme)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("new ethereum notifier: URL %d (%s): no host", i, redact(raw))
		}
		n.urls = append(n.urls, raw)
		n.names = append(n.names, redact(raw))
	}
	return n, nil
}

// Subscribe implements Notifier.
func (n *EthereumNotifier) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	next := 0
	return subscribe(ctx, n.log, "eth_subscribe newHeads", func(ctx context.Context, connected, wake func()) error {
		i := next % len(n.urls)
		err := n.session(ctx, i, connected, wake)
		if err != nil {
			next++
		}
		return err
	}), nil
}

func (n *EthereumNotifier) session(ctx context.Context, i int, connected, wake func()) error {
	c, err := rpc.DialContext(ctx, n.urls[i])
	if err != nil {
		return fmt.Errorf("%s: %w", n.names[i], err)
	}
	defer c.Close()
	heads := make(chan json.RawMessage, 16)
	sub, err := c.EthSubscribe(ctx, heads, "newHeads")
	if err != nil {
		return fmt.Errorf("%s: eth_subscribe newHeads: %w", n.names[i], err)
	}
	defer sub.Unsubscribe()
	connected()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-heads:
			wake()
		case err := <-sub.Err():
			if err == nil {
				err = errors.New("subscription ended")
			}
			return fmt.Errorf("%s: newHeads: %w", n.names[i], err)
		}
	}
}
