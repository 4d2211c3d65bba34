package retry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// ledger owns the Guard's tables — retry_messages, retry_recipients and the
// append-only event log retry_events — and every statement on them, the
// in-memory tally of the messages the epoch loop is tracking, its checkpoint
// and its replay at start-up. Nothing else in the package writes SQL.
//
// # Attempts
//
// The sent events are the one record of attempts: an attempt appends its sent
// event (one per recipient) and nothing else. Every other figure is derived
// from them:
//
//   - a message's attempts, first and last attempt are what tally reads from
//     its sent events;
//   - a recipient's attempts are its sent events;
//   - while the epoch loop tracks a pending message, its entry keeps the same
//     tally in memory, advanced without reading (an epoch after a reconnect
//     can attempt tens of thousands of states);
//   - the row's attempts, first_attempt_at and last_attempt_at are a
//     checkpoint of the log up to counted_seq, written by checkpoint and
//     folded forward by replay at start-up; bulk events (stalled, rescheduled)
//     copy them from the rows right after a checkpoint.
//
// mvds's send count of a state is a different quantity: the attempts of the
// current round, which a policy's MaxAttempts bounds. A user's Retry starts a
// new round on a fresh state; the message's attempts keep counting.
//
// # Transactions
//
// Every method that writes takes the transaction of an engine operation (an
// mvds hook call or a Node.Update) and runs on the engine's serialised path.
// What it changes in memory is staged in txn and applied by txDone once that
// transaction has committed, or dropped if it rolled back; the ledger then
// publishes the transaction's events to subscribers.
type ledger struct {
	db      *sql.DB
	metrics *metrics   // nil: no metrics
	events  *broadcast // wakes subscribers

	// Touched only on the engine's serialised path.
	tracked     map[mvds.MessageID]*entry // pending states of tracked messages
	apps        map[string]*entry
	dirty       map[*entry]struct{} // tally ahead of the row
	checkpoints int
	txn         txWork

	dirtyCount atomic.Int64 // len(dirty), for the sweeper's quick look
}

// Ledger statuses are mvdsguard.Status values.
const (
	stPending   = int(mvdsguard.Pending)
	stDelivered = int(mvdsguard.Delivered)
	stFailed    = int(mvdsguard.Failed)
	stDiscarded = int(mvdsguard.Discarded)
)

// entry is what the epoch loop knows about a tracked pending message: Due
// reads its policy, Attempted its tally and chat id, so that neither reads
// the ledger's tables.
type entry struct {
	appID  string
	chatID string
	flow   mvdsguard.Flow
	kind   Kind
	policy Policy

	committed tally
	// staged is the tally as transaction stagedIn sees it; it is valid only
	// while that transaction is the current one.
	staged   tally
	stagedIn uint64
}

// tally is a message's attempts and the times of its first and last one
// (unix milliseconds; 0 before the first).
type tally struct {
	attempts    int
	first, last int64
}

// txWork is what the current transaction will apply if it commits.
type txWork struct {
	gen     uint64 // identifies the transaction; never 0
	add     map[mvds.MessageID]*entry
	del     []mvds.MessageID
	delApps []string
	staged  []*entry
	synced  []*entry // rows written with the entry's tally
	events  bool
	metrics []func(*metrics)
}

// tallyOf returns e's tally as staged in this transaction. Staging on the
// entry itself, with the transaction's generation, keeps the hot path free
// of allocations.
func (w *txWork) tallyOf(e *entry) *tally {
	if e.stagedIn != w.gen {
		e.staged, e.stagedIn = e.committed, w.gen
		w.staged = append(w.staged, e)
	}
	return &e.staged
}

// reset starts the next transaction's work.
func (w *txWork) reset() {
	gen := w.gen + 1
	staged, synced := w.staged[:0], w.synced[:0]
	*w = txWork{gen: gen, staged: staged, synced: synced}
}

func newLedger(db *sql.DB, m *metrics) *ledger {
	l := &ledger{
		db:      db,
		metrics: m,
		events:  newBroadcast(),
		tracked: map[mvds.MessageID]*entry{},
		apps:    map[string]*entry{},
		dirty:   map[*entry]struct{}{},
	}
	l.txn.reset()
	return l
}

// recipient is one (mvds message, peer) of a tracked message.
type recipient struct {
	mvdsID mvds.MessageID
	peer   mvds.PeerID
	appID  string
	// For record: delivered before the message was tracked, and attempts
	// made before (Track after an epoch already sent it).
	delivered bool
	attempts  int
}

// message is a ledger row as the actions need it.
type message struct {
	appID  string
	chatID string
	flow   mvdsguard.Flow
	kind   Kind
	status mvdsguard.Status
	tally  tally
}

// lookup returns the tracked message an mvds message belongs to (nil for
// mvds's own protocol states and untracked messages).
func (l *ledger) lookup(id mvds.MessageID) *entry { return l.tracked[id] }

