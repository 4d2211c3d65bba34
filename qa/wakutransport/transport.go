package wakutransport

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/status-im/mvds/protobuf"
	"github.com/status-im/mvds/state"
	"github.com/status-im/mvds/transport"
	"github.com/waku-org/go-waku/waku/v2/node"
	wakuproto "github.com/waku-org/go-waku/waku/v2/protocol"
	"github.com/waku-org/go-waku/waku/v2/protocol/lightpush"
	"github.com/waku-org/go-waku/waku/v2/protocol/pb"
	"github.com/waku-org/go-waku/waku/v2/protocol/relay"
	"github.com/waku-org/go-waku/waku/v2/protocol/subscription"
	wakuutils "github.com/waku-org/go-waku/waku/v2/utils"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/mvdsguard/mvdsguard/mvds/wire"
)

// Errors returned by Send, Connect and Online.
var (
	ErrClosed  = errors.New("wakutransport: transport is closed")
	ErrOffline = errors.New("wakutransport: node is offline")
	// ErrNoPeers: the node is online but has no peer to publish through (no
	// relay peer on the pubsub topic, or the service node is not connected).
	ErrNoPeers = errors.New("wakutransport: no peer to publish through")
	// ErrBadAddress: Connect was given an address it cannot dial (not a
	// multiaddr, no /p2p/<peer id>, or this node's own).
	ErrBadAddress = errors.New("wakutransport: bad peer address")
)

// inboxSize bounds the packets received but not yet taken by Watch. mvds
// reads continuously; beyond this the node is far behind, and dropping (as a
// network would) is better than stalling go-waku's delivery to every other
// subscriber.
const inboxSize = 4096

// envelopeReserve is what a Waku message adds around the envelope and the
// wire header: content topic, timestamp and protobuf framing.
const envelopeReserve = envelopeHeader + 1 + 65 + 512

// Transport is an mvds transport.Transport over a go-waku node. It is safe
// for concurrent use.
type Transport struct {
	key    *ecdsa.PrivateKey
	id     state.PeerID
	cfg    config
	node   *node.WakuNode
	logger *zap.Logger
	topic  string // this node's content topic

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	inbox  chan transport.Packet
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once

	conn    *Connectivity
	offline atomic.Bool
	poke    chan struct{}
	// serviceLost: a connection to the service node closed since the filter
	// subscription was made; a service node that restarted forgot it.
	serviceLost atomic.Bool

	mu      sync.Mutex
	known   map[peer.ID]peer.AddrInfo // peers kept connected while online
	recent  map[peer.ID]peer.AddrInfo // other peers connected when the node went offline
	service peer.ID                   // light mode
	sub     *subscription.SubscriptionDetails

	stats counters
}

var _ transport.Transport = (*Transport)(nil)

// Stats counts what crossed the transport.
type Stats struct {
	Published  uint64 `json:"published"`  // Waku messages published (a payload split in n counts n)
	SendErrors uint64 `json:"sendErrors"` // Send calls that returned an error
	Received   uint64 `json:"received"`   // packets verified and handed to Watch
	Rejected   uint64 `json:"rejected"`   // Waku messages on our topic that failed verification or decoding
	Forged     uint64 `json:"forged"`     // of Rejected: signed by a key other than the sender's
	Dropped    uint64 `json:"dropped"`    // verified packets dropped because Watch was too far behind
	// RateLimited counts light push requests the service node refused for
	// exceeding its rate limit; each was tried again after a pause.
	RateLimited uint64 `json:"rateLimited"`
}

type counters struct {
	published, sendErrors, received, rejected, forged, dropped, rateLimited atomic.Uint64
}

// prepareGoWaku works around go-waku keeping its per-protocol message
// loggers in a global map it fills without a lock on first use: filled once
// before any node runs, it is only ever read, and nodes in one process (a
// relay node and a service node in a test, say) no longer race on it.
var prepareGoWaku = sync.OnceFunc(func() {
	for _, prefix := range []string{"relay", "lightpush", "filter"} {
		wakuutils.MessagesLogger(prefix)
	}
})

