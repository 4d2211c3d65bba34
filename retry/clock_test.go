package retry_test

import (
	"sync"
	"time"
)

// fakeClock is a retry.Clock whose two clocks advance with real time, and
// whose sleep moves the wall clock alone, as a suspended machine sees it on
// waking.
type fakeClock struct {
	mu    sync.Mutex
	start time.Time
	jump  time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{start: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Round(0).Add(c.jump)
}

func (c *fakeClock) Monotonic() time.Duration { return time.Since(c.start) }

func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jump += d
}

// stepBack moves the wall clock back by d, as an NTP step does; the
// monotonic clock is not affected.
func (c *fakeClock) stepBack(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jump -= d
}
