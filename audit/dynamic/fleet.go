package dynamic

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Fleet judges the logs of many nodes in one run — a QA run's or a
// simulation's one log per status-go node. Every node has its own Recorder:
// its own clock, and its own end of log, so a message whose node's log ends
// before its horizon is open, never a silent drop, and a reconnect too close
// to that end is undecided, whatever the other nodes' logs say about time.
// A node is named by its input (Input.Node) or, within an input, by the
// label before a line or a record's node.
//
// Where one node's log ends before a message's outcome and another node's
// log shows the message received, Finish counts it delivered.
//
// Read may be called from many goroutines, for inputs of different nodes;
// the inputs of one node (rotated files) are read one after another, oldest
// first. Memory is bounded per node by config.Runtime's Limits.
type Fleet struct {
	cfg    config.Runtime
	mu     sync.Mutex
	nodes  map[string]*fleetNode
	inputs []*InputStats
}

type fleetNode struct {
	name     string
	rec      *Recorder
	received *idSet
	inputs   []string // guarded by Fleet.mu
}

// NewFleet returns a Fleet judging by cfg.
func NewFleet(cfg config.Runtime) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime audit: %w", err)
	}
	return &Fleet{cfg: cfg, nodes: map[string]*fleetNode{}}, nil
}

func (f *Fleet) node(name, input string) *fleetNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nodes[name]
	if n == nil {
		n = &fleetNode{name: name, rec: newRecorder(f.cfg), received: newIDSet(f.cfg.Limits.Receipts)}
		f.nodes[name] = n
	}
	if !contains(n.inputs, input) {
		n.inputs = append(n.inputs, input)
	}
	return n
}

// Read streams one input into the fleet, as Read does into one Recorder.
func (f *Fleet) Read(ctx context.Context, in io.Reader, input Input) (*InputStats, error) {
	route := func(node string) *target {
		n := f.node(node, input.Name)
		return &target{rec: n.rec, received: n.received}
	}
	st, err := read(ctx, in, input, f.cfg.Year, route)
	f.mu.Lock()
	f.inputs = append(f.inputs, st)
	f.mu.Unlock()
	return st, err
}

// AddInput lists an input that could not be read (st says why) in the
// report.
func (f *Fleet) AddInput(st *InputStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, st)
}

// Finish ends every node at its own clock, counts as delivered the messages
// still open at their sender's end that another node received, and returns
// the fleet's report: per-node rows, the fleet's totals, and every
// violation naming its node. The Fleet takes no input afterwards.
func (f *Fleet) Finish() *Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.nodes))
	for name := range f.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	nodes := make([]*fleetNode, len(names))
	for i, name := range names {
		nodes[i] = f.nodes[name]
		r := nodes[i].rec
		r.mu.Lock()
		r.end(r.clock)
		r.mu.Unlock()
	}
	// Which node received an id (-1: more than one), for the messages
	// still open at their sender's end.
	receivedBy := map[string]int{}
	for i, n := range nodes {
		for id := range n.received.ids {
			if j, ok := receivedBy[id]; ok && j != i {
				receivedBy[id] = -1
			} else {
				receivedBy[id] = i
			}
		}
	}
	for i, a := range nodes {
		if len(receivedBy) == 0 {
			break
		}
		for _, k := range a.rec.openIDs() {
			if j, ok := receivedBy[k.id]; ok && j != i {
				a.rec.receivedElsewhere(k)
			}
		}
	}
	reps := make([]*Report, len(nodes))
	for i, n := range nodes {
		reps[i] = n.rec.Finish(time.Time{})
	}
	rep := f.merge(nodes, reps)
	rep.Inputs = append([]*InputStats(nil), f.inputs...)
	sort.SliceStable(rep.Inputs, func(i, j int) bool { return rep.Inputs[i].Name < rep.Inputs[j].Name })
	return rep
}

