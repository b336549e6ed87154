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
	// MaxBlock caps the number of indexes one reservation takes (default 32). It is also
	// the most a process can lose per wallet when it stops without Close (a crash).
	MaxBlock uint32
	// Now is the clock that sizes blocks (default time.Now).
	Now func() time.Time
}

// Indexes hands out derivation indexes from blocks this process reserves with one short
// statement (store.Tx.ReserveIndexes, in a transaction of its own), so creating an invoice
// holds no lock on the wallet across its transaction and stores do not serialise on their
// wallet row. Blocks grow with the wallet's rate of invoices: one index at a time for a
// wallet that gets an invoice every few seconds or less often, doubling while a block
// lasts less than a second, up to MaxBlock; they shrink again when the rate drops.
//
// Indexes are never handed out twice, by this process or any other sharing the database.
// Indexes a process reserved but did not hand out are a gap in the wallet: Close gives the
// unused tail back when nothing was reserved after it; a crash loses it (at most MaxBlock
// per wallet). An index handed out for a transaction that did not commit is given back with
// Release and handed out again first. It is safe for concurrent use.
type Indexes struct {
	st  store.Store
	cfg IndexesConfig

	mu      sync.Mutex
	wallets map[string]*walletBlock
	closed  bool
}

// walletBlock is one wallet's reserved block [next, end) and the indexes given back.
type walletBlock struct {
	mu       sync.Mutex
	next     uint32
	end      uint32
	free     []uint32
	size     uint32
	refilled time.Time
}

// ErrIndexesClosed is returned by Next after Close.
var ErrIndexesClosed = errors.New("deposit: index allocator closed")

// NewIndexes returns an allocator over st.
func NewIndexes(st store.Store, cfg IndexesConfig) *Indexes {
	if cfg.MaxBlock == 0 {
		cfg.MaxBlock = 32
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
// be called inside a transaction of the same store (a refill runs a transaction of its own).
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
	if b.next == b.end {
		now := x.cfg.Now()
		switch since := now.Sub(b.refilled); {
		case b.size == 0:
			b.size = 1
		case since < time.Second:
			b.size = min(b.size*2, x.cfg.MaxBlock)
		case since > 10*time.Second:
			b.size = max(b.size/2, 1)
		}
		var first uint32
		err := x.st.Tx(ctx, func(tx store.Tx) (err error) {
			first, err = tx.ReserveIndexes(ctx, walletID, b.size)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("reserve derivation indexes of wallet %s: %w", walletID, err)
		}
		b.next, b.end, b.refilled = first, first+b.size, now
	}
	idx := b.next
	b.next++
	return idx, nil
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

// Close stops handing out indexes and gives each wallet's unused tail back where nothing
// was reserved after it. It is idempotent.
func (x *Indexes) Close(ctx context.Context) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	wallets := x.wallets
	x.mu.Unlock()
	var errs []error
	for id, b := range wallets {
		b.mu.Lock()
		from, end := b.next, b.end
		b.next = b.end
		b.mu.Unlock()
		if from == end {
			continue
		}
		err := x.st.Tx(ctx, func(tx store.Tx) error {
			_, err := tx.ReturnIndexes(ctx, id, from, end)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("return indexes %d-%d of wallet %s: %w", from, end-1, id, err))
		}
	}
	return errors.Join(errs...)
}
