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
	sys    *retry.SystemClock
	mu     sync.Mutex
	offset time.Duration
}

var _ retry.Clock = (*jumpClock)(nil)

func newJumpClock() *jumpClock { return &jumpClock{sys: retry.NewSystemClock()} }

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sys.Now().Add(c.offset)
}

func (c *jumpClock) Monotonic() time.Duration { return c.sys.Monotonic() }

// jump moves the wall clock forward by d.
func (c *jumpClock) jump(d time.Duration) (now time.Time, offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return c.sys.Now().Add(c.offset), c.offset
}
