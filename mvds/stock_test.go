package mvds_test

import (
	"context"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mvdsguard/mvdsguard/internal/knobs"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

func TestStockBackoffIsStatusGosCurve(t *testing.T) {
	for count, want := range map[uint64]int64{1: 90, 2: 180, 3: 360, 15: 90 << 14, 16: 90 << 15} {
		if got := mvds.StockBackoff(count); got != want {
			t.Errorf("StockBackoff(%d) = %d; want %d", count, got, want)
		}
	}
	jitters := map[int64]bool{}
	next := mvds.StockNextEpoch(rand.New(rand.NewSource(1<<20 ^ 2)).Intn)
	for i := 0; i < 2000; i++ {
		j := next(3, 1000) - 1000 - 360
		if j < 0 || j > 29 {
			t.Fatalf("jitter %d outside [0, 29]", j)
		}
		jitters[j] = true
	}
	if len(jitters) != 30 {
		t.Errorf("saw %d distinct jitters in 2000 draws; want all 30", len(jitters))
	}
}

// transmissionLog records, for one message, the sender's epoch at each
// transmission the network saw.
type transmissionLog struct {
	mu     sync.Mutex
	node   atomic.Pointer[mvds.StockNode]
	msg    atomic.Pointer[mvds.MessageID]
	epochs []int64
}

func (l *transmissionLog) observe(tr memtransport.Transmission) {
	n, id := l.node.Load(), l.msg.Load()
	if n == nil || id == nil || tr.From != n.ID() {
		return
	}
	for _, m := range tr.Payload.Messages {
		if m.ID() == *id {
			l.mu.Lock()
			l.epochs = append(l.epochs, n.CurrentEpoch())
			l.mu.Unlock()
		}
	}
}

func (l *transmissionLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.epochs)
}

func (l *transmissionLog) last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epochs[len(l.epochs)-1]
}

// TestStockNodeRetriesOnStatusGosCurveThenDropsSilently pins today's fail
// path: the k-th retransmission follows status-go's curve within its jitter,
// and after the 16th transmission the state vanishes — no callback, no error,
// no log line above debug, nothing delivered.
//
// Sixteen transmissions span about 3 million epochs (ten days of running
// time), so the test fast-forwards: after each transmission it stops the
// node, moves its persisted epoch to just before the next due epoch, and
// starts it again. Epochs only advance while a node runs, so this is the
// same node running for that long.
func TestStockNodeRetriesOnStatusGosCurveThenDropsSilently(t *testing.T) {
	dir := t.TempDir()
	log := &transmissionLog{}
	net := memtransport.New(3, memtransport.WithObserver(log.observe))
	a, b := peerID(1), peerID(2)
	if _, err := net.Join(b); err != nil { // B exists but never answers
		t.Fatal(err)
	}
	net.Partition(a, b)
	g := groupID(3)
	db := openDB(t, dir, "a.db")
	defer db.Close()
	jitter := rand.New(rand.NewSource(3<<20 ^ 4)).Intn
	core, logs := observer.New(zapcore.DebugLevel)
	start := func() *mvds.StockNode {
		ep, err := net.Join(a)
		if err != nil {
			t.Fatal(err)
		}
		n, err := mvds.NewStockNode(db, ep, a, mvds.WithEpoch(time.Millisecond),
			knobs.JitterSource(jitter).(mvds.Option), mvds.WithLogger(zap.New(core)))
		if err != nil {
			t.Fatal(err)
		}
		log.node.Store(n)
		return n
	}
	n := start()
	ctx := context.Background()
	if err := n.AddPeer(ctx, g, b); err != nil {
		t.Fatal(err)
	}
	id, err := n.Append(ctx, g, []byte("contact request"))
	if err != nil {
		t.Fatal(err)
	}
	log.msg.Store(&id)

	for k := 1; ; k++ {
		eventually(t, 10*time.Second, "transmission", func() bool { return log.count() >= k })
		sentAt := log.last()
		var states []mvds.State
		eventually(t, 10*time.Second, "the epoch's Clear", func() bool {
			states, err = n.States(ctx, mvds.MessageStates(id))
			if err != nil {
				return false
			}
			if k > mvds.MaxSendCount {
				return len(states) == 0 // Clear deletes it in the epoch of the last transmission
			}
			return len(states) == 1 && states[0].SendCount == uint64(k)
		})
		if len(states) == 0 {
			if k != mvds.MaxSendCount+1 {
				t.Fatalf("state vanished after %d transmissions; want %d", k, mvds.MaxSendCount+1)
			}
			break
		}
		s := states[0]
		lo, hi := sentAt+mvds.StockBackoff(uint64(k)), sentAt+mvds.StockBackoff(uint64(k))+29
		if s.SendEpoch < lo || s.SendEpoch > hi {
			t.Fatalf("after transmission %d at epoch %d the next is due at %d; want within [%d, %d]", k, sentAt, s.SendEpoch, lo, hi)
		}
		// Fast-forward to just before the next due epoch.
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().Exec(`UPDATE mvds_epoch SET epoch = ? WHERE peer_id = ?`, s.SendEpoch-3, a[:]); err != nil {
			t.Fatal(err)
		}
		n = start()
		eventually(t, 10*time.Second, "transmission at the due epoch", func() bool { return log.count() > k })
		if got := log.last(); got != s.SendEpoch {
			t.Fatalf("transmission %d went out at epoch %d; it was due at %d", k+1, got, s.SendEpoch)
		}
	}
	// Give it time to say anything at all.
	settle := n.CurrentEpoch() + 50
	eventually(t, 10*time.Second, "50 more epochs", func() bool { return n.CurrentEpoch() > settle })
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := log.count(); got != mvds.MaxSendCount+1 {
		t.Errorf("%d transmissions; want %d", got, mvds.MaxSendCount+1)
	}
	for _, e := range logs.All() {
		if testing.Verbose() && e.Level > zapcore.DebugLevel {
			t.Logf("logged: %s %q", e.Level, e.Message)
		}
		if e.Level > zapcore.DebugLevel && !isLifecycleLine(e.Message) {
			t.Errorf("the stock node said something about it: %s %q", e.Level, e.Message)
		}
	}
	if st := net.LinkStats(a, b); st.Delivered != 0 {
		t.Errorf("%d packets reached B through the partition", st.Delivered)
	}
}

