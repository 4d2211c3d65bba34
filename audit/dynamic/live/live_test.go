package live_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/live"
	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// These tests run real Guards on real mvds nodes over SQLite files, talking
// through the in-process network with its faults, record them with the live
// package and judge the recording. Each check fires in one run and stays
// quiet in another.

const epoch = 2 * time.Millisecond

func peerID(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0], p[1] = 0x04, b
	return p
}

// fast retries within a few epochs.
func fast(attempts int) retry.Policy {
	return retry.Policy{Initial: 4 * epoch, Max: 8 * epoch, Multiplier: 2, MaxAttempts: attempts}
}

// setup says how a world is built.
type setup struct {
	cfg func(*config.Runtime)
	// unwired: the application tells the Guard only that the device went
	// offline, never that it came back (the recorder still sees both).
	unwired  bool
	optsA    []retry.Option
	faults   *memtransport.Faults
	failOnce bool // B's application fails the first time it handles each message
	idOf     func(mvds.Received) string
}

// world is sender alice and recipient bob, each a Guard on its own file,
// recorded by one Recorder.
type world struct {
	t        testing.TB
	net      *memtransport.Network
	a, b     mvds.PeerID
	device   *retry.Manual // what alice's OS reports
	toGuard  *retry.Manual // what the unwired application tells the Guard
	conn     *live.ConnectivityRecorder
	ga, gb   *retry.Guard
	rec      *dynamic.Recorder
	watchA   *live.Watcher
	received *inbox
}

type inbox struct {
	mu    sync.Mutex
	seen  map[string]int
	fails map[string]bool
}

func newWorld(t testing.TB, s setup) *world {
	t.Helper()
	cfg := config.DefaultRuntime()
	cfg.Horizon = 20 * time.Second
	cfg.ReconnectWithin = time.Second
	cfg.Lateness = 20 * time.Millisecond
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	rec, err := dynamic.NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, net: memtransport.New(7), a: peerID(1), b: peerID(2), device: retry.NewManual(true),
		toGuard: retry.NewManual(true), rec: rec, received: &inbox{seen: map[string]int{}, fails: map[string]bool{}}}
	if s.faults != nil {
		if err := w.net.SetFaults(*s.faults); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	dbA, err := sqlitedb.Open(filepath.Join(dir, "alice.db"))
	if err != nil {
		t.Fatal(err)
	}
	dbB, err := sqlitedb.Open(filepath.Join(dir, "bob.db"))
	if err != nil {
		t.Fatal(err)
	}
	w.conn = live.Connectivity(w.device, rec, "alice")
	var guardConn retry.Connectivity = w.conn
	if s.unwired {
		guardConn = w.toGuard
	}
	logger := func() retry.Option { return retry.WithLogger(zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))) }
	epA, err := w.net.Join(w.a)
	if err != nil {
		t.Fatal(err)
	}
	optsA := append([]retry.Option{retry.WithConnectivity(guardConn), retry.WithNodeOptions(mvds.WithEpoch(epoch)),
		retry.WithSweepInterval(5 * time.Millisecond), logger()}, s.optsA...)
	if w.ga, err = retry.New(dbA, epA, w.a, optsA...); err != nil {
		t.Fatal(err)
	}
	handle := func(_ context.Context, _ *sql.Tx, m mvds.Received) error {
		w.received.mu.Lock()
		defer w.received.mu.Unlock()
		body := string(m.Body)
		if s.failOnce && !w.received.fails[body] {
			w.received.fails[body] = true
			return errors.New("application busy")
		}
		w.received.seen[body]++
		return nil
	}
	epB, err := w.net.Join(w.b)
	if err != nil {
		t.Fatal(err)
	}
	if w.gb, err = retry.New(dbB, epB, w.b, logger(), retry.WithNodeOptions(mvds.WithEpoch(epoch),
		mvds.WithHandler(live.Handler(handle, rec, "bob", s.idOf)))); err != nil {
		t.Fatal(err)
	}
	if w.watchA, err = live.Watch(w.ga, rec, "alice", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.watchA.Close()
		w.gb.Close()
		w.ga.Close()
		w.conn.Close()
		dbA.Close()
		dbB.Close()
	})
	return w
}

