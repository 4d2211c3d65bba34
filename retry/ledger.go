package retry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// Ledger statuses are mvdsguard.Status values.
const (
	stPending   = int(mvdsguard.Pending)
	stDelivered = int(mvdsguard.Delivered)
	stFailed    = int(mvdsguard.Failed)
	stDiscarded = int(mvdsguard.Discarded)
)

type recipient struct {
	mvdsID    mvds.MessageID
	peer      mvds.PeerID
	appID     string
	delivered bool
	attempts  int
}

type message struct {
	appID       string
	chatID      string
	flow        mvdsguard.Flow
	kind        Kind
	status      mvdsguard.Status
	attempts    int
	first, last int64
}

func messageExists(tx *sql.Tx, appID string) (bool, error) {
	var ok bool
	if err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM retry_messages WHERE app_id = ?)`, appID).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up %q: %w", appID, err)
	}
	return ok, nil
}

func loadMessage(tx *sql.Tx, appID string) (message, error) {
	m := message{appID: appID}
	var flow, kind, status int
	err := tx.QueryRow(`SELECT chat_id, flow, kind, status, attempts, first_attempt_at, last_attempt_at FROM retry_messages WHERE app_id = ?`,
		appID).Scan(&m.chatID, &flow, &kind, &status, &m.attempts, &m.first, &m.last)
	if errors.Is(err, sql.ErrNoRows) {
		return message{}, ErrUnknownMessage
	}
	if err != nil {
		return message{}, fmt.Errorf("read %q: %w", appID, err)
	}
	m.flow, m.kind, m.status = mvdsguard.Flow(flow), Kind(kind), mvdsguard.Status(status)
	return m, nil
}

// event writes one event, copying the message's current figures; peer is nil
// for a whole-message event.
func (g *Guard) event(tx *sql.Tx, typ mvdsguard.EventType, appID string, peer []byte, reason mvdsguard.Reason, retryable bool, at time.Time) error {
	if err := g.syncApp(tx, appID); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason, retryable)
		SELECT ?, app_id, chat_id, flow, ?, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?, ?
		FROM retry_messages WHERE app_id = ?`, int(typ), peer, at.Unix(), string(reason), retryable, appID)
	if err != nil {
		return fmt.Errorf("write %s event of %q: %w", typ, appID, err)
	}
	g.txn.events = true
	return nil
}

// syncApp brings one message's row up to its counters, so that an event
// copying them from the row (every message event) is exact.
func (g *Guard) syncApp(tx *sql.Tx, appID string) error {
	e := g.apps[appID]
	if e == nil {
		return nil // not cached: its row is exact (new, or settled and synced)
	}
	if _, dirty := g.dirty[e]; !dirty && e.stagedIn != g.txn.gen {
		return nil
	}
	return g.writeCounters(tx, []*entry{e})
}

// writeCounters writes entries' counters to their rows, with the log
// position they include. Sent events are appended only in epoch
// transactions, which never write rows, so every sent event in the log so far
// is in the counters written here.
func (g *Guard) writeCounters(tx *sql.Tx, es []*entry) error {
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
		c := e.committed
		if e.stagedIn == g.txn.gen {
			c = e.staged
		}
		if _, err := stmt.Exec(c.attempts, c.first, c.last, seq, e.appID); err != nil {
			return fmt.Errorf("checkpoint %q: %w", e.appID, err)
		}
		g.txn.synced = append(g.txn.synced, e)
	}
	return nil
}

// advanceEvery is how many checkpoints pass between moving every pending
// row's log position to the end of the log; it bounds how much of the log a
// start-up (and a status read) looks at.
const advanceEvery = 64

// checkpoint writes every message's counters that are ahead of its row.
// Every advanceEvery-th call (or when asked) it also moves every pending
// row's position to the end of the log: once the dirty rows are written,
// every pending row includes all its sent events.
func (g *Guard) checkpoint(tx *sql.Tx, advance bool) error {
	es := make([]*entry, 0, len(g.dirty))
	for e := range g.dirty {
		es = append(es, e)
	}
	// In key order, rows that share a page are written together.
	sort.Slice(es, func(i, j int) bool { return es[i].appID < es[j].appID })
	if err := g.writeCounters(tx, es); err != nil {
		return err
	}
	g.checkpoints++
	if !advance && g.checkpoints%advanceEvery != 0 {
		return nil
	}
	if _, err := tx.Exec(`UPDATE retry_messages SET counted_seq = (SELECT coalesce(max(seq), 0) FROM retry_events)
		WHERE status = ? AND counted_seq < (SELECT coalesce(max(seq), 0) FROM retry_events)`, stPending); err != nil {
		return fmt.Errorf("checkpoint: advance: %w", err)
	}
	return nil
}

