package netfault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Addresses: every lab uses 10.213.0.0/16 on a bridge in a namespace of its
// own, with no route anywhere else, so labs never see each other or the
// machine's network. Hosts get 10.213.0.2, 10.213.0.3, …; an address change
// takes the next unused one.
const (
	subnetPrefix = "10.213."
	subnetBits   = 16
	maxAddrs     = 250 * 250
	// Device names inside the namespaces.
	hostDev   = "eth0"
	bridgeDev = "br0"
)

var labSeq atomic.Int64

// Lab is one run's network: a bridge namespace and a namespace per host.
type Lab struct {
	caps   Caps
	prefix string
	bridge string // the bridge namespace
	logger *zap.Logger

	mu     sync.Mutex
	hosts  []*Host
	nextIP int
	closed bool
}

// NewLab makes a lab's bridge. caps must be usable (Detect, Caps.Usable).
func NewLab(ctx context.Context, caps Caps, logger *zap.Logger) (*Lab, error) {
	if err := caps.Usable(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	prefix := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), labSeq.Add(1))
	l := &Lab{caps: caps, prefix: prefix, bridge: prefix + "-br", logger: logger.Named("netfault")}
	if err := addNetns(ctx, l.bridge); err != nil {
		_ = delNetns(context.WithoutCancel(ctx), l.bridge)
		return nil, fmt.Errorf("lab bridge: %w", err)
	}
	for _, args := range [][]string{
		{"-n", l.bridge, "link", "add", bridgeDev, "type", "bridge"},
		{"-n", l.bridge, "link", "set", bridgeDev, "up"},
	} {
		if err := command(ctx, "", "ip", args...); err != nil {
			_ = delNetns(context.WithoutCancel(ctx), l.bridge)
			return nil, fmt.Errorf("lab bridge: %w", err)
		}
	}
	return l, nil
}

// Caps is what the lab's kernel offers.
func (l *Lab) Caps() Caps { return l.caps }

// Namespaces lists the lab's namespaces.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []string{l.bridge}
	for _, h := range l.hosts {
		out = append(out, h.ns)
	}
	return out
}

func (l *Lab) allocIP() (net.IP, error) {
	if l.nextIP >= maxAddrs {
		return nil, errors.New("lab: out of addresses")
	}
	i := l.nextIP + 2
	l.nextIP++
	return net.ParseIP(subnetPrefix + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+2)), nil
}

// AddHost makes a namespace for a host, joined to the bridge by a veth
// pair: eth0 inside, v<n> on the bridge.
func (l *Lab) AddHost(ctx context.Context, name string) (*Host, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("lab closed")
	}
	idx := len(l.hosts)
	ip, err := l.allocIP()
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	h := &Host{lab: l, Name: name, idx: idx, ns: fmt.Sprintf("%s-h%d", l.prefix, idx), port: "v" + strconv.Itoa(idx),
		ip: ip, up: true, blocked: map[*Host]bool{}, egress: map[*Host]Shape{}}
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if err := addNetns(ctx, h.ns); err != nil {
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	for _, args := range [][]string{
		{"-n", l.bridge, "link", "add", h.port, "type", "veth", "peer", "name", hostDev, "netns", h.ns},
		{"-n", l.bridge, "link", "set", h.port, "master", bridgeDev},
		{"-n", l.bridge, "link", "set", h.port, "up"},
		{"-n", h.ns, "addr", "add", ip.String() + "/" + strconv.Itoa(subnetBits), "dev", hostDev},
		{"-n", h.ns, "link", "set", hostDev, "up"},
	} {
		if err := command(ctx, "", "ip", args...); err != nil {
			return nil, fmt.Errorf("host %s: %w", name, err)
		}
	}
	return h, nil
}

// Close stops every delayer and removes every namespace of the lab, with
// any process still in one.
func (l *Lab) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	hosts := append([]*Host(nil), l.hosts...)
	l.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		h.stopDelayers()
		if err := delNetns(ctx, h.ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := delNetns(ctx, l.bridge); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Host is one namespace of a lab: the network of one node.
type Host struct {
	lab  *Lab
	Name string
	idx  int
	ns   string
	port string // its veth's end on the bridge

	mu       sync.Mutex
	ip       net.IP
	up       bool
	blocked  map[*Host]bool  // partitioned from
	egress   map[*Host]Shape // nil key: everything it sends
	ingress  Shape           // everything it receives (the latency step)
	delayers []*delayer
}

// Netns is the host's namespace name.
func (h *Host) Netns() string { return h.ns }

// IP is the host's current address.
func (h *Host) IP() net.IP {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ip
}

// Wrap turns a command line into one that runs inside the host's namespace.
func (h *Host) Wrap(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", h.ns}, argv...)
}

// DialContext dials from inside the host's namespace (a node's API on its
// loopback), for an http.Transport.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return dialIn(ctx, h.ns, network, addr)
}

