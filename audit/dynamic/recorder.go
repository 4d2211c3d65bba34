package dynamic

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Recorder consumes records in arrival order and runs the checks. It keeps
// state only for messages without an outcome (until their horizon passes),
// for recently finished ids and recent receipts, each bounded by
// config.Runtime's Limits, so it runs in constant memory over an input of any length.
// It is safe for concurrent use: a live Guard, a connectivity source and a
// message handler may feed it from their own goroutines.
type Recorder struct {
	mu       sync.Mutex
	cfg      config.Runtime
	severity map[string]rule.Severity
	done     bool // Finish judged what was due
	settled  bool // the messages still open are counted
	// ackBlind: the log comes from a release that does not log
	// acknowledgements (it writes MessageSender's names of before
	// 2024-02-27), so a message through MVDS past its horizon is
	// unconfirmed, not silent.
	ackBlind bool

	clock      time.Time // the latest time of any record or line seen
	first      time.Time
	nextWatch  time.Time // earliest reconnect deadline, zero when none
	open       map[msgKey]*message
	deadlines  deadlineHeap
	finished   map[msgKey]*finished
	finishedQ  fifo[*finished]
	receipts   map[msgKey]*receipt
	receiptsQ  fifo[*receipt]
	nodes      map[string]*node
	flows      map[mvdsguard.Flow]*FlowCounts
	violations map[string]*checkState
	state      StateSummary
	types      map[string]typeInfo
	seq        uint64
}

type msgKey struct{ node, id string }

// message is the state of a message without an outcome.
type message struct {
	key      msgKey
	flow     mvdsguard.Flow // 0: unclassified
	typ      string
	created  time.Time // start of the current round
	deadline time.Time
	// sawStart: the round's first record was its send (or a retry), so the
	// attempts counted are all the round's attempts.
	sawStart        bool
	attempts        int
	mvds, outside   bool
	unconfirmed     bool // past its horizon in a log that cannot show delivery
	mvdsAt          time.Time
	outsideReported bool
	first, last     Evidence
	heapIdx         int    // -1 once unconfirmed: out of the deadline heap
	seq             uint64 // creation order: ties in deadlines go oldest first
}

type outcome uint8

const (
	outDelivered outcome = iota + 1
	outFailed
	outDiscarded
	outSilent
)

// finished remembers a message that reached an outcome, so that a late
// record for it is not taken for a new message, and a failed one can start
// a new round.
type finished struct {
	m       *message
	outcome outcome // what happened
	counted outcome // what the flow counts say: silent when it came too late
	at      time.Time
	gone    bool // reopened or evicted; its queue entry is stale
}

type receipt struct {
	key   msgKey
	at    time.Time
	first Evidence
	count int
	gone  bool
}

type node struct {
	online   int8 // -1 unknown, 0 offline, 1 online
	openMVDS int  // messages without an outcome handed to MVDS
	watches  []*watch
}

// watch is a reconnect waiting for its first retry.
type watch struct {
	at, deadline time.Time
	pending      int // messages pending at the reconnect without an outcome since
	satisfied    bool
	evidence     Evidence
}

type checkState struct {
	count  int
	listed []Violation
}

type typeInfo struct {
	t  statusgo.MessageType
	ok bool
}

// NewRecorder returns a Recorder for cfg.
func NewRecorder(cfg config.Runtime) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime audit: %w", err)
	}
	return newRecorder(cfg), nil
}

// newRecorder returns a Recorder for a validated cfg.
func newRecorder(cfg config.Runtime) *Recorder {
	r := &Recorder{
		cfg:        cfg,
		severity:   map[string]rule.Severity{},
		open:       map[msgKey]*message{},
		finished:   map[msgKey]*finished{},
		receipts:   map[msgKey]*receipt{},
		nodes:      map[string]*node{},
		flows:      map[mvdsguard.Flow]*FlowCounts{},
		violations: map[string]*checkState{},
		types:      map[string]typeInfo{},
	}
	for _, c := range rule.Runtime.Rules() {
		r.severity[c.ID] = cfg.SeverityOf(c.ID)
		r.violations[c.ID] = &checkState{}
	}
	r.state.Rejected = map[string]int64{}
	return r
}

// ErrFinished is returned by Add after Finish.
var ErrFinished = errors.New("recorder finished")

