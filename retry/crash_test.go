package retry_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// The crash child runs when the test binary is started with these set.
const (
	crashChildEnv = "MVDSGUARD_CRASH_CHILD"
	crashDirEnv   = "MVDSGUARD_CRASH_DIR"
	crashModeEnv  = "MVDSGUARD_CRASH_MODE" // "run" (until killed) or "settle"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild(os.Getenv(crashDirEnv), os.Getenv(crashModeEnv)))
	}
	os.Exit(m.Run())
}

// crashChild is a sender A and a recipient B in one process, on their own
// files, over a lossy, flapping network. In "run" mode it sends, retries
// failed messages and prints "sent <id>" once each Send returned, until it
// is killed. In "settle" mode it sends nothing new, heals the network,
// retries what failed, and exits 0 once nothing is pending.
func crashChild(dir, mode string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	dbA, err := sqlitedb.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		return fail(err)
	}
	dbB, err := sqlitedb.Open(filepath.Join(dir, "b.db"))
	if err != nil {
		return fail(err)
	}
	if _, err := dbB.SQL().Exec(`CREATE TABLE IF NOT EXISTS app_received (body TEXT NOT NULL)`); err != nil {
		return fail(err)
	}
	net := memtransport.New(time.Now().UnixNano())
	a, b := peerID(1), peerID(2)
	epA, err := net.Join(a)
	if err != nil {
		return fail(err)
	}
	epB, err := net.Join(b)
	if err != nil {
		return fail(err)
	}
	nodeOpts := mvds.WithEpoch(time.Millisecond)
	ga, err := retry.New(dbA, epA, a, retry.WithNodeOptions(nodeOpts), retry.WithLogger(zap.NewNop()),
		retry.WithSweepInterval(2*time.Millisecond),
		retry.WithPolicy(mvdsguard.OneToOne, retry.Content, retry.Policy{Initial: 3 * time.Millisecond, Max: 6 * time.Millisecond, Multiplier: 2, MaxAttempts: 3}),
		retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, retry.Policy{Initial: 3 * time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2}))
	if err != nil {
		return fail(err)
	}
	// The application keeps what it receives in its own table, through the
	// handler's transaction: a duplicate row would be a duplicate delivery.
	handler := func(_ context.Context, tx *sql.Tx, m mvds.Received) error {
		_, err := tx.Exec(`INSERT INTO app_received (body) VALUES (?)`, string(m.Body))
		return err
	}
	gb, err := retry.New(dbB, epB, b, retry.WithNodeOptions(nodeOpts, mvds.WithHandler(handler)), retry.WithLogger(zap.NewNop()))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	retryFailed := func() error {
		failed, err := ga.Pending(ctx, retry.Filter{Statuses: []mvdsguard.Status{mvdsguard.Failed}})
		if err != nil {
			return err
		}
		for _, s := range failed {
			// A late copy's acknowledgement can deliver a failed message
			// between the listing and the Retry.
			if err := ga.Retry(ctx, s.AppID); err != nil && !errors.Is(err, retry.ErrNotRetryable) {
				return err
			}
		}
		return nil
	}
	if mode == "settle" {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if err := retryFailed(); err != nil {
				return fail(err)
			}
			open, err := ga.Pending(ctx, retry.Filter{})
			if err != nil {
				return fail(err)
			}
			if len(open) == 0 {
				ga.Close()
				gb.Close()
				fmt.Println("settled")
				return 0
			}
			time.Sleep(10 * time.Millisecond)
		}
		return fail(fmt.Errorf("still pending after 60 s"))
	}
	if err := net.SetFaults(memtransport.Faults{Loss: 0.2, Duplicate: 0.05, Reorder: 0.05}); err != nil {
		return fail(err)
	}
	var next int
	if err := dbA.SQL().QueryRow(`SELECT count(*) FROM retry_messages`).Scan(&next); err != nil {
		return fail(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := next; ; i++ {
		if i%7 == 3 {
			net.Partition(a, b) // failures for the bounded flow
		} else if i%7 == 5 {
			net.Heal(a, b)
		}
		id := fmt.Sprintf("m-%06d", i)
		flow := []mvdsguard.Flow{mvdsguard.OneToOne, mvdsguard.ContactRequest}[i%2]
		kind := []retry.Kind{retry.Content, retry.Control}[i%2]
		if err := ga.Send(ctx, retry.Outgoing{AppID: id, Flow: flow, Kind: kind, Peers: []mvds.PeerID{b}, Payload: []byte(id)}); err != nil {
			return fail(err)
		}
		fmt.Fprintf(out, "sent %s\n", id)
		out.Flush()
		if i%5 == 0 {
			if err := retryFailed(); err != nil {
				return fail(err)
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNothingIsLostOrRepeatedWhenKilledAtRandomPoints kills the child with
// SIGKILL at random moments, 50 times, and checks the files after each kill:
// every message whose Send returned is in the ledger, the event log has no
// gap and a terminal event for every terminal message, no message failed
// twice without a retry in between, and the application never received a
// message twice. A last run settles everything and checks that every message
// reached the application exactly once.
func TestNothingIsLostOrRepeatedWhenKilledAtRandomPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("50 process kills")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(2026<<20 ^ 11))
	sent := map[string]bool{}
	const trials = 50
	for trial := 0; trial < trials; trial++ {
		wait := time.Duration(30+r.Intn(250)) * time.Millisecond
		lines := runChild(t, exe, dir, "run", wait)
		for _, id := range lines {
			sent[id] = true
		}
		checkCrashInvariants(t, dir, sent, false)
		if t.Failed() {
			t.Fatalf("after trial %d (killed at %v)", trial, wait)
		}
	}
	if len(sent) < trials {
		t.Fatalf("only %d messages sent over %d runs: the child barely ran", len(sent), trials)
	}
	runChild(t, exe, dir, "settle", 0)
	checkCrashInvariants(t, dir, sent, true)
	t.Logf("%d trials, %d messages sent and acknowledged to the caller", trials, len(sent))
}

// runChild starts the child, kills it after wait (0: lets it finish) and
// returns the ids it reported as sent.
func runChild(t *testing.T, exe, dir, mode string, wait time.Duration) []string {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDirEnv+"="+dir, crashModeEnv+"="+mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		ids []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "sent "); ok && len(id) == len("m-000000") {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}
	}()
	if wait > 0 {
		time.Sleep(wait)
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	<-done
	err = cmd.Wait()
	if wait == 0 && err != nil {
		t.Fatalf("settle run: %v\n%s", err, stderr.String())
	}
	if wait > 0 && strings.Contains(stderr.String(), "crash child:") {
		t.Fatalf("child failed before the kill: %s", stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return ids
}

func checkCrashInvariants(t *testing.T, dir string, sent map[string]bool, settled bool) {
	t.Helper()
	dbA, err := sqlitedb.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	dbB, err := sqlitedb.Open(filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()

	status := map[string]int{}
	rows, err := dbA.SQL().Query(`SELECT app_id, status FROM retry_messages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var st int
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		status[id] = st
	}
	rows.Close()
	for id := range sent {
		if _, ok := status[id]; !ok {
			t.Errorf("%s: Send returned, but the ledger lost it", id)
		}
	}

	var count, maxSeq int
	if err := dbA.SQL().QueryRow(`SELECT count(*), coalesce(max(seq), 0) FROM retry_events`).Scan(&count, &maxSeq); err != nil {
		t.Fatal(err)
	}
	if count != maxSeq {
		t.Errorf("event log has gaps: %d events, last seq %d", count, maxSeq)
	}
	type history struct{ types []string }
	hist := map[string]*history{}
	rows, err = dbA.SQL().Query(`SELECT app_id, type, reason, peer IS NULL FROM retry_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, reason string
		var typ int
		var whole bool
		if err := rows.Scan(&id, &typ, &reason, &whole); err != nil {
			t.Fatal(err)
		}
		h := hist[id]
		if h == nil {
			h = &history{}
			hist[id] = h
		}
		if whole {
			h.types = append(h.types, mvdsguard.EventType(typ).String()+"/"+reason)
		}
	}
	rows.Close()
	for id, st := range status {
		h := hist[id]
		if h == nil || !strings.HasPrefix(h.types[0], "mvds.message.scheduled") {
			t.Errorf("%s: no scheduled event", id)
			continue
		}
		var last string
		failedOpen := false
		for _, ty := range h.types {
			switch {
			case strings.HasPrefix(ty, "mvds.message.failed"):
				if failedOpen {
					t.Errorf("%s: failed twice without a retry in between: %v", id, h.types)
				}
				failedOpen = true
				last = "failed"
			case ty == "mvds.message.rescheduled/user_retry":
				failedOpen = false
			case strings.HasPrefix(ty, "mvds.message.delivered"):
				last = "delivered"
			}
		}
		want := map[int]string{int(mvdsguard.Delivered): "delivered", int(mvdsguard.Failed): "failed"}[st]
		if want != "" && last != want {
			t.Errorf("%s: ledger says %s, last terminal event %q: %v", id, mvdsguard.Status(st), last, h.types)
		}
		if settled && st != int(mvdsguard.Delivered) {
			t.Errorf("%s: %s after settling", id, mvdsguard.Status(st))
		}
	}

	// The ledger's counters are a checkpoint of the sent events: row plus the
	// events after its position must equal all of them, crash or not.
	sum := func(q string) map[string]int {
		out := map[string]int{}
		rows, err := dbA.SQL().Query(q, int(mvdsguard.EventSent))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var app string
			var n int
			if err := rows.Scan(&app, &n); err != nil {
				t.Fatal(err)
			}
			out[app] = n
		}
		return out
	}
	total := sum(`SELECT app_id, count(*) FROM retry_events WHERE type = ? GROUP BY app_id`)
	after := sum(`SELECT e.app_id, count(*) FROM retry_events e JOIN retry_messages m ON m.app_id = e.app_id
		WHERE e.type = ? AND e.seq > m.counted_seq GROUP BY e.app_id`)
	rows, err = dbA.SQL().Query(`SELECT app_id, attempts FROM retry_messages`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var app string
		var attempts int
		if err := rows.Scan(&app, &attempts); err != nil {
			t.Fatal(err)
		}
		if attempts+after[app] != total[app] {
			t.Errorf("%s: %d attempts in the row + %d sent events after its checkpoint; the log has %d", app, attempts, after[app], total[app])
		}
	}
	rows.Close()

	received := map[string]int{}
	rows, err = dbB.SQL().Query(`SELECT body, count(*) FROM app_received GROUP BY body`)
	if err != nil {
		if settled || !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		return
	}
	for rows.Next() {
		var body string
		var n int
		if err := rows.Scan(&body, &n); err != nil {
			t.Fatal(err)
		}
		received[body] = n
		if n > 1 {
			t.Errorf("%s reached the application %d times", body, n)
		}
	}
	rows.Close()
	if settled {
		for id := range status {
			if received[id] != 1 {
				t.Errorf("%s: received %d times after settling; want once", id, received[id])
			}
		}
	}
}
