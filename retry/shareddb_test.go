package retry_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// status-go's application database has many writers. These tests share the
// Guard's database with another connection, fill its disk and step its wall
// clock, and check that nothing is half-written, errors say what happened,
// and the Guard carries on once the cause is gone.

// adoptWithBusyTimeout opens path as status-go opens its application
// database — its own handle, WAL, BEGIN IMMEDIATE for every transaction, its
// own busy timeout (status-go: 60 s) — and adopts it for the Guard. (With
// deferred transactions SQLite would not wait at all: it never calls the
// busy handler when a transaction that has read wants to write.)
func adoptWithBusyTimeout(t *testing.T, path string, busy time.Duration) *mvds.DB {
	t.Helper()
	raw, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_busy_timeout=%d&_journal_mode=WAL&_txlock=immediate", path, busy.Milliseconds()))
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := retry.Schema()
	if err != nil {
		t.Fatal(err)
	}
	db, err := mvds.FromSQL(raw, "app.db", ledger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// lone starts a Guard whose peer is never reachable: every Send is recorded
// and retried, nothing is delivered.
func lone(t *testing.T, db *mvds.DB, opts ...retry.Option) *retry.Guard {
	t.Helper()
	net := memtransport.New(1)
	ep, err := net.Join(peerID(1))
	if err != nil {
		t.Fatal(err)
	}
	g, err := retry.New(db, ep, peerID(1), append([]retry.Option{retry.WithNodeOptions(mvds.WithEpoch(testEpoch)),
		retry.WithLogger(zap.NewNop())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// holdWriteLock takes the database's write lock on a connection of its own,
// as another part of the application would, until the returned function is
// called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `CREATE TABLE IF NOT EXISTS app_settings (k TEXT PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(context.Background(), `COMMIT`); err != nil {
			t.Error(err)
		}
		_ = conn.Close()
		_ = other.Close()
	}
	t.Cleanup(release)
	return release
}

func outgoing(id string) retry.Outgoing {
	return retry.Outgoing{AppID: id, ChatID: "chat", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{peerID(2)}, Payload: []byte(id)}
}

func TestSendWaitsForAnotherWriterWithinTheBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	g := lone(t, adoptWithBusyTimeout(t, path, 5*time.Second))
	release := holdWriteLock(t, path)
	go func() {
		time.Sleep(300 * time.Millisecond)
		release()
	}()
	start := time.Now()
	if err := g.Send(context.Background(), outgoing("waited")); err != nil {
		t.Fatalf("Send while another writer held the lock for 300 ms: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("Send returned after %v, while the lock was held for 300 ms", took)
	}
	if s, err := g.Status(context.Background(), "waited"); err != nil || s.Status != mvdsguard.Pending {
		t.Fatalf("status %+v, %v; want pending", s, err)
	}
}

func TestALockHeldPastTheBusyTimeoutFailsClearlyAndLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db := adoptWithBusyTimeout(t, path, 200*time.Millisecond)
	g := lone(t, db)
	if err := g.Send(context.Background(), outgoing("before")); err != nil {
		t.Fatal(err)
	}
	before := ledgerRows(t, db)
	release := holdWriteLock(t, path)
	err := g.Send(context.Background(), outgoing("blocked"))
	if !errors.Is(err, mvds.ErrBusy) || !strings.Contains(err.Error(), `send "blocked"`) || !strings.Contains(err.Error(), "app.db") {
		t.Fatalf("Send under a held lock: %v; want an error naming the message and the database, wrapping mvds.ErrBusy", err)
	}
	release()
	if _, err := g.Status(context.Background(), "blocked"); !errors.Is(err, retry.ErrUnknownMessage) {
		t.Fatalf("status of the refused message: %v; want unknown", err)
	}
	if after := ledgerRows(t, db); after != before {
		t.Fatalf("a refused Send changed the database: %v → %v", before, after)
	}
	// The Guard carries on: the same message goes through now.
	if err := g.Send(context.Background(), outgoing("blocked")); err != nil {
		t.Fatalf("Send once the lock was released: %v", err)
	}
	eventually(t, 10*time.Second, "attempts of the earlier message going on", func() bool {
		s, err := g.Status(context.Background(), "before")
		return err == nil && s.Attempts >= 2
	})
}

// smallDisk mounts a tmpfs of the given size on a new directory: a real
// disk that fills up. It needs root (CI runs as root).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file until the disk is full, and returns it.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

func TestAFullDiskRefusesWholeMessagesAndTheGuardRecoversWhenSpaceReturns(t *testing.T) {
	disk := smallDisk(t, "3m")
	w := newWorldOnDisk(t, disk, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(0)))
	ctx := context.Background()
	w.net.Partition(w.a, w.b) // messages stay pending while the disk fills
	for i := 0; i < 5; i++ {
		w.send(fmt.Sprintf("early-%d", i), mvdsguard.OneToOne, retry.Content)
	}
	filler := fill(t, disk)

	// Sends go on until the disk refuses one; each is whole or absent.
	var refused error
	sent := map[string]bool{}
	for i := 0; i < 2000 && refused == nil; i++ {
		id := fmt.Sprintf("full-%d", i)
		payload := strings.Repeat(id, 200)
		err := w.ga.Send(ctx, retry.Outgoing{AppID: id, ChatID: "chat-b", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Payload: []byte(payload)})
		if err != nil {
			refused = err
			break
		}
		sent[id] = true
	}
	if !errors.Is(refused, mvds.ErrFull) || !strings.Contains(refused.Error(), "full") {
		t.Fatalf("Send on a full disk: %v; want an error wrapping mvds.ErrFull", refused)
	}
	t.Logf("%d sends accepted on the nearly full disk, then: %v", len(sent), refused)
	var messages, mvdsMessages int
	if err := w.dbA.SQL().QueryRow(`SELECT (SELECT count(*) FROM retry_messages), (SELECT count(*) FROM mvds_messages)`).Scan(&messages, &mvdsMessages); err != nil {
		t.Fatal(err)
	}
	if want := 5 + len(sent); messages != want || mvdsMessages != want {
		t.Fatalf("%d ledger rows and %d mvds messages; want %d of each: every accepted Send, nothing of the refused one", messages, mvdsMessages, want)
	}

	// The network comes back while the disk is still full: epochs run, their
	// attempts and the peer's acks cannot be recorded, and the Guard goes on.
	w.net.Heal(w.a, w.b)
	from := w.ga.Node().CurrentEpoch()
	eventually(t, 10*time.Second, "a hundred epochs on the full disk", func() bool { return w.ga.Node().CurrentEpoch() > from+100 })
	if s := w.status("early-0"); s.Status != mvdsguard.Pending {
		t.Fatalf("early-0 is %s while no transition could be recorded", s.Status)
	}

	// Space returns: everything goes out, once each.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := w.ga.Send(ctx, outgoingTo(w, "after")); err != nil {
		t.Fatalf("Send once space returned: %v", err)
	}
	eventually(t, 30*time.Second, "every message delivered", func() bool {
		ms, err := w.ga.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{mvdsguard.Pending, mvdsguard.Failed}})
		return err == nil && len(ms) == 0
	})
	for _, id := range append([]string{"after"}, "early-0", "early-1", "early-2", "early-3", "early-4") {
		if !w.inboxB.has(id) {
			t.Errorf("%s delivered but never reached B's application", id)
		}
	}
}

