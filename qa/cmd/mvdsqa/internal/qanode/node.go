package qanode

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode/migrations"
	"github.com/mvdsguard/mvdsguard/qa/wakutransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/signals"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// MaxPayload bounds the payload of one message sent through the API: far
// below a Waku message, so that one message always fits one packet.
const MaxPayload = 64 << 10

// maxID bounds message ids (the Guard's own limit is larger).
const maxID = 256

// Node is one QA node: a go-waku node, an mvds node on its own SQLite file
// with a Guard (or status-go's stock configuration), the fault shim between
// them, and the REST API. All methods are safe for concurrent use.
type Node struct {
	cfg    Config
	logger *zap.Logger
	key    *ecdsa.PrivateKey
	id     mvds.PeerID
	db     *mvds.DB
	tr     *wakutransport.Transport
	shim   *shim
	guard  *retry.Guard // nil on a stock node
	engine engine       // the Guard's node, or the stock node
	clock  *jumpClock
	wire   *wireLog
	reg    *prometheus.Registry
	api    *apiServer

	sendMu sync.Mutex // a stock send checks for duplicates, then writes
	closed atomic.Bool
	once   sync.Once
}

// engine is what the QA node asks of the mvds node under it, whether a
// Guard runs it or it runs status-go's stock configuration.
type engine interface {
	AddPeer(ctx context.Context, group mvds.GroupID, peer mvds.PeerID) error
	Append(ctx context.Context, group mvds.GroupID, body []byte) (mvds.MessageID, error)
	CurrentEpoch() int64
	Stats() mvds.Stats
	Close() error
}

// Start brings a node up: key and database from cfg.Dir (created on first
// start), the Waku node, the mvds node with its Guard, the initial peers and
// the REST API.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	logger := cfg.Logger.Named("qanode").With(zap.String("name", cfg.Name))
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("qa node %s: data directory: %w", cfg.Name, err)
	}
	key, err := loadKey(filepath.Join(cfg.Dir, "node.key"))
	if err != nil {
		return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
	}
	n = &Node{cfg: cfg, logger: logger, key: key, id: wakutransport.PeerIDOf(key), clock: newJumpClock(), reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	own, err := mvds.SchemaFromFS("mvdsqa", migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("qa node schema: %w", err)
	}
	if n.db, err = sqlitedb.Open(filepath.Join(cfg.Dir, "node.db"), own); err != nil {
		return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
	}
	topts := []wakutransport.Option{
		wakutransport.WithListenAddress(cfg.Listen),
		wakutransport.WithLogger(cfg.Logger),
		wakutransport.WithMaxConnectionsPerIP(cfg.MaxConnectionsPerIP),
		wakutransport.WithRedialInterval(500 * time.Millisecond),
	}
	if cfg.Light != "" {
		topts = append(topts, wakutransport.WithLightMode(cfg.Light))
	}
	if cfg.Service {
		topts = append(topts, wakutransport.WithService())
	}
	if n.tr, err = wakutransport.New(key, topts...); err != nil {
		return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
	}
	n.wire = newWireLog(n.db.SQL(), logger)
	n.shim = newShim(n.tr, n.wire)
	nodeOpts := []mvds.Option{mvds.WithHandler(n.handle), mvds.WithEpoch(cfg.Epoch)}
	if cfg.Stock {
		stock, err := mvds.NewStockNode(n.db, n.shim, n.id, append(nodeOpts, mvds.WithLogger(cfg.Logger))...)
		if err != nil {
			n.shim.Close()
			return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
		}
		n.engine = stock
	} else {
		popts, err := policyOptions(cfg.Policies)
		if err != nil {
			n.shim.Close()
			return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
		}
		gopts := append([]retry.Option{
			retry.WithConnectivity(n.tr.Connectivity()),
			retry.WithClock(n.clock),
			retry.WithLogger(cfg.Logger),
			retry.WithMetrics(n.reg),
			retry.WithNodeOptions(nodeOpts...),
		}, popts...)
		if n.guard, err = retry.New(n.db, n.shim, n.id, gopts...); err != nil {
			n.shim.Close()
			return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
		}
		n.engine = n.guard.Node()
	}
	for _, addr := range cfg.Peers {
		if err := n.tr.Connect(ctx, addr); err != nil {
			// Kept anyway: the transport keeps redialling it.
			logger.Warn("initial peer not reachable yet", zap.String("addr", addr), zap.Error(err))
		}
	}
	if cfg.API != "-" {
		if n.api, err = serveAPI(n, cfg.API, cfg.Token); err != nil {
			return nil, fmt.Errorf("qa node %s: %w", cfg.Name, err)
		}
	}
	logger.Info("started", zap.String("id", retry.PeerHex(n.id[:])), zap.Strings("addrs", n.tr.Addrs()),
		zap.Bool("stock", cfg.Stock), zap.String("api", n.APIAddr()))
	return n, nil
}

