package deposit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chainpay/chainpay/store"
)

// IndexesConfig configures Indexes.
type IndexesConfig struct {
	// MaxBlock caps the number of indexes one reservation takes (default 16). A process
	// holds at most two blocks per wallet (the one it hands out and the next, reserved
	// ahead), so a crash loses at most 2*MaxBlock-1 indexes per wallet.
	MaxBlock uint32
	// Now is the clock that sizes blocks (default time.Now).
	Now func() time.Time
}

// Indexes hands out derivation indexes from blocks this process reserves with one short
// statement (store.Tx.ReserveIndexes, in a transaction of its own), so creating an invoice
// holds no lock on the wallet across its transaction and stores do not serialise on their
// wallet row. The next block is reserved in the background once half of the current one is
// handed out, so invoices rarely wait for a reservation. Blocks grow with the wallet's rate
// of invoices: one index at a time for a wallet that gets an invoice every few seconds or
// less often, doubling while blocks last less than a second, up to MaxBlock; they shrink
// again when the rate drops.
//
// Indexes are never handed out twice, by this process or any other sharing the database.
// Indexes a process reserved but did not hand out are a gap in the wallet: Close gives the
// unused ones back when nothing was reserved after them; a crash loses them. An index handed
// out for a transaction that did not commit is given back with Release and handed out again
// first. It is safe for concurrent use.
type Indexes struct {
	st  store.Store
	cfg IndexesConfig

	mu      sync.Mutex
	wallets map[string]*walletBlock
	closed  bool
	wg      sync.WaitGroup // background reservations
}

// walletBlock is one wallet's block [next, end), the block reserved ahead, and the indexes
// given back.
type walletBlock struct {
	mu       sync.Mutex
	next     uint32
	end      uint32
	free     []uint32
	size     uint32
	reserved time.Time    // when the last reservation started
	ahead    *reservation // the next block, being or already reserved; nil when none
}

// reservation is a block reserved in the background; done closes when it has an outcome.
type reservation struct {
	done       chan struct{}
	first, end uint32
	err        error
}

// ErrIndexesClosed is returned by Next after Close.
var ErrIndexesClosed = errors.New("deposit: index allocator closed")

// NewIndexes returns an allocator over st.
func NewIndexes(st store.Store, cfg IndexesConfig) *Indexes {
	if cfg.MaxBlock == 0 {
		cfg.MaxBlock = 16
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Indexes{st: st, cfg: cfg, wallets: map[string]*walletBlock{}}
}

func (x *Indexes) block(walletID string) (*walletBlock, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, ErrIndexesClosed
	}
	b := x.wallets[walletID]
	if b == nil {
		b = &walletBlock{}
		x.wallets[walletID] = b
	}
	return b, nil
}

// Next hands out an index of the wallet that no one else has had or will have. It must not
// be called inside a transaction of the same store (a reservation runs a transaction of its
// own).
func (x *Indexes) Next(ctx context.Context, walletID string) (uint32, error) {
	b, err := x.block(walletID)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		idx := b.free[n-1]
		b.free = b.free[:n-1]
		return idx, nil
	}
	for b.next == b.end {
		r := b.ahead
		if r == nil {
			if r = x.reserve(walletID, b); r == nil {
				return 0, ErrIndexesClosed
			}
		}
		b.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			b.mu.Lock()
			return 0, ctx.Err()
		}
		b.mu.Lock()
		if b.ahead != r {
			continue // another caller took it
		}
		b.ahead = nil
		if r.err != nil {
			return 0, fmt.Errorf("reserve derivation indexes of wallet %s: %w", walletID, r.err)
		}
		b.next, b.end = r.first, r.end
	}
	idx := b.next
	b.next++
	if b.ahead == nil && b.end-b.next <= b.size/2 {
		x.reserve(walletID, b) // the next block, before this one runs out
	}
	return idx, nil
}

// reserve starts reserving the wallet's next block in the background and records it as
// b.ahead; b.mu is held. It returns nil once the allocator is closed.
func (x *Indexes) reserve(walletID string, b *walletBlock) *reservation {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	now := x.cfg.Now()
	switch since := now.Sub(b.reserved); {
	case b.size == 0:
		b.size = 1
	case since < time.Second:
		b.size = min(b.size*2, x.cfg.MaxBlock)
	case since > 10*time.Second:
		b.size = max(b.size/2, 1)
	}
	b.reserved = now
	r := &reservation{done: make(chan struct{})}
	b.ahead = r
	size := b.size
	x.wg.Go(func() {
		defer close(r.done)
		// Its own context: a caller that gives up does not cancel a block others wait for.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.err = x.st.Tx(ctx, func(tx store.Tx) (err error) {
			r.first, err = tx.ReserveIndexes(ctx, walletID, size)
			return err
		})
		r.end = r.first + size
	})
	return r
}

// Release gives back an index Next handed out whose invoice was never committed (its
// transaction failed with a conflict or rolled back), so it is handed out again. Releasing
// an index that may have been committed would hand it out twice: when in doubt, do not.
func (x *Indexes) Release(walletID string, idx uint32) {
	b, err := x.block(walletID)
	if err != nil {
		return // closed: the index stays a gap
	}
	b.mu.Lock()
	b.free = append(b.free, idx)
	b.mu.Unlock()
}

// Close stops handing out indexes, waits for reservations in flight, and gives each
// wallet's unused indexes back where nothing was reserved after them: the block reserved
// ahead, then the rest of the current one. It is idempotent.
func (x *Indexes) Close(ctx context.Context) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	wallets := x.wallets
	x.mu.Unlock()
	x.wg.Wait()
	var errs []error
	for id, b := range wallets {
		b.mu.Lock()
		var ranges [][2]uint32
		if r := b.ahead; r != nil && r.err == nil {
			ranges = append(ranges, [2]uint32{r.first, r.end})
		}
		ranges = append(ranges, [2]uint32{b.next, b.end})
		b.next, b.ahead = b.end, nil
		b.mu.Unlock()
		for _, rg := range ranges {
			if rg[0] == rg[1] {
				continue
			}
			var ok bool
			err := x.st.Tx(ctx, func(tx store.Tx) (err error) {
				ok, err = tx.ReturnIndexes(ctx, id, rg[0], rg[1])
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("return indexes %d-%d of wallet %s: %w", rg[0], rg[1]-1, id, err))
			}
			if !ok {
				break // something was reserved after it: the older range cannot go back either
			}
		}
	}
	return errors.Join(errs...)
}