func (g *Guard) cacheAdd(id mvds.MessageID, e *entry) {
	if g.txn.add == nil {
		g.txn.add = map[mvds.MessageID]*entry{}
	}
	g.txn.add[id] = e
}

func (g *Guard) cacheDropApp(tx *sql.Tx, appID string) error {
	rows, err := tx.Query(`SELECT DISTINCT mvds_id FROM retry_recipients WHERE app_id = ?`, appID)
	if err != nil {
		return fmt.Errorf("mvds ids of %q: %w", appID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		var id mvds.MessageID
		copy(id[:], b)
		g.txn.del = append(g.txn.del, id)
	}
	g.txn.delApps = append(g.txn.delApps, appID)
	return rows.Err()
}

func (g *Guard) onCommit(f func(*metrics)) {
	if g.metrics != nil {
		g.txn.metrics = append(g.txn.metrics, f)
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

// track inserts the ledger rows of a new message.
func (g *Guard) track(tx *sql.Tx, meta Meta, pol Policy, now time.Time, recips []recipient) error {
	nowMs := now.UnixMilli()
	stallAt, deadlineAt := pol.windows(nowMs)
	delivered, attempts := 0, 0
	for _, r := range recips {
		if r.delivered {
			delivered++
		}
		attempts += r.attempts
	}
	status, finished := stPending, int64(0)
	if delivered == len(recips) {
		status, finished = stDelivered, nowMs
	}
	var firstAttempt int64
	if attempts > 0 {
		firstAttempt = nowMs // made before Track; the exact time is not known
	}
	if _, err := tx.Exec(`INSERT INTO retry_messages (app_id, chat_id, flow, kind, status, recipients, delivered, attempts,
			created_at, first_attempt_at, last_attempt_at, stall_at, deadline_at, finished_at, counted_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) FROM retry_events))`,
		meta.AppID, meta.ChatID, int(meta.Flow), int(meta.Kind), status, len(recips), delivered, attempts,
		nowMs, firstAttempt, firstAttempt, stallAt, deadlineAt, finished); err != nil {
		return fmt.Errorf("record %q: %w", meta.AppID, err)
	}
	stmt, err := tx.Prepare(`INSERT INTO retry_recipients (mvds_id, peer, app_id, status, attempts, delivered_at) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record recipients of %q: %w", meta.AppID, err)
	}
	defer stmt.Close()
	e := &entry{appID: meta.AppID, chatID: meta.ChatID, flow: meta.Flow, kind: meta.Kind, policy: pol,
		committed: counters{attempts: attempts, first: firstAttempt, last: firstAttempt}}
	for _, r := range recips {
		st, at := stPending, int64(0)
		if r.delivered {
			st, at = stDelivered, nowMs
		} else {
			g.cacheAdd(r.mvdsID, e)
		}
		if _, err := stmt.Exec(r.mvdsID[:], r.peer[:], meta.AppID, st, r.attempts, at); err != nil {
			return fmt.Errorf("record recipient %s of %q: %w", mvds.ShortID(r.peer[:]), meta.AppID, err)
		}
	}
	if err := g.event(tx, mvdsguard.EventScheduled, meta.AppID, nil, "", false, now); err != nil {
		return err
	}
	if status == stDelivered {
		return g.event(tx, mvdsguard.EventDelivered, meta.AppID, nil, "", false, now)
	}
	return nil
}

// pendingRecipients lists a message's recipients in the given statuses.
func recipientsOf(tx *sql.Tx, appID string, statuses ...int) ([]recipient, error) {
	q := `SELECT mvds_id, peer FROM retry_recipients WHERE app_id = ? AND status IN (` + placeholders(len(statuses)) + `)`
	args := []any{appID}
	for _, s := range statuses {
		args = append(args, s)
	}
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("recipients of %q: %w", appID, err)
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var id, peer []byte
		if err := rows.Scan(&id, &peer); err != nil {
			return nil, err
		}
		r := recipient{appID: appID}
		copy(r.mvdsID[:], id)
		copy(r.peer[:], peer)
		out = append(out, r)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// dropState deletes the mvds state of one recipient, if it still exists, and
// copies its send count onto the recipient's row: the attempts it made.
func dropState(op *mvds.Op, r recipient) error {
	states, err := op.States(mvds.MessageStates(r.mvdsID))
	if err != nil {
		return err
	}
	for _, s := range states {
		if s.PeerID != r.peer {
			continue
		}
		if _, err := op.Tx().Exec(`UPDATE retry_recipients SET attempts = attempts + ? WHERE mvds_id = ? AND peer = ?`,
			s.SendCount, r.mvdsID[:], r.peer[:]); err != nil {
			return fmt.Errorf("record attempts of %q: %w", r.appID, err)
		}
		return op.Drop(s)
	}
	return nil
}

func (g *Guard) retryFailed(op *mvds.Op, m message, now time.Time) error {
	tx := op.Tx()
	failed, err := recipientsOf(tx, m.appID, stFailed)
	if err != nil {
		return err
	}
	epoch := op.Epoch()
	pol := g.policy(m.flow, m.kind)
	e := &entry{appID: m.appID, chatID: m.chatID, flow: m.flow, kind: m.kind, policy: pol,
		committed: counters{attempts: m.attempts, first: m.first, last: m.last}}
	for _, r := range failed {
		if _, err := op.Resend(r.mvdsID, r.peer, epoch); err != nil {
			return err
		}
		g.cacheAdd(r.mvdsID, e)
	}
	if _, err := tx.Exec(`UPDATE retry_recipients SET status = ?, attempts = 0, fail_at = 0 WHERE app_id = ? AND status = ?`,
		stPending, m.appID, stFailed); err != nil {
		return fmt.Errorf("reopen recipients: %w", err)
	}
	nowMs := now.UnixMilli()
	stallAt, deadlineAt := pol.windows(nowMs)
	if _, err := tx.Exec(`UPDATE retry_messages SET status = ?, failed = 0, stalled = 0, reason = '', last_error = '',
		finished_at = 0, stall_at = ?, deadline_at = ? WHERE app_id = ?`, stPending, stallAt, deadlineAt, m.appID); err != nil {
		return fmt.Errorf("reopen message: %w", err)
	}
	g.onCommit(func(mt *metrics) {
		mt.rescheduled.WithLabelValues(m.flow.String(), string(mvdsguard.ReasonUserRetry)).Inc()
	})
	return g.event(tx, mvdsguard.EventRescheduled, m.appID, nil, mvdsguard.ReasonUserRetry, false, now)
}

func (g *Guard) retryPending(op *mvds.Op, m message, now time.Time) error {
	pending, err := recipientsOf(op.Tx(), m.appID, stPending)
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
	g.onCommit(func(mt *metrics) {
		mt.rescheduled.WithLabelValues(m.flow.String(), string(mvdsguard.ReasonUserRetry)).Inc()
	})
	return g.event(op.Tx(), mvdsguard.EventRescheduled, m.appID, nil, mvdsguard.ReasonUserRetry, false, now)
}

func (g *Guard) discard(op *mvds.Op, m message, now time.Time) error {
	tx := op.Tx()
	pending, err := recipientsOf(tx, m.appID, stPending)
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
		return fmt.Errorf("discard recipients: %w", err)
	}
	if _, err := tx.Exec(`UPDATE retry_messages SET status = ?, reason = ?, finished_at = ? WHERE app_id = ?`,
		stDiscarded, string(mvdsguard.ReasonUserDiscard), now.UnixMilli(), m.appID); err != nil {
		return fmt.Errorf("discard message: %w", err)
	}
	if err := g.cacheDropApp(tx, m.appID); err != nil {
		return err
	}
	return g.event(tx, mvdsguard.EventDiscarded, m.appID, nil, mvdsguard.ReasonUserDiscard, false, now)
}

// finish settles a message whose last pending recipient just resolved:
// Delivered if every recipient acknowledged, Failed otherwise. The status
// guard in the UPDATE is what makes a second failed event impossible.
func (g *Guard) finish(tx *sql.Tx, appID string, now time.Time) error {
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
	if err := g.cacheDropApp(tx, appID); err != nil {
		return err
	}
	if final == stDelivered {
		return g.event(tx, mvdsguard.EventDelivered, appID, nil, "", false, now)
	}
	f := mvdsguard.Flow(flow).String()
	g.onCommit(func(mt *metrics) { mt.failed.WithLabelValues(f, reason).Inc() })
	return g.event(tx, mvdsguard.EventFailed, appID, nil, mvdsguard.Reason(reason), true, now)
}

// failRecipients marks pending recipients failed, frees their mvds state and
// settles their messages.
func (g *Guard) failRecipients(op *mvds.Op, rs []recipient, reason mvdsguard.Reason, now time.Time) error {
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
		if err := g.finish(tx, app, now); err != nil {
			return err
		}
	}
	return nil
}

// rescheduleAll moves every pending state to the epochs the burst limit
// allows from now on, critical flows first, and writes a rescheduled event
// for every pending message.
func (g *Guard) rescheduleAll(op *mvds.Op, reason mvdsguard.Reason) (int, error) {
	dur := g.epochLength()
	// The events below copy the counters from the rows.
	if err := g.checkpoint(op.Tx(), false); err != nil {
		return 0, err
	}
	moved, err := op.Spread(func(id mvds.MessageID, _ mvds.PeerID) int {
		e := g.tracked[id]
		switch {
		case e == nil:
			return 2 // mvds's own protocol states last
		case e.policy.Indefinite():
			return 0
		default:
			return 1
		}
	}, func(i int) int64 { return g.cfg.burst.offset(i, dur) })
	if err != nil || moved == 0 {
		return moved, err
	}
	res, err := op.Tx().Exec(`INSERT INTO retry_events (type, app_id, chat_id, flow, peer, attempts, first_attempt_at, last_attempt_at, at, reason, retryable)
		SELECT ?, app_id, chat_id, flow, NULL, attempts, first_attempt_at / 1000, last_attempt_at / 1000, ?, ?, 0
		FROM retry_messages WHERE status = ? ORDER BY rowid`, int(mvdsguard.EventRescheduled), g.now().Unix(), string(reason), stPending)
	if err != nil {
		return moved, fmt.Errorf("write rescheduled events: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		g.txn.events = true
		counts, err := pendingPerFlow(op.Tx())
		if err != nil {
			return moved, err
		}
		g.onCommit(func(mt *metrics) {
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
			return nil, err
		}
		out[mvdsguard.Flow(f).String()] = n
	}
	return out, rows.Err()
}

// loadTracked fills the cache from the ledger at start-up, and replays the
// sent events after each pending row's checkpoint into its counters.
func (g *Guard) loadTracked() error {
	rows, err := g.db.SQL().Query(`SELECT DISTINCT r.mvds_id, m.app_id, m.chat_id, m.flow, m.kind, m.attempts, m.first_attempt_at, m.last_attempt_at
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
		e := g.apps[app]
		if e == nil {
			f, k := mvdsguard.Flow(flow), Kind(kind)
			e = &entry{appID: app, chatID: chat, flow: f, kind: k, policy: g.policy(f, k),
				committed: counters{attempts: tries, first: first, last: last}}
			g.apps[app] = e
		}
		var mid mvds.MessageID
		copy(mid[:], id)
		g.tracked[mid] = e
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load tracked messages: %w", err)
	}
	rows.Close()
	tail, err := sentSince(context.Background(), g.db.SQL(), "")
	if err != nil {
		return fmt.Errorf("load tracked messages: %w", err)
	}
	for app, t := range tail {
		e := g.apps[app]
		if e == nil {
			continue
		}
		e.committed = t.fold(e.committed)
		g.dirty[e] = struct{}{}
	}
	g.dirtyCount.Store(int64(len(g.dirty)))
	return nil
}

// tail is what a message's sent events after its row's checkpoint add.
type tail struct {
	n           int
	first, last int64 // unix seconds
}

func (t tail) fold(c counters) counters {
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

// sentSince reads, per pending message (or for app only), the sent events
// after its row's checkpoint.
func sentSince(ctx context.Context, db *sql.DB, app string) (map[string]tail, error) {
	q := `SELECT e.app_id, count(*), min(e.at), max(e.at) FROM retry_events e JOIN retry_messages m ON m.app_id = e.app_id
		WHERE e.seq > coalesce((SELECT min(counted_seq) FROM retry_messages WHERE status = ?), (SELECT coalesce(max(seq), 0) FROM retry_events))
		AND e.type = ? AND e.seq > m.counted_seq AND m.status = ?`
	args := []any{stPending, int(mvdsguard.EventSent), stPending}
	if app != "" {
		q = `SELECT e.app_id, count(*), min(e.at), max(e.at) FROM retry_events e JOIN retry_messages m ON m.app_id = e.app_id
			WHERE m.app_id = ? AND e.seq > m.counted_seq AND e.type = ?`
		args = []any{app, int(mvdsguard.EventSent)}
	}
	rows, err := db.QueryContext(ctx, q+` GROUP BY e.app_id`, args...)
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