// loadKey reads the node's secp256k1 key, creating it on first start.
func loadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := crypto.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(crypto.FromECDSA(key))+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write key %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	key, err := crypto.HexToECDSA(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return key, nil
}

// ID returns the node's mvds peer id.
func (n *Node) ID() mvds.PeerID { return n.id }

// Transport returns the node's Waku transport.
func (n *Node) Transport() *wakutransport.Transport { return n.tr }

// APIAddr returns the REST API's base URL ("" without a server).
func (n *Node) APIAddr() string {
	if n.api == nil {
		return ""
	}
	return "http://" + n.api.addr
}

// Info is what GET /v1/health shows.
func (n *Node) Info() Info {
	connected := 0
	for _, p := range n.tr.Peers() {
		if p.Connected {
			connected++
		}
	}
	return Info{
		Name: n.cfg.Name, ID: retry.PeerHex(n.id[:]), PeerID: n.tr.PeerID(), Addrs: n.tr.Addrs(),
		Mode: n.tr.Mode().String(), Service: n.cfg.Service, Stock: n.cfg.Stock,
		Online: n.tr.Connectivity().Online(), Offline: n.tr.Offline(), Peers: connected,
		Epoch: n.engine.CurrentEpoch(), API: n.APIAddr(),
	}
}

// apiError carries the HTTP status an error deserves.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{400, fmt.Sprintf(format, args...)}
}
func notFound(format string, args ...any) error { return &apiError{404, fmt.Sprintf(format, args...)} }
func conflict(format string, args ...any) error { return &apiError{409, fmt.Sprintf(format, args...)} }

// The body of every message a QA node sends carries its id, so that the
// receiving node can say which message arrived.
const bodyPrefix = "mvdsqa/1\n"

func encodeBody(id, payload string) []byte { return []byte(bodyPrefix + id + "\n" + payload) }

func decodeBody(b []byte) (id, payload string, ok bool) {
	s, found := strings.CutPrefix(string(b), bodyPrefix)
	if !found {
		return "", "", false
	}
	id, payload, ok = strings.Cut(s, "\n")
	return id, payload, ok
}

// ParsePeer reads a peer id written as status-go writes it: 0x04 followed
// by 128 hex digits.
func ParsePeer(s string) (mvds.PeerID, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return mvds.PeerID{}, fmt.Errorf("peer id %q must start with 0x", short(s))
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(mvds.PeerID{}) || b[0] != 4 {
		return mvds.PeerID{}, fmt.Errorf("peer id %q is not an uncompressed public key (0x04 and 128 hex digits)", short(s))
	}
	var p mvds.PeerID
	copy(p[:], b)
	return p, nil
}

func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

func groupID(name string) mvds.GroupID {
	return sha256.Sum256([]byte("mvdsqa/group/" + name))
}

