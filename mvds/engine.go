package mvds

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/status-im/mvds/node"
	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"go.uber.org/zap"
)

// closeWait bounds how long Close waits for the current epoch's sends.
const closeWait = 5 * time.Second

// ErrClosed is returned by operations on a closed Node.
var ErrClosed = errors.New("mvds node is closed")

// errSentinel marks the end of a packet (see engine.Remove). It never leaves
// the engine: mvds logs it, and the log filter drops that line.
var errSentinel = errors.New("mvdsguard: end of packet")

// engine serialises every piece of work that touches mvds's node internals
// and sits between mvds and the real sync state.
//
// The lock protocol: mvds's epoch goroutine (E) increments the node's epoch
// atomically right after SyncState.Clear returns, while appends and packet
// processing read it without synchronisation. So:
//   - E takes the lock in Map and gives it back when Map returns;
//   - E takes the lock again in Clear and does NOT give it back: the
//     releaser goroutine returns it once it has observed the new epoch,
//     which orders the write before whoever takes the lock next;
//   - operations (appends, reschedules, ...) take the lock for their whole
//     duration;
//   - an incoming packet takes the lock before mvds sees it (in Watch) and
//     gives it back from inside mvds's processing, when mvds reaches a
//     sentinel message appended as the packet's last message.
//
// The lock is a one-slot channel so that it can be waited for with a context
// and released by another goroutine.
type engine struct {
	sem     chan struct{}
	release chan int64
	db      *sql.DB
	dbName  string // for errors
	id      PeerID
	node    *node.Node
	logger  *zap.Logger

	// Chosen by the node's constructor: the sync state mvds's calls reach
	// once they hold the lock, and how an operation's transaction ends
	// (committed or rolled back, and for a hooked node the Hook told).
	inner    state.SyncState
	finishTx txFinisher

	sentinel   *protobuf.Message
	sentinelID MessageID

	// Guarded by the lock.
	closed       bool
	inEpoch      bool // between Map and Clear: the epoch's payloads are being sent
	mapEpoch     int64
	tx           *sql.Tx
	inOp         bool
	local        bool
	opErr        error
	received     bool   // the current packet added inbox rows
	packetSender PeerID // sender of the packet being processed

	onReceived func() // wakes the inbox; set before start
}

// txFinisher ends a transaction: it commits when err is nil and rolls back
// otherwise, and returns the error the operation ends with.
type txFinisher func(tx *sql.Tx, err error) error

