package retry

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // tests only: the package itself links no driver
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

// These tests hold the ledger to its one answer for "how many attempts has
// this message had": every figure — the in-memory tally, the row's
// checkpoint plus what follows it, a status read, the events' copies — must
// equal the count of the message's sent events, whatever happened before:
// attempts while the row lags, a clean restart, a crash that loses the
// in-memory tally, Track after mvds already sent.

const ledgerEpoch = 2 * time.Millisecond

// ledgerWorld is a sender and a recipient Guard on their own files, with the
// sender's Guard restartable in place.
type ledgerWorld struct {
	t     *testing.T
	dir   string
	net   *memtransport.Network
	a, b  mvds.PeerID
	dbA   *mvds.DB
	ga    *Guard
	gb    *Guard
	optsA []Option
}

func openLedgerDB(t *testing.T, path string) *mvds.DB {
	t.Helper()
	ledger, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", "file:"+strings.ReplaceAll(path, "%", "%25")+"?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db, err := mvds.FromSQL(raw, path, ledger)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newLedgerWorld(t *testing.T, optsA ...Option) *ledgerWorld {
	t.Helper()
	w := &ledgerWorld{t: t, dir: t.TempDir(), net: memtransport.New(3), a: mvds.PeerID{0x04, 1}, b: mvds.PeerID{0x04, 2}, optsA: optsA}
	w.dbA = openLedgerDB(t, filepath.Join(w.dir, "a.db"))
	dbB := openLedgerDB(t, filepath.Join(w.dir, "b.db"))
	w.ga = w.startA()
	ep, err := w.net.Join(w.b)
	if err != nil {
		t.Fatal(err)
	}
	if w.gb, err = New(dbB, ep, w.b, WithNodeOptions(mvds.WithEpoch(ledgerEpoch)), WithLogger(zap.NewNop())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.gb.Close()
		if w.ga != nil {
			_ = w.ga.Close()
		}
		_ = w.dbA.Close()
		_ = dbB.Close()
	})
	return w
}

