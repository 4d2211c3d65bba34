package runner

import (
	"sort"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// MessageResult is one message a send step sent, as the runner saw it on
// its own clock; times are seconds from the first step, like StepResult's.
type MessageResult struct {
	ID       string   `json:"id"`
	From     string   `json:"from"`
	To       []string `json:"to"` // recipient node names
	Sent     float64  `json:"sent"`
	Accepted bool     `json:"accepted"`
	Error    string   `json:"error,omitempty"` // why the sender refused it
	// Attempts holds, for every attempt (transmission) the sender reported
	// in the message's attempt count, when the runner first saw it counted.
	// Attempts that fall between two polls share a time. A stock node counts
	// only since its process started; its attempts before a kill stay here.
	Attempts []float64 `json:"attempts"`
	// Delivered: recipient node → when the sender first reported it
	// delivered to that recipient (the ack arrived).
	Delivered map[string]float64 `json:"delivered,omitempty"`
	// Received: recipient node → when its application first had it.
	Received map[string]float64 `json:"received,omitempty"`
	Stalled  *float64           `json:"stalled,omitempty"` // first seen stalled
	Failed   *float64           `json:"failed,omitempty"`  // first seen failed
	Status   string             `json:"status,omitempty"`  // the last status seen
	// Back is when the last of the sender and its recipients came back
	// online after the send (absent: none of them was offline after it);
	// AttemptsOffline is how many attempts the sender had counted for it
	// by then: attempts spent into a network it could not reach. Both with
	// Options.Detail only (DST's tables).
	Back            *float64 `json:"back,omitempty"`
	AttemptsOffline int      `json:"attemptsOffline,omitempty"`
}

// Outage is an interval during which the scenario held nodes apart from the
// network: a node offline (an offline step, or each down phase of a flap),
// asleep, or killed (down), or a pair of nodes partitioned. Times are
// seconds from the first step.
type Outage struct {
	Kind  string   `json:"kind"`  // offline | sleep | down | partition
	Nodes []string `json:"nodes"` // one node, or the partitioned pair
	Line  int      `json:"line"`  // the step that began it
	Start float64  `json:"start"`
	End   float64  `json:"end"`
	// Open: still in place when the run ended; End is the run's end.
	Open bool `json:"open,omitempty"`
}

// Outage kinds.
const (
	OutageOffline   = "offline"
	OutageSleep     = "sleep"
	OutageDown      = "down"
	OutagePartition = "partition"
)

// outageLog records the outages as the steps make and end them.
type outageLog struct {
	mu     sync.Mutex
	closed []outageSpan
	open   []outageSpan
}

type outageSpan struct {
	kind       string
	nodes      []string
	line       int
	start, end time.Time
}

func (l *outageLog) add(kind string, nodes []string, line int, start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = append(l.closed, outageSpan{kind: kind, nodes: nodes, line: line, start: start, end: end})
}

func (l *outageLog) begin(kind string, nodes []string, line int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.open {
		if o.kind == kind && sameNodes(o.nodes, nodes) {
			return // already in place: the first step began it
		}
	}
	l.open = append(l.open, outageSpan{kind: kind, nodes: nodes, line: line, start: at})
}

// end closes the open outages of kind on nodes, or every open outage of
// kind when nodes is nil.
func (l *outageLog) end(kind string, nodes []string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.open[:0]
	for _, o := range l.open {
		if o.kind == kind && (nodes == nil || sameNodes(o.nodes, nodes)) {
			o.end = at
			l.closed = append(l.closed, o)
			continue
		}
		kept = append(kept, o)
	}
	l.open = kept
}

// sameNodes compares a node or a pair, in either order.
func sameNodes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 2 {
		return a[0] == b[0] && a[1] == b[1] || a[0] == b[1] && a[1] == b[0]
	}
	return len(a) == 0 || a[0] == b[0]
}