// SetLink takes the host's link down or brings it up: the carrier goes, as
// when a cable is pulled; connections stay open until their timeouts.
func (h *Host) SetLink(ctx context.Context, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := command(ctx, "", "ip", "-n", h.ns, "link", "set", hostDev, state); err != nil {
		return err
	}
	h.mu.Lock()
	h.up = up
	h.mu.Unlock()
	return nil
}

// ChangeIP gives the host a new address, dropping the old one and aborting
// the host's connections on it; peers must find it again.
func (h *Host) ChangeIP(ctx context.Context) (old, new net.IP, err error) {
	h.lab.mu.Lock()
	ip, err := h.lab.allocIP()
	h.lab.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	old = h.ip
	h.mu.Unlock()
	// The old address goes first: deleting a primary address takes the
	// secondaries of its subnet with it.
	for _, args := range [][]string{
		{"-n", h.ns, "addr", "del", old.String() + "/" + strconv.Itoa(subnetBits), "dev", hostDev},
		{"-n", h.ns, "addr", "add", ip.String() + "/" + strconv.Itoa(subnetBits), "dev", hostDev},
	} {
		if err := command(ctx, "", "ip", args...); err != nil {
			return nil, nil, err
		}
	}
	// The node's sockets on the old address are aborted, as a phone's OS
	// does on a network change; left alone they would hang until their
	// keepalives gave up. Its peers' sockets to the old address are not:
	// they learn as a remote peer does, by timing out.
	if err := command(ctx, "", "ip", "netns", "exec", h.ns, "ss", "-K", "src", old.String()); err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	h.ip = ip
	h.mu.Unlock()
	// Rules elsewhere name hosts by address: rebuild them all.
	return old, ip, h.lab.applyAll(ctx)
}

func (l *Lab) applyAll(ctx context.Context) error {
	l.mu.Lock()
	hosts := append([]*Host(nil), l.hosts...)
	l.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		if err := h.apply(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Partition cuts the host off from other, both ways, with packet filters in
// both namespaces (or heals that cut). Links and connections stay up.
func (h *Host) Partition(ctx context.Context, other *Host, cut bool) (string, error) {
	for _, p := range [][2]*Host{{h, other}, {other, h}} {
		p[0].mu.Lock()
		if cut {
			p[0].blocked[p[1]] = true
		} else {
			delete(p[0].blocked, p[1])
		}
		p[0].mu.Unlock()
		if err := p[0].apply(ctx); err != nil {
			return "", err
		}
	}
	return "nftables drop rules in both namespaces", nil
}

// Shape sets what the host's sending does to packets — to other, or to
// every destination when other is nil — and returns which mechanism makes
// each part of it.
func (h *Host) Shape(ctx context.Context, other *Host, s Shape) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.NeedsNetem() && !h.lab.caps.Netem {
		return nil, fmt.Errorf("%s: duplicate and reorder need netem, which this kernel lacks (%s); there is no fallback for them", s, h.lab.caps.NetemError)
	}
	h.mu.Lock()
	if s.IsZero() {
		delete(h.egress, other)
	} else {
		h.egress[other] = s
	}
	h.mu.Unlock()
	if err := h.apply(ctx); err != nil {
		return nil, err
	}
	return h.lab.caps.mechanisms(s, other != nil), nil
}

// SetIngressDelay holds back every packet the host receives by d (the
// latency step: acknowledgements included). 0 clears it.
func (h *Host) SetIngressDelay(ctx context.Context, d time.Duration) (string, error) {
	h.mu.Lock()
	h.ingress = Shape{Delay: d}
	h.mu.Unlock()
	if err := h.apply(ctx); err != nil {
		return "", err
	}
	if h.lab.caps.Netem {
		return "netem on the bridge's end of its link", nil
	}
	return "NFQUEUE delayer on its incoming packets", nil
}

// mechanisms says which mechanism makes each part of a shape.
func (c Caps) mechanisms(s Shape, link bool) []string {
	var out []string
	add := func(what, how string) { out = append(out, what+": "+how) }
	if c.Netem {
		where := "tc netem on its link"
		if link {
			where = "tc netem under an htb class with a u32 filter for the peer"
		}
		add(s.String(), where)
		return out
	}
	if s.Delay > 0 {
		d := "delay " + s.Delay.String()
		if s.Jitter > 0 {
			d += " ± " + s.Jitter.String()
		}
		add(d, "NFQUEUE delayer (iptables NFQUEUE, verdicts held in userspace; no netem)")
	}
	if s.Loss > 0 {
		add(fmt.Sprintf("loss %v%%", s.Loss), "nftables numgen random drop (no netem)")
	}
	if s.Rate > 0 {
		if link {
			add("rate "+FormatRate(s.Rate), "htb class with a u32 filter for the peer")
		} else {
			add("rate "+FormatRate(s.Rate), "tbf (an htb class when links are shaped too)")
		}
	}
	return out
}
