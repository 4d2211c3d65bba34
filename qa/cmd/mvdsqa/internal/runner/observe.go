package runner

import (
	"context"
	"sync"
	"time"
)

// observer polls every running node and remembers, by the runner's own
// clock, when it first saw each change: a message's status, a recipient's
// delivery, a received message, an event. Measuring on one clock keeps
// results comparable for nodes on other machines and for nodes whose Guard
// clock was made to jump.
type observer struct {
	r    *run
	poll time.Duration

	mu       sync.Mutex
	status   map[string]map[string]*seenMessage // sender → id → what was seen
	received map[string]map[string]*seenReceipt // receiver → id → what was seen
	events   map[string]map[string]map[string]time.Time
	recvCur  map[string]int64
	evCur    map[string]uint64
}

type seenMessage struct {
	status map[string]time.Time // status → first seen
	to     map[string]time.Time // recipient peer id → first seen delivered
	last   string
	// attempts: when each attempt was first seen counted (timeline.go).
	attempts []time.Time
	count    int
}

type seenReceipt struct {
	count int
	first time.Time
}

func newObserver(r *run, poll time.Duration) *observer {
	return &observer{
		r: r, poll: poll,
		status:   map[string]map[string]*seenMessage{},
		received: map[string]map[string]*seenReceipt{},
		events:   map[string]map[string]map[string]time.Time{},
		recvCur:  map[string]int64{},
		evCur:    map[string]uint64{},
	}
}

// run polls each node on its own goroutine, so that a node that is slow to
// answer (or frozen) does not delay what is seen of the others.
func (o *observer) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range o.r.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(o.poll)
			defer t.Stop()
			for {
				if n.isUp() {
					o.pollNode(ctx, n)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

// once polls every running node one time.
func (o *observer) once(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range o.r.nodes {
		if !n.isUp() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.pollNode(ctx, n)
		}()
	}
	wg.Wait()
}

func (o *observer) pollNode(ctx context.Context, n *node) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name := n.spec.Name
	if o.r.sends(name) {
		if ms, err := n.client.Messages(ctx); err == nil {
			now := time.Now()
			o.mu.Lock()
			byID := o.status[name]
			if byID == nil {
				byID = map[string]*seenMessage{}
				o.status[name] = byID
			}
			for _, m := range ms {
				s := byID[m.ID]
				if s == nil {
					s = &seenMessage{status: map[string]time.Time{}, to: map[string]time.Time{}}
					byID[m.ID] = s
				}
				if _, ok := s.status[m.Status]; !ok {
					s.status[m.Status] = now
				}
				if m.Stalled {
					if _, ok := s.status["stalled"]; !ok {
						s.status["stalled"] = now
					}
				}
				s.last = m.Status
				s.sawAttempts(m.Attempts, now)
				for _, rc := range m.Recipients {
					if _, ok := s.to[rc.Peer]; !ok && rc.Status == "delivered" {
						s.to[rc.Peer] = now
					}
				}
			}
			o.mu.Unlock()
		}
	}
	o.mu.Lock()
	after := o.recvCur[name]
	o.mu.Unlock()
	if rs, err := n.client.Received(ctx, after); err == nil && len(rs) > 0 {
		now := time.Now()
		o.mu.Lock()
		byID := o.received[name]
		if byID == nil {
			byID = map[string]*seenReceipt{}
			o.received[name] = byID
		}
		for _, r := range rs {
			s := byID[r.ID]
			if s == nil {
				s = &seenReceipt{first: now}
				byID[r.ID] = s
			}
			s.count++
			if r.Seq > o.recvCur[name] {
				o.recvCur[name] = r.Seq
			}
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	evAfter := o.evCur[name]
	o.mu.Unlock()
	if evs, err := n.client.Events(ctx, evAfter); err == nil && len(evs) > 0 {
		now := time.Now()
		o.mu.Lock()
		byID := o.events[name]
		if byID == nil {
			byID = map[string]map[string]time.Time{}
			o.events[name] = byID
		}
		for _, e := range evs {
			typ := e.Type.String()
			if byID[e.ID] == nil {
				byID[e.ID] = map[string]time.Time{}
			}
			if _, ok := byID[e.ID][typ]; !ok {
				byID[e.ID][typ] = now
			}
			if e.Seq > o.evCur[name] {
				o.evCur[name] = e.Seq
			}
		}
		o.mu.Unlock()
	}
}

// statusAt returns when sender's message id was first seen in status.
func (o *observer) statusAt(sender, id, status string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.status[sender][id]
	if s == nil {
		return time.Time{}, false
	}
	t, ok := s.status[status]
	return t, ok
}

// deliveredTo returns when sender's message id was first seen delivered to
// the recipient with peer id peer.
func (o *observer) deliveredTo(sender, id, peer string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.status[sender][id]
	if s == nil {
		return time.Time{}, false
	}
	t, ok := s.to[peer]
	return t, ok
}

func (o *observer) eventAt(sender, id, typ string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.events[sender][id]["mvds.message."+typ]
	return t, ok
}

func (o *observer) receivedBy(node, id string) (count int, first time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.received[node][id]; s != nil {
		return s.count, s.first
	}
	return 0, time.Time{}
}

// duplicates returns, per node, the ids its application received more than
// once.
func (o *observer) duplicates(nodes []string) map[string][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]string{}
	for _, n := range nodes {
		for id, s := range o.received[n] {
			if s.count > 1 {
				out[n] = append(out[n], id)
			}
		}
	}
	return out
}