// Add takes one record. A record that is not valid is counted as rejected
// and its error returned; the Recorder goes on.
func (r *Recorder) Add(rec Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return ErrFinished
	}
	if err := rec.validate(); err != nil {
		r.reject(err.Error())
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	r.advance(rec.At)
	switch rec.Kind {
	case KindSend:
		r.send(rec)
	case KindAttempt:
		r.attempt(rec)
	case KindDelivered:
		if rec.Peer != "" {
			// One recipient: the message is delivered when all are.
			if m := r.open[msgKey{rec.Node, rec.ID}]; m != nil {
				m.last = rec.Evidence
			}
			return nil
		}
		r.outcome(rec, outDelivered)
	case KindFailed:
		r.outcome(rec, outFailed)
	case KindDiscarded:
		r.outcome(rec, outDiscarded)
	case KindRescheduled:
		r.rescheduled(rec)
	case KindConnectivity:
		r.connectivity(rec)
	case KindReceipt:
		r.receipt(rec)
	}
	return nil
}

// Advance moves the Recorder's clock to t (if later) and judges every
// deadline it passed by more than the lateness. Readers call it for lines
// that hold no record, so that time passes with the input.
func (r *Recorder) Advance(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.advance(t)
	}
}

func (r *Recorder) advance(t time.Time) {
	if t.IsZero() {
		return
	}
	if r.first.IsZero() || t.Before(r.first) {
		r.first = t
	}
	if !t.After(r.clock) {
		return
	}
	r.clock = t
	r.expire(t.Add(-r.cfg.Lateness))
}

// expire judges what is due at cutoff.
func (r *Recorder) expire(cutoff time.Time) {
	for len(r.deadlines) > 0 && !r.deadlines[0].deadline.After(cutoff) {
		m := r.deadlines[0]
		if m.mvds && r.ackBlind {
			// Its log could never say it was delivered: keep it open, so
			// that another node's log may still show it received.
			heap.Pop(&r.deadlines)
			m.heapIdx, m.unconfirmed = -1, true
			continue
		}
		r.close(m, outSilent, nil)
	}
	if !r.nextWatch.IsZero() && !r.nextWatch.After(cutoff) {
		r.judgeWatches(cutoff)
	}
	horizon := cutoff.Add(-r.cfg.Horizon)
	for f, ok := r.finishedQ.peek(); ok && (f.gone || f.at.Before(horizon)); f, ok = r.finishedQ.peek() {
		r.finishedQ.pop()
		if !f.gone {
			delete(r.finished, f.m.key)
		}
	}
	for c, ok := r.receiptsQ.peek(); ok && (c.gone || c.at.Before(horizon)); c, ok = r.receiptsQ.peek() {
		r.receiptsQ.pop()
		if !c.gone {
			delete(r.receipts, c.key)
		}
	}
}

// reject counts a rejected record under its reason; the reasons kept are
// bounded, the rest are counted together.
func (r *Recorder) reject(reason string) {
	if _, ok := r.state.Rejected[reason]; !ok && len(r.state.Rejected) >= 20 {
		reason = "other reasons"
	}
	r.state.Rejected[reason]++
}

func (r *Recorder) nodeOf(name string) *node {
	n := r.nodes[name]
	if n == nil {
		n = &node{online: -1}
		r.nodes[name] = n
	}
	return n
}

func (r *Recorder) counts(f mvdsguard.Flow) *FlowCounts {
	c := r.flows[f]
	if c == nil {
		c = &FlowCounts{Flow: f}
		r.flows[f] = c
	}
	return c
}

// classify places a message: the source's flow if it knows it, otherwise
// status-go's table on its type, content type and chat — the chat inferred
// from the path where the record does not name it.
func (r *Recorder) classify(rec Record) mvdsguard.Flow {
	if rec.Flow.Valid() {
		return rec.Flow
	}
	if rec.Type == "" {
		return 0
	}
	ti, seen := r.types[rec.Type]
	if !seen {
		t, err := statusgo.ParseMessageType(rec.Type)
		ti = typeInfo{t: t, ok: err == nil}
		if len(r.types) < 1024 {
			r.types[rec.Type] = ti
		}
	}
	if !ti.ok {
		r.noteUnknownType(rec.Type)
		return 0
	}
	var content *statusgo.ContentType
	if rec.Content != "" {
		if c, err := statusgo.ParseContentType(rec.Content); err == nil {
			content = &c
		} else {
			r.noteUnknownType(rec.Content)
		}
	}
	chat := statusgo.ChatUnknown
	if rec.Chat != "" {
		if k, err := statusgo.ParseChatKind(rec.Chat); err == nil {
			chat = k
		}
	} else {
		chat = chatOf(rec.Via)
	}
	flow, ok := r.cfg.Flows.Classify(ti.t, content, chat)
	if !ok {
		return 0
	}
	return flow
}

