// Package sim measures senders — status-go's stock configuration or a Guard —
// against a recipient on the in-process network, and fast-forwards a sender
// through epochs in which nothing of it is due, so that outages of hours or
// days of running time take seconds.
//
// Fast-forwarding is exact, not an approximation: mvds epochs advance only
// while a node runs, and nothing happens at an epoch where no state is due,
// so stopping the node and starting it again just before the next due epoch
// is the same node running that long. (The Guard is started without its
// restart-is-a-reconnect rescheduling, which would flatter it; an online
// sender is given a few epochs for acks in flight before each fast-forward.)
//
// It is the measuring instrument of the demo and the benchmarks; it knows
// mvds, retry and memtransport, and nothing of any GUI.
package sim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/knobs"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// Sender selects the configuration under test.
type Sender int

const (
	Stock   Sender = iota // status-go today: mvds.NewStockNode
	Guarded               // a retry.Guard with its default policies
)

func (s Sender) String() string {
	if s == Stock {
		return "stock"
	}
	return "guarded"
}

// Config describes one run.
type Config struct {
	Dir    string // where the SQLite files go
	Sender Sender //
	// Epoch is the wall-clock length of an epoch (default 10 ms: short enough
	// that real-time phases are quick, long enough that goroutine scheduling
	// is a small fraction of an epoch).
	Epoch time.Duration
	// Nominal is the real epoch the run stands for (default status-go's
	// 300 ms): the Guard converts its delays and burst rate with it.
	Nominal time.Duration
	Seed    int64       // network and jitter
	Burst   retry.Burst // the Guard's reconnect burst limit (default retry.DefaultBurst())
	Flow    mvdsguard.Flow
	Kind    retry.Kind
	// GuardOptions adds options to the Guard (policies, for example).
	GuardOptions []retry.Option
}

// Run is a sender A and a recipient B.
type Run struct {
	cfg    Config
	net    *memtransport.Network
	a, b   mvds.PeerID
	dbA    *mvds.DB
	dbB    *mvds.DB
	conn   *retry.Manual
	jitter func(int) int
	online bool

	stock *mvds.StockNode
	guard *retry.Guard
	recip *mvds.Node
	group mvds.GroupID

	mu       sync.Mutex
	received map[string]bool
	sent     []string
	warps    int
	clock    *epochClock
	lastSend atomic.Int64 // unix nanoseconds of the sender's last transmission
	settle   int          // quiet epochs an online fast-forward needs (ackSettle)
	// What the last loop of AdvanceUntil saw, to tell when the sender last
	// did something: a transmission, or a change in what is pending.
	seenSend    int64
	seenPending int
	activity    int64
	observer    atomic.Pointer[func(memtransport.Transmission)]
}

// epochClock is the Guard's clock in a simulation: time advances with the
// sender's epochs at the nominal epoch length, so deadlines and attempt
// windows hold in simulated time, fast-forwards included.
type epochClock struct {
	origin  time.Time
	nominal time.Duration
	node    atomic.Pointer[mvds.Node]
}

func (c *epochClock) elapsed() time.Duration {
	n := c.node.Load()
	if n == nil {
		return 0
	}
	return time.Duration(n.CurrentEpoch()) * c.nominal
}

func (c *epochClock) Now() time.Time           { return c.origin.Add(c.elapsed()) }
func (c *epochClock) Monotonic() time.Duration { return c.elapsed() }

// warpMargin is how many epochs before the next due epoch a fast-forward
// stops, so that the node is surely running when it comes.
const warpMargin = 3

// ackSettle is how many of its own epochs an online sender must have been
// quiet — nothing sent, nothing acknowledged — before it is fast-forwarded,
// so that no ack is in flight when it restarts. A recipient acknowledges at
// its next epoch; the margin covers a loaded machine.
const ackSettle = 20

