package retry

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// sweepBatch bounds the work of one sweep; the next sweep takes the rest.
const sweepBatch = 1000

func (g *Guard) sweepLoop(ctx context.Context) {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.Sweep(ctx); err != nil && ctx.Err() == nil {
				g.logger.Error("sweep failed", zap.Error(err))
			}
		}
	}
}

// Sweep checkpoints the ledger's counters, fails the recipients whose last
// attempt went unacknowledged, fails the messages past their deadline, and
// marks stalled the messages pending past their threshold. It runs every sweep interval; tests and tools may
// call it directly.
func (g *Guard) Sweep(ctx context.Context) error {
	now := g.now()
	nowMs := now.UnixMilli()
	var due bool
	err := g.db.SQL().QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM retry_recipients WHERE status = ? AND fail_at > 0 AND fail_at <= ?) OR
		EXISTS (SELECT 1 FROM retry_messages WHERE status = ? AND deadline_at > 0 AND deadline_at <= ?) OR
		EXISTS (SELECT 1 FROM retry_messages WHERE status = ? AND stalled = 0 AND stall_at > 0 AND stall_at <= ?)`,
		stPending, nowMs, stPending, nowMs, stPending, nowMs).Scan(&due)
	if err != nil {
		return err
	}
	if !due && g.dirtyCount.Load() == 0 {
		return nil
	}
	return g.node.Update(ctx, func(op *mvds.Op) error {
		tx := op.Tx()
		// The events below copy counters from the rows.
		if err := g.checkpoint(tx, false); err != nil {
			return err
		}
		exhausted, err := queryRecipients(tx, `SELECT mvds_id, peer, app_id FROM retry_recipients
			WHERE status = ? AND fail_at > 0 AND fail_at <= ? ORDER BY fail_at LIMIT ?`, stPending, nowMs, sweepBatch)
		if err != nil {
			return err
		}
		if err := g.failRecipients(op, exhausted, mvdsguard.ReasonMaxAttempts, now); err != nil {
			return err
		}
		late, err := queryRecipients(tx, `SELECT r.mvds_id, r.peer, r.app_id FROM retry_messages m
			JOIN retry_recipients r ON r.app_id = m.app_id AND r.status = ?
			WHERE m.status = ? AND m.deadline_at > 0 AND m.deadline_at <= ? ORDER BY m.deadline_at LIMIT ?`,
			stPending, stPending, nowMs, sweepBatch)
		if err != nil {
			return err
		}
		if err := g.failRecipients(op, late, mvdsguard.ReasonDeadline, now); err != nil {
			return err
		}
		return g.markStalled(tx, now)
	})
}

func (g *Guard) markStalled(tx *sql.Tx, now time.Time) error {
	const cond = `status = ? AND stalled = 0 AND stall_at > 0 AND stall_at <= ?`
	res, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason)
		SELECT ?, app_id, chat_id, flow, NULL, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?
		FROM retry_messages WHERE `+cond+` ORDER BY stall_at`,
		int(mvdsguard.EventStalled), now.Unix(), string(mvdsguard.ReasonStallAfter), stPending, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("stall events: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	g.txn.events = true
	if _, err := tx.Exec(`UPDATE retry_messages SET stalled = 1 WHERE `+cond, stPending, now.UnixMilli()); err != nil {
		return fmt.Errorf("mark stalled: %w", err)
	}
	return nil
}

func queryRecipients(tx *sql.Tx, q string, args ...any) ([]recipient, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var id, peer []byte
		var r recipient
		if err := rows.Scan(&id, &peer, &r.appID); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		copy(r.mvdsID[:], id)
		copy(r.peer[:], peer)
		out = append(out, r)
	}
	return out, rows.Err()
}

func timeMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
