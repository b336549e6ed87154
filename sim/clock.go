package sim

import (
	"sync"
	"time"
)

// Clock is the simulated wall clock. Now advances it by a microsecond per reading, so two
// things written one after the other get distinct, ordered times; Peek reads it without moving it (for components that run in goroutines, whose
// number of readings is not deterministic). Only the simulation moves it further (Advance).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the time and advances the clock by a microsecond.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Peek returns the time without advancing the clock.
func (c *Clock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
