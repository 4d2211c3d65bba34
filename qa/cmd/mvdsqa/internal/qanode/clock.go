package qanode

import (
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/retry"
)

// jumpClock is the Guard's clock in a QA node: the system clock, whose wall
// reading can be pushed forward while the monotonic one keeps its pace —
// what a laptop sees when it wakes from sleep, and what the Guard's wake
// detector looks for.
type jumpClock struct {
	origin time.Time // carries the monotonic reading
	mu     sync.Mutex
	offset time.Duration
}

var _ retry.Clock = (*jumpClock)(nil)

func newJumpClock() *jumpClock { return &jumpClock{origin: time.Now()} }

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Round(0).Add(c.offset)
}

func (c *jumpClock) Monotonic() time.Duration { return time.Since(c.origin) }

// jump moves the wall clock forward by d.
func (c *jumpClock) jump(d time.Duration) (now time.Time, offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return time.Now().Round(0).Add(c.offset), c.offset
}
