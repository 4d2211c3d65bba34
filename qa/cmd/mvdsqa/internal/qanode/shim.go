package qanode

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/transport"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/qa/wakutransport"
)

// shim sits between the mvds node and the Waku transport. It injects the
// faults go-waku cannot produce between two chosen peers — a partition, and
// latency — and watches the wire: which payloads went out, and when each
// recipient's ack came back, for stock and guarded nodes alike.
//
// Offline, connection drops and restarts are real network effects made by
// the transport (connections closed, processes killed); partition and
// latency are injected here.
type shim struct {
	inner *wakutransport.Transport
	watch wireWatcher

	mu      sync.Mutex
	parted  map[mvds.PeerID]bool
	latency time.Duration

	queue chan delayed
	out   chan transport.Packet
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	stats shimCounters
}

// wireWatcher is told what crossed the wire. Its methods run on the
// transport's goroutines (sent on mvds's epoch goroutine): they must not
// block and must not touch the database synchronously.
type wireWatcher interface {
	sent(to mvds.PeerID, ids []mvds.MessageID, err error)
	acked(from mvds.PeerID, ids [][]byte, at time.Time)
}

type delayed struct {
	p   transport.Packet
	due time.Time
}

// ShimStats counts what the shim did.
type ShimStats struct {
	Sent           uint64 `json:"sent"`           // payloads handed to the transport
	SendErrors     uint64 `json:"sendErrors"`     // of which the transport refused
	PartitionedOut uint64 `json:"partitionedOut"` // payloads dropped: recipient partitioned
	PartitionedIn  uint64 `json:"partitionedIn"`  // packets dropped: sender partitioned
	Delayed        uint64 `json:"delayed"`        // packets held back by latency
	Received       uint64 `json:"received"`       // packets handed to mvds
}

type shimCounters struct {
	sent, sendErrors, partOut, partIn, delayed, received atomic.Uint64
}

const shimQueue = 4096

func newShim(inner *wakutransport.Transport, w wireWatcher) *shim {
	s := &shim{
		inner:  inner,
		watch:  w,
		parted: map[mvds.PeerID]bool{},
		queue:  make(chan delayed, shimQueue),
		out:    make(chan transport.Packet),
		done:   make(chan struct{}),
	}
	s.wg.Add(2)
	go s.read()
	go s.deliver()
	return s
}

func (s *shim) setFaults(parted []mvds.PeerID, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parted = map[mvds.PeerID]bool{}
	for _, p := range parted {
		s.parted[p] = true
	}
	s.latency = latency
}

func (s *shim) faults() ([]mvds.PeerID, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mvds.PeerID
	for p := range s.parted {
		out = append(out, p)
	}
	return out, s.latency
}

func (s *shim) partitioned(p mvds.PeerID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parted[p]
}

// Send drops a payload to a partitioned peer without an error — on a real
// network the publish succeeds and the packet never arrives. Either way its
// messages were transmitted: the wire log counts the attempt.
func (s *shim) Send(sender, peer mvds.PeerID, p *protobuf.Payload) error {
	var err error
	if s.partitioned(peer) {
		s.stats.partOut.Add(1)
	} else {
		err = s.inner.Send(sender, peer, p)
		s.stats.sent.Add(1)
		if err != nil {
			s.stats.sendErrors.Add(1)
		}
	}
	if len(p.Messages) > 0 {
		ids := make([]mvds.MessageID, len(p.Messages))
		for i, m := range p.Messages {
			ids[i] = m.ID()
		}
		s.watch.sent(peer, ids, err)
	}
	return err
}

// Watch hands mvds the next packet.
func (s *shim) Watch() transport.Packet {
	select {
	case p := <-s.out:
		return p
	case <-s.done:
		return transport.Packet{}
	}
}

func (s *shim) read() {
	defer s.wg.Done()
	for {
		p := s.inner.Watch()
		if p.Payload == nil {
			return
		}
		if s.partitioned(p.Sender) {
			s.stats.partIn.Add(1)
			continue
		}
		s.mu.Lock()
		lat := s.latency
		s.mu.Unlock()
		if lat > 0 {
			s.stats.delayed.Add(1)
		}
		select {
		case s.queue <- delayed{p: p, due: time.Now().Add(lat)}:
		case <-s.done:
			return
		}
	}
}

// deliver hands packets over in arrival order, each once its latency has
// passed.
func (s *shim) deliver() {
	defer s.wg.Done()
	for {
		var d delayed
		select {
		case d = <-s.queue:
		case <-s.done:
			return
		}
		if wait := time.Until(d.due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.done:
				return
			}
		}
		if len(d.p.Payload.Acks) > 0 {
			s.watch.acked(d.p.Sender, d.p.Payload.Acks, time.Now())
		}
		select {
		case s.out <- d.p:
			s.stats.received.Add(1)
		case <-s.done:
			return
		}
	}
}

func (s *shim) snapshot() ShimStats {
	c := &s.stats
	return ShimStats{Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(), PartitionedOut: c.partOut.Load(),
		PartitionedIn: c.partIn.Load(), Delayed: c.delayed.Load(), Received: c.received.Load()}
}

// Close stops the shim and the transport under it.
func (s *shim) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.inner.Close()
		s.wg.Wait()
	})
	return err
}
