package qanode

import (
	"context"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/wait"
)

// within bounds what takes go-waku about a second on an idle machine.
const within = 30 * time.Second

func startNode(t *testing.T, cfg Config) (*Node, *Client) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Epoch == 0 {
		cfg.Epoch = 50 * time.Millisecond
	}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, NewClient(n.APIAddr(), cfg.Token)
}

func link(t *testing.T, a *Client, b *Node) {
	t.Helper()
	if err := a.Connect(context.Background(), b.Transport().Addrs()[0]); err != nil {
		t.Fatal(err)
	}
}

func statusOf(t *testing.T, c *Client, id string) string {
	t.Helper()
	m, err := c.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Status
}

func TestGuardedNodesDeliverThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	alice, ac := startNode(t, Config{Name: "alice"})
	bob, bc := startNode(t, Config{Name: "bob"})
	link(t, ac, bob)
	wait.For(t, within, "alice online", func() bool { h, _ := ac.Health(ctx); return h.Online })

	info, _ := bc.Health(ctx)
	m, err := ac.Send(ctx, SendRequest{ID: "cr1", To: info.ID, Flow: "contact_request", Kind: "control", Payload: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != "pending" || len(m.Recipients) != 1 || m.Recipients[0].Peer != info.ID {
		t.Fatalf("after send: %+v", m)
	}
	wait.For(t, within, "cr1 delivered", func() bool { return statusOf(t, ac, "cr1") == "delivered" })
	got, err := bc.Received(ctx, 0)
	if err != nil || len(got) != 1 || got[0].ID != "cr1" || got[0].Payload != "hello" || got[0].From != alice.Info().ID {
		t.Fatalf("bob received %+v, %v", got, err)
	}
	m, _ = ac.Message(ctx, "cr1")
	if m.Recipients[0].AckedAt == nil || m.Attempts < 1 {
		t.Errorf("delivered message without an ack time or attempts: %+v", m)
	}
	evs, err := ac.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type.String())
	}
	if len(types) < 3 || types[0] != "mvds.message.scheduled" || types[len(types)-1] != "mvds.message.delivered" {
		t.Errorf("events %v; want scheduled … delivered", types)
	}
}

// TestStockNodeReportsDeliveryFromTheWire: status-go's node says nothing,
// so the QA node times the ack it sees; it offers no Retry.
func TestStockNodeReportsDeliveryFromTheWire(t *testing.T) {
	ctx := context.Background()
	_, ac := startNode(t, Config{Name: "alice", Stock: true})
	bob, bc := startNode(t, Config{Name: "bob", Stock: true})
	link(t, ac, bob)
	wait.For(t, within, "alice connected", func() bool { h, _ := ac.Health(ctx); return h.Online })
	info, _ := bc.Health(ctx)
	if _, err := ac.Send(ctx, SendRequest{ID: "m1", To: info.ID, Flow: "one_to_one"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "m1 delivered", func() bool { return statusOf(t, ac, "m1") == "delivered" })
	if _, err := ac.Retry(ctx, "m1"); err == nil {
		t.Error("a stock node accepted Retry")
	}
	if evs, err := ac.Events(ctx, 0); err != nil || len(evs) != 0 {
		t.Errorf("stock events %v, %v; want none", evs, err)
	}
}

// TestRestartKeepsIdentityMessagesAndInbox: the same directory is the same
// node.
func TestRestartKeepsIdentityMessagesAndInbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	alice, ac := startNode(t, Config{Name: "alice"})
	bob, bc := startNode(t, Config{Name: "bob", Dir: dir})
	link(t, ac, bob)
	wait.For(t, within, "alice online", func() bool { h, _ := ac.Health(ctx); return h.Online })
	id := bob.Info().ID
	if _, err := ac.Send(ctx, SendRequest{ID: "m1", To: id, Flow: "one_to_one"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "m1 delivered", func() bool { return statusOf(t, ac, "m1") == "delivered" })
	if _, err := bc.Send(ctx, SendRequest{ID: "b1", To: alice.Info().ID, Flow: "one_to_one"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "b1 delivered", func() bool { return statusOf(t, bc, "b1") == "delivered" })
	bob.Close()

	bob2, bc2 := startNode(t, Config{Name: "bob", Dir: dir})
	if bob2.Info().ID != id {
		t.Fatalf("restarted bob is %s; want %s", bob2.Info().ID, id)
	}
	if got, _ := bc2.Received(ctx, 0); len(got) != 1 || got[0].ID != "m1" {
		t.Errorf("inbox after restart: %+v", got)
	}
	if s := statusOf(t, bc2, "b1"); s != "delivered" {
		t.Errorf("b1 after restart: %s", s)
	}
}

// TestPartitionIsInjectedAtTheShim: alice keeps her connection to bob but
// nothing passes between them until the partition heals.
func TestPartitionIsInjectedAtTheShim(t *testing.T) {
	ctx := context.Background()
	alice, ac := startNode(t, Config{Name: "alice"})
	bob, bc := startNode(t, Config{Name: "bob"})
	link(t, ac, bob)
	wait.For(t, within, "alice online", func() bool { h, _ := ac.Health(ctx); return h.Online })
	bobID, aliceID := bob.Info().ID, alice.Info().ID
	for _, c := range []struct {
		cl   *Client
		peer string
	}{{ac, bobID}, {bc, aliceID}} {
		if err := c.cl.SetFaults(ctx, Faults{Partition: []string{c.peer}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ac.Send(ctx, SendRequest{ID: "p1", To: bobID, Flow: "one_to_one"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if got, _ := bc.Received(ctx, 0); len(got) != 0 {
		t.Fatalf("bob received %v through a partition", got)
	}
	if s := alice.Stats().Shim; s.PartitionedOut == 0 {
		t.Errorf("shim stats %+v; want payloads dropped by the partition", s)
	}
	for _, c := range []*Client{ac, bc} {
		if err := c.SetFaults(ctx, Faults{}); err != nil {
			t.Fatal(err)
		}
	}
	// The Guard retries on its policy (first delays of up to 5 s).
	wait.For(t, within, "p1 delivered after the heal", func() bool { return statusOf(t, ac, "p1") == "delivered" })
}
