package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// The -netns mode: every node the runner starts runs as a process in a
// network namespace of its own (package netfault), and faults are the
// kernel's. The runner reaches each node's API on its namespace's loopback,
// which no fault touches; the nodes reach each other over their links.

// FaultResult is one fault a step made, and what made it.
type FaultResult struct {
	Line      int    `json:"line"`
	Step      string `json:"step"`
	Target    string `json:"target"`
	Fault     string `json:"fault"`
	Mechanism string `json:"mechanism"`
}

var (
	capsOnce sync.Once
	caps     netfault.Caps
)

// NetnsCaps detects, once per process, what the kernel offers for -netns.
func NetnsCaps(ctx context.Context) netfault.Caps {
	capsOnce.Do(func() { caps = netfault.Detect(ctx) })
	return caps
}

// CheckNetns says why a scenario cannot run as asked: a step that needs the
// kernel without -netns, or -netns on a machine that cannot make kernel
// faults, or a step whose fault this kernel has no mechanism for. Each
// problem names the scenario's file and line.
func CheckNetns(ctx context.Context, s *scenario.Scenario, netns bool) error {
	st, needs := s.NeedsNetns()
	if !netns {
		if needs {
			return fmt.Errorf("%s:%d: %s: a kernel fault; run with -netns (as root)", s.File, st.Line, st.Kind)
		}
		return nil
	}
	c := NetnsCaps(ctx)
	if err := c.Usable(); err != nil {
		line := 1
		if needs {
			line = st.Line
		}
		return fmt.Errorf("%s:%d: -netns: %w", s.File, line, err)
	}
	var problems []string
	walkSteps(s.Steps, func(st scenario.Step) {
		if st.Kind == scenario.StepNetem && st.Shape.NeedsNetem() && !c.Netem {
			problems = append(problems, fmt.Sprintf("%s:%d: netem: %s: duplicate and reorder need netem, which this kernel lacks (%s)", s.File, st.Line, st.Shape, c.NetemError))
		}
	})
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

func walkSteps(steps []scenario.Step, fn func(scenario.Step)) {
	for _, st := range steps {
		fn(st)
		walkSteps(st.Parallel, fn)
	}
}

// openLab removes what killed runs left behind and makes this run's lab.
func (r *run) openLab(ctx context.Context) error {
	if err := CheckNetns(ctx, r.s, true); err != nil {
		return err
	}
	if removed, err := netfault.Sweep(ctx); err != nil {
		r.progress("leftovers of earlier runs: %v", err)
	} else if len(removed) > 0 {
		r.progress("removed %d namespaces left by earlier runs: %s", len(removed), strings.Join(removed, ", "))
	}
	lab, err := netfault.NewLab(ctx, NetnsCaps(ctx), nil)
	if err != nil {
		return err
	}
	r.lab = lab
	return nil
}

func (r *run) closeLab() {
	if r.lab == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.lab.Close(ctx); err != nil {
		r.progress("cleanup: %v", err)
	}
}

func (r *run) recordFault(st scenario.Step, target, fault, mechanism string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kfaults = append(r.kfaults, FaultResult{Line: st.Line, Step: string(st.Kind), Target: target, Fault: fault, Mechanism: mechanism})
}

func (r *run) faultResults() []FaultResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]FaultResult(nil), r.kfaults...)
}

func (r *run) hostOf(n *node) (*netfault.Host, error) {
	if n.host == nil {
		return nil, fmt.Errorf("node %s has no namespace (a remote node): kernel faults need a node the runner starts with -netns", n.spec.Name)
	}
	return n.host, nil
}

// kernelStep performs the steps only -netns can.
func (r *run) kernelStep(ctx context.Context, st scenario.Step) error {
	switch st.Kind {
	case scenario.StepPause:
		n := r.byName[st.Node]
		if err := n.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		r.recordFault(st, st.Node, "paused for "+st.For.String(), "SIGSTOP, then SIGCONT")
		err := sleep(ctx, st.For)
		if cerr := n.signal(syscall.SIGCONT); err == nil {
			err = cerr
		}
		return err
	case scenario.StepLinkDown, scenario.StepLinkUp:
		n := r.byName[st.Node]
		up := st.Kind == scenario.StepLinkUp
		if err := r.setLink(ctx, st, n, up); err != nil {
			return err
		}
		if up || st.For == 0 {
			return nil
		}
		if err := sleep(ctx, st.For); err != nil {
			return err
		}
		return r.setLink(ctx, st, n, true)
	case scenario.StepIPChange:
		return r.changeIP(ctx, st)
	case scenario.StepNetem:
		if err := r.shape(ctx, st, st.Shape); err != nil {
			return err
		}
		if st.For == 0 {
			return nil
		}
		if err := sleep(ctx, st.For); err != nil {
			return err
		}
		return r.shape(ctx, st, netfault.Shape{})
	}
	return fmt.Errorf("unknown step %q", st.Kind)
}

func (r *run) setLink(ctx context.Context, st scenario.Step, n *node, up bool) error {
	h, err := r.hostOf(n)
	if err != nil {
		return err
	}
	if err := h.SetLink(ctx, up); err != nil {
		return err
	}
	state := map[bool]string{true: "link up", false: "link down"}[up]
	r.recordFault(st, n.spec.Name, state, "ip link set eth0 "+state[5:])
	return nil
}