// merge sums the nodes' reports into the fleet's.
func (f *Fleet) merge(nodes []*fleetNode, reps []*Report) *Report {
	out := &Report{Config: configSummary(f.cfg), State: StateSummary{Rejected: map[string]int64{}}}
	flows := map[mvdsguard.Flow]*FlowCounts{}
	for _, fl := range append(append([]mvdsguard.Flow(nil), mvdsguard.Flows...), 0) {
		flows[fl] = &FlowCounts{Flow: fl, Name: flowName(fl)}
	}
	checks := map[string]*CheckSummary{}
	for _, c := range rule.Runtime.Rules() {
		checks[c.ID] = &CheckSummary{ID: c.ID, Name: c.Name, Title: c.Title, Severity: f.cfg.SeverityOf(c.ID)}
	}
	var violations []Violation
	unplaced := false
	for i, r := range reps {
		row := NodeSummary{Name: nodes[i].name, Inputs: nodes[i].inputs, First: r.First, Last: r.Last,
			ReconnectsUndecided: r.State.ReconnectsUndecided}
		if !r.First.IsZero() && (out.First.IsZero() || r.First.Before(out.First)) {
			out.First = r.First
		}
		if r.Last.After(out.Last) {
			out.Last = r.Last
		}
		for _, fc := range r.Flows {
			unplaced = unplaced || fc.Flow == 0
			flows[fc.Flow].add(fc)
			row.Messages += fc.Messages
			row.MVDS += fc.MVDS
			row.Outside += fc.Outside
			row.Delivered += fc.Delivered
			row.Received += fc.Received
			row.Failed += fc.Failed
			row.Silent += fc.Silent
			row.Open += fc.Open
			row.Unconfirmed += fc.Unconfirmed
		}
		for _, c := range r.Checks {
			checks[c.ID].Violations += c.Violations
			switch c.Severity {
			case rule.SeverityError:
				row.Errors += c.Violations
			case rule.SeverityWarning:
				row.Warnings += c.Violations
			}
		}
		violations = append(violations, r.Violations...)
		out.State.add(r.State)
		out.Nodes = append(out.Nodes, row)
	}
	for _, fl := range append(append([]mvdsguard.Flow(nil), mvdsguard.Flows...), 0) {
		if fl == 0 && !unplaced {
			continue
		}
		out.Flows = append(out.Flows, *flows[fl])
	}
	order := map[string]int{}
	for i, c := range rule.Runtime.Rules() {
		order[c.ID] = i
	}
	sort.SliceStable(violations, func(i, j int) bool {
		a, b := violations[i], violations[j]
		if a.Check != b.Check {
			return order[a.Check] < order[b.Check]
		}
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.ID < b.ID
	})
	for _, c := range rule.Runtime.Rules() {
		cs := checks[c.ID]
		for _, v := range violations {
			if v.Check == c.ID && cs.Listed < f.cfg.Limits.Violations {
				out.Violations = append(out.Violations, v)
				cs.Listed++
			}
		}
		out.Checks = append(out.Checks, *cs)
	}
	return out
}

func (c *FlowCounts) add(o FlowCounts) {
	c.Messages += o.Messages
	c.MVDS += o.MVDS
	c.Outside += o.Outside
	c.Delivered += o.Delivered
	c.Received += o.Received
	c.Failed += o.Failed
	c.Discarded += o.Discarded
	c.Silent += o.Silent
	c.Open += o.Open
	c.Unconfirmed += o.Unconfirmed
	c.Evicted += o.Evicted
}

// add sums another node's state: PeakOpen becomes the sum of the nodes'
// peaks, a bound on what the fleet held at once.
func (s *StateSummary) add(o StateSummary) {
	for k, v := range o.Rejected {
		s.Rejected[k] += v
	}
	s.OutcomeWithoutSend += o.OutcomeWithoutSend
	s.AfterOutcome += o.AfterOutcome
	s.Evicted += o.Evicted
	s.ReceiptsForgotten += o.ReceiptsForgotten
	s.Reconnects += o.Reconnects
	s.ReconnectsCutShort += o.ReconnectsCutShort
	s.ReconnectsUnchecked += o.ReconnectsUnchecked
	s.ReconnectsUndecided += o.ReconnectsUndecided
	s.UnknownTypes += o.UnknownTypes
	for _, n := range o.UnknownTypeNames {
		if len(s.UnknownTypeNames) < 20 && !contains(s.UnknownTypeNames, n) {
			s.UnknownTypeNames = append(s.UnknownTypeNames, n)
		}
	}
	s.PeakOpen += o.PeakOpen
	s.OpenAtEnd += o.OpenAtEnd
}

// idSet remembers the ids of messages a node received, up to a limit
// (the oldest are forgotten first), for correlation across nodes. Readers
// add under its lock; Finish reads it when reading is over.
type idSet struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order fifo[string]
	limit int
}

func newIDSet(limit int) *idSet { return &idSet{ids: map[string]struct{}{}, limit: limit} }

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return
	}
	if s.order.size >= s.limit {
		old, _ := s.order.peek()
		s.order.pop()
		delete(s.ids, old)
	}
	s.ids[id] = struct{}{}
	s.order.push(id)
}
