package retry

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/status-im/mvds/transport"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
)

// Errors a caller can test for with errors.Is.
var (
	ErrUnknownMessage  = errors.New("unknown message")
	ErrAlreadyTracked  = errors.New("message already tracked")
	ErrNotRetryable    = errors.New("message cannot be retried")
	ErrNotDiscardable  = errors.New("message cannot be discarded")
	ErrInvalidOutgoing = errors.New("invalid outgoing message")
)

// Outgoing is a message the application sends through the Guard.
type Outgoing struct {
	AppID   string         // the application's message id; unique across the ledger
	ChatID  string         // the chat it belongs to (for the GUI)
	Flow    mvdsguard.Flow // which policy and which report row
	Kind    Kind           // Content (default) or Control
	Peers   []mvds.PeerID  // recipients, each over its own one-to-one mvds group...
	Group   *mvds.GroupID  // ...or an existing mvds group, whose members are the recipients
	Payload []byte
}

// Meta describes a message the application appended to mvds itself, for
// Track.
type Meta struct {
	AppID  string
	ChatID string
	Flow   mvdsguard.Flow
	Kind   Kind
}

// maxAppID bounds application ids, which end up in every event.
const maxAppID = 512

// Guard enforces retry policies around a hooked mvds node. It is safe for
// concurrent use.
type Guard struct {
	node    *mvds.Node
	db      *mvds.DB
	self    mvds.PeerID
	clock   Clock
	conn    Connectivity
	online  atomic.Bool
	logger  *zap.Logger
	metrics *metrics
	cfg     config
	events  *broadcast

	// Touched only on the engine's serialised path: inside hook calls and
	// inside Node.Update callbacks.
	tracked     map[mvds.MessageID]*entry
	apps        map[string]*entry
	dirty       map[*entry]struct{} // counters ahead of their row
	checkpoints int
	rnd         *rand.Rand
	txn         txWork

	dirtyCount atomic.Int64 // len(dirty), for the sweeper's quick look

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// entry is what the hot path needs to know about a tracked message: Due
// its policy, Attempted its counters and chat id, so that neither reads the
// ledger. The counters mirror the ledger's committed values; changes made
// in a transaction are staged in txWork and applied when it commits.
type entry struct {
	appID  string
	chatID string
	flow   mvdsguard.Flow
	kind   Kind
	policy Policy

	committed counters
	// staged holds the figures as transaction stagedIn sees them; it is
	// valid only while that transaction is the current one.
	staged   counters
	stagedIn uint64
}

// counters is an entry's attempt figures (times in unix milliseconds).
type counters struct {
	attempts    int
	first, last int64
}

// txWork is what the current transaction will publish if it commits.
type txWork struct {
	gen     uint64 // identifies the transaction; never 0
	add     map[mvds.MessageID]*entry
	del     []mvds.MessageID
	delApps []string
	staged  []*entry
	synced  []*entry // rows written with the entry's counters
	events  bool
	metrics []func(*metrics)
}

// countersOf returns e's figures as staged in this transaction. Staging on
// the entry itself, with the transaction's generation, keeps the hot path
// free of allocations.
func (w *txWork) countersOf(e *entry) *counters {
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

type config struct {
	policies    Policies
	conn        Connectivity
	clock       Clock
	burst       Burst
	wake        bool
	wakeEvery   time.Duration
	wakeJump    time.Duration
	sweepEvery  time.Duration
	registerer  prometheus.Registerer
	logger      *zap.Logger
	nodeOptions []mvds.Option
	seed        *[2]uint64
	epochLength time.Duration
	noStartMove bool
}

// Option configures a Guard.
type Option func(*config) error

// WithPolicy replaces the policy of one flow and kind.
func WithPolicy(f mvdsguard.Flow, k Kind, p Policy) Option {
	return func(c *config) error { return c.policies.Set(f, k, p) }
}

// WithConnectivity sets the source of online/offline changes (default: a
// Manual source that is always online).
func WithConnectivity(conn Connectivity) Option {
	return func(c *config) error {
		if conn == nil {
			return errors.New("nil connectivity source")
		}
		c.conn = conn
		return nil
	}
}

// WithClock sets the clock (default: the system clock).
func WithClock(clock Clock) Option {
	return func(c *config) error {
		if clock == nil {
			return errors.New("nil clock")
		}
		c.clock = clock
		return nil
	}
}

// WithBurst sets the reconnect burst limit (default DefaultBurst).
func WithBurst(b Burst) Option {
	return func(c *config) error {
		if err := b.validate(); err != nil {
			return err
		}
		c.burst = b
		return nil
	}
}

// WithWakeDetection sets how often the clocks are compared and how large a
// jump counts as a wake from sleep (default every second, 10 s); a zero
// interval turns detection off.
func WithWakeDetection(every, jump time.Duration) Option {
	return func(c *config) error {
		if every < 0 || jump < 0 || (every > 0 && jump <= every) {
			return fmt.Errorf("wake detection every %v with threshold %v: both must be positive and the threshold above the interval", every, jump)
		}
		c.wake, c.wakeEvery, c.wakeJump = every > 0, every, jump
		return nil
	}
}

// WithSweepInterval sets how often deadlines, exhausted attempts and stall
// thresholds are checked (default one second).
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("sweep interval %v must be positive", d)
		}
		c.sweepEvery = d
		return nil
	}
}

