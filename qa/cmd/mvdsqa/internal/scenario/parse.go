package scenario

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
)

// MaxFileSize bounds a scenario file.
const MaxFileSize = 1 << 20

// maxErrors is how many problems one parse reports before it stops.
const maxErrors = 20

// Limits that keep a scenario something a machine can run.
const (
	maxTimeout  = time.Hour
	maxDuration = 30 * time.Minute
	maxCount    = 10000
	maxTimes    = 1000
	maxNodes    = 200
	maxDepth    = 4 // parallel inside parallel …
)

// DefaultTimeout bounds a scenario that names no timeout.
const DefaultTimeout = 3 * time.Minute

// Error is one problem, at a line of a file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and parses a scenario file.
func Load(file string) (*Scenario, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{File: file, Msg: "not a regular file"}
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("%d bytes; a scenario is at most %d", st.Size(), MaxFileSize)}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	return Parse(file, b)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads a scenario from data; file names it in errors. All problems
// found are returned together (up to 20), each as file:line: message.
func Parse(file string, data []byte) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("%d bytes; a scenario is at most %d", len(data), MaxFileSize)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{File: file, Line: line, Msg: "YAML: " + m[2]}
		}
		return nil, &Error{File: file, Msg: strings.Replace(msg, "yaml: ", "YAML: ", 1)}
	}
	p := &parser{file: file}
	s := p.scenario(&doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return s, nil
}

type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) > maxErrors {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "too many problems; stopping"})
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

type entry struct{ key, val *yaml.Node }

// mapping returns a mapping's entries, checking that the keys are known,
// unique strings.
func (p *parser) mapping(n *yaml.Node, what string, known ...string) ([]entry, bool) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		p.errorf(n, "%s: YAML anchors and aliases are not supported", what)
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping (key: value lines), got %s", what, kindName(n))
		return nil, false
	}
	seen := map[string]bool{}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be plain names", what)
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s: %q appears twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if len(known) > 0 && !contains(known, k.Value) {
			p.errorf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" {
			p.errorf(v, "%s: YAML anchors and aliases are not supported", what)
			continue
		}
		out = append(out, entry{k, v})
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", short(n.Value))
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s: want a value, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) duration(n *yaml.Node, what string, zeroOK bool) (time.Duration, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errorf(n, "%s: %q is not a duration (write 500ms, 10s, 2m)", what, short(s))
		return 0, false
	}
	if d < 0 || (d == 0 && !zeroOK) || d > maxDuration {
		p.errorf(n, "%s: %v must be positive and at most %v", what, d, maxDuration)
		return 0, false
	}
	return d, true
}

func (p *parser) integer(n *yaml.Node, what string, lo, hi int) (int, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		p.errorf(n, "%s: %q must be a whole number from %d to %d", what, short(s), lo, hi)
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.errorf(n, "%s: %q must be true or false", what, short(s))
	return false, false
}