// chatOf infers the chat kind from the path. On the private path (and in
// MVDS) a chat message is a one-to-one message: in a private group
// status-go's dispatchMessage wraps chat content in a
// MEMBERSHIP_UPDATE_MESSAGE, so a CHAT_MESSAGE sent privately is not a
// group's.
func chatOf(v Via) statusgo.ChatKind {
	switch v {
	case ViaMVDS, ViaPrivate, ViaPrivateRaw:
		return statusgo.ChatOneToOne
	case ViaCommunity:
		return statusgo.ChatCommunity
	case ViaPublic:
		return statusgo.ChatPublic
	}
	return statusgo.ChatUnknown
}

func (r *Recorder) noteUnknownType(name string) {
	r.state.UnknownTypes++
	if len(r.state.UnknownTypeNames) < 20 && !contains(r.state.UnknownTypeNames, name) {
		r.state.UnknownTypeNames = append(r.state.UnknownTypeNames, name)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// track starts the state of a message's round.
func (r *Recorder) track(rec Record, start bool) *message {
	if len(r.open) >= r.cfg.Limits.Open {
		// Memory is bounded: the message closest to its horizon leaves the
		// checks, and the report says how many did.
		var victim *message
		if len(r.deadlines) > 0 {
			victim = r.deadlines[0]
		} else {
			// Only unconfirmed messages are left: any of them.
			for _, m := range r.open {
				victim = m
				break
			}
		}
		r.state.Evicted++
		r.drop(victim)
		r.counts(victim.flow).Evicted++
	}
	r.seq++
	m := &message{seq: r.seq, key: msgKey{rec.Node, rec.ID}, typ: rec.Type, created: rec.At,
		deadline: rec.At.Add(r.cfg.Horizon), sawStart: start, first: rec.Evidence, last: rec.Evidence}
	r.open[m.key] = m
	heap.Push(&r.deadlines, m)
	if n := len(r.open); n > r.state.PeakOpen {
		r.state.PeakOpen = n
	}
	return m
}

// create starts tracking a new message and counts it in its flow.
func (r *Recorder) create(rec Record, start bool) *message {
	m := r.track(rec, start)
	m.flow = r.classify(rec)
	r.counts(m.flow).Messages++
	return m
}

// drop forgets an open message, and the reconnects it was pending at stop
// waiting for it.
func (r *Recorder) drop(m *message) {
	if m.heapIdx >= 0 {
		heap.Remove(&r.deadlines, m.heapIdx)
	}
	delete(r.open, m.key)
	if !m.mvds {
		return
	}
	n := r.nodeOf(m.key.node)
	n.openMVDS--
	for _, w := range n.watches {
		if w.pending > 0 && !m.created.After(w.at) && !m.mvdsAt.After(w.at) {
			w.pending--
		}
	}
}

// lookup finds a message's state: open, finished or unknown.
func (r *Recorder) lookup(k msgKey) (*message, *finished) {
	if m := r.open[k]; m != nil {
		return m, nil
	}
	return nil, r.finished[k]
}

// reopen starts a new round for a failed message (the user pressed retry).
func (r *Recorder) reopen(f *finished, rec Record) *message {
	f.gone = true
	delete(r.finished, f.m.key)
	old := f.m
	c := r.counts(old.flow)
	switch f.counted {
	case outFailed:
		c.Failed--
	case outSilent:
		c.Silent--
	}
	m := r.track(rec, true)
	m.flow, m.typ = old.flow, old.typ
	m.outside, m.outsideReported = old.outside, old.outsideReported
	if old.mvds {
		m.mvds, m.mvdsAt = true, rec.At
		r.nodeOf(m.key.node).openMVDS++
	}
	return m
}

// forRecord returns the open state for a record of a message, creating it
// or reopening a failed one; nil when the message already ended otherwise.
func (r *Recorder) forRecord(rec Record, start bool) *message {
	k := msgKey{rec.Node, rec.ID}
	m, f := r.lookup(k)
	switch {
	case m != nil:
		return m
	case f == nil:
		return r.create(rec, start)
	case f.outcome == outFailed:
		return r.reopen(f, rec)
	}
	r.state.AfterOutcome++
	return nil
}

func (r *Recorder) send(rec Record) {
	m := r.forRecord(rec, true)
	if m == nil {
		return
	}
	if rec.Attempts > 0 {
		// Attempts made before the message was tracked (Track after an
		// append).
		m.attempts += rec.Attempts
	}
	r.touch(m, rec)
	if rec.Via.Outside() {
		r.transmitted(m, rec)
	}
}

func (r *Recorder) attempt(rec Record) {
	if rec.Via == ViaUnknown {
		rec.Via = ViaMVDS
	}
	m := r.forRecord(rec, false)
	if m == nil {
		return
	}
	r.touch(m, rec)
	r.transmitted(m, rec)
}

// touch records what any message record adds: a type that places an
// unclassified message, the path, the latest evidence.
func (r *Recorder) touch(m *message, rec Record) {
	m.last = rec.Evidence
	// A record that names a type the message was not yet judged by may
	// place it (a send logged after the message's first transmission).
	if m.flow == 0 && (rec.Flow.Valid() || rec.Type != "" && rec.Type != m.typ) {
		if f := r.classify(rec); f != 0 {
			r.reclassify(m, f)
		}
		if m.typ == "" {
			m.typ = rec.Type
		}
	}
	c := r.counts(m.flow)
	switch {
	case rec.Via == ViaMVDS && !m.mvds:
		m.mvds, m.mvdsAt = true, rec.At
		c.MVDS++
		r.nodeOf(m.key.node).openMVDS++
	case rec.Via.Outside() && !m.outside:
		m.outside = true
		c.Outside++
	}
}

// reclassify moves an unclassified message to the flow a later record
// revealed.
func (r *Recorder) reclassify(m *message, f mvdsguard.Flow) {
	from, to := r.counts(m.flow), r.counts(f)
	from.Messages--
	to.Messages++
	if m.mvds {
		from.MVDS--
		to.MVDS++
	}
	if m.outside {
		from.Outside--
		to.Outside++
	}
	m.flow = f
}

// transmitted counts one transmission and judges its path.
func (r *Recorder) transmitted(m *message, rec Record) {
	m.attempts++
	for _, w := range r.nodeOf(m.key.node).watches {
		if !w.satisfied && !m.created.After(w.at) && !rec.At.Before(w.at) && !rec.At.After(w.deadline) {
			w.satisfied = true
		}
	}
	if rec.Via.Outside() && m.flow.Critical() && !m.outsideReported {
		m.outsideReported = true
		typ := m.typ
		if typ == "" {
			typ = "type not logged"
		}
		msg := fmt.Sprintf("%s message %s (%s)%s was sent %s, not through MVDS: if this transmission is lost, nothing retransmits it until the peer acknowledges",
			m.flow, shortID(m.key.id), typ, toPeers(rec), rec.Via.describe())
		r.report(rule.NotMVDS, m.key, m.flow, rec.At, msg, rec.Evidence)
	}
}

func toPeers(rec Record) string {
	switch {
	case len(rec.Peers) == 1:
		return " to " + shortID(rec.Peers[0])
	case len(rec.Peers) > 1:
		return fmt.Sprintf(" to %d peers", len(rec.Peers))
	case rec.Peer != "":
		return " to " + shortID(rec.Peer)
	}
	return ""
}

// outcome handles delivered, failed and discarded.
func (r *Recorder) outcome(rec Record, out outcome) {
	k := msgKey{rec.Node, rec.ID}
	m, f := r.lookup(k)
	switch {
	case m != nil:
	case f != nil:
		// A repeated or late outcome: at-least-once sources repeat them.
		r.state.AfterOutcome++
		return
	default:
		// The message was sent before the input began.
		r.state.OutcomeWithoutSend++
		m = r.create(rec, false)
	}
	if out == outFailed {
		untried := rec.Attempts == 0 || (m.sawStart && m.attempts == 0)
		if untried {
			msg := fmt.Sprintf("%s message %s failed", nameFlow(m.flow), shortID(m.key.id))
			if rec.Reason != "" {
				msg += " (" + rec.Reason + ")"
			}
			msg += " without a single attempt: the user is told it failed although it was never sent"
			ev := []Evidence{m.first}
			if m.first != rec.Evidence {
				ev = append(ev, rec.Evidence)
			}
			r.report(rule.FailedUntried, k, m.flow, rec.At, msg, ev...)
		}
	}
	m.last = rec.Evidence
	r.close(m, out, &rec)
}

// close ends a message's round: with its outcome, or silent when its
// horizon passed first (rec is nil then, or the late outcome).
func (r *Recorder) close(m *message, out outcome, rec *Record) {
	r.drop(m)
	at, counted := m.deadline, out
	if rec != nil {
		at = rec.At
		if at.After(m.deadline) {
			r.silent(m, rec)
			counted = outSilent
		}
	} else {
		r.silent(m, nil)
	}
	c := r.counts(m.flow)
	switch counted {
	case outDelivered:
		c.Delivered++
	case outFailed:
		c.Failed++
	case outDiscarded:
		c.Discarded++
	}
	if len(r.finished) >= r.cfg.Limits.Finished {
		if old, ok := r.finishedQ.peek(); ok {
			r.finishedQ.pop()
			if !old.gone {
				delete(r.finished, old.m.key)
			}
		}
	}
	// A finished message is only looked up, never quoted again.
	m.first, m.last = Evidence{}, Evidence{}
	fin := &finished{m: m, outcome: out, counted: counted, at: at}
	r.finished[m.key] = fin
	r.finishedQ.push(fin)
}

// silent reports a message that had no outcome within the horizon: late
// when rec is its (late) outcome, still pending otherwise.
func (r *Recorder) silent(m *message, late *Record) {
	r.counts(m.flow).Silent++
	inScope := m.flow.Critical() || (m.flow == 0 && m.mvds)
	if !inScope || m.outsideReported {
		// Non-critical messages, and messages already reported as sent
		// outside MVDS (which nothing would tell about), are counted only.
		return
	}
	var msg string
	ev := []Evidence{m.first}
	if late != nil {
		what := map[Kind]string{KindDelivered: "delivered", KindFailed: "failed", KindDiscarded: "discarded"}[late.Kind]
		msg = fmt.Sprintf("%s message %s was %s only %s after it was first sent (horizon %s; %d attempts seen)",
			nameFlow(m.flow), shortID(m.key.id), what, roundDur(late.At.Sub(m.created)), r.cfg.Horizon, m.attempts)
		ev = append(ev, late.Evidence)
	} else {
		msg = fmt.Sprintf("%s message %s was neither delivered nor failed within %s of its first send (%d attempts seen): nobody was told",
			nameFlow(m.flow), shortID(m.key.id), r.cfg.Horizon, m.attempts)
		if m.last != m.first {
			ev = append(ev, m.last)
		}
	}
	r.report(rule.SilentDrop, m.key, m.flow, m.deadline, msg, ev...)
}

func (r *Recorder) rescheduled(rec Record) {
	if rec.Reason != string(mvdsguard.ReasonUserRetry) {
		if m := r.open[msgKey{rec.Node, rec.ID}]; m != nil {
			m.last = rec.Evidence
		}
		return
	}
	if _, f := r.lookup(msgKey{rec.Node, rec.ID}); f != nil && f.outcome == outFailed {
		r.reopen(f, rec)
	}
}

func (r *Recorder) connectivity(rec Record) {
	n := r.nodeOf(rec.Node)
	prev := n.online
	if rec.Online {
		n.online = 1
	} else {
		n.online = 0
	}
	if !rec.Online {
		// Offline again before the deadline: nothing could be sent.
		if len(n.watches) > 0 {
			r.state.ReconnectsCutShort += int64(len(n.watches))
			n.watches = n.watches[:0]
			r.recomputeNextWatch()
		}
		return
	}
	if !(prev == 0 || rec.Wake) || n.openMVDS == 0 {
		return
	}
	if len(n.watches) >= r.cfg.Limits.Reconnects {
		r.state.ReconnectsUnchecked++
		return
	}
	w := &watch{at: rec.At, deadline: rec.At.Add(r.cfg.ReconnectWithin), pending: n.openMVDS, evidence: rec.Evidence}
	n.watches = append(n.watches, w)
	r.state.Reconnects++
	if r.nextWatch.IsZero() || w.deadline.Before(r.nextWatch) {
		r.nextWatch = w.deadline
	}
}

func (r *Recorder) recomputeNextWatch() {
	r.nextWatch = time.Time{}
	for _, n := range r.nodes {
		for _, w := range n.watches {
			if r.nextWatch.IsZero() || w.deadline.Before(r.nextWatch) {
				r.nextWatch = w.deadline
			}
		}
	}
}

// judgeWatches reports the reconnects whose time ran out with messages
// still pending and none attempted.
func (r *Recorder) judgeWatches(cutoff time.Time) {
	names := make([]string, 0, len(r.nodes))
	for name := range r.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := r.nodes[name]
		kept := n.watches[:0]
		for _, w := range n.watches {
			if w.deadline.After(cutoff) {
				kept = append(kept, w)
				continue
			}
			if w.satisfied || w.pending == 0 {
				continue
			}
			msg := fmt.Sprintf("%sreconnected with %d message(s) pending through MVDS, and none was attempted within %s",
				nodePrefix(name), w.pending, r.cfg.ReconnectWithin)
			ev := []Evidence{w.evidence}
			if r.listing(rule.NoRetryAfterReconnect) {
				ev = append(ev, r.pendingExamples(name, w.at, 2)...)
			}
			r.report(rule.NoRetryAfterReconnect, msgKey{node: name}, 0, w.deadline, msg, ev...)
		}
		clear(n.watches[len(kept):])
		n.watches = kept
	}
	r.recomputeNextWatch()
}

// pendingExamples returns the last lines of up to k messages of node that
// were pending through MVDS at t, oldest first.
func (r *Recorder) pendingExamples(name string, t time.Time, k int) []Evidence {
	var ms []*message
	for key, m := range r.open {
		if key.node == name && m.mvds && !m.created.After(t) {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].created.Equal(ms[j].created) {
			return ms[i].created.Before(ms[j].created)
		}
		return ms[i].seq < ms[j].seq
	})
	var out []Evidence
	for _, m := range ms[:min(k, len(ms))] {
		out = append(out, m.last)
	}
	return out
}