// Start builds a run; the sender starts online.
func Start(cfg Config) (*Run, error) {
	if cfg.Epoch == 0 {
		cfg.Epoch = 10 * time.Millisecond
	}
	if cfg.Nominal == 0 {
		cfg.Nominal = mvds.StockEpoch
	}
	if cfg.Burst == (retry.Burst{}) {
		cfg.Burst = retry.DefaultBurst()
	}
	if cfg.Flow == 0 {
		cfg.Flow, cfg.Kind = mvdsguard.ContactRequest, retry.Control
	}
	r := &Run{
		cfg: cfg, a: peer(1), b: peer(2),
		conn: retry.NewManual(true), online: true, received: map[string]bool{},
		jitter: rand.New(rand.NewSource(int64(cfg.Seed)<<20 ^ 99)).Intn,
		clock:  &epochClock{origin: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nominal: cfg.Nominal},
	}
	r.settle = ackSettle
	r.net = memtransport.New(cfg.Seed, memtransport.WithObserver(r.observe))
	var err error
	name := fmt.Sprintf("%s-%d", cfg.Sender, cfg.Seed)
	if r.dbA, err = sqlitedb.Open(filepath.Join(cfg.Dir, name+"-sender.db")); err != nil {
		return nil, err
	}
	if r.dbB, err = sqlitedb.Open(filepath.Join(cfg.Dir, name+"-recipient.db")); err != nil {
		return nil, err
	}
	epB, err := r.net.Join(r.b)
	if err != nil {
		return nil, err
	}
	handler := func(_ context.Context, _ *sql.Tx, m mvds.Received) error {
		r.mu.Lock()
		r.received[string(m.Body)] = true
		r.mu.Unlock()
		return nil
	}
	if r.recip, err = mvds.NewNode(r.dbB, epB, r.b, mvds.WithEpoch(cfg.Epoch), mvds.WithHandler(handler),
		mvds.WithLogger(zap.NewNop())); err != nil {
		return nil, err
	}
	if err := r.startSender(); err != nil {
		return nil, err
	}
	if cfg.Sender == Stock {
		// The one-to-one group status-go would use, on both sides.
		r.group = mvds.GroupID{0x5e, 0x4d}
		if err := r.stock.AddPeer(context.Background(), r.group, r.b); err != nil {
			return nil, err
		}
		if err := r.recip.AddPeer(context.Background(), r.group, r.a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Run) observe(tr memtransport.Transmission) {
	if tr.From == r.a {
		r.lastSend.Store(tr.At.UnixNano())
	}
	if f := r.observer.Load(); f != nil {
		(*f)(tr)
	}
}

// Observe calls f for every packet any node sends.
func (r *Run) Observe(f func(memtransport.Transmission)) { r.observer.Store(&f) }

func peer(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0], p[1] = 0x04, b
	return p
}

func (r *Run) startSender() error {
	ep, err := r.net.Join(r.a)
	if err != nil {
		return err
	}
	if r.cfg.Sender == Stock {
		r.stock, err = mvds.NewStockNode(r.dbA, ep, r.a, mvds.WithEpoch(r.cfg.Epoch),
			knobs.JitterSource(r.jitter).(mvds.Option), mvds.WithLogger(zap.NewNop()))
		return err
	}
	// The Guard is restarted to fast-forward (see Run), so a start is not a
	// reconnect; each epoch stands for the nominal epoch of real time.
	simulated := knobs.GuardOption(knobs.Guard{EpochLength: r.cfg.Nominal, NoRescheduleOnStart: true, Seed: r.cfg.Seed<<20 ^ 1}).(retry.Option)
	opts := append([]retry.Option{retry.WithClock(r.clock), retry.WithSweepInterval(2 * r.cfg.Epoch)}, r.cfg.GuardOptions...)
	r.guard, err = retry.New(r.dbA, ep, r.a, append(opts, retry.WithConnectivity(r.conn), retry.WithBurst(r.cfg.Burst),
		retry.WithWakeDetection(0, 0), simulated,
		retry.WithNodeOptions(mvds.WithEpoch(r.cfg.Epoch)), retry.WithLogger(zap.NewNop()))...)
	if err == nil {
		r.clock.node.Store(r.guard.Node())
	}
	return err
}

func (r *Run) stopSender() error {
	if r.stock != nil {
		err := r.stock.Close()
		r.stock = nil
		return err
	}
	err := r.guard.Close()
	r.guard = nil
	return err
}

// Epoch is the sender's epoch.
func (r *Run) Epoch() int64 {
	if r.stock != nil {
		return r.stock.CurrentEpoch()
	}
	return r.guard.Node().CurrentEpoch()
}

// Warps counts the fast-forwards so far.
func (r *Run) Warps() int { return r.warps }

// SetOnline switches the sender's device: its network and, for the Guard,
// the connectivity signal the application would feed.
//
// The Guard handles a reconnect on its own goroutine; SetOnline waits until it
// has rescheduled (or found nothing to reschedule), so that no fast-forward
// can overtake it.
func (r *Run) SetOnline(online bool) error {
	var seen uint64
	if r.guard != nil {
		es, err := r.guard.Events(context.Background(), 0, 1<<30)
		if err != nil {
			return err
		}
		if len(es) > 0 {
			seen = es[len(es)-1].Seq
		}
	}
	r.online = online
	r.net.SetOnline(r.a, online)
	r.conn.Set(online)
	if r.guard == nil || !online {
		return nil
	}
	pending, err := r.Pending()
	if err != nil || pending == 0 {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		es, err := r.guard.Events(context.Background(), seen, 1000)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Type == mvdsguard.EventRescheduled && e.Reason == mvdsguard.ReasonReconnect {
				return nil
			}
			seen = e.Seq
		}
		time.Sleep(r.cfg.Epoch / 4)
	}
	return errors.New("sim: the Guard did not reschedule within 10 s of the reconnect")
}

// Queue sends n critical messages now.
func (r *Run) Queue(n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%d-%06d", r.cfg.Sender, r.cfg.Seed, len(r.sent))
		var err error
		if r.stock != nil {
			_, err = r.stock.Append(ctx, r.group, []byte(id))
		} else {
			err = r.guard.Send(ctx, retry.Outgoing{AppID: id, Flow: r.cfg.Flow, Kind: r.cfg.Kind,
				Peers: []mvds.PeerID{r.b}, Payload: []byte(id)})
		}
		if err != nil {
			return fmt.Errorf("queue message %d: %w", i, err)
		}
		r.sent = append(r.sent, id)
	}
	return nil
}

