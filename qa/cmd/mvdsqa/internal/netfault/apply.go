package netfault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// apply rebuilds every fault of the host from its wanted state: the
// nftables table, the NFQUEUE rules and their delayers, and the qdiscs of
// both ends of its link. Rebuilding the whole, rather than editing, keeps
// what the kernel does equal to what the host records.
func (h *Host) apply(ctx context.Context) error {
	h.mu.Lock()
	blocked := make([]*Host, 0, len(h.blocked))
	for o := range h.blocked {
		blocked = append(blocked, o)
	}
	var targets []peerShape // links first, in host order, then the node-wide one
	for o, s := range h.egress {
		if o != nil {
			targets = append(targets, peerShape{o, s})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].peer.idx < targets[j].peer.idx })
	if s, ok := h.egress[nil]; ok {
		targets = append(targets, peerShape{nil, s})
	}
	ingress := h.ingress
	h.mu.Unlock()
	sort.Slice(blocked, func(i, j int) bool { return blocked[i].idx < blocked[j].idx })

	caps := h.lab.caps
	// nftables: partitions, and loss where netem does not make it.
	var in, out []string
	for _, o := range blocked {
		in = append(in, fmt.Sprintf("iifname %q ip saddr %s drop", hostDev, o.IP()))
		out = append(out, fmt.Sprintf("oifname %q ip daddr %s drop", hostDev, o.IP()))
	}
	if !caps.Netem {
		for _, t := range targets {
			if t.shape.Loss == 0 {
				continue
			}
			match := fmt.Sprintf("oifname %q ", hostDev)
			if t.peer != nil {
				match += "ip daddr " + t.peer.IP().String() + " "
			}
			out = append(out, fmt.Sprintf("%snumgen random mod 1000000 < %d drop", match, int(t.shape.Loss*10000)))
		}
	}
	script := "table inet mvdsqa\ndelete table inet mvdsqa\ntable inet mvdsqa {\n" +
		"  chain in { type filter hook input priority 0; policy accept;\n" + lines(in) + "  }\n" +
		"  chain out { type filter hook output priority 0; policy accept;\n" + lines(out) + "  }\n}\n"
	if err := command(ctx, script, "ip", "netns", "exec", h.ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}

	// Delay without netem: NFQUEUE rules and their delayers.
	h.stopDelayers()
	if err := command(ctx, "", "ip", "netns", "exec", h.ns, "iptables", "-w", "-t", "mangle", "-F"); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if !caps.Netem {
		var started []*delayer
		var errs []error
		queue := func(q uint16, s Shape, rule ...string) {
			d, err := startDelayer(h.ns, q, s.Delay, s.Jitter)
			if err != nil {
				errs = append(errs, err)
				return
			}
			started = append(started, d)
			args := append([]string{"netns", "exec", h.ns, "iptables", "-w", "-t", "mangle"}, rule...)
			args = append(args, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(q)), "--queue-bypass")
			if err := command(ctx, "", "ip", args...); err != nil {
				errs = append(errs, err)
			}
		}
		for i, t := range targets {
			if t.shape.Delay == 0 {
				continue
			}
			rule := []string{"-A", "OUTPUT", "-o", hostDev}
			if t.peer != nil {
				rule = append(rule, "-d", t.peer.IP().String())
			}
			queue(uint16(i), t.shape, rule...)
		}
		if ingress.Delay > 0 {
			queue(1000, ingress, "-A", "PREROUTING", "-i", hostDev)
		}
		h.mu.Lock()
		h.delayers = started
		h.mu.Unlock()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
	}

	// qdiscs: the host's sending on eth0, its receiving on the bridge's end.
	if err := h.egressQdisc(ctx, targets); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if caps.Netem {
		_ = command(ctx, "", "tc", "-n", h.lab.bridge, "qdisc", "del", "dev", h.port, "root")
		if ingress.Delay > 0 {
			args := append([]string{"-n", h.lab.bridge, "qdisc", "add", "dev", h.port, "root", "netem"}, ingress.netemArgs(false)...)
			if err := command(ctx, "", "tc", args...); err != nil {
				return fmt.Errorf("host %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// peerShape is a shape for the packets to one peer, or to all (nil).
type peerShape struct {
	peer  *Host
	shape Shape
}

// egressQdisc builds the qdiscs of the host's eth0. With netem, the whole of
// a node-wide shape is one netem qdisc; shapes per link are htb classes,
// chosen by a u32 filter on the peer's address, with netem below. Without
// netem only rates are qdiscs: tbf for a node-wide rate, htb classes per
// link.
func (h *Host) egressQdisc(ctx context.Context, targets []peerShape) error {
	tc := func(args ...string) error { return command(ctx, "", "tc", append([]string{"-n", h.ns}, args...)...) }
	_ = tc("qdisc", "del", "dev", hostDev, "root")
	netem := h.lab.caps.Netem
	var links []peerShape
	var node *Shape
	for i := range targets {
		if targets[i].peer == nil {
			node = &targets[i].shape
		} else if netem || targets[i].shape.Rate > 0 {
			links = append(links, targets[i])
		}
	}
	if len(links) == 0 {
		switch {
		case node == nil:
			return nil
		case netem:
			return tc(append([]string{"qdisc", "add", "dev", hostDev, "root", "netem"}, node.netemArgs(true)...)...)
		case node.Rate > 0:
			return tc("qdisc", "add", "dev", hostDev, "root", "tbf", "rate", FormatRate(node.Rate), "burst", "1600", "limit", "30000")
		}
		return nil
	}
	const unlimited = "10gbit"
	if err := tc("qdisc", "add", "dev", hostDev, "root", "handle", "1:", "htb", "default", "1"); err != nil {
		return err
	}
	class := func(id int, s *Shape) error {
		rate := unlimited
		if s != nil && s.Rate > 0 {
			rate = FormatRate(s.Rate)
		}
		cid := "1:" + strconv.Itoa(id)
		if err := tc("class", "add", "dev", hostDev, "parent", "1:", "classid", cid, "htb", "rate", rate, "ceil", rate, "burst", "1600"); err != nil {
			return err
		}
		if netem && s != nil {
			args := append([]string{"qdisc", "add", "dev", hostDev, "parent", cid, "handle", strconv.Itoa(id+10) + ":", "netem"}, s.netemArgs(false)...)
			return tc(args...)
		}
		return nil
	}
	if err := class(1, node); err != nil {
		return err
	}
	for i, l := range links {
		id := i + 2
		if err := class(id, &l.shape); err != nil {
			return err
		}
		if err := tc("filter", "add", "dev", hostDev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
			"match", "ip", "dst", l.peer.IP().String()+"/32", "flowid", "1:"+strconv.Itoa(id)); err != nil {
			return err
		}
	}
	return nil
}

func lines(rules []string) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString("    " + r + "\n")
	}
	return b.String()
}

func (h *Host) stopDelayers() {
	h.mu.Lock()
	ds := h.delayers
	h.delayers = nil
	h.mu.Unlock()
	for _, d := range ds {
		d.close()
	}
}