func (r *Recorder) receipt(rec Record) {
	k := msgKey{rec.Node, rec.ID}
	if c := r.receipts[k]; c != nil {
		c.count++
		if c.count == 2 {
			msg := fmt.Sprintf("%sapplication was handed message %s a second time, %s after the first",
				nodePrefix(rec.Node), shortID(rec.ID), roundDur(rec.At.Sub(c.at)))
			r.report(rule.DuplicateReceipt, k, 0, rec.At, msg, c.first, rec.Evidence)
		}
		return
	}
	if len(r.receipts) >= r.cfg.Limits.Receipts {
		if old, ok := r.receiptsQ.peek(); ok {
			r.receiptsQ.pop()
			if !old.gone {
				delete(r.receipts, old.key)
			}
			r.state.ReceiptsForgotten++
		}
	}
	c := &receipt{key: k, at: rec.At, first: rec.Evidence, count: 1}
	r.receipts[k] = c
	r.receiptsQ.push(c)
}

// listing reports whether one more violation of id would be listed.
func (r *Recorder) listing(id string) bool {
	return r.severity[id] != rule.SeverityOff && len(r.violations[id].listed) < r.cfg.Limits.Violations
}

func (r *Recorder) report(id string, k msgKey, f mvdsguard.Flow, at time.Time, msg string, ev ...Evidence) {
	sev := r.severity[id]
	if sev == rule.SeverityOff {
		return
	}
	cs := r.violations[id]
	cs.count++
	if len(cs.listed) >= r.cfg.Limits.Violations {
		return
	}
	c, _ := rule.Lookup(id)
	v := Violation{Check: id, Name: c.Name, Severity: sev, Message: msg, Node: k.node, ID: k.id, At: at, Evidence: ev, flow: f}
	if f != 0 {
		v.Flow = f.String()
	}
	cs.listed = append(cs.listed, v)
}

