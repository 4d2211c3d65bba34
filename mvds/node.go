package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"time"

	"github.com/status-im/mvds/node"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"
	"go.uber.org/zap"
)

// Node is a running mvds node (github.com/status-im/mvds/node.Node) over the
// SQLite tables of a DB, with its sync state observed and steered by a Hook.
// Besides what every node does (see StockNode), it runs atomic operations
// (Update) and moves states between epochs (Reschedule).
//
// All methods are safe for concurrent use. Operations wait for the current
// epoch's work to finish; they never run in the middle of it.
type Node struct {
	*mvdsNode
	state *hookedState
}

// NewNode starts a node with identity id on db, exchanging packets through
// t. The node takes ownership of t: Close closes it if it implements
// io.Closer (which also stops the goroutine reading it).
//
// The epoch the node last reached on this database is restored, so a restart
// continues the retransmission schedule where it stopped (mvds's plain
// constructor starts from the epoch it is given).
func NewNode(db *DB, t transport.Transport, id PeerID, opts ...Option) (*Node, error) {
	cfg, err := configure(db, t, id, nil, opts) // every option applies
	if err != nil {
		return nil, fmt.Errorf("new mvds node: %w", err)
	}
	hook := cfg.hook
	if hook == nil {
		hook = NopHook{}
	}
	nextEpoch := cfg.nextEpoch
	if nextEpoch == nil {
		nextEpoch = StockNextEpoch(cfg.intn)
	}
	m, epoch, err := prepare(db, id, cfg)
	if err != nil {
		return nil, fmt.Errorf("new mvds node: %w", err)
	}
	hs := &hookedState{db: db.sql, eng: m.eng, hook: hook, limit: MaxSendCount, now: m.eng.epoch}
	m.run(t, cfg, epoch, wiring{
		name:        "hooked",
		mode:        cfg.mode,
		nextEpoch:   nextEpoch,
		state:       hs,
		finishTx:    hs.end,
		sendFailed:  hs.reportSendErrors(m.logger),
		skipMissing: true,
	})
	return &Node{mvdsNode: m, state: hs}, nil
}

// mvdsNode is what every configuration runs: mvds's node over the SQLite
// tables of a DB behind the engine lock, the link to the transport, the
// inbox, and the operations that mean the same whatever the configuration.
// Node and StockNode embed it and add what only they can do.
type mvdsNode struct {
	id       PeerID
	db       *DB
	epochLen time.Duration
	intn     func(int) int // status-go's jitter; nil is math/rand's
	node     *node.Node
	eng      *engine
	link     *link
	inbox    *inbox
	peers    *peerStore
	logger   *zap.Logger

	closeOnce sync.Once
	closeErr  error
}

// wiring is what the configurations choose differently, once, when a node
// is built.
type wiring struct {
	name        string // for the log
	mode        Mode
	nextEpoch   node.CalculateNextEpoch
	state       state.SyncState // what mvds's sync-state calls reach behind the engine lock
	finishTx    txFinisher
	sendFailed  sendErrorStrategy
	skipMissing bool // see messageStore
}