// names reads one name or a list of names.
func (p *parser) names(n *yaml.Node, what string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode {
		s, ok := p.str(n, what)
		return []string{s}, ok
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a name or a list of names, got %s", what, kindName(n))
		return nil, false
	}
	var out []string
	ok := true
	for _, c := range n.Content {
		s, good := p.str(c, what)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

func (p *parser) scenario(doc *yaml.Node) *Scenario {
	s := &Scenario{File: p.file, Timeout: DefaultTimeout}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errorf(doc, "empty file: a scenario needs name, nodes and steps")
		return s
	}
	root := doc.Content[0]
	entries, ok := p.mapping(root, "scenario", "name", "description", "timeout", "policies", "nodes", "groups", "steps", "expect")
	if !ok {
		return s
	}
	var nodesN, groupsN, stepsN, expectN *yaml.Node
	for _, e := range entries {
		switch e.key.Value {
		case "name":
			s.Name, _ = p.str(e.val, "name")
		case "description":
			s.Description, _ = p.str(e.val, "description")
		case "timeout":
			if d, ok := p.duration(e.val, "timeout", false); ok {
				if d > maxTimeout {
					p.errorf(e.val, "timeout: %v is more than %v", d, maxTimeout)
				}
				s.Timeout = d
			}
		case "policies":
			s.Policies = p.policies(e.val)
		case "nodes":
			nodesN = e.val
		case "groups":
			groupsN = e.val
		case "steps":
			stepsN = e.val
		case "expect":
			expectN = e.val
		}
	}
	if s.Name == "" {
		p.errorf(root, "name: missing")
	}
	if nodesN == nil {
		p.errorf(root, "nodes: missing")
		return s
	}
	s.Nodes = p.nodes(nodesN)
	known := map[string]*Node{}
	for i := range s.Nodes {
		known[s.Nodes[i].Name] = &s.Nodes[i]
	}
	p.checkTopology(s.Nodes, known)
	if groupsN != nil {
		s.Groups = p.groups(groupsN, known)
	}
	groups := map[string]bool{}
	for _, g := range s.Groups {
		groups[g.Name] = true
	}
	if stepsN == nil {
		p.errorf(root, "steps: missing")
		return s
	}
	c := &checker{p: p, nodes: known, groups: groups, labels: map[string]int{}, ids: map[string]int{}}
	s.Steps = c.steps(stepsN, 0)
	if expectN != nil {
		s.Expect = c.expectations(expectN)
	}
	return s
}

func (p *parser) policies(n *yaml.Node) []qanode.PolicyOverride {
	entries, ok := p.mapping(n, "policies")
	if !ok {
		return nil
	}
	var out []qanode.PolicyOverride
	for _, e := range entries {
		fields, ok := p.mapping(e.val, "policies."+e.key.Value, "initial", "max", "multiplier", "attempts", "deadline", "stall")
		if !ok {
			continue
		}
		var parts []string
		for _, f := range fields {
			v, ok := p.str(f.val, "policies."+e.key.Value+"."+f.key.Value)
			if !ok {
				continue
			}
			parts = append(parts, f.key.Value+"="+v)
		}
		if len(parts) == 0 {
			p.errorf(e.val, "policies.%s: name at least one field", e.key.Value)
			continue
		}
		o, err := qanode.ParsePolicyOverride(e.key.Value + ":" + strings.Join(parts, ","))
		if err != nil {
			p.errorf(e.key, "%v", err)
			continue
		}
		out = append(out, o)
	}
	return out
}

func (p *parser) nodes(n *yaml.Node) []Node {
	entries, ok := p.mapping(n, "nodes")
	if !ok {
		return nil
	}
	if len(entries) == 0 {
		p.errorf(n, "nodes: a scenario needs at least one node")
	}
	if len(entries) > maxNodes {
		p.errorf(n, "nodes: %d nodes; at most %d", len(entries), maxNodes)
	}
	var out []Node
	for _, e := range entries {
		name := e.key.Value
		what := "nodes." + name
		if !nameRE.MatchString(name) {
			p.errorf(e.key, "%s: a node name starts with a letter and has at most 32 letters, digits, '-' or '_'", what)
		}
		nd := Node{Line: e.key.Line, Name: name, Run: InProcess}
		if e.val.Kind == yaml.ScalarNode && e.val.Tag == "!!null" {
			out = append(out, nd)
			continue
		}
		fields, ok := p.mapping(e.val, what, "run", "url", "token_env", "service", "light", "connect", "binary")
		if !ok {
			continue
		}
		for _, f := range fields {
			switch f.key.Value {
			case "run":
				v, _ := p.str(f.val, what+".run")
				switch Run(v) {
				case InProcess, Process, Remote, StatusBackend:
					nd.Run = Run(v)
				default:
					p.errorf(f.val, "%s.run: %q is not inprocess, process, remote or status-backend", what, short(v))
				}
			case "binary":
				nd.Binary, _ = p.str(f.val, what+".binary")
				if nd.Binary == "" {
					p.errorf(f.val, "%s.binary: empty path", what)
				}
			case "url":
				v, ok := p.str(f.val, what+".url")
				if u, err := url.Parse(v); ok && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
					p.errorf(f.val, "%s.url: %q is not an http(s) URL", what, short(v))
				}
				nd.URL = v
				if nd.Run == InProcess {
					nd.Run = Remote
				}
			case "token_env":
				nd.TokenEnv, _ = p.str(f.val, what+".token_env")
			case "service":
				nd.Service, _ = p.boolean(f.val, what+".service")
			case "light":
				nd.Light, _ = p.str(f.val, what+".light")
			case "connect":
				nd.Connect, _ = p.names(f.val, what+".connect")
				if nd.Connect == nil {
					nd.Connect = []string{}
				}
			}
		}
		switch {
		case nd.Run == Remote && nd.URL == "":
			p.errorf(e.key, "%s: a remote node needs url", what)
		case nd.Run != Remote && nd.Run != StatusBackend && nd.URL != "":
			p.errorf(e.key, "%s: url is for remote and status-backend nodes only", what)
		case nd.Binary != "" && nd.Run != StatusBackend:
			p.errorf(e.key, "%s: binary is for status-backend nodes only (run: status-backend)", what)
		case nd.Binary != "" && nd.URL != "":
			p.errorf(e.key, "%s: a status-backend node is started from binary or reached at url, not both", what)
		case nd.Run == StatusBackend && nd.Service:
			p.errorf(e.key, "%s: a status-backend node cannot serve light clients (status-go has no such mode)", what)
		case nd.Run == Remote && (nd.Service || nd.Light != ""):
			p.errorf(e.key, "%s: a remote node's mode is set where it runs; drop service and light", what)
		case nd.Service && nd.Light != "":
			p.errorf(e.key, "%s: a light client cannot also serve light clients", what)
		}
		if nd.TokenEnv != "" && nd.Run != Remote {
			p.errorf(e.key, "%s: token_env is for remote nodes only", what)
		}
		out = append(out, nd)
	}
	return out
}

