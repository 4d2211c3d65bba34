package netfault

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Caps is what this machine offers for kernel faults.
type Caps struct {
	Root     bool // effective uid 0: namespaces, links, qdiscs and filters need it
	IP, TC   bool // iproute2's ip and tc
	NFT      bool // nftables: partitions, loss (numgen random)
	IPTables bool // iptables with the NFQUEUE target: the userspace delayer's hook
	// Netem: `tc qdisc add … netem` works (CONFIG_NET_SCH_NETEM). When it
	// does, delay, jitter, loss, duplication, reordering and rate all come
	// from netem; otherwise from the fallbacks.
	Netem bool
	// NetemError is what tc answered when netem was refused.
	NetemError string
}

// Usable says why kernel faults cannot be made here, or nil when they can.
func (c Caps) Usable() error {
	if !c.Root {
		return fmt.Errorf("needs root (network namespaces, veth, qdiscs and packet filters need CAP_NET_ADMIN and CAP_SYS_ADMIN); running as uid %d", os.Geteuid())
	}
	var missing []string
	for _, t := range []struct {
		ok   bool
		name string
	}{{c.IP, "ip (iproute2)"}, {c.TC, "tc (iproute2)"}, {c.NFT, "nft (nftables)"}, {c.IPTables, "iptables"}} {
		if !t.ok {
			missing = append(missing, t.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (Debian: apt-get install iproute2 nftables iptables)", strings.Join(missing, ", "))
	}
	return nil
}

// String is the capabilities in one line, for the report.
func (c Caps) String() string {
	if err := c.Usable(); err != nil {
		return "kernel faults unavailable: " + err.Error()
	}
	if c.Netem {
		return "netem present: delay, jitter, loss, duplicate, reorder and rate by netem"
	}
	return "no netem in this kernel (" + c.NetemError + "): delay and jitter by the NFQUEUE delayer, loss by nftables numgen, rate by htb"
}

// Detect looks at the machine: who runs, which tools exist, and whether the
// kernel has netem, tried in a throwaway namespace so nothing real is
// touched.
// RequiredEnv, when set (CI sets it), makes the tests that need kernel
// faults fail instead of skipping where Usable says they cannot be made.
const RequiredEnv = "MVDSQA_NETNS_REQUIRED"

// Required reports whether RequiredEnv is set.
func Required() bool { return os.Getenv(RequiredEnv) != "" }

func Detect(ctx context.Context) Caps {
	c := Caps{Root: os.Geteuid() == 0}
	look := func(name string) bool { _, err := exec.LookPath(name); return err == nil }
	c.IP, c.TC, c.NFT, c.IPTables = look("ip"), look("tc"), look("nft"), look("iptables")
	if c.Usable() != nil {
		return c
	}
	probe := fmt.Sprintf("%s%d-probe", Prefix, os.Getpid())
	if err := addNetns(ctx, probe); err != nil {
		c.NetemError = err.Error()
		return c
	}
	defer func() { _ = delNetns(context.WithoutCancel(ctx), probe) }()
	err := command(ctx, "", "tc", "-n", probe, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
	c.Netem = err == nil
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		c.NetemError = "tc: " + msg
	}
	return c
}
