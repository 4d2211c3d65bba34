package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/sgnode"
)

// This file runs scenario nodes on status-go itself: each a status-backend
// process (or one already running), logged in with Waku on loopback only,
// behind the same nodeAPI as the reference nodes, so that steps, the
// observer and the expectations stay one code path. What status-go cannot
// be asked to do is refused before any process starts (cannotExpress), or,
// for what depends on the build, when setup probes it.

// nodeAPI is what the runner asks of a node: a reference node's REST client
// (*qanode.Client) or a status-go node (*sgNode).
type nodeAPI interface {
	Health(ctx context.Context) (qanode.Info, error)
	Connect(ctx context.Context, addr string) error
	Disconnect(ctx context.Context, peer string) error
	CreateGroup(ctx context.Context, g qanode.GroupRequest) (qanode.Group, error)
	Send(ctx context.Context, m qanode.SendRequest) (qanode.Message, error)
	Messages(ctx context.Context) ([]qanode.Message, error)
	Message(ctx context.Context, id string) (qanode.Message, error)
	Received(ctx context.Context, after int64) ([]qanode.Received, error)
	Events(ctx context.Context, after uint64) ([]mvdsguard.Event, error)
	SetOnline(ctx context.Context, online bool) error
	SetFaults(ctx context.Context, f qanode.Faults) error
	JumpClock(ctx context.Context, by time.Duration) (qanode.ClockState, error)
	Retry(ctx context.Context, id string) (qanode.Message, error)
	Discard(ctx context.Context, id string) (qanode.Message, error)
}

// VariantStatusGo names runs on status-backend nodes.
const VariantStatusGo = "status-go"

// sgTimeout bounds each setup wait on status-go: a login, a contact
// request accepted, a group joined.
const sgTimeout = 90 * time.Second

// errCannotExpress marks what status-go cannot be asked to do.
var errCannotExpress = errors.New("status-go cannot express this")

// sgNet is what the status-go nodes of one run share: which status-go
// message is which scenario message, and the private groups' chat ids.
type sgNet struct {
	mu     sync.Mutex
	ids    map[string]string // status-go message id (lower case) → scenario id
	groups map[string]string // group name → chat id
	guard  bool              // a node published an mvds.message.* signal
}

func newSGNet() *sgNet {
	return &sgNet{ids: map[string]string{}, groups: map[string]string{}}
}

func (g *sgNet) scenarioID(sgID string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, ok := g.ids[strings.ToLower(sgID)]
	return id, ok
}

func (g *sgNet) guardWired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.guard
}

// sgNode is one scenario node on status-go.
type sgNode struct {
	r       *run
	n       *node
	binary  string
	profile sgnode.Profile
	rec     *sgnode.Recorder // the exchange, kept in the node's directory
	recFile *os.File

	mu       sync.Mutex
	proc     *sgnode.Process
	api      *sgnode.Node
	keyUID   string
	key      string // the user's public key, the same across restarts
	online   bool   // as told through ConnectionChange
	scanned  int    // signals read
	gaps     int    // stream resumptions already reconciled
	sent     []*sgSent
	byID     map[string]*sgSent // status-go id (lower case) → what this node sent
	received map[string]bool    // status-go ids seen in messages.new
	recv     []qanode.Received  // received messages mapped to scenario ids, in order
	facts    map[string]*sgFacts
	guardEvs []mvdsguard.Event // the Guard's events as status-go sent them
	mapped   []bool            // guardEvs[i] is in events
	events   []mvdsguard.Event // mapped to scenario ids, in the order they were mapped
}

type sgSent struct {
	id, sgID  string
	flow      string
	group     string
	to        []string // recipients' public keys
	at        time.Time
	confirmed bool // outgoingStatus "delivered", read after a gap in the signals
}

// sgFacts is what a node's signals said of one status-go message. They
// are kept by status-go's id whether or not the runner knows the message
// yet: a signal can come before the answer to the send that made it.
type sgFacts struct {
	delivered bool // message.delivered
	sent      bool // envelope.sent
	expired   bool // envelope.expired
	failed    bool // the Guard's mvds.message.failed
}