// New starts a go-waku node with key as its identity (the mvds peer id is
// the key's public key; the libp2p peer id derives from the same key) and
// subscribes to the node's content topic. Close stops it.
func New(key *ecdsa.PrivateKey, opts ...Option) (*Transport, error) {
	if key == nil {
		return nil, errors.New("wakutransport: nil key")
	}
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("wakutransport: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("wakutransport: %w", err)
		}
	}
	if cfg.mode == Light && cfg.serve {
		return nil, errors.New("wakutransport: a light client cannot serve light clients (WithService needs relay mode)")
	}
	prepareGoWaku()
	id := PeerIDOf(key)
	logger := cfg.logger.Named("waku").With(zap.String("node", fmt.Sprintf("%x", id[1:5])))
	wopts := []node.WakuNodeOption{
		node.WithPrivateKey(key),
		node.WithHostAddress(cfg.listen),
		// go-waku's default registry is one per process: a second node in
		// the same process would collide with the first's metrics.
		node.WithPrometheusRegisterer(prometheus.NewRegistry()),
		node.WithLogger(logger.Named("node")),
		node.WithMaxConnectionsPerIP(cfg.perIP),
		node.WithMaxMsgSize(cfg.maxSize),
	}
	if cfg.mode == Relay {
		// At least one peer on the topic, or Publish fails instead of
		// sending into the void.
		wopts = append(wopts, node.WithWakuRelayAndMinPeers(1))
		if cfg.serve {
			wopts = append(wopts, node.WithLightPush(lightpush.WithRateLimiter(rate.Limit(cfg.pushRate), cfg.pushBurst)),
				node.WithWakuFilterFullNode())
		}
	} else {
		wopts = append(wopts, node.WithWakuFilterLightNode())
	}
	wn, err := node.New(wopts...)
	if err != nil {
		return nil, fmt.Errorf("wakutransport: new go-waku node: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := wn.Start(ctx); err != nil {
		cancel()
		wn.Stop()
		return nil, fmt.Errorf("wakutransport: start go-waku node on %s: %w", cfg.listen, err)
	}
	t := &Transport{
		key: key, id: id, cfg: cfg, node: wn, logger: logger, topic: ContentTopic(id),
		ctx: ctx, cancel: cancel,
		inbox:  make(chan transport.Packet, inboxSize),
		done:   make(chan struct{}),
		conn:   newConnectivity(),
		poke:   make(chan struct{}, 1),
		known:  map[peer.ID]peer.AddrInfo{},
		recent: map[peer.ID]peer.AddrInfo{},
	}
	wn.Host().Network().Notify(&network.NotifyBundle{
		ConnectedF:    t.onConnected,
		DisconnectedF: t.onDisconnected,
	})
	if cfg.mode == Relay {
		if err := t.subscribeRelay(); err != nil {
			t.Close()
			return nil, err
		}
	} else {
		info, err := peer.AddrInfoFromP2pAddr(cfg.serviceAddr)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("wakutransport: service node address %s: %w", cfg.serviceAddr, err)
		}
		t.service = info.ID
		t.known[info.ID] = *info
	}
	t.wg.Add(1)
	go t.maintain()
	logger.Info("started", zap.String("mode", cfg.mode.String()), zap.Bool("service", cfg.serve),
		zap.Strings("addrs", t.Addrs()), zap.String("contentTopic", t.topic))
	return t, nil
}

func (t *Transport) subscribeRelay() error {
	subs, err := t.node.Relay().Subscribe(t.ctx, wakuproto.NewContentFilter(t.cfg.pubsubTopic, t.topic))
	if err != nil {
		return fmt.Errorf("wakutransport: subscribe to %s on %s: %w", t.topic, t.cfg.pubsubTopic, err)
	}
	for _, s := range subs {
		t.wg.Add(1)
		go t.read(s.Ch)
	}
	events, err := t.node.Relay().Events().Subscribe(new(relay.EvtPeerTopic))
	if err != nil {
		return fmt.Errorf("wakutransport: relay peer events: %w", err)
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer events.Close()
		for {
			select {
			case <-t.ctx.Done():
				return
			case _, ok := <-events.Out():
				if !ok {
					return
				}
				t.wake()
			}
		}
	}()
	return nil
}