func (w *world) send(id, payload string, flow mvdsguard.Flow, kind retry.Kind) {
	w.t.Helper()
	err := w.ga.Send(context.Background(), retry.Outgoing{AppID: id, ChatID: "chat-bob", Flow: flow, Kind: kind,
		Peers: []mvds.PeerID{w.b}, Payload: []byte(payload)})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) status(id string) retry.MessageStatus {
	w.t.Helper()
	s, err := w.ga.Status(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// offline takes alice's device off the network; the Guard hears of it.
func (w *world) offline() {
	w.net.SetOnline(w.a, false)
	w.device.Set(false)
	w.toGuard.Set(false)
}

// online brings the device back; an unwired Guard does not hear of it.
func (w *world) online() {
	w.net.SetOnline(w.a, true)
	w.device.Set(true)
}

func (w *world) sync() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.watchA.Sync(ctx); err != nil {
		w.t.Fatal(err)
	}
}

// finish records everything so far and judges the run as of now.
func (w *world) finish() *dynamic.Report {
	w.t.Helper()
	w.sync()
	return w.rec.Finish(time.Now())
}

func verdicts(rep *dynamic.Report) []string {
	var out []string
	for _, v := range rep.Violations {
		out = append(out, strings.Join(strings.Fields(v.Check+" "+v.Node+" "+v.ID), " "))
	}
	sort.Strings(out)
	return out
}

func expect(t *testing.T, rep *dynamic.Report, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := verdicts(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
		var msgs []string
		for _, v := range rep.Violations {
			msgs = append(msgs, v.Message)
		}
		t.Fatalf("violations %q; want %q\n%s", got, want, strings.Join(msgs, "\n"))
	}
}

func flow(rep *dynamic.Report, f mvdsguard.Flow) dynamic.FlowCounts {
	for _, c := range rep.Flows {
		if c.Flow == f {
			return c
		}
	}
	return dynamic.FlowCounts{}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 20*time.Second, what, cond)
}

func TestQuietRunOverALossyDuplicatingNetworkHasNoViolation(t *testing.T) {
	w := newWorld(t, setup{
		faults:   &memtransport.Faults{Loss: 0.3, Duplicate: 0.5, Reorder: 0.3, Jitter: 3 * time.Millisecond},
		failOnce: true,
		optsA:    []retry.Option{retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, fast(0)), retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fast(0)), retry.WithPolicy(mvdsguard.JoinRequest, retry.Control, fast(0))},
	})
	w.send("cr-1", "cr-1", mvdsguard.ContactRequest, retry.Control)
	w.send("join-1", "join-1", mvdsguard.JoinRequest, retry.Control)
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("chat-%d", i)
		w.send(id, id, mvdsguard.OneToOne, retry.Content)
	}
	eventually(t, "every message delivered", func() bool {
		for _, id := range []string{"cr-1", "join-1", "chat-0", "chat-1", "chat-2", "chat-3", "chat-4"} {
			if w.status(id).Status != mvdsguard.Delivered {
				return false
			}
		}
		return true
	})
	eventually(t, "bob's application has every message", func() bool {
		w.received.mu.Lock()
		defer w.received.mu.Unlock()
		return len(w.received.seen) == 7
	})
	rep := w.finish()
	expect(t, rep)
	if c := flow(rep, mvdsguard.OneToOne); c.Messages != 5 || c.MVDS != 5 || c.Delivered != 5 || c.Outside != 0 {
		t.Fatalf("one_to_one counts %+v", c)
	}
	if c := flow(rep, mvdsguard.ContactRequest); c.Delivered != 1 {
		t.Fatalf("contact_request counts %+v", c)
	}
	if st := w.net.Stats(); st.Duplicated == 0 || st.Lost == 0 {
		t.Fatalf("the network neither lost nor duplicated anything (%+v): the run proves nothing", st)
	}
}