// pairGroup is the stock node's one-to-one group with a peer, the same on
// both sides (status-go derives it from the chat).
func pairGroup(a, b mvds.PeerID) mvds.GroupID {
	if string(a[:]) > string(b[:]) {
		a, b = b, a
	}
	return sha256.Sum256(append(append([]byte("mvdsqa/one-to-one"), a[:]...), b[:]...))
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func validID(s string) error {
	switch {
	case s == "":
		return badRequest("id: missing")
	case len(s) > maxID:
		return badRequest("id: %d bytes, the limit is %d", len(s), maxID)
	case strings.ContainsAny(s, "\n\r\x00"):
		return badRequest("id: must not contain line breaks or NUL")
	}
	return nil
}

// CreateGroup records a group of peers this node can send to (and adds them
// to its mvds group).
func (n *Node) CreateGroup(ctx context.Context, req GroupRequest) (Group, error) {
	if !validName(req.Name) {
		return Group{}, badRequest("name: %q must be 1 to 64 letters, digits, '-', '_' or '.'", short(req.Name))
	}
	if len(req.Members) == 0 {
		return Group{}, badRequest("members: a group needs at least one member besides this node")
	}
	var members []mvds.PeerID
	seen := map[mvds.PeerID]bool{}
	for i, m := range req.Members {
		p, err := ParsePeer(m)
		if err != nil {
			return Group{}, badRequest("members[%d]: %v", i, err)
		}
		if p == n.id {
			return Group{}, badRequest("members[%d]: is this node itself", i)
		}
		if seen[p] {
			return Group{}, badRequest("members[%d]: appears twice", i)
		}
		seen[p] = true
		members = append(members, p)
	}
	gid := groupID(req.Name)
	var blob []byte
	for _, m := range members {
		if err := n.engine.AddPeer(ctx, gid, m); err != nil {
			return Group{}, fmt.Errorf("group %s: %w", req.Name, err)
		}
		blob = append(blob, m[:]...)
	}
	if _, err := n.db.SQL().ExecContext(ctx, `INSERT INTO mvdsqa_groups (name, group_id, members) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET members = excluded.members`, req.Name, gid[:], blob); err != nil {
		return Group{}, fmt.Errorf("record group %s: %w", req.Name, err)
	}
	return Group{Name: req.Name, GroupID: "0x" + hex.EncodeToString(gid[:]), Members: req.Members}, nil
}

func (n *Node) groupMembers(ctx context.Context, name string) (mvds.GroupID, []mvds.PeerID, error) {
	var blob []byte
	err := n.db.SQL().QueryRowContext(ctx, `SELECT members FROM mvdsqa_groups WHERE name = ?`, name).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return mvds.GroupID{}, nil, notFound("group %q: unknown; create it with POST /v1/groups", short(name))
	}
	if err != nil {
		return mvds.GroupID{}, nil, err
	}
	var out []mvds.PeerID
	for i := 0; i+len(mvds.PeerID{}) <= len(blob); i += len(mvds.PeerID{}) {
		var p mvds.PeerID
		copy(p[:], blob[i:])
		out = append(out, p)
	}
	return groupID(name), out, nil
}

