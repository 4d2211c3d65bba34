package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// verdict is an expectation's state while the runner waits on it.
type verdict struct {
	decided bool
	res     ExpectResult
}

// evaluate waits until every expectation is decided — met, or its time is
// up — and returns the results in file order. No-duplicates is judged last,
// on everything seen by then.
func (r *run) evaluate(ctx context.Context) []ExpectResult {
	vs := make([]verdict, len(r.s.Expect))
	for i, x := range r.s.Expect {
		vs[i].res = ExpectResult{Line: x.Line, Kind: string(x.Kind), Text: describe(x)}
		if why := r.unexpressedExpectation(x); why != "" {
			vs[i].res.CannotExpress, vs[i].res.Measured, vs[i].res.Detail = true, "cannot express", why
			vs[i].decided = true
			continue
		}
		if r.opts.Slack > 1 && x.Within > 0 {
			vs[i].res.Text += fmt.Sprintf(" (×%g slack: %v)", r.opts.Slack, r.window(x))
		}
	}
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		open := false
		for i, x := range r.s.Expect {
			if vs[i].decided || x.Kind == scenario.ExpectNoDuplicates {
				continue
			}
			vs[i] = r.judge(x, vs[i].res, time.Now())
			open = open || !vs[i].decided
		}
		if !open {
			break
		}
		select {
		case <-ctx.Done():
			for i := range vs {
				if !vs[i].decided && r.s.Expect[i].Kind != scenario.ExpectNoDuplicates {
					vs[i].res.Passed = false
					vs[i].res.Detail = strings.TrimSpace("undecided when the scenario's timeout was reached; " + vs[i].res.Detail)
				}
			}
			goto final
		case <-t.C:
		}
	}
final:
	r.obs.once(context.Background())
	for i, x := range r.s.Expect {
		if x.Kind == scenario.ExpectNoDuplicates && !vs[i].res.CannotExpress {
			vs[i].res = r.noDuplicates(x, vs[i].res)
		}
	}
	out := make([]ExpectResult, len(vs))
	for i := range vs {
		out[i] = vs[i].res
	}
	return out
}

func describe(x scenario.Expectation) string {
	anchor := "its send"
	switch x.After {
	case scenario.AfterSend:
	case scenario.AfterStart:
		anchor = "the start"
	case scenario.AfterEnd:
		anchor = "the last step"
	default:
		anchor = x.After
	}
	switch x.Kind {
	case scenario.ExpectDelivered:
		to := ""
		if len(x.To) > 0 {
			to = " to " + names(x.To)
		}
		return fmt.Sprintf("%s delivered%s within %v of %s", x.Message, to, x.Within, anchor)
	case scenario.ExpectFailed:
		return fmt.Sprintf("%s failed (retry offered) within %v of %s", x.Message, x.Within, anchor)
	case scenario.ExpectEvent:
		return fmt.Sprintf("%s: %s event within %v of %s", x.Message, x.Event, x.Within, anchor)
	case scenario.ExpectNoDuplicates:
		if len(x.Nodes) > 0 {
			return "no duplicates at " + names(x.Nodes)
		}
		return "no duplicates"
	case scenario.ExpectNothingLost:
		if x.Within > 0 {
			return fmt.Sprintf("nothing lost (within %v of the last step)", x.Within)
		}
		return "nothing lost"
	}
	return string(x.Kind)
}

// window is an expectation's time limit with the run's slack applied.
func (r *run) window(x scenario.Expectation) time.Duration {
	if r.opts.Slack > 1 {
		return time.Duration(float64(x.Within) * r.opts.Slack).Round(time.Millisecond)
	}
	return x.Within
}

// anchor returns the time an expectation measures a message from: the
// moment named by after, or the message's own send if that came later (a
// message sent after a reconnect is measured from its send).
func (r *run) anchor(after string, m *sentMessage) (time.Time, bool) {
	if after == scenario.AfterSend {
		return m.at, true
	}
	label, end := strings.CutSuffix(after, ".end")
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.labels[label]
	if !ok {
		return time.Time{}, false
	}
	a := t[0]
	if end {
		a = t[1]
	}
	if m.at.After(a) {
		a = m.at
	}
	return a, true
}

// targets returns the accepted messages an expectation is about.
func (r *run) targets(pattern string) []*sentMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*sentMessage
	for _, id := range r.order {
		if m := r.sent[id]; m.accepted && scenario.Match(pattern, id) {
			out = append(out, m)
		}
	}
	return out
}

