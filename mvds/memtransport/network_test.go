package memtransport_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

func peer(b byte) memtransport.PeerID {
	var p memtransport.PeerID
	p[0], p[1] = 0x04, b
	return p
}

func payload(i int) *protobuf.Payload {
	id := bytes.Repeat([]byte{byte(i)}, 32)
	return &protobuf.Payload{Acks: [][]byte{id}}
}

func join(t *testing.T, n *memtransport.Network, id memtransport.PeerID) *memtransport.Endpoint {
	t.Helper()
	e, err := n.Join(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// receive returns the next packet, or fails after a bound.
func receive(t *testing.T, e *memtransport.Endpoint, within time.Duration) transport.Packet {
	t.Helper()
	ch := make(chan transport.Packet, 1)
	go func() { ch <- e.Watch() }()
	select {
	case p := <-ch:
		return p
	case <-time.After(within):
		t.Fatalf("no packet within %v", within)
		return transport.Packet{}
	}
}

func TestPacketsArriveDecodedFromTheirWireForm(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a, b := join(t, n, peer(1)), join(t, n, peer(2))
	if err := a.Send(peer(1), peer(2), payload(5)); err != nil {
		t.Fatal(err)
	}
	p := receive(t, b, time.Second)
	if p.Sender != peer(1) || len(p.Payload.Acks) != 1 || p.Payload.Acks[0][0] != 5 {
		t.Fatalf("received %+v", p)
	}
	if st := n.Stats(); st.Sent != 1 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSendingWhileOfflineFails(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a := join(t, n, peer(1))
	join(t, n, peer(2))
	n.SetOnline(peer(1), false)
	if err := a.Send(peer(1), peer(2), payload(1)); !errors.Is(err, memtransport.ErrOffline) {
		t.Fatalf("send while offline: %v; want ErrOffline", err)
	}
	n.SetOnline(peer(1), true)
	if err := a.Send(peer(1), peer(2), payload(1)); err != nil {
		t.Fatalf("send after coming back: %v", err)
	}
}

func TestSendRefusals(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a := join(t, n, peer(1))
	if err := a.Send(peer(1), peer(9), payload(1)); !errors.Is(err, memtransport.ErrUnknownPeer) {
		t.Errorf("send to a stranger: %v; want ErrUnknownPeer", err)
	}
	join(t, n, peer(2))
	if err := a.Send(peer(3), peer(2), payload(1)); err == nil || !strings.Contains(err.Error(), "cannot send as") {
		t.Errorf("send as someone else: %v", err)
	}
	if err := a.Send(peer(1), peer(2), &protobuf.Payload{}); err == nil {
		t.Error("an empty payload was accepted")
	}
	a.Close()
	if err := a.Send(peer(1), peer(2), payload(1)); !errors.Is(err, memtransport.ErrClosed) {
		t.Errorf("send after close: %v; want ErrClosed", err)
	}
	if p := a.Watch(); p.Payload != nil {
		t.Error("Watch after Close returned a payload")
	}
	if _, err := n.Join(peer(2)); err == nil {
		t.Error("an open endpoint was joined twice")
	}
	if _, err := n.Join(peer(1)); err != nil {
		t.Errorf("rejoining a closed endpoint (a restarted node): %v", err)
	}
}

func TestOfflineRecipientAndPartitionLosePacketsSilently(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a := join(t, n, peer(1))
	join(t, n, peer(2))
	join(t, n, peer(3))
	n.SetOnline(peer(2), false)
	n.Partition(peer(1), peer(3))
	for _, to := range []memtransport.PeerID{peer(2), peer(3)} {
		if err := a.Send(peer(1), to, payload(1)); err != nil {
			t.Fatalf("the sender cannot know the recipient is unreachable: %v", err)
		}
	}
	st := n.Stats()
	if st.RecipientOffline != 1 || st.Partitioned != 1 || st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
	n.Heal(peer(1), peer(3))
	if err := a.Send(peer(1), peer(3), payload(1)); err != nil {
		t.Fatal(err)
	}
	if st := n.LinkStats(peer(1), peer(3)); st.Delivered != 1 {
		t.Fatalf("after healing: %+v", st)
	}
}

func TestPacketInFlightToANodeThatGoesOfflineIsLost(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	if err := n.SetFaults(memtransport.Faults{Latency: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	a := join(t, n, peer(1))
	join(t, n, peer(2))
	if err := a.Send(peer(1), peer(2), payload(1)); err != nil {
		t.Fatal(err)
	}
	n.SetOnline(peer(2), false)
	deadline := time.Now().Add(5 * time.Second)
	for n.Stats().RecipientOffline == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("packet neither lost nor delivered: %+v", n.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := n.Stats(); st.Delivered != 0 {
		t.Fatalf("delivered to an offline node: %+v", st)
	}
}

// fates sends count packets from 1 to 2 and returns which ones arrived.
func fates(t *testing.T, seed int64, f memtransport.Faults, count int) (memtransport.Stats, []memtransport.Fate) {
	t.Helper()
	var (
		mu  sync.Mutex
		out []memtransport.Fate
	)
	n := memtransport.New(seed, memtransport.WithObserver(func(tr memtransport.Transmission) {
		mu.Lock()
		out = append(out, tr.Fate)
		mu.Unlock()
	}))
	defer n.Close()
	if err := n.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	a := join(t, n, peer(1))
	join(t, n, peer(2))
	// A third node's traffic must not change what happens on 1 → 2.
	c := join(t, n, peer(3))
	for i := 0; i < count; i++ {
		if err := a.Send(peer(1), peer(2), payload(i)); err != nil {
			t.Fatal(err)
		}
		if i%3 == int(seed%3) {
			_ = c.Send(peer(3), peer(2), payload(i))
		}
	}
	return n.LinkStats(peer(1), peer(2)), out
}

func TestFaultsAreDeterministicPerSeedAndLink(t *testing.T) {
	f := memtransport.Faults{Loss: 0.3, Duplicate: 0.2, Reorder: 0.1}
	s1, _ := fates(t, 42, f, 2000)
	s2, _ := fates(t, 42, f, 2000)
	s2.Delivered, s1.Delivered = 0, 0 // delivery of delayed copies is timed
	if s1 != s2 {
		t.Fatalf("same seed, different fates:\n%+v\n%+v", s1, s2)
	}
	s3, _ := fates(t, 43, f, 2000)
	s3.Delivered = 0
	if s1 == s3 {
		t.Fatalf("different seeds, identical fates: %+v", s1)
	}
	// 2000 draws: each rate within a few standard deviations of its setting.
	within := func(name string, got uint64, p float64, of uint64) {
		want := p * float64(of)
		if d := float64(got) - want; d*d > 25*want*(1-p) {
			t.Errorf("%s: %d of %d; want about %.0f", name, got, of, want)
		}
	}
	within("loss", s1.Lost, 0.3, 2000)
	within("duplication", s1.Duplicated, 0.2, 2000-s1.Lost)
	within("reordering", s1.Reordered, 0.1, 2000-s1.Lost)
}

func TestLatencyDelaysDelivery(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	if err := n.SetLinkFaults(peer(1), peer(2), &memtransport.Faults{Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	a, b := join(t, n, peer(1)), join(t, n, peer(2))
	sent := time.Now()
	if err := a.Send(peer(1), peer(2), payload(1)); err != nil {
		t.Fatal(err)
	}
	receive(t, b, 5*time.Second)
	if waited := time.Since(sent); waited < 30*time.Millisecond {
		t.Fatalf("a packet with 30 ms latency arrived after %v", waited)
	}
	// The reverse link keeps the network's (perfect) faults.
	if err := b.Send(peer(2), peer(1), payload(2)); err != nil {
		t.Fatal(err)
	}
	receive(t, a, 5*time.Second)
}

func TestReorderedPacketsAreOvertaken(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a, b := join(t, n, peer(1)), join(t, n, peer(2))
	if err := n.SetFaults(memtransport.Faults{Reorder: 1, ReorderBy: 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(peer(1), peer(2), payload(1)); err != nil {
		t.Fatal(err)
	}
	if err := n.SetFaults(memtransport.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(peer(1), peer(2), payload(2)); err != nil {
		t.Fatal(err)
	}
	first, second := receive(t, b, 5*time.Second), receive(t, b, 5*time.Second)
	if first.Payload.Acks[0][0] != 2 || second.Payload.Acks[0][0] != 1 {
		t.Fatalf("order %d, %d; want the held-back packet second", first.Payload.Acks[0][0], second.Payload.Acks[0][0])
	}
}

func TestDuplicatedPacketsArriveTwice(t *testing.T) {
	n := memtransport.New(1)
	defer n.Close()
	a, b := join(t, n, peer(1)), join(t, n, peer(2))
	if err := n.SetFaults(memtransport.Faults{Duplicate: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(peer(1), peer(2), payload(7)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if p := receive(t, b, time.Second); p.Payload.Acks[0][0] != 7 {
			t.Fatalf("copy %d: %+v", i, p)
		}
	}
}

func TestInvalidFaultsAreRejected(t *testing.T) {
	n := memtransport.New(1)
	for name, f := range map[string]memtransport.Faults{
		"loss above one":   {Loss: 1.5},
		"negative dup":     {Duplicate: -0.1},
		"negative latency": {Latency: -time.Second},
		"negative jitter":  {Jitter: -1},
	} {
		if err := n.SetFaults(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestQueueOverflowDropsAndCounts(t *testing.T) {
	n := memtransport.New(1, memtransport.WithQueue(2))
	defer n.Close()
	a := join(t, n, peer(1))
	join(t, n, peer(2))
	for i := 0; i < 5; i++ {
		if err := a.Send(peer(1), peer(2), payload(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Stats(); st.Delivered != 2 || st.Overflow != 3 {
		t.Fatalf("stats %+v; want 2 queued, 3 dropped", st)
	}
}
