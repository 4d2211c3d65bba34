package wakutransport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	wakuproto "github.com/waku-org/go-waku/waku/v2/protocol"
	"github.com/waku-org/go-waku/waku/v2/protocol/filter"
	"github.com/waku-org/go-waku/waku/v2/protocol/subscription"
	"go.uber.org/zap"
)

// Connectivity says whether the node can reach the network. Changes keeps
// only the latest value, so a slow reader may miss intermediate ones but
// always sees the current state; it has the shape of the enforcement layer's
// Connectivity source and can be given to it directly.
type Connectivity struct {
	mu      sync.Mutex
	online  bool
	changes chan bool
}

func newConnectivity() *Connectivity { return &Connectivity{changes: make(chan bool, 1)} }

// Online reports the state now.
func (c *Connectivity) Online() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

// Changes delivers the state after each change.
func (c *Connectivity) Changes() <-chan bool { return c.changes }

func (c *Connectivity) set(online bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.online == online {
		return false
	}
	c.online = online
	select {
	case <-c.changes:
	default:
	}
	c.changes <- online
	return true
}

// tick is how often the connectivity is re-evaluated even without a
// notification: go-waku reports connections and topic peers, but not every
// change that matters (a filter subscription lost on the service side).
const tick = 250 * time.Millisecond

// dialTimeout bounds one redial of a kept peer.
const dialTimeout = 3 * time.Second

// GoOffline takes the node off the network for real: every connection is
// closed, and connections that open while offline (a peer redialling us)
// are closed as they come. Send fails with ErrOffline until GoOnline.
func (t *Transport) GoOffline() error {
	if t.closed.Load() {
		return ErrClosed
	}
	t.offline.Store(true)
	h := t.node.Host()
	t.mu.Lock()
	for _, id := range h.Network().Peers() {
		if _, kept := t.known[id]; !kept {
			t.recent[id] = h.Peerstore().PeerInfo(id)
		}
	}
	t.mu.Unlock()
	for _, id := range h.Network().Peers() {
		if err := h.Network().ClosePeer(id); err != nil {
			t.logger.Debug("closing a connection to go offline", zap.Stringer("peer", id), zap.Error(err))
		}
	}
	t.wake()
	t.logger.Info("offline")
	return nil
}

// GoOnline lets connections in again and dials every kept peer (those given
// to Connect, and the service node) and every peer that was connected when
// the node went offline — as a device coming back reconnects to the peers it
// had, rather than waiting for them to find it: until a peer is connected
// directly again, its packets reach the node only through the relay mesh,
// which needs a heartbeat to take the node back. It returns once the dials
// are done; their errors are returned together, but the node is online
// either way and keeps redialling the kept peers.
func (t *Transport) GoOnline(ctx context.Context) error {
	if t.closed.Load() {
		return ErrClosed
	}
	t.offline.Store(false)
	t.logger.Info("online")
	t.mu.Lock()
	infos := make([]peer.AddrInfo, 0, len(t.known)+len(t.recent))
	for _, info := range t.known {
		infos = append(infos, info)
	}
	for _, info := range t.recent {
		infos = append(infos, info)
	}
	t.recent = map[peer.ID]peer.AddrInfo{}
	t.mu.Unlock()
	errs := make([]error, len(infos))
	var wg sync.WaitGroup
	for i, info := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.dial(ctx, info)
		}()
	}
	wg.Wait()
	t.wake()
	return errors.Join(errs...)
}

// Offline reports whether GoOffline is in force.
func (t *Transport) Offline() bool { return t.offline.Load() }

func (t *Transport) dial(ctx context.Context, info peer.AddrInfo) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// We pace redials ourselves; libp2p's dial backoff would otherwise keep
	// a peer that restarted on the same address unreachable for minutes.
	ctx = network.WithForceDirectDial(ctx, "kept peer")
	if err := t.node.DialPeerWithInfo(ctx, info); err != nil {
		return fmt.Errorf("dial %s: %w", info.ID, err)
	}
	return nil
}

func (t *Transport) onConnected(_ network.Network, c network.Conn) {
	if t.offline.Load() {
		// Closing from inside the notification could re-enter the swarm.
		go func() { _ = c.Close() }()
	}
	t.wake()
}