func outgoingTo(w *world, id string) retry.Outgoing {
	return retry.Outgoing{AppID: id, ChatID: "chat-b", Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{w.b}, Payload: []byte(id)}
}

// newWorldOnDisk is newWorld with A's database in dir.
func newWorldOnDisk(t *testing.T, dir string, optsA ...retry.Option) *world {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newWorldWith(t, memtransport.New(1), db, optsA...)
}

func TestAWallClockSteppedBackwardsDelaysNoDeadlineAndNoStall(t *testing.T) {
	clock := newFakeClock()
	p := fastPolicy(0)
	p.StallAfter, p.Deadline = 300*time.Millisecond, 900*time.Millisecond
	w := newWorld(t, retry.WithClock(clock), retry.WithWakeDetection(5*time.Millisecond, 100*time.Millisecond),
		retry.WithPolicy(mvdsguard.OneToOne, retry.Content, p))
	w.net.Partition(w.a, w.b)
	w.send("stepped", mvdsguard.OneToOne, retry.Content)
	sent := time.Now()
	clock.stepBack(time.Hour) // NTP corrects a clock that ran an hour ahead
	eventually(t, 5*time.Second, "stalled on time", func() bool { return w.status("stepped").Stalled })
	if took := time.Since(sent); took > 3*time.Second {
		t.Fatalf("stalled after %v; the threshold was 300 ms", took)
	}
	eventually(t, 5*time.Second, "failed by its deadline on time", func() bool { return w.status("stepped").Status == mvdsguard.Failed })
	s := w.status("stepped")
	if s.Reason != mvdsguard.ReasonDeadline || s.Attempts < 2 {
		t.Fatalf("status %+v; want failed by deadline after several attempts", s)
	}
}
