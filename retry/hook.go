package retry

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// The Guard is its node's Hook. Every method runs on the engine's serialised
// path, inside the transaction that makes the state change.
var (
	_ mvds.Hook       = (*Guard)(nil)
	_ mvds.TxObserver = (*Guard)(nil)
)

// Scheduled: the Guard records its messages itself, in the same transaction
// as the append; nothing to do.
func (g *Guard) Scheduled(*sql.Tx, mvds.State, mvds.Origin) error { return nil }

// Due skips everything while offline, without counting an attempt, and
// otherwise sets the next attempt from the message's policy. A tracked state
// that used its attempts waits (unsent) for the sweeper to fail it once the
// last attempt had time to be acknowledged.
func (g *Guard) Due(epoch int64, s mvds.State) mvds.Decision {
	e := g.tracked[s.MessageID]
	pol := BoundedPolicy
	if e != nil {
		pol = e.policy
	}
	if !g.online.Load() {
		return mvds.Decision{Action: mvds.Skip, NextEpoch: epoch + g.epochs(offlinePark)}
	}
	if e == nil {
		return mvds.Decision{Action: mvds.Send} // mvds's own traffic: its own curve
	}
	if pol.MaxAttempts > 0 && int(s.SendCount) >= pol.MaxAttempts {
		return mvds.Decision{Action: mvds.Skip, NextEpoch: epoch + g.parkEpochs(pol)}
	}
	delay := pol.Delay(int(s.SendCount)+1, g.rnd)
	return mvds.Decision{Action: mvds.Send, NextEpoch: epoch + g.epochs(delay)}
}

// eventRows is how many events one multi-row INSERT writes.
const eventRows = 100

