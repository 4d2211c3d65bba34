// Package memtransport is an in-process mvds transport joining any number of
// nodes, with faults switchable at run time: a node offline, a partition
// between two peers, random loss, fixed and random latency, duplication and
// reordering.
//
// Packets travel as bytes (mvds/wire), so every delivery exercises the same
// decoding and validation a network transport does. Random decisions are
// drawn from one source per directed link, seeded from the network's seed and
// the two peer ids: for a given seed, the n-th packet on a link meets the same
// fate whatever the other links do. Sending while the sender is offline
// returns ErrOffline instead of pretending success; a packet to an offline or
// partitioned peer is lost silently, as on a real network.
//
// The package knows nothing about SQLite, hooks or retry policies.
package memtransport

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"sync"
	"time"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

// Errors returned by Send.
var (
	ErrOffline     = errors.New("memtransport: sender is offline")
	ErrUnknownPeer = errors.New("memtransport: unknown recipient")
	ErrClosed      = errors.New("memtransport: endpoint is closed")
)

// Faults describes what the network does to packets. The zero value is a
// perfect network.
type Faults struct {
	Loss      float64       // probability a packet is lost
	Duplicate float64       // probability a delivered packet arrives twice
	Reorder   float64       // probability a packet is held back so later ones overtake it
	ReorderBy time.Duration // how long a reordered packet is held back (default 5 ms)
	Latency   time.Duration // fixed delay of every packet
	Jitter    time.Duration // extra delay, uniform in [0, Jitter)
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", f.Loss}, {"duplicate", f.Duplicate}, {"reorder", f.Reorder}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("memtransport: %s probability %v is outside [0, 1]", p.name, p.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"reorder delay", f.ReorderBy}, {"latency", f.Latency}, {"jitter", f.Jitter}} {
		if d.v < 0 {
			return fmt.Errorf("memtransport: %s %v is negative", d.name, d.v)
		}
	}
	return nil
}

const defaultReorderBy = 5 * time.Millisecond

// Stats counts what happened to packets.
type Stats struct {
	Sent             uint64 // packets accepted from an online sender
	Refused          uint64 // Send calls that returned an error
	Delivered        uint64 // packets placed in a recipient's queue (duplicates included)
	Lost             uint64 // dropped by random loss
	Partitioned      uint64 // dropped because sender and recipient were partitioned
	RecipientOffline uint64 // dropped because the recipient was offline or closed
	Overflow         uint64 // dropped because the recipient's queue was full
	Duplicated       uint64 // extra copies delivered
	Reordered        uint64 // packets held back
	Invalid          uint64 // packets that failed to decode at the recipient
}

func (s *Stats) add(o Stats) {
	s.Sent += o.Sent
	s.Refused += o.Refused
	s.Delivered += o.Delivered
	s.Lost += o.Lost
	s.Partitioned += o.Partitioned
	s.RecipientOffline += o.RecipientOffline
	s.Overflow += o.Overflow
	s.Duplicated += o.Duplicated
	s.Reordered += o.Reordered
	s.Invalid += o.Invalid
}

// Transmission describes one accepted Send, for observers.
type Transmission struct {
	From, To PeerID
	Payload  *protobuf.Payload
	Bytes    int
	Fate     Fate
	At       time.Time
}

// Fate is what the network decided for a packet when it was sent.
type Fate uint8

const (
	FateDelivered   Fate = iota + 1 // scheduled for delivery
	FateLost                        // random loss
	FatePartitioned                 // partition between sender and recipient
	FateOffline                     // recipient offline
)

func (f Fate) String() string {
	return [...]string{"", "delivered", "lost", "partitioned", "recipient offline"}[f]
}

// PeerID is mvds's peer id.
type PeerID = state.PeerID

// Option configures a Network.
type Option func(*Network)

// WithQueue sets how many undelivered packets an endpoint holds before new
// ones are dropped (default 4096).
func WithQueue(n int) Option {
	return func(nw *Network) {
		if n > 0 {
			nw.queueCap = n
		}
	}
}

// WithObserver calls f for every accepted Send, on the sender's goroutine,
// after the network decided the packet's fate.
func WithObserver(f func(Transmission)) Option {
	return func(nw *Network) { nw.observer = f }
}