// configure checks the constructor's arguments and applies opts, refusing
// those accepts does not list.
func configure(db *DB, t transport.Transport, id PeerID, accepts *optionSet, opts []Option) (config, error) {
	if db == nil {
		return config{}, errors.New("nil database")
	}
	if isNil(t) {
		return config{}, errors.New("nil transport")
	}
	if id == (PeerID{}) {
		return config{}, errors.New("identity is the zero peer id")
	}
	cfg := newConfig(accepts)
	if err := cfg.apply(opts); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// prepare claims db for id and builds the engine; it returns the epoch the
// node last reached on db.
func prepare(db *DB, id PeerID, cfg config) (*mvdsNode, int64, error) {
	logger := cfg.logger.Named("mvds").With(zap.String("node", ShortID(id[:])))
	if err := claimIdentity(db, id); err != nil {
		return nil, 0, err
	}
	epoch, err := storedEpoch(db, id)
	if err != nil {
		return nil, 0, err
	}
	eng, err := newEngine(db.sql, id, logger)
	if err != nil {
		return nil, 0, err
	}
	eng.dbName = db.name
	m := &mvdsNode{
		id:       id,
		db:       db,
		epochLen: cfg.epoch,
		intn:     cfg.intn,
		eng:      eng,
		peers:    &peerStore{db: db.sql, eng: eng},
		logger:   logger,
	}
	return m, epoch, nil
}

// run builds mvds's node as w says and starts it at epoch.
func (n *mvdsNode) run(t transport.Transport, cfg config, epoch int64, w wiring) {
	n.eng.inner, n.eng.finishTx = w.state, w.finishTx
	n.link = newLink(t, n.eng, w.sendFailed, n.logger)
	ms := &messageStore{db: n.db.sql, eng: n.eng, skipMissing: w.skipMissing, inbox: cfg.handler != nil}
	n.node = node.NewNode(ms, n.link, n.eng, w.nextEpoch, epoch, n.id, w.mode, n.peers, filterSentinel(n.logger))
	n.eng.node = n.node
	if cfg.handler != nil {
		n.inbox = startInbox(n.db.sql, cfg.handler, n.logger)
		n.eng.onReceived = n.inbox.notify
		n.inbox.notify() // hand over what a previous run left unhandled
	}
	go n.eng.releaser()
	n.link.start()
	n.node.Start(cfg.epoch)
	n.logger.Debug("node started", zap.String("configuration", w.name), zap.Int64("epoch", epoch), zap.Int("mode", int(w.mode)))
}

func isNil(t transport.Transport) bool {
	if t == nil {
		return true
	}
	v := reflect.ValueOf(t)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

func claimIdentity(db *DB, id PeerID) error {
	ctx := context.Background()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("database %s: begin: %w", db.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var owner []byte
	err = tx.QueryRowContext(ctx, `SELECT peer_id FROM mvdsguard_node WHERE singleton = 1`).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO mvdsguard_node (singleton, peer_id) VALUES (1, ?)`, id[:]); err != nil {
			return fmt.Errorf("database %s: record identity: %w", db.name, err)
		}
	case err != nil:
		return fmt.Errorf("database %s: read identity: %w", db.name, err)
	case string(owner) != string(id[:]):
		return fmt.Errorf("database %s belongs to node %s, not %s: one database serves one identity",
			db.name, ShortID(owner), ShortID(id[:]))
	}
	return tx.Commit()
}

func storedEpoch(db *DB, id PeerID) (int64, error) {
	var epoch int64
	err := db.sql.QueryRow(`SELECT epoch FROM mvds_epoch WHERE peer_id = ?`, id[:]).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("database %s: read epoch: %w", db.name, err)
	}
	return epoch, nil
}

// ID returns the node's identity.
func (n *mvdsNode) ID() PeerID { return n.id }

// DB returns the database the node runs on.
func (n *mvdsNode) DB() *DB { return n.db }

// CurrentEpoch returns the epoch mvds is in.
func (n *mvdsNode) CurrentEpoch() int64 { return n.node.CurrentEpoch() }

// EpochDuration returns how long mvds sleeps between epochs.
func (n *mvdsNode) EpochDuration() time.Duration { return n.epochLen }

// Stats returns what crossed the node's transport so far.
func (n *mvdsNode) Stats() Stats { return n.link.stats.snapshot() }

// AddPeer makes peer a member of group: messages appended to the group are
// sent to it. Adding an existing member changes nothing. The node's own id
// is a valid peer: status-go's paired devices share one identity, and it
// sends to them through mvds as to its own id (any of them acknowledges).
func (n *mvdsNode) AddPeer(ctx context.Context, group GroupID, peer PeerID) error {
	return n.eng.op(ctx, true, true, func(*sql.Tx) error { return n.addPeer(group, peer) })
}

// addPeer is AddPeer inside an operation.
func (n *mvdsNode) addPeer(group GroupID, peer PeerID) error {
	if peer == (PeerID{}) {
		return errors.New("add peer: zero peer id")
	}
	ok, err := n.peers.Exists(group, peer)
	if err != nil {
		return fmt.Errorf("add peer %s to group %s: %w", ShortID(peer[:]), ShortID(group[:]), err)
	}
	if ok {
		return nil
	}
	if err := n.peers.Add(group, peer); err != nil {
		return fmt.Errorf("add peer %s to group %s: %w", ShortID(peer[:]), ShortID(group[:]), err)
	}
	return nil
}

// Append hands a message to mvds for every member of group and returns the
// id mvds gives it. The message, its states and what the Hook writes on
// Scheduled commit together or not at all.
func (n *Node) Append(ctx context.Context, group GroupID, body []byte) (MessageID, error) {
	var id MessageID
	err := n.Update(ctx, func(op *Op) error {
		var err error
		id, err = op.Append(group, body)
		return err
	})
	return id, err
}

func (n *mvdsNode) requirePeers(group GroupID) error {
	peers, err := n.peers.GetByGroupID(group)
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	if len(peers) == 0 {
		return fmt.Errorf("group has no members: call AddPeer first (mvds would store the message and send it to nobody)")
	}
	return nil
}

// States returns the sync states sel selects, ordered by next epoch.
func (n *mvdsNode) States(ctx context.Context, sel Selection) ([]State, error) {
	q, args := sel.query()
	states, err := scanStates(n.db.sql.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return states, nil
}

// Reschedule moves every state sel selects to the epoch plan returns for it,
// in one transaction, and tells the Hook. An epoch not after the current one
// makes the state due at the next epoch. It returns how many states moved.
func (n *Node) Reschedule(ctx context.Context, sel Selection, plan func(State) int64) (int, error) {
	if plan == nil {
		return 0, errors.New("reschedule: nil plan")
	}
	moved := 0
	err := n.Update(ctx, func(op *Op) error {
		states, err := op.States(sel)
		if err != nil {
			return err
		}
		var moves []Move
		for _, s := range states {
			if e := plan(s); e != s.SendEpoch {
				moves = append(moves, Move{State: s, Epoch: e})
			}
		}
		moved, err = op.RescheduleMany(moves)
		return err
	})
	if err != nil {
		return 0, err
	}
	return moved, nil
}

// NotifyPeerOnline does what mvds does when a peer's status update arrives
// (status-go sends one when a contact's "online" status message is received):
// up to 100 of that peer's states are made due within the next 60 epochs.
func (n *mvdsNode) NotifyPeerOnline(ctx context.Context, peer PeerID) error {
	intn := n.intn
	if intn == nil {
		intn = rand.Intn
	}
	return n.eng.op(ctx, false, false, func(*sql.Tx) error {
		epoch := n.node.CurrentEpoch()
		err := n.eng.inner.MapWithPeerId(peer, func(s State) State {
			s.SendEpoch = epoch + int64(intn(60))
			return s
		})
		if err != nil {
			return fmt.Errorf("reset epochs of peer %s: %w", ShortID(peer[:]), err)
		}
		return nil
	})
}

// Close stops the node: no packet is processed and no epoch runs after it
// returns (mvds's epoch goroutine may still wake once, and then does
// nothing). It closes the transport if it can, stops handing received
// messages over, and leaves the database open for its owner to close.
func (n *mvdsNode) Close() error {
	n.closeOnce.Do(func() {
		n.eng.close()
		err := n.link.stop()
		if n.inbox != nil {
			n.inbox.stop()
		}
		if err != nil {
			n.closeErr = fmt.Errorf("close mvds node %s: transport: %w", ShortID(n.id[:]), err)
		}
		n.logger.Debug("node closed", zap.Int64("epoch", n.node.CurrentEpoch()))
	})
	return n.closeErr
}
