// Package scenario reads QA scenario files: YAML naming the nodes of a run,
// the steps that happen to them, and what must hold afterwards (docs/qa.md
// describes the format). Every error names the file and the line.
//
// It owns the format and its validation — every reference resolved, every
// duration positive, every expectation answerable — and nothing about
// running a scenario: package runner does that.
package scenario

import (
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
)

// Scenario is one parsed, validated scenario file.
type Scenario struct {
	File        string
	Name        string
	Description string
	Timeout     time.Duration
	Policies    []qanode.PolicyOverride
	Nodes       []Node
	Groups      []Group
	Steps       []Step
	Expect      []Expectation
}

// Run says where a node runs.
type Run string

const (
	InProcess Run = "inprocess" // inside the runner (default)
	Process   Run = "process"   // an `mvdsqa node` child process: can be SIGKILLed and SIGSTOPped
	Remote    Run = "remote"    // an `mvdsqa node` someone else runs, reached at its URL
	// StatusBackend is status-go itself: a status-backend process the
	// runner starts from Binary (or from the run's -status-backend), or,
	// with URL, one already running that the runner logs in on.
	StatusBackend Run = "status-backend"
)

// Node is one node of the scenario.
type Node struct {
	Line     int
	Name     string
	Run      Run
	URL      string // remote; status-backend: one already running
	Binary   string // status-backend: the executable to start
	TokenEnv string // remote: environment variable holding its bearer token
	Service  bool   // serves light clients
	Light    string // name of the service node this light client uses
	// Connect names the nodes this node dials. Nil means the default: every
	// relay node dials every relay node declared before it, and a light
	// node its service node.
	Connect []string
}

// Owned reports whether the runner has the node's process in hand: it can
// kill, restart and freeze it.
func (n Node) Owned() bool {
	return n.Run != Remote && !(n.Run == StatusBackend && n.URL != "")
}

// Group is a named set of nodes that messages can be sent to.
type Group struct {
	Line    int
	Name    string
	Members []string
}

// StepKind names what a step does.
type StepKind string

const (
	StepSend       StepKind = "send"
	StepOffline    StepKind = "offline"
	StepOnline     StepKind = "online"
	StepFlap       StepKind = "flap"
	StepWait       StepKind = "wait"
	StepKill       StepKind = "kill"
	StepRestart    StepKind = "restart"
	StepPartition  StepKind = "partition"
	StepHeal       StepKind = "heal"
	StepLatency    StepKind = "latency"
	StepClockJump  StepKind = "clock_jump"
	StepSleep      StepKind = "sleep"
	StepConnect    StepKind = "connect"
	StepDisconnect StepKind = "disconnect"
	StepRetry      StepKind = "retry"
	StepDiscard    StepKind = "discard"
	StepParallel   StepKind = "parallel"
)

// Step is one thing that happens. Which fields mean something depends on
// Kind; the parser has checked the ones each kind needs.
type Step struct {
	Line int
	Kind StepKind
	// Label names the step for expectations: "label" is when it started,
	// "label.end" when it ended (for a sleep, the wake; for a flap, the last
	// reconnect).
	Label string
	// StartAfter delays the step (useful inside parallel).
	StartAfter time.Duration

	Node     string         // offline, online, flap, kill, restart, latency, clock_jump, sleep, retry, discard
	Pair     [2]string      // partition, heal, connect, disconnect
	All      bool           // heal: every partition
	For      time.Duration  // offline (then online again), wait, sleep, kill (then restart)
	Down, Up time.Duration  // flap
	Times    int            // flap
	By       time.Duration  // clock_jump
	Delay    time.Duration  // latency (0 clears it)
	Message  string         // retry, discard
	Shape    netfault.Shape // netem (zero: clear)
	Send     *Send
	Parallel []Step
}

// Send is a send step: Count messages (IDs ID-1 … ID-Count when Count > 1),
// Every apart.
type Send struct {
	From, To, Group string
	ID              string
	Flow, Kind      string
	Chat, Payload   string
	Count           int
	Every           time.Duration
	// AllowFailures: a send refused by the node (because a parallel step
	// killed it, say) does not fail the scenario; the message is simply not
	// one that was sent.
	AllowFailures bool
}

// IDs returns the message ids the step sends.
func (s *Send) IDs() []string {
	if s.Count <= 1 {
		return []string{s.ID}
	}
	out := make([]string, s.Count)
	for i := range out {
		out[i] = s.ID + "-" + itoa(i+1)
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// ExpectKind names an expectation.
type ExpectKind string

const (
	// ExpectDelivered: the sender reports the message(s) delivered — to
	// every recipient, or to those named in To — within Within of After.
	ExpectDelivered ExpectKind = "delivered"
	// ExpectFailed: the sender reports the message(s) failed within Within.
	ExpectFailed ExpectKind = "failed"
	// ExpectEvent: the sender's Guard published an event of type Event for
	// the message(s) within Within.
	ExpectEvent ExpectKind = "event"
	// ExpectNoDuplicates: no application (of the nodes in Nodes, or of any
	// node) received the same message twice.
	ExpectNoDuplicates ExpectKind = "no_duplicates"
	// ExpectNothingLost: every message a node accepted reached the
	// application of every recipient, by Within after the last step.
	ExpectNothingLost ExpectKind = "nothing_lost"
)

// Anchors an expectation's After can name besides step labels.
const (
	AfterSend  = "send"  // the message's own send (default)
	AfterStart = "start" // the first step
	AfterEnd   = "end"   // the end of the last step
)

// Expectation is one thing that must hold.
type Expectation struct {
	Line    int
	Kind    ExpectKind
	Message string   // an id, or a pattern with * (burst-*)
	To      []string // delivered: the recipients it must reach (default: every one)
	Event   string   // event: scheduled, sent, delivered, rescheduled, stalled, failed, discarded
	Within  time.Duration
	After   string
	Nodes   []string // no_duplicates
}