func (l *ledger) exists(tx *sql.Tx, appID string) (bool, error) {
	var ok bool
	if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM retry_messages WHERE app_id = ?)`, appID).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up %q: %w", appID, err)
	}
	return ok, nil
}

// tracksMvdsMessage reports whether an mvds message already belongs to a
// tracked message.
func (l *ledger) tracksMvdsMessage(tx *sql.Tx, id mvds.MessageID) (bool, error) {
	var ok bool
	if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM retry_recipients WHERE mvds_id = ?)`, id[:]).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up mvds message %s: %w", mvds.ShortID(id[:]), err)
	}
	return ok, nil
}

func (l *ledger) message(tx *sql.Tx, appID string) (message, error) {
	m := message{appID: appID}
	var flow, kind, status int
	err := tx.QueryRow(`SELECT chat_id, flow, kind, status FROM retry_messages WHERE app_id = ?`, appID).
		Scan(&m.chatID, &flow, &kind, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return message{}, ErrUnknownMessage
	}
	if err != nil {
		return message{}, fmt.Errorf("read %q: %w", appID, err)
	}
	m.flow, m.kind, m.status = mvdsguard.Flow(flow), Kind(kind), mvdsguard.Status(status)
	if m.tally, err = l.tallyIn(tx, appID); err != nil {
		return message{}, err
	}
	return m, nil
}

// tallyFrom is the one answer to "how many attempts has this message had,
// and when were the first and the last": its row's checkpoint plus the sent
// events logged after it. A settled message's row is exact (its tally was
// written when it left the cache, and nothing attempts it afterwards); a
// pending one's lags by at most a sweep interval, and the events close the
// gap.
func tallyFrom(ctx context.Context, q querier, appID string) (tally, error) {
	var t tally
	err := q.QueryRowContext(ctx, `SELECT attempts, first_attempt_at, last_attempt_at FROM retry_messages WHERE app_id = ?`, appID).
		Scan(&t.attempts, &t.first, &t.last)
	if errors.Is(err, sql.ErrNoRows) {
		return tally{}, fmt.Errorf("attempts of %q: %w", appID, ErrUnknownMessage)
	}
	if err != nil {
		return tally{}, fmt.Errorf("attempts of %q: %w", appID, err)
	}
	tl, err := tailOf(ctx, q, appID)
	if err != nil {
		return tally{}, err
	}
	return tl.fold(t), nil
}

// tailOf reads what appID's sent events after its row's checkpoint add. The
// events read are the recent end of the log, by sequence number.
func tailOf(ctx context.Context, q querier, appID string) (tail, error) {
	var tl tail
	err := q.QueryRowContext(ctx, `SELECT count(e.seq), coalesce(min(e.at), 0), coalesce(max(e.at), 0)
		FROM retry_messages m JOIN retry_events e ON e.seq > m.counted_seq AND e.app_id = m.app_id AND e.type = ?
		WHERE m.app_id = ?`, int(mvdsguard.EventSent), appID).Scan(&tl.n, &tl.first, &tl.last)
	if err != nil {
		return tail{}, fmt.Errorf("attempts of %q after its checkpoint: %w", appID, err)
	}
	return tl, nil
}

// tallyIn is the tally inside a transaction: the entry's when the message is
// tracked (the same figures, without reading), tallyFrom otherwise.
func (l *ledger) tallyIn(tx *sql.Tx, appID string) (tally, error) {
	if e := l.apps[appID]; e != nil {
		if e.stagedIn == l.txn.gen {
			return e.staged, nil
		}
		return e.committed, nil
	}
	return tallyFrom(context.Background(), tx, appID)
}

