package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/sgnode"
)

// What status-go nodes need around the steps: the checks of what status-go
// can express, contacts and groups before the first step, reconnecting
// after a restart, sleeping, and a lost signal stream.

// cannotExpress lists, with file:line, the parts of a scenario that
// status-go nodes cannot run: faults injected at the reference node's
// shim, its Guard's actions, flows status-backend offers no call for, and
// light clients (status-go finds its service nodes through its fleet).
func cannotExpress(s *scenario.Scenario, netns bool) []string {
	var out []string
	add := func(line int, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s:%d: %s", s.File, line, fmt.Sprintf(format, args...)))
	}
	for _, n := range s.Nodes {
		if n.Light != "" {
			add(n.Line, "nodes.%s: a light client of a node the runner names: status-go takes its light-client service nodes from its fleet", n.Name)
		}
	}
	var walk func(steps []scenario.Step)
	walk = func(steps []scenario.Step) {
		for _, st := range steps {
			switch st.Kind {
			case scenario.StepPartition, scenario.StepHeal, scenario.StepLatency:
				if !netns {
					add(st.Line, "%s: a fault injected at the reference node's shim; status-go has no such hook (run with -netns: the kernel does it)", st.Kind)
				}
			case scenario.StepClockJump:
				add(st.Line, "clock_jump: moves the reference node's Guard clock; status-go has none to move")
			case scenario.StepRetry, scenario.StepDiscard:
				add(st.Line, "%s: a Guard action; stock status-go has no retry or discard for datasync messages", st.Kind)
			case scenario.StepSend:
				switch st.Send.Flow {
				case "contact_request", "one_to_one", "private_group":
				default:
					add(st.Line, "send: flow %s: the runner maps only contact_request, one_to_one and private_group onto status-go calls (a join request needs a community and its admin's approval)", st.Send.Flow)
				}
			case scenario.StepParallel:
				walk(st.Parallel)
			}
		}
	}
	walk(s.Steps)
	return out
}

// unexpressedExpectation says why status-go nodes cannot answer x, or "".
func (r *run) unexpressedExpectation(x scenario.Expectation) string {
	if r.sg == nil {
		return ""
	}
	switch x.Kind {
	case scenario.ExpectNoDuplicates:
		return "status-go drops a message it already has before any signal, so a second copy is invisible to its API"
	case scenario.ExpectEvent:
		if !r.sg.guardWired() {
			return "stock status-go publishes no mvds.message.* events (they come with the Guard wired in)"
		}
	}
	return ""
}

// sgByKey is the status-go node logged in as the user with public key key.
func (r *run) sgByKey(key string) *sgNode {
	for _, n := range r.nodes {
		if n.sg == nil {
			continue
		}
		if strings.EqualFold(n.sg.publicKey(), key) {
			return n.sg
		}
	}
	return nil
}

// needsOffline reports whether a scenario tells a node it is offline.
func needsOffline(steps []scenario.Step) (int, bool) {
	for _, st := range steps {
		switch st.Kind {
		case scenario.StepOffline, scenario.StepOnline, scenario.StepFlap:
			return st.Line, true
		case scenario.StepParallel:
			if l, ok := needsOffline(st.Parallel); ok {
				return l, true
			}
		}
	}
	return 0, false
}

// probeStatusGo checks, on the first node logged in, that its build can be
// told it is offline when the scenario needs that: status-backend serves
// ConnectionChange only from some status-go versions on. With -netns,
// offline is the node's link going down in the kernel, and status-go is not
// told.
func (r *run) probeStatusGo(ctx context.Context, first *node) error {
	line, ok := needsOffline(r.s.Steps)
	if !ok || r.lab != nil {
		return nil
	}
	if err := first.client.SetOnline(ctx, true); err != nil {
		if errors.Is(err, errCannotExpress) {
			return fmt.Errorf("cannot express on status-go: %s:%d: going offline needs ConnectionChange, or -netns: %w", r.s.File, line, err)
		}
		return err
	}
	return nil
}

// setupStatusGo does on status-go what a reference node needs no setup
// for. It makes every pair of users that exchange 1:1 or
// group messages mutual contacts (status-go's precondition for both); and
// creates each private group at its first member, the others joining it.
func (r *run) setupStatusGo(ctx context.Context) error {
	for _, p := range r.contactPairs() {
		if err := r.makeContacts(ctx, p[0], p[1]); err != nil {
			return err
		}
	}
	for _, gr := range r.s.Groups {
		if err := r.makeGroup(ctx, gr); err != nil {
			return err
		}
	}
	return nil
}

