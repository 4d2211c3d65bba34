package retry

import (
	"database/sql"

	"github.com/mvdsguard/mvdsguard/mvds"
)

// engineHook is the Guard's side of its mvds node: the node calls it on the
// engine's serialised path, inside the transaction that makes each state
// change, and it turns each call into the Guard's decision or the ledger's
// record. Applications never see it.
type engineHook struct{ g *Guard }

var (
	_ mvds.Hook            = engineHook{}
	_ mvds.TxObserver      = engineHook{}
	_ mvds.LateAckObserver = engineHook{}
)

// Scheduled: the Guard records its messages itself, in the same transaction
// as the append; nothing to do.
func (engineHook) Scheduled(*sql.Tx, mvds.State, mvds.Origin) error { return nil }

// Due skips everything while offline, without counting an attempt, and
// otherwise sets the next attempt from the message's policy. A tracked state
// whose round used its attempts waits (unsent) for the sweeper to fail it
// once the last attempt had time to be acknowledged.
func (h engineHook) Due(epoch int64, s mvds.State) mvds.Decision {
	g := h.g
	if !g.online.Load() {
		return mvds.Decision{Action: mvds.Skip, NextEpoch: epoch + g.epochs(offlinePark)}
	}
	e := g.ledger.lookup(s.MessageID)
	if e == nil {
		return mvds.Decision{Action: mvds.Send} // mvds's own traffic: its own curve
	}
	pol := e.policy
	if pol.MaxAttempts > 0 && int(s.SendCount) >= pol.MaxAttempts {
		return mvds.Decision{Action: mvds.Skip, NextEpoch: epoch + g.parkEpochs(pol)}
	}
	delay := pol.Delay(int(s.SendCount)+1, g.rnd)
	return mvds.Decision{Action: mvds.Send, NextEpoch: epoch + g.epochs(delay)}
}

// Attempted records this epoch's attempts of tracked messages.
func (h engineHook) Attempted(tx *sql.Tx, _ int64, states []mvds.State) error {
	return h.g.ledger.attempted(tx, states, h.g.now())
}

// Acked marks the recipient delivered and settles the message when it was
// the last one.
func (h engineHook) Acked(tx *sql.Tx, _ int64, s mvds.State) error {
	return h.g.ledger.acked(tx, s, h.g.now())
}

// AckedWithoutState: a copy sent before the message failed reached the
// peer after all. The recipient is delivered, and so is the message once no
// recipient is failed any more: the GUI's "failed" gives way to "delivered".
func (h engineHook) AckedWithoutState(tx *sql.Tx, _ int64, id mvds.MessageID, peer mvds.PeerID) error {
	return h.g.ledger.lateAck(tx, id, peer, h.g.now())
}

// LimitReached keeps tracked states (their policy decides when they fail)
// and lets mvds's own protocol states go, as mvds would.
func (h engineHook) LimitReached(_ *sql.Tx, _ int64, s mvds.State) (bool, error) {
	return h.g.ledger.lookup(s.MessageID) == nil, nil
}

// SendFailed keeps the transport's error as the message's last error.
func (h engineHook) SendFailed(tx *sql.Tx, _ int64, states []mvds.State, err error) error {
	return h.g.ledger.sendFailed(tx, states, err)
}

// Rescheduled and Dropped: the Guard writes its own events for the moves and
// drops it makes; nothing else moves its states.
func (engineHook) Rescheduled(*sql.Tx, int64, []mvds.State) error { return nil }
func (engineHook) Dropped(*sql.Tx, int64, []mvds.State) error     { return nil }

// TxDone applies and publishes what the transaction prepared, or forgets it.
func (h engineHook) TxDone(committed bool) { h.g.ledger.txDone(committed) }
