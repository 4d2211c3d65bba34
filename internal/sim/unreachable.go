package sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

// UnreachableResult is what happens to one message whose recipient never
// comes back.
type UnreachableResult struct {
	Sender        Sender
	Transmissions int
	Span          int64 // epochs from the append to the end (or the horizon)
	Outcome       string
	Reported      bool // the application was told (failed event)
	StillTrying   bool // retrying at the horizon, state kept
}

// Unreachable sends one message to a recipient partitioned away for good and
// runs the sender until the message is settled or horizon epochs passed.
func Unreachable(cfg Config, horizon int64) (UnreachableResult, error) {
	r, err := Start(cfg)
	if err != nil {
		return UnreachableResult{}, fmt.Errorf("unreachable run: %w", err)
	}
	defer r.Close()
	var (
		mu    sync.Mutex
		count int
	)
	r.Observe(func(tr memtransport.Transmission) {
		if tr.From == r.a && len(tr.Payload.Messages) > 0 {
			mu.Lock()
			count++
			mu.Unlock()
		}
	})
	r.net.Partition(r.a, r.b)
	r.settle = 0 // no ack can be in flight
	start := r.Epoch()
	if err := r.Queue(1); err != nil {
		return UnreachableResult{}, err
	}
	res := UnreachableResult{Sender: cfg.Sender}
	end, err := r.AdvanceUntil(start+horizon, func() (bool, error) {
		p, err := r.Pending()
		return p == 0, err
	})
	if err != nil && !errors.Is(err, ErrLimit) {
		return res, err
	}
	res.StillTrying = errors.Is(err, ErrLimit)
	// Let the sweeper finish settling a message whose state it just freed.
	time.Sleep(5 * cfg.epochOrDefault())
	failed, err := r.Failed()
	if err != nil {
		return res, err
	}
	mu.Lock()
	res.Transmissions = count
	mu.Unlock()
	res.Span = end - start
	res.Reported = failed > 0
	switch {
	case res.StillTrying:
		res.Outcome = "still retrying, state kept"
	case res.Reported:
		res.Outcome = "failed, reported (retry button)"
	default:
		res.Outcome = "deleted silently, nobody told"
	}
	return res, nil
}

func (c Config) epochOrDefault() time.Duration {
	if c.Epoch == 0 {
		return 10 * time.Millisecond
	}
	return c.Epoch
}
