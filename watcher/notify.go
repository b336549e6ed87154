package watcher

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Notifier tells a Runner that its chain has a new block, so the follower steps at once
// instead of at the next poll. Polling stays the safety net: a notification only wakes the
// runner early, it carries no data the follower relies on.
type Notifier interface {
	// Subscribe starts listening and returns a channel that receives a value whenever the
	// node reports a new block (values coalesce: one pending wake-up stands for any number
	// of blocks) and after every (re)connection, since blocks may have arrived while
	// disconnected. Lost connections are re-established with backoff and jitter. The channel
	// is closed when ctx ends and the notifier's goroutines have returned, or earlier when
	// the node can never notify (then the runner polls only). An error means nothing was
	// started.
	Subscribe(ctx context.Context) (<-chan struct{}, error)
}

// Reconnection backoff of the notifiers: doubled from minNotifyBackoff after each failed
// attempt up to maxNotifyBackoff, with jitter; reset by a successful subscription.
const (
	minNotifyBackoff = 250 * time.Millisecond
	maxNotifyBackoff = 30 * time.Second
)

// errNeverNotifies marks a session error after which reconnecting is pointless (the node
// has no such notification endpoint).
var errNeverNotifies = errors.New("node offers no block notifications")

// session is one connection of a notifier: it subscribes, calls connected once the
// subscription is confirmed, calls wake for every new block, and returns when the
// connection fails or ctx ends.
type session func(ctx context.Context, connected, wake func()) error

// subscribe runs sessions until ctx ends, reconnecting with backoff, and returns the
// wake-up channel described by Notifier.Subscribe.
func subscribe(ctx context.Context, log *slog.Logger, what string, run session) <-chan struct{} {
	out := make(chan struct{}, 1)
	wake := func() {
		select {
		case out <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	go func() {
		defer close(out)
		backoff := minNotifyBackoff
		for {
			ok := false
			err := run(ctx, func() {
				ok = true
				backoff = minNotifyBackoff
				log.Debug("block notifications subscribed", "via", what)
				wake()
			}, wake)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errNeverNotifies) {
				log.Warn("no block notifications from this node; polling only", "via", what, "err", err)
				return
			}
			wait := backoff/2 + rand.N(backoff/2+1)
			if !ok {
				backoff = min(backoff*2, maxNotifyBackoff)
			}
			log.Warn("block notifications lost; reconnecting", "via", what, "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return out
}