// WithMetrics registers the Guard's Prometheus metrics with reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return errors.New("nil metrics registerer")
		}
		c.registerer = reg
		return nil
	}
}

// WithLogger sets the logger; the Guard logs under "retry".
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithNodeOptions passes options to the mvds node (epoch, mode, message
// handler...). A Hook cannot be passed: the Guard is the node's Hook.
func WithNodeOptions(opts ...mvds.Option) Option {
	return func(c *config) error {
		c.nodeOptions = append(c.nodeOptions, opts...)
		return nil
	}
}

// WithEpochLength sets the real time one epoch stands for when the Guard
// converts delays, the burst rate and parking times to epochs (default: the
// node's epoch duration). Only simulations that run epochs faster than real
// time need it.
func WithEpochLength(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("epoch length %v must be positive", d)
		}
		c.epochLength = d
		return nil
	}
}

// WithRescheduleOnStart sets whether starting the Guard while online counts
// as a reconnect (default true: after a restart, states parked offline or
// waiting on a long delay go out at once). Simulations that fast-forward by
// restarting turn it off.
func WithRescheduleOnStart(on bool) Option {
	return func(c *config) error {
		c.noStartMove = !on
		return nil
	}
}

// WithSeed makes the jitter reproducible.
func WithSeed(a, b uint64) Option {
	return func(c *config) error {
		c.seed = &[2]uint64{a, b}
		return nil
	}
}

