package retry

import (
	"context"
	"time"
)

// Clock reads the two clocks the Guard needs. Now is the wall clock, which
// keeps running while the machine sleeps; Monotonic is a steady clock that
// on Linux and macOS does not advance during suspend. The difference between
// their advances is how a wake from sleep is detected.
type Clock interface {
	Now() time.Time
	Monotonic() time.Duration
}

// SystemClock is the real clock.
type SystemClock struct{ origin time.Time }

// NewSystemClock returns the real clock.
func NewSystemClock() *SystemClock { return &SystemClock{origin: time.Now()} }

// Now returns the wall clock, without its monotonic reading.
func (c *SystemClock) Now() time.Time { return time.Now().Round(0) }

// Monotonic returns the time elapsed on the monotonic clock.
func (c *SystemClock) Monotonic() time.Duration { return time.Since(c.origin) }

// WakeDetector watches for the wall clock jumping ahead of the monotonic
// clock, which happens when the machine wakes from sleep or hibernation.
type WakeDetector struct {
	clock     Clock
	interval  time.Duration
	threshold time.Duration
	wakes     chan time.Duration
}

// NewWakeDetector checks every interval; a wall-clock advance exceeding the
// monotonic one by more than threshold is reported as a wake with the length
// of the sleep. A threshold well above interval keeps NTP corrections from
// looking like sleeps.
func NewWakeDetector(c Clock, interval, threshold time.Duration) *WakeDetector {
	return &WakeDetector{clock: c, interval: interval, threshold: threshold, wakes: make(chan time.Duration, 1)}
}

// Wakes delivers the length of each detected sleep.
func (w *WakeDetector) Wakes() <-chan time.Duration { return w.wakes }

// Run checks until ctx ends.
func (w *WakeDetector) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	wall, mono := w.clock.Now(), w.clock.Monotonic()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		nowWall, nowMono := w.clock.Now(), w.clock.Monotonic()
		slept := nowWall.Sub(wall) - (nowMono - mono)
		wall, mono = nowWall, nowMono
		if slept > w.threshold {
			select {
			case w.wakes <- slept:
			default: // one pending wake is enough
			}
		}
	}
}