// Finish judges everything that is due by end (the input is over, so no
// lateness is allowed for), counts the messages still open, and returns the
// report. The Recorder takes no records afterwards.
func (r *Recorder) Finish(end time.Time) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end(end)
	r.settle()
	return r.build()
}

// end judges what is due by end. A reconnect whose time to retry runs past
// end cannot be judged: the log stopped first.
func (r *Recorder) end(end time.Time) {
	if r.done {
		return
	}
	r.done = true
	if end.Before(r.clock) {
		end = r.clock
	}
	r.clock = end
	r.expire(end)
	for _, n := range r.nodes {
		for _, w := range n.watches {
			if !w.satisfied && w.pending > 0 {
				r.state.ReconnectsUndecided++
			}
		}
	}
}

// settle counts the messages still open at the end.
func (r *Recorder) settle() {
	if r.settled {
		return
	}
	r.settled = true
	for _, m := range r.open {
		if m.unconfirmed {
			r.counts(m.flow).Unconfirmed++
		} else {
			r.counts(m.flow).Open++
		}
	}
	r.state.OpenAtEnd = len(r.open)
}

// markAckBlind says the log comes from a release that does not log
// acknowledgements.
func (r *Recorder) markAckBlind() {
	r.mu.Lock()
	r.ackBlind = true
	r.mu.Unlock()
}