// New starts a Guard and its mvds node with identity id on db (opened with
// Schema), exchanging packets through t. The Guard owns the node and, through
// it, the transport.
func New(db *mvds.DB, t transport.Transport, id mvds.PeerID, opts ...Option) (*Guard, error) {
	cfg := config{
		policies:   DefaultPolicies(),
		burst:      DefaultBurst,
		wake:       true,
		wakeEvery:  time.Second,
		wakeJump:   10 * time.Second,
		sweepEvery: time.Second,
		logger:     zap.NewNop(),
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("new guard: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("new guard: %w", err)
		}
	}
	if db == nil {
		return nil, errors.New("new guard: nil database")
	}
	if cfg.conn == nil {
		cfg.conn = NewManual(true)
	}
	if cfg.clock == nil {
		cfg.clock = NewSystemClock()
	}
	v, err := db.SchemaVersion(context.Background(), component)
	if err != nil {
		return nil, fmt.Errorf("new guard: %w", err)
	}
	if v == 0 {
		return nil, fmt.Errorf("new guard: database %s has no retry ledger: open it with sqlitedb.Open or mvds.FromSQL(db, name, schema) with retry.Schema()", db.Name())
	}
	seed := [2]uint64{uint64(rand.Int63()), uint64(rand.Int63())}
	if cfg.seed != nil {
		seed = *cfg.seed
	}
	g := &Guard{
		db:      db,
		self:    id,
		clock:   cfg.clock,
		conn:    cfg.conn,
		logger:  cfg.logger.Named("retry"),
		cfg:     cfg,
		events:  newBroadcast(),
		tracked: map[mvds.MessageID]*entry{},
		apps:    map[string]*entry{},
		dirty:   map[*entry]struct{}{},
		rnd:     rand.New(rand.NewSource(int64(seed[0]) ^ int64(seed[1])<<20)),
	}
	g.txn.reset()
	if cfg.registerer != nil {
		if g.metrics, err = newMetrics(cfg.registerer); err != nil {
			return nil, fmt.Errorf("new guard: %w", err)
		}
	}
	if err := g.loadTracked(); err != nil {
		return nil, fmt.Errorf("new guard: %w", err)
	}
	g.online.Store(g.conn.Online())
	nodeOpts := append([]mvds.Option{mvds.WithLogger(cfg.logger)}, cfg.nodeOptions...)
	nodeOpts = append(nodeOpts, mvds.WithHook(g))
	if g.node, err = mvds.NewNode(db, t, id, nodeOpts...); err != nil {
		return nil, fmt.Errorf("new guard: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.start(ctx)
	return g, nil
}

// Node returns the mvds node, for callers that append to it themselves and
// then call Track (status-go's existing datasync path).
func (g *Guard) Node() *mvds.Node { return g.node }

// Online reports what the Guard believes about connectivity.
func (g *Guard) Online() bool { return g.online.Load() }

func (g *Guard) start(ctx context.Context) {
	g.wg.Add(2)
	go g.watchConnectivity(ctx)
	go g.sweepLoop(ctx)
	if g.cfg.wake {
		w := NewWakeDetector(g.clock, g.cfg.wakeEvery, g.cfg.wakeJump)
		g.wg.Add(2)
		go func() { defer g.wg.Done(); w.Run(ctx) }()
		go g.watchWakes(ctx, w)
	}
	if g.online.Load() && !g.cfg.noStartMove {
		// A restart is a reconnect: states parked while offline, or waiting
		// on a long delay, go out now.
		g.reschedule(ctx, mvdsguard.ReasonReconnect)
	}
}

// Close stops the Guard and its node. Subscriptions end.
func (g *Guard) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	g.cancel()
	g.wg.Wait()
	// Leave the ledger's counters exact, so the next start replays nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := g.node.Update(ctx, func(op *mvds.Op) error { return g.checkpoint(op.Tx(), false) })
	g.events.close()
	return errors.Join(err, g.node.Close())
}

func (g *Guard) watchConnectivity(ctx context.Context) {
	defer g.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.conn.Changes():
			// A change seen while online is a reconnect even if the offline
			// phase in between was too short to be observed: a source keeps
			// only the latest value, and a missed reconnect would leave
			// messages waiting on their backoff.
			online := g.conn.Online()
			g.online.Store(online)
			g.logger.Info("connectivity changed", zap.Bool("online", online))
			if online {
				g.reschedule(ctx, mvdsguard.ReasonReconnect)
			}
		}
	}
}

func (g *Guard) watchWakes(ctx context.Context, w *WakeDetector) {
	defer g.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case slept := <-w.Wakes():
			g.logger.Info("woke from sleep", zap.Duration("slept", slept))
			if g.online.Load() {
				g.reschedule(ctx, mvdsguard.ReasonWake)
			}
		}
	}
}

func (g *Guard) reschedule(ctx context.Context, reason mvdsguard.Reason) {
	n, err := g.RescheduleAll(ctx, reason)
	if err != nil && ctx.Err() == nil {
		g.logger.Error("rescheduling after "+string(reason)+" failed", zap.Error(err))
		return
	}
	g.logger.Debug("rescheduled", zap.String("reason", string(reason)), zap.Int("states", n))
}

func (g *Guard) now() time.Time { return g.clock.Now() }

func (g *Guard) policy(f mvdsguard.Flow, k Kind) Policy {
	if p, ok := g.cfg.policies.Policy(f, k); ok {
		return p
	}
	return BoundedPolicy
}

// epochLength is the real time one epoch stands for.
func (g *Guard) epochLength() time.Duration {
	if g.cfg.epochLength > 0 {
		return g.cfg.epochLength
	}
	return g.node.EpochDuration()
}

// epochs converts a duration to whole epochs, at least one.
func (g *Guard) epochs(d time.Duration) int64 {
	e := g.epochLength()
	n := int64((d + e - 1) / e)
	if n < 1 {
		n = 1
	}
	return n
}