// Send sends a message and returns its status right after.
func (n *Node) Send(ctx context.Context, req SendRequest) (Message, error) {
	if n.closed.Load() {
		return Message{}, &apiError{503, "node is shutting down"}
	}
	if err := validID(req.ID); err != nil {
		return Message{}, err
	}
	flow, err := mvdsguard.ParseFlow(req.Flow)
	if err != nil {
		return Message{}, badRequest("flow: %v", err)
	}
	kind, err := ParseKind(req.Kind)
	if err != nil {
		return Message{}, badRequest("kind: %v", err)
	}
	if len(req.Payload) > MaxPayload {
		return Message{}, &apiError{413, fmt.Sprintf("payload: %d bytes, the limit is %d", len(req.Payload), MaxPayload)}
	}
	if len(req.ChatID) > maxID {
		return Message{}, badRequest("chatId: %d bytes, the limit is %d", len(req.ChatID), maxID)
	}
	var (
		peers []mvds.PeerID
		group *mvds.GroupID
	)
	switch {
	case req.To != "" && req.Group != "":
		return Message{}, badRequest("to and group: give one, not both")
	case req.To != "":
		p, err := ParsePeer(req.To)
		if err != nil {
			return Message{}, badRequest("to: %v", err)
		}
		if p == n.id {
			return Message{}, badRequest("to: is this node itself")
		}
		peers = []mvds.PeerID{p}
	case req.Group != "":
		g, members, err := n.groupMembers(ctx, req.Group)
		if err != nil {
			return Message{}, err
		}
		group, peers = &g, members
	default:
		return Message{}, badRequest("to or group: one is required")
	}
	body := encodeBody(req.ID, req.Payload)
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	var recips []recipientRow
	if n.guard != nil {
		out := retry.Outgoing{AppID: req.ID, ChatID: req.ChatID, Flow: flow, Kind: kind, Payload: body}
		if group != nil {
			out.Group = group
		} else {
			out.Peers = peers
		}
		if err := n.guard.Send(ctx, out); err != nil {
			switch {
			case errors.Is(err, retry.ErrAlreadyTracked):
				return Message{}, conflict("id: %q was already sent", short(req.ID))
			case errors.Is(err, retry.ErrInvalidOutgoing):
				return Message{}, badRequest("%v", err)
			}
			return Message{}, err
		}
		st, err := n.guard.Status(ctx, req.ID)
		if err != nil {
			return Message{}, err
		}
		for _, r := range st.Recipients {
			recips = append(recips, recipientRow{peer: r.Peer, mvdsID: r.MessageID})
		}
	} else {
		if exists, err := n.sentExists(ctx, req.ID); err != nil {
			return Message{}, err
		} else if exists {
			return Message{}, conflict("id: %q was already sent", short(req.ID))
		}
		if group == nil {
			g := pairGroup(n.id, peers[0])
			if err := n.engine.AddPeer(ctx, g, peers[0]); err != nil {
				return Message{}, err
			}
			group = &g
		}
		mid, err := n.engine.Append(ctx, *group, body)
		if err != nil {
			return Message{}, err
		}
		for _, p := range peers {
			recips = append(recips, recipientRow{peer: p, mvdsID: mid})
		}
	}
	if err := n.recordSent(ctx, req, flow, kind, recips); err != nil {
		return Message{}, err
	}
	return n.Message(ctx, req.ID)
}

type recipientRow struct {
	peer    mvds.PeerID
	mvdsID  mvds.MessageID
	ackedAt *time.Time
}