type link struct {
	rnd    *rand.Rand
	faults *Faults // overrides the network's faults when set
	stats  Stats
}

// Network joins endpoints. It is safe for concurrent use.
type Network struct {
	mu        sync.Mutex
	seed      uint64
	queueCap  int
	observer  func(Transmission)
	faults    Faults
	endpoints map[PeerID]*Endpoint
	offline   map[PeerID]bool
	parts     map[[2]PeerID]bool
	links     map[[2]PeerID]*link
	closed    bool
}

// New returns an empty, perfect network whose random decisions derive from
// seed.
func New(seed int64, opts ...Option) *Network {
	n := &Network{
		seed:      uint64(seed),
		queueCap:  4096,
		endpoints: map[PeerID]*Endpoint{},
		offline:   map[PeerID]bool{},
		parts:     map[[2]PeerID]bool{},
		links:     map[[2]PeerID]*link{},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Join attaches a node. A peer id can be joined again once its previous
// endpoint is closed (a restarted node); its online state is kept.
func (n *Network) Join(id PeerID) (*Endpoint, error) {
	if id == (PeerID{}) {
		return nil, errors.New("memtransport: join: zero peer id")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("memtransport: join: network is closed")
	}
	if e, ok := n.endpoints[id]; ok && !e.isClosed() {
		return nil, fmt.Errorf("memtransport: join: peer %x is already joined", id[:4])
	}
	e := &Endpoint{net: n, id: id, queue: make(chan transport.Packet, n.queueCap), done: make(chan struct{})}
	n.endpoints[id] = e
	return e, nil
}

// SetOnline switches a node's connectivity. Offline, its sends fail with
// ErrOffline and packets to it are lost, including those already in flight.
func (n *Network) SetOnline(id PeerID, online bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if online {
		delete(n.offline, id)
	} else {
		n.offline[id] = true
	}
}

// SetObserver replaces the observer set with WithObserver (nil removes it).
func (n *Network) SetObserver(f func(Transmission)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.observer = f
}

// Online reports whether a node is online.
func (n *Network) Online(id PeerID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.offline[id]
}

func pair(a, b PeerID) [2]PeerID {
	if string(a[:]) > string(b[:]) {
		a, b = b, a
	}
	return [2]PeerID{a, b}
}

// Partition cuts the path between a and b in both directions; packets in
// flight between them are lost.
func (n *Network) Partition(a, b PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.parts[pair(a, b)] = true
}

// Heal restores the path between a and b.
func (n *Network) Heal(a, b PeerID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.parts, pair(a, b))
}

// HealAll removes every partition.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.parts = map[[2]PeerID]bool{}
}

// SetFaults sets the faults of every link without its own.
func (n *Network) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f
	return nil
}

// SetLinkFaults sets the faults of the directed link from → to; nil returns
// it to the network's faults.
func (n *Network) SetLinkFaults(from, to PeerID, f *Faults) error {
	if f != nil {
		if err := f.validate(); err != nil {
			return err
		}
		c := *f
		f = &c
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.link(from, to).faults = f
	return nil
}

// Stats returns the totals over every link.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s Stats
	for _, l := range n.links {
		s.add(l.stats)
	}
	return s
}

// LinkStats returns the counts of the directed link from → to.
func (n *Network) LinkStats(from, to PeerID) Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.link(from, to).stats
}

// Close closes every endpoint; packets in flight are dropped.
func (n *Network) Close() {
	n.mu.Lock()
	eps := make([]*Endpoint, 0, len(n.endpoints))
	for _, e := range n.endpoints {
		eps = append(eps, e)
	}
	n.closed = true
	n.mu.Unlock()
	for _, e := range eps {
		_ = e.Close()
	}
}

// link returns the state of a directed link; n.mu must be held.
func (n *Network) link(from, to PeerID) *link {
	k := [2]PeerID{from, to}
	l, ok := n.links[k]
	if !ok {
		h := fnv.New64a()
		h.Write(from[:])
		h.Write(to[:])
		l = &link{rnd: rand.New(rand.NewSource(int64(n.seed ^ h.Sum64())))}
		n.links[k] = l
	}
	return l
}