// ID returns the node's mvds peer id (its public key).
func (t *Transport) ID() state.PeerID { return t.id }

// Mode returns the node's mode.
func (t *Transport) Mode() Mode { return t.cfg.mode }

// PeerID returns the node's libp2p peer id.
func (t *Transport) PeerID() string { return t.node.ID() }

// Addrs returns the multiaddrs other nodes can dial, each ending in
// /p2p/<peer id>.
func (t *Transport) Addrs() []string {
	var out []string
	for _, a := range t.node.ListenAddresses() {
		out = append(out, a.String())
	}
	return out
}

// ContentTopic returns the content topic this node receives on.
func (t *Transport) ContentTopic() string { return t.topic }

// Connectivity returns the node's connectivity signal: online while the node
// can publish and receive — in relay mode, while at least one peer shares
// its pubsub topic; in light mode, while the service node is connected and
// the filter subscription is in place.
func (t *Transport) Connectivity() *Connectivity { return t.conn }

// Stats returns what crossed the transport so far.
func (t *Transport) Stats() Stats {
	c := &t.stats
	return Stats{Published: c.published.Load(), SendErrors: c.sendErrors.Load(), Received: c.received.Load(),
		Rejected: c.rejected.Load(), Forged: c.forged.Load(), Dropped: c.dropped.Load(), RateLimited: c.rateLimited.Load()}
}

// Watch blocks until a verified packet arrives. After Close it returns a
// Packet with a nil Payload.
func (t *Transport) Watch() transport.Packet {
	select {
	case p := <-t.inbox:
		return p
	case <-t.done:
		return transport.Packet{}
	}
}

// Send signs payload as sender (which must be this node) for peer and
// publishes it on peer's content topic, split into several Waku messages if
// it is larger than one. The error says why nothing (or not everything) went
// out: ErrClosed, ErrOffline, ErrNoPeers, ErrTooLarge or go-waku's own.
func (t *Transport) Send(sender state.PeerID, peer state.PeerID, payload *protobuf.Payload) error {
	err := t.send(sender, peer, payload)
	if err != nil {
		t.stats.sendErrors.Add(1)
		return fmt.Errorf("wakutransport: send to %x…: %w", peer[1:5], err)
	}
	return nil
}

func (t *Transport) send(sender, to state.PeerID, payload *protobuf.Payload) error {
	switch {
	case t.closed.Load():
		return ErrClosed
	case sender != t.id:
		return fmt.Errorf("cannot sign as %x…: this node is %x…", sender[1:5], t.id[1:5])
	case payload == nil:
		return errors.New("nil payload")
	case t.offline.Load():
		return ErrOffline
	}
	parts, err := split(payload, t.cfg.maxSize-envelopeReserve)
	if err != nil {
		return err
	}
	for _, p := range parts {
		packet, err := wire.Encode(sender, p)
		if err != nil {
			return err
		}
		sealed, err := Seal(t.key, to, packet)
		if err != nil {
			return err
		}
		if err := t.publish(to, sealed); err != nil {
			return err
		}
	}
	return nil
}

