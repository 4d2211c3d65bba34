package mvds_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/status-im/mvds/state"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

// steeringHook skips every due state while paused and otherwise sends it,
// optionally on its own schedule.
type steeringHook struct {
	*hookRecorder
	paused atomic.Bool
	step   atomic.Int64 // when > 0, the next epoch is epoch+step

	mu          sync.Mutex
	rescheduled []mvds.State
	dropped     []mvds.State
	attemptedAt map[stateKey]int64
}

func newSteeringHook() *steeringHook {
	return &steeringHook{hookRecorder: newHookRecorder(), attemptedAt: map[stateKey]int64{}}
}

func (h *steeringHook) Due(epoch int64, s mvds.State) mvds.Decision {
	if h.paused.Load() {
		return mvds.Decision{Action: mvds.Skip}
	}
	if st := h.step.Load(); st > 0 {
		return mvds.Decision{Action: mvds.Send, NextEpoch: epoch + st}
	}
	return mvds.Decision{Action: mvds.Send}
}

func (h *steeringHook) Attempted(tx *sql.Tx, epoch int64, states []mvds.State) error {
	h.mu.Lock()
	for _, s := range states {
		h.attemptedAt[keyOf(s)] = epoch
	}
	h.mu.Unlock()
	return h.hookRecorder.Attempted(tx, epoch, states)
}

func (h *steeringHook) Rescheduled(_ *sql.Tx, _ int64, states []mvds.State) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rescheduled = append(h.rescheduled, states...)
	return nil
}

func (h *steeringHook) Dropped(_ *sql.Tx, _ int64, states []mvds.State) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped = append(h.dropped, states...)
	return nil
}

type pair struct {
	net    *memtransport.Network
	a, b   mvds.PeerID
	g      mvds.GroupID
	na, nb *mvds.Node
	inboxB *inboxRecorder
}

