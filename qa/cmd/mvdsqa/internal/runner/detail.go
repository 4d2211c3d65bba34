package runner

import (
	"context"
	"sort"
	"time"
)

// MessageResult is one message's path through a run, for tables that need
// more than a verdict (DST's eventual delivery and reconnect-to-delivery
// times). Times are the runner's clock, in seconds from the first step.
type MessageResult struct {
	ID       string   `json:"id"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	Sent     float64  `json:"sent"`
	Accepted bool     `json:"accepted"`
	// Received is when each recipient's application first had it; a
	// recipient missing from it never did.
	Received map[string]float64 `json:"received"`
	// Back is when the last of the sender and its recipients came back
	// online after the send (absent: none of them was offline after it).
	Back *float64 `json:"back,omitempty"`
	// AttemptsOffline is how many attempts the sender had counted for it
	// when the sender came back online: attempts spent into a network it
	// could not reach.
	AttemptsOffline int `json:"attemptsOffline"`
}

// noteBack records, before a node comes back online, when that happens and
// how many attempts its messages had counted (Options.Detail only).
func (r *run) noteBack(ctx context.Context, n *node) {
	if !r.opts.Detail {
		return
	}
	var attempts map[string]int
	if r.sends(n.spec.Name) {
		if msgs, err := n.client.Messages(ctx); err == nil {
			attempts = map[string]int{}
			for _, m := range msgs {
				attempts[m.ID] = m.Attempts
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.back == nil {
		r.back = map[string]time.Time{}
		r.offlineAttempts = map[string]int{}
	}
	r.back[n.spec.Name] = time.Now()
	for id, a := range attempts {
		if m := r.sent[id]; m != nil && m.from == n.spec.Name {
			r.offlineAttempts[id] = a
		}
	}
}

func (r *run) messageResults() []MessageResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	sec := func(t time.Time) float64 { return t.Sub(r.start).Seconds() }
	out := make([]MessageResult, 0, len(r.order))
	for _, id := range r.order {
		m := r.sent[id]
		mr := MessageResult{ID: id, From: m.from, To: m.to, Sent: sec(m.at), Accepted: m.accepted,
			Received: map[string]float64{}, AttemptsOffline: r.offlineAttempts[id]}
		var back time.Time
		for _, who := range append([]string{m.from}, m.to...) {
			if t, ok := r.back[who]; ok && t.After(m.at) && t.After(back) {
				back = t
			}
		}
		if !back.IsZero() {
			b := sec(back)
			mr.Back = &b
		}
		for _, to := range m.to {
			if n, first := r.obs.receivedBy(to, id); n > 0 {
				mr.Received[to] = sec(first)
			}
		}
		out = append(out, mr)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Sent < out[j].Sent })
	return out
}