// querier is what *sql.DB and *sql.Tx both offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// event writes one event, copying the message's current figures; peer is nil
// for a whole-message event.
func (l *ledger) event(tx *sql.Tx, typ mvdsguard.EventType, appID string, peer []byte, reason mvdsguard.Reason, retryable bool, at time.Time) error {
	if err := l.syncRow(tx, appID); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason, retryable)
		SELECT ?, app_id, chat_id, flow, ?, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?, ?
		FROM retry_messages WHERE app_id = ?`, int(typ), peer, at.Unix(), string(reason), retryable, appID)
	if err != nil {
		return fmt.Errorf("write %s event of %q: %w", typ, appID, err)
	}
	l.txn.events = true
	return nil
}

// syncRow brings one message's row up to its tally, so that an event copying
// the row (every message event) is exact.
func (l *ledger) syncRow(tx *sql.Tx, appID string) error {
	e := l.apps[appID]
	if e == nil {
		return nil // not tracked: its row is exact (new, or settled and synced)
	}
	if _, dirty := l.dirty[e]; !dirty && e.stagedIn != l.txn.gen {
		return nil
	}
	return l.writeTallies(tx, []*entry{e})
}

// writeTallies writes entries' tallies to their rows, with the log position
// they include. Sent events are appended only in epoch transactions, which
// never write rows, so every sent event in the log so far is in the tallies
// written here.
func (l *ledger) writeTallies(tx *sql.Tx, es []*entry) error {
	if len(es) == 0 {
		return nil
	}
	var seq int64
	if err := tx.QueryRow(`SELECT coalesce(max(seq), 0) FROM retry_events`).Scan(&seq); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	stmt, err := tx.Prepare(`UPDATE retry_messages SET attempts = ?, first_attempt_at = ?, last_attempt_at = ?, counted_seq = ? WHERE app_id = ?`)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer stmt.Close()
	for _, e := range es {
		t := e.committed
		if e.stagedIn == l.txn.gen {
			t = e.staged
		}
		if _, err := stmt.Exec(t.attempts, t.first, t.last, seq, e.appID); err != nil {
			return fmt.Errorf("checkpoint %q: %w", e.appID, err)
		}
		l.txn.synced = append(l.txn.synced, e)
	}
	return nil
}

// advanceEvery is how many checkpoints pass between moving every pending
// row's log position to the end of the log; it bounds how much of the log a
// start-up replays.
const advanceEvery = 64

// checkpoint writes every tally that is ahead of its row. Every
// advanceEvery-th call (or when asked) it also moves every pending row's
// position to the end of the log: once the dirty rows are written, every
// pending row includes all its sent events.
func (l *ledger) checkpoint(tx *sql.Tx, advance bool) error {
	es := make([]*entry, 0, len(l.dirty))
	for e := range l.dirty {
		es = append(es, e)
	}
	// In key order, rows that share a page are written together.
	sort.Slice(es, func(i, j int) bool { return es[i].appID < es[j].appID })
	if err := l.writeTallies(tx, es); err != nil {
		return err
	}
	l.checkpoints++
	if !advance && l.checkpoints%advanceEvery != 0 {
		return nil
	}
	if _, err := tx.Exec(`UPDATE retry_messages SET counted_seq = (SELECT coalesce(max(seq), 0) FROM retry_events)
		WHERE status = ? AND counted_seq < (SELECT coalesce(max(seq), 0) FROM retry_events)`, stPending); err != nil {
		return fmt.Errorf("checkpoint: advance: %w", err)
	}
	return nil
}

func (l *ledger) cacheAdd(id mvds.MessageID, e *entry) {
	if l.txn.add == nil {
		l.txn.add = map[mvds.MessageID]*entry{}
	}
	l.txn.add[id] = e
}

func (l *ledger) cacheDropApp(tx *sql.Tx, appID string) error {
	rows, err := tx.Query(`SELECT DISTINCT mvds_id FROM retry_recipients WHERE app_id = ?`, appID)
	if err != nil {
		return fmt.Errorf("mvds ids of %q: %w", appID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("mvds ids of %q: %w", appID, err)
		}
		var id mvds.MessageID
		copy(id[:], b)
		l.txn.del = append(l.txn.del, id)
	}
	l.txn.delApps = append(l.txn.delApps, appID)
	return rows.Err()
}

func (l *ledger) onCommit(f func(*metrics)) {
	if l.metrics != nil {
		l.txn.metrics = append(l.txn.metrics, f)
	}
}

// txDone applies what the transaction staged if it committed, or forgets
// it, then publishes its events.
func (l *ledger) txDone(committed bool) {
	w := l.txn
	l.txn.reset()
	if !committed {
		return
	}
	for _, e := range w.synced {
		if e.stagedIn != w.gen {
			delete(l.dirty, e)
		}
	}
	for _, e := range w.staged {
		e.committed = e.staged
		l.dirty[e] = struct{}{}
	}
	for _, app := range w.delApps {
		if e := l.apps[app]; e != nil {
			delete(l.dirty, e)
			delete(l.apps, app)
		}
	}
	for id, e := range w.add {
		l.tracked[id] = e
		l.apps[e.appID] = e
	}
	for _, id := range w.del {
		delete(l.tracked, id)
	}
	l.dirtyCount.Store(int64(len(l.dirty)))
	if l.metrics != nil {
		for _, f := range w.metrics {
			f(l.metrics)
		}
	}
	if w.events {
		l.events.publish()
	}
}

func millis(d time.Duration) int64 { return d.Milliseconds() }

// windows returns when a message pending since nowMs is to be marked stalled
// and when it fails by deadline (unix milliseconds; 0 for never).
func (p Policy) windows(nowMs int64) (stallAt, deadlineAt int64) {
	if p.StallAfter > 0 {
		stallAt = nowMs + millis(p.StallAfter)
	}
	if p.Deadline > 0 {
		deadlineAt = nowMs + millis(p.Deadline)
	}
	return stallAt, deadlineAt
}

// record inserts the ledger rows of a new message. Attempts mvds made
// before the message was tracked (Track after an epoch already sent it) are
// logged first, a sent event each, so that the row is inserted once with the
// tally it checkpoints.
func (l *ledger) record(tx *sql.Tx, meta Meta, pol Policy, now time.Time, recips []recipient) error {
	nowMs := now.UnixMilli()
	var t tally
	delivered := 0
	for _, r := range recips {
		if r.delivered {
			delivered++
		}
		for i := 0; i < r.attempts; i++ {
			t.attempts++
			t.first, t.last = nowMs, nowMs // the exact times are not known
			if _, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, int(mvdsguard.EventSent), meta.AppID, meta.ChatID, int(meta.Flow), r.peer[:],
				t.attempts, now.Unix(), now.Unix(), now.Unix()); err != nil {
				return fmt.Errorf("record earlier attempts of %q: %w", meta.AppID, err)
			}
			l.txn.events = true
		}
	}
	status, finished := stPending, int64(0)
	if delivered == len(recips) {
		status, finished = stDelivered, nowMs
	}
	stallAt, deadlineAt := pol.windows(nowMs)
	if _, err := tx.Exec(`INSERT INTO retry_messages (app_id, chat_id, flow, kind, status, recipients, delivered, attempts,
			first_attempt_at, last_attempt_at, created_at, stall_at, deadline_at, finished_at, counted_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) FROM retry_events))`,
		meta.AppID, meta.ChatID, int(meta.Flow), int(meta.Kind), status, len(recips), delivered, t.attempts,
		t.first, t.last, nowMs, stallAt, deadlineAt, finished); err != nil {
		return fmt.Errorf("record %q: %w", meta.AppID, err)
	}
	stmt, err := tx.Prepare(`INSERT INTO retry_recipients (mvds_id, peer, app_id, status, delivered_at) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record recipients of %q: %w", meta.AppID, err)
	}
	defer stmt.Close()
	e := &entry{appID: meta.AppID, chatID: meta.ChatID, flow: meta.Flow, kind: meta.Kind, policy: pol, committed: t}
	for _, r := range recips {
		st, at := stPending, int64(0)
		if r.delivered {
			st, at = stDelivered, nowMs
		} else {
			l.cacheAdd(r.mvdsID, e)
		}
		if _, err := stmt.Exec(r.mvdsID[:], r.peer[:], meta.AppID, st, at); err != nil {
			return fmt.Errorf("record recipient %s of %q: %w", mvds.ShortID(r.peer[:]), meta.AppID, err)
		}
	}
	if err := l.event(tx, mvdsguard.EventScheduled, meta.AppID, nil, "", false, now); err != nil {
		return err
	}
	if status == stDelivered {
		return l.event(tx, mvdsguard.EventDelivered, meta.AppID, nil, "", false, now)
	}
	return nil
}

