package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
func (n *Node) Update(ctx context.Context, fn func(op *Op) error) error {
	return n.eng.op(ctx, true, true, func(tx *sql.Tx) error {
		op := &Op{n: n, tx: tx}
		defer op.close()
		if err := fn(op); err != nil {
			return err
		}
		return op.report()
	})
}

func (op *Op) close() {
	if op.reschedule != nil {
		_ = op.reschedule.Close()
	}
}

// report tells the Hook what the operation moved or dropped, in the same
// transaction.
func (op *Op) report() error {
	h := op.n.eng.hooked
	if h == nil {
		return nil
	}
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

// AddPeer makes peer a member of group.
func (op *Op) AddPeer(group GroupID, peer PeerID) error {
	if peer == (PeerID{}) {
		return errors.New("add peer: zero peer id")
	}
	if peer == op.n.id {
		return fmt.Errorf("add peer %s: a node cannot be its own peer", ShortID(peer[:]))
	}
	ok, err := op.n.peers.Exists(group, peer)
	if err != nil {
		return fmt.Errorf("add peer %s to group %s: %w", ShortID(peer[:]), ShortID(group[:]), err)
	}
	if ok {
		return nil
	}
	if err := op.n.peers.Add(group, peer); err != nil {
		return fmt.Errorf("add peer %s to group %s: %w", ShortID(peer[:]), ShortID(group[:]), err)
	}
	return nil
}

// Append hands a message to mvds for every member of group; see Node.Append.
// It is not available with Stock(), whose sync state cannot join the
// operation's transaction.
func (op *Op) Append(group GroupID, body []byte) (MessageID, error) {
	if op.n.cfg.stock {
		return MessageID{}, errors.New("append inside Update is not available with Stock(); use Node.Append")
	}
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
