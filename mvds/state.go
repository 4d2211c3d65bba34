package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"go.uber.org/zap"
)

// hookedState implements mvds's state.SyncState on mvds's own mvds_states
// table, with the same SQL semantics as mvds's SQLite sync state, and calls
// the Hook inside the transaction of every change. It cannot simply wrap
// mvds's implementation: that one commits on its own connection, so what the
// Hook writes could not commit atomically with it.
//
// Two deliberate differences from mvds's implementation, both documented in
// docs/engine.md:
//   - Remove of a state that does not exist returns nil: mvds's onAck stops
//     processing the rest of a packet's acks at the first error, so a
//     duplicate ack would otherwise delay unrelated acknowledgements.
//   - Adding a MESSAGE state where an OFFER state exists turns the offer into
//     a message: in INTERACTIVE mode a peer's request must make mvds send the
//     offered message, but mvds's INSERT OR IGNORE drops it, so interactive
//     sync never completes on mvds's SQLite state.
type hookedState struct {
	db    *sql.DB
	eng   *engine
	hook  Hook
	limit uint64
	now   func() int64 // the current epoch

	// crossed collects the states whose send count went over the limit in
	// the current epoch's Map; Clear reports exactly those. scanned records
	// that the first Clear after start looked at every state, to catch those
	// that crossed before a crash.
	crossed []State
	scanned bool

	// failures are the payloads the transport refused during the current
	// epoch's sends, which run outside the engine lock; Clear reports them.
	failMu   sync.Mutex
	failures []sendFailure
}

type sendFailure struct {
	epoch  int64
	states []State
	err    error
}

var _ state.SyncState = (*hookedState)(nil)

// newSyncState returns the hooked sync state alone, on db's mvds tables,
// reporting epochs from epoch: knobs.SyncState, for benchmarks that compare
// it with mvds's own sync state. Outside a Node it gets none of the Node's
// serialisation; the caller must not use it from two goroutines at once.
func newSyncState(db *DB, h Hook, epoch func() int64) (*hookedState, error) {
	if db == nil || h == nil || epoch == nil {
		return nil, fmt.Errorf("new sync state: database, hook and epoch source are all required")
	}
	return &hookedState{db: db.sql, eng: &engine{db: db.sql}, hook: h, limit: MaxSendCount, now: epoch}, nil
}

const stateColumns = `type, send_count, send_epoch, group_id, peer_id, message_id`

func (h *hookedState) ctx() context.Context { return context.Background() }

// begin returns the operation's transaction when an Update is running, or a
// new one the caller must finish.
func (h *hookedState) begin() (tx *sql.Tx, own bool, err error) {
	if tx := h.eng.currentTx(); tx != nil {
		return tx, false, nil
	}
	tx, err = h.db.BeginTx(h.ctx(), nil)
	return tx, true, err
}

func (h *hookedState) finish(tx *sql.Tx, own bool, err error) error {
	if !own {
		return err // the operation ends the transaction
	}
	return h.end(tx, err)
}

// end commits tx when err is nil and rolls it back otherwise, then tells a
// TxObserver hook which it was.
func (h *hookedState) end(tx *sql.Tx, err error) error {
	if err == nil {
		if err = tx.Commit(); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	} else {
		_ = tx.Rollback()
	}
	if o, ok := h.hook.(TxObserver); ok {
		o.TxDone(err == nil)
	}
	return err
}