func (p *parser) checkTopology(nodes []Node, known map[string]*Node) {
	for _, nd := range nodes {
		if nd.Light != "" {
			svc, ok := known[nd.Light]
			switch {
			case !ok:
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.light: no node named %q", nd.Name, short(nd.Light))
			case !svc.Service && svc.Run != Remote:
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.light: %s does not serve light clients (give it service: true)", nd.Name, nd.Light)
			}
		}
		for _, c := range nd.Connect {
			switch {
			case known[c] == nil:
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.connect: no node named %q", nd.Name, short(c))
			case c == nd.Name:
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.connect: a node cannot connect to itself", nd.Name)
			case nd.Light != "" && c != nd.Light:
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.connect: a light client connects only to its service node", nd.Name)
			case known[c].Light != "":
				p.errorf(&yaml.Node{Line: nd.Line}, "nodes.%s.connect: %s is a light client; relay nodes do not dial light clients", nd.Name, c)
			}
		}
	}
}

func (p *parser) groups(n *yaml.Node, known map[string]*Node) []Group {
	entries, ok := p.mapping(n, "groups")
	if !ok {
		return nil
	}
	var out []Group
	for _, e := range entries {
		what := "groups." + e.key.Value
		if !nameRE.MatchString(e.key.Value) {
			p.errorf(e.key, "%s: a group name starts with a letter and has at most 32 letters, digits, '-' or '_'", what)
		}
		members, ok := p.names(e.val, what)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for _, m := range members {
			if known[m] == nil {
				p.errorf(e.val, "%s: no node named %q", what, short(m))
			}
			if seen[m] {
				p.errorf(e.val, "%s: %s appears twice", what, m)
			}
			seen[m] = true
		}
		if len(members) < 2 {
			p.errorf(e.val, "%s: a group needs at least two members", what)
		}
		out = append(out, Group{Line: e.key.Line, Name: e.key.Value, Members: members})
	}
	return out
}

// checker validates steps and expectations against the nodes, groups,
// labels and message ids declared so far.
type checker struct {
	p      *parser
	nodes  map[string]*Node
	groups map[string]bool
	labels map[string]int
	ids    map[string]int // message id → line of its send
}

func (c *checker) node(n *yaml.Node, what string) string {
	name, ok := c.p.str(n, what)
	if ok && c.nodes[name] == nil {
		c.p.errorf(n, "%s: no node named %q", what, short(name))
	}
	return name
}

// local refuses a step the runner can do only to a node it runs: kill and
// restart (it has no process to signal or start) and sleep (it cannot
// freeze a process elsewhere, and going offline is not sleeping).
func (c *checker) local(n *yaml.Node, what, name string) {
	if nd := c.nodes[name]; nd != nil && nd.Run == Remote {
		c.p.errorf(n, "%s: %s is a remote node; the runner cannot stop, kill, restart or freeze it", what, name)
	} else if nd != nil && !nd.Owned() {
		c.p.errorf(n, "%s: %s is a status-backend the runner did not start (url); it cannot stop, kill, restart or freeze it", what, name)
	}
}

var stepKinds = []string{"send", "offline", "online", "flap", "wait", "kill", "restart", "partition", "heal", "latency",
	"clock_jump", "sleep", "connect", "disconnect", "retry", "discard", "parallel",
	"netem", "link_down", "link_up", "ip_change", "pause"}