func (w *ledgerWorld) startA() *Guard {
	w.t.Helper()
	ep, err := w.net.Join(w.a)
	if err != nil {
		w.t.Fatal(err)
	}
	g, err := New(w.dbA, ep, w.a, append([]Option{WithNodeOptions(mvds.WithEpoch(ledgerEpoch)),
		WithSweepInterval(5 * time.Millisecond), WithLogger(zap.NewNop())}, w.optsA...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

// crashA stops A the way a killed process does, as far as the ledger can
// tell: the in-memory tally is lost and no final checkpoint is written.
func (w *ledgerWorld) crashA() {
	w.ga.cancel()
	w.ga.wg.Wait()
	w.ga.ledger.events.close()
	if err := w.ga.node.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.ga = nil
}

// countSent counts a message's sent events: the record.
func countSent(q querier, app string) (int, error) {
	var n int
	err := q.QueryRowContext(context.Background(), `SELECT count(*) FROM retry_events WHERE app_id = ? AND type = ?`,
		app, int(mvdsguard.EventSent)).Scan(&n)
	return n, err
}

func sentEvents(t *testing.T, q querier, app string) int {
	t.Helper()
	n, err := countSent(q, app)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkOneAnswer compares, inside one engine operation (so that no epoch
// runs in between), every figure of app's attempts with its sent events.
func checkOneAnswer(t *testing.T, g *Guard, app string) int {
	t.Helper()
	var record int
	err := g.node.Update(context.Background(), func(op *mvds.Op) error {
		q := op.Tx()
		var err error
		if record, err = countSent(q, app); err != nil {
			return err
		}
		derived, err := tallyFrom(context.Background(), q, app)
		if err != nil {
			return err
		}
		if derived.attempts != record {
			return fmt.Errorf("row checkpoint plus the events after it say %d attempts; the log has %d", derived.attempts, record)
		}
		if e := g.ledger.apps[app]; e != nil && e.committed.attempts != record {
			return fmt.Errorf("the in-memory tally says %d attempts; the log has %d", e.committed.attempts, record)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", app, err)
	}
	s, err := g.Status(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	if now := sentEvents(t, g.ledger.db, app); s.Attempts > now || s.Attempts < record {
		t.Fatalf("%s: Status says %d attempts; the log had %d, then %d", app, s.Attempts, record, now)
	}
	// Pending reads every listed message's tail in one pass; same answer.
	list, err := g.Pending(context.Background(), Filter{Statuses: []mvdsguard.Status{s.Status}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if now := sentEvents(t, g.ledger.db, app); m.AppID == app && (m.Attempts > now || m.Attempts < record) {
			t.Fatalf("%s: Pending says %d attempts; the log had %d, then %d", app, m.Attempts, record, now)
		}
	}
	return record
}

func (w *ledgerWorld) send(app string, flow mvdsguard.Flow, kind Kind) {
	w.t.Helper()
	if err := w.ga.Send(context.Background(), Outgoing{AppID: app, Flow: flow, Kind: kind, Peers: []mvds.PeerID{w.b}, Payload: []byte(app)}); err != nil {
		w.t.Fatal(err)
	}
}

func TestAttemptsHaveOneAnswerWhileTheRowLagsAcrossRestartsAndCrashes(t *testing.T) {
	w := newLedgerWorld(t, WithPolicy(mvdsguard.ContactRequest, Control,
		Policy{Initial: 2 * ledgerEpoch, Max: 4 * ledgerEpoch, Multiplier: 2}))
	w.net.Partition(w.a, w.b)
	w.send("cr", mvdsguard.ContactRequest, Control)
	last := 0
	for round := 0; round < 3; round++ {
		wait.For(t, 10*time.Second, "more attempts", func() bool { return sentEvents(t, w.ga.ledger.db, "cr") > last+5 })
		last = checkOneAnswer(t, w.ga, "cr")
	}

	// A clean restart writes the rows and replays nothing.
	if err := w.ga.Close(); err != nil {
		t.Fatal(err)
	}
	w.ga = w.startA()
	last = checkOneAnswer(t, w.ga, "cr")

	// A crash loses the in-memory tally between checkpoints; the replay
	// restores it from the log.
	wait.For(t, 10*time.Second, "attempts after the restart", func() bool { return sentEvents(t, w.ga.ledger.db, "cr") > last+5 })
	w.crashA()
	w.ga = w.startA()
	last = checkOneAnswer(t, w.ga, "cr")

	// Settled: the row alone is exact, and the terminal event copies it.
	w.net.Heal(w.a, w.b)
	wait.For(t, 10*time.Second, "delivery", func() bool {
		s, err := w.ga.Status(context.Background(), "cr")
		return err == nil && s.Status == mvdsguard.Delivered
	})
	final := checkOneAnswer(t, w.ga, "cr")
	if final < last {
		t.Fatalf("attempts went down from %d to %d", last, final)
	}
	es, err := w.ga.Events(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var whole mvdsguard.Event
	for _, e := range es {
		if e.ID == "cr" && e.Type == mvdsguard.EventDelivered && e.Peer == "" {
			whole = e
		}
	}
	if whole.Attempts != final {
		t.Fatalf("the delivered event says %d attempts; the log has %d", whole.Attempts, final)
	}
}

func TestAttemptsMvdsMadeBeforeTrackAreInTheLog(t *testing.T) {
	w := newLedgerWorld(t)
	w.net.Partition(w.a, w.b)
	ctx := context.Background()
	node := w.ga.Node()
	group := pairGroup(w.a, w.b)
	if err := node.AddPeer(ctx, group, w.b); err != nil {
		t.Fatal(err)
	}
	id, err := node.Append(ctx, group, []byte("appended by the application"))
	if err != nil {
		t.Fatal(err)
	}
	// mvds sends it on its own curve before the application tracks it.
	wait.For(t, 10*time.Second, "mvds's first transmission", func() bool {
		states, err := node.States(ctx, mvds.MessageStates(id))
		return err == nil && len(states) == 1 && states[0].SendCount >= 1
	})
	if err := w.ga.Track(ctx, id, Meta{AppID: "tracked", Flow: mvdsguard.OneToOne}); err != nil {
		t.Fatal(err)
	}
	if n := checkOneAnswer(t, w.ga, "tracked"); n < 1 {
		t.Fatalf("%d attempts recorded; mvds had already sent it", n)
	}
}