func (t *Transport) onDisconnected(_ network.Network, c network.Conn) {
	if t.cfg.mode == Light && c.RemotePeer() == t.service {
		t.serviceLost.Store(true)
	}
	t.wake()
}

// wake asks the maintenance loop to look at the state now.
func (t *Transport) wake() {
	select {
	case t.poke <- struct{}{}:
	default:
	}
}

// maintain keeps the kept peers connected, the light client's filter
// subscription in place, and the connectivity signal current.
func (t *Transport) maintain() {
	defer t.wg.Done()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	lastDial := map[peer.ID]time.Time{}
	var dialing sync.Map
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-t.poke:
		case <-ticker.C:
		}
		if !t.offline.Load() {
			t.redial(lastDial, &dialing)
			if t.cfg.mode == Light {
				t.keepSubscribed()
			}
		} else if t.cfg.mode == Light {
			t.dropSubscription()
		}
		t.conn.set(t.online())
	}
}

func (t *Transport) redial(lastDial map[peer.ID]time.Time, dialing *sync.Map) {
	h := t.node.Host()
	t.mu.Lock()
	var due []peer.AddrInfo
	now := time.Now()
	for id, info := range t.known {
		if h.Network().Connectedness(id) == network.Connected || now.Sub(lastDial[id]) < t.cfg.redial {
			continue
		}
		if _, busy := dialing.Load(id); busy {
			continue
		}
		lastDial[id] = now
		due = append(due, info)
	}
	t.mu.Unlock()
	for _, info := range due {
		dialing.Store(info.ID, true)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer dialing.Delete(info.ID)
			if err := t.dial(t.ctx, info); err != nil {
				t.logger.Debug("redial failed", zap.Error(err))
				return
			}
			t.wake()
		}()
	}
}

func (t *Transport) online() bool {
	if t.closed.Load() || t.offline.Load() {
		return false
	}
	if t.cfg.mode == Relay {
		return len(t.node.Relay().PubSub().ListPeers(t.cfg.pubsubTopic)) > 0
	}
	t.mu.Lock()
	subscribed := t.sub != nil
	t.mu.Unlock()
	return subscribed && t.node.Host().Network().Connectedness(t.service) == network.Connected
}

// keepSubscribed (light mode) subscribes to this node's content topic on
// the service node whenever it is connected without a subscription. A
// subscription is dropped when the connection goes, since a service node
// that restarted has forgotten it; subscribing again is harmless.
func (t *Transport) keepSubscribed() {
	connected := t.node.Host().Network().Connectedness(t.service) == network.Connected
	t.mu.Lock()
	sub := t.sub
	t.mu.Unlock()
	if !connected || t.serviceLost.Swap(false) {
		t.dropSubscription()
		sub = nil
	}
	if !connected || sub != nil {
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, dialTimeout)
	defer cancel()
	subs, err := t.node.FilterLightnode().Subscribe(ctx, wakuproto.NewContentFilter(t.cfg.pubsubTopic, t.topic), filter.WithPeer(t.service))
	if err != nil || len(subs) == 0 {
		t.logger.Debug("filter subscription failed", zap.Error(err))
		for _, s := range subs {
			_ = s.Close()
		}
		return
	}
	t.mu.Lock()
	t.sub = subs[0]
	t.mu.Unlock()
	for _, s := range subs {
		t.wg.Add(1)
		go t.readFilter(s)
	}
	t.logger.Debug("subscribed through the service node", zap.Stringer("service", t.service))
}

func (t *Transport) dropSubscription() {
	t.mu.Lock()
	sub := t.sub
	t.sub = nil
	t.mu.Unlock()
	if sub != nil {
		// Local only: the service node is gone or will be told again.
		_ = sub.Close()
	}
}

func (t *Transport) readFilter(s *subscription.SubscriptionDetails) {
	defer t.wg.Done()
	for {
		select {
		case <-t.ctx.Done():
			return
		case env, ok := <-s.C:
			if !ok {
				return
			}
			t.receive(env.Message())
		case _, ok := <-s.Closing:
			if !ok {
				return
			}
			// go-waku's health check lost the service node: subscribe
			// again at the next look.
			t.mu.Lock()
			if t.sub == s {
				t.sub = nil
			}
			t.mu.Unlock()
			_ = s.Close()
			t.wake()
			return
		}
	}
}
