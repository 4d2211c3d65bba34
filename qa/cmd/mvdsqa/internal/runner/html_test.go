package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// TestHTMLReportShowsEveryRunOnATimeline runs one short scenario with every
// kind of outage a node in the runner's process can have on stock and
// guarded go-waku nodes at once, and checks the HTML report against the
// scenario and the results: a section for the scenario, both variants in
// it, a timeline per message with a tick per attempt the result recorded, a
// shaded interval per outage step, and the expectations with their measured
// times. (Expectations that fail, with their details, are in the recorded
// suite below; here the nodes live only a few seconds, as go-waku's own
// data race shows under the race detector in nodes that live longer — see
// TestTheQASuitePassesOnTheGuard.)
func TestHTMLReportShowsEveryRunOnATimeline(t *testing.T) {
	s := parse(t, `name: every outage on a timeline
policies:
  one_to_one: {initial: 300ms, max: 600ms}
nodes:
  hub: {}
  alice: {}
  bob: {}
steps:
  - partition: [alice, bob]
  - send: {from: alice, to: bob, id: cut, flow: one_to_one, payload: "sent into a partition"}
  - wait: 1s
  - heal: [alice, bob]
    label: healed
  - offline: alice
  - send: {from: alice, to: bob, id: queued, flow: one_to_one, payload: "sent offline"}
  - wait: 1s
  - online: alice
    label: reconnect
  - sleep: {node: alice, for: 1s}
  - flap: {node: alice, down: 400ms, up: 400ms, times: 2}
  - send: {from: alice, to: bob, id: after, flow: one_to_one, count: 2, payload: "sent after the flapping"}
expect:
  - delivered: {message: "after-*", within: 3s}
  - no_duplicates: true
`)
	var rs [2]*Result
	var wg sync.WaitGroup
	for i, stock := range []bool{true, false} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i] = Run(context.Background(), s, Options{WorkDir: t.TempDir(), Stock: stock, Slack: slack})
		}()
	}
	wg.Wait()
	for _, r := range rs {
		if r.Error != "" {
			t.Fatalf("%s run: %s", r.Variant, r.Error)
		}
	}
	if g := rs[1]; !g.Passed {
		var b bytes.Buffer
		WriteText(&b, g)
		t.Errorf("the guarded run failed:\n%s", b.String())
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rs[:]); err != nil {
		t.Fatal(err)
	}
	checkReport(t, page.Bytes(), rs[:], map[string]*scenario.Scenario{s.File: s})
	for _, r := range rs {
		for _, m := range r.Messages {
			if len(m.Attempts) == 0 {
				t.Errorf("%s: %s: no attempt recorded", r.Variant, m.ID)
			}
		}
	}
}

// TestHTMLReportOfTheSuite renders the results of a whole suite run,
// recorded with `mvdsqa run -variant both -json` over fixtures/scenarios
// (testdata/suite-results.json), and checks the page against the scenario
// files.
func TestHTMLReportOfTheSuite(t *testing.T) {
	b, err := os.ReadFile("testdata/suite-results.json")
	if err != nil {
		t.Fatal(err)
	}
	var rs []*Result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	scenarios := map[string]*scenario.Scenario{}
	for _, r := range rs {
		s, err := scenario.Load(filepath.Join("..", "..", "..", "..", "..", r.File))
		if err != nil {
			t.Fatal(err)
		}
		scenarios[r.File] = s
	}
	if len(scenarios) < 8 {
		t.Fatalf("the recorded suite has %d scenarios; want all 8 of fixtures/scenarios", len(scenarios))
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rs); err != nil {
		t.Fatal(err)
	}
	checkReport(t, page.Bytes(), rs, scenarios)
}

