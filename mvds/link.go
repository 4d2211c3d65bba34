package mvds

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/transport"
	"go.uber.org/zap"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

// link is the transport.Transport mvds sees. It reads the real transport on
// its own goroutine, validates what arrives, and hands packets to mvds one at
// a time under the engine lock; outgoing payloads go to the real transport,
// and what it refuses goes to the link's sendErrorStrategy.
type link struct {
	inner      transport.Transport
	eng        *engine
	sendFailed sendErrorStrategy
	logger     *zap.Logger
	inbound    chan transport.Packet
	done       chan struct{}
	closed     atomic.Bool
	reader     sync.WaitGroup
	stats      *counters
}

// Stats counts what crossed a node's transport.
type Stats struct {
	PacketsIn      uint64 // packets handed to mvds
	PacketsInvalid uint64 // packets dropped because they failed validation
	PacketsOut     uint64 // payloads the transport accepted
	SendErrors     uint64 // payloads the transport refused
}

type counters struct {
	in, invalid, out, sendErrors atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{PacketsIn: c.in.Load(), PacketsInvalid: c.invalid.Load(), PacketsOut: c.out.Load(), SendErrors: c.sendErrors.Load()}
}

// sendErrorStrategy is what a node does with a payload its transport refused
// (its attempts are counted already). It runs on mvds's epoch goroutine,
// outside the engine lock, and must not block.
type sendErrorStrategy func(peer PeerID, p *protobuf.Payload, err error)

// swallowSendErrors is status-go's datasync transport: it logs the error and
// tells mvds nothing, so the attempt counts against the limit.
func swallowSendErrors(logger *zap.Logger) sendErrorStrategy {
	return func(_ PeerID, _ *protobuf.Payload, err error) {
		logger.Error("failed to send message", zap.Error(err))
	}
}

const inboundQueue = 256

func newLink(inner transport.Transport, eng *engine, sendFailed sendErrorStrategy, logger *zap.Logger) *link {
	return &link{
		inner:      inner,
		eng:        eng,
		sendFailed: sendFailed,
		logger:     logger,
		inbound:    make(chan transport.Packet, inboundQueue),
		done:       make(chan struct{}),
		stats:      &counters{},
	}
}

func (l *link) start() {
	l.reader.Add(1)
	go l.read()
}

// read moves packets from the real transport to mvds. A packet with a nil
// payload means the transport was closed.
func (l *link) read() {
	defer l.reader.Done()
	for {
		p := l.inner.Watch()
		if p.Payload == nil {
			return
		}
		if err := wire.Validate(p.Sender, p.Payload); err != nil {
			l.stats.invalid.Add(1)
			l.logger.Debug("dropping invalid packet", zap.String("from", ShortID(p.Sender[:])), zap.Error(err))
			continue
		}
		if l.carriesSentinel(p.Payload) {
			l.stats.invalid.Add(1)
			l.logger.Warn("dropping packet that carries this node's end-of-packet marker", zap.String("from", ShortID(p.Sender[:])))
			continue
		}
		select {
		case l.inbound <- p:
		case <-l.done:
			return
		}
	}
}

func (l *link) carriesSentinel(p *protobuf.Payload) bool {
	for _, m := range p.Messages {
		if m.ID() == l.eng.sentinelID {
			return true
		}
	}
	return false
}

// Watch hands mvds the next packet, with the engine lock held and the
// sentinel appended; mvds returns the lock by reaching the sentinel. Once the
// node is closing it returns an empty packet, which mvds processes as
// nothing.
func (l *link) Watch() transport.Packet {
	select {
	case p := <-l.inbound:
		l.eng.lock()
		if l.eng.closed {
			l.eng.unlock()
			return emptyPacket()
		}
		l.eng.beginPacket(p.Sender)
		l.stats.in.Add(1)
		msgs := make([]*protobuf.Message, 0, len(p.Payload.Messages)+1)
		msgs = append(msgs, p.Payload.Messages...)
		msgs = append(msgs, l.eng.sentinel)
		return transport.Packet{Sender: p.Sender, Payload: &protobuf.Payload{
			Acks:        p.Payload.Acks,
			Offers:      p.Payload.Offers,
			Requests:    p.Payload.Requests,
			GroupOffers: p.Payload.GroupOffers,
			Messages:    msgs,
		}}
	case <-l.done:
		return emptyPacket()
	}
}

func emptyPacket() transport.Packet {
	return transport.Packet{Payload: &protobuf.Payload{}}
}

// Send is called by mvds's epoch goroutine for each peer's payload. It always
// returns nil: an error would make mvds abandon the remaining peers' payloads
// for this epoch and send them again, merged, at the next one.
func (l *link) Send(sender PeerID, peer PeerID, p *protobuf.Payload) error {
	if l.closed.Load() || !p.IsValid() {
		// mvds answers every packet with a payload, empty when there is
		// nothing to acknowledge; it carries nothing, so it is not sent.
		return nil
	}
	err := l.inner.Send(sender, peer, p)
	if err == nil {
		l.stats.out.Add(1)
		return nil
	}
	l.stats.sendErrors.Add(1)
	l.sendFailed(peer, p, err)
	return nil
}

func payloadStates(peer PeerID, p *protobuf.Payload) []State {
	var out []State
	for _, m := range p.Messages {
		var g GroupID
		copy(g[:], m.GroupId)
		out = append(out, State{Type: Message, PeerID: peer, MessageID: m.ID(), GroupID: &g})
	}
	for _, id := range p.Offers {
		out = append(out, State{Type: Offer, PeerID: peer, MessageID: toMessageID(id)})
	}
	for _, id := range p.Requests {
		out = append(out, State{Type: Request, PeerID: peer, MessageID: toMessageID(id)})
	}
	return out
}

func toMessageID(b []byte) MessageID {
	var id MessageID
	copy(id[:], b)
	return id
}

// stop ends the reader: the real transport is closed when it can be, which
// unblocks its Watch. A transport that cannot be closed keeps the reader
// blocked until it delivers one more packet, which is then dropped.
func (l *link) stop() error {
	l.closed.Store(true)
	close(l.done)
	var err error
	if c, ok := l.inner.(io.Closer); ok {
		err = c.Close()
		l.reader.Wait()
	}
	return err
}