// Attempted records this epoch's attempts of tracked messages: a sent event
// per recipient, appended with multi-row inserts, and nothing else. It is on
// the hot path of every epoch (a reconnect can put tens of thousands of
// states in one), so the message's counters advance in memory and reach its
// row at the next checkpoint; the events are the durable record (see
// checkpoint). A pending recipient's own attempt count is mvds's send count,
// copied onto the recipient when it settles.
func (g *Guard) Attempted(tx *sql.Tx, epoch int64, states []mvds.State) error {
	now := g.now()
	nowMs, nowS := now.UnixMilli(), now.Unix()
	var (
		events []any
		rows   int
		flows  map[mvdsguard.Flow]int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", ")
		if _, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at)
			VALUES `+values, events...); err != nil {
			return fmt.Errorf("write sent events: %w", err)
		}
		g.txn.events = true
		events, rows = events[:0], 0
		return nil
	}
	for _, s := range states {
		e := g.tracked[s.MessageID]
		if e == nil {
			continue
		}
		c := g.txn.countersOf(e)
		c.attempts++
		if c.first == 0 {
			c.first = nowMs
		}
		c.last = nowMs
		if p := e.policy; p.MaxAttempts > 0 && int(s.SendCount) >= p.MaxAttempts {
			// The last attempt: give its ack as long as another delay.
			if _, err := tx.Exec(`UPDATE retry_recipients SET fail_at = ? WHERE mvds_id = ? AND peer = ? AND status = ?`,
				nowMs+millis(p.Ceiling(int(s.SendCount))), s.MessageID[:], s.PeerID[:], stPending); err != nil {
				return fmt.Errorf("record last attempt of %q: %w", e.appID, err)
			}
		}
		if events == nil {
			events = make([]any, 0, 9*eventRows)
		}
		events = append(events, int(mvdsguard.EventSent), e.appID, e.chatID, int(e.flow), s.PeerID[:], c.attempts, c.first/1000, c.last/1000, nowS)
		rows++
		if flows == nil {
			flows = map[mvdsguard.Flow]int{}
		}
		flows[e.flow]++
		if rows == eventRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(flows) > 0 {
		g.onCommit(func(m *metrics) {
			for f, n := range flows {
				m.sent.WithLabelValues(f.String()).Add(float64(n))
			}
		})
	}
	return nil
}

// Acked marks the recipient delivered and settles the message when it was
// the last one.
func (g *Guard) Acked(tx *sql.Tx, epoch int64, s mvds.State) error {
	e := g.tracked[s.MessageID]
	if e == nil {
		return nil
	}
	now := g.now()
	attempts := int(s.SendCount)
	res, err := tx.Exec(`UPDATE retry_recipients SET status = ?, delivered_at = ?, attempts = attempts + ? WHERE mvds_id = ? AND peer = ? AND status = ?`,
		stDelivered, now.UnixMilli(), attempts, s.MessageID[:], s.PeerID[:], stPending)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = sql.ErrNoRows
		}
	}
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record ack of %q: %w", e.appID, err)
	}
	var created int64
	if err := tx.QueryRow(`UPDATE retry_messages SET delivered = delivered + 1 WHERE app_id = ? RETURNING created_at`, e.appID).Scan(&created); err != nil {
		return fmt.Errorf("record ack of %q: %w", e.appID, err)
	}
	if err := g.event(tx, mvdsguard.EventDelivered, e.appID, s.PeerID[:], "", false, now); err != nil {
		return err
	}
	flow := e.flow.String()
	took := now.Sub(timeMillis(created)).Seconds()
	g.onCommit(func(m *metrics) {
		m.delivered.WithLabelValues(flow).Inc()
		m.attempts.WithLabelValues(flow).Observe(float64(attempts))
		m.timeToAck.WithLabelValues(flow).Observe(took)
	})
	return g.finish(tx, e.appID, now)
}

// LimitReached keeps tracked states (their policy decides when they fail)
// and lets mvds's own protocol states go, as mvds would.
func (g *Guard) LimitReached(_ *sql.Tx, _ int64, s mvds.State) (bool, error) {
	return g.tracked[s.MessageID] == nil, nil
}

// SendFailed keeps the transport's error as the message's last error.
func (g *Guard) SendFailed(tx *sql.Tx, _ int64, states []mvds.State, err error) error {
	seen := map[string]bool{}
	for _, s := range states {
		e := g.tracked[s.MessageID]
		if e == nil || seen[e.appID] {
			continue
		}
		seen[e.appID] = true
		if _, xerr := tx.Exec(`UPDATE retry_messages SET last_error = ? WHERE app_id = ?`, truncate(err.Error(), 512), e.appID); xerr != nil {
			return fmt.Errorf("record send error of %q: %w", e.appID, xerr)
		}
	}
	return nil
}

// Rescheduled and Dropped: the Guard writes its own events for the moves and
// drops it makes; nothing else moves its states.
func (g *Guard) Rescheduled(*sql.Tx, int64, []mvds.State) error { return nil }
func (g *Guard) Dropped(*sql.Tx, int64, []mvds.State) error     { return nil }

// TxDone publishes what the transaction prepared, or forgets it.
func (g *Guard) TxDone(committed bool) {
	w := g.txn
	g.txn.reset()
	if !committed {
		return
	}
	for _, e := range w.synced {
		if e.stagedIn != w.gen {
			delete(g.dirty, e)
		}
	}
	for _, e := range w.staged {
		e.committed = e.staged
		g.dirty[e] = struct{}{}
	}
	for _, app := range w.delApps {
		if e := g.apps[app]; e != nil {
			delete(g.dirty, e)
			delete(g.apps, app)
		}
	}
	for id, e := range w.add {
		g.tracked[id] = e
		g.apps[e.appID] = e
	}
	for _, id := range w.del {
		delete(g.tracked, id)
	}
	g.dirtyCount.Store(int64(len(g.dirty)))
	if g.metrics != nil {
		for _, f := range w.metrics {
			f(g.metrics)
		}
	}
	if w.events {
		g.events.publish()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