// contactPairs are the pairs of nodes that must be mutual contacts.
func (r *run) contactPairs() [][2]*node {
	seen := map[[2]string]bool{}
	var out [][2]*node
	add := func(a, b string) {
		if a == b || seen[[2]string{a, b}] || seen[[2]string{b, a}] {
			return
		}
		seen[[2]string{a, b}] = true
		out = append(out, [2]*node{r.byName[a], r.byName[b]})
	}
	var walk func([]scenario.Step)
	walk = func(steps []scenario.Step) {
		for _, st := range steps {
			if st.Kind == scenario.StepSend && st.Send.Flow == "one_to_one" && st.Send.To != "" {
				add(st.Send.From, st.Send.To)
			}
			walk(st.Parallel)
		}
	}
	walk(r.s.Steps)
	for _, g := range r.s.Groups {
		for i, a := range g.Members {
			for _, b := range g.Members[i+1:] {
				add(a, b)
			}
		}
	}
	return out
}

// makeContacts: a sends b a contact request, b accepts it, and a sees b
// as a mutual contact.
func (r *run) makeContacts(ctx context.Context, a, b *node) error {
	ctx, cancel := context.WithTimeout(ctx, sgTimeout)
	defer cancel()
	r.progress("setup: %s and %s become contacts", a.spec.Name, b.spec.Name)
	aa, err := a.sg.client()
	if err != nil {
		return err
	}
	bb, err := b.sg.client()
	if err != nil {
		return err
	}
	cr, err := aa.SendContactRequest(ctx, b.info.ID, "mvdsqa setup")
	if err != nil {
		return fmt.Errorf("setup: contacts %s and %s: %w", a.spec.Name, b.spec.Name, err)
	}
	if _, err := bb.Signals.Wait(ctx, 0, func(s sgnode.Signal) bool {
		for _, m := range sgnode.NewMessages(s) {
			if strings.EqualFold(m.ID, cr.ID) {
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("setup: %s never got %s's contact request: %w", b.spec.Name, a.spec.Name, err)
	}
	if err := bb.AcceptContactRequest(ctx, cr.ID); err != nil {
		return fmt.Errorf("setup: contacts %s and %s: %w", a.spec.Name, b.spec.Name, err)
	}
	for {
		var c struct {
			Mutual bool `json:"mutual"`
		}
		if err := aa.RPC(ctx, "wakuext_getContactByID", &c, b.info.ID); err == nil && c.Mutual {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("setup: %s never saw %s accept its contact request: %w", a.spec.Name, b.spec.Name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	// A chat is in use once a message has gone each way: before that,
	// status-go may still be setting up the keys and topics the first
	// messages travel on, and that is not what a scenario measures.
	began := time.Now()
	if err := warmUp(ctx, aa, bb, b.info.ID); err != nil {
		return fmt.Errorf("setup: 1:1 chat %s to %s: %w", a.spec.Name, b.spec.Name, err)
	}
	if err := warmUp(ctx, bb, aa, a.info.ID); err != nil {
		return fmt.Errorf("setup: 1:1 chat %s to %s: %w", b.spec.Name, a.spec.Name, err)
	}
	r.progress("setup: the 1:1 chat of %s and %s carried a message each way in %.1fs", a.spec.Name, b.spec.Name, time.Since(began).Seconds())
	return nil
}

// warmUp sends a 1:1 message from one user to the other (public key to)
// and waits until it is in the other's messages.new.
func warmUp(ctx context.Context, from, to *sgnode.Node, key string) error {
	m, err := from.SendOneToOne(ctx, key, "mvdsqa setup: chat in use")
	if err != nil {
		return err
	}
	_, err = to.Signals.Wait(ctx, 0, func(s sgnode.Signal) bool {
		for _, got := range sgnode.NewMessages(s) {
			if strings.EqualFold(got.ID, m.ID) {
				return true
			}
		}
		return false
	})
	return err
}

// makeGroup creates a private group at its first member; every other
// member waits for the chat and joins it.
func (r *run) makeGroup(ctx context.Context, gr scenario.Group) error {
	ctx, cancel := context.WithTimeout(ctx, sgTimeout)
	defer cancel()
	r.progress("setup: group %s", gr.Name)
	creator := r.byName[gr.Members[0]]
	api, err := creator.sg.client()
	if err != nil {
		return err
	}
	var keys []string
	for _, m := range gr.Members[1:] {
		keys = append(keys, r.byName[m].info.ID)
	}
	chat, err := api.CreateGroup(ctx, gr.Name, keys)
	if err != nil {
		return fmt.Errorf("setup: group %s: %w", gr.Name, err)
	}
	r.sg.mu.Lock()
	r.sg.groups[gr.Name] = chat
	r.sg.mu.Unlock()
	for _, m := range gr.Members[1:] {
		mem, err := r.byName[m].sg.client()
		if err != nil {
			return err
		}
		if _, err := mem.Signals.Wait(ctx, 0, func(s sgnode.Signal) bool {
			if s.Type != sgnode.SignalNewMessages {
				return false
			}
			var resp sgnode.Response
			_ = json.Unmarshal(s.Event, &resp)
			for _, c := range resp.Chats {
				if c.ID == chat {
					return true
				}
			}
			return false
		}); err != nil {
			return fmt.Errorf("setup: %s never got group %s: %w", m, gr.Name, err)
		}
		if err := mem.ConfirmJoiningGroup(ctx, chat); err != nil {
			return fmt.Errorf("setup: %s joining group %s: %w", m, gr.Name, err)
		}
	}
	return nil
}

// reconnectStatusGo dials, from a restarted status-go node, every running
// node it was meshed with: its Waku port changed with the restart, so the
// nodes that had dialed it cannot find it again by themselves.
func (r *run) reconnectStatusGo(ctx context.Context, n *node) error {
	for _, o := range r.nodes {
		if o == n || !o.running() || o.spec.Light != "" {
			continue
		}
		linked := false
		for _, p := range r.peersOf(n) {
			linked = linked || p == o
		}
		for _, p := range r.peersOf(o) {
			linked = linked || p == n
		}
		if !linked {
			continue
		}
		if err := dial(ctx, n, o, ""); err != nil {
			return err
		}
	}
	return nil
}

// statusGoRun reports whether a run puts nodes on status-go.
func statusGoRun(s *scenario.Scenario, opts Options) bool {
	if opts.StatusBackend != "" {
		return true
	}
	for _, n := range s.Nodes {
		if n.Run == scenario.StatusBackend {
			return true
		}
	}
	return false
}

// checkStatusGo refuses, before any process starts, a run on status-go that
// status-go cannot express, and one that mixes status-go nodes with
// reference nodes (their Waku networks share no pubsub topic).
func checkStatusGo(s *scenario.Scenario, opts Options) error {
	if !statusGoRun(s, opts) {
		return nil
	}
	var mixed []string
	for _, n := range s.Nodes {
		run := n.Run
		if opts.StatusBackend != "" && (run == scenario.InProcess || run == scenario.Process) {
			run = scenario.StatusBackend
		}
		if run != scenario.StatusBackend {
			mixed = append(mixed, n.Name)
		}
	}
	if len(mixed) > 0 {
		return fmt.Errorf("setup: %s: nodes %s are not status-backend nodes: a run is all status-go or none (their Waku networks do not meet)", s.File, names(mixed))
	}
	if problems := cannotExpress(s, opts.NetNS); len(problems) > 0 {
		return fmt.Errorf("cannot express on status-go: %s", strings.Join(problems, "; "))
	}
	return nil
}

// sleepStatusGo is a laptop sleeping: the status-backend process is
// frozen (SIGSTOP) for d and continued. Status-go has no clock of its own
// to jump: it reads the system's.
func (r *run) sleepStatusGo(ctx context.Context, n *node, d time.Duration) error {
	if err := n.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	if err := sleep(ctx, d); err != nil {
		_ = n.signal(syscall.SIGCONT)
		return err
	}
	return n.signal(syscall.SIGCONT)
}

// lostStreams reports the status-go nodes whose signal stream closed for
// good during the run, each with the step that was running: without its
// signals the runner saw nothing more of the node, and the verdicts on its
// messages mean nothing.
func (r *run) lostStreams() error {
	if r.sg == nil {
		return nil
	}
	var errs []error
	for _, n := range r.nodes {
		if n.sg == nil {
			continue
		}
		n.sg.mu.Lock()
		api := n.sg.api
		n.sg.mu.Unlock()
		if api == nil || api.Signals.Err() == nil {
			continue
		}
		errs = append(errs, fmt.Errorf("%w (%s)", api.Signals.Err(), r.stepAt(api.Signals.ClosedAt())))
	}
	return errors.Join(errs...)
}

// stepAt names the step that was running at t, or the last one started
// before it.
func (r *run) stepAt(t time.Time) string {
	at := t.Sub(r.start).Seconds()
	var last *StepResult
	steps := r.stepResults()
	for i := range steps {
		if steps[i].Start <= at {
			last = &steps[i]
		}
	}
	if last == nil {
		return "before the first step"
	}
	return fmt.Sprintf("during or after step %s:%d %s", r.s.File, last.Line, last.Kind)
}
