package retry

import (
	"fmt"
	"math"
	"time"
)

// Burst limits how fast rescheduled messages go out after a reconnect or a
// wake: up to Size at once, then Rate per second — a token bucket that
// starts full. With 10,000 messages pending, a reconnect must not flood the
// network or the peer's store nodes.
type Burst struct {
	Rate float64 // messages per second after the first Size
	Size int     // messages sent at once
}

// DefaultBurst sends 100 messages at once, then 50 per second.
func DefaultBurst() Burst { return Burst{Rate: 50, Size: 100} }

func (b Burst) validate() error {
	if b.Rate <= 0 || math.IsNaN(b.Rate) || math.IsInf(b.Rate, 0) {
		return fmt.Errorf("burst rate %v must be a positive number of messages per second", b.Rate)
	}
	if b.Size < 1 {
		return fmt.Errorf("burst size %d must be at least 1", b.Size)
	}
	return nil
}

// offset returns how many epochs after the reconnect the i-th message
// (0-based) may go out.
func (b Burst) offset(i int, epoch time.Duration) int64 {
	if i < b.Size {
		return 0
	}
	perEpoch := b.Rate * epoch.Seconds()
	return int64(math.Ceil(float64(i-b.Size+1) / perEpoch))
}

// Spread is how many epochs of length epoch the burst limit needs to let n
// messages out.
func (b Burst) Spread(n int, epoch time.Duration) int64 {
	if n <= 0 {
		return 0
	}
	return b.offset(n-1, epoch)
}
