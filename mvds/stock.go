package mvds

import (
	"math/rand"
	"time"

	"github.com/status-im/mvds/node"
)

// StockEpoch is status-go's datasync ticker: one mvds epoch every 300 ms of
// running time (plus the time the epoch's work takes).
const StockEpoch = 300 * time.Millisecond

// stockStepEpochs is status-go's 30-second backoff unit in epochs. status-go
// converts seconds to epochs with the integer ratio 1 s / 300 ms = 3, so the
// "30 s" step is 90 epochs, about 27 s of running time.
const stockStepEpochs = 30 * int64(time.Second/StockEpoch)

// stockJitterEpochs is the exclusive upper bound of status-go's jitter.
const stockJitterEpochs = 30

// StockNextEpoch returns status-go's backoff curve: after the count-th
// transmission, the next one is due at
//
//	epoch + 2^(count-1) · 90 + jitter, jitter uniform in [0, 29]
//
// intn draws the jitter (nil uses math/rand's global source, as
// status-go's use of math/rand does).
func StockNextEpoch(intn func(n int) int) node.CalculateNextEpoch {
	if intn == nil {
		intn = rand.Intn
	}
	return func(count uint64, epoch int64) int64 {
		return epoch + StockBackoff(count) + int64(intn(stockJitterEpochs))
	}
}

// StockBackoff is the deterministic part of status-go's curve: 2^(count-1) ·
// 90 epochs. Counts beyond 40 are held at 2^39 · 90, far beyond any real
// schedule, so that the shift cannot overflow.
func StockBackoff(count uint64) int64 {
	if count == 0 {
		count = 1
	}
	if count > 40 {
		count = 40
	}
	return (int64(1) << (count - 1)) * stockStepEpochs
}
