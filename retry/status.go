package retry

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// MessageStatus is what the GUI shows for one message.
type MessageStatus struct {
	AppID          string
	ChatID         string
	Flow           mvdsguard.Flow
	Kind           Kind
	Status         mvdsguard.Status
	Stalled        bool // pending past the stall threshold: show "pending", not "sent"
	Attempts       int  // across all recipients and rounds (see Retry)
	CreatedAt      time.Time
	FirstAttemptAt time.Time // zero before the first attempt
	LastAttemptAt  time.Time
	FinishedAt     time.Time // when it became delivered, failed or discarded
	LastError      string    // the transport's last error, if any
	Reason         mvdsguard.Reason
	Retryable      bool // failed: the GUI offers a retry button
	Recipients     []RecipientStatus
}

// RecipientStatus is one recipient's part of a message: a receipt per
// member of a group.
type RecipientStatus struct {
	Peer        mvds.PeerID
	MessageID   mvds.MessageID // the mvds message carrying it to this peer
	Status      mvdsguard.Status
	DeliveredAt time.Time
}

// Filter selects messages for Pending. The zero Filter selects every pending
// or failed message.
type Filter struct {
	Flow     mvdsguard.Flow     // 0: every flow
	ChatID   string             // "": every chat
	Statuses []mvdsguard.Status // nil: pending and failed
	Limit    int                // 0: no limit
}

// statusColumns are what scanStatus reads from retry_messages m joined with
// tailJoin's t: the row and the sent events logged after its checkpoint.
const statusColumns = `m.app_id, m.chat_id, m.flow, m.kind, m.status, m.stalled, m.attempts, m.created_at,
	m.first_attempt_at, m.last_attempt_at, m.finished_at, m.last_error, m.reason,
	coalesce(t.n, 0), coalesce(t.first_at, 0), coalesce(t.last_at, 0)`

// tailJoin joins each pending row m with its tail t, read by the statement
// that reads the rows: one snapshot, so that a checkpoint written between two
// reads can neither count an attempt twice nor lose it. appFilter narrows
// the tails to one message ("AND p.app_id = ?").
func tailJoin(appFilter string) string {
	return ` LEFT JOIN (` + tails(appFilter) + `) t ON t.app_id = m.app_id`
}

// tails selects, per pending message, the sent events logged after its row's
// checkpoint (app_id, n, first_at, last_at): at start-up what a crash kept
// out of the row, for Status and Pending what the next checkpoint will add.
// Settled rows have none. The events read are the recent end of the log, by
// sequence number.
func tails(appFilter string) string {
	return fmt.Sprintf(`SELECT e.app_id, count(*) AS n, min(e.at) AS first_at, max(e.at) AS last_at
		FROM retry_events e JOIN retry_messages p ON p.app_id = e.app_id
		WHERE e.seq > coalesce((SELECT min(counted_seq) FROM retry_messages WHERE status = %d), (SELECT coalesce(max(seq), 0) FROM retry_events))
		AND e.type = %d AND e.seq > p.counted_seq AND p.status = %d %s GROUP BY e.app_id`,
		stPending, int(mvdsguard.EventSent), stPending, appFilter)
}

func scanStatus(sc interface{ Scan(...any) error }) (MessageStatus, error) {
	var (
		s                              MessageStatus
		flow, kind, status             int
		stalled                        bool
		created, first, last, finished int64
		reason                         string
		tl                             tail
	)
	if err := sc.Scan(&s.AppID, &s.ChatID, &flow, &kind, &status, &stalled, &s.Attempts, &created, &first, &last,
		&finished, &s.LastError, &reason, &tl.n, &tl.first, &tl.last); err != nil {
		return MessageStatus{}, err
	}
	t := tl.fold(tally{attempts: s.Attempts, first: first, last: last})
	s.Attempts, first, last = t.attempts, t.first, t.last
	s.Flow, s.Kind, s.Status, s.Stalled = mvdsguard.Flow(flow), Kind(kind), mvdsguard.Status(status), stalled
	s.CreatedAt, s.FirstAttemptAt, s.LastAttemptAt, s.FinishedAt = timeMillis(created), timeMillis(first), timeMillis(last), timeMillis(finished)
	s.Reason = mvdsguard.Reason(reason)
	s.Retryable = s.Status == mvdsguard.Failed
	return s, nil
}