func newSGNode(r *run, n *node) (*sgNode, error) {
	bin := n.spec.Binary
	if bin == "" {
		bin = r.opts.StatusBackend
	}
	if bin == "" && n.spec.URL == "" {
		return nil, fmt.Errorf("node %s: a status-backend node needs binary (or the run's -status-backend) or url", n.spec.Name)
	}
	return &sgNode{r: r, n: n, binary: bin, online: true,
		profile: sgnode.LocalProfile(filepath.Join(n.dir, "status-go"), n.spec.Name),
		byID:    map[string]*sgSent{}, received: map[string]bool{}, facts: map[string]*sgFacts{}}, nil
}

// start starts the process (again) and logs in: a new account the first
// time, the same account after a restart.
func (g *sgNode) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sgTimeout)
	defer cancel()
	name := g.n.spec.Name
	addr := g.n.spec.URL
	var proc *sgnode.Process
	var opts []sgnode.Option
	if h := g.n.host; h != nil {
		// -netns: the process in its node's namespace, reached there.
		opts = append(opts, sgnode.Wrapped(h.Wrap), sgnode.Via(h.DialContext))
	}
	if addr == "" {
		var err error
		proc, err = sgnode.StartProcess(ctx, name, g.binary, g.n.logs, startTimeout, opts...)
		if err != nil {
			return err
		}
		addr = proc.Addr()
	}
	if g.rec == nil {
		f, err := os.OpenFile(filepath.Join(g.n.dir, "status-backend.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		g.recFile, g.rec = f, sgnode.NewRecorder(f)
	}
	api, err := sgnode.Connect(ctx, name, addr, g.rec, opts...)
	if err == nil {
		if g.keyUID == "" {
			err = api.CreateAccount(ctx, g.profile)
		} else {
			err = api.Login(ctx, g.profile, g.keyUID)
		}
	}
	if err != nil {
		if api != nil {
			api.Close()
		}
		if proc != nil {
			proc.Stop(10 * time.Second)
		}
		return err
	}
	g.mu.Lock()
	g.proc, g.api, g.keyUID, g.key, g.scanned, g.gaps, g.online = proc, api, api.Account.KeyUID, api.Account.PublicKey, 0, 0, true
	g.mu.Unlock()
	return nil
}

// publicKey is the user's public key ("" before the first login).
func (g *sgNode) publicKey() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.key
}

// client returns the logged-in node, or an error naming the node.
func (g *sgNode) client() (*sgnode.Node, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.api == nil {
		return nil, fmt.Errorf("node %s is not running", g.n.spec.Name)
	}
	// Without its signals the runner would see nothing the node does.
	if err := g.api.Signals.Err(); err != nil {
		return nil, err
	}
	return g.api, nil
}

// kill SIGKILLs the process.
func (g *sgNode) kill() error {
	g.mu.Lock()
	proc, api := g.proc, g.api
	g.proc, g.api = nil, nil
	g.mu.Unlock()
	if proc == nil {
		return fmt.Errorf("node %s: the runner did not start its status-backend; it cannot kill it", g.n.spec.Name)
	}
	if api != nil {
		api.Close()
	}
	proc.Kill()
	return nil
}

func (g *sgNode) signal(sig syscall.Signal) error {
	g.mu.Lock()
	proc := g.proc
	g.mu.Unlock()
	if proc == nil {
		return fmt.Errorf("node %s: the runner did not start its status-backend; it cannot freeze it", g.n.spec.Name)
	}
	return proc.Signal(sig)
}

// stop logs out and ends the process, for good.
func (g *sgNode) stop() {
	g.mu.Lock()
	proc, api := g.proc, g.api
	g.proc, g.api = nil, nil
	g.mu.Unlock()
	if api != nil {
		if proc == nil { // one already running: leave it logged out
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = api.Call(ctx, "Logout", nil)
			cancel()
		}
		api.Close()
	}
	if proc != nil {
		proc.Stop(20 * time.Second)
	}
	if g.recFile != nil {
		_ = g.recFile.Close()
		g.recFile, g.rec = nil, nil
	}
}

