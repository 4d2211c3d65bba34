package retry_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

const testEpoch = 2 * time.Millisecond

func peerID(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0], p[1] = 0x04, b
	return p
}

// fastPolicy retries within a few epochs so that failures happen quickly.
func fastPolicy(attempts int) retry.Policy {
	return retry.Policy{Initial: 4 * testEpoch, Max: 8 * testEpoch, Multiplier: 2, MaxAttempts: attempts}
}

// inbox records what an application received, and how often.
type inbox struct {
	mu    sync.Mutex
	count map[string]int
}

func newInbox() *inbox { return &inbox{count: map[string]int{}} }

func (r *inbox) handle(_ context.Context, _ *sql.Tx, m mvds.Received) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count[string(m.Body)]++
	return nil
}

func (r *inbox) has(body string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[body] > 0
}

// world is a sender Guard A and a recipient Guard B on their own files.
type world struct {
	t      testing.TB
	dir    string
	net    *memtransport.Network
	a, b   mvds.PeerID
	connA  *retry.Manual
	ga, gb *retry.Guard
	dbA    *mvds.DB
	dbB    *mvds.DB
	inboxB *inbox
	optsA  []retry.Option
}

func newWorld(t testing.TB, optsA ...retry.Option) *world {
	t.Helper()
	return newWorldOn(t, memtransport.New(1), optsA...)
}

// newWorldOn builds the world on a network the test configured.
func newWorldOn(t testing.TB, net *memtransport.Network, optsA ...retry.Option) *world {
	t.Helper()
	dbA, err := sqlitedb.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newWorldWith(t, net, dbA, optsA...)
}

// newWorldWith builds the world with A on a database the test opened.
func newWorldWith(t testing.TB, net *memtransport.Network, dbA *mvds.DB, optsA ...retry.Option) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), net: net, a: peerID(1), b: peerID(2),
		connA: retry.NewManual(true), inboxB: newInbox(), optsA: optsA, dbA: dbA}
	var err error
	if w.dbB, err = sqlitedb.Open(filepath.Join(w.dir, "b.db")); err != nil {
		t.Fatal(err)
	}
	w.ga = w.startA()
	epB, err := w.net.Join(w.b)
	if err != nil {
		t.Fatal(err)
	}
	w.gb, err = retry.New(w.dbB, epB, w.b, retry.WithNodeOptions(mvds.WithEpoch(testEpoch), mvds.WithHandler(w.inboxB.handle)),
		retry.WithLogger(zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.gb.Close()
		if w.ga != nil {
			w.ga.Close()
		}
		w.dbA.Close()
		w.dbB.Close()
	})
	return w
}

func (w *world) startA() *retry.Guard {
	w.t.Helper()
	ep, err := w.net.Join(w.a)
	if err != nil {
		w.t.Fatal(err)
	}
	opts := append([]retry.Option{
		retry.WithConnectivity(w.connA),
		retry.WithNodeOptions(mvds.WithEpoch(testEpoch)),
		retry.WithSweepInterval(5 * time.Millisecond),
		retry.WithLogger(zaptest.NewLogger(w.t, zaptest.Level(zapcore.WarnLevel))),
	}, w.optsA...)
	g, err := retry.New(w.dbA, ep, w.a, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

// restartA closes A and starts it again on the same file.
func (w *world) restartA() {
	w.t.Helper()
	if err := w.ga.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.ga = w.startA()
}

// setOffline switches A's device, as the OS would: the network and the
// connectivity signal together.
func (w *world) setOnline(online bool) {
	w.net.SetOnline(w.a, online)
	w.connA.Set(online)
}

func (w *world) send(id string, flow mvdsguard.Flow, kind retry.Kind) {
	w.t.Helper()
	err := w.ga.Send(context.Background(), retry.Outgoing{AppID: id, ChatID: "chat-b", Flow: flow, Kind: kind,
		Peers: []mvds.PeerID{w.b}, Payload: []byte(id)})
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

// firstCopyLost waits until id's first attempt was counted and its copy
// dropped by the partition between A and B. An attempt is counted when its
// payload is built and sent just after, so waiting for the count alone could
// let a busy machine send the copy after a heal that follows, and deliver it
// without the behaviour a test means to show.
func (w *world) firstCopyLost(id string) {
	w.t.Helper()
	eventually(w.t, 10*time.Second, "the first attempt", func() bool { return w.status(id).Attempts == 1 })
	eventually(w.t, 10*time.Second, "the first copy lost to the partition", func() bool { return w.net.LinkStats(w.a, w.b).Partitioned >= 1 })
}

// eventually waits, bounded in time, for cond.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.For(t, within, what, cond)
}

// events reads the whole log of g.
func events(t testing.TB, g *retry.Guard) []mvdsguard.Event {
	t.Helper()
	var out []mvdsguard.Event
	var after uint64
	for {
		batch, err := g.Events(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			return out
		}
		out = append(out, batch...)
		after = batch[len(batch)-1].Seq
	}
}

func eventTypes(es []mvdsguard.Event, app string) []string {
	var out []string
	for _, e := range es {
		if e.ID == app {
			s := e.Type.String()[len("mvds.message."):]
			if e.Peer != "" {
				s += "(peer)"
			}
			if e.Reason != "" {
				s += fmt.Sprintf("[%s]", e.Reason)
			}
			out = append(out, s)
		}
	}
	return out
}
