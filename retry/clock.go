package retry

import (
	"context"
	"time"
)

// Clock reads the two clocks the Guard needs. Now is the wall clock, which
// keeps running while the machine sleeps and may be stepped by NTP;
// Monotonic is a steady clock that on Linux and macOS does not advance
// during suspend and is never stepped. The difference between their advances
// is how a wake from sleep, or a wall clock stepped backwards, is detected.
type Clock interface {
	Now() time.Time
	Monotonic() time.Duration
}

// systemClock is the real clock.
type systemClock struct{ origin time.Time }

func newSystemClock() *systemClock { return &systemClock{origin: time.Now()} }

// Now returns the wall clock, without its monotonic reading.
func (c *systemClock) Now() time.Time { return time.Now().Round(0) }

// Monotonic returns the time elapsed on the monotonic clock.
func (c *systemClock) Monotonic() time.Duration { return time.Since(c.origin) }

// clockJump is what the clock watch saw: the wall clock moved by Wall more
// than the monotonic clock did. Positive: the machine slept (or the clock
// was stepped forward, which looks the same). Negative: the wall clock was
// stepped backwards.
type clockJump struct{ Wall time.Duration }

// clockWatch compares the two clocks every interval and reports a
// difference in their advances larger than threshold. A threshold well above
// interval keeps NTP's gradual corrections from looking like jumps.
type clockWatch struct {
	clock     Clock
	interval  time.Duration
	threshold time.Duration
	jumps     chan clockJump
}

func newClockWatch(c Clock, interval, threshold time.Duration) *clockWatch {
	return &clockWatch{clock: c, interval: interval, threshold: threshold, jumps: make(chan clockJump, 4)}
}

// run checks until ctx ends.
func (w *clockWatch) run(ctx context.Context) {
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
		d := nowWall.Sub(wall) - (nowMono - mono)
		wall, mono = nowWall, nowMono
		if d > w.threshold || d < -w.threshold {
			select {
			case w.jumps <- clockJump{Wall: d}:
			case <-ctx.Done():
				return
			}
		}
	}
}
