package wakutransport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/wait"
)

// nextChange waits for the connectivity signal to report want.
func nextChange(t *testing.T, c *Connectivity, want bool) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case got := <-c.Changes():
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("connectivity never became %v", want)
		}
	}
}

func TestConnectivityFollowsPeerConnections(t *testing.T) {
	a, b := start(t, nil), start(t, nil)
	if a.Connectivity().Online() {
		t.Fatal("a node without peers says it is online")
	}
	connect(t, a, b)
	nextChange(t, a.Connectivity(), true)
	b.Close()
	nextChange(t, a.Connectivity(), false)
}

// TestGoOfflineIsRealAndGoOnlineReconnects: offline closes the connections
// (the peer sees it) and refuses the peer's redials; online dials the kept
// peers again.
func TestGoOfflineIsRealAndGoOnlineReconnects(t *testing.T) {
	a, b := start(t, nil), start(t, nil)
	connect(t, a, b)
	waitOnline(t, a, b)

	if err := a.GoOffline(); err != nil {
		t.Fatal(err)
	}
	nextChange(t, a.Connectivity(), false)
	wait.For(t, within, "b to lose its only peer", func() bool { return !b.Connectivity().Online() })
	// b keeps a and redials it every 200 ms; a must keep refusing.
	time.Sleep(time.Second)
	if a.Connectivity().Online() || b.Connectivity().Online() {
		t.Fatal("a connection survived while a was offline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := a.Connect(ctx, b.Addrs()[0]); !errors.Is(err, ErrOffline) {
		t.Errorf("connect while offline: %v; want ErrOffline", err)
	}

	if err := a.GoOnline(ctx); err != nil {
		t.Fatal(err)
	}
	nextChange(t, a.Connectivity(), true)
	if err := a.Send(a.ID(), b.ID(), oneMessage("back")); err != nil {
		t.Fatal(err)
	}
	if p := watchOne(t, b); string(p.Payload.Messages[0].Body) != "back" {
		t.Fatalf("b got %v", p.Payload)
	}
}

// TestLightClientThroughServiceNode: the light client publishes with light
// push and receives with filter, both through the service node, to and
// from a relay node; after the service node drops it, it reconnects and
// subscribes again by itself.
func TestLightClientThroughServiceNode(t *testing.T) {
	svc := start(t, nil, WithService())
	r := start(t, nil)
	connect(t, r, svc)
	waitOnline(t, r, svc)
	l := start(t, nil, WithLightMode(svc.Addrs()[0]))
	waitOnline(t, l)

	if err := l.Send(l.ID(), r.ID(), oneMessage("from light")); err != nil {
		t.Fatal(err)
	}
	if p := watchOne(t, r); p.Sender != l.ID() || string(p.Payload.Messages[0].Body) != "from light" {
		t.Fatalf("relay node got %v", p.Payload)
	}
	if err := r.Send(r.ID(), l.ID(), oneMessage("to light")); err != nil {
		t.Fatal(err)
	}
	if p := watchOne(t, l); p.Sender != r.ID() || string(p.Payload.Messages[0].Body) != "to light" {
		t.Fatalf("light node got %v", p.Payload)
	}

	if err := svc.Disconnect(l.PeerID()); err != nil {
		t.Fatal(err)
	}
	// The client notices, redials and subscribes again: keep sending until
	// a packet gets through.
	got := make(chan string, 1)
	go func() {
		p := l.Watch()
		if p.Payload != nil {
			got <- string(p.Payload.Messages[0].Body)
		}
	}()
	deadline := time.After(within)
	for {
		_ = r.Send(r.ID(), l.ID(), oneMessage("again"))
		select {
		case body := <-got:
			if body != "again" {
				t.Fatalf("light node got %q", body)
			}
			return
		case <-time.After(300 * time.Millisecond):
		case <-deadline:
			t.Fatal("the light client never received again after a reconnect")
		}
	}
}

// TestRateLimitedLightPushIsTriedAgain: a service node that takes one light
// push per second refuses a client's quick succession of sends; the client
// waits and tries again, so every packet arrives and no Send fails.
func TestRateLimitedLightPushIsTriedAgain(t *testing.T) {
	svc := start(t, nil, WithService(), WithLightPushLimit(2, 1))
	r := start(t, nil)
	connect(t, r, svc)
	waitOnline(t, r, svc)
	l := start(t, nil, WithLightMode(svc.Addrs()[0]))
	waitOnline(t, l)

	const n = 4
	for i := 0; i < n; i++ {
		if err := l.Send(l.ID(), r.ID(), oneMessage(fmt.Sprint("burst ", i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	got := map[string]bool{}
	for len(got) < n {
		p := watchOne(t, r)
		got[string(p.Payload.Messages[0].Body)] = true
	}
	if st := l.Stats(); st.RateLimited == 0 || st.SendErrors != 0 || st.Published != n {
		t.Errorf("light client stats %+v: want some refusals tried again, %d published, no send errors", st, n)
	}
}

// TestPeerGivenAgainKeepsItsWorkingAddress: a wrong address given later
// for a kept peer is added to, not put in place of, the one that works;
// and a node refuses itself as a peer.
func TestPeerGivenAgainKeepsItsWorkingAddress(t *testing.T) {
	a, b := start(t, nil), start(t, nil)
	connect(t, a, b)
	good := b.Addrs()[0]
	wrong := "/ip4/127.0.0.1/tcp/1/p2p/" + b.PeerID()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_ = a.Connect(ctx, wrong) // already connected: nothing to dial
	var addrs []string
	for _, p := range a.Peers() {
		if p.ID == b.PeerID() {
			addrs = p.Addrs
		}
	}
	if len(addrs) != 2 || addrs[0] != strings.TrimSuffix(good, "/p2p/"+b.PeerID()) && addrs[0] != good {
		t.Errorf("kept addresses of b: %v; want the working %s first, then the wrong one", addrs, good)
	}
	if err := a.Connect(ctx, a.Addrs()[0]); !errors.Is(err, ErrBadAddress) {
		t.Errorf("connect to itself: %v; want ErrBadAddress", err)
	}
	if err := a.Connect(ctx, "localhost:80"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("connect to a non-multiaddr: %v; want ErrBadAddress", err)
	}
}

func TestLightModeRejectsBadServiceAddressesAndServing(t *testing.T) {
	key := newKey(t)
	for name, opts := range map[string][]Option{
		"not a multiaddr":  {WithLightMode("localhost:6000")},
		"no peer id":       {WithLightMode("/ip4/127.0.0.1/tcp/6000")},
		"no push rate":     {WithService(), WithLightPushLimit(0, 1)},
		"no push burst":    {WithService(), WithLightPushLimit(5, 0)},
		"light and serve":  {WithLightMode("/ip4/127.0.0.1/tcp/6000/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"), WithService()},
		"bad listen":       {WithListenAddress("nowhere")},
		"tiny messages":    {WithMaxMessageSize(10)},
		"nil option":       {nil},
		"no send timeout":  {WithSendTimeout(0)},
		"empty pubsub":     {WithPubsubTopic("")},
		"listen host-less": {WithListenAddress(":0")},
	} {
		if tr, err := New(key, opts...); err == nil {
			tr.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("nil key accepted")
	}
}
