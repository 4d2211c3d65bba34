// Package runner runs QA scenarios (package scenario) against real QA nodes
// — in-process, as `mvdsqa node` child processes, or remote REST endpoints —
// and judges their expectations by what it observes through the nodes' REST
// APIs, on its own clock. The same scenario therefore drives nodes deployed
// anywhere.
//
// It owns starting, connecting, killing, freezing and restarting the nodes
// it runs, executing steps, observing, and the results (text, JSON, JUnit
// XML). It must not reach inside a node: everything goes through the API,
// as it would for a node on another machine.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// Options configure a run.
type Options struct {
	// WorkDir holds the runs' node data and logs: every run makes its own
	// directory in it, <scenario file>-<variant>-<n> with the first n not
	// taken, so that no run opens another's databases. Default: a temporary
	// directory per run, removed after a run that passed unless Keep is set.
	WorkDir string
	Keep    bool
	// ListenHost is the host the Waku transport of every node the runner
	// starts listens on (default 127.0.0.1: loopback only). A remote node
	// can dial a local node only if this is an address it can reach.
	ListenHost string
	// Stock runs the nodes the runner starts in status-go's stock
	// configuration instead of the Guard.
	Stock bool
	// NodeBinary is the mvdsqa executable for process nodes (default: this
	// executable).
	NodeBinary string
	// Processes runs every node the scenario puts in the runner's process
	// as an `mvdsqa node` process instead: each node isolated as it would
	// be when deployed, at the cost of a start-up per node.
	Processes bool
	// Epoch is the nodes' mvds epoch (default 300 ms, status-go's).
	Epoch time.Duration
	// Poll is how often the runner looks at the nodes (default 50 ms).
	Poll time.Duration
	// Slack multiplies every expectation's time limit (default 1). A
	// machine that is busy with other work — a CI runner testing packages
	// in parallel under the race detector — runs epochs late; results
	// state the slack they were judged with.
	Slack float64
	// NetNS puts every node the runner starts in a network namespace of its
	// own, as a process, and makes faults in the kernel: offline is the
	// link down, partitions are packet filters, latency is netem or the
	// NFQUEUE delayer; the netem, link_down, link_up and ip_change steps
	// need it. It needs root (see CheckNetns).
	NetNS bool
	// Detail adds each message's path to the result (Result.Messages).
	Detail bool
	// Usage measures what the run's process nodes and the runner cost
	// while the steps run (Result.Usage).
	Usage bool
	// Progress, when set, receives a line per step.
	Progress io.Writer
	// StatusBackend, when set, is a status-backend executable (status-go's
	// cmd/status-backend): every node the scenario puts in the runner's
	// process or in an `mvdsqa node` process runs on status-go instead.
	StatusBackend string
	// Label names the variant in results instead of Variant's name (say,
	// "status-go-guarded" for a status-go build with the Guard wired in).
	Label string
}

// Variant names the configuration a run used.
func (o Options) Variant() string {
	if o.Label != "" {
		return o.Label
	}
	if o.StatusBackend != "" {
		return VariantStatusGo
	}
	if o.Stock {
		return "stock"
	}
	return "guarded"
}

// DefaultListenHost is where the nodes the runner starts listen for Waku
// peers unless told otherwise: loopback, reachable from this machine only.
const DefaultListenHost = "127.0.0.1"

// onlineTimeout bounds the wait for every node to be online before the
// first step.
const onlineTimeout = 30 * time.Second

type run struct {
	s      *scenario.Scenario
	opts   Options
	work   string
	nodes  []*node
	byName map[string]*node
	obs    *observer
	start  time.Time

	faults    sync.Mutex // the nodes' parted and latency, and netParted
	sg        *sgNet     // status-go nodes, when the run has them
	lab       *netfault.Lab
	netParted map[[2]*node]bool // -netns: the pairs cut by packet filters
	kfaults   []FaultResult     // -netns: what made each fault (under mu)

	back            map[string]time.Time // Detail: when each node last came back online (under mu)
	offlineAttempts map[string]int       // Detail: a message's attempts when its sender came back (under mu)

	mu      sync.Mutex
	labels  map[string][2]time.Time
	sent    map[string]*sentMessage
	order   []string
	senders map[string]bool
	done    []StepResult
	outages outageLog
}