// openIDs returns the ids of the messages without an outcome, by node.
func (r *Recorder) openIDs() []msgKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]msgKey, 0, len(r.open))
	for k := range r.open {
		keys = append(keys, k)
	}
	return keys
}

// receivedElsewhere closes an open message that another node's log shows
// received: delivered, although its sender's log ended before saying so.
func (r *Recorder) receivedElsewhere(k msgKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.open[k]
	if m == nil || r.settled {
		return
	}
	r.drop(m)
	c := r.counts(m.flow)
	c.Delivered++
	c.Received++
}

// Clock returns the latest time the Recorder has seen.
func (r *Recorder) Clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clock
}

func (r *Recorder) build() *Report {
	rep := &Report{
		Config: configSummary(r.cfg),
		First:  r.first, Last: r.clock,
		State: r.state,
	}
	rep.State.Rejected = make(map[string]int64, len(r.state.Rejected))
	for k, v := range r.state.Rejected {
		rep.State.Rejected[k] = v
	}
	rep.State.UnknownTypeNames = append([]string(nil), r.state.UnknownTypeNames...)
	for _, f := range append(append([]mvdsguard.Flow(nil), mvdsguard.Flows...), 0) {
		c := r.flows[f]
		if c == nil {
			if f == 0 {
				continue
			}
			c = &FlowCounts{Flow: f}
		}
		fc := *c
		fc.Name = flowName(f)
		rep.Flows = append(rep.Flows, fc)
	}
	for _, c := range rule.Runtime.Rules() {
		cs := r.violations[c.ID]
		rep.Checks = append(rep.Checks, CheckSummary{ID: c.ID, Name: c.Name, Title: c.Title, Severity: r.severity[c.ID],
			Violations: cs.count, Listed: len(cs.listed)})
		rep.Violations = append(rep.Violations, cs.listed...)
	}
	return rep
}