// Health reports the node as the runner sees nodes: its id is the user's
// public key, its addresses its loopback Waku addresses, online when it has
// a peer and was not told it is offline.
func (g *sgNode) Health(ctx context.Context) (qanode.Info, error) {
	api, err := g.client()
	if err != nil {
		return qanode.Info{}, err
	}
	addrs, err := api.ListenAddresses(ctx)
	if err != nil {
		return qanode.Info{}, err
	}
	peers, err := api.Peers(ctx)
	if err != nil {
		return qanode.Info{}, err
	}
	g.mu.Lock()
	online := g.online
	g.mu.Unlock()
	info := qanode.Info{Name: g.n.spec.Name, ID: api.Account.PublicKey, Addrs: loopbackFirst(addrs),
		Mode: "relay", Stock: true, Online: online && len(peers) > 0, Offline: !online, Peers: len(peers), API: api.Addr()}
	if len(info.Addrs) > 0 {
		if m, err := multiaddr.NewMultiaddr(info.Addrs[0]); err == nil {
			info.PeerID, _ = m.ValueForProtocol(multiaddr.P_P2P)
		}
	}
	return info, nil
}

// loopbackFirst orders multiaddrs with 127.0.0.1 ones first: status-go
// listens on every interface, and the runner dials on loopback.
func loopbackFirst(addrs []string) []string {
	out := append([]string(nil), addrs...)
	isLoop := func(a string) bool {
		h := addrHost(a)
		ip := net.ParseIP(h)
		return ip != nil && ip.IsLoopback()
	}
	sort.SliceStable(out, func(i, j int) bool { return isLoop(out[i]) && !isLoop(out[j]) })
	return out
}

func (g *sgNode) Connect(ctx context.Context, addr string) error {
	api, err := g.client()
	if err != nil {
		return err
	}
	return api.DialPeer(ctx, addr)
}

func (g *sgNode) Disconnect(ctx context.Context, peer string) error {
	api, err := g.client()
	if err != nil {
		return err
	}
	return api.DropPeer(ctx, peer)
}

// CreateGroup is not how status-go makes groups (one member creates it,
// the others join): setupStatusGo does that.
func (g *sgNode) CreateGroup(context.Context, qanode.GroupRequest) (qanode.Group, error) {
	return qanode.Group{}, fmt.Errorf("node %s: %w: groups are created once, by their first member", g.n.spec.Name, errCannotExpress)
}

// Send maps a scenario send onto status-go: a contact request, a 1:1
// message, or a message in a private group's chat.
func (g *sgNode) Send(ctx context.Context, m qanode.SendRequest) (qanode.Message, error) {
	api, err := g.client()
	if err != nil {
		return qanode.Message{}, err
	}
	text := m.Payload
	if text == "" {
		text = "mvdsqa " + m.ID // status-go refuses empty messages
	}
	var msg sgnode.Message
	var to []string
	switch m.Flow {
	case "contact_request":
		msg, err = api.SendContactRequest(ctx, m.To, text)
		to = []string{m.To}
	case "one_to_one":
		msg, err = api.SendOneToOne(ctx, m.To, text)
		to = []string{m.To}
	case "private_group":
		g.r.sg.mu.Lock()
		chat := g.r.sg.groups[m.Group]
		g.r.sg.mu.Unlock()
		if chat == "" {
			return qanode.Message{}, fmt.Errorf("node %s: no private group %q was set up", g.n.spec.Name, m.Group)
		}
		msg, err = api.SendChatMessage(ctx, chat, text)
		for _, gr := range g.r.s.Groups {
			if gr.Name == m.Group {
				for _, mem := range gr.Members {
					if mem != g.n.spec.Name {
						to = append(to, g.r.byName[mem].sg.publicKey())
					}
				}
			}
		}
	default:
		return qanode.Message{}, fmt.Errorf("node %s: flow %s: %w", g.n.spec.Name, m.Flow, errCannotExpress)
	}
	if err != nil {
		return qanode.Message{}, err
	}
	s := &sgSent{id: m.ID, sgID: msg.ID, flow: m.Flow, group: m.Group, to: to, at: time.Now()}
	g.r.sg.mu.Lock()
	g.r.sg.ids[strings.ToLower(msg.ID)] = m.ID
	g.r.sg.mu.Unlock()
	g.mu.Lock()
	g.sent = append(g.sent, s)
	g.byID[strings.ToLower(msg.ID)] = s
	g.mu.Unlock()
	return g.status(s), nil
}