// commitOrRollback is the plain txFinisher: nobody else needs to know how a
// transaction ended.
func commitOrRollback(tx *sql.Tx, err error) error {
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func newEngine(db *sql.DB, id PeerID, logger *zap.Logger) (*engine, error) {
	e := &engine{
		sem:     make(chan struct{}, 1),
		release: make(chan int64, 1),
		db:      db,
		id:      id,
		logger:  logger,
	}
	// A random sentinel per node: a peer cannot guess it, and wire.Validate
	// plus the reader drop any packet that carries it.
	group := make([]byte, 32)
	body := make([]byte, 32)
	if _, err := rand.Read(group); err != nil {
		return nil, fmt.Errorf("sentinel: %w", err)
	}
	if _, err := rand.Read(body); err != nil {
		return nil, fmt.Errorf("sentinel: %w", err)
	}
	e.sentinel = &protobuf.Message{GroupId: group, Body: body}
	e.sentinelID = e.sentinel.ID()
	return e, nil
}

func (e *engine) lock() { e.sem <- struct{}{} }

func (e *engine) lockCtx(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *engine) unlock() { <-e.sem }

func (e *engine) releaser() {
	for k := range e.release {
		for spins := 0; e.node.CurrentEpoch() <= k; spins++ {
			if spins < 64 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
		e.unlock()
	}
}

func (e *engine) epoch() int64 { return e.node.CurrentEpoch() }

// Held-lock accessors used by the stores and the hooked state.

func (e *engine) currentTx() *sql.Tx { return e.tx }

func (e *engine) origin() Origin {
	if e.local {
		return Local
	}
	return Remote
}

// opFailed remembers the first error raised during an operation: mvds
// swallows errors of SyncState.Add, so Op.Append must learn of them here.
func (e *engine) opFailed(err error) error {
	if err != nil && e.inOp && e.opErr == nil {
		e.opErr = err
	}
	return err
}

// op runs fn holding the lock, inside a transaction when withTx is set.
func (e *engine) op(ctx context.Context, withTx, local bool, fn func(tx *sql.Tx) error) (err error) {
	if err := e.lockCtx(ctx); err != nil {
		return err
	}
	defer e.unlock()
	if e.closed {
		return ErrClosed
	}
	e.inOp, e.local, e.opErr = true, local, nil
	defer func() { e.inOp, e.local, e.tx, e.opErr = false, false, nil, nil }()
	if !withTx {
		return fn(nil)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	e.tx = tx
	return e.finishTx(tx, fn(tx))
}

// close marks the engine closed and stops mvds while holding the lock, so
// that no packet is inside mvds when Stop touches its subscription field.
//
// A Map that counted attempts is followed by the sends of its payloads,
// outside the lock; close waits for them (up to closeWait) so that every
// attempt counted also went out.
func (e *engine) close() {
	deadline := time.Now().Add(closeWait)
	e.lock()
	for e.inEpoch && !e.closed && time.Now().Before(deadline) {
		e.unlock()
		time.Sleep(100 * time.Microsecond)
		e.lock()
	}
	defer e.unlock()
	if e.closed {
		return
	}
	e.closed = true
	e.node.Stop()
	close(e.release)
}

// The state.SyncState that mvds sees.

var _ state.SyncState = (*engine)(nil)

// Errors go back to mvds, which logs them and tries again at a later epoch;
// classified names the database and says when it was busy or full.

func (e *engine) Add(s State) error { return classified(e.dbName, e.inner.Add(s)) }

// Remove is mvds's first call for each message of a packet, so the sentinel
// (always the last message) arrives here once everything else in the packet
// has been processed. The lock taken in Watch is returned now.
func (e *engine) Remove(id MessageID, peer PeerID) error {
	if id == e.sentinelID {
		e.endPacket()
		return errSentinel
	}
	return classified(e.dbName, e.inner.Remove(id, peer))
}

func (e *engine) All(epoch int64) ([]State, error) { return e.inner.All(epoch) }

func (e *engine) Map(epoch int64, process func(State) State) error {
	e.lock()
	defer e.unlock()
	if e.closed {
		return nil
	}
	e.mapEpoch = epoch
	e.inEpoch = true
	return classified(e.dbName, e.inner.Map(epoch, process))
}

func (e *engine) MapWithPeerId(peer PeerID, process func(State) State) error {
	e.lock()
	defer e.unlock()
	if e.closed {
		return nil
	}
	return classified(e.dbName, e.inner.MapWithPeerId(peer, process))
}

func (e *engine) Clear(count uint64) error {
	e.lock()
	if e.closed {
		e.unlock()
		return nil
	}
	k := e.mapEpoch
	e.inEpoch = false
	err := classified(e.dbName, errors.Join(e.inner.Clear(count), e.persistEpoch(k+1)))
	// The lock stays held until the releaser sees mvds increment the epoch.
	e.release <- k
	return err
}

func (e *engine) persistEpoch(next int64) error {
	if _, err := e.db.Exec(`INSERT OR REPLACE INTO mvds_epoch (peer_id, epoch) VALUES (?, ?)`, e.id[:], next); err != nil {
		return fmt.Errorf("persist epoch %d: %w", next, err)
	}
	return nil
}

// Packets.

func (e *engine) beginPacket(sender PeerID) {
	e.received = false
	e.packetSender = sender
}

func (e *engine) endPacket() {
	woke := e.received
	e.received = false
	e.packetSender = PeerID{}
	e.unlock()
	if woke && e.onReceived != nil {
		e.onReceived()
	}
}