func startPair(t *testing.T, hookA mvds.Hook) *pair {
	t.Helper()
	dir := t.TempDir()
	p := &pair{net: memtransport.New(9), a: peerID(1), b: peerID(2), g: groupID(9), inboxB: newInboxRecorder()}
	dbA, dbB := openDB(t, dir, "a.db"), openDB(t, dir, "b.db")
	t.Cleanup(func() { dbA.Close(); dbB.Close() })
	opts := []mvds.Option{}
	if hookA != nil {
		opts = append(opts, mvds.WithHook(hookA))
	}
	p.na = startNode(t, p.net, dbA, p.a, nil, opts...)
	p.nb = startNode(t, p.net, dbB, p.b, p.inboxB)
	t.Cleanup(func() { p.na.Close(); p.nb.Close() })
	ctx := context.Background()
	if err := p.na.AddPeer(ctx, p.g, p.b); err != nil {
		t.Fatal(err)
	}
	if err := p.nb.AddPeer(ctx, p.g, p.a); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pair) states(t *testing.T, sel mvds.Selection) []mvds.State {
	t.Helper()
	s, err := p.na.States(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSkippedStatesAreNeitherSentNorCounted(t *testing.T) {
	h := newSteeringHook()
	h.paused.Store(true)
	p := startPair(t, h)
	id, err := p.na.Append(context.Background(), p.g, []byte("held back"))
	if err != nil {
		t.Fatal(err)
	}
	from := p.na.CurrentEpoch()
	eventually(t, 10*time.Second, "30 epochs", func() bool { return p.na.CurrentEpoch() > from+30 })
	s := p.states(t, mvds.MessageStates(id))
	if len(s) != 1 || s[0].SendCount != 0 {
		t.Fatalf("after 30 skipped epochs: %+v; want one state with no attempt counted", s)
	}
	if st := p.net.LinkStats(p.a, p.b); st.Sent != 0 {
		t.Fatalf("%d packets left A while every state was skipped", st.Sent)
	}
	h.paused.Store(false)
	eventually(t, 10*time.Second, "delivery once sending resumes", func() bool { return p.inboxB.distinct() == 1 })
	eventually(t, 10*time.Second, "the ack", func() bool { return h.ackedCount([]stateKey{{id, p.b}}) == 1 })
	if got := h.attemptCount(stateKey{id, p.b}); got != 1 {
		t.Errorf("%d attempts counted; want exactly the one after resuming", got)
	}
}

func TestHookSetsTheNextEpochOfEachAttempt(t *testing.T) {
	h := newSteeringHook()
	h.step.Store(7)
	p := startPair(t, h)
	p.net.Partition(p.a, p.b)
	id, err := p.na.Append(context.Background(), p.g, []byte("own schedule"))
	if err != nil {
		t.Fatal(err)
	}
	k := stateKey{id, p.b}
	eventually(t, 10*time.Second, "three attempts", func() bool { return h.attemptCount(k) >= 3 })
	h.paused.Store(true) // freeze so the state can be read between attempts
	time.Sleep(10 * testEpoch)
	h.mu.Lock()
	at := h.attemptedAt[k]
	h.mu.Unlock()
	s := p.states(t, mvds.MessageStates(id))
	if len(s) != 1 || s[0].SendEpoch != at+7 {
		t.Fatalf("last attempt at epoch %d, next due %+v; want due at %d (not on mvds's curve)", at, s, at+7)
	}
}

func TestRescheduleMovesOnePeersOrAllStates(t *testing.T) {
	h := newSteeringHook()
	p := startPair(t, h)
	c := peerID(3)
	if _, err := p.net.Join(c); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.na.AddPeer(ctx, p.g, c); err != nil {
		t.Fatal(err)
	}
	p.net.Partition(p.a, p.b)
	p.net.Partition(p.a, c)
	id, err := p.na.Append(ctx, p.g, []byte("to b and c"))
	if err != nil {
		t.Fatal(err)
	}
	// After the first attempt the stock curve parks both states ≥ 90 epochs away.
	eventually(t, 10*time.Second, "first attempts", func() bool {
		s := p.states(t, mvds.MessageStates(id))
		return len(s) == 2 && s[0].SendCount == 1 && s[1].SendCount == 1
	})
	p.net.Heal(p.a, p.b)
	now := p.na.CurrentEpoch()
	moved, err := p.na.Reschedule(ctx, mvds.PeerStates(p.b), func(mvds.State) int64 { return now })
	if err != nil || moved != 1 {
		t.Fatalf("Reschedule(peer b) moved %d, %v; want 1", moved, err)
	}
	eventually(t, 10*time.Second, "b's delivery right after the reschedule", func() bool { return p.inboxB.distinct() == 1 })
	if d := p.na.CurrentEpoch() - now; d > 60 {
		t.Errorf("delivered %d epochs after the reschedule; the stock curve would have waited ≥ 90", d)
	}
	eventually(t, 10*time.Second, "b's ack at A", func() bool { return len(p.states(t, mvds.PeerStates(p.b))) == 0 })
	sc := p.states(t, mvds.PeerStates(c))
	if len(sc) != 1 || sc[0].SendCount != 1 {
		t.Fatalf("c's state %+v changed; only b's was rescheduled", sc)
	}
	if moved, err := p.na.Reschedule(ctx, mvds.Selection{}, func(mvds.State) int64 { return 1 << 40 }); err != nil || moved != 1 {
		t.Fatalf("Reschedule(all) moved %d, %v; want c's one remaining state", moved, err)
	}
	h.mu.Lock()
	n := len(h.rescheduled)
	h.mu.Unlock()
	if n != 2 {
		t.Errorf("hook told of %d rescheduled states; want 2", n)
	}
	if sc := p.states(t, mvds.PeerStates(c)); len(sc) != 1 || sc[0].SendEpoch != 1<<40 {
		t.Errorf("c's state after Reschedule(all): %+v", sc)
	}
}

func TestDropDeletesStatesAndTellsTheHook(t *testing.T) {
	h := newSteeringHook()
	h.paused.Store(true)
	p := startPair(t, h)
	ctx := context.Background()
	id, err := p.na.Append(ctx, p.g, []byte("discard me"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.na.Update(ctx, func(op *mvds.Op) error {
		states, err := op.States(mvds.MessageStates(id))
		if err != nil {
			return err
		}
		for _, s := range states {
			if err := op.Drop(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.states(t, mvds.MessageStates(id)); len(s) != 0 {
		t.Fatalf("states left after Drop: %+v", s)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dropped) != 1 || h.dropped[0].MessageID != id {
		t.Fatalf("hook saw drops %+v; want the one state", h.dropped)
	}
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	h := newSteeringHook()
	h.paused.Store(true)
	p := startPair(t, h)
	ctx := context.Background()
	if _, err := p.na.DB().SQL().Exec(`CREATE TABLE app_meta (id BLOB PRIMARY KEY, note TEXT)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("application failed after appending")
	err := p.na.Update(ctx, func(op *mvds.Op) error {
		id, err := op.Append(p.g, []byte("half written?"))
		if err != nil {
			return err
		}
		if _, err := op.Tx().Exec(`INSERT INTO app_meta (id, note) VALUES (?, 'x')`, id[:]); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v; want the callback's", err)
	}
	var msgs, states, meta int
	db := p.na.DB().SQL()
	for q, dst := range map[string]*int{
		`SELECT count(*) FROM mvds_messages`: &msgs, `SELECT count(*) FROM mvds_states`: &states, `SELECT count(*) FROM app_meta`: &meta,
	} {
		if err := db.QueryRow(q).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	if msgs+states+meta != 0 {
		t.Fatalf("a failed Update left %d messages, %d states, %d metadata rows", msgs, states, meta)
	}
	h.hookRecorder.mu.Lock()
	defer h.hookRecorder.mu.Unlock()
	if len(h.scheduled) != 1 {
		t.Fatalf("hook saw %d scheduled states", len(h.scheduled))
	}
}

func TestHookedNodeReportsSendFailures(t *testing.T) {
	h := newSteeringHook()
	p := startPair(t, h)
	p.net.SetOnline(p.a, false)
	if _, err := p.na.Append(context.Background(), p.g, []byte("no network")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a reported send failure", func() bool {
		h.hookRecorder.mu.Lock()
		defer h.hookRecorder.mu.Unlock()
		return h.failures > 0
	})
}

// TestMvdsSQLiteStateNeverSendsARequestedOfferedMessage pins a defect of
// mvds's SQLite sync state that breaks INTERACTIVE mode: when a peer requests
// an offered message, mvds adds a MESSAGE state with INSERT OR IGNORE, which
// the existing OFFER state for the same (message, peer) silently wins. The
// hooked state turns the offer into a message instead (see
// TestTwoNodesExchangeMessagesInBothModes/interactive).
func TestMvdsSQLiteStateNeverSendsARequestedOfferedMessage(t *testing.T) {
	db := openDB(t, t.TempDir(), "x.db")
	defer db.Close()
	ss := state.NewPersistentSyncState(db.SQL())
	msg, peer, g := mvds.MessageID{1}, peerID(2), groupID(1)
	if err := ss.Add(mvds.State{Type: state.OFFER, SendEpoch: 1, GroupID: &g, PeerID: peer, MessageID: msg}); err != nil {
		t.Fatal(err)
	}
	if err := ss.Add(mvds.State{Type: state.MESSAGE, SendEpoch: 2, GroupID: &g, PeerID: peer, MessageID: msg}); err != nil {
		t.Fatal(err)
	}
	var typ int
	if err := db.SQL().QueryRow(`SELECT type FROM mvds_states`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != int(state.OFFER) {
		t.Fatalf("type %d: mvds now honours the request; the hooked state's upgrade can go", typ)
	}
}