// send decides a packet's fate and schedules its delivery.
func (n *Network) send(from *Endpoint, to PeerID, payload *protobuf.Payload) error {
	b, err := wire.Encode(from.id, payload)
	if err != nil {
		return fmt.Errorf("memtransport: %w", err)
	}
	n.mu.Lock()
	l := n.link(from.id, to)
	switch {
	case from.isClosed() || n.closed:
		l.stats.Refused++
		n.mu.Unlock()
		return ErrClosed
	case n.offline[from.id]:
		l.stats.Refused++
		n.mu.Unlock()
		return ErrOffline
	}
	if _, ok := n.endpoints[to]; !ok {
		l.stats.Refused++
		n.mu.Unlock()
		return fmt.Errorf("%w %x", ErrUnknownPeer, to[:4])
	}
	f := n.faults
	if l.faults != nil {
		f = *l.faults
	}
	// Draw every number, whatever the outcome, so that the n-th packet on a
	// link always meets the same fate for a given seed.
	lossDraw, dupDraw, reorderDraw, jitterDraw := l.rnd.Float64(), l.rnd.Float64(), l.rnd.Float64(), l.rnd.Float64()
	l.stats.Sent++
	fate := FateDelivered
	switch {
	case n.parts[pair(from.id, to)]:
		fate = FatePartitioned
		l.stats.Partitioned++
	case n.offline[to]:
		fate = FateOffline
		l.stats.RecipientOffline++
	case lossDraw < f.Loss:
		fate = FateLost
		l.stats.Lost++
	}
	copies := 1
	delay := f.Latency + time.Duration(jitterDraw*float64(f.Jitter))
	if fate == FateDelivered {
		if dupDraw < f.Duplicate {
			copies = 2
			l.stats.Duplicated++
		}
		if reorderDraw < f.Reorder {
			by := f.ReorderBy
			if by == 0 {
				by = defaultReorderBy
			}
			delay += by
			l.stats.Reordered++
		}
	}
	observer := n.observer
	n.mu.Unlock()

	if observer != nil {
		observer(Transmission{From: from.id, To: to, Payload: payload, Bytes: len(b), Fate: fate, At: time.Now()})
	}
	if fate != FateDelivered {
		return nil
	}
	for i := 0; i < copies; i++ {
		if delay == 0 {
			n.deliver(from.id, to, b)
		} else {
			time.AfterFunc(delay, func() { n.deliver(from.id, to, b) })
		}
	}
	return nil
}

// deliver places a packet in the recipient's queue, if the network still
// allows it to arrive.
func (n *Network) deliver(from, to PeerID, b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.link(from, to)
	e := n.endpoints[to]
	switch {
	case n.closed || e == nil || e.isClosed() || n.offline[to]:
		l.stats.RecipientOffline++
		return
	case n.parts[pair(from, to)]:
		l.stats.Partitioned++
		return
	}
	p, err := wire.Decode(b)
	if err != nil {
		l.stats.Invalid++
		return
	}
	select {
	case e.queue <- p:
		l.stats.Delivered++
	default:
		l.stats.Overflow++
	}
}

// Endpoint is one node's attachment to the network; it implements mvds's
// transport.Transport.
type Endpoint struct {
	net   *Network
	id    PeerID
	queue chan transport.Packet

	closeOnce sync.Once
	done      chan struct{}
}

var _ transport.Transport = (*Endpoint)(nil)

// ID returns the endpoint's peer id.
func (e *Endpoint) ID() PeerID { return e.id }

// Watch blocks until a packet arrives. After Close it returns a Packet with a
// nil Payload, which tells a reader the endpoint is gone.
func (e *Endpoint) Watch() transport.Packet {
	select {
	case p := <-e.queue:
		return p
	case <-e.done:
		return transport.Packet{}
	}
}

// Send sends payload to peer. It fails when the sender is offline, the
// recipient was never joined, or the endpoint is closed; once accepted, the
// packet's fate is the network's.
func (e *Endpoint) Send(sender, peer PeerID, payload *protobuf.Payload) error {
	if sender != e.id {
		return fmt.Errorf("memtransport: endpoint %x cannot send as %x", e.id[:4], sender[:4])
	}
	return e.net.send(e, peer, payload)
}

// Close detaches the endpoint; Watch returns at once.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() { close(e.done) })
	return nil
}

func (e *Endpoint) isClosed() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