// publish puts one envelope on the network. Every Waku message gets the
// current time as its timestamp: relay identifies messages by a hash that
// includes it, and an mvds retransmission of identical bytes would otherwise
// be taken for a duplicate and dropped for two minutes.
func (t *Transport) publish(to state.PeerID, envelope []byte) error {
	msg := &pb.WakuMessage{
		Payload:      envelope,
		ContentTopic: ContentTopic(to),
		Timestamp:    proto.Int64(time.Now().UnixNano()),
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.sendTimeout)
	defer cancel()
	var err error
	if t.cfg.mode == Relay {
		if len(t.node.Relay().PubSub().ListPeers(t.cfg.pubsubTopic)) == 0 {
			return fmt.Errorf("%w: no relay peer on %s", ErrNoPeers, t.cfg.pubsubTopic)
		}
		_, err = t.node.Relay().Publish(ctx, msg, relay.WithPubSubTopic(t.cfg.pubsubTopic))
	} else {
		if t.node.Host().Network().Connectedness(t.service) != network.Connected {
			return fmt.Errorf("%w: service node %s is not connected", ErrNoPeers, t.service)
		}
		err = t.lightPush(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("publish on %s: %w", t.cfg.pubsubTopic, err)
	}
	t.stats.published.Add(1)
	return nil
}

// rateLimitPause is the first pause before a refused light push is tried
// again; it doubles on each refusal, within the send timeout.
const rateLimitPause = 100 * time.Millisecond

// lightPush publishes through the service node. A service node refuses
// requests beyond its per-peer rate limit; such a refusal is not a lost
// network, so the request is tried again after a pause, until the send
// timeout, rather than dropped (an ack dropped here costs the peer a
// retransmission).
func (t *Transport) lightPush(ctx context.Context, msg *pb.WakuMessage) error {
	pause := rateLimitPause
	for {
		_, err := t.node.Lightpush().Publish(ctx, msg, lightpush.WithPubSubTopic(t.cfg.pubsubTopic), lightpush.WithPeer(t.service))
		if err == nil || !isRateLimited(err) {
			return err
		}
		t.stats.rateLimited.Add(1)
		t.logger.Debug("light push refused by the service node's rate limit; trying again", zap.Duration("after", pause))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (the service node kept refusing: %v)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// isRateLimited says whether a light push error is the service node's
// rate-limit refusal. go-waku returns it as text only.
func isRateLimited(err error) bool {
	return strings.Contains(err.Error(), "exceeds the rate limit")
}

// read hands the envelopes of a go-waku subscription to receive.
func (t *Transport) read(ch <-chan *wakuproto.Envelope) {
	defer t.wg.Done()
	for {
		select {
		case <-t.ctx.Done():
			return
		case env, ok := <-ch:
			if !ok {
				return
			}
			t.receive(env.Message())
		}
	}
}

func (t *Transport) receive(msg *pb.WakuMessage) {
	if msg == nil || msg.ContentTopic != t.topic {
		return
	}
	p, err := Open(t.id, msg.Payload)
	if err != nil {
		t.stats.rejected.Add(1)
		if errors.Is(err, ErrBadSignature) {
			t.stats.forged.Add(1)
			t.logger.Warn("rejected a packet not signed by its sender", zap.Error(err))
		} else {
			t.logger.Debug("rejected a malformed packet", zap.Error(err))
		}
		return
	}
	select {
	case t.inbox <- p:
		t.stats.received.Add(1)
	case <-t.done:
	default:
		t.stats.dropped.Add(1)
	}
}

// Close stops the go-waku node. Watch returns an empty packet from then on.
func (t *Transport) Close() error {
	t.once.Do(func() {
		t.closed.Store(true)
		close(t.done)
		// go-waku's WakuNode.Stop closes its broadcaster's input before it
		// stops relay, so a message arriving meanwhile is sent on a closed
		// channel. Relay goes first here, and waits for its topic handlers,
		// while the reader (alive until t.cancel) keeps draining the
		// broadcaster so that no handler blocks.
		if r := t.node.Relay(); r != nil {
			r.Stop()
		}
		t.cancel()
		t.node.Stop()
		t.wg.Wait()
		t.conn.set(false)
		t.logger.Info("stopped")
	})
	return nil
}

// Peer describes a peer the node knows.
type Peer struct {
	ID        string   `json:"peerId"`
	Addrs     []string `json:"addrs"`
	Connected bool     `json:"connected"`
	// Kept: the node redials it while online (it was given to Connect, or
	// it is the service node).
	Kept bool `json:"kept"`
}

// Peers lists the connected peers and the ones the node keeps connected.
func (t *Transport) Peers() []Peer {
	h := t.node.Host()
	seen := map[peer.ID]bool{}
	out := []Peer{}
	t.mu.Lock()
	for id, info := range t.known {
		seen[id] = true
		out = append(out, Peer{ID: id.String(), Addrs: addrStrings(info.Addrs), Connected: h.Network().Connectedness(id) == network.Connected, Kept: true})
	}
	t.mu.Unlock()
	for _, id := range h.Network().Peers() {
		if !seen[id] {
			out = append(out, Peer{ID: id.String(), Addrs: addrStrings(h.Peerstore().Addrs(id)), Connected: true})
		}
	}
	return out
}

// mergeAddrs is old followed by the addresses of add not already in it.
func mergeAddrs(old, add []multiaddr.Multiaddr) []multiaddr.Multiaddr {
	out := append([]multiaddr.Multiaddr(nil), old...)
	for _, a := range add {
		dup := false
		for _, o := range old {
			if a.Equal(o) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

func addrStrings(as []multiaddr.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// Connect dials the peer at addr (a multiaddr ending in /p2p/<peer id>) and
// keeps it connected: while the node is online it is redialled whenever the
// connection drops. Connecting while offline records the peer and returns
// ErrOffline.
func (t *Transport) Connect(ctx context.Context, addr string) error {
	if t.closed.Load() {
		return ErrClosed
	}
	ma, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrBadAddress, addr, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(ma)
	if err != nil {
		return fmt.Errorf("%w %q: it must end in /p2p/<peer id> (%v)", ErrBadAddress, addr, err)
	}
	if info.ID == t.node.Host().ID() {
		return fmt.Errorf("%w %q: it is this node's own", ErrBadAddress, addr)
	}
	t.mu.Lock()
	// A peer given again keeps the addresses it was given before: a wrong
	// one added later must not replace the one that works.
	if old, ok := t.known[info.ID]; ok {
		info.Addrs = mergeAddrs(old.Addrs, info.Addrs)
	}
	t.known[info.ID] = *info
	t.mu.Unlock()
	if t.offline.Load() {
		return ErrOffline
	}
	if err := t.node.DialPeerWithInfo(ctx, *info); err != nil {
		return fmt.Errorf("wakutransport: connect to %s: %w", addr, err)
	}
	t.wake()
	return nil
}

// Disconnect closes the connection to a peer, given by libp2p peer id or by
// a multiaddr ending in /p2p/<peer id>, and stops redialling it. The
// service node of a light client cannot be forgotten; it is only
// disconnected until the next redial.
func (t *Transport) Disconnect(peerOrAddr string) error {
	if t.closed.Load() {
		return ErrClosed
	}
	id, err := parsePeer(peerOrAddr)
	if err != nil {
		return fmt.Errorf("wakutransport: disconnect: %w", err)
	}
	t.mu.Lock()
	_, kept := t.known[id]
	if id != t.service {
		delete(t.known, id)
	}
	t.mu.Unlock()
	connected := t.node.Host().Network().Connectedness(id) == network.Connected
	if !kept && !connected {
		return fmt.Errorf("wakutransport: disconnect: %s is not a peer of this node", id)
	}
	if err := t.node.ClosePeerById(id); err != nil {
		return fmt.Errorf("wakutransport: disconnect %s: %w", id, err)
	}
	t.wake()
	return nil
}

func parsePeer(s string) (peer.ID, error) {
	if ma, err := multiaddr.NewMultiaddr(s); err == nil {
		info, err := peer.AddrInfoFromP2pAddr(ma)
		if err != nil {
			return "", fmt.Errorf("address %q must end in /p2p/<peer id>: %w", s, err)
		}
		return info.ID, nil
	}
	id, err := peer.Decode(s)
	if err != nil {
		return "", fmt.Errorf("%q is neither a peer id nor a multiaddr: %w", s, err)
	}
	return id, nil
}
