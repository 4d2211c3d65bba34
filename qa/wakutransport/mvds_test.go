package wakutransport

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/status-im/mvds/protobuf"

	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/wire"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

// ackRecorder is a Hook that remembers which states were acknowledged.
type ackRecorder struct {
	mvds.NopHook
	mu    sync.Mutex
	acked map[mvds.MessageID]mvds.PeerID
}

func (h *ackRecorder) Acked(_ *sql.Tx, _ int64, s mvds.State) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked[s.MessageID] = s.PeerID
	return nil
}

func (h *ackRecorder) isAcked(id mvds.MessageID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.acked[id]
	return ok
}

func mvdsNode(t *testing.T, tr *Transport, opts ...mvds.Option) *mvds.Node {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := mvds.NewNode(db, tr, tr.ID(), append([]mvds.Option{mvds.WithEpoch(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); db.Close() })
	return n
}

// TestForgedAckIsRejected: a third node on the network claims to be the
// recipient and acknowledges the message. The sender must not believe it;
// the same ack signed with the recipient's own key is believed, which shows
// the signature — and nothing else — made the difference.
func TestForgedAckIsRejected(t *testing.T) {
	ctx := context.Background()
	bobKey := newKey(t)
	bob := PeerIDOf(bobKey) // bob never comes online
	a, mallory := start(t, nil), start(t, nil)
	connect(t, mallory, a)
	waitOnline(t, a, mallory)
	hook := &ackRecorder{acked: map[mvds.MessageID]mvds.PeerID{}}
	alice := mvdsNode(t, a, mvds.WithHook(hook))
	group := mvds.GroupID{1}
	if err := alice.AddPeer(ctx, group, bob); err != nil {
		t.Fatal(err)
	}
	id, err := alice.Append(ctx, group, []byte("contact request"))
	if err != nil {
		t.Fatal(err)
	}

	ack, err := wire.Encode(bob, &protobuf.Payload{Acks: [][]byte{id[:]}})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := Seal(mallory.key, a.ID(), ack)
	if err != nil {
		t.Fatal(err)
	}
	if err := mallory.publish(a.ID(), forged); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "alice to reject the forged ack", func() bool { return a.Stats().Forged == 1 })
	time.Sleep(200 * time.Millisecond) // several of alice's epochs
	if hook.isAcked(id) {
		t.Fatal("alice took a forged ack for bob's")
	}
	if states, _ := alice.States(ctx, mvds.MessageStates(id)); len(states) != 1 {
		t.Fatalf("alice has %d states for the message; want it still pending", len(states))
	}

	genuine, err := Seal(bobKey, a.ID(), ack)
	if err != nil {
		t.Fatal(err)
	}
	if err := mallory.publish(a.ID(), genuine); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "alice to accept bob's own ack", func() bool { return hook.isAcked(id) })
	if got := a.Stats(); got.Forged != 1 || got.Rejected != 1 {
		t.Errorf("alice stats %+v; want exactly the one forgery rejected", got)
	}
}

// TestMvdsNodesDeliverAndAcknowledgeOverRelay runs two real mvds nodes on
// SQLite over relay: the message reaches bob's application and alice sees
// bob's ack.
func TestMvdsNodesDeliverAndAcknowledgeOverRelay(t *testing.T) {
	ctx := context.Background()
	a, b := start(t, nil), start(t, nil)
	connect(t, a, b)
	waitOnline(t, a, b)
	hook := &ackRecorder{acked: map[mvds.MessageID]mvds.PeerID{}}
	alice := mvdsNode(t, a, mvds.WithHook(hook))
	got := make(chan string, 1)
	mvdsNode(t, b, mvds.WithHandler(func(_ context.Context, _ *sql.Tx, m mvds.Received) error {
		got <- string(m.Body)
		return nil
	}))
	group := mvds.GroupID{2}
	if err := alice.AddPeer(ctx, group, b.ID()); err != nil {
		t.Fatal(err)
	}
	id, err := alice.Append(ctx, group, []byte("hi bob"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if body != "hi bob" {
			t.Fatalf("bob got %q", body)
		}
	case <-time.After(within):
		t.Fatal("bob's application never got the message")
	}
	wait.For(t, within, "bob's ack", func() bool { return hook.isAcked(id) })
}

// TestLargePayloadIsSplitAcrossWakuMessages: after a reconnect mvds sends
// everything due for a peer in one payload, far above a Waku message.
func TestLargePayloadIsSplitAcrossWakuMessages(t *testing.T) {
	a, b := start(t, nil, WithMaxMessageSize(16<<10)), start(t, nil, WithMaxMessageSize(16<<10))
	connect(t, a, b)
	waitOnline(t, a, b)
	p := &protobuf.Payload{}
	for i := 0; i < 60; i++ {
		m := oneMessage(string(make([]byte, 1000))).Messages[0]
		m.Timestamp = int64(i)
		p.Messages = append(p.Messages, m)
	}
	if err := a.Send(a.ID(), b.ID(), p); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for len(seen) < 60 {
		q := watchOne(t, b)
		for _, m := range q.Payload.Messages {
			seen[m.Timestamp] = true
		}
	}
	if n := a.Stats().Published; n < 4 {
		t.Errorf("%d Waku messages for 60 KB at 16 KiB each; want at least 4", n)
	}
	huge := oneMessage(string(make([]byte, 20<<10)))
	if err := a.Send(a.ID(), b.ID(), huge); err == nil {
		t.Error("a single 20 KiB message went out with a 16 KiB limit")
	}
}
