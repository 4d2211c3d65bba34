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
// SQLite tables of a DB, with its sync state observed and steered by a Hook
// (or, with Stock(), exactly as status-go runs it).
//
// All methods are safe for concurrent use. Operations wait for the current
// epoch's work to finish; they never run in the middle of it.
type Node struct {
	id     PeerID
	db     *DB
	cfg    config
	node   *node.Node
	eng    *engine
	link   *link
	inbox  *inbox
	peers  *peerStore
	logger *zap.Logger

	closeOnce sync.Once
	closeErr  error
}

// NewNode starts a node with identity id on db, exchanging packets through
// t. The node takes ownership of t: Close closes it if it implements
// io.Closer (which also stops the goroutine reading it).
//
// The epoch the node last reached on this database is restored, so a restart
// continues the retransmission schedule where it stopped (mvds's plain
// constructor starts from the epoch it is given).
func NewNode(db *DB, t transport.Transport, id PeerID, opts ...Option) (*Node, error) {
	if db == nil {
		return nil, errors.New("new mvds node: nil database")
	}
	if isNil(t) {
		return nil, errors.New("new mvds node: nil transport")
	}
	if id == (PeerID{}) {
		return nil, errors.New("new mvds node: identity is the zero peer id")
	}
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("new mvds node: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("new mvds node: %w", err)
		}
	}
	if err := cfg.finish(); err != nil {
		return nil, fmt.Errorf("new mvds node: %w", err)
	}
	logger := cfg.logger.Named("mvds").With(zap.String("node", ShortID(id[:])))
	if err := claimIdentity(db, id); err != nil {
		return nil, err
	}
	epoch, err := storedEpoch(db, id)
	if err != nil {
		return nil, err
	}
	eng, err := newEngine(db.sql, id, logger)
	if err != nil {
		return nil, fmt.Errorf("new mvds node: %w", err)
	}
	if cfg.stock {
		eng.inner = state.NewPersistentSyncState(db.sql)
	} else {
		eng.hooked = &hookedState{db: db.sql, eng: eng, hook: cfg.hook, limit: MaxSendCount, now: eng.epoch}
		eng.inner = eng.hooked
	}
	n := &Node{
		id:     id,
		db:     db,
		cfg:    cfg,
		eng:    eng,
		peers:  &peerStore{db: db.sql, eng: eng},
		logger: logger,
	}
	n.link = newLink(t, eng, cfg.stock, logger)
	ms := &messageStore{db: db.sql, eng: eng, stock: cfg.stock}
	n.node = node.NewNode(ms, n.link, eng, cfg.nextEpoch, epoch, id, cfg.mode, n.peers, filterSentinel(logger))
	eng.node = n.node
	if cfg.handler != nil {
		n.inbox = startInbox(db.sql, cfg.handler, logger)
		eng.onReceived = n.inbox.notify
		n.inbox.notify() // hand over what a previous run left unhandled
	}
	go eng.releaser()
	n.link.start()
	n.node.Start(cfg.epoch)
	logger.Debug("node started", zap.Int64("epoch", epoch), zap.Bool("stock", cfg.stock), zap.Int("mode", int(cfg.mode)))
	return n, nil
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
		return fmt.Errorf("new mvds node: database %s: begin: %w", db.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var owner []byte
	err = tx.QueryRowContext(ctx, `SELECT peer_id FROM mvdsguard_node WHERE singleton = 1`).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO mvdsguard_node (singleton, peer_id) VALUES (1, ?)`, id[:]); err != nil {
			return fmt.Errorf("new mvds node: database %s: record identity: %w", db.name, err)
		}
	case err != nil:
		return fmt.Errorf("new mvds node: database %s: read identity: %w", db.name, err)
	case string(owner) != string(id[:]):
		return fmt.Errorf("new mvds node: database %s belongs to node %s, not %s: one database serves one identity",
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
		return 0, fmt.Errorf("new mvds node: database %s: read epoch: %w", db.name, err)
	}
	return epoch, nil
}

// ID returns the node's identity.
func (n *Node) ID() PeerID { return n.id }

// DB returns the database the node runs on.
func (n *Node) DB() *DB { return n.db }

// CurrentEpoch returns the epoch mvds is in.
func (n *Node) CurrentEpoch() int64 { return n.node.CurrentEpoch() }

// EpochDuration returns how long mvds sleeps between epochs.
func (n *Node) EpochDuration() time.Duration { return n.cfg.epoch }

// Stock reports whether the node runs status-go's stock configuration.
func (n *Node) Stock() bool { return n.cfg.stock }

// Stats returns what crossed the node's transport so far.
func (n *Node) Stats() Stats { return n.link.stats.snapshot() }

// AddPeer makes peer a member of group: messages appended to the group are
// sent to it. Adding an existing member changes nothing.
func (n *Node) AddPeer(ctx context.Context, group GroupID, peer PeerID) error {
	return n.Update(ctx, func(op *Op) error { return op.AddPeer(group, peer) })
}

// Append hands a message to mvds for every member of group and returns the
// id mvds gives it. With a Hook, the message, its states and what the Hook
// writes on Scheduled commit together or not at all.
func (n *Node) Append(ctx context.Context, group GroupID, body []byte) (MessageID, error) {
	var id MessageID
	if n.cfg.stock {
		// mvds's own sync state commits on its own connection, so a stock
		// append cannot share a transaction; it runs as status-go's does.
		err := n.eng.op(ctx, false, true, func(*sql.Tx) error {
			if err := n.requirePeers(group); err != nil {
				return err
			}
			var err error
			id, err = n.node.AppendMessage(group, body)
			return err
		})
		if err != nil {
			return MessageID{}, fmt.Errorf("append to group %s: %w", ShortID(group[:]), err)
		}
		return id, nil
	}
	err := n.Update(ctx, func(op *Op) error {
		var err error
		id, err = op.Append(group, body)
		return err
	})
	return id, err
}

func (n *Node) requirePeers(group GroupID) error {
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
func (n *Node) States(ctx context.Context, sel Selection) ([]State, error) {
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
func (n *Node) NotifyPeerOnline(ctx context.Context, peer PeerID) error {
	intn := n.cfg.intn
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
func (n *Node) Close() error {
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
