package qanode

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard/mvds"
)

// wireLog remembers what the shim saw: attempts per (message, recipient)
// since the process started, and the first ack of each, which it also
// writes to mvdsqa_sent. The shim calls it from mvds's epoch goroutine,
// where mvds may hold a write transaction, so writes go through a queue to
// a goroutine of their own.
type wireLog struct {
	db     *sql.DB
	logger *zap.Logger

	mu       sync.Mutex
	attempts map[wireKey]int
	failed   map[wireKey]int
	acks     map[wireKey]time.Time

	writes chan ackWrite
	done   chan struct{}
	wg     sync.WaitGroup
}

type wireKey struct {
	id   mvds.MessageID
	peer mvds.PeerID
}

type ackWrite struct {
	key wireKey
	at  time.Time
}

func newWireLog(db *sql.DB, logger *zap.Logger) *wireLog {
	w := &wireLog{
		db: db, logger: logger,
		attempts: map[wireKey]int{}, failed: map[wireKey]int{}, acks: map[wireKey]time.Time{},
		writes: make(chan ackWrite, 4096), done: make(chan struct{}),
	}
	w.wg.Add(1)
	go w.persist()
	return w
}

func (w *wireLog) sent(to mvds.PeerID, ids []mvds.MessageID, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		k := wireKey{id, to}
		w.attempts[k]++
		if err != nil {
			w.failed[k]++
		}
	}
}

func (w *wireLog) acked(from mvds.PeerID, ids [][]byte, at time.Time) {
	var fresh []ackWrite
	w.mu.Lock()
	for _, b := range ids {
		var k wireKey
		copy(k.id[:], b)
		k.peer = from
		if _, seen := w.acks[k]; seen {
			continue
		}
		w.acks[k] = at
		fresh = append(fresh, ackWrite{k, at})
	}
	w.mu.Unlock()
	for _, a := range fresh {
		select {
		case w.writes <- a:
		default:
			// The in-memory record stands; only a restart would lose it.
			w.logger.Warn("ack time not persisted: write queue full")
		}
	}
}

func (w *wireLog) ackOf(id mvds.MessageID, peer mvds.PeerID) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.acks[wireKey{id, peer}]
	return t, ok
}

func (w *wireLog) attemptsOf(id mvds.MessageID, peer mvds.PeerID) (all, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := wireKey{id, peer}
	return w.attempts[k], w.failed[k]
}

func (w *wireLog) persist() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case a := <-w.writes:
			if err := recordAck(context.Background(), w.db, a.key, a.at); err != nil {
				w.logger.Warn("recording an ack", zap.Error(err))
			}
		}
	}
}

func recordAck(ctx context.Context, db *sql.DB, k wireKey, at time.Time) error {
	_, err := db.ExecContext(ctx, `UPDATE mvdsqa_sent SET acked_at = ? WHERE mvds_id = ? AND peer = ? AND acked_at IS NULL`,
		at.UnixMilli(), k.id[:], k.peer[:])
	return err
}

func (w *wireLog) close() {
	close(w.done)
	w.wg.Wait()
}
