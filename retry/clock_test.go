package retry_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
)

// fakeClock drives a gomock Clock: both clocks advance with real time, and
// sleep moves the wall clock alone, as a suspended machine sees it on waking.
type fakeClock struct {
	*MockClock
	mu    sync.Mutex
	start time.Time
	jump  time.Duration
}

func newFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{MockClock: NewMockClock(gomock.NewController(t)), start: time.Now()}
	c.EXPECT().Now().DoAndReturn(func() time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		return time.Now().Round(0).Add(c.jump)
	}).AnyTimes()
	c.EXPECT().Monotonic().DoAndReturn(func() time.Duration { return time.Since(c.start) }).AnyTimes()
	return c
}

func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jump += d
}
