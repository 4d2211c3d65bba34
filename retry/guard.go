package retry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

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

// Guard enforces retry policies around an mvds node: it pauses retries while
// the device is offline, reschedules them when it reconnects or wakes,
// applies a policy per flow, and records every message's fate in a ledger
// whose events the GUI follows. It is safe for concurrent use.
type Guard struct {
	node   *mvds.Node
	self   mvds.PeerID
	ledger *ledger
	clock  Clock
	conn   Connectivity
	online atomic.Bool
	logger *zap.Logger
	cfg    config
	rnd    *rand.Rand // jitter; used on the engine's serialised path only
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New starts a Guard and its mvds node with identity id on db, exchanging
// packets through t. db must hold the ledger's schema: adopt the
// application's database with mvds.FromSQL(db, name, retry.Schema()), or
// open a file with package sqlitedb. The Guard owns the node and, through
// it, the transport.
func New(db *mvds.DB, t transport.Transport, id mvds.PeerID, opts ...Option) (*Guard, error) {
	cfg := defaultConfig()
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
		cfg.clock = newSystemClock()
	}
	v, err := db.SchemaVersion(context.Background(), component)
	if err != nil {
		return nil, fmt.Errorf("new guard: %w", err)
	}
	if v == 0 {
		return nil, fmt.Errorf("new guard: database %s has no retry ledger: adopt it with mvds.FromSQL(db, name, retry.Schema()) or open it with sqlitedb.Open", db.Name())
	}
	seed := cfg.sim.Seed
	if seed == 0 {
		seed = rand.Int63()
	}
	var m *metrics
	if cfg.registerer != nil {
		if m, err = newMetrics(cfg.registerer); err != nil {
			return nil, fmt.Errorf("new guard: %w", err)
		}
	}
	g := &Guard{
		self:   id,
		ledger: newLedger(db.SQL(), m),
		clock:  cfg.clock,
		conn:   cfg.conn,
		logger: cfg.logger.Named("retry"),
		cfg:    cfg,
		rnd:    rand.New(rand.NewSource(seed)),
	}
	if err := g.ledger.load(context.Background(), g.policy); err != nil {
		return nil, fmt.Errorf("new guard: database %s: %w", db.Name(), err)
	}
	g.online.Store(g.conn.Online())
	nodeOpts := append([]mvds.Option{mvds.WithLogger(cfg.logger)}, cfg.nodeOptions...)
	nodeOpts = append(nodeOpts, mvds.WithHook(engineHook{g}))
	if g.node, err = mvds.NewNode(db, t, id, nodeOpts...); err != nil {
		return nil, fmt.Errorf("new guard: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.start(ctx)
	return g, nil
}

// Node returns the Guard's mvds node, for an application that appends to it
// itself and then calls Track (status-go's existing datasync path: AddPeer,
// Append, Track), or that forwards a peer's online status
// (NotifyPeerOnline). Moving or dropping the node's states behind the
// Guard's back is not supported.
func (g *Guard) Node() *mvds.Node { return g.node }

func (g *Guard) start(ctx context.Context) {
	g.wg.Add(2)
	go g.watchConnectivity(ctx)
	go g.sweepLoop(ctx)
	if g.cfg.watchEvery > 0 {
		w := newClockWatch(g.clock, g.cfg.watchEvery, g.cfg.jumpAtLeast)
		g.wg.Add(2)
		go func() { defer g.wg.Done(); w.run(ctx) }()
		go g.watchClock(ctx, w)
	}
	if g.online.Load() && !g.cfg.sim.NoRescheduleOnStart {
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
	// Leave the rows exact, so the next start replays nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := g.node.Update(ctx, func(op *mvds.Op) error { return g.ledger.checkpoint(op.Tx(), true) })
	g.ledger.events.close()
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

// watchClock reacts to the clock watch: a wake from sleep reschedules like a
// reconnect; a wall clock stepped backwards moves every pending deadline and
// stall threshold with it, so that none waits longer than its policy says.
func (g *Guard) watchClock(ctx context.Context, w *clockWatch) {
	defer g.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-w.jumps:
			if j.Wall < 0 {
				g.logger.Warn("wall clock stepped backwards", zap.Duration("by", -j.Wall))
				err := g.node.Update(ctx, func(op *mvds.Op) error { return g.ledger.shiftWindows(op.Tx(), j.Wall) })
				if err != nil && ctx.Err() == nil {
					g.logger.Error("moving deadlines after the clock step failed", zap.Error(err))
				}
				continue
			}
			g.logger.Info("woke from sleep", zap.Duration("slept", j.Wall))
			if g.online.Load() {
				g.reschedule(ctx, mvdsguard.ReasonWake)
			}
		}
	}
}

func (g *Guard) reschedule(ctx context.Context, reason mvdsguard.Reason) {
	n, err := g.RescheduleAll(ctx, reason)
	if err != nil {
		if ctx.Err() == nil {
			g.logger.Error("rescheduling failed", zap.String("reason", string(reason)), zap.Error(err))
		}
		return
	}
	g.logger.Debug("rescheduled", zap.String("reason", string(reason)), zap.Int("states", n))
}

func (g *Guard) now() time.Time { return g.clock.Now() }

func (g *Guard) policy(f mvdsguard.Flow, k Kind) Policy {
	if p, ok := g.cfg.policies.Policy(f, k); ok {
		return p
	}
	return BoundedPolicy()
}

// epochLength is the real time one epoch stands for.
func (g *Guard) epochLength() time.Duration {
	if g.cfg.sim.EpochLength > 0 {
		return g.cfg.sim.EpochLength
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

// parkEpochs is how far a state whose round used its attempts is moved while
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
// ledger, in one transaction: either both happen or neither. A database
// error (another connection holding the write lock past the busy timeout, a
// full disk) is returned, and nothing of the message is kept.
func (g *Guard) Send(ctx context.Context, out Outgoing) error {
	if err := out.validate(g.self); err != nil {
		return err
	}
	pol := g.policy(out.Flow, out.Kind)
	now := g.now()
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		if exists, err := g.ledger.exists(op.Tx(), out.AppID); err != nil {
			return err
		} else if exists {
			return ErrAlreadyTracked
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
		return g.ledger.record(op.Tx(), Meta{AppID: out.AppID, ChatID: out.ChatID, Flow: out.Flow, Kind: out.Kind}, pol, now, recips)
	})
	if err != nil {
		return fmt.Errorf("send %q: %w", out.AppID, err)
	}
	return nil
}

// Track records a message the application appended to mvds itself (right
// after Node().Append, as status-go's datasync path does). Recipients whose
// state is already gone acknowledged it before Track and count as
// delivered; attempts mvds already made are counted.
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
		if exists, err := g.ledger.exists(tx, meta.AppID); err != nil {
			return err
		} else if exists {
			return ErrAlreadyTracked
		}
		group, ok, err := op.Group(mvdsID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: no mvds message %s", ErrUnknownMessage, mvds.ShortID(mvdsID[:]))
		}
		if tracked, err := g.ledger.tracksMvdsMessage(tx, mvdsID); err != nil {
			return err
		} else if tracked {
			return fmt.Errorf("%w: mvds message %s is tracked under another AppID", ErrAlreadyTracked, mvds.ShortID(mvdsID[:]))
		}
		members, err := op.Members(group)
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
			return fmt.Errorf("%w: mvds message %s has no recipients", ErrInvalidOutgoing, mvds.ShortID(mvdsID[:]))
		}
		return g.ledger.record(tx, meta, pol, now, recips)
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
		m, err := g.ledger.message(op.Tx(), appID)
		if err != nil {
			return err
		}
		switch m.status {
		case mvdsguard.Failed:
			return g.ledger.reopen(op, m, g.policy(m.flow, m.kind), now)
		case mvdsguard.Pending:
			return g.ledger.hurry(op, m, now)
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
		m, err := g.ledger.message(op.Tx(), appID)
		if err != nil {
			return err
		}
		if m.status != mvdsguard.Pending && m.status != mvdsguard.Failed {
			return fmt.Errorf("%w: it is %s", ErrNotDiscardable, m.status)
		}
		return g.ledger.discard(op, m, now)
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
	dur := g.epochLength()
	moved := 0
	err := g.node.Update(ctx, func(op *mvds.Op) error {
		var err error
		moved, err = g.ledger.rescheduleAll(op, reason, g.now(), func(i int) int64 { return g.cfg.burst.offset(i, dur) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reschedule all (%s): %w", reason, err)
	}
	return moved, nil
}

// Status returns a tracked message's status.
func (g *Guard) Status(ctx context.Context, appID string) (MessageStatus, error) {
	return g.ledger.status(ctx, appID)
}

// Pending returns what a GUI loads at start-up: the messages that are pending
// or failed (or, with f.Statuses, those statuses), oldest first.
func (g *Guard) Pending(ctx context.Context, f Filter) ([]MessageStatus, error) {
	return g.ledger.pending(ctx, f)
}
