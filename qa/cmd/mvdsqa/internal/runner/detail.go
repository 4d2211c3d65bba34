package runner

import (
	"context"
	"time"
)

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

// backOf is when the last of m's sender and recipients came back online
// after the send, and the attempts the sender had counted for m by then
// (Options.Detail only).
func (r *run) backOf(m *sentMessage) (*float64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var back time.Time
	for _, who := range append([]string{m.from}, m.to...) {
		if t, ok := r.back[who]; ok && t.After(m.at) && t.After(back) {
			back = t
		}
	}
	if back.IsZero() {
		return nil, r.offlineAttempts[m.id]
	}
	b := back.Sub(r.start).Seconds()
	return &b, r.offlineAttempts[m.id]
}