// scan reads the signals that came since the last scan.
func (g *sgNode) scan() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.api == nil {
		return
	}
	for _, s := range g.api.Signals.Since(g.scanned) {
		g.scanned = s.Seq
		switch {
		case s.Type == sgnode.SignalNewMessages:
			for _, m := range sgnode.NewMessages(s) {
				g.received[strings.ToLower(m.ID)] = true
			}
		case s.Type == sgnode.SignalDelivered:
			g.fact(sgnode.DeliveredID(s)).delivered = true
		case s.Type == sgnode.SignalEnvelopeSent:
			for _, id := range sgnode.EnvelopeIDs(s) {
				g.fact(id).sent = true
			}
		case s.Type == sgnode.SignalEnvelopeExpir:
			for _, id := range sgnode.EnvelopeIDs(s) {
				g.fact(id).expired = true
			}
		case strings.HasPrefix(s.Type, "mvds.message."):
			g.r.sg.mu.Lock()
			g.r.sg.guard = true
			g.r.sg.mu.Unlock()
			env, _ := json.Marshal(map[string]any{"type": s.Type, "event": s.Event})
			var e mvdsguard.Event
			if json.Unmarshal(env, &e) != nil {
				continue
			}
			// The wiring tracks a private group message's copy for each
			// member as "<message id>/<member's key>".
			if i := strings.IndexByte(e.ID, '/'); i > 0 {
				e.ID = e.ID[:i]
			}
			if e.Type == mvdsguard.EventFailed {
				g.fact(e.ID).failed = true
			}
			g.guardEvs, g.mapped = append(g.guardEvs, e), append(g.mapped, false)
		}
	}
}

// fact returns what is known of status-go message id; g.mu is held.
func (g *sgNode) fact(id string) *sgFacts {
	id = strings.ToLower(id)
	f := g.facts[id]
	if f == nil {
		f = &sgFacts{}
		g.facts[id] = f
	}
	return f
}

// reconcile asks status-go for the status of every message not yet seen
// delivered after the signal stream was resumed: status-backend does not
// send again what it sent while the stream was down.
func (g *sgNode) reconcile(ctx context.Context) {
	g.mu.Lock()
	api := g.api
	if api == nil || api.Signals.Gaps() == g.gaps {
		g.mu.Unlock()
		return
	}
	g.gaps = api.Signals.Gaps()
	var open []*sgSent
	for _, m := range g.sent {
		if !m.confirmed && !g.fact(m.sgID).delivered {
			open = append(open, m)
		}
	}
	g.mu.Unlock()
	for _, m := range open {
		got, err := api.MessageByID(ctx, m.sgID)
		if err == nil && got.OutgoingStatus == "delivered" {
			g.mu.Lock()
			m.confirmed = true
			g.mu.Unlock()
		}
	}
}

// hasReceived reports whether this node's messages.new carried sgID.
func (g *sgNode) hasReceived(sgID string) bool {
	g.scan()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.received[strings.ToLower(sgID)]
}

// status is a sent message as the runner reads messages: delivered when
// status-go said so (message.delivered) or when every recipient's
// application has it (messages.new); failed on envelope.expired or the
// Guard's failed; a recipient delivered when its messages.new has it.
func (g *sgNode) status(s *sgSent) qanode.Message {
	out := qanode.Message{ID: s.id, Flow: s.flow, Group: s.group, SentAt: s.at, Status: "pending"}
	all := len(s.to) > 0
	for _, peer := range s.to {
		rc := qanode.Recipient{Peer: peer, MessageID: s.sgID, Status: "pending"}
		if r := g.r.sgByKey(peer); r != nil && r.hasReceived(s.sgID) {
			rc.Status = "delivered"
		} else {
			all = false
		}
		out.Recipients = append(out.Recipients, rc)
	}
	g.mu.Lock()
	f := g.fact(s.sgID)
	delivered, failed := s.confirmed || f.delivered, f.expired || f.failed
	g.mu.Unlock()
	switch {
	case delivered || all:
		out.Status = "delivered"
	case failed:
		out.Status, out.Retryable = "failed", true
	}
	return out
}

