package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Selection picks sync states. The zero Selection picks every state.
type Selection struct {
	Peer    *PeerID    // only this peer's states
	Message *MessageID // only this message's states
}

// PeerStates selects one peer's states.
func PeerStates(p PeerID) Selection { return Selection{Peer: &p} }

// MessageStates selects one message's states (one per recipient).
func MessageStates(id MessageID) Selection { return Selection{Message: &id} }

func (s Selection) query() (string, []any) {
	var where []string
	var args []any
	if s.Peer != nil {
		where = append(where, "peer_id = ?")
		args = append(args, s.Peer[:])
	}
	if s.Message != nil {
		where = append(where, "message_id = ?")
		args = append(args, s.Message[:])
	}
	q := `SELECT ` + stateColumns + ` FROM mvds_states`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY send_epoch, rowid`, args
}

// Op is one atomic operation on the node, run by Update: everything done
// through it, and everything written through Tx, commits together or not at
// all, and no epoch runs in the middle of it.
type Op struct {
	n           *Node
	tx          *sql.Tx
	reschedule  *sql.Stmt
	rescheduled []State
	dropped     []State
}

// Update runs fn as one atomic operation. If fn returns an error, nothing it
// did is kept. fn must not call other methods of the Node (it would wait for
// itself).
//
// A database shared with other writers can refuse the operation: the error
// then wraps ErrBusy (another connection held the write lock past the busy
// timeout) or ErrFull (the disk is full), and nothing of it was kept.
func (n *Node) Update(ctx context.Context, fn func(op *Op) error) error {
	err := n.eng.op(ctx, true, true, func(tx *sql.Tx) error {
		op := &Op{n: n, tx: tx}
		defer op.close()
		if err := fn(op); err != nil {
			return err
		}
		return op.report()
	})
	return classified(n.db.name, err)
}

func (op *Op) close() {
	if op.reschedule != nil {
		_ = op.reschedule.Close()
	}
}

// report tells the Hook what the operation moved or dropped, in the same
// transaction.
func (op *Op) report() error {
	h := op.n.state
	epoch := op.Epoch()
	if len(op.rescheduled) > 0 {
		if err := h.hook.Rescheduled(op.tx, epoch, op.rescheduled); err != nil {
			return err
		}
	}
	if len(op.dropped) > 0 {
		if err := h.hook.Dropped(op.tx, epoch, op.dropped); err != nil {
			return err
		}
	}
	return nil
}

// Tx is the operation's transaction, for the caller's own tables.
func (op *Op) Tx() *sql.Tx { return op.tx }

// Epoch is the current epoch; it cannot change during the operation.
func (op *Op) Epoch() int64 { return op.n.node.CurrentEpoch() }

// AddPeer makes peer a member of group. The node's own id is a valid peer:
// status-go's paired devices share one identity, and it sends to them
// through mvds as to its own id (any of them acknowledges).
func (op *Op) AddPeer(group GroupID, peer PeerID) error {
	return op.n.addPeer(group, peer)
}

// Append hands a message to mvds for every member of group; see Node.Append.
func (op *Op) Append(group GroupID, body []byte) (MessageID, error) {
	if err := op.n.requirePeers(group); err != nil {
		return MessageID{}, fmt.Errorf("append to group %s: %w", ShortID(group[:]), err)
	}
	eng := op.n.eng
	eng.opErr = nil
	id, err := op.n.node.AppendMessage(group, body)
	if err == nil {
		// mvds logs and ignores a failure to add a state; it must not be
		// committed as a message that is never sent.
		err = eng.opErr
	}
	if err != nil {
		return MessageID{}, fmt.Errorf("append to group %s: %w", ShortID(group[:]), err)
	}
	return id, nil
}

// States returns the states sel selects, as this operation sees them.
func (op *Op) States(sel Selection) ([]State, error) {
	q, args := sel.query()
	states, err := scanStates(op.tx.QueryContext(context.Background(), q, args...))
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return states, nil
}

// Reschedule makes s due at epoch (the send count is unchanged).
func (op *Op) Reschedule(s State, epoch int64) error {
	if op.reschedule == nil {
		stmt, err := op.tx.Prepare(`UPDATE mvds_states SET send_epoch = ? WHERE message_id = ? AND peer_id = ?`)
		if err != nil {
			return fmt.Errorf("reschedule: prepare: %w", err)
		}
		op.reschedule = stmt
	}
	res, err := op.reschedule.Exec(epoch, s.MessageID[:], s.PeerID[:])
	if err != nil {
		return fmt.Errorf("reschedule %s→%s: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		s.SendEpoch = epoch
		op.rescheduled = append(op.rescheduled, s)
	}
	return nil
}

// Move is one state and the epoch it should be due at.
type Move struct {
	State State
	Epoch int64
}

// RescheduleMany applies many moves in this operation's transaction and tells
// the Hook once. It returns how many states moved.
func (op *Op) RescheduleMany(moves []Move) (int, error) {
	moved := 0
	for _, m := range moves {
		before := len(op.rescheduled)
		if err := op.Reschedule(m.State, m.Epoch); err != nil {
			return moved, err
		}
		if len(op.rescheduled) > before {
			moved++
		}
	}
	return moved, nil
}

// Spread moves every state to now + offset(i), where i is its position when
// the states are ordered by priority (lower first), then by their current
// epoch, then by age: what a reconnect needs, with offset applying a burst
// limit. It reads and writes only what it must (by rowid, without group ids)
// so that 100,000 states move in well under a second. It returns how many
// states moved.
func (op *Op) Spread(priority func(MessageID, PeerID) int, offset func(i int) int64) (int, error) {
	type slot struct {
		rowid, epoch int64
		prio         int
		s            State
	}
	rows, err := op.tx.Query(`SELECT rowid, send_epoch, type, send_count, peer_id, message_id FROM mvds_states`)
	if err != nil {
		return 0, fmt.Errorf("spread: read states: %w", err)
	}
	var slots []slot
	for rows.Next() {
		var sl slot
		var peer, msg []byte
		if err := rows.Scan(&sl.rowid, &sl.epoch, &sl.s.Type, &sl.s.SendCount, &peer, &msg); err != nil {
			rows.Close()
			return 0, fmt.Errorf("spread: read states: %w", err)
		}
		copy(sl.s.PeerID[:], peer)
		copy(sl.s.MessageID[:], msg)
		sl.s.SendEpoch = sl.epoch
		sl.prio = priority(sl.s.MessageID, sl.s.PeerID)
		slots = append(slots, sl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("spread: read states: %w", err)
	}
	sort.Slice(slots, func(i, j int) bool {
		a, b := slots[i], slots[j]
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		if a.epoch != b.epoch {
			return a.epoch < b.epoch
		}
		return a.rowid < b.rowid
	})
	stmt, err := op.tx.Prepare(`UPDATE mvds_states SET send_epoch = ? WHERE rowid = ?`)
	if err != nil {
		return 0, fmt.Errorf("spread: prepare: %w", err)
	}
	defer stmt.Close()
	now := op.Epoch()
	moved := 0
	for i, sl := range slots {
		e := now + offset(i)
		if e == sl.epoch {
			continue
		}
		if _, err := stmt.Exec(e, sl.rowid); err != nil {
			return moved, fmt.Errorf("spread: move %s→%s: %w", ShortID(sl.s.MessageID[:]), ShortID(sl.s.PeerID[:]), err)
		}
		moved++
		sl.s.SendEpoch = e
		op.rescheduled = append(op.rescheduled, sl.s)
	}
	return moved, nil
}

// Drop deletes s: mvds stops sending it. The Hook is told through Dropped.
func (op *Op) Drop(s State) error {
	res, err := op.tx.Exec(`DELETE FROM mvds_states WHERE message_id = ? AND peer_id = ?`, s.MessageID[:], s.PeerID[:])
	if err != nil {
		return fmt.Errorf("drop %s→%s: %w", ShortID(s.MessageID[:]), ShortID(s.PeerID[:]), err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		op.dropped = append(op.dropped, s)
	}
	return nil
}

// Members returns the peers of group.
func (op *Op) Members(group GroupID) ([]PeerID, error) {
	peers, err := op.n.peers.GetByGroupID(group)
	if err != nil {
		return nil, fmt.Errorf("members of group %s: %w", ShortID(group[:]), err)
	}
	return peers, nil
}

// Resend schedules an already stored message for peer again, due at epoch,
// with a fresh send count: what a user's "retry" needs once a message's
// state was dropped. It reports false when a state for (id, peer) exists
// already (nothing changes then). The Hook sees it as a Local Scheduled.
func (op *Op) Resend(id MessageID, peer PeerID, epoch int64) (bool, error) {
	var group []byte
	err := op.tx.QueryRow(`SELECT group_id FROM mvds_messages WHERE id = ?`, id[:]).Scan(&group)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("resend %s: no such message", ShortID(id[:]))
	}
	if err != nil {
		return false, fmt.Errorf("resend %s: %w", ShortID(id[:]), err)
	}
	var exists bool
	if err := op.tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM mvds_states WHERE message_id = ? AND peer_id = ?)`, id[:], peer[:]).Scan(&exists); err != nil {
		return false, fmt.Errorf("resend %s: %w", ShortID(id[:]), err)
	}
	if exists {
		return false, nil
	}
	var g GroupID
	copy(g[:], group)
	eng := op.n.eng
	eng.opErr = nil
	if err := op.n.state.Add(State{Type: Message, SendEpoch: epoch, GroupID: &g, PeerID: peer, MessageID: id}); err != nil {
		return false, fmt.Errorf("resend %s to %s: %w", ShortID(id[:]), ShortID(peer[:]), err)
	}
	return true, nil
}

// Group returns the group an appended or received message belongs to, and
// whether the node has the message at all.
func (op *Op) Group(id MessageID) (GroupID, bool, error) {
	var b []byte
	err := op.tx.QueryRow(`SELECT group_id FROM mvds_messages WHERE id = ?`, id[:]).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return GroupID{}, false, nil
	}
	if err != nil {
		return GroupID{}, false, fmt.Errorf("group of message %s: %w", ShortID(id[:]), err)
	}
	var g GroupID
	copy(g[:], b)
	return g, true, nil
}
