package mvds

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Received is a message a peer sent to this node.
type Received struct {
	Seq       int64 // position in this node's inbox; increases in arrival order
	ID        MessageID
	Group     GroupID
	Sender    PeerID
	Timestamp int64 // the sender's clock when it appended, unix seconds
	Body      []byte
	Epoch     int64     // this node's epoch when the message arrived
	At        time.Time // when it arrived
}

// Handler receives each message from a peer once, in arrival order.
//
// tx is the transaction that marks the message handled: whatever the handler
// writes through tx commits together with that mark, so a handler that keeps
// its results in this database sees every message exactly once, even across
// crashes. Effects outside the database happen at least once (a crash after
// the handler returns but before the commit offers the message again; use
// Received.ID to drop the repeat). Returning an error rolls tx back and
// offers the same message again after a short delay; later messages wait.
type Handler func(ctx context.Context, tx *sql.Tx, m Received) error

// inbox hands received messages to the Handler from its own goroutine, so a
// slow application never holds up mvds's epochs.
type inbox struct {
	db      *sql.DB
	handler Handler
	logger  *zap.Logger
	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

const (
	inboxBatch      = 64
	inboxRetryFirst = 10 * time.Millisecond
	inboxRetryMax   = time.Second
)

func startInbox(db *sql.DB, h Handler, logger *zap.Logger) *inbox {
	ctx, cancel := context.WithCancel(context.Background())
	ib := &inbox{db: db, handler: h, logger: logger, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go ib.run(ctx)
	return ib
}

// notify wakes the delivery loop; it never blocks.
func (ib *inbox) notify() {
	select {
	case ib.wake <- struct{}{}:
	default:
	}
}

func (ib *inbox) stop() {
	ib.cancel()
	<-ib.done
}

func (ib *inbox) run(ctx context.Context) {
	defer close(ib.done)
	delay := inboxRetryFirst
	for {
		n, err := ib.deliver(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			ib.logger.Warn("delivering a received message failed; will retry", zap.Error(err), zap.Duration("in", delay))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			delay = min(2*delay, inboxRetryMax)
			continue
		}
		delay = inboxRetryFirst
		if n == inboxBatch {
			continue
		}
		select {
		case <-ib.wake:
		case <-ctx.Done():
			return
		}
	}
}

// deliver hands over up to one batch of unhandled messages.
func (ib *inbox) deliver(ctx context.Context) (int, error) {
	rows, err := ib.db.QueryContext(ctx, `SELECT i.seq, i.message_id, i.group_id, i.sender, i.received_epoch, i.received_at, m.timestamp, m.body
		FROM mvdsguard_inbox i JOIN mvds_messages m ON m.id = i.message_id
		WHERE i.handled = 0 ORDER BY i.seq LIMIT ?`, inboxBatch)
	if err != nil {
		return 0, fmt.Errorf("read inbox: %w", err)
	}
	var batch []Received
	for rows.Next() {
		var (
			r                 Received
			id, group, sender []byte
			atMillis          int64
		)
		if err := rows.Scan(&r.Seq, &id, &group, &sender, &r.Epoch, &atMillis, &r.Timestamp, &r.Body); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read inbox: %w", err)
		}
		copy(r.ID[:], id)
		copy(r.Group[:], group)
		copy(r.Sender[:], sender)
		r.At = time.UnixMilli(atMillis)
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read inbox: %w", err)
	}
	for i, r := range batch {
		if err := ib.handOver(ctx, r); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

func (ib *inbox) handOver(ctx context.Context, r Received) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The transaction must not die with ctx: database/sql rolls back a
	// transaction whose context is cancelled, and a Close arriving just after
	// the handler succeeded would then offer the message a second time.
	txCtx := context.WithoutCancel(ctx)
	tx, err := ib.db.BeginTx(txCtx, nil)
	if err != nil {
		return fmt.Errorf("message %s: begin: %w", ShortID(r.ID[:]), err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := ib.handler(ctx, tx, r); err != nil {
		return fmt.Errorf("message %s: handler: %w", ShortID(r.ID[:]), err)
	}
	if _, err := tx.ExecContext(txCtx, `UPDATE mvdsguard_inbox SET handled = 1 WHERE seq = ?`, r.Seq); err != nil {
		return fmt.Errorf("message %s: mark handled: %w", ShortID(r.ID[:]), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("message %s: commit: %w", ShortID(r.ID[:]), err)
	}
	return nil
}
