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

// attemptBatch bounds the rows per statement (SQLite allows 32766 variables).
const attemptBatch = 500

// Attempted records this epoch's attempts of tracked messages and writes a
// sent event per recipient, with set-based statements: a reconnect can put
// tens of thousands of states in one epoch.
func (g *Guard) Attempted(tx *sql.Tx, epoch int64, states []mvds.State) error {
	now := g.now()
	nowMs := now.UnixMilli()
	var (
		args  []any
		rows  int
		flows map[mvdsguard.Flow]int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", rows), ", ")
		cte := `WITH a (mvds_id, peer, fail_at) AS (VALUES ` + values + `) `
		if _, err := tx.Exec(cte+`UPDATE retry_recipients SET attempts = attempts + 1,
				fail_at = CASE WHEN a.fail_at > 0 THEN a.fail_at ELSE retry_recipients.fail_at END
			FROM a WHERE retry_recipients.mvds_id = a.mvds_id AND retry_recipients.peer = a.peer AND retry_recipients.status = ?`,
			append(args, stPending)...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		if _, err := tx.Exec(cte+`, c (app_id, n) AS (
				SELECT r.app_id, count(*) FROM a JOIN retry_recipients r ON r.mvds_id = a.mvds_id AND r.peer = a.peer
				WHERE r.status = ? GROUP BY r.app_id)
			UPDATE retry_messages SET attempts = attempts + c.n, last_attempt_at = ?,
				first_attempt_at = CASE WHEN first_attempt_at = 0 THEN ? ELSE first_attempt_at END
			FROM c WHERE retry_messages.app_id = c.app_id`,
			append(args, stPending, nowMs, nowMs)...); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		if _, err := tx.Exec(cte+`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at)
			SELECT ?, m.app_id, m.chat_id, m.flow, r.peer, m.attempts, m.first_attempt_at / 1000, m.last_attempt_at / 1000, ?
			FROM a JOIN retry_recipients r ON r.mvds_id = a.mvds_id AND r.peer = a.peer
			JOIN retry_messages m ON m.app_id = r.app_id WHERE r.status = ?`,
			append(args, int(mvdsguard.EventSent), now.Unix(), stPending)...); err != nil {
			return fmt.Errorf("write sent events: %w", err)
		}
		g.txn.events = true
		args, rows = args[:0], 0
		return nil
	}
	for _, s := range states {
		e := g.tracked[s.MessageID]
		if e == nil {
			continue
		}
		var failAt int64
		if p := e.policy; p.MaxAttempts > 0 && int(s.SendCount) >= p.MaxAttempts {
			// The last attempt: give its ack as long as another delay.
			failAt = nowMs + millis(p.Ceiling(int(s.SendCount)))
		}
		args = append(args, s.MessageID[:], s.PeerID[:], failAt)
		rows++
		if flows == nil {
			flows = map[mvdsguard.Flow]int{}
		}
		flows[e.flow]++
		if rows == attemptBatch {
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
	var attempts int
	err := tx.QueryRow(`UPDATE retry_recipients SET status = ?, delivered_at = ? WHERE mvds_id = ? AND peer = ? AND status = ? RETURNING attempts`,
		stDelivered, now.UnixMilli(), s.MessageID[:], s.PeerID[:], stPending).Scan(&attempts)
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
	for id, e := range w.add {
		g.tracked[id] = e
	}
	for _, id := range w.del {
		delete(g.tracked, id)
	}
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