func (h *hookedState) Add(s State) (err error) {
	tx, own, err := h.begin()
	if err != nil {
		return h.eng.opFailed(fmt.Errorf("add state %s→%s: begin: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err))
	}
	defer func() {
		err = h.eng.opFailed(h.finish(tx, own, err))
	}()
	var group []byte
	if s.GroupID != nil {
		group = s.GroupID[:]
	}
	res, err := tx.ExecContext(h.ctx(), `INSERT OR IGNORE INTO mvds_states (`+stateColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Type, s.SendCount, s.SendEpoch, group, s.PeerID[:], s.MessageID[:])
	if err != nil {
		return fmt.Errorf("add state %s→%s: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return h.hook.Scheduled(tx, s, h.eng.origin())
	}
	if s.Type == state.MESSAGE {
		_, err = tx.ExecContext(h.ctx(), `UPDATE mvds_states SET type = ?, send_epoch = ?, group_id = coalesce(group_id, ?)
			WHERE message_id = ? AND peer_id = ? AND type = ?`,
			state.MESSAGE, s.SendEpoch, group, s.MessageID[:], s.PeerID[:], state.OFFER)
		if err != nil {
			return fmt.Errorf("upgrade offer %s→%s to message: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
		}
	}
	return nil
}

func (h *hookedState) Remove(id MessageID, peer PeerID) (err error) {
	tx, err := h.db.BeginTx(h.ctx(), nil)
	if err != nil {
		return fmt.Errorf("remove state %s→%s: begin: %w", ShortID(id[:]), ShortID(peer[:]), err)
	}
	defer func() { err = h.end(tx, err) }()
	states, err := scanStates(tx.QueryContext(h.ctx(), `SELECT `+stateColumns+` FROM mvds_states WHERE message_id = ? AND peer_id = ?`, id[:], peer[:]))
	if err != nil {
		return fmt.Errorf("remove state %s→%s: %w", ShortID(id[:]), ShortID(peer[:]), err)
	}
	if len(states) == 0 {
		if late, ok := h.hook.(LateAckObserver); ok {
			return late.AckedWithoutState(tx, h.now(), id, peer)
		}
		return nil
	}
	if _, err := tx.ExecContext(h.ctx(), `DELETE FROM mvds_states WHERE message_id = ? AND peer_id = ?`, id[:], peer[:]); err != nil {
		return fmt.Errorf("remove state %s→%s: %w", ShortID(id[:]), ShortID(peer[:]), err)
	}
	return h.hook.Acked(tx, h.now(), states[0])
}

func (h *hookedState) All(epoch int64) ([]State, error) {
	return scanStates(h.db.QueryContext(h.ctx(), `SELECT `+stateColumns+` FROM mvds_states WHERE send_epoch <= ? ORDER BY send_epoch`, epoch))
}

func (h *hookedState) Map(epoch int64, process func(State) State) (err error) {
	due, err := h.All(epoch)
	if err != nil {
		return fmt.Errorf("map epoch %d: %w", epoch, err)
	}
	if len(due) == 0 {
		return nil
	}
	updated := make([]State, 0, len(due))
	var attempted, crossed []State
	for _, s := range due {
		d := h.hook.Due(epoch, s)
		if d.Action == Skip {
			if d.NextEpoch > epoch {
				s.SendEpoch = d.NextEpoch
				updated = append(updated, s)
			}
			continue
		}
		next := process(s)
		if next == s {
			continue // mvds did not send it (peer left the group, message missing)
		}
		if d.NextEpoch > epoch {
			next.SendEpoch = d.NextEpoch
		}
		updated = append(updated, next)
		attempted = append(attempted, next)
		if s.SendCount <= h.limit && next.SendCount > h.limit {
			crossed = append(crossed, next)
		}
	}
	if len(updated) == 0 {
		return nil
	}
	tx, err := h.db.BeginTx(h.ctx(), nil)
	if err != nil {
		return fmt.Errorf("map epoch %d: begin: %w", epoch, err)
	}
	err = updateEpochs(h.ctx(), tx, updated)
	if err != nil {
		err = fmt.Errorf("map epoch %d: %w", epoch, err)
	} else if len(attempted) > 0 {
		err = h.hook.Attempted(tx, epoch, attempted)
	}
	if err = h.end(tx, err); err != nil {
		return err
	}
	h.crossed = append(h.crossed, crossed...)
	return nil
}

// MapWithPeerId is what mvds calls when a peer's status update says it is
// online. Like mvds, it looks at no more than state.BatchResetEpochMessages
// states of that peer.
func (h *hookedState) MapWithPeerId(peer PeerID, process func(State) State) (err error) {
	states, err := scanStates(h.db.QueryContext(h.ctx(), `SELECT `+stateColumns+` FROM mvds_states WHERE peer_id = ? LIMIT ?`,
		peer[:], state.BatchResetEpochMessages))
	if err != nil {
		return fmt.Errorf("reset epochs of peer %s: %w", ShortID(peer[:]), err)
	}
	var changed []State
	for _, s := range states {
		if next := process(s); next != s {
			changed = append(changed, next)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	tx, err := h.db.BeginTx(h.ctx(), nil)
	if err != nil {
		return fmt.Errorf("reset epochs of peer %s: begin: %w", ShortID(peer[:]), err)
	}
	defer func() { err = h.end(tx, err) }()
	if err := updateEpochs(h.ctx(), tx, changed); err != nil {
		return fmt.Errorf("reset epochs of peer %s: %w", ShortID(peer[:]), err)
	}
	return h.hook.Rescheduled(tx, h.now(), changed)
}

// Clear first tells the Hook which payloads the transport refused during
// this epoch's sends, then reports the states that went over the limit to
// the Hook, which alone decides whether they are deleted.
func (h *hookedState) Clear(limit uint64) error {
	return errors.Join(h.reportSendFailures(), h.clear(limit))
}

func (h *hookedState) clear(limit uint64) (err error) {
	candidates := h.crossed
	h.crossed = nil
	if !h.scanned {
		all, err := scanStates(h.db.QueryContext(h.ctx(), `SELECT `+stateColumns+` FROM mvds_states WHERE send_count > ?`, limit))
		if err != nil {
			return fmt.Errorf("clear: scan states over the limit: %w", err)
		}
		h.scanned = true
		candidates = all
	}
	if len(candidates) == 0 {
		return nil
	}
	tx, err := h.db.BeginTx(h.ctx(), nil)
	if err != nil {
		return fmt.Errorf("clear: begin: %w", err)
	}
	defer func() { err = h.end(tx, err) }()
	epoch := h.now()
	for _, s := range candidates {
		// An ack may have removed the state since Map counted the attempt.
		var exists bool
		if err := tx.QueryRowContext(h.ctx(), `SELECT EXISTS (SELECT 1 FROM mvds_states WHERE message_id = ? AND peer_id = ?)`,
			s.MessageID[:], s.PeerID[:]).Scan(&exists); err != nil {
			return fmt.Errorf("clear: %w", err)
		}
		if !exists || s.SendCount <= limit {
			continue
		}
		remove, err := h.hook.LimitReached(tx, epoch, s)
		if err != nil {
			return err
		}
		if remove {
			if _, err := tx.ExecContext(h.ctx(), `DELETE FROM mvds_states WHERE message_id = ? AND peer_id = ?`, s.MessageID[:], s.PeerID[:]); err != nil {
				return fmt.Errorf("clear: delete %s→%s: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
			}
		}
	}
	return nil
}

// reportSendErrors is the hooked node's answer to a payload its transport
// refused: the failure is kept for the Hook, which hears of it in the
// epoch's Clear, inside the engine lock.
func (h *hookedState) reportSendErrors(logger *zap.Logger) sendErrorStrategy {
	return func(peer PeerID, p *protobuf.Payload, err error) {
		logger.Debug("transport refused a payload", zap.String("to", ShortID(peer[:])), zap.Error(err))
		h.failMu.Lock()
		h.failures = append(h.failures, sendFailure{epoch: h.now(), states: payloadStates(peer, p), err: err})
		h.failMu.Unlock()
	}
}

func (h *hookedState) reportSendFailures() error {
	h.failMu.Lock()
	fs := h.failures
	h.failures = nil
	h.failMu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	tx, err := h.db.Begin()
	if err != nil {
		return fmt.Errorf("report send failures: begin: %w", err)
	}
	for _, f := range fs {
		if err = h.hook.SendFailed(tx, f.epoch, f.states, f.err); err != nil {
			break
		}
	}
	return h.end(tx, err)
}

func updateEpochs(ctx context.Context, tx *sql.Tx, states []State) error {
	stmt, err := tx.PrepareContext(ctx, `UPDATE mvds_states SET send_count = ?, send_epoch = ? WHERE message_id = ? AND peer_id = ?`)
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	defer stmt.Close()
	for _, s := range states {
		if _, err := stmt.ExecContext(ctx, s.SendCount, s.SendEpoch, s.MessageID[:], s.PeerID[:]); err != nil {
			return fmt.Errorf("update %s→%s: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
		}
	}
	return nil
}

func scanStates(rows *sql.Rows, err error) ([]State, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []State
	for rows.Next() {
		var (
			s                  State
			group, peer, msgID []byte
		)
		if err := rows.Scan(&s.Type, &s.SendCount, &s.SendEpoch, &group, &peer, &msgID); err != nil {
			return nil, err
		}
		if len(group) > 0 {
			var g GroupID
			copy(g[:], group)
			s.GroupID = &g
		}
		if len(peer) != len(s.PeerID) || len(msgID) != len(s.MessageID) {
			return nil, errors.New("mvds_states holds a malformed id")
		}
		copy(s.PeerID[:], peer)
		copy(s.MessageID[:], msgID)
		out = append(out, s)
	}
	return out, rows.Err()
}