// status reads a tracked message's status.
func (l *ledger) status(ctx context.Context, appID string) (MessageStatus, error) {
	s, err := scanStatus(l.db.QueryRowContext(ctx, `SELECT `+statusColumns+` FROM retry_messages m`+tailJoin("AND p.app_id = ?")+
		` WHERE m.app_id = ?`, appID, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return MessageStatus{}, fmt.Errorf("status of %q: %w", appID, ErrUnknownMessage)
	}
	if err != nil {
		return MessageStatus{}, fmt.Errorf("status of %q: %w", appID, err)
	}
	if s.Recipients, err = l.recipients(ctx, s.AppID); err != nil {
		return MessageStatus{}, err
	}
	return s, nil
}

// recipients reads a message's recipients.
func (l *ledger) recipients(ctx context.Context, appID string) ([]RecipientStatus, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT mvds_id, peer, status, delivered_at FROM retry_recipients
		WHERE app_id = ? ORDER BY peer`, appID)
	if err != nil {
		return nil, fmt.Errorf("recipients of %q: %w", appID, err)
	}
	defer rows.Close()
	var out []RecipientStatus
	for rows.Next() {
		var (
			r           RecipientStatus
			id, peer    []byte
			status      int
			deliveredAt int64
		)
		if err := rows.Scan(&id, &peer, &status, &deliveredAt); err != nil {
			return nil, fmt.Errorf("recipients of %q: %w", appID, err)
		}
		copy(r.MessageID[:], id)
		copy(r.Peer[:], peer)
		r.Status, r.DeliveredAt = mvdsguard.Status(status), timeMillis(deliveredAt)
		out = append(out, r)
	}
	return out, rows.Err()
}

// pending lists the messages f selects, oldest first.
func (l *ledger) pending(ctx context.Context, f Filter) ([]MessageStatus, error) {
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []mvdsguard.Status{mvdsguard.Pending, mvdsguard.Failed}
	}
	var where []string
	var args []any
	var in []string
	for _, s := range statuses {
		if !s.Valid() {
			return nil, fmt.Errorf("pending: unknown status %d in filter", uint8(s))
		}
		in = append(in, "?")
		args = append(args, int(s))
	}
	where = append(where, "m.status IN ("+strings.Join(in, ", ")+")")
	if f.Flow != 0 {
		if !f.Flow.Valid() {
			return nil, fmt.Errorf("pending: unknown flow %d in filter", uint8(f.Flow))
		}
		where = append(where, "m.flow = ?")
		args = append(args, int(f.Flow))
	}
	if f.ChatID != "" {
		where = append(where, "m.chat_id = ?")
		args = append(args, f.ChatID)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("pending: negative limit %d", f.Limit)
	}
	q := `SELECT ` + statusColumns + ` FROM retry_messages m` + tailJoin("") + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY m.created_at, m.app_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	var out []MessageStatus
	for rows.Next() {
		s, err := scanStatus(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("pending: %w", err)
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	for i := range out {
		if out[i].Recipients, err = l.recipients(ctx, out[i].AppID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PeerHex renders a peer id as status-go does ("0x04…").
func PeerHex(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	return "0x" + hex.EncodeToString(p)
}

// statusJSON is MessageStatus's JSON form: the event log's names and unix
// seconds, so a GUI reads a status and an event alike.
type statusJSON struct {
	ID             string           `json:"id"`
	ChatID         string           `json:"chatId,omitempty"`
	Flow           mvdsguard.Flow   `json:"flow"`
	Kind           string           `json:"kind"`
	Status         mvdsguard.Status `json:"status"`
	Stalled        bool             `json:"stalled,omitempty"`
	Attempts       int              `json:"attempts"`
	CreatedAt      int64            `json:"createdAt,omitempty"`
	FirstAttemptAt int64            `json:"firstAttemptAt,omitempty"`
	LastAttemptAt  int64            `json:"lastAttemptAt,omitempty"`
	FinishedAt     int64            `json:"finishedAt,omitempty"`
	LastError      string           `json:"lastError,omitempty"`
	Reason         mvdsguard.Reason `json:"reason,omitempty"`
	Retryable      bool             `json:"retryable,omitempty"`
	Recipients     []recipientJSON  `json:"recipients"`
}

type recipientJSON struct {
	Peer        string           `json:"peer"`
	MessageID   string           `json:"messageId"`
	Status      mvdsguard.Status `json:"status"`
	DeliveredAt int64            `json:"deliveredAt,omitempty"`
}

// MarshalJSON writes the status as a GUI reads it: the field names and
// values of the event log (docs/events.md), times in unix seconds and
// absent while zero, peers and mvds ids in "0x…" hex.
func (s MessageStatus) MarshalJSON() ([]byte, error) {
	if !s.Kind.valid() {
		return nil, fmt.Errorf("marshal status of %q: invalid kind %d", s.AppID, uint8(s.Kind))
	}
	out := statusJSON{
		ID: s.AppID, ChatID: s.ChatID, Flow: s.Flow, Kind: s.Kind.String(), Status: s.Status, Stalled: s.Stalled,
		Attempts: s.Attempts, CreatedAt: unixOrZero(s.CreatedAt), FirstAttemptAt: unixOrZero(s.FirstAttemptAt),
		LastAttemptAt: unixOrZero(s.LastAttemptAt), FinishedAt: unixOrZero(s.FinishedAt), LastError: s.LastError,
		Reason: s.Reason, Retryable: s.Retryable, Recipients: make([]recipientJSON, 0, len(s.Recipients)),
	}
	for _, r := range s.Recipients {
		out.Recipients = append(out.Recipients, recipientJSON{
			Peer: PeerHex(r.Peer[:]), MessageID: PeerHex(r.MessageID[:]),
			Status: r.Status, DeliveredAt: unixOrZero(r.DeliveredAt),
		})
	}
	return json.Marshal(out)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