func (r *run) shape(ctx context.Context, st scenario.Step, sh netfault.Shape) error {
	if st.Node != "" {
		h, err := r.hostOf(r.byName[st.Node])
		if err != nil {
			return err
		}
		mech, err := h.Shape(ctx, nil, sh)
		if err != nil {
			return err
		}
		r.recordShape(st, st.Node+" (everything it sends)", sh, mech)
		return nil
	}
	a, err := r.hostOf(r.byName[st.Pair[0]])
	if err != nil {
		return err
	}
	b, err := r.hostOf(r.byName[st.Pair[1]])
	if err != nil {
		return err
	}
	mech, err := a.Shape(ctx, b, sh)
	if err != nil {
		return err
	}
	if _, err := b.Shape(ctx, a, sh); err != nil {
		return err
	}
	r.recordShape(st, fmt.Sprintf("link %s–%s (both ways)", st.Pair[0], st.Pair[1]), sh, mech)
	return nil
}

func (r *run) recordShape(st scenario.Step, target string, sh netfault.Shape, mech []string) {
	if sh.IsZero() {
		r.recordFault(st, target, "cleared", "the same mechanisms, removed")
		return
	}
	for _, m := range mech {
		fault, how, _ := strings.Cut(m, ": ")
		r.recordFault(st, target, fault, how)
	}
}

// changeIP gives a node a new address and tells the others, as a
// discovery service would: they drop their connections to the old address,
// and those that dial the node dial the new one.
func (r *run) changeIP(ctx context.Context, st scenario.Step) error {
	n := r.byName[st.Node]
	h, err := r.hostOf(n)
	if err != nil {
		return err
	}
	old, now, err := h.ChangeIP(ctx)
	if err != nil {
		return err
	}
	r.recordFault(st, n.spec.Name, fmt.Sprintf("address %s → %s", old, now), "ip addr del, ip addr add; its sockets on the old address aborted (ss -K)")
	// The others close what they hold to the old address — left alone, a
	// connection to an address that is gone lives until its keepalive gives
	// up, half a minute or more, and pubsub keeps writing into it.
	for _, o := range r.nodes {
		if o == n || !o.running() {
			continue
		}
		if err := o.client.Disconnect(ctx, n.info.PeerID); err != nil {
			return fmt.Errorf("%s: drop %s's old address: %w", o.spec.Name, n.spec.Name, err)
		}
	}
	if err := r.connect(ctx, n); err != nil {
		return err
	}
	for _, o := range r.nodes {
		if o == n || !o.running() {
			continue
		}
		for _, p := range r.peersOf(o) {
			if p != n {
				continue
			}
			if err := dial(ctx, o, n, "new address"); err != nil {
				return err
			}
		}
	}
	return nil
}

// netnsOnline is offline and online under -netns: the link goes down or up.
func (r *run) netnsOnline(ctx context.Context, st scenario.Step, n *node, online bool) error {
	if err := r.setLink(ctx, st, n, online); err != nil {
		return err
	}
	if online {
		return waitOnline(ctx, n)
	}
	return nil
}

// netnsPartition is partition and heal under -netns: packet filters.
func (r *run) netnsPartition(ctx context.Context, st scenario.Step) error {
	cut := st.Kind == scenario.StepPartition
	pairs := [][2]*node{{r.byName[st.Pair[0]], r.byName[st.Pair[1]]}}
	if st.All {
		pairs = nil
		r.faults.Lock()
		for k := range r.netParted {
			pairs = append(pairs, k)
		}
		r.faults.Unlock()
	}
	for _, p := range pairs {
		a, err := r.hostOf(p[0])
		if err != nil {
			return err
		}
		b, err := r.hostOf(p[1])
		if err != nil {
			return err
		}
		mech, err := a.Partition(ctx, b, cut)
		if err != nil {
			return err
		}
		r.faults.Lock()
		if cut {
			r.netParted[p] = true
		} else {
			delete(r.netParted, p)
			delete(r.netParted, [2]*node{p[1], p[0]})
		}
		r.faults.Unlock()
		r.recordFault(st, p[0].spec.Name+"–"+p[1].spec.Name, string(st.Kind), mech)
	}
	return nil
}

// netnsLatency is the latency step under -netns: every packet the node
// receives waits.
func (r *run) netnsLatency(ctx context.Context, st scenario.Step, n *node) error {
	h, err := r.hostOf(n)
	if err != nil {
		return err
	}
	mech, err := h.SetIngressDelay(ctx, st.Delay)
	if err != nil {
		return err
	}
	r.recordFault(st, n.spec.Name+" (everything it receives)", "delay "+st.Delay.String(), mech)
	return nil
}

// writeFaults prints, under a -netns run's verdict, what the kernel offered
// and which mechanism made each fault.
func writeFaults(w io.Writer, r *Result) {
	if r.Network == "" {
		return
	}
	fmt.Fprintf(w, "      network: %s\n", r.Network)
	for _, f := range r.Faults {
		fmt.Fprintf(w, "      fault %s:%d %s %s: %s — %s\n", r.File, f.Line, f.Step, f.Target, f.Fault, f.Mechanism)
	}
}