// parkEpochs is how far a state whose attempts are used up is moved while
// the sweeper decides its fate.
func (g *Guard) parkEpochs(p Policy) int64 { return g.epochs(max(p.Max, time.Minute)) }

// offlinePark is how far a due state is moved while offline. Every reconnect
// moves all states back at once (a flap too short to observe included), so
// looking at them again sooner would only cost work.
const offlinePark = 24 * time.Hour

// pairGroup is the mvds group of a one-to-one conversation between two
// peers: the same on both sides, different for every pair.
func pairGroup(a, b mvds.PeerID) mvds.GroupID {
	if string(a[:]) > string(b[:]) {
		a, b = b, a
	}
	h := sha256.New()
	h.Write([]byte("mvdsguard/one-to-one"))
	h.Write(a[:])
	h.Write(b[:])
	var g mvds.GroupID
	copy(g[:], h.Sum(nil))
	return g
}

func (o Outgoing) validate(self mvds.PeerID) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOutgoing, fmt.Sprintf(format, args...))
	}
	switch {
	case o.AppID == "":
		return bad("empty AppID")
	case len(o.AppID) > maxAppID:
		return bad("AppID is %d bytes, more than %d", len(o.AppID), maxAppID)
	case !o.Flow.Valid():
		return bad("unknown flow %d", uint8(o.Flow))
	case !o.Kind.valid():
		return bad("unknown kind %d", uint8(o.Kind))
	case len(o.Payload) == 0:
		return bad("empty payload for %q", o.AppID)
	case len(o.Peers) == 0 && o.Group == nil:
		return bad("no recipients for %q: set Peers or Group", o.AppID)
	case len(o.Peers) > 0 && o.Group != nil:
		return bad("both Peers and Group set for %q", o.AppID)
	}
	seen := map[mvds.PeerID]bool{}
	for i, p := range o.Peers {
		switch {
		case p == (mvds.PeerID{}):
			return bad("peer %d of %q is the zero peer id", i, o.AppID)
		case p == self:
			return bad("peer %d of %q is this node itself", i, o.AppID)
		case seen[p]:
			return bad("peer %s appears twice in %q", mvds.ShortID(p[:]), o.AppID)
		}
		seen[p] = true
	}
	return nil
}

// Send appends the message to mvds for every recipient and records it in the
// ledger, in one transaction: either both happen or neither.
func (g *Guard) Send(ctx context.Context, out Outgoing) error {
	if err := out.validate(g.self); err != nil {
		return err
	}
	pol := g.policy(out.Flow, out.Kind)
	now := g.now()
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		if exists, err := messageExists(op.Tx(), out.AppID); err != nil {
			return err
		} else if exists {
			return fmt.Errorf("send %q: %w", out.AppID, ErrAlreadyTracked)
		}
		var recips []recipient
		if out.Group != nil {
			members, err := op.Members(*out.Group)
			if err != nil {
				return err
			}
			if len(members) == 0 {
				return fmt.Errorf("%w: group %s of %q has no members", ErrInvalidOutgoing, mvds.ShortID(out.Group[:]), out.AppID)
			}
			id, err := op.Append(*out.Group, out.Payload)
			if err != nil {
				return err
			}
			for _, m := range members {
				recips = append(recips, recipient{mvdsID: id, peer: m})
			}
		} else {
			for _, p := range out.Peers {
				grp := pairGroup(g.self, p)
				if err := op.AddPeer(grp, p); err != nil {
					return err
				}
				id, err := op.Append(grp, out.Payload)
				if err != nil {
					return err
				}
				recips = append(recips, recipient{mvdsID: id, peer: p})
			}
		}
		return g.track(op.Tx(), Meta{AppID: out.AppID, ChatID: out.ChatID, Flow: out.Flow, Kind: out.Kind}, pol, now, recips)
	})
	if err != nil {
		return fmt.Errorf("send %q: %w", out.AppID, err)
	}
	return nil
}