// isLifecycleLine matches what mvds logs at info level when a node stops.
func isLifecycleLine(msg string) bool {
	for _, s := range []string{"Stopping node", "stopped"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// TestStockNodeCountsAttemptsWhileItsDeviceIsOffline pins the other half of
// today's fail path: status-go's transport swallows send errors, so attempts
// made with no network count against the limit, while the hooked node learns
// of each failure.
func TestStockNodeCountsAttemptsWhileItsDeviceIsOffline(t *testing.T) {
	dir := t.TempDir()
	net := memtransport.New(4)
	a, b := peerID(1), peerID(2)
	if _, err := net.Join(b); err != nil {
		t.Fatal(err)
	}
	net.SetOnline(a, false)
	g := groupID(4)
	db := openDB(t, dir, "a.db")
	defer db.Close()
	ep, err := net.Join(a)
	if err != nil {
		t.Fatal(err)
	}
	n, err := mvds.NewStockNode(db, ep, a, mvds.WithEpoch(time.Millisecond),
		mvds.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	if err := n.AddPeer(ctx, g, b); err != nil {
		t.Fatal(err)
	}
	id, err := n.Append(ctx, g, []byte("sent while offline"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the first attempt", func() bool { return n.Stats().SendErrors > 0 })
	states, err := n.States(ctx, mvds.MessageStates(id))
	if err != nil || len(states) != 1 {
		t.Fatalf("states %v, %v", states, err)
	}
	if states[0].SendCount != 1 {
		t.Fatalf("send count %d after an attempt that could not leave the device; the stock node counts it as 1", states[0].SendCount)
	}
}

// TestNewStockNodeRefusesWhatWouldMakeItSomethingOtherThanStatusGo: a Hook,
// another mode or another curve would change the baseline every comparison
// is measured against, so the stock constructor names the option and says
// what it accepts instead of starting a node that only looks like status-go.
func TestNewStockNodeRefusesWhatWouldMakeItSomethingOtherThanStatusGo(t *testing.T) {
	db := openDB(t, t.TempDir(), "a.db")
	defer db.Close()
	net := memtransport.New(5)
	ep, err := net.Join(peerID(1))
	if err != nil {
		t.Fatal(err)
	}
	everyEpoch := knobs.NextEpoch(func(_ uint64, epoch int64) int64 { return epoch + 1 }).(mvds.Option)
	for name, opt := range map[string]mvds.Option{
		"WithHook":        mvds.WithHook(mvds.NopHook{}),
		"WithMode":        mvds.WithMode(mvds.Interactive),
		"knobs.NextEpoch": everyEpoch,
	} {
		n, err := mvds.NewStockNode(db, ep, peerID(1), mvds.WithEpoch(testEpoch), opt)
		if n != nil {
			n.Close()
		}
		want := "new stock mvds node: " + name + " does not apply"
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "accepted: WithEpoch, WithHandler, WithLogger, knobs.JitterSource") {
			t.Errorf("NewStockNode with %s: %v; want an error starting %q that lists the accepted options", name, err, want)
		}
	}
}
