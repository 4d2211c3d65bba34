package retry

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard/mvds"
)

func (g *Guard) sweepLoop(ctx context.Context) {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.sweep(ctx); err != nil && ctx.Err() == nil {
				g.logger.Error("sweep failed; the next one tries again", zap.Error(err))
			}
		}
	}
}

// sweep checkpoints the ledger's tallies, fails the recipients whose last
// attempt went unacknowledged and the messages past their deadline, and
// marks stalled the messages pending past their threshold. A quick read
// first keeps an idle sweep out of the engine's way.
func (g *Guard) sweep(ctx context.Context) error {
	now := g.now()
	due, err := g.ledger.sweepDue(ctx, now)
	if err != nil || !due {
		return err
	}
	return g.node.Update(ctx, func(op *mvds.Op) error { return g.ledger.sweep(op, now) })
}