// eventRows is how many events one multi-row INSERT writes.
const eventRows = 100

// attempted records an epoch's attempts of tracked messages: a sent event per
// recipient, appended with multi-row inserts, and nothing else (see
// "Attempts" above). A round's last attempt also sets when the recipient
// fails if no acknowledgement arrives: one more delay later.
func (l *ledger) attempted(tx *sql.Tx, states []mvds.State, now time.Time) error {
	nowMs, nowS := now.UnixMilli(), now.Unix()
	var (
		events []any
		rows   int
		flows  map[mvdsguard.Flow]int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", ")
		if _, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at)
			VALUES `+values, events...); err != nil {
			return fmt.Errorf("write sent events: %w", err)
		}
		l.txn.events = true
		events, rows = events[:0], 0
		return nil
	}
	for _, s := range states {
		e := l.tracked[s.MessageID]
		if e == nil {
			continue
		}
		t := l.txn.tallyOf(e)
		t.attempts++
		if t.first == 0 {
			t.first = nowMs
		}
		t.last = nowMs
		if p := e.policy; p.MaxAttempts > 0 && int(s.SendCount) >= p.MaxAttempts {
			if _, err := tx.Exec(`UPDATE retry_recipients SET fail_at = ? WHERE mvds_id = ? AND peer = ? AND status = ?`,
				nowMs+millis(p.Ceiling(int(s.SendCount))), s.MessageID[:], s.PeerID[:], stPending); err != nil {
				return fmt.Errorf("record last attempt of %q: %w", e.appID, err)
			}
		}
		if events == nil {
			events = make([]any, 0, 9*eventRows)
		}
		events = append(events, int(mvdsguard.EventSent), e.appID, e.chatID, int(e.flow), s.PeerID[:], t.attempts, t.first/1000, t.last/1000, nowS)
		rows++
		if flows == nil {
			flows = map[mvdsguard.Flow]int{}
		}
		flows[e.flow]++
		if rows == eventRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(flows) > 0 {
		l.onCommit(func(m *metrics) {
			for f, n := range flows {
				m.sent.WithLabelValues(f.String()).Add(float64(n))
			}
		})
	}
	return nil
}

// acked marks the recipient delivered and settles the message when it was
// the last one. roundAttempts is mvds's send count of the acknowledged state.
func (l *ledger) acked(tx *sql.Tx, s mvds.State, now time.Time) error {
	e := l.tracked[s.MessageID]
	if e == nil {
		return nil
	}
	res, err := tx.Exec(`UPDATE retry_recipients SET status = ?, delivered_at = ? WHERE mvds_id = ? AND peer = ? AND status = ?`,
		stDelivered, now.UnixMilli(), s.MessageID[:], s.PeerID[:], stPending)
	if err != nil {
		return fmt.Errorf("record ack of %q: %w", e.appID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // not pending: failed or discarded meanwhile
	}
	var created int64
	if err := tx.QueryRow(`UPDATE retry_messages SET delivered = delivered + 1 WHERE app_id = ? RETURNING created_at`, e.appID).Scan(&created); err != nil {
		return fmt.Errorf("record ack of %q: %w", e.appID, err)
	}
	if err := l.event(tx, mvdsguard.EventDelivered, e.appID, s.PeerID[:], "", false, now); err != nil {
		return err
	}
	flow := e.flow.String()
	round := float64(s.SendCount)
	took := max(now.Sub(timeMillis(created)).Seconds(), 0) // the wall clock may have been stepped back
	l.onCommit(func(m *metrics) {
		m.delivered.WithLabelValues(flow).Inc()
		m.attempts.WithLabelValues(flow).Observe(round)
		m.timeToAck.WithLabelValues(flow).Observe(took)
	})
	return l.finish(tx, e.appID, now)
}

// lateAck records an acknowledgement for a failed recipient, whose state
// was dropped when it failed: an earlier copy got through after all. The
// recipient becomes delivered; a failed message whose recipients are then
// all delivered becomes delivered too, with its delivered event. A
// discarded one stays discarded: the user decided.
func (l *ledger) lateAck(tx *sql.Tx, id mvds.MessageID, peer mvds.PeerID, now time.Time) error {
	var appID string
	err := tx.QueryRow(`UPDATE retry_recipients SET status = ?, delivered_at = ? WHERE mvds_id = ? AND peer = ? AND status = ?
		RETURNING app_id`, stDelivered, now.UnixMilli(), id[:], peer[:], stFailed).Scan(&appID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // not a failed recipient: a duplicate ack, or a message we received
	}
	if err != nil {
		return fmt.Errorf("record late ack of %s: %w", mvds.ShortID(id[:]), err)
	}
	var failed, pending int
	if err := tx.QueryRow(`UPDATE retry_messages SET delivered = delivered + 1, failed = failed - 1 WHERE app_id = ?
		RETURNING failed, recipients - delivered - failed`, appID).Scan(&failed, &pending); err != nil {
		return fmt.Errorf("record late ack of %q: %w", appID, err)
	}
	if err := l.event(tx, mvdsguard.EventDelivered, appID, peer[:], "", false, now); err != nil {
		return err
	}
	if failed > 0 || pending > 0 {
		return nil
	}
	res, err := tx.Exec(`UPDATE retry_messages SET status = ?, reason = '', finished_at = ? WHERE app_id = ? AND status = ?`,
		stDelivered, now.UnixMilli(), appID, stFailed)
	if err != nil {
		return fmt.Errorf("record late delivery of %q: %w", appID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // pending again (a Retry is under way: its own acks settle it) or discarded
	}
	return l.event(tx, mvdsguard.EventDelivered, appID, nil, "", false, now)
}

// sendFailed keeps the transport's error as the message's last error.
func (l *ledger) sendFailed(tx *sql.Tx, states []mvds.State, err error) error {
	seen := map[string]bool{}
	for _, s := range states {
		e := l.tracked[s.MessageID]
		if e == nil || seen[e.appID] {
			continue
		}
		seen[e.appID] = true
		if _, xerr := tx.Exec(`UPDATE retry_messages SET last_error = ? WHERE app_id = ?`, truncate(err.Error(), 512), e.appID); xerr != nil {
			return fmt.Errorf("record send error of %q: %w", e.appID, xerr)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// recipientsOf lists a message's recipients in the given status.
func (l *ledger) recipientsOf(tx *sql.Tx, appID string, status int) ([]recipient, error) {
	rows, err := tx.Query(`SELECT mvds_id, peer FROM retry_recipients WHERE app_id = ? AND status = ?`, appID, status)
	if err != nil {
		return nil, fmt.Errorf("recipients of %q: %w", appID, err)
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var id, peer []byte
		if err := rows.Scan(&id, &peer); err != nil {
			return nil, fmt.Errorf("recipients of %q: %w", appID, err)
		}
		r := recipient{appID: appID}
		copy(r.mvdsID[:], id)
		copy(r.peer[:], peer)
		out = append(out, r)
	}
	return out, rows.Err()
}

// dropState deletes the mvds state of one recipient, if it still exists.
func dropState(op *mvds.Op, r recipient) error {
	states, err := op.States(mvds.MessageStates(r.mvdsID))
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.PeerID == r.peer {
			return op.Drop(s)
		}
	}
	return nil
}

// reopen gives a failed message a new round: its failed recipients get a
// fresh mvds state, due now, and new stall and deadline windows.
func (l *ledger) reopen(op *mvds.Op, m message, pol Policy, now time.Time) error {
	tx := op.Tx()
	failed, err := l.recipientsOf(tx, m.appID, stFailed)
	if err != nil {
		return err
	}
	epoch := op.Epoch()
	e := &entry{appID: m.appID, chatID: m.chatID, flow: m.flow, kind: m.kind, policy: pol, committed: m.tally}
	for _, r := range failed {
		if _, err := op.Resend(r.mvdsID, r.peer, epoch); err != nil {
			return err
		}
		l.cacheAdd(r.mvdsID, e)
	}
	if _, err := tx.Exec(`UPDATE retry_recipients SET status = ?, fail_at = 0 WHERE app_id = ? AND status = ?`,
		stPending, m.appID, stFailed); err != nil {
		return fmt.Errorf("reopen recipients of %q: %w", m.appID, err)
	}
	stallAt, deadlineAt := pol.windows(now.UnixMilli())
	if _, err := tx.Exec(`UPDATE retry_messages SET status = ?, failed = 0, stalled = 0, reason = '', last_error = '',
		finished_at = 0, stall_at = ?, deadline_at = ? WHERE app_id = ?`, stPending, stallAt, deadlineAt, m.appID); err != nil {
		return fmt.Errorf("reopen %q: %w", m.appID, err)
	}
	l.onCommit(func(mt *metrics) {
		mt.rescheduled.WithLabelValues(m.flow.String(), string(mvdsguard.ReasonUserRetry)).Inc()
	})
	return l.event(tx, mvdsguard.EventRescheduled, m.appID, nil, mvdsguard.ReasonUserRetry, false, now)
}

// hurry makes a pending message's states due now.
func (l *ledger) hurry(op *mvds.Op, m message, now time.Time) error {
	pending, err := l.recipientsOf(op.Tx(), m.appID, stPending)
	if err != nil {
		return err
	}
	epoch := op.Epoch()
	for _, r := range pending {
		states, err := op.States(mvds.MessageStates(r.mvdsID))
		if err != nil {
			return err
		}
		for _, s := range states {
			if s.PeerID == r.peer && s.SendEpoch > epoch {
				if err := op.Reschedule(s, epoch); err != nil {
					return err
				}
			}
		}
	}
	l.onCommit(func(mt *metrics) {
		mt.rescheduled.WithLabelValues(m.flow.String(), string(mvdsguard.ReasonUserRetry)).Inc()
	})
	return l.event(op.Tx(), mvdsguard.EventRescheduled, m.appID, nil, mvdsguard.ReasonUserRetry, false, now)
}

// discard stops a pending or failed message and frees its mvds states.
func (l *ledger) discard(op *mvds.Op, m message, now time.Time) error {
	tx := op.Tx()
	pending, err := l.recipientsOf(tx, m.appID, stPending)
	if err != nil {
		return err
	}
	for _, r := range pending {
		if err := dropState(op, r); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(`UPDATE retry_recipients SET status = ? WHERE app_id = ? AND status IN (?, ?)`,
		stDiscarded, m.appID, stPending, stFailed); err != nil {
		return fmt.Errorf("discard recipients of %q: %w", m.appID, err)
	}
	if _, err := tx.Exec(`UPDATE retry_messages SET status = ?, reason = ?, finished_at = ? WHERE app_id = ?`,
		stDiscarded, string(mvdsguard.ReasonUserDiscard), now.UnixMilli(), m.appID); err != nil {
		return fmt.Errorf("discard %q: %w", m.appID, err)
	}
	if err := l.cacheDropApp(tx, m.appID); err != nil {
		return err
	}
	return l.event(tx, mvdsguard.EventDiscarded, m.appID, nil, mvdsguard.ReasonUserDiscard, false, now)
}

// finish settles a message whose last pending recipient just resolved:
// Delivered if every recipient acknowledged, Failed otherwise. The status
// guard in the UPDATE is what makes a second failed event impossible.
func (l *ledger) finish(tx *sql.Tx, appID string, now time.Time) error {
	var pending, failed int
	if err := tx.QueryRow(`SELECT coalesce(sum(status = ?), 0), coalesce(sum(status = ?), 0) FROM retry_recipients WHERE app_id = ?`,
		stPending, stFailed, appID).Scan(&pending, &failed); err != nil {
		return fmt.Errorf("settle %q: %w", appID, err)
	}
	if pending > 0 {
		return nil
	}
	final := stDelivered
	if failed > 0 {
		final = stFailed
	}
	var flow int
	var reason string
	err := tx.QueryRow(`UPDATE retry_messages SET status = ?, finished_at = ? WHERE app_id = ? AND status = ? RETURNING flow, reason`,
		final, now.UnixMilli(), appID, stPending).Scan(&flow, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // already settled
	}
	if err != nil {
		return fmt.Errorf("settle %q: %w", appID, err)
	}
	// The message leaves the cache when the transaction commits; the event
	// below brings its row up to the tally first, so a settled row is exact.
	if err := l.cacheDropApp(tx, appID); err != nil {
		return err
	}
	if final == stDelivered {
		return l.event(tx, mvdsguard.EventDelivered, appID, nil, "", false, now)
	}
	f := mvdsguard.Flow(flow).String()
	l.onCommit(func(mt *metrics) { mt.failed.WithLabelValues(f, reason).Inc() })
	return l.event(tx, mvdsguard.EventFailed, appID, nil, mvdsguard.Reason(reason), true, now)
}

// failRecipients marks pending recipients failed, frees their mvds state and
// settles their messages.
func (l *ledger) failRecipients(op *mvds.Op, rs []recipient, reason mvdsguard.Reason, now time.Time) error {
	tx := op.Tx()
	apps := map[string]bool{}
	var order []string
	for _, r := range rs {
		if err := dropState(op, r); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE retry_recipients SET status = ? WHERE mvds_id = ? AND peer = ? AND status = ?`,
			stFailed, r.mvdsID[:], r.peer[:], stPending)
		if err != nil {
			return fmt.Errorf("fail recipient of %q: %w", r.appID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		if _, err := tx.Exec(`UPDATE retry_messages SET failed = failed + 1, reason = ? WHERE app_id = ?`, string(reason), r.appID); err != nil {
			return fmt.Errorf("fail recipient of %q: %w", r.appID, err)
		}
		if !apps[r.appID] {
			apps[r.appID] = true
			order = append(order, r.appID)
		}
	}
	for _, app := range order {
		if err := l.finish(tx, app, now); err != nil {
			return err
		}
	}
	return nil
}

