package mvds

import (
	"fmt"

	"github.com/status-im/mvds/state"

	"github.com/mvdsguard/mvdsguard/internal/knobs"
)

// The settings only simulations, benchmarks and tests turn live in package
// internal/knobs, out of this package's API; this fills them in.
func init() {
	knobs.SyncState = func(db any, hook any, epoch func() int64) (state.SyncState, error) {
		d, ok := db.(*DB)
		if !ok {
			return nil, fmt.Errorf("knobs.SyncState: database is a %T, want an *mvds.DB", db)
		}
		h, ok := hook.(Hook)
		if !ok {
			return nil, fmt.Errorf("knobs.SyncState: hook is a %T, which does not implement mvds.Hook", hook)
		}
		return newSyncState(d, h, epoch)
	}
	knobs.JitterSource = func(intn func(n int) int) any { return withJitterSource(intn) }
	knobs.NextEpoch = func(next func(count uint64, epoch int64) int64) any { return withNextEpoch(next) }
}