func (g *sgNode) Messages(ctx context.Context) ([]qanode.Message, error) {
	if _, err := g.client(); err != nil {
		return nil, err
	}
	g.scan()
	g.reconcile(ctx)
	g.mu.Lock()
	sent := append([]*sgSent(nil), g.sent...)
	g.mu.Unlock()
	out := make([]qanode.Message, 0, len(sent))
	for _, s := range sent {
		out = append(out, g.status(s))
	}
	return out, nil
}

// Message is one message this node was asked to send, as Messages gives
// it; an id it was never asked to send is the REST API's 404.
func (g *sgNode) Message(ctx context.Context, id string) (qanode.Message, error) {
	ms, err := g.Messages(ctx)
	if err != nil {
		return qanode.Message{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return qanode.Message{}, &qanode.StatusError{Code: http.StatusNotFound, Msg: fmt.Sprintf("message %q: not sent by this node", id)}
}

// Received returns the scenario's messages this node's application got, in
// the order the runner learnt which scenario message each one is. A
// message status-go shows again (updated) counts once.
func (g *sgNode) Received(_ context.Context, after int64) ([]qanode.Received, error) {
	if _, err := g.client(); err != nil {
		return nil, err
	}
	g.scan()
	g.mu.Lock()
	defer g.mu.Unlock()
	have := map[string]bool{}
	for _, r := range g.recv {
		have[r.MessageID] = true
	}
	var ids []string
	for id := range g.received {
		if !have[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if sid, ok := g.r.sg.scenarioID(id); ok {
			g.recv = append(g.recv, qanode.Received{Seq: int64(len(g.recv) + 1), ID: sid, MessageID: id, At: time.Now()})
		}
	}
	var out []qanode.Received
	for _, r := range g.recv {
		if r.Seq > after {
			out = append(out, r)
		}
	}
	return out, nil
}

// Events are the Guard's mvds.message.* signals, when it is wired in.
func (g *sgNode) Events(_ context.Context, after uint64) ([]mvdsguard.Event, error) {
	if _, err := g.client(); err != nil {
		return nil, err
	}
	g.scan()
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, e := range g.guardEvs {
		if m := g.byID[strings.ToLower(e.ID)]; m != nil && !g.mapped[i] {
			e.ID, e.Seq = m.id, uint64(len(g.events)+1)
			g.events, g.mapped[i] = append(g.events, e), true
		}
	}
	var out []mvdsguard.Event
	for _, e := range g.events {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// SetOnline is status-go's ConnectionChange ("wifi" or "none").
func (g *sgNode) SetOnline(ctx context.Context, online bool) error {
	api, err := g.client()
	if err != nil {
		return err
	}
	if err := api.ConnectionChange(ctx, online); err != nil {
		if errors.Is(err, sgnode.ErrUnsupported) {
			return fmt.Errorf("%w: %w", errCannotExpress, err)
		}
		return err
	}
	g.mu.Lock()
	g.online = online
	g.mu.Unlock()
	return nil
}

func (g *sgNode) SetFaults(context.Context, qanode.Faults) error {
	return fmt.Errorf("node %s: faults at a shim: %w", g.n.spec.Name, errCannotExpress)
}

func (g *sgNode) JumpClock(context.Context, time.Duration) (qanode.ClockState, error) {
	return qanode.ClockState{}, fmt.Errorf("node %s: clock jump: %w", g.n.spec.Name, errCannotExpress)
}

func (g *sgNode) Retry(context.Context, string) (qanode.Message, error) {
	return qanode.Message{}, fmt.Errorf("node %s: retry: %w", g.n.spec.Name, errCannotExpress)
}

func (g *sgNode) Discard(context.Context, string) (qanode.Message, error) {
	return qanode.Message{}, fmt.Errorf("node %s: discard: %w", g.n.spec.Name, errCannotExpress)
}