// rescheduleAll moves every pending state to now + offset(i), critical flows
// first (indefinite policies, then bounded ones, then mvds's own protocol
// states), and writes a rescheduled event for every pending message.
func (l *ledger) rescheduleAll(op *mvds.Op, reason mvdsguard.Reason, now time.Time, offset func(i int) int64) (int, error) {
	// The events below copy the tallies from the rows.
	if err := l.checkpoint(op.Tx(), false); err != nil {
		return 0, err
	}
	moved, err := op.Spread(func(id mvds.MessageID, _ mvds.PeerID) int {
		e := l.tracked[id]
		switch {
		case e == nil:
			return 2
		case e.policy.Indefinite():
			return 0
		default:
			return 1
		}
	}, offset)
	if err != nil || moved == 0 {
		return moved, err
	}
	res, err := op.Tx().Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason, retryable)
		SELECT ?, app_id, chat_id, flow, NULL, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?, 0
		FROM retry_messages WHERE status = ? ORDER BY rowid`, int(mvdsguard.EventRescheduled), now.Unix(), string(reason), stPending)
	if err != nil {
		return moved, fmt.Errorf("write rescheduled events: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		l.txn.events = true
		counts, err := pendingPerFlow(op.Tx())
		if err != nil {
			return moved, err
		}
		l.onCommit(func(mt *metrics) {
			for f, n := range counts {
				mt.rescheduled.WithLabelValues(f, string(reason)).Add(float64(n))
			}
		})
	}
	return moved, nil
}

func pendingPerFlow(tx *sql.Tx) (map[string]int, error) {
	rows, err := tx.Query(`SELECT flow, count(*) FROM retry_messages WHERE status = ? GROUP BY flow`, stPending)
	if err != nil {
		return nil, fmt.Errorf("count pending per flow: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var f, n int
		if err := rows.Scan(&f, &n); err != nil {
			return nil, fmt.Errorf("count pending per flow: %w", err)
		}
		out[mvdsguard.Flow(f).String()] = n
	}
	return out, rows.Err()
}

// sweepBatch bounds the work of one sweep; the next sweep takes the rest.
const sweepBatch = 1000

// sweepDue reports, without a transaction, whether a sweep has work: a
// recipient whose last attempt went unacknowledged, a message past its
// deadline or stall threshold, or tallies ahead of their rows.
func (l *ledger) sweepDue(ctx context.Context, now time.Time) (bool, error) {
	nowMs := now.UnixMilli()
	var due bool
	err := l.db.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM retry_recipients WHERE status = ? AND fail_at > 0 AND fail_at <= ?) OR
		EXISTS (SELECT 1 FROM retry_messages WHERE status = ? AND deadline_at > 0 AND deadline_at <= ?) OR
		EXISTS (SELECT 1 FROM retry_messages WHERE status = ? AND stalled = 0 AND stall_at > 0 AND stall_at <= ?)`,
		stPending, nowMs, stPending, nowMs, stPending, nowMs).Scan(&due)
	if err != nil {
		return false, fmt.Errorf("sweep: %w", err)
	}
	return due || l.dirtyCount.Load() > 0, nil
}