// checkReport walks the HTML page strictly: nothing fetched or run, one
// section per scenario with one part per variant, and in each part one
// timeline per message — its ticks the attempts the result recorded, its
// shaded intervals the scenario's outage steps — and one row per
// expectation with its measured time.
func checkReport(t *testing.T, page []byte, rs []*Result, scenarios map[string]*scenario.Scenario) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the report does not parse: %v", err)
	}
	for _, n := range all(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		if n.Data == "script" || n.Data == "link" || n.Data == "img" || n.Data == "iframe" {
			t.Errorf("the report has a <%s>: it must be self-contained", n.Data)
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "#") {
				t.Errorf("<%s %s=%q>: the report must fetch nothing", n.Data, a.Key, a.Val)
			}
		}
	}
	sections := all(doc, hasClass("section", "scenario"))
	if len(sections) != len(scenarios) {
		t.Fatalf("%d scenario sections; want %d", len(sections), len(scenarios))
	}
	byFile := map[string][]*Result{}
	for _, r := range rs {
		byFile[r.File] = append(byFile[r.File], r)
	}
	for _, sec := range sections {
		file := attr(sec, "data-file")
		s := scenarios[file]
		if s == nil {
			t.Errorf("a section for %q, which is no scenario of the run", file)
			continue
		}
		variants := all(sec, hasClass("div", "variant"))
		var names []string
		for _, v := range variants {
			names = append(names, attr(v, "data-variant"))
		}
		if strings.Join(names, ",") != "stock,guarded" {
			t.Errorf("%s: variants %v; want stock then guarded", file, names)
			continue
		}
		wantOutages := outageKinds(s.Steps)
		for _, v := range variants {
			var r *Result
			for _, x := range byFile[file] {
				if x.Variant == attr(v, "data-variant") {
					r = x
				}
			}
			where := file + " [" + r.Variant + "]"
			if got := outagesOf(r); got != wantOutages {
				t.Errorf("%s: the result's outages are %s; the scenario's steps make %s", where, got, wantOutages)
			}
			lines := all(v, hasClass("svg", "timeline"))
			if len(lines) != len(r.Messages) {
				t.Errorf("%s: %d timelines for %d messages", where, len(lines), len(r.Messages))
				continue
			}
			if len(r.Messages) != sendCount(s.Steps) {
				t.Errorf("%s: %d messages recorded; the send steps send %d", where, len(r.Messages), sendCount(s.Steps))
			}
			for i, tl := range lines {
				m := r.Messages[i]
				if id := attr(tl, "data-message"); id != m.ID {
					t.Errorf("%s: timeline %d is %q; want %q", where, i+1, id, m.ID)
				}
				if n := len(all(tl, hasClass("line", "attempt"))); n != len(m.Attempts) || attr(tl, "data-attempts") != fmt.Sprint(len(m.Attempts)) {
					t.Errorf("%s: %s: %d attempt ticks (data-attempts %s); the result recorded %d", where, m.ID, n, attr(tl, "data-attempts"), len(m.Attempts))
				}
				var kinds []string
				for _, rect := range all(tl, hasClass("rect", "outage")) {
					kinds = append(kinds, attr(rect, "data-kind"))
					if w := attr(rect, "width"); w == "" || w == "0" {
						t.Errorf("%s: %s: an outage drawn %q wide", where, m.ID, w)
					}
				}
				sort.Strings(kinds)
				if got := strings.Join(kinds, ","); got != wantOutages {
					t.Errorf("%s: %s: shaded %q; the scenario's steps make %q", where, m.ID, got, wantOutages)
				}
				delivered := len(all(tl, func(n *html.Node) bool { return attr(n, "data-mark") == "delivered" }))
				if delivered != len(m.Delivered) {
					t.Errorf("%s: %s: %d delivered marks for %d recipients it was delivered to", where, m.ID, delivered, len(m.Delivered))
				}
			}
			rows := all(v, hasClass("tr", "expectation"))
			if len(rows) != len(s.Expect) {
				t.Errorf("%s: %d expectation rows; the scenario has %d", where, len(rows), len(s.Expect))
				continue
			}
			for i, row := range rows {
				x, e := s.Expect[i], r.Expectations[i]
				if attr(row, "data-line") != fmt.Sprint(x.Line) || attr(row, "data-passed") != fmt.Sprint(e.Passed) {
					t.Errorf("%s: expectation row %d is line %s passed %s; want line %d passed %v", where, i+1, attr(row, "data-line"), attr(row, "data-passed"), x.Line, e.Passed)
				}
				cell := first(row, hasClass("td", "measured"))
				if cell == nil || text(cell) != e.Measured || e.Measured == "" {
					t.Errorf("%s: line %d: measured cell %q; want %q", where, x.Line, text(cell), e.Measured)
					continue
				}
				if e.Seconds != nil && attr(cell, "data-seconds") != fmt.Sprintf("%.2f", *e.Seconds) {
					t.Errorf("%s: line %d: data-seconds %q; want %.2f", where, x.Line, attr(cell, "data-seconds"), *e.Seconds)
				}
			}
		}
	}
}

// outageKinds is what the scenario's steps make, from the file alone: an
// interval per offline, sleep, kill and partition step, and one per down
// phase of a flap; sorted, comma-separated.
func outageKinds(steps []scenario.Step) string {
	var kinds []string
	var walk func([]scenario.Step)
	walk = func(steps []scenario.Step) {
		for _, st := range steps {
			switch st.Kind {
			case scenario.StepOffline, scenario.StepSleep, scenario.StepPartition:
				kinds = append(kinds, string(st.Kind))
			case scenario.StepKill:
				kinds = append(kinds, "down")
			case scenario.StepFlap:
				for i := 0; i < st.Times; i++ {
					kinds = append(kinds, "offline")
				}
			case scenario.StepParallel:
				walk(st.Parallel)
			}
		}
	}
	walk(steps)
	sort.Strings(kinds)
	return strings.Join(kinds, ",")
}

func outagesOf(r *Result) string {
	var kinds []string
	for _, o := range r.Outages {
		kinds = append(kinds, o.Kind)
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ",")
}

func sendCount(steps []scenario.Step) int {
	n := 0
	for _, st := range steps {
		switch st.Kind {
		case scenario.StepSend:
			n += len(st.Send.IDs())
		case scenario.StepParallel:
			n += sendCount(st.Parallel)
		}
	}
	return n
}

func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if match(c) {
			out = append(out, c)
		}
		out = append(out, all(c, match)...)
	}
	return out
}

func first(n *html.Node, match func(*html.Node) bool) *html.Node {
	if xs := all(n, match); len(xs) > 0 {
		return xs[0]
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Type == html.ElementNode && n.Data == tag && contains(strings.Fields(attr(n, "class")), class)
	}
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range all(n, func(c *html.Node) bool { return c.Type == html.TextNode }) {
		b.WriteString(t.Data)
	}
	return strings.TrimSpace(b.String())
}

// TestAttemptTimesSurviveAStockRestart: a stock node counts attempts since
// its process started, so a lower count after a restart is new attempts,
// and the ones seen before stay recorded.
func TestAttemptTimesSurviveAStockRestart(t *testing.T) {
	s := &seenMessage{}
	t0 := time.Unix(1000, 0)
	for i, n := range []int{0, 1, 1, 3, 0, 2} { // killed after 3, restarted, 2 more
		s.sawAttempts(n, t0.Add(time.Duration(i)*time.Second))
	}
	var got []int
	for _, a := range s.attempts {
		got = append(got, int(a.Sub(t0)/time.Second))
	}
	if fmt.Sprint(got) != "[1 3 3 5 5]" {
		t.Errorf("attempts seen at %v s; want [1 3 3 5 5]", got)
	}
}