// Received is how many queued messages the recipient's application has.
func (r *Run) Received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range r.sent {
		if r.received[id] {
			n++
		}
	}
	return n
}

// Pending is how many of the sender's (message, peer) states remain.
func (r *Run) Pending() (int, error) {
	var n int
	err := r.dbA.SQL().QueryRow(`SELECT count(*) FROM mvds_states`).Scan(&n)
	return n, err
}

// Attempts is the number of attempts counted against the queued messages:
// mvds's send counts for the stock node (while nothing was acknowledged),
// the ledger's attempts for the Guard.
func (r *Run) Attempts() (int64, error) {
	var n sql.NullInt64
	q := `SELECT sum(send_count) FROM mvds_states`
	if r.cfg.Sender == Guarded {
		q = `SELECT sum(attempts) FROM retry_messages`
	}
	err := r.dbA.SQL().QueryRow(q).Scan(&n)
	return n.Int64, err
}

// Failed is how many messages the Guard reported failed (always 0 for the
// stock node, which reports nothing).
func (r *Run) Failed() (int, error) {
	if r.cfg.Sender == Stock {
		return 0, nil
	}
	var n int
	err := r.dbA.SQL().QueryRow(`SELECT count(*) FROM retry_messages WHERE status = ?`, int(mvdsguard.Failed)).Scan(&n)
	return n, err
}

// DroppedSilently is how many messages neither reached the recipient nor
// remain pending nor were reported: what the stock node loses at its limit.
func (r *Run) DroppedSilently() (int, error) {
	pending, err := r.Pending()
	if err != nil {
		return 0, err
	}
	failed, err := r.Failed()
	if err != nil {
		return 0, err
	}
	return max(0, len(r.sent)-r.Received()-pending-failed), nil
}

func (r *Run) nextDue() (int64, bool, error) {
	var e sql.NullInt64
	if err := r.dbA.SQL().QueryRow(`SELECT min(send_epoch) FROM mvds_states`).Scan(&e); err != nil {
		return 0, false, err
	}
	return e.Int64, e.Valid, nil
}

// warp restarts the sender at epoch to.
func (r *Run) warp(to int64) error {
	if err := r.stopSender(); err != nil {
		return err
	}
	if _, err := r.dbA.SQL().Exec(`UPDATE mvds_epoch SET epoch = ? WHERE peer_id = ?`, to, r.a[:]); err != nil {
		return err
	}
	r.warps++
	return r.startSender()
}

// ErrLimit is returned when a run's epoch bound passes first.
var ErrLimit = errors.New("epoch bound reached")

// AdvanceUntil runs the sender until done reports true, or its epoch passes
// limit (ErrLimit), fast-forwarding over idle epochs when allowed. It returns
// the epoch at which done first held.
func (r *Run) AdvanceUntil(limit int64, done func() (bool, error)) (int64, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ok, err := done()
		if err != nil {
			return 0, err
		}
		cur := r.Epoch()
		pending, err := r.Pending()
		if err != nil {
			return 0, err
		}
		if sent := r.lastSend.Load(); sent != r.seenSend || pending != r.seenPending {
			r.seenSend, r.seenPending, r.activity = sent, pending, cur
		}
		if ok {
			return cur, nil
		}
		if cur > limit {
			return cur, ErrLimit
		}
		if time.Now().After(deadline) {
			return cur, fmt.Errorf("sim: no progress in 10 minutes at epoch %d", cur)
		}
		{
			next, any, err := r.nextDue()
			if err != nil {
				return 0, err
			}
			target := limit + 1
			if any && next < target {
				target = next
			}
			if target-cur > 2*warpMargin {
				// Online, the recipient may be acknowledging the last
				// transmission: restarting now would lose the ack. Give it a
				// few epochs after the last send, then look again.
				if r.online && cur-r.activity < int64(r.settle) {
					time.Sleep(r.cfg.Epoch / 2)
					continue
				}
				if err := r.warp(target - warpMargin); err != nil {
					return 0, err
				}
				continue
			}
		}
		time.Sleep(r.cfg.Epoch / 10)
	}
}

// Advance runs the sender until its epoch reaches to.
func (r *Run) Advance(to int64) error {
	_, err := r.AdvanceUntil(to-1, func() (bool, error) { return r.Epoch() >= to, nil })
	if errors.Is(err, ErrLimit) {
		return nil
	}
	return err
}

// Close stops both nodes and closes the files.
func (r *Run) Close() error {
	var errs []error
	if r.stock != nil || r.guard != nil {
		errs = append(errs, r.stopSender())
	}
	errs = append(errs, r.recip.Close())
	r.net.Close()
	errs = append(errs, r.dbA.Close(), r.dbB.Close())
	return errors.Join(errs...)
}