func TestAJoinRequestTheApplicationSentItselfIsReportedAsOutsideMVDS(t *testing.T) {
	w := newWorld(t, setup{})
	w.send("cr-1", "cr-1", mvdsguard.ContactRequest, retry.Control)
	// The application published the request on the community topic
	// itself, beside the Guard.
	live.Sent(w.rec, "alice", "join-1", mvdsguard.JoinRequest, dynamic.ViaCommunity)
	// A public chat message outside MVDS is no violation.
	live.Sent(w.rec, "alice", "pub-1", mvdsguard.Other, dynamic.ViaPublic)
	eventually(t, "the contact request delivered", func() bool { return w.status("cr-1").Status == mvdsguard.Delivered })
	rep := w.finish()
	expect(t, rep, "MA1001 alice join-1")
	v := rep.Violations[0]
	if !strings.Contains(v.Message, "join_request") || !strings.Contains(v.Message, "community topic") || v.Evidence[0].Input != live.Input {
		t.Fatalf("violation %+v", v)
	}
	if c := flow(rep, mvdsguard.JoinRequest); c.Outside != 1 || c.Open != 1 {
		t.Fatalf("join_request counts %+v", c)
	}
}

func TestARequestToAnUnreachablePeerIsASilentDropOnceTheHorizonPasses(t *testing.T) {
	horizon := 400 * time.Millisecond
	w := newWorld(t, setup{
		cfg:   func(c *config.Runtime) { c.Horizon = horizon },
		optsA: []retry.Option{retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, fast(0))},
	})
	w.net.Partition(w.a, w.b)
	w.send("cr-1", "cr-1", mvdsguard.ContactRequest, retry.Control)
	eventually(t, "attempts", func() bool { return w.status("cr-1").Attempts >= 3 })
	time.Sleep(horizon + 100*time.Millisecond)
	rep := w.finish()
	expect(t, rep, "MA2001 alice cr-1")
	if c := flow(rep, mvdsguard.ContactRequest); c.Silent != 1 || c.Delivered != 0 {
		t.Fatalf("contact_request counts %+v", c)
	}
	if w.status("cr-1").Status != mvdsguard.Pending {
		t.Fatal("the Guard gave up on an indefinite flow")
	}
}

func TestAFailureAfterAttemptsWithinTheHorizonIsQuiet(t *testing.T) {
	w := newWorld(t, setup{optsA: []retry.Option{retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fast(3))}})
	w.net.Partition(w.a, w.b)
	w.send("chat-1", "chat-1", mvdsguard.OneToOne, retry.Content)
	eventually(t, "failed", func() bool { return w.status("chat-1").Status == mvdsguard.Failed })
	rep := w.finish()
	expect(t, rep)
	if c := flow(rep, mvdsguard.OneToOne); c.Failed != 1 || c.Silent != 0 {
		t.Fatalf("one_to_one counts %+v", c)
	}
}

func TestARetryAfterAFailureStartsANewRoundThatCanBeDelivered(t *testing.T) {
	w := newWorld(t, setup{optsA: []retry.Option{retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fast(2))}})
	w.net.Partition(w.a, w.b)
	w.send("chat-1", "chat-1", mvdsguard.OneToOne, retry.Content)
	eventually(t, "failed", func() bool { return w.status("chat-1").Status == mvdsguard.Failed })
	w.net.Heal(w.a, w.b)
	if err := w.ga.Retry(context.Background(), "chat-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivered", func() bool { return w.status("chat-1").Status == mvdsguard.Delivered })
	rep := w.finish()
	expect(t, rep)
	if c := flow(rep, mvdsguard.OneToOne); c.Messages != 1 || c.Delivered != 1 || c.Failed != 0 {
		t.Fatalf("one_to_one counts %+v: the final outcome is delivered", c)
	}
}

