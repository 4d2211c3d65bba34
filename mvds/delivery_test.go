package mvds_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/knobs"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// fastCurve retries every few epochs so that lossy runs finish quickly.
func fastCurve(step int64) mvds.Option {
	return knobs.NextEpoch(func(_ uint64, epoch int64) int64 { return epoch + step }).(mvds.Option)
}

func appendConcurrently(t *testing.T, n *mvds.Node, g mvds.GroupID, peer mvds.PeerID, workers, each int, prefix string) []stateKey {
	t.Helper()
	var (
		mu   sync.Mutex
		keys []stateKey
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id, err := n.Append(context.Background(), g, []byte(fmt.Sprintf("%s worker %d message %d", prefix, w, i)))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				keys = append(keys, stateKey{id, peer})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return keys
}

func TestThousandMessagesSurviveRestartsOfBothNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("long delivery run")
	}
	dir := t.TempDir()
	net := memtransport.New(7)
	if err := net.SetFaults(memtransport.Faults{Loss: 0.3, Duplicate: 0.1, Reorder: 0.1, Latency: time.Millisecond, Jitter: 3 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	a, b := peerID(1), peerID(2)
	g := groupID(1)
	dbA, dbB := openDB(t, dir, "a.db"), openDB(t, dir, "b.db")
	defer dbA.Close()
	defer dbB.Close()
	hookA := newHookRecorder()
	inboxB := newInboxRecorder()
	optsA := []mvds.Option{mvds.WithHook(hookA), fastCurve(3)}
	na := startNode(t, net, dbA, a, nil, optsA...)
	nb := startNode(t, net, dbB, b, inboxB, fastCurve(3))
	ctx := context.Background()
	if err := na.AddPeer(ctx, g, b); err != nil {
		t.Fatal(err)
	}
	if err := nb.AddPeer(ctx, g, a); err != nil {
		t.Fatal(err)
	}
	// Restart each node while it has work in flight: A right after a batch of
	// appends (states not yet sent or acked), B while A keeps appending.
	keys := appendConcurrently(t, na, g, b, 10, 40, "before A restarts")
	if err := na.Close(); err != nil {
		t.Fatal(err)
	}
	pendingAtARestart, err := sqlitedb.Open(dbA.Name())
	if err != nil {
		t.Fatal(err)
	}
	var pending int
	if err := pendingAtARestart.SQL().QueryRow(`SELECT count(*) FROM mvds_states`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	pendingAtARestart.Close()
	na = startNode(t, net, dbA, a, nil, optsA...)
	defer func() { na.Close() }()
	keys = append(keys, appendConcurrently(t, na, g, b, 10, 30, "before B restarts")...)
	if err := nb.Close(); err != nil {
		t.Fatal(err)
	}
	receivedAtBRestart := inboxB.distinct()
	keys = append(keys, appendConcurrently(t, na, g, b, 10, 30, "while B is down")...)
	nb = startNode(t, net, dbB, b, inboxB, fastCurve(3))
	defer func() { nb.Close() }()

	eventually(t, 120*time.Second, "every message acknowledged", func() bool { return hookA.ackedCount(keys) == len(keys) })
	eventually(t, 30*time.Second, "every message handed to B's application", func() bool { return inboxB.distinct() == len(keys) })
	if d := inboxB.duplicates(); len(d) > 0 {
		t.Fatalf("%d messages were handed to B's application twice", len(d))
	}
	states, err := na.States(ctx, mvds.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Type == mvds.Message {
			t.Fatalf("A still holds a message state after every ack: %+v", s)
		}
	}
	if len(keys) != 1000 {
		t.Fatalf("appended %d messages; want 1000", len(keys))
	}
	t.Logf("A restarted with %d states pending; B restarted after receiving %d of %d; network: %+v",
		pending, receivedAtBRestart, len(keys), net.Stats())
}

func TestGroupOfFiveExchangesThousandMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("long delivery run")
	}
	dir := t.TempDir()
	net := memtransport.New(5)
	g := groupID(5)
	const members, each = 5, 200
	type member struct {
		node  *mvds.Node
		hook  *hookRecorder
		inbox *inboxRecorder
		keys  []stateKey
	}
	ms := make([]*member, members)
	for i := range ms {
		m := &member{hook: newHookRecorder(), inbox: newInboxRecorder()}
		db := openDB(t, dir, fmt.Sprintf("m%d.db", i))
		defer db.Close()
		m.node = startNode(t, net, db, peerID(byte(10+i)), m.inbox, mvds.WithHook(m.hook))
		defer m.node.Close()
		ms[i] = m
	}
	ctx := context.Background()
	for i, m := range ms {
		for j := range ms {
			if i != j {
				if err := m.node.AddPeer(ctx, g, peerID(byte(10+j))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func(i int, m *member) {
			defer wg.Done()
			for k := 0; k < each; k++ {
				id, err := m.node.Append(ctx, g, []byte(fmt.Sprintf("member %d message %d", i, k)))
				if err != nil {
					t.Error(err)
					return
				}
				for j := range ms {
					if j != i {
						m.keys = append(m.keys, stateKey{id, peerID(byte(10 + j))})
					}
				}
			}
		}(i, m)
	}
	wg.Wait()
	for i, m := range ms {
		eventually(t, 120*time.Second, fmt.Sprintf("member %d's %d (message, peer) states acknowledged", i, len(m.keys)),
			func() bool { return m.hook.ackedCount(m.keys) == len(m.keys) })
		eventually(t, 30*time.Second, fmt.Sprintf("member %d receiving the others' messages", i),
			func() bool { return m.inbox.distinct() == (members-1)*each })
		if d := m.inbox.duplicates(); len(d) > 0 {
			t.Fatalf("member %d: %d messages handed over twice", i, len(d))
		}
	}
}

func TestEveryAppendedStateEndsAckedOrAtLimitUnderLoss(t *testing.T) {
	dir := t.TempDir()
	net := memtransport.New(11)
	if err := net.SetFaults(memtransport.Faults{Loss: 0.75}); err != nil {
		t.Fatal(err)
	}
	a, b := peerID(1), peerID(2)
	g := groupID(2)
	hookA := newHookRecorder()
	hookA.removeAtLimit = true
	dbA, dbB := openDB(t, dir, "a.db"), openDB(t, dir, "b.db")
	defer dbA.Close()
	defer dbB.Close()
	// A jittered fast curve: messages appended in the same epoch must not
	// travel in the same payload forever, or each batch would be acked or
	// lost as a whole.
	jittered := func(seed uint64) mvds.Option {
		r := rand.New(rand.NewSource(int64(seed)<<20 ^ 1))
		return knobs.NextEpoch(func(_ uint64, epoch int64) int64 { return epoch + 1 + int64(r.Intn(4)) }).(mvds.Option)
	}
	na := startNode(t, net, dbA, a, nil, mvds.WithHook(hookA), jittered(1))
	defer na.Close()
	inboxB := newInboxRecorder()
	nb := startNode(t, net, dbB, b, inboxB, jittered(2))
	defer nb.Close()
	ctx := context.Background()
	if err := na.AddPeer(ctx, g, b); err != nil {
		t.Fatal(err)
	}
	if err := nb.AddPeer(ctx, g, a); err != nil {
		t.Fatal(err)
	}
	keys := appendConcurrently(t, na, g, b, 4, 75, "lossy")
	eventually(t, 120*time.Second, "A's sync state emptied by acks and limits", func() bool {
		states, err := na.States(ctx, mvds.Selection{})
		return err == nil && len(states) == 0
	})

	hookA.mu.Lock()
	defer hookA.mu.Unlock()
	var acked, limited int
	for _, k := range keys {
		ack, lim := hookA.acked[k], hookA.limit[k]
		switch {
		case ack == 1 && lim == 0:
			acked++
		case ack == 0 && lim == 1:
			limited++
			if got := hookA.attempts[k]; got != mvds.MaxSendCount+1 {
				t.Errorf("state %x reached the limit after %d attempts; want %d", k.msg[:4], got, mvds.MaxSendCount+1)
			}
		default:
			t.Errorf("state %x: acked %d times, limit reported %d times; want exactly one of them once", k.msg[:4], ack, lim)
		}
	}
	if acked == 0 || limited == 0 {
		t.Fatalf("with 75%% loss expected both outcomes; got %d acked, %d at the limit", acked, limited)
	}
	if hookA.scheduled[keys[0]] != mvds.Local {
		t.Errorf("appended state scheduled with origin %v; want local", hookA.scheduled[keys[0]])
	}
	t.Logf("%d acknowledged, %d reached the limit (%d attempts each); network %+v", acked, limited, mvds.MaxSendCount+1, net.Stats())
}

func TestANodeWithoutAHandlerKeepsNoInbox(t *testing.T) {
	// status-go reads received messages from the packets itself and gives
	// the node no handler; the node then records nothing for one.
	dir := t.TempDir()
	net := memtransport.New(5)
	a, b, c := peerID(1), peerID(2), peerID(3)
	g := groupID(7)
	dbA, dbB, dbC := openDB(t, dir, "a.db"), openDB(t, dir, "b.db"), openDB(t, dir, "c.db")
	defer dbA.Close()
	defer dbB.Close()
	defer dbC.Close()
	na := startNode(t, net, dbA, a, nil)
	defer na.Close()
	withoutHandler := startNode(t, net, dbB, b, nil)
	defer withoutHandler.Close()
	inbox := newInboxRecorder()
	withHandler := startNode(t, net, dbC, c, inbox)
	defer withHandler.Close()
	ctx := context.Background()
	for _, p := range []mvds.PeerID{b, c} {
		if err := na.AddPeer(ctx, g, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := na.Append(ctx, g, []byte("to both")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both acknowledged", func() bool {
		states, err := na.States(ctx, mvds.Selection{})
		return err == nil && len(states) == 0
	})
	rows := func(db *mvds.DB) (inboxRows, messages int) {
		if err := db.SQL().QueryRow(`SELECT (SELECT count(*) FROM mvdsguard_inbox), (SELECT count(*) FROM mvds_messages)`).Scan(&inboxRows, &messages); err != nil {
			t.Fatal(err)
		}
		return inboxRows, messages
	}
	if i, m := rows(dbB); i != 0 || m != 1 {
		t.Errorf("node without a handler: %d inbox rows, %d stored messages; want 0 and 1", i, m)
	}
	if i, m := rows(dbC); i != 1 || m != 1 {
		t.Errorf("node with a handler: %d inbox rows, %d stored messages; want 1 and 1", i, m)
	}
}