func configSummary(c config.Runtime) ConfigSummary {
	return ConfigSummary{Horizon: c.Horizon.String(), ReconnectWithin: c.ReconnectWithin.String(), Lateness: c.Lateness.String()}
}

func flowName(f mvdsguard.Flow) string {
	if f == 0 {
		return "unclassified"
	}
	return f.String()
}

func nameFlow(f mvdsguard.Flow) string {
	if f == 0 {
		return "unclassified"
	}
	return f.String()
}

func nodePrefix(n string) string {
	if n == "" {
		return "the node "
	}
	return "node " + n + " "
}

// shortID shortens a hex id for messages; other ids stay whole.
func shortID(id string) string {
	if strings.HasPrefix(id, "0x") && len(id) > 14 {
		return id[:10] + "…"
	}
	return id
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Minute:
		return d.Round(time.Second)
	case d >= time.Minute:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// deadlineHeap orders open messages by their horizon.
type deadlineHeap []*message

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].seq < h[j].seq
}
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *deadlineHeap) Push(x any) {
	m := x.(*message)
	m.heapIdx = len(*h)
	*h = append(*h, m)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}

// fifo is a queue on a ring buffer that shrinks when emptied.
type fifo[T any] struct {
	buf        []T
	head, size int
}

func (q *fifo[T]) push(v T) {
	if q.size == len(q.buf) {
		n := max(16, 2*len(q.buf))
		nb := make([]T, n)
		for i := 0; i < q.size; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = v
	q.size++
}

func (q *fifo[T]) peek() (T, bool) {
	var zero T
	if q.size == 0 {
		return zero, false
	}
	return q.buf[q.head], true
}

func (q *fifo[T]) pop() {
	var zero T
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	if q.size == 0 && len(q.buf) > 1024 {
		q.buf, q.head = nil, 0
	}
}
