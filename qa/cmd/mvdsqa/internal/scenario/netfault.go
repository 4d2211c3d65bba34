package scenario

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
)

// Steps that act on the kernel's network: they need the runner's -netns
// mode, which puts every node it starts in a network namespace of its own.
const (
	// StepNetem shapes what a node sends (node) or what two nodes send each
	// other (link): delay, jitter, loss, duplicate, reorder, rate — netem's
	// terms, made by netem where the kernel has it. With For the shape is
	// cleared after that long; a netem step with no shape clears it.
	StepNetem StepKind = "netem"
	// StepLinkDown takes the node's link down (then up again after For).
	StepLinkDown StepKind = "link_down"
	// StepLinkUp brings it up.
	StepLinkUp StepKind = "link_up"
	// StepIPChange gives the node a new address: its connections die, its
	// peers are told the new one.
	StepIPChange StepKind = "ip_change"
	// StepPause freezes a process node with SIGSTOP for For, then continues
	// it with SIGCONT; unlike sleep, its clock does not jump (a stalled
	// process, not a suspended machine). It needs no namespaces.
	StepPause StepKind = "pause"
)

// Kernel reports whether the step, or a step inside it, needs -netns.
func (st Step) Kernel() (Step, bool) {
	switch st.Kind {
	case StepNetem, StepLinkDown, StepLinkUp, StepIPChange:
		return st, true
	case StepParallel:
		for _, sub := range st.Parallel {
			if k, ok := sub.Kernel(); ok {
				return k, true
			}
		}
	}
	return Step{}, false
}

// NeedsNetns returns the first step that needs -netns, if any.
func (s *Scenario) NeedsNetns() (Step, bool) {
	for _, st := range s.Steps {
		if k, ok := st.Kernel(); ok {
			return k, true
		}
	}
	return Step{}, false
}

func (c *checker) kernelStep(st *Step, body *yaml.Node) {
	what := string(st.Kind)
	switch st.Kind {
	case StepLinkUp, StepIPChange:
		st.Node = c.node(body, what)
		c.local(body, what, st.Node)
	case StepLinkDown, StepPause:
		var mapped bool
		st.Node, st.For, mapped = c.nodeFor(body, what, st.Kind == StepLinkDown)
		if mapped && (st.Node == "" || (st.Kind == StepPause && st.For == 0)) {
			c.p.errorf(body, "%s: needs node%s", what, map[bool]string{true: " and for", false: ""}[st.Kind == StepPause])
		}
		c.local(body, what, st.Node)
	case StepNetem:
		c.netem(st, body)
	}
}

func (c *checker) netem(st *Step, body *yaml.Node) {
	fields, ok := c.p.mapping(body, "netem", "node", "link", "delay", "jitter", "loss", "duplicate", "reorder", "rate", "for")
	if !ok {
		return
	}
	var sh netfault.Shape
	for _, f := range fields {
		what := "netem." + f.key.Value
		switch f.key.Value {
		case "node":
			st.Node = c.node(f.val, what)
			c.local(f.val, what, st.Node)
		case "link":
			names, ok := c.p.names(f.val, what)
			if !ok {
				break
			}
			if len(names) != 2 || names[0] == names[1] {
				c.p.errorf(f.val, "%s: name two different nodes, [a, b]", what)
				break
			}
			for _, nm := range names {
				if c.nodes[nm] == nil {
					c.p.errorf(f.val, "%s: no node named %q", what, short(nm))
				}
				c.local(f.val, what, nm)
			}
			st.Pair = [2]string{names[0], names[1]}
		case "delay", "jitter":
			d, ok := c.p.str(f.val, what)
			if !ok {
				break
			}
			v, err := time.ParseDuration(d)
			if err != nil {
				c.p.errorf(f.val, "%s: %q is not a duration (write 100ms, 1s)", what, short(d))
				break
			}
			if f.key.Value == "delay" {
				sh.Delay = v
			} else {
				sh.Jitter = v
			}
		case "loss", "duplicate", "reorder":
			s, ok := c.p.str(f.val, what)
			if !ok {
				break
			}
			v, err := netfault.ParsePercent(s)
			if err != nil {
				c.p.errorf(f.val, "%s: %v", what, err)
				break
			}
			*map[string]*float64{"loss": &sh.Loss, "duplicate": &sh.Duplicate, "reorder": &sh.Reorder}[f.key.Value] = v
		case "rate":
			s, ok := c.p.str(f.val, what)
			if !ok {
				break
			}
			v, err := netfault.ParseRate(s)
			if err != nil {
				c.p.errorf(f.val, "%s: %v", what, err)
				break
			}
			sh.Rate = v
		case "for":
			st.For, _ = c.p.duration(f.val, what, false)
		}
	}
	if (st.Node == "") == (st.Pair[0] == "") {
		c.p.errorf(body, "netem: name node (what it sends) or link ([a, b]: what they send each other), one of them")
	}
	if err := sh.Validate(); err != nil {
		c.p.errorf(body, "netem: %v", err)
	}
	if st.For > 0 && sh.IsZero() {
		c.p.errorf(body, "netem: for needs a shape to clear afterwards")
	}
	st.Shape = sh
}

// nodeFor reads a step that names a node and may say for how long: a bare
// node name (when scalar is allowed) or {node, for}. mapped is set when the
// body was read as {node, for}, which the caller checks for completeness; a
// body of another shape is reported by the reader it reached.
func (c *checker) nodeFor(body *yaml.Node, what string, scalar bool) (node string, d time.Duration, mapped bool) {
	if scalar && body.Kind == yaml.ScalarNode {
		return c.node(body, what), 0, false
	}
	fields, ok := c.p.mapping(body, what, "node", "for")
	if !ok {
		return "", 0, false
	}
	for _, f := range fields {
		switch f.key.Value {
		case "node":
			node = c.node(f.val, what+".node")
		case "for":
			d, _ = c.p.duration(f.val, what+".for", false)
		}
	}
	return node, d, true
}
