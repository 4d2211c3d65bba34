package wakutransport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/internal/wait"
)

// within is how long a test waits for something that takes go-waku about a
// second on an idle machine; the race detector and a busy CI machine slow it
// down several times.
const within = 30 * time.Second

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func start(t testing.TB, key *ecdsa.PrivateKey, opts ...Option) *Transport {
	t.Helper()
	if key == nil {
		key = newKey(t)
	}
	opts = append([]Option{WithMaxConnectionsPerIP(100), WithRedialInterval(200 * time.Millisecond)}, opts...)
	tr, err := New(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func connect(t testing.TB, from, to *Transport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := from.Connect(ctx, to.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
}

func waitOnline(t testing.TB, trs ...*Transport) {
	t.Helper()
	for _, tr := range trs {
		wait.For(t, within, "the node to be online", tr.Connectivity().Online)
	}
}

func oneMessage(body string) *protobuf.Payload {
	return &protobuf.Payload{Messages: []*protobuf.Message{{GroupId: bytes.Repeat([]byte{7}, 32), Timestamp: 1, Body: []byte(body)}}}
}

// watchOne reads the next packet within the test's patience.
func watchOne(t testing.TB, tr *Transport) transport.Packet {
	t.Helper()
	ch := make(chan transport.Packet, 1)
	go func() { ch <- tr.Watch() }()
	select {
	case p := <-ch:
		return p
	case <-time.After(within):
		t.Fatal("no packet arrived")
		return transport.Packet{}
	}
}

func TestRelayNodesExchangeSignedPackets(t *testing.T) {
	a, b := start(t, nil), start(t, nil)
	connect(t, a, b)
	waitOnline(t, a, b)

	if err := a.Send(a.ID(), b.ID(), oneMessage("hello")); err != nil {
		t.Fatal(err)
	}
	p := watchOne(t, b)
	if p.Sender != a.ID() || len(p.Payload.Messages) != 1 || string(p.Payload.Messages[0].Body) != "hello" {
		t.Fatalf("b received %x… %v; want a's message", p.Sender[1:5], p.Payload)
	}
	// A retransmission of identical bytes must arrive too: relay drops what
	// it has seen, so each Waku message carries its own timestamp.
	if err := a.Send(a.ID(), b.ID(), oneMessage("hello")); err != nil {
		t.Fatal(err)
	}
	if p := watchOne(t, b); string(p.Payload.Messages[0].Body) != "hello" {
		t.Fatalf("retransmission: %v", p.Payload)
	}
	if s := b.Stats(); s.Received != 2 || s.Rejected != 0 {
		t.Errorf("b stats %+v; want 2 received, none rejected", s)
	}
}

func TestSendErrorsSayWhyNothingWentOut(t *testing.T) {
	a := start(t, nil)
	other := PeerIDOf(newKey(t))
	if err := a.Send(a.ID(), other, oneMessage("x")); !errors.Is(err, ErrNoPeers) {
		t.Errorf("alone: %v; want ErrNoPeers", err)
	}
	if err := a.Send(other, other, oneMessage("x")); err == nil {
		t.Error("sending as another node succeeded")
	}
	if err := a.GoOffline(); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(a.ID(), other, oneMessage("x")); !errors.Is(err, ErrOffline) {
		t.Errorf("offline: %v; want ErrOffline", err)
	}
	a.Close()
	if err := a.Send(a.ID(), other, oneMessage("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v; want ErrClosed", err)
	}
	if s := a.Stats(); s.SendErrors != 4 {
		t.Errorf("send errors %d; want 4", s.SendErrors)
	}
	if p := a.Watch(); p.Payload != nil {
		t.Errorf("Watch after Close returned %v; want an empty packet", p)
	}
}
