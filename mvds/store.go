package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/status-im/mvds/peers"
	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/store"
)

// conn is what both *sql.DB and *sql.Tx offer.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// messageStore is mvds's SQLite message store (same table, same SQL) made
// able to join the engine's transaction, so that an append, its sync states
// and the caller's own rows commit together. It also records each message
// received from a peer in the inbox, in the same transaction as the message
// itself, so that the application sees every message exactly once.
type messageStore struct {
	db  *sql.DB
	eng *engine
	// skipMissing answers a request for a message this node does not have
	// with nothing instead of an error. mvds's onRequest stops at the first
	// error, so the error would hide the requests after it; the stock node
	// keeps it, as mvds does.
	skipMissing bool
	// inbox records each new message from a peer for the node's Handler.
	// A node without one (status-go reads received messages from the
	// packets itself) keeps no such rows.
	inbox bool
}

var _ store.MessageStore = (*messageStore)(nil)

func (m *messageStore) conn() conn {
	if tx := m.eng.currentTx(); tx != nil {
		return tx
	}
	return m.db
}

func (m *messageStore) Add(msg *protobuf.Message) error {
	id := msg.ID()
	ctx := context.Background()
	if m.eng.inOp {
		// A local append. mvds would merge two appends of the same body to
		// the same group in the same second (same id) without a word; refuse
		// the second one instead. The check is a query, not a driver's
		// constraint error, so that it reads the same on every SQLite driver
		// (go-sqlite3, SQLCipher); the operation holds the engine lock, so
		// nothing appends in between.
		var exists bool
		if err := m.conn().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM mvds_messages WHERE id = ?)`, id[:]).Scan(&exists); err != nil {
			return m.eng.opFailed(fmt.Errorf("store message %s: %w", ShortID(id[:]), err))
		}
		if exists {
			return m.eng.opFailed(fmt.Errorf("message %s was already appended to this group (same body in the same second)", ShortID(id[:])))
		}
		_, err := m.conn().ExecContext(ctx, `INSERT INTO mvds_messages (id, group_id, timestamp, body) VALUES (?, ?, ?, ?)`,
			id[:], msg.GroupId, msg.Timestamp, msg.Body)
		return m.eng.opFailed(err)
	}
	// A message from a peer (m.eng holds the packet's lock).
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store message %s: begin: %w", ShortID(id[:]), err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO mvds_messages (id, group_id, timestamp, body) VALUES (?, ?, ?, ?)`,
		id[:], msg.GroupId, msg.Timestamp, msg.Body)
	if err != nil {
		return fmt.Errorf("store message %s: %w", ShortID(id[:]), err)
	}
	if n, _ := res.RowsAffected(); n == 1 && m.inbox {
		// New to this node (neither received before nor appended here).
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO mvdsguard_inbox (message_id, group_id, sender, received_epoch, received_at)
			VALUES (?, ?, ?, ?, ?)`, id[:], msg.GroupId, m.eng.packetSender[:], m.eng.epoch(), time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("record received message %s: %w", ShortID(id[:]), err)
		}
		m.eng.received = true
	}
	return tx.Commit()
}

func (m *messageStore) Get(id MessageID) (*protobuf.Message, error) {
	var msg protobuf.Message
	err := m.conn().QueryRowContext(context.Background(), `SELECT group_id, timestamp, body FROM mvds_messages WHERE id = ?`, id[:]).
		Scan(&msg.GroupId, &msg.Timestamp, &msg.Body)
	if errors.Is(err, sql.ErrNoRows) && m.skipMissing {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &msg, nil
}

func (m *messageStore) Has(id MessageID) (bool, error) {
	var ok bool
	err := m.conn().QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM mvds_messages WHERE id = ?)`, id[:]).Scan(&ok)
	return ok, err
}

// peerStore is mvds's SQLite peer store made able to join the engine's
// transaction.
type peerStore struct {
	db  *sql.DB
	eng *engine
}

var _ peers.Persistence = (*peerStore)(nil)

func (p *peerStore) conn() conn {
	if tx := p.eng.currentTx(); tx != nil {
		return tx
	}
	return p.db
}

func (p *peerStore) Add(group GroupID, peer PeerID) error {
	_, err := p.conn().ExecContext(context.Background(), `INSERT INTO mvds_peers (group_id, peer_id) VALUES (?, ?)`, group[:], peer[:])
	return p.eng.opFailed(err)
}

func (p *peerStore) Exists(group GroupID, peer PeerID) (bool, error) {
	var ok bool
	err := p.conn().QueryRowContext(context.Background(), `SELECT EXISTS (SELECT 1 FROM mvds_peers WHERE group_id = ? AND peer_id = ?)`,
		group[:], peer[:]).Scan(&ok)
	return ok, err
}

func (p *peerStore) GetByGroupID(group GroupID) ([]PeerID, error) {
	rows, err := p.conn().QueryContext(context.Background(), `SELECT peer_id FROM mvds_peers WHERE group_id = ?`, group[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PeerID
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var id PeerID
		copy(id[:], b)
		out = append(out, id)
	}
	return out, rows.Err()
}
