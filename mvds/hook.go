package mvds

import "database/sql"

// Origin says why a state was scheduled.
type Origin uint8

const (
	// Local: the application appended the message on this node.
	Local Origin = iota + 1
	// Remote: mvds scheduled it in reaction to a peer (an offer to forward a
	// received group message, a request for an offered message, a message
	// sent on request).
	Remote
)

func (o Origin) String() string {
	switch o {
	case Local:
		return "local"
	case Remote:
		return "remote"
	}
	return "unknown"
}

// Action is what the Hook wants done with a due state.
type Action uint8

const (
	// Send lets mvds transmit the state this epoch and count the attempt.
	Send Action = iota
	// Skip leaves the state untransmitted, without counting an attempt.
	Skip
)

// Decision is the Hook's answer for one due state.
type Decision struct {
	Action Action
	// NextEpoch, when greater than the current epoch, sets the epoch the
	// state is next due: after a Send it replaces mvds's backoff curve; after
	// a Skip it parks the state until then. Zero keeps mvds's curve (Send) or
	// leaves the state due at the next epoch (Skip).
	NextEpoch int64
}

// Hook observes and steers the sync state of one node. Every method is called
// on the engine's serialised path — never two at a time — and each *sql.Tx
// is the transaction that makes the state change itself, so what the Hook
// writes commits or rolls back with it. A Hook must not call the Node (it
// would deadlock) and should be quick: it runs inside mvds's epoch.
//
// Returning an error rolls the change back; mvds logs it and retries at a
// later epoch. Embed NopHook to implement only the methods you need.
type Hook interface {
	// Scheduled: a new (message, peer) state was added.
	Scheduled(tx *sql.Tx, s State, origin Origin) error
	// Due decides, for each state due at epoch, whether mvds sends it now.
	Due(epoch int64, s State) Decision
	// Attempted: mvds put these states in this epoch's payloads; their new
	// send count and next epoch are being recorded in tx.
	Attempted(tx *sql.Tx, epoch int64, states []State) error
	// Acked: the peer has the message (it acknowledged it, or sent it to us),
	// and the state is being deleted in tx.
	Acked(tx *sql.Tx, epoch int64, s State) error
	// LimitReached: s has been sent more than MaxSendCount times. Return true
	// to delete it (in tx), false to keep it retrying; nothing is deleted
	// unless the Hook says so. After a restart a kept state may be reported
	// again.
	LimitReached(tx *sql.Tx, epoch int64, s State) (remove bool, err error)
	// SendFailed: the transport returned err for the payload carrying these
	// states to their peer at epoch (the attempts were already counted).
	SendFailed(tx *sql.Tx, epoch int64, states []State, err error) error
	// Rescheduled: these states were moved to new epochs by Node.Reschedule
	// or Op.Reschedule (their SendEpoch holds the new value).
	Rescheduled(tx *sql.Tx, epoch int64, states []State) error
	// Dropped: these states were deleted by Op.Drop.
	Dropped(tx *sql.Tx, epoch int64, states []State) error
}

// TxObserver is implemented by a Hook that keeps state in memory alongside
// what it writes: TxDone is called once each transaction the Hook was given
// has ended, with whether it committed, so the Hook can publish or discard
// what it prepared. It is called on the same serialised path as the Hook.
type TxObserver interface {
	TxDone(committed bool)
}

// LateAckObserver is implemented by a Hook that wants to hear that a peer
// has a message whose state this node no longer holds: the Hook dropped it
// (the message failed, and an earlier copy reached the peer after all), or
// an earlier acknowledgement removed it (a duplicate). It runs in the
// transaction that processes the acknowledgement, on the same serialised
// path as the Hook.
type LateAckObserver interface {
	AckedWithoutState(tx *sql.Tx, epoch int64, id MessageID, peer PeerID) error
}

// NopHook implements Hook by observing nothing and letting mvds send every
// due state on its own curve. LimitReached keeps the state: a hook that
// wants mvds's stock behaviour must say so explicitly.
type NopHook struct{}

var _ Hook = NopHook{}

func (NopHook) Scheduled(*sql.Tx, State, Origin) error  { return nil }
func (NopHook) Due(int64, State) Decision               { return Decision{Action: Send} }
func (NopHook) Attempted(*sql.Tx, int64, []State) error { return nil }
func (NopHook) Acked(*sql.Tx, int64, State) error       { return nil }
func (NopHook) LimitReached(*sql.Tx, int64, State) (bool, error) {
	return false, nil
}
func (NopHook) SendFailed(*sql.Tx, int64, []State, error) error { return nil }
func (NopHook) Rescheduled(*sql.Tx, int64, []State) error       { return nil }
func (NopHook) Dropped(*sql.Tx, int64, []State) error           { return nil }