// step records what a finished step did to the outages. A flap records its
// down phases itself, as they happen.
func (l *outageLog) step(st scenario.Step, began, ended time.Time, err error) {
	if err != nil {
		return // what it did is unknown; the step's error says what failed
	}
	node := []string{st.Node}
	switch st.Kind {
	case scenario.StepOffline:
		if st.For > 0 {
			l.add(OutageOffline, node, st.Line, began, ended)
		} else {
			l.begin(OutageOffline, node, st.Line, began)
		}
	case scenario.StepOnline:
		l.end(OutageOffline, node, ended)
	case scenario.StepSleep:
		l.add(OutageSleep, node, st.Line, began, ended)
	case scenario.StepKill:
		if st.For > 0 {
			l.add(OutageDown, node, st.Line, began, ended)
		} else {
			l.begin(OutageDown, node, st.Line, began)
		}
	case scenario.StepRestart:
		l.end(OutageDown, node, ended)
	case scenario.StepPartition:
		l.begin(OutagePartition, []string{st.Pair[0], st.Pair[1]}, st.Line, ended)
	case scenario.StepHeal:
		if st.All {
			l.end(OutagePartition, nil, ended)
		} else {
			l.end(OutagePartition, []string{st.Pair[0], st.Pair[1]}, ended)
		}
	}
}

// results returns every outage in order of start, the open ones ending at
// end.
func (l *outageLog) results(start, end time.Time) []Outage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Outage{}
	for _, spans := range [][]outageSpan{l.closed, l.open} {
		for _, o := range spans {
			x := Outage{Kind: o.kind, Nodes: o.nodes, Line: o.line, Start: secondsSince(start, o.start), End: secondsSince(start, o.end)}
			if o.end.IsZero() {
				x.End, x.Open = secondsSince(start, end), true
			}
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func secondsSince(start, t time.Time) float64 { return t.Sub(start).Seconds() }

// sawAttempts takes a message's attempt count from one poll. A count lower
// than the last is a stock node that restarted (it counts since its process
// started): its new count is all new attempts.
func (s *seenMessage) sawAttempts(n int, now time.Time) {
	from := s.count
	if n < s.count {
		from = 0
	}
	for i := from; i < n; i++ {
		s.attempts = append(s.attempts, now)
	}
	s.count = n
}

// messageResults is every message the send steps sent, in send order, with
// what the observer saw of it.
func (r *run) messageResults() []MessageResult {
	r.mu.Lock()
	sent := make([]*sentMessage, 0, len(r.order))
	for _, id := range r.order {
		sent = append(sent, r.sent[id])
	}
	r.mu.Unlock()
	out := make([]MessageResult, 0, len(sent))
	for _, m := range sent {
		out = append(out, r.messageResult(m))
	}
	return out
}

func (r *run) messageResult(m *sentMessage) MessageResult {
	sec := func(t time.Time) float64 { return secondsSince(r.start, t) }
	at := func(t time.Time, ok bool) *float64 {
		if !ok {
			return nil
		}
		v := sec(t)
		return &v
	}
	res := MessageResult{ID: m.id, From: m.from, To: m.to, Sent: sec(m.at), Accepted: m.accepted, Error: m.err, Attempts: []float64{}}
	res.Back, res.AttemptsOffline = r.backOf(m)
	o := r.obs
	o.mu.Lock()
	if s := o.status[m.from][m.id]; s != nil {
		for _, t := range s.attempts {
			res.Attempts = append(res.Attempts, sec(t))
		}
		res.Status = s.last
	}
	o.mu.Unlock()
	res.Stalled = at(o.statusAt(m.from, m.id, "stalled"))
	res.Failed = at(o.statusAt(m.from, m.id, "failed"))
	for _, to := range m.to {
		if n := r.byName[to]; n != nil {
			if t, ok := o.deliveredTo(m.from, m.id, n.info.ID); ok {
				if res.Delivered == nil {
					res.Delivered = map[string]float64{}
				}
				res.Delivered[to] = sec(t)
			}
		}
		if c, first := o.receivedBy(to, m.id); c > 0 {
			if res.Received == nil {
				res.Received = map[string]float64{}
			}
			res.Received[to] = sec(first)
		}
	}
	return res
}