type sentMessage struct {
	id       string
	from     string
	to       []string // recipient node names
	at       time.Time
	accepted bool
	err      string
}

func (r *run) sends(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.senders[name]
}

func (r *run) progress(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, "  [%s %s +%5.1fs] %s\n", r.s.Name, r.opts.Variant(), time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// Run runs one scenario and returns what happened. It never panics on a
// failing node or step: the error is in the result.
func Run(ctx context.Context, s *scenario.Scenario, opts Options) *Result {
	if opts.Epoch == 0 {
		opts.Epoch = mvds.StockEpoch
	}
	if opts.Poll == 0 {
		opts.Poll = 50 * time.Millisecond
	}
	if opts.ListenHost == "" {
		opts.ListenHost = DefaultListenHost
	}
	if opts.NodeBinary == "" {
		if exe, err := os.Executable(); err == nil {
			opts.NodeBinary = exe
		}
	}
	r := &run{s: s, opts: opts, byName: map[string]*node{}, labels: map[string][2]time.Time{},
		sent: map[string]*sentMessage{}, senders: map[string]bool{}, start: time.Now(), netParted: map[[2]*node]bool{}}
	res := &Result{Scenario: s.Name, Description: s.Description, File: s.File, Variant: opts.Variant(), Started: r.start}
	defer func() { res.Duration = time.Since(r.start).Round(time.Millisecond) }()

	if err := checkStatusGo(s, opts); err != nil {
		res.Error = err.Error()
		return res
	}
	if statusGoRun(s, opts) {
		r.sg = newSGNet()
		if opts.Label == "" {
			res.Variant = VariantStatusGo
		}
	}
	dir, err := runDir(s, opts)
	if err != nil {
		res.Error = "setup: " + err.Error()
		return res
	}
	r.work = dir
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	defer func() {
		// Every node at once: a node may take seconds to close, and a
		// run of a hundred would wait for each in turn.
		var stopping sync.WaitGroup
		for _, n := range r.nodes {
			stopping.Add(1)
			go func() { defer stopping.Done(); n.stop() }()
		}
		stopping.Wait()
		r.closeLab()
		res.Faults = r.faultResults()
		res.Passed = res.Error == "" && allPassed(res.Expectations)
		if opts.WorkDir == "" && !opts.Keep && res.Passed {
			_ = os.RemoveAll(r.work)
		} else {
			res.WorkDir = r.work
		}
	}()
	if opts.NetNS {
		if err := r.openLab(ctx); err != nil {
			res.Error = "setup: " + err.Error()
			return res
		}
		res.Network = r.lab.Caps().String()
	} else if err := CheckNetns(ctx, s, false); err != nil {
		res.Error = "setup: " + err.Error()
		return res
	}
	if err := r.setup(ctx); err != nil {
		res.Error = "setup: " + err.Error()
		return res
	}
	obsCtx, stopObs := context.WithCancel(ctx)
	r.obs = newObserver(r, opts.Poll)
	var obsDone sync.WaitGroup
	obsDone.Add(1)
	go func() { defer obsDone.Done(); r.obs.run(obsCtx) }()
	defer func() { stopObs(); obsDone.Wait() }()

	r.start = time.Now()
	res.SetupSeconds = r.start.Sub(res.Started).Seconds()
	r.setLabel(scenario.AfterStart, r.start, r.start)
	var usage *sampler
	if opts.Usage {
		usage = startSampler(r, 2*time.Second)
	}
	err = r.steps(ctx, s.Steps)
	end := time.Now()
	r.setLabel(scenario.AfterEnd, end, end)
	res.Steps = r.stepResults()
	if err != nil {
		res.Error = err.Error()
		if ctx.Err() != nil {
			res.Error = fmt.Sprintf("scenario timeout of %v reached: %v", s.Timeout, err)
		}
	}
	res.Expectations = r.evaluate(ctx)
	if err := r.lostStreams(); err != nil {
		res.Error = strings.TrimPrefix(res.Error+"; "+err.Error(), "; ")
	}
	if usage != nil {
		res.Usage = usage.finish(ctx)
	}
	res.Sent, res.Accepted = r.counts()
	res.Messages, res.Outages = r.messageResults(), r.outages.results(r.start, time.Now())
	return res
}

// runDir makes the run's own directory for its nodes' data and logs: in
// opts.WorkDir, <scenario file>-<variant>-<n> with the first n whose
// directory does not exist yet (made with Mkdir, so two runs never get the
// same one); without a WorkDir, a new temporary directory.
func runDir(s *scenario.Scenario, opts Options) (string, error) {
	name := runName(s.File) + "-" + opts.Variant()
	if opts.WorkDir == "" {
		return os.MkdirTemp("", "mvdsqa-run-"+name+"-")
	}
	if err := os.MkdirAll(opts.WorkDir, 0o700); err != nil {
		return "", err
	}
	for n := 1; n <= maxRunDirs; n++ {
		dir := filepath.Join(opts.WorkDir, fmt.Sprintf("%s-%d", name, n))
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: %d run directories for %s already; use another work directory", opts.WorkDir, maxRunDirs, name)
}

// maxRunDirs bounds the runs of one scenario and variant in one work
// directory.
const maxRunDirs = 10000

// runName is a scenario file's base name without its extension, reduced to
// characters that are safe in a directory name.
func runName(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	b := []byte(base)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	out := strings.TrimLeft(string(b), ".")
	if len(out) > 64 {
		out = out[:64]
	}
	if out == "" {
		return "scenario"
	}
	return out
}

func (r *run) setLabel(label string, start, end time.Time) {
	if label == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.labels[label] = [2]time.Time{start, end}
}

func (r *run) counts() (sent, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.sent {
		sent++
		if m.accepted {
			accepted++
		}
	}
	return
}

// setup starts the nodes (relay nodes before the light clients that need
// their service node's address), connects them, waits until every node is
// online, and creates the groups.
func (r *run) setup(ctx context.Context) error {
	for _, sn := range r.s.Nodes {
		if (r.opts.Processes || r.lab != nil) && sn.Run == scenario.InProcess {
			sn.Run = scenario.Process
		}
		if r.opts.StatusBackend != "" && (sn.Run == scenario.InProcess || sn.Run == scenario.Process) {
			sn.Run = scenario.StatusBackend
		}
		dir := nodeDir(r.work, sn.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		n := &node{spec: sn, dir: dir, parted: map[string]bool{}, cfg: qanode.Config{
			Name: sn.Name, Dir: dir, Listen: net.JoinHostPort(r.opts.ListenHost, "0"), API: "127.0.0.1:0",
			Stock: r.opts.Stock, Service: sn.Service, Epoch: r.opts.Epoch,
		}}
		if !r.opts.Stock {
			n.cfg.Policies = r.s.Policies
		}
		if r.lab != nil && n.local() {
			h, err := r.lab.AddHost(ctx, sn.Name)
			if err != nil {
				return err
			}
			// Every address of its namespace, so an address change keeps
			// the listener.
			n.host, n.cfg.Listen = h, "0.0.0.0:0"
		}
		if n.local() {
			logger, f, err := fileLogger(filepath.Join(dir, "node.log"))
			if err != nil {
				return err
			}
			n.logger, n.logs = logger, f
		}
		if sn.Run == scenario.StatusBackend {
			sg, err := newSGNode(r, n)
			if err != nil {
				return err
			}
			n.sg = sg
		}
		r.nodes = append(r.nodes, n)
		r.byName[sn.Name] = n
	}
	ordered := append([]*node(nil), r.nodes...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].spec.Light == "" && ordered[j].spec.Light != "" })
	for _, n := range ordered {
		if n.spec.Light != "" {
			addr, err := dialAddr(n, r.byName[n.spec.Light])
			if err != nil {
				return fmt.Errorf("node %s: service %w", n.spec.Name, err)
			}
			n.cfg.Light = addr
		}
		if err := n.start(ctx, r); err != nil {
			return err
		}
		if n == r.nodes[0] && n.sg != nil {
			if err := r.probeStatusGo(ctx, n); err != nil {
				return err
			}
		}
		if !n.local() && r.opts.Stock != n.info.Stock {
			r.progress("note: remote node %s runs %s whatever the variant", n.spec.Name, map[bool]string{true: "stock", false: "guarded"}[n.info.Stock])
		}
	}
	for _, n := range r.nodes {
		if err := r.connect(ctx, n); err != nil {
			return err
		}
	}
	for _, n := range r.nodes {
		if err := waitOnline(ctx, n); err != nil {
			return err
		}
	}
	if r.sg != nil {
		return r.setupStatusGo(ctx)
	}
	for _, g := range r.s.Groups {
		for _, m := range g.Members {
			var others []string
			for _, o := range g.Members {
				if o != m {
					others = append(others, r.byName[o].info.ID)
				}
			}
			if _, err := r.byName[m].client.CreateGroup(ctx, qanode.GroupRequest{Name: g.Name, Members: others}); err != nil {
				return fmt.Errorf("group %s on %s: %w", g.Name, m, err)
			}
		}
	}
	return nil
}

// peersOf is the nodes n dials: its connect list, or by default every relay
// node declared before it (a full mesh); a light client dials only its
// service node, which it keeps by itself.
func (r *run) peersOf(n *node) []*node {
	if n.spec.Light != "" {
		return nil
	}
	var out []*node
	if n.spec.Connect != nil {
		for _, c := range n.spec.Connect {
			out = append(out, r.byName[c])
		}
		return out
	}
	for _, o := range r.nodes {
		if o == n {
			break
		}
		if o.spec.Light == "" {
			out = append(out, o)
		}
	}
	return out
}

func (r *run) connect(ctx context.Context, n *node) error {
	for _, p := range r.peersOf(n) {
		if err := dial(ctx, n, p, ""); err != nil {
			return err
		}
	}
	return nil
}

// dial has from connect to to's Waku address; why, when set, says which
// address in the error ("new address").
func dial(ctx context.Context, from, to *node, why string) error {
	addr, err := dialAddr(from, to)
	if err != nil {
		return err
	}
	if err := from.client.Connect(ctx, addr); err != nil {
		if why != "" {
			return fmt.Errorf("connect %s to %s's %s: %w", from.spec.Name, to.spec.Name, why, err)
		}
		return fmt.Errorf("connect %s to %s: %w", from.spec.Name, to.spec.Name, err)
	}
	return nil
}

func waitOnline(ctx context.Context, n *node) error {
	deadline := time.Now().Add(onlineTimeout)
	for {
		info, err := n.client.Health(ctx)
		if err == nil && info.Online {
			n.info = info
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("its connectivity still says offline")
			}
			return fmt.Errorf("node %s not online within %v: %w", n.spec.Name, onlineTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) steps(ctx context.Context, steps []scenario.Step) error {
	for _, st := range steps {
		if err := r.step(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) step(ctx context.Context, st scenario.Step) error {
	if st.StartAfter > 0 {
		if err := sleep(ctx, st.StartAfter); err != nil {
			return err
		}
	}
	began := time.Now()
	err := r.do(ctx, st)
	ended := time.Now()
	r.setLabel(st.Label, began, ended)
	r.outages.step(st, began, ended, err)
	sr := StepResult{Line: st.Line, Kind: string(st.Kind), Label: st.Label, Node: st.Node,
		Start: began.Sub(r.start).Seconds(), End: ended.Sub(r.start).Seconds()}
	if err != nil {
		sr.Error = err.Error()
		err = fmt.Errorf("%s:%d: %s: %w", r.s.File, st.Line, st.Kind, err)
	}
	r.mu.Lock()
	r.done = append(r.done, sr)
	r.mu.Unlock()
	return err
}

func (r *run) stepResults() []StepResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]StepResult(nil), r.done...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func describeStep(st scenario.Step) string {
	switch st.Kind {
	case scenario.StepSend:
		return fmt.Sprintf("send %s ×%d", st.Send.ID, st.Send.Count)
	case scenario.StepNetem:
		target := st.Node
		if target == "" {
			target = st.Pair[0] + "–" + st.Pair[1]
		}
		s := fmt.Sprintf("netem %s: %s", target, st.Shape)
		if st.For > 0 {
			s += " for " + st.For.String()
		}
		return s
	case scenario.StepPartition, scenario.StepHeal, scenario.StepConnect, scenario.StepDisconnect:
		if st.All {
			return string(st.Kind) + " all"
		}
		return fmt.Sprintf("%s %s %s", st.Kind, st.Pair[0], st.Pair[1])
	}
	s := string(st.Kind)
	if st.Node != "" {
		s += " " + st.Node
	}
	if st.For > 0 {
		s += " for " + st.For.String()
	}
	return s
}

// names joins node names for messages.
func names(ns []string) string { return strings.Join(ns, ", ") }
