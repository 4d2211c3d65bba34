package wakutransport

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/multiformats/go-multiaddr"
	"github.com/waku-org/go-waku/waku/v2/protocol/relay"
	"go.uber.org/zap"
)

// Mode is how the node takes part in the Waku network.
type Mode int

const (
	// Relay: a full gossipsub relay node; packets are published to and
	// received from the relay network directly.
	Relay Mode = iota
	// Light: no relay; packets are pushed through a service node (light
	// push) and received from it (filter).
	Light
)

func (m Mode) String() string {
	if m == Light {
		return "light"
	}
	return "relay"
}

// DefaultMaxMessageSize is go-waku's relay limit on a Waku message (150 KiB):
// what a network of default nodes accepts.
const DefaultMaxMessageSize = 150 << 10

// DefaultPubsubTopic is the pubsub topic used unless WithPubsubTopic says
// otherwise: go-waku's default topic.
var DefaultPubsubTopic = relay.DefaultWakuTopic

// Option configures a Transport.
type Option func(*config) error

type config struct {
	listen      *net.TCPAddr
	mode        Mode
	serviceAddr multiaddr.Multiaddr
	serve       bool
	pushRate    float64 // light push requests a service node takes per second from one peer
	pushBurst   int
	pubsubTopic string
	maxSize     int
	perIP       int
	sendTimeout time.Duration
	redial      time.Duration
	logger      *zap.Logger
}

func defaultConfig() config {
	return config{
		listen:      &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)},
		pubsubTopic: DefaultPubsubTopic,
		maxSize:     DefaultMaxMessageSize,
		perIP:       5, // go-waku's default
		pushRate:    DefaultLightPushRate,
		pushBurst:   DefaultLightPushBurst,
		sendTimeout: 5 * time.Second,
		redial:      2 * time.Second,
		logger:      zap.NewNop(),
	}
}

// WithListenAddress sets the TCP address the node listens on, "host:port"
// (default 127.0.0.1 on a free port).
func WithListenAddress(hostport string) Option {
	return func(c *config) error {
		addr, err := net.ResolveTCPAddr("tcp", hostport)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", hostport, err)
		}
		if addr.IP == nil {
			return fmt.Errorf("listen address %q: name the interface (for example 127.0.0.1:%d)", hostport, addr.Port)
		}
		c.listen = addr
		return nil
	}
}

// WithLightMode makes the node a light client of the service node at
// serviceAddr (a multiaddr ending in /p2p/<peer id>): it publishes with
// light push and receives with filter, both through that node, which must
// run relay, light push and filter (see WithService).
func WithLightMode(serviceAddr string) Option {
	return func(c *config) error {
		ma, err := multiaddr.NewMultiaddr(serviceAddr)
		if err != nil {
			return fmt.Errorf("service node address %q: %w", serviceAddr, err)
		}
		if _, err := ma.ValueForProtocol(multiaddr.P_P2P); err != nil {
			return fmt.Errorf("service node address %q: must end in /p2p/<peer id>", serviceAddr)
		}
		c.mode, c.serviceAddr = Light, ma
		return nil
	}
}

// WithService makes a relay node serve light clients: it answers light
// push requests and filter subscriptions.
func WithService() Option {
	return func(c *config) error {
		c.serve = true
		return nil
	}
}

// DefaultLightPushRate and DefaultLightPushBurst bound the light push
// requests a service node accepts from one peer: 10 per second, in bursts
// of up to 20. go-waku's own default is 1 per second with no burst, which
// refuses a light client running status-go's 300 ms epoch most of what it
// sends — an ack and a message leave in separate epochs, and a large
// payload is split into several Waku messages.
const (
	DefaultLightPushRate  = 10
	DefaultLightPushBurst = 20
)

// WithLightPushLimit sets how many light push requests per second, in
// bursts of how many, a service node accepts from one peer (see
// DefaultLightPushRate). Only a service node uses it.
func WithLightPushLimit(perSecond float64, burst int) Option {
	return func(c *config) error {
		if perSecond <= 0 || burst < 1 {
			return fmt.Errorf("light push limit %v/s, burst %d: want a positive rate and a burst of at least 1", perSecond, burst)
		}
		c.pushRate, c.pushBurst = perSecond, burst
		return nil
	}
}

// WithPubsubTopic sets the pubsub topic packets travel on (default
// DefaultPubsubTopic). Every node that should reach another must use the same.
func WithPubsubTopic(topic string) Option {
	return func(c *config) error {
		if topic == "" {
			return errors.New("empty pubsub topic")
		}
		c.pubsubTopic = topic
		return nil
	}
}

// WithMaxMessageSize sets the largest Waku message the node sends or
// accepts (default DefaultMaxMessageSize); larger mvds payloads are split.
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n < 4<<10 || n > 16<<20 {
			return fmt.Errorf("max message size %d must be between 4 KiB and 16 MiB", n)
		}
		c.maxSize = n
		return nil
	}
}

// WithMaxConnectionsPerIP sets how many inbound connections one IP address
// may hold (go-waku's default is 5). Many nodes on one machine, as in QA on
// loopback, need more.
func WithMaxConnectionsPerIP(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("max connections per IP %d must be positive", n)
		}
		c.perIP = n
		return nil
	}
}

// WithSendTimeout bounds one publish (default 5 s). mvds sends from its epoch
// loop, so a publish that hangs would hold every later epoch.
func WithSendTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("send timeout %v must be positive", d)
		}
		c.sendTimeout = d
		return nil
	}
}

// WithRedialInterval sets how often the node redials the peers it was told to
// connect to (Connect, and the service node) while they are not connected
// (default 2 s).
func WithRedialInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("redial interval %v must be positive", d)
		}
		c.redial = d
		return nil
	}
}

// WithLogger sets the logger; the transport logs under "waku" and go-waku
// under "waku.node".
func WithLogger(l *zap.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.logger = l
		return nil
	}
}