func (c *checker) steps(n *yaml.Node, depth int) []Step {
	if n.Kind != yaml.SequenceNode {
		c.p.errorf(n, "steps: want a list of steps, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		c.p.errorf(n, "steps: the list is empty")
	}
	var out []Step
	for _, sn := range n.Content {
		if st, ok := c.step(sn, depth); ok {
			out = append(out, st)
		}
	}
	return out
}

func (c *checker) step(n *yaml.Node, depth int) (Step, bool) {
	entries, ok := c.p.mapping(n, "step", append([]string{"label", "start_after"}, stepKinds...)...)
	if !ok {
		return Step{}, false
	}
	st := Step{Line: n.Line}
	var body *yaml.Node
	for _, e := range entries {
		if e.key.Value == "label" {
			st.Label, _ = c.p.str(e.val, "label")
			if st.Label != "" && !nameRE.MatchString(st.Label) {
				c.p.errorf(e.val, "label: %q must start with a letter and have at most 32 letters, digits, '-' or '_'", short(st.Label))
			} else if st.Label != "" {
				if line, dup := c.labels[st.Label]; dup {
					c.p.errorf(e.val, "label: %q is already the label of line %d", st.Label, line)
				} else if contains([]string{AfterSend, AfterStart, AfterEnd}, st.Label) {
					c.p.errorf(e.val, "label: %q is reserved", st.Label)
				}
				c.labels[st.Label] = e.val.Line
			}
			continue
		}
		if e.key.Value == "start_after" {
			st.StartAfter, _ = c.p.duration(e.val, "start_after", false)
			continue
		}
		if st.Kind != "" {
			c.p.errorf(e.key, "step: %s and %s in one step; write two steps", st.Kind, e.key.Value)
			return st, false
		}
		st.Kind, body = StepKind(e.key.Value), e.val
	}
	if st.Kind == "" {
		c.p.errorf(n, "step: say what happens (%s)", strings.Join(stepKinds, ", "))
		return st, false
	}
	what := string(st.Kind)
	switch st.Kind {
	case StepSend:
		st.Send = c.send(body)
	case StepOnline, StepRestart:
		st.Node = c.node(body, what)
		if st.Kind == StepRestart {
			c.local(body, what, st.Node)
		}
	case StepOffline, StepKill:
		var mapped bool
		if st.Node, st.For, mapped = c.nodeFor(body, what, true); mapped && st.Node == "" {
			c.p.errorf(body, "%s: node: missing", what)
		}
		if st.Kind == StepKill {
			c.local(body, what, st.Node)
		}
	case StepWait:
		st.For, _ = c.p.duration(body, what, false)
	case StepFlap:
		st.Node, st.Down, st.Up, st.Times = c.flap(body)
	case StepPartition, StepHeal, StepConnect, StepDisconnect:
		if st.Kind == StepHeal && body.Kind == yaml.ScalarNode && body.Value == "all" {
			st.All = true
			break
		}
		names, ok := c.p.names(body, what)
		if !ok {
			break
		}
		if len(names) != 2 || names[0] == names[1] {
			c.p.errorf(body, "%s: name two different nodes, [a, b]", what)
			break
		}
		for _, nm := range names {
			if c.nodes[nm] == nil {
				c.p.errorf(body, "%s: no node named %q", what, short(nm))
			}
		}
		st.Pair = [2]string{names[0], names[1]}
	case StepLatency, StepClockJump, StepSleep:
		key := map[StepKind]string{StepLatency: "delay", StepClockJump: "by", StepSleep: "for"}[st.Kind]
		fields, ok := c.p.mapping(body, what, "node", key)
		if !ok {
			break
		}
		var set bool
		for _, f := range fields {
			if f.key.Value == "node" {
				st.Node = c.node(f.val, what+".node")
				if st.Kind == StepSleep {
					c.local(f.val, what+".node", st.Node)
				}
				continue
			}
			set = true
			d, _ := c.p.duration(f.val, what+"."+key, st.Kind == StepLatency)
			switch st.Kind {
			case StepLatency:
				st.Delay = d
			case StepClockJump:
				st.By = d
			default:
				st.For = d
			}
		}
		if st.Node == "" || !set {
			c.p.errorf(body, "%s: needs node and %s", what, key)
		}
		if st.Kind == StepLatency && st.Delay > time.Minute {
			c.p.errorf(body, "%s: %v is more than a minute", what, st.Delay)
		}
	case StepRetry, StepDiscard:
		fields, ok := c.p.mapping(body, what, "node", "message")
		if !ok {
			break
		}
		for _, f := range fields {
			if f.key.Value == "node" {
				st.Node = c.node(f.val, what+".node")
			} else {
				st.Message, _ = c.p.str(f.val, what+".message")
				if _, sent := c.ids[st.Message]; st.Message != "" && !sent {
					c.p.errorf(f.val, "%s.message: no earlier step sends %q", what, short(st.Message))
				}
			}
		}
		if st.Node == "" || st.Message == "" {
			c.p.errorf(body, "%s: needs node and message", what)
		}
	case StepNetem, StepLinkDown, StepLinkUp, StepIPChange, StepPause:
		c.kernelStep(&st, body)
	case StepParallel:
		if depth >= maxDepth {
			c.p.errorf(body, "parallel: nested more than %d deep", maxDepth)
			break
		}
		st.Parallel = c.steps(body, depth+1)
	}
	return st, true
}

func (c *checker) flap(n *yaml.Node) (node string, down, up time.Duration, times int) {
	fields, ok := c.p.mapping(n, "flap", "node", "down", "up", "times")
	if !ok {
		return
	}
	for _, f := range fields {
		switch f.key.Value {
		case "node":
			node = c.node(f.val, "flap.node")
		case "down":
			down, _ = c.p.duration(f.val, "flap.down", false)
		case "up":
			up, _ = c.p.duration(f.val, "flap.up", false)
		case "times":
			times, _ = c.p.integer(f.val, "flap.times", 1, maxTimes)
		}
	}
	if node == "" || down == 0 || up == 0 || times == 0 {
		c.p.errorf(n, "flap: needs node, down, up and times")
	}
	return
}

func (c *checker) send(n *yaml.Node) *Send {
	fields, ok := c.p.mapping(n, "send", "from", "to", "group", "id", "flow", "kind", "chat", "payload", "count", "every", "allow_failures")
	if !ok {
		return &Send{}
	}
	s := &Send{Count: 1}
	for _, f := range fields {
		what := "send." + f.key.Value
		switch f.key.Value {
		case "from":
			s.From = c.node(f.val, what)
		case "to":
			s.To = c.node(f.val, what)
		case "group":
			s.Group, _ = c.p.str(f.val, what)
			if s.Group != "" && !c.groups[s.Group] {
				c.p.errorf(f.val, "%s: no group named %q", what, short(s.Group))
			}
		case "id":
			s.ID, _ = c.p.str(f.val, what)
			if s.ID != "" && (len(s.ID) > 200 || strings.ContainsAny(s.ID, "*\n\r\x00")) {
				c.p.errorf(f.val, "%s: at most 200 characters, without '*' or line breaks", what)
			}
		case "flow":
			s.Flow, _ = c.p.str(f.val, what)
			if _, err := mvdsguard.ParseFlow(s.Flow); s.Flow != "" && err != nil {
				c.p.errorf(f.val, "%s: %v", what, err)
			}
		case "kind":
			s.Kind, _ = c.p.str(f.val, what)
			if _, err := qanode.ParseKind(s.Kind); err != nil {
				c.p.errorf(f.val, "%s: %v", what, err)
			}
		case "chat":
			s.Chat, _ = c.p.str(f.val, what)
		case "payload":
			s.Payload, _ = c.p.str(f.val, what)
			if len(s.Payload) > qanode.MaxPayload {
				c.p.errorf(f.val, "%s: %d bytes; the limit is %d", what, len(s.Payload), qanode.MaxPayload)
			}
		case "count":
			s.Count, _ = c.p.integer(f.val, what, 1, maxCount)
		case "every":
			s.Every, _ = c.p.duration(f.val, what, true)
		case "allow_failures":
			s.AllowFailures, _ = c.p.boolean(f.val, what)
		}
	}
	for _, req := range []struct{ name, v string }{{"from", s.From}, {"id", s.ID}, {"flow", s.Flow}} {
		if req.v == "" {
			c.p.errorf(n, "send: %s: missing", req.name)
		}
	}
	switch {
	case s.To == "" && s.Group == "":
		c.p.errorf(n, "send: to or group: one is required")
	case s.To != "" && s.Group != "":
		c.p.errorf(n, "send: to and group: give one, not both")
	case s.To != "" && s.To == s.From:
		c.p.errorf(n, "send: a node cannot send to itself")
	}
	for _, id := range s.IDs() {
		if id == "" {
			continue
		}
		if line, dup := c.ids[id]; dup {
			c.p.errorf(n, "send: message id %q is already sent at line %d", short(id), line)
			break
		}
		c.ids[id] = n.Line
	}
	return s
}

var expectKinds = []string{"delivered", "failed", "event", "no_duplicates", "nothing_lost"}

var eventTypes = []string{"scheduled", "sent", "delivered", "rescheduled", "stalled", "failed", "discarded"}

func (c *checker) expectations(n *yaml.Node) []Expectation {
	if n.Kind != yaml.SequenceNode {
		c.p.errorf(n, "expect: want a list of expectations, got %s", kindName(n))
		return nil
	}
	var out []Expectation
	for _, en := range n.Content {
		entries, ok := c.p.mapping(en, "expectation", expectKinds...)
		if !ok {
			continue
		}
		if len(entries) != 1 {
			c.p.errorf(en, "expectation: name exactly one of %s", strings.Join(expectKinds, ", "))
			continue
		}
		e := entries[0]
		x := Expectation{Line: en.Line, Kind: ExpectKind(e.key.Value), After: AfterSend}
		switch x.Kind {
		case ExpectNoDuplicates:
			if e.val.Kind == yaml.ScalarNode && e.val.Value == "true" {
				break
			}
			x.Nodes, _ = c.p.names(e.val, "no_duplicates")
			for _, nm := range x.Nodes {
				if c.nodes[nm] == nil {
					c.p.errorf(e.val, "no_duplicates: no node named %q", short(nm))
				}
			}
		case ExpectNothingLost:
			x.After = AfterEnd
			if e.val.Kind == yaml.ScalarNode && e.val.Value == "true" {
				break
			}
			fields, ok := c.p.mapping(e.val, "nothing_lost", "within")
			if !ok {
				break
			}
			for _, f := range fields {
				x.Within, _ = c.p.duration(f.val, "nothing_lost.within", true)
			}
		default:
			c.timed(&x, e.val)
		}
		out = append(out, x)
	}
	return out
}

func (c *checker) timed(x *Expectation, n *yaml.Node) {
	what := string(x.Kind)
	known := []string{"message", "within", "after", "to"}
	if x.Kind == ExpectEvent {
		known = []string{"message", "within", "after", "type"}
	}
	fields, ok := c.p.mapping(n, what, known...)
	if !ok {
		return
	}
	for _, f := range fields {
		switch f.key.Value {
		case "message":
			x.Message, _ = c.p.str(f.val, what+".message")
			if x.Message != "" && !c.matchesSent(x.Message) {
				c.p.errorf(f.val, "%s.message: no step sends %q", what, short(x.Message))
			}
		case "within":
			x.Within, _ = c.p.duration(f.val, what+".within", false)
		case "after":
			x.After, _ = c.p.str(f.val, what+".after")
			label := strings.TrimSuffix(x.After, ".end")
			if _, ok := c.labels[label]; !ok && !contains([]string{AfterSend, AfterStart, AfterEnd}, x.After) {
				c.p.errorf(f.val, "%s.after: %q is neither a step label (label, or label.end for when the step ended) nor send, start or end", what, short(x.After))
			}
		case "to":
			if x.Kind == ExpectFailed {
				c.p.errorf(f.key, "failed.to: a message fails as a whole, not per recipient (its status is the sender's); drop to")
				continue
			}
			x.To, _ = c.p.names(f.val, what+".to")
			for _, nm := range x.To {
				if c.nodes[nm] == nil {
					c.p.errorf(f.val, "%s.to: no node named %q", what, short(nm))
				}
			}
		case "type":
			x.Event, _ = c.p.str(f.val, what+".type")
			if !contains(eventTypes, x.Event) {
				c.p.errorf(f.val, "event.type: %q is not one of %s", short(x.Event), strings.Join(eventTypes, ", "))
			}
		}
	}
	if x.Message == "" || x.Within == 0 {
		c.p.errorf(n, "%s: needs message and within", what)
	}
	if x.Kind == ExpectEvent && x.Event == "" {
		c.p.errorf(n, "event: needs type (%s)", strings.Join(eventTypes, ", "))
	}
}

// matchesSent reports whether a message id or pattern names a sent message.
func (c *checker) matchesSent(pattern string) bool {
	for id := range c.ids {
		if Match(pattern, id) {
			return true
		}
	}
	return false
}

// Match reports whether a message id matches a pattern, in which '*' stands
// for any run of characters (burst-* matches burst-1 … burst-50).
func Match(pattern, id string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == id
	}
	if !strings.HasPrefix(id, parts[0]) {
		return false
	}
	rest := id[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}
