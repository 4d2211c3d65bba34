package retry

import (
	"context"
	"errors"
	"fmt"

	"github.com/mvdsguard/mvdsguard"
)

// Events returns up to limit events with a sequence number greater than
// afterSeq, in order: for consumers that poll.
func (g *Guard) Events(ctx context.Context, afterSeq uint64, limit int) ([]mvdsguard.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("events: limit %d must be positive", limit)
	}
	return g.ledger.eventsAfter(ctx, afterSeq, limit)
}

// eventsAfter reads up to limit events after sequence number after.
// LastSeq returns the sequence number of the newest event in the log (0 for
// none): a consumer that has no cursor of its own and wants only what
// happens from now on subscribes after it.
func (g *Guard) LastSeq(ctx context.Context) (uint64, error) {
	return g.ledger.lastSeq(ctx)
}

func (l *ledger) lastSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	if err := l.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM retry_events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("newest event: %w", err)
	}
	return seq, nil
}

func (l *ledger) eventsAfter(ctx context.Context, after uint64, limit int) ([]mvdsguard.Event, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, type, app_id, chat_id, flow, peer, attempts, first_attempt_at,
		last_attempt_at, at, reason, retryable FROM retry_events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []mvdsguard.Event
	for rows.Next() {
		var (
			e         mvdsguard.Event
			typ, flow int
			peer      []byte
			reason    string
		)
		if err := rows.Scan(&e.Seq, &typ, &e.ID, &e.ChatID, &flow, &peer, &e.Attempts, &e.FirstAttemptAt,
			&e.LastAttemptAt, &e.At, &reason, &e.Retryable); err != nil {
			return nil, fmt.Errorf("read events after %d: %w", after, err)
		}
		e.Type, e.Flow, e.Peer, e.Reason = mvdsguard.EventType(typ), mvdsguard.Flow(flow), PeerHex(peer), mvdsguard.Reason(reason)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Subscription delivers events in sequence order, starting after the
// sequence number it was opened with: first everything already in the log,
// then each new event once its transaction has committed. Delivery is at
// least once across restarts — a subscriber that remembers the last Seq it
// handled and resubscribes from it misses nothing.
type Subscription struct {
	events chan mvdsguard.Event
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// subscribeBatch is how many events one read takes from the log.
const subscribeBatch = 256

// Subscribe opens a subscription to events after afterSeq (0: from the
// beginning).
func (g *Guard) Subscribe(afterSeq uint64) (*Subscription, error) {
	if g.closed.Load() {
		return nil, errors.New("subscribe: guard is closed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{events: make(chan mvdsguard.Event, subscribeBatch), cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, g, afterSeq)
	return s, nil
}

// Events is closed when the subscription ends (Close, or the Guard closing);
// Err then says why.
func (s *Subscription) Events() <-chan mvdsguard.Event { return s.events }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
}

// Err is nil while the subscription runs and after Close; otherwise it says
// why it ended.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *Subscription) run(ctx context.Context, g *Guard, cursor uint64) {
	defer close(s.done)
	defer close(s.events)
	for {
		// Take the wake-up channel before reading, so that an event committed
		// between the read and the wait is not missed.
		wake := g.ledger.events.wait()
		batch, err := g.ledger.eventsAfter(ctx, cursor, subscribeBatch)
		if err != nil {
			if ctx.Err() == nil && !g.ledger.events.isClosed() {
				s.err = err
			}
			return
		}
		for _, e := range batch {
			select {
			case s.events <- e:
				cursor = e.Seq
			case <-ctx.Done():
				return
			}
		}
		if len(batch) == subscribeBatch {
			continue
		}
		if g.ledger.events.isClosed() {
			s.err = errors.New("guard closed")
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}