func (n *Node) sentExists(ctx context.Context, id string) (bool, error) {
	var c int
	err := n.db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM mvdsqa_sent WHERE app_id = ?`, id).Scan(&c)
	return c > 0, err
}

func (n *Node) recordSent(ctx context.Context, req SendRequest, flow mvdsguard.Flow, kind retry.Kind, rs []recipientRow) error {
	now := time.Now().UnixMilli()
	tx, err := n.db.SQL().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record %q: %w", req.ID, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, r := range rs {
		var acked any
		// An ack may have come back before the row existed.
		if at, ok := n.wire.ackOf(r.mvdsID, r.peer); ok {
			acked = at.UnixMilli()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mvdsqa_sent (app_id, peer, mvds_id, chat_id, flow, kind, group_name, sent_at, acked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, req.ID, r.peer[:], r.mvdsID[:], req.ChatID, int(flow), int(kind), req.Group, now, acked); err != nil {
			return fmt.Errorf("record %q: %w", req.ID, err)
		}
	}
	return tx.Commit()
}

type sentRow struct {
	appID, chatID, group string
	flow, kind           int
	sentAt               time.Time
	recips               []recipientRow
}

func (n *Node) sentRows(ctx context.Context, appID string) (map[string]*sentRow, []string, error) {
	q := `SELECT app_id, peer, mvds_id, chat_id, flow, kind, group_name, sent_at, acked_at FROM mvdsqa_sent`
	var args []any
	if appID != "" {
		q += ` WHERE app_id = ?`
		args = append(args, appID)
	}
	q += ` ORDER BY sent_at, app_id`
	rows, err := n.db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("read sent messages: %w", err)
	}
	defer rows.Close()
	out := map[string]*sentRow{}
	var order []string
	for rows.Next() {
		var (
			id, chat, group string
			peer, mid       []byte
			flow, kind      int
			sent            int64
			acked           sql.NullInt64
		)
		if err := rows.Scan(&id, &peer, &mid, &chat, &flow, &kind, &group, &sent, &acked); err != nil {
			return nil, nil, fmt.Errorf("read sent messages: %w", err)
		}
		s := out[id]
		if s == nil {
			s = &sentRow{appID: id, chatID: chat, group: group, flow: flow, kind: kind, sentAt: time.UnixMilli(sent)}
			out[id] = s
			order = append(order, id)
		}
		r := recipientRow{}
		copy(r.peer[:], peer)
		copy(r.mvdsID[:], mid)
		if acked.Valid {
			t := time.UnixMilli(acked.Int64)
			r.ackedAt = &t
		} else if t, ok := n.wire.ackOf(r.mvdsID, r.peer); ok {
			r.ackedAt = &t
		}
		s.recips = append(s.recips, r)
	}
	return out, order, rows.Err()
}

// Message returns one sent message's status.
func (n *Node) Message(ctx context.Context, id string) (Message, error) {
	rows, _, err := n.sentRows(ctx, id)
	if err != nil {
		return Message{}, err
	}
	if n.guard != nil {
		st, err := n.guard.Status(ctx, id)
		if errors.Is(err, retry.ErrUnknownMessage) {
			return Message{}, notFound("message %q: unknown", short(id))
		}
		if err != nil {
			return Message{}, err
		}
		return n.guardedMessage(st, rows[id]), nil
	}
	s := rows[id]
	if s == nil {
		return Message{}, notFound("message %q: unknown", short(id))
	}
	return n.stockMessage(s), nil
}

// Messages lists every message this node sent, oldest first; status filters
// ("pending", "delivered", "failed", "discarded"; "" for all).
func (n *Node) Messages(ctx context.Context, status string) ([]Message, error) {
	var want mvdsguard.Status
	if status != "" {
		s, err := mvdsguard.ParseStatus(status)
		if err != nil {
			return nil, badRequest("status: %v", err)
		}
		want = s
	}
	rows, order, err := n.sentRows(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []Message{}
	if n.guard != nil {
		all, err := n.guard.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{mvdsguard.Pending, mvdsguard.Delivered, mvdsguard.Failed, mvdsguard.Discarded}})
		if err != nil {
			return nil, err
		}
		for _, st := range all {
			if want != 0 && st.Status != want {
				continue
			}
			out = append(out, n.guardedMessage(st, rows[st.AppID]))
		}
		return out, nil
	}
	for _, id := range order {
		m := n.stockMessage(rows[id])
		if status == "" || m.Status == status {
			out = append(out, m)
		}
	}
	return out, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (n *Node) guardedMessage(st retry.MessageStatus, s *sentRow) Message {
	m := Message{
		ID: st.AppID, ChatID: st.ChatID, Flow: st.Flow.String(), Kind: st.Kind.String(), Status: st.Status.String(),
		Stalled: st.Stalled, Attempts: st.Attempts, SentAt: st.CreatedAt, FinishedAt: timePtr(st.FinishedAt),
		LastError: st.LastError, Reason: string(st.Reason), Retryable: st.Retryable, Recipients: []Recipient{},
	}
	acked := map[mvds.PeerID]*time.Time{}
	if s != nil {
		m.SentAt, m.Group = s.sentAt, s.group
		for _, r := range s.recips {
			acked[r.peer] = r.ackedAt
		}
	}
	for _, r := range st.Recipients {
		m.Recipients = append(m.Recipients, Recipient{Peer: retry.PeerHex(r.Peer[:]), MessageID: "0x" + hex.EncodeToString(r.MessageID[:]),
			Status: r.Status.String(), AckedAt: acked[r.Peer]})
	}
	return m
}

// stockMessage derives a stock node's status from the wire: status-go's
// node says nothing, so a message is delivered once every recipient's ack
// was seen, and pending until then — there is no failed.
func (n *Node) stockMessage(s *sentRow) Message {
	m := Message{ID: s.appID, ChatID: s.chatID, Flow: mvdsguard.Flow(s.flow).String(), Kind: retry.Kind(s.kind).String(),
		Group: s.group, Status: mvdsguard.Delivered.String(), SentAt: s.sentAt, Recipients: []Recipient{}}
	var last time.Time
	for _, r := range s.recips {
		all, _ := n.wire.attemptsOf(r.mvdsID, r.peer)
		m.Attempts += all
		st := mvdsguard.Delivered.String()
		if r.ackedAt == nil {
			st = mvdsguard.Pending.String()
			m.Status = st
		} else if r.ackedAt.After(last) {
			last = *r.ackedAt
		}
		m.Recipients = append(m.Recipients, Recipient{Peer: retry.PeerHex(r.peer[:]), MessageID: "0x" + hex.EncodeToString(r.mvdsID[:]),
			Status: st, AckedAt: r.ackedAt})
	}
	if m.Status == mvdsguard.Delivered.String() {
		m.FinishedAt = timePtr(last)
	}
	return m
}

// Retry and Discard are the GUI's actions; a stock node has neither.
func (n *Node) Retry(ctx context.Context, id string) (Message, error) {
	return n.act(ctx, id, "retry", func() error { return n.guard.Retry(ctx, id) }, retry.ErrNotRetryable)
}

// Discard gives up on a message.
func (n *Node) Discard(ctx context.Context, id string) (Message, error) {
	return n.act(ctx, id, "discard", func() error { return n.guard.Discard(ctx, id) }, retry.ErrNotDiscardable)
}

func (n *Node) act(ctx context.Context, id, name string, do func() error, refused error) (Message, error) {
	if n.guard == nil {
		return Message{}, conflict("%s: a stock node has no %s (status-go offers none)", name, name)
	}
	err := do()
	switch {
	case errors.Is(err, retry.ErrUnknownMessage):
		return Message{}, notFound("message %q: unknown", short(id))
	case errors.Is(err, refused):
		return Message{}, conflict("%v", err)
	case err != nil:
		return Message{}, err
	}
	return n.Message(ctx, id)
}

// handle records a message the application received, in the transaction
// that hands it over: exactly once, across restarts.
func (n *Node) handle(_ context.Context, tx *sql.Tx, m mvds.Received) error {
	id, payload, ok := decodeBody(m.Body)
	if !ok {
		id, payload = "0x"+hex.EncodeToString(m.ID[:]), string(m.Body)
	}
	_, err := tx.Exec(`INSERT INTO mvdsqa_received (app_id, mvds_id, sender, group_id, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, m.ID[:], m.Sender[:], m.Group[:], []byte(payload), m.At.UnixMilli())
	return err
}

