package signals

import (
	"context"
	"errors"
	"fmt"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

// Forward hands sink the signals of every Guard event after afterSeq, in
// order: first those already in the event log, then live ones, until ctx is
// done (it then returns nil), the Guard closes, or sink fails (Forward
// returns its error). sink gets each signal once; a consumer that persists
// the Seq of the last signal it handled resumes from it without losing or
// repeating an event.
//
// In status-go, sink marshals the signal and hands the bytes to the signal
// handler (docs/integration-statusgo.md, "Events → signals").
func Forward(ctx context.Context, g *retry.Guard, afterSeq uint64, sink func(Signal) error) error {
	t, err := Resume(ctx, g)
	if err != nil {
		return fmt.Errorf("forward signals: %w", err)
	}
	sub, err := g.Subscribe(afterSeq)
	if err != nil {
		return fmt.Errorf("forward signals after %d: %w", afterSeq, err)
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Events():
			if !ok {
				if err := sub.Err(); err != nil {
					return fmt.Errorf("forward signals: %w", err)
				}
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("forward signals: the event stream ended")
			}
			for _, s := range t.Translate(e) {
				if err := sink(s); err != nil {
					return fmt.Errorf("forward signals: %s of event %d: %w", s.Type, s.Seq, err)
				}
			}
		}
	}
}

// Resume returns a Translator for a consumer that starts (or resumes) reading
// g's events: it knows which messages are failed now, so their next attempt
// still gives envelope.sent.
func Resume(ctx context.Context, g *retry.Guard) (*Translator, error) {
	failed, err := g.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{mvdsguard.Failed}})
	if err != nil {
		return nil, fmt.Errorf("failed messages: %w", err)
	}
	ids := make([]string, 0, len(failed))
	for _, m := range failed {
		ids = append(ids, m.AppID)
	}
	return NewTranslator(ids...), nil
}