// Track records a message the application appended to mvds itself (right
// after node.Append, as status-go's datasync path does). Recipients whose
// state is already gone acknowledged it before Track and count as
// delivered; attempts already made are counted.
func (g *Guard) Track(ctx context.Context, mvdsID mvds.MessageID, meta Meta) error {
	if meta.AppID == "" || len(meta.AppID) > maxAppID {
		return fmt.Errorf("track: %w: AppID must be 1 to %d bytes", ErrInvalidOutgoing, maxAppID)
	}
	if !meta.Flow.Valid() {
		return fmt.Errorf("track %q: %w: unknown flow %d", meta.AppID, ErrInvalidOutgoing, uint8(meta.Flow))
	}
	if !meta.Kind.valid() {
		return fmt.Errorf("track %q: %w: unknown kind %d", meta.AppID, ErrInvalidOutgoing, uint8(meta.Kind))
	}
	pol := g.policy(meta.Flow, meta.Kind)
	now := g.now()
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		tx := op.Tx()
		if exists, err := messageExists(tx, meta.AppID); err != nil {
			return err
		} else if exists {
			return ErrAlreadyTracked
		}
		var group []byte
		err := tx.QueryRow(`SELECT group_id FROM mvds_messages WHERE id = ?`, mvdsID[:]).Scan(&group)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no mvds message %x", ErrUnknownMessage, mvdsID[:4])
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM retry_recipients WHERE mvds_id = ?`, mvdsID[:]).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: mvds message %x is tracked under another AppID", ErrAlreadyTracked, mvdsID[:4])
		}
		var gid mvds.GroupID
		copy(gid[:], group)
		members, err := op.Members(gid)
		if err != nil {
			return err
		}
		states, err := op.States(mvds.MessageStates(mvdsID))
		if err != nil {
			return err
		}
		counts := map[mvds.PeerID]uint64{}
		for _, s := range states {
			counts[s.PeerID] = s.SendCount
		}
		var recips []recipient
		for _, m := range members {
			c, pending := counts[m]
			recips = append(recips, recipient{mvdsID: mvdsID, peer: m, delivered: !pending, attempts: int(c)})
		}
		if len(recips) == 0 {
			return fmt.Errorf("%w: mvds message %x has no recipients", ErrInvalidOutgoing, mvdsID[:4])
		}
		return g.track(tx, meta, pol, now, recips)
	})
	if err != nil {
		return fmt.Errorf("track %q: %w", meta.AppID, err)
	}
	return nil
}

// Retry gives a failed message a new round of attempts (only its failed
// recipients are sent to again), or sends a pending one now instead of
// waiting for its next delay.
func (g *Guard) Retry(ctx context.Context, appID string) error {
	now := g.now()
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		m, err := loadMessage(op.Tx(), appID)
		if err != nil {
			return err
		}
		switch m.status {
		case mvdsguard.Failed:
			return g.retryFailed(op, m, now)
		case mvdsguard.Pending:
			return g.retryPending(op, m, now)
		default:
			return fmt.Errorf("%w: it is %s", ErrNotRetryable, m.status)
		}
	})
	if err != nil {
		return fmt.Errorf("retry %q: %w", appID, err)
	}
	return nil
}

// Discard stops retrying a pending or failed message and frees its mvds
// state. A delivered message cannot be discarded.
func (g *Guard) Discard(ctx context.Context, appID string) error {
	now := g.now()
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		m, err := loadMessage(op.Tx(), appID)
		if err != nil {
			return err
		}
		if m.status != mvdsguard.Pending && m.status != mvdsguard.Failed {
			return fmt.Errorf("%w: it is %s", ErrNotDiscardable, m.status)
		}
		return g.discard(op, m, now)
	})
	if err != nil {
		return fmt.Errorf("discard %q: %w", appID, err)
	}
	return nil
}

// RescheduleAll moves every pending state forward to now, spread by the
// burst limit, critical flows first; it is what a reconnect and a wake do,
// and returns how many states moved.
func (g *Guard) RescheduleAll(ctx context.Context, reason mvdsguard.Reason) (int, error) {
	moved := 0
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		var err error
		moved, err = g.rescheduleAll(op, reason)
		return err
	})
	return moved, err
}

// Status returns a tracked message's status.
func (g *Guard) Status(ctx context.Context, appID string) (MessageStatus, error) {
	return readStatus(ctx, g.db.SQL(), appID)
}

// Pending returns what a GUI loads at start-up: the messages that are pending
// or failed (or, with f.Statuses, those statuses), oldest first.
func (g *Guard) Pending(ctx context.Context, f Filter) ([]MessageStatus, error) {
	return listStatuses(ctx, g.db.SQL(), f)
}