// Received lists what the application received after seq, oldest first.
func (n *Node) Received(ctx context.Context, after int64, limit int) ([]Received, error) {
	rows, err := n.db.SQL().QueryContext(ctx, `SELECT seq, app_id, mvds_id, sender, group_id, payload, received_at
		FROM mvdsqa_received WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read received messages: %w", err)
	}
	defer rows.Close()
	out := []Received{}
	for rows.Next() {
		var (
			r                  Received
			mid, sender, group []byte
			payload            []byte
			at                 int64
		)
		if err := rows.Scan(&r.Seq, &r.ID, &mid, &sender, &group, &payload, &at); err != nil {
			return nil, fmt.Errorf("read received messages: %w", err)
		}
		r.MessageID, r.From, r.Group = "0x"+hex.EncodeToString(mid), retry.PeerHex(sender), "0x"+hex.EncodeToString(group)
		r.Payload, r.At = string(payload), time.UnixMilli(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Events lists the Guard's events after seq; a stock node has none.
func (n *Node) Events(ctx context.Context, after uint64, limit int) ([]mvdsguard.Event, error) {
	if n.guard == nil {
		return []mvdsguard.Event{}, nil
	}
	evs, err := n.guard.Events(ctx, after, limit)
	if evs == nil {
		evs = []mvdsguard.Event{}
	}
	return evs, err
}

// SetOnline takes the node off the network for real (every connection
// closed, new ones refused) or brings it back (kept peers redialled).
func (n *Node) SetOnline(ctx context.Context, online bool) error {
	if online {
		if err := n.tr.GoOnline(ctx); err != nil {
			n.logger.Info("some kept peers did not answer yet", zap.Error(err))
		}
		return nil
	}
	return n.tr.GoOffline()
}

// Connect dials a peer and keeps it connected.
func (n *Node) Connect(ctx context.Context, addr string) error {
	err := n.tr.Connect(ctx, addr)
	if errors.Is(err, wakutransport.ErrOffline) {
		return conflict("node is offline: the peer is kept and dialled when it comes back online")
	}
	if errors.Is(err, wakutransport.ErrBadAddress) {
		return badRequest("addr: %v", err)
	}
	if err != nil {
		return &apiError{502, err.Error()}
	}
	return nil
}

// Disconnect closes a peer's connection and stops redialling it.
func (n *Node) Disconnect(peer string) error {
	if err := n.tr.Disconnect(peer); err != nil {
		if strings.Contains(err.Error(), "not a peer") {
			return notFound("%v", err)
		}
		return badRequest("%v", err)
	}
	return nil
}

// SetFaults replaces the injected faults.
func (n *Node) SetFaults(f Faults) error {
	var parted []mvds.PeerID
	for i, s := range f.Partition {
		p, err := ParsePeer(s)
		if err != nil {
			return badRequest("partition[%d]: %v", i, err)
		}
		parted = append(parted, p)
	}
	if f.Latency < 0 || time.Duration(f.Latency) > time.Minute {
		return badRequest("latency: %v must be between 0 and 1m", time.Duration(f.Latency))
	}
	n.shim.setFaults(parted, time.Duration(f.Latency))
	return nil
}

// Faults returns the injected faults.
func (n *Node) Faults() Faults {
	parted, lat := n.shim.faults()
	f := Faults{Partition: []string{}, Latency: Duration(lat)}
	for _, p := range parted {
		f.Partition = append(f.Partition, retry.PeerHex(p[:]))
	}
	return f
}

// JumpClock moves the Guard's wall clock forward, as a wake from sleep does.
func (n *Node) JumpClock(d time.Duration) (ClockState, error) {
	if d <= 0 || d > 365*24*time.Hour {
		return ClockState{}, badRequest("by: %v must be positive and at most a year", d)
	}
	now, off := n.clock.jump(d)
	effect := "the Guard's wall clock moved; its wake detector compares it with the monotonic clock every second"
	if n.guard == nil {
		effect = "none: a stock node reads no clock (status-go's mvds counts epochs only)"
	}
	return ClockState{Now: now, Offset: Duration(off), Effect: effect}, nil
}

// Stats returns the transport's, the shim's and the engine's counters.
func (n *Node) Stats() Stats {
	e := n.engine.Stats()
	return Stats{Transport: n.tr.Stats(), Shim: n.shim.snapshot(),
		Engine: EngineStats{PacketsIn: e.PacketsIn, PacketsInvalid: e.PacketsInvalid, PacketsOut: e.PacketsOut, SendErrors: e.SendErrors}}
}

// Close stops the API, the Guard (or stock node) with the transport, and
// closes the database.
func (n *Node) Close() error {
	var errs []error
	n.once.Do(func() {
		n.closed.Store(true)
		if n.api != nil {
			errs = append(errs, n.api.close())
		}
		switch {
		case n.guard != nil:
			errs = append(errs, n.guard.Close())
		case n.engine != nil:
			errs = append(errs, n.engine.Close())
		case n.shim != nil:
			errs = append(errs, n.shim.Close())
		case n.tr != nil:
			errs = append(errs, n.tr.Close())
		}
		if n.wire != nil {
			n.wire.close()
		}
		if n.db != nil {
			errs = append(errs, n.db.Close())
		}
		n.logger.Info("stopped")
	})
	return errors.Join(errs...)
}

// Abort is the nearest an in-process node comes to SIGKILL: the network
// goes first, without a goodbye, then everything else stops. (A real
// SIGKILL needs a node run as a process: mvdsqa node.)
func (n *Node) Abort() {
	_ = n.tr.Close()
	_ = n.Close()
}

// Signals lists the signals of the Guard's events after seq (package
// signals); a stock node has none.
func (n *Node) Signals(ctx context.Context, after uint64, limit int) ([]signals.Signal, error) {
	out := []signals.Signal{}
	if n.guard == nil {
		return out, nil
	}
	t, err := signals.Resume(ctx, n.guard)
	if err != nil {
		return nil, err
	}
	evs, err := n.guard.Events(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		out = append(out, t.Translate(e)...)
	}
	return out, nil
}