// seenAt returns when the condition of a timed expectation was first seen
// for message m.
func (r *run) seenAt(x scenario.Expectation, m *sentMessage) (time.Time, bool, string) {
	switch x.Kind {
	case scenario.ExpectFailed:
		t, ok := r.obs.statusAt(m.from, m.id, "failed")
		return t, ok, ""
	case scenario.ExpectEvent:
		t, ok := r.obs.eventAt(m.from, m.id, x.Event)
		return t, ok, ""
	}
	if len(x.To) == 0 {
		t, ok := r.obs.statusAt(m.from, m.id, "delivered")
		return t, ok, ""
	}
	var last time.Time
	for _, to := range x.To {
		if !contains(m.to, to) {
			return time.Time{}, false, fmt.Sprintf("%s is not a recipient of %s", to, m.id)
		}
		t, ok := r.obs.deliveredTo(m.from, m.id, r.byName[to].info.ID)
		if !ok {
			return time.Time{}, false, ""
		}
		if t.After(last) {
			last = t
		}
	}
	return last, true, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *run) judge(x scenario.Expectation, res ExpectResult, now time.Time) verdict {
	if x.Kind == scenario.ExpectNothingLost {
		return r.nothingLost(x, res, now)
	}
	ms := r.targets(x.Message)
	if len(ms) == 0 {
		res.Measured = noneAccepted
		res.Detail = fmt.Sprintf("no message matching %q was accepted by its sender", x.Message)
		return verdict{decided: true, res: res}
	}
	var (
		worst   time.Duration
		missing []string
		late    []string
		waiting bool
		within  = r.window(x)
	)
	for _, m := range ms {
		a, ok := r.anchor(x.After, m)
		if !ok {
			res.Measured = "its anchor never came"
			res.Detail = fmt.Sprintf("the step labelled %q never ran", x.After)
			return verdict{decided: true, res: res}
		}
		seen, ok, problem := r.seenAt(x, m)
		if problem != "" {
			res.Measured = "not a recipient"
			res.Detail = problem
			return verdict{decided: true, res: res}
		}
		switch {
		case ok && seen.Sub(a) <= within:
			worst = max(worst, seen.Sub(a))
		case ok:
			late = append(late, fmt.Sprintf("%s after %.1fs", m.id, seen.Sub(a).Seconds()))
		case now.Sub(a) <= within:
			waiting = true
		default:
			missing = append(missing, m.id)
		}
	}
	if waiting {
		return verdict{res: res}
	}
	secs := worst.Seconds()
	res.Seconds = &secs
	if len(missing) == 0 && len(late) == 0 {
		res.Passed = true
		res.Measured = fmt.Sprintf("%.2fs", secs)
		if len(ms) > 1 {
			res.Measured = fmt.Sprintf("max %.2fs (%d messages)", secs, len(ms))
		}
		return verdict{decided: true, res: res}
	}
	res.Seconds = nil
	what := map[scenario.ExpectKind]string{scenario.ExpectDelivered: "delivered", scenario.ExpectFailed: "failed",
		scenario.ExpectEvent: x.Event}[x.Kind]
	res.Measured = fmt.Sprintf("not within %v", within)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d not %s by the deadline (%s)", len(missing), len(ms), what, list(missing)))
	}
	if len(late) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d %s too late (%s)", len(late), len(ms), what, list(late)))
	}
	res.Detail = strings.Join(parts, "; ")
	return verdict{decided: true, res: res}
}

// noneAccepted is the measured value of an expectation about accepted
// messages when there were none: it fails rather than holding vacuously.
const noneAccepted = "no accepted message"

// list shows the first few items of a long list.
func list(items []string) string {
	if len(items) > 4 {
		return strings.Join(items[:4], ", ") + fmt.Sprintf(", … %d more", len(items)-4)
	}
	return strings.Join(items, ", ")
}

func (r *run) nothingLost(x scenario.Expectation, res ExpectResult, now time.Time) verdict {
	r.mu.Lock()
	end := r.labels[scenario.AfterEnd][1]
	var ms []*sentMessage
	for _, id := range r.order {
		if m := r.sent[id]; m.accepted {
			ms = append(ms, m)
		}
	}
	r.mu.Unlock()
	if len(ms) == 0 {
		// Nothing was sent, so nothing could be lost: that proves nothing.
		res.Measured = noneAccepted
		res.Detail = "no message was accepted by its sender, so there was nothing to receive"
		return verdict{decided: true, res: res}
	}
	var lost []string
	var last time.Time
	for _, m := range ms {
		for _, to := range m.to {
			n, first := r.obs.receivedBy(to, m.id)
			if n == 0 {
				lost = append(lost, m.id+"→"+to)
			} else if first.After(last) {
				last = first
			}
		}
	}
	if len(lost) > 0 && now.Sub(end) <= r.window(x) {
		return verdict{res: res}
	}
	if len(lost) > 0 {
		res.Measured = fmt.Sprintf("%d lost", len(lost))
		res.Detail = fmt.Sprintf("%d of the accepted messages' deliveries never reached the recipient's application: %s", len(lost), list(lost))
		return verdict{decided: true, res: res}
	}
	res.Passed = true
	res.Measured = fmt.Sprintf("all %d received", len(ms))
	if d := last.Sub(end); d > 0 {
		res.Measured += fmt.Sprintf(", last +%.2fs", d.Seconds())
	}
	return verdict{decided: true, res: res}
}

func (r *run) noDuplicates(x scenario.Expectation, res ExpectResult) ExpectResult {
	nodes := x.Nodes
	if len(nodes) == 0 {
		for _, n := range r.nodes {
			nodes = append(nodes, n.spec.Name)
		}
	}
	dups := r.obs.duplicates(nodes)
	if len(dups) == 0 {
		res.Passed = true
		res.Measured = "none"
		return res
	}
	var parts []string
	keys := make([]string, 0, len(dups))
	for k := range dups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sort.Strings(dups[k])
		parts = append(parts, fmt.Sprintf("%s received %s more than once", k, list(dups[k])))
	}
	res.Measured = "duplicates"
	res.Detail = strings.Join(parts, "; ")
	return res
}