// sweep checkpoints the tallies, fails the recipients whose last attempt
// went unacknowledged and the messages past their deadline, and marks
// stalled the messages pending past their threshold.
func (l *ledger) sweep(op *mvds.Op, now time.Time) error {
	tx := op.Tx()
	nowMs := now.UnixMilli()
	// The events below copy tallies from the rows.
	if err := l.checkpoint(tx, false); err != nil {
		return err
	}
	exhausted, err := queryRecipients(tx, `SELECT mvds_id, peer, app_id FROM retry_recipients
		WHERE status = ? AND fail_at > 0 AND fail_at <= ? ORDER BY fail_at LIMIT ?`, stPending, nowMs, sweepBatch)
	if err != nil {
		return err
	}
	if err := l.failRecipients(op, exhausted, mvdsguard.ReasonMaxAttempts, now); err != nil {
		return err
	}
	late, err := queryRecipients(tx, `SELECT r.mvds_id, r.peer, r.app_id FROM retry_messages m
		JOIN retry_recipients r ON r.app_id = m.app_id AND r.status = ?
		WHERE m.status = ? AND m.deadline_at > 0 AND m.deadline_at <= ? ORDER BY m.deadline_at LIMIT ?`,
		stPending, stPending, nowMs, sweepBatch)
	if err != nil {
		return err
	}
	if err := l.failRecipients(op, late, mvdsguard.ReasonDeadline, now); err != nil {
		return err
	}
	return l.markStalled(tx, now)
}