func TestAGuardThatIsNotToldOfTheReconnectIsReported(t *testing.T) {
	within := 300 * time.Millisecond
	w := newWorld(t, setup{unwired: true, cfg: func(c *config.Runtime) { c.ReconnectWithin = within }})
	w.offline()
	w.send("cr-1", "cr-1", mvdsguard.ContactRequest, retry.Control)
	w.sync()
	w.online()
	time.Sleep(within + 100*time.Millisecond)
	rep := w.finish()
	expect(t, rep, "MA2002 alice")
	v := rep.Violations[0]
	if len(v.Evidence) != 2 || !strings.Contains(v.Evidence[0].Text, `"online":true`) || !strings.Contains(v.Evidence[1].Text, "cr-1") {
		t.Fatalf("evidence %+v; want the reconnect and the pending message", v.Evidence)
	}
	if w.status("cr-1").Attempts != 0 {
		t.Fatal("the unwired Guard sent anyway: the test proves nothing")
	}
}

func TestAGuardToldOfTheReconnectRetriesAtOnce(t *testing.T) {
	within := time.Second
	w := newWorld(t, setup{cfg: func(c *config.Runtime) { c.ReconnectWithin = within },
		optsA: []retry.Option{retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, retry.Policy{Initial: time.Minute, Max: time.Hour, Multiplier: 2})}})
	w.offline()
	w.send("cr-1", "cr-1", mvdsguard.ContactRequest, retry.Control)
	w.sync()
	w.online()
	eventually(t, "delivered", func() bool { return w.status("cr-1").Status == mvdsguard.Delivered })
	// Judge the run only once the reconnect's deadline has passed.
	time.Sleep(within + 100*time.Millisecond)
	rep := w.finish()
	expect(t, rep)
	if rep.State.Reconnects != 1 {
		t.Fatalf("%d reconnects with messages pending; want 1 (the check must have run)", rep.State.Reconnects)
	}
}

func TestADeadlineThatPassesWhileOfflineFailsAMessageNeverTried(t *testing.T) {
	w := newWorld(t, setup{optsA: []retry.Option{retry.WithPolicy(mvdsguard.OneToOne, retry.Content,
		retry.Policy{Initial: 4 * epoch, Max: 8 * epoch, Multiplier: 2, Deadline: 150 * time.Millisecond})}})
	w.offline()
	w.send("chat-1", "chat-1", mvdsguard.OneToOne, retry.Content)
	eventually(t, "failed", func() bool { return w.status("chat-1").Status == mvdsguard.Failed })
	rep := w.finish()
	expect(t, rep, "MA2003 alice chat-1")
	if v := rep.Violations[0]; !strings.Contains(v.Message, "deadline") || len(v.Evidence) != 2 {
		t.Fatalf("violation %+v", v)
	}
}

func TestAMessageSentTwiceByTheApplicationReachesBobsApplicationTwice(t *testing.T) {
	// The payload carries the application's message id before '|'; the
	// rest (a send timestamp) makes each mvds message distinct.
	appID := func(m mvds.Received) string { return strings.SplitN(string(m.Body), "|", 2)[0] }
	w := newWorld(t, setup{idOf: appID})
	w.send("m-1", "hello-1|1", mvdsguard.OneToOne, retry.Content)
	// The user saw no check mark and pressed send again: the same
	// application message in a new mvds message.
	w.send("m-1-again", "hello-1|2", mvdsguard.OneToOne, retry.Content)
	w.send("m-2", "hello-2|1", mvdsguard.OneToOne, retry.Content)
	eventually(t, "bob received both copies", func() bool {
		w.received.mu.Lock()
		defer w.received.mu.Unlock()
		return len(w.received.seen) == 3
	})
	rep := w.finish()
	expect(t, rep, "MA2004 bob hello-1")
}
