package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// do performs one step.
func (r *run) do(ctx context.Context, st scenario.Step) error {
	r.progress("%s", describeStep(st))
	n := r.byName[st.Node]
	switch st.Kind {
	case scenario.StepSend:
		return r.send(ctx, st.Send)
	case scenario.StepNetem, scenario.StepLinkDown, scenario.StepLinkUp, scenario.StepIPChange, scenario.StepPause:
		return r.kernelStep(ctx, st)
	case scenario.StepOffline:
		if err := r.setOnline(ctx, st, n, false); err != nil {
			return err
		}
		if st.For == 0 {
			return nil
		}
		if err := sleep(ctx, st.For); err != nil {
			return err
		}
		return r.setOnline(ctx, st, n, true)
	case scenario.StepOnline:
		return r.setOnline(ctx, st, n, true)
	case scenario.StepFlap:
		for i := 0; i < st.Times; i++ {
			down := time.Now()
			if err := r.setOnline(ctx, st, n, false); err != nil {
				return err
			}
			if err := sleep(ctx, st.Down); err != nil {
				return err
			}
			if err := r.setOnline(ctx, st, n, true); err != nil {
				return err
			}
			r.outages.add(OutageOffline, []string{st.Node}, st.Line, down, time.Now())
			if i < st.Times-1 {
				if err := sleep(ctx, st.Up); err != nil {
					return err
				}
			}
		}
		return nil
	case scenario.StepWait:
		return sleep(ctx, st.For)
	case scenario.StepKill:
		if err := n.kill(); err != nil {
			return err
		}
		if st.For == 0 {
			return nil
		}
		if err := sleep(ctx, st.For); err != nil {
			return err
		}
		return r.restart(ctx, n)
	case scenario.StepRestart:
		if n.running() {
			return fmt.Errorf("node %s is running; kill it first", n.spec.Name)
		}
		return r.restart(ctx, n)
	case scenario.StepPartition, scenario.StepHeal:
		if r.lab != nil {
			return r.netnsPartition(ctx, st)
		}
		return r.partition(ctx, st)
	case scenario.StepLatency:
		if r.lab != nil {
			return r.netnsLatency(ctx, st, n)
		}
		r.faults.Lock()
		n.latency = st.Delay
		r.faults.Unlock()
		return r.applyFaults(ctx, n)
	case scenario.StepClockJump:
		_, err := n.client.JumpClock(ctx, st.By)
		return err
	case scenario.StepSleep:
		return r.sleepNode(ctx, n, st.For)
	case scenario.StepConnect:
		return dial(ctx, r.byName[st.Pair[0]], r.byName[st.Pair[1]], "")
	case scenario.StepDisconnect:
		a, b := r.byName[st.Pair[0]], r.byName[st.Pair[1]]
		return a.client.Disconnect(ctx, b.info.PeerID)
	case scenario.StepRetry:
		_, err := n.client.Retry(ctx, st.Message)
		return err
	case scenario.StepDiscard:
		_, err := n.client.Discard(ctx, st.Message)
		return err
	case scenario.StepParallel:
		var wg sync.WaitGroup
		errs := make([]error, len(st.Parallel))
		for i, sub := range st.Parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.step(ctx, sub)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return fmt.Errorf("unknown step %q", st.Kind)
}

// send sends the step's messages one after the other, Every apart.
func (r *run) send(ctx context.Context, s *scenario.Send) error {
	from := r.byName[s.From]
	var to []string
	if s.To != "" {
		to = []string{s.To}
	} else {
		for _, g := range r.s.Groups {
			if g.Name == s.Group {
				for _, m := range g.Members {
					if m != s.From {
						to = append(to, m)
					}
				}
			}
		}
	}
	r.mu.Lock()
	r.senders[s.From] = true
	r.mu.Unlock()
	var failures []string
	for i, id := range s.IDs() {
		if i > 0 && s.Every > 0 {
			if err := sleep(ctx, s.Every); err != nil {
				return err
			}
		}
		req := qanode.SendRequest{ID: id, Flow: s.Flow, Kind: s.Kind, ChatID: s.Chat, Payload: s.Payload, Group: s.Group}
		if s.To != "" {
			req.To = r.byName[s.To].info.ID
		}
		err := sendOnce(ctx, from, req)
		m := &sentMessage{id: id, from: s.From, to: to, at: time.Now(), accepted: err == nil}
		if err != nil {
			m.err = err.Error()
			failures = append(failures, fmt.Sprintf("%s: %v", id, err))
		}
		r.mu.Lock()
		r.sent[id] = m
		r.order = append(r.order, id)
		r.mu.Unlock()
		if err != nil && !s.AllowFailures {
			return fmt.Errorf("send %s from %s: %w", id, s.From, err)
		}
	}
	if len(failures) > 0 {
		r.progress("%d of %d sends refused (allowed): first: %s", len(failures), len(s.IDs()), failures[0])
	}
	return nil
}

// sendOnce asks a node to send a message. A request that got no HTTP
// answer at all (the connection closed under a loaded machine) may or may
// not have reached the node: the runner asks the node whether it has the
// message, and sends again only if it has not — message ids are unique, so
// the message is sent once either way.
func sendOnce(ctx context.Context, n *node, req qanode.SendRequest) error {
	_, err := n.client.Send(ctx, req)
	var status *qanode.StatusError
	if err == nil || errors.As(err, &status) || ctx.Err() != nil || n.sg != nil {
		// A status-go node's error is status-go's answer (its client
		// tells a lost connection apart itself).
		return err
	}
	_, gerr := n.client.Message(ctx, req.ID)
	if gerr == nil {
		return nil
	}
	if errors.As(gerr, &status) && status.Code == http.StatusNotFound {
		_, err = n.client.Send(ctx, req)
	}
	return err
}

// restart starts a killed node again on the same data and addresses, dials
// its peers, and puts back the faults the runner had set on it.
func (r *run) restart(ctx context.Context, n *node) error {
	if err := n.start(ctx, r); err != nil {
		return err
	}
	if n.sg != nil {
		return r.reconnectStatusGo(ctx, n)
	}
	if err := r.connect(ctx, n); err != nil {
		return err
	}
	return r.applyFaults(ctx, n)
}

func (r *run) partition(ctx context.Context, st scenario.Step) error {
	cut := st.Kind == scenario.StepPartition
	var touched []*node
	r.faults.Lock()
	if st.All {
		for _, n := range r.nodes {
			if len(n.parted) > 0 {
				n.parted = map[string]bool{}
				touched = append(touched, n)
			}
		}
	} else {
		a, b := r.byName[st.Pair[0]], r.byName[st.Pair[1]]
		for _, p := range [][2]*node{{a, b}, {b, a}} {
			if cut {
				p[0].parted[p[1].info.ID] = true
			} else {
				delete(p[0].parted, p[1].info.ID)
			}
		}
		touched = []*node{a, b}
	}
	r.faults.Unlock()
	for _, n := range touched {
		if err := r.applyFaults(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) applyFaults(ctx context.Context, n *node) error {
	if !n.running() {
		return nil // applied when it restarts
	}
	r.faults.Lock()
	f := qanode.Faults{Partition: []string{}, Latency: qanode.Duration(n.latency)}
	for p := range n.parted {
		f.Partition = append(f.Partition, p)
	}
	r.faults.Unlock()
	return n.client.SetFaults(ctx, f)
}

// sleepNode is a laptop sleeping for d. A process node is frozen
// (SIGSTOP): it runs nothing, its connections idle. Other nodes cannot be
// frozen by the runner, so they go offline instead. Either way, on waking
// the Guard's wall clock jumps by d while its monotonic clock did not see
// the sleep — what suspend does — so its wake detector fires.
func (r *run) sleepNode(ctx context.Context, n *node, d time.Duration) error {
	if n.sg != nil {
		return r.sleepStatusGo(ctx, n, d)
	}
	if n.spec.Run == scenario.Process {
		if err := n.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		if err := sleep(ctx, d); err != nil {
			_ = n.signal(syscall.SIGCONT)
			return err
		}
		if err := n.signal(syscall.SIGCONT); err != nil {
			return err
		}
		_, err := n.client.JumpClock(ctx, d)
		return err
	}
	if err := n.client.SetOnline(ctx, false); err != nil {
		return err
	}
	if err := sleep(ctx, d); err != nil {
		return err
	}
	if _, err := n.client.JumpClock(ctx, d); err != nil {
		return err
	}
	return r.online(ctx, n)
}

// setOnline takes a node off the network or brings it back: through its
// API, or under -netns with its link.
func (r *run) setOnline(ctx context.Context, st scenario.Step, n *node, online bool) error {
	if online {
		r.noteBack(ctx, n)
	}
	if r.lab != nil && n.host != nil {
		return r.netnsOnline(ctx, st, n, online)
	}
	if online {
		return r.online(ctx, n)
	}
	return n.client.SetOnline(ctx, false)
}

// online brings a node back and waits until its connectivity signal says
// online — for a light client, until its filter subscription is in place
// again — so that the next step meets a node that can hear.
func (r *run) online(ctx context.Context, n *node) error {
	if err := n.client.SetOnline(ctx, true); err != nil {
		return err
	}
	return waitOnline(ctx, n)
}