func (l *ledger) markStalled(tx *sql.Tx, now time.Time) error {
	const cond = `status = ? AND stalled = 0 AND stall_at > 0 AND stall_at <= ?`
	res, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason)
		SELECT ?, app_id, chat_id, flow, NULL, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?
		FROM retry_messages WHERE `+cond+` ORDER BY stall_at`,
		int(mvdsguard.EventStalled), now.Unix(), string(mvdsguard.ReasonStallAfter), stPending, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("stall events: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	l.txn.events = true
	if _, err := tx.Exec(`UPDATE retry_messages SET stalled = 1 WHERE `+cond, stPending, now.UnixMilli()); err != nil {
		return fmt.Errorf("mark stalled: %w", err)
	}
	return nil
}

// shiftWindows moves every pending deadline, stall threshold and
// last-attempt timeout by d: after the wall clock was stepped by d, each
// keeps the time it had left.
func (l *ledger) shiftWindows(tx *sql.Tx, d time.Duration) error {
	ms := millis(d)
	if _, err := tx.Exec(`UPDATE retry_messages SET
		stall_at = CASE WHEN stall_at > 0 AND stalled = 0 THEN stall_at + ? ELSE stall_at END,
		deadline_at = CASE WHEN deadline_at > 0 THEN deadline_at + ? ELSE deadline_at END
		WHERE status = ?`, ms, ms, stPending); err != nil {
		return fmt.Errorf("shift deadlines by %v: %w", d, err)
	}
	if _, err := tx.Exec(`UPDATE retry_recipients SET fail_at = fail_at + ? WHERE status = ? AND fail_at > 0`, ms, stPending); err != nil {
		return fmt.Errorf("shift attempt timeouts by %v: %w", d, err)
	}
	return nil
}

func queryRecipients(tx *sql.Tx, q string, args ...any) ([]recipient, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var id, peer []byte
		var r recipient
		if err := rows.Scan(&id, &peer, &r.appID); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		copy(r.mvdsID[:], id)
		copy(r.peer[:], peer)
		out = append(out, r)
	}
	return out, rows.Err()
}

func timeMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// load fills the cache from the ledger at start-up, and replays the sent
// events after each pending row's checkpoint into its tally.
func (l *ledger) load(ctx context.Context, policyOf func(mvdsguard.Flow, Kind) Policy) error {
	rows, err := l.db.QueryContext(ctx, `SELECT DISTINCT r.mvds_id, m.app_id, m.chat_id, m.flow, m.kind, m.attempts, m.first_attempt_at, m.last_attempt_at
		FROM retry_recipients r JOIN retry_messages m ON m.app_id = r.app_id WHERE r.status = ?`, stPending)
	if err != nil {
		return fmt.Errorf("load tracked messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id                []byte
			app, chat         string
			flow, kind, tries int
			first, last       int64
		)
		if err := rows.Scan(&id, &app, &chat, &flow, &kind, &tries, &first, &last); err != nil {
			return fmt.Errorf("load tracked messages: %w", err)
		}
		e := l.apps[app]
		if e == nil {
			f, k := mvdsguard.Flow(flow), Kind(kind)
			e = &entry{appID: app, chatID: chat, flow: f, kind: k, policy: policyOf(f, k),
				committed: tally{attempts: tries, first: first, last: last}}
			l.apps[app] = e
		}
		var mid mvds.MessageID
		copy(mid[:], id)
		l.tracked[mid] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load tracked messages: %w", err)
	}
	rows.Close()
	tails, err := l.replay(ctx)
	if err != nil {
		return fmt.Errorf("load tracked messages: %w", err)
	}
	for app, t := range tails {
		e := l.apps[app]
		if e == nil {
			continue
		}
		e.committed = t.fold(e.committed)
		l.dirty[e] = struct{}{}
	}
	l.dirtyCount.Store(int64(len(l.dirty)))
	return nil
}

// tail is what a message's sent events after its row's checkpoint add.
type tail struct {
	n           int
	first, last int64 // unix seconds
}

func (t tail) fold(c tally) tally {
	if t.n == 0 {
		return c
	}
	c.attempts += t.n
	if c.first == 0 {
		c.first = t.first * 1000
	}
	c.last = max(c.last, t.last*1000)
	return c
}

// replay reads, at start-up, per pending message the sent events after its
// row's checkpoint: what a crash kept out of the row.
func (l *ledger) replay(ctx context.Context) (map[string]tail, error) {
	rows, err := l.db.QueryContext(ctx, tails(""))
	if err != nil {
		return nil, fmt.Errorf("read sent events after the checkpoint: %w", err)
	}
	defer rows.Close()
	out := map[string]tail{}
	for rows.Next() {
		var a string
		var t tail
		if err := rows.Scan(&a, &t.n, &t.first, &t.last); err != nil {
			return nil, fmt.Errorf("read sent events after the checkpoint: %w", err)
		}
		out[a] = t
	}
	return out, rows.Err()
}
