package runner

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// The HTML report: one self-contained page (inline CSS and SVG, no script,
// nothing fetched) that shows every scenario's runs side by side, stock
// left of guarded, with a timeline per message on one time axis per
// scenario.

//go:embed report.html.tmpl
var reportTemplate string

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2": func(v float64) string { return fmt.Sprintf("%.2f", v) },
}).Parse(reportTemplate))

// Geometry of a timeline, in SVG user units (CSS pixels).
const (
	tlWidth  = 455 // the whole SVG
	tlLeft   = 8   // left of the time axis
	tlRight  = 16  // right of it: room for the last tick's label
	tlHeight = 24  // one message's row
	axHeight = 34  // the axis: time labels and anchor names
	outRow   = 15  // one outage's bar under the axis
)

// WriteHTML writes the results as one HTML page. Results of the same
// scenario file (its stock and guarded runs) share a section and a time
// axis; sections keep the order of their first result.
func WriteHTML(w io.Writer, rs []*Result) error {
	return reportPage.Execute(w, buildReport(rs, time.Now()))
}

type htmlReport struct {
	Generated string
	Scenarios []htmlScenario
	Totals    []htmlTotal
}

type htmlTotal struct {
	Variant      string
	Passed, Runs int // runs with every expectation met, of all
	Met, Expect  int // expectations met, of all
}

type htmlScenario struct {
	Anchor      string
	Name        string
	File        string
	Description string
	Variants    []htmlVariant
}

type htmlVariant struct {
	Name      string // stock | guarded
	Title     string
	Passed    bool
	Error     string
	Seconds   float64
	Sent      int
	Accepted  int
	WorkDir   string
	Width     int
	Axis      htmlAxis
	Timelines []htmlTimeline
	Expect    []htmlExpect
}

type htmlAxis struct {
	Height  int
	Ticks   []htmlTick
	Anchors []htmlAnchor
	Outages []htmlOutageBar
	Base    float64 // y of the axis line
}

type htmlTick struct {
	X     float64
	Label string
}

type htmlAnchor struct {
	X     float64
	Label string
	End   bool
}

type htmlOutageBar struct {
	htmlShade
	Y      float64
	TextX  float64
	Anchor string // text-anchor of the label
	Text   string
}

// textWidth estimates the width of a label in the SVGs' 10 px font.
func textWidth(s string) float64 { return 5.6 * float64(len([]rune(s))) }

// labelAt places a bar's label: inside the bar when it fits, else right of
// it, else left of it.
func labelAt(x, w, text float64) (float64, string) {
	switch {
	case w >= text+6:
		return x + 3, "start"
	case x+w+4+text <= tlWidth:
		return x + w + 4, "start"
	case x-4-text >= 0:
		return x - 4, "end"
	}
	return x + 3, "start"
}

type htmlShade struct {
	Kind  string
	X, W  float64
	Title string
}

type htmlTimeline struct {
	ID       string
	Summary  string
	Outcome  string // delivered | failed | pending | refused
	Height   int
	Base     float64
	Sent     float64
	Shades   []htmlShade
	Anchors  []float64
	Ticks    []htmlAttempt
	Stacks   []htmlStack
	Marks    []htmlMark
	Attempts int
}

type htmlAttempt struct {
	X     float64
	Title string
}

type htmlStack struct {
	X     float64
	Count int
}

type htmlMark struct {
	Kind  string // delivered | received | stalled | failed
	X     float64
	Title string
}

type htmlExpect struct {
	Line     int
	Text     string
	Passed   bool
	Measured string
	Seconds  *float64
	Detail   string
}

func buildReport(rs []*Result, now time.Time) htmlReport {
	rep := htmlReport{Generated: now.UTC().Format("2006-01-02 15:04:05 UTC")}
	var order []string
	groups := map[string][]*Result{}
	for _, r := range rs {
		key := r.File + "\x00" + r.Scenario
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r)
	}
	totals := map[string]*htmlTotal{}
	var variants []string
	for i, key := range order {
		runs := groups[key]
		// Stock on the left, as in the demo's table.
		sort.SliceStable(runs, func(a, b int) bool { return variantRank(runs[a].Variant) < variantRank(runs[b].Variant) })
		sc := htmlScenario{Anchor: fmt.Sprintf("s%d", i+1), Name: runs[0].Scenario, File: runs[0].File, Description: runs[0].Description}
		x := newTimeScale(runs)
		for _, r := range runs {
			sc.Variants = append(sc.Variants, buildVariant(r, x))
			t := totals[r.Variant]
			if t == nil {
				t = &htmlTotal{Variant: variantTitle(r.Variant)}
				totals[r.Variant] = t
				variants = append(variants, r.Variant)
			}
			t.Runs++
			if r.Passed {
				t.Passed++
			}
			for _, e := range r.Expectations {
				t.Expect++
				if e.Passed {
					t.Met++
				}
			}
		}
		rep.Scenarios = append(rep.Scenarios, sc)
	}
	sort.SliceStable(variants, func(a, b int) bool { return variantRank(variants[a]) < variantRank(variants[b]) })
	for _, v := range variants {
		rep.Totals = append(rep.Totals, *totals[v])
	}
	return rep
}

func variantRank(v string) int {
	switch v {
	case "stock":
		return 0
	case "guarded":
		return 1
	}
	return 2
}

func variantTitle(v string) string {
	if v == "stock" {
		return "stock (status-go)"
	}
	return v
}

// timeScale maps seconds from the first step to x on every timeline of one
// scenario, so that its runs compare at a glance.
type timeScale struct {
	max  float64 // seconds at the right end
	step float64 // between labelled ticks
}

func newTimeScale(runs []*Result) timeScale {
	end := 1.0
	see := func(v float64) {
		if v > end && !math.IsInf(v, 0) && !math.IsNaN(v) {
			end = v
		}
	}
	for _, r := range runs {
		for _, s := range r.Steps {
			see(s.End)
		}
		for _, o := range r.Outages {
			see(o.End)
		}
		for _, m := range r.Messages {
			see(m.Sent)
			for _, a := range m.Attempts {
				see(a)
			}
			for _, v := range m.Delivered {
				see(v)
			}
			for _, v := range m.Received {
				see(v)
			}
			for _, p := range []*float64{m.Stalled, m.Failed} {
				if p != nil {
					see(*p)
				}
			}
		}
	}
	step := 0.5
	for _, s := range []float64{0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		step = s
		if end/s <= 10 {
			break
		}
	}
	// A little room after the last thing seen, then up to a whole tick.
	return timeScale{max: math.Ceil(end*1.03/step) * step, step: step}
}

func (t timeScale) x(sec float64) float64 {
	sec = math.Max(0, math.Min(sec, t.max))
	return round1(tlLeft + sec/t.max*(tlWidth-tlLeft-tlRight))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func (t timeScale) ticks() []htmlTick {
	var out []htmlTick
	for s := 0.0; s <= t.max+1e-9; s += t.step {
		out = append(out, htmlTick{X: t.x(s), Label: strings.TrimSuffix(fmt.Sprintf("%g", s), ".0") + " s"})
	}
	return out
}

// anchors are the labelled steps: what expectations measure from.
func anchors(r *Result, x timeScale) []htmlAnchor {
	var out []htmlAnchor
	for _, s := range r.Steps {
		if s.Label == "" {
			continue
		}
		out = append(out, htmlAnchor{X: x.x(s.Start), Label: s.Label})
		if s.End-s.Start >= x.step/4 {
			out = append(out, htmlAnchor{X: x.x(s.End), Label: s.Label + ".end", End: true})
		}
	}
	return out
}

func outageTitle(o Outage) string {
	what := map[string]string{OutageOffline: "offline", OutageSleep: "asleep", OutageDown: "killed (down)", OutagePartition: "partitioned"}[o.Kind]
	if what == "" {
		what = o.Kind
	}
	who := strings.Join(o.Nodes, " ⟷ ")
	open := ""
	if o.Open {
		open = ", still at the end"
	}
	return fmt.Sprintf("%s %s from %.1f s to %.1f s%s (line %d)", who, what, o.Start, o.End, open, o.Line)
}

func buildVariant(r *Result, x timeScale) htmlVariant {
	v := htmlVariant{Name: r.Variant, Title: variantTitle(r.Variant), Passed: r.Passed, Error: r.Error, Seconds: r.Duration.Seconds(),
		Sent: r.Sent, Accepted: r.Accepted, WorkDir: r.WorkDir, Width: tlWidth}
	if v.Seconds == 0 {
		v.Seconds = r.Seconds // read back from JSON
	}
	var shades []htmlShade
	for _, o := range r.Outages {
		x0, x1 := x.x(o.Start), x.x(o.End)
		shades = append(shades, htmlShade{Kind: o.Kind, X: x0, W: round1(math.Max(x1-x0, 1)), Title: outageTitle(o)})
	}
	v.Axis = htmlAxis{Ticks: x.ticks(), Anchors: anchors(r, x), Base: axHeight - 10}
	for i, s := range shades {
		bar := htmlOutageBar{htmlShade: s, Y: axHeight + float64(i*outRow) + 2}
		bar.Text = strings.Join(r.Outages[i].Nodes, " ⟷ ") + " " + r.Outages[i].Kind
		bar.TextX, bar.Anchor = labelAt(s.X, s.W, textWidth(bar.Text))
		v.Axis.Outages = append(v.Axis.Outages, bar)
	}
	v.Axis.Height = axHeight + len(shades)*outRow + 4
	var anchorX []float64
	for _, a := range v.Axis.Anchors {
		anchorX = append(anchorX, a.X)
	}
	for _, m := range r.Messages {
		v.Timelines = append(v.Timelines, buildTimeline(m, x, shades, anchorX))
	}
	for _, e := range r.Expectations {
		v.Expect = append(v.Expect, htmlExpect{Line: e.Line, Text: e.Text, Passed: e.Passed, Measured: e.Measured, Seconds: e.Seconds, Detail: e.Detail})
	}
	return v
}

func buildTimeline(m MessageResult, x timeScale, shades []htmlShade, anchorX []float64) htmlTimeline {
	tl := htmlTimeline{ID: m.ID, Height: tlHeight, Base: tlHeight / 2, Sent: x.x(m.Sent), Shades: shades, Anchors: anchorX, Attempts: len(m.Attempts)}
	count := map[float64]int{}
	for i, a := range m.Attempts {
		ax := x.x(a)
		tl.Ticks = append(tl.Ticks, htmlAttempt{X: ax, Title: fmt.Sprintf("attempt %d, seen counted at %.2f s", i+1, a)})
		count[ax]++
	}
	for ax, n := range count {
		if n > 1 {
			tl.Stacks = append(tl.Stacks, htmlStack{X: ax, Count: n})
		}
	}
	sort.Slice(tl.Stacks, func(i, j int) bool { return tl.Stacks[i].X < tl.Stacks[j].X })
	if m.Stalled != nil {
		tl.Marks = append(tl.Marks, htmlMark{Kind: "stalled", X: x.x(*m.Stalled), Title: fmt.Sprintf("stalled at %.2f s", *m.Stalled)})
	}
	var last float64
	delivered := 0
	for _, to := range m.To {
		if t, ok := m.Delivered[to]; ok {
			delivered++
			last = math.Max(last, t)
			tl.Marks = append(tl.Marks, htmlMark{Kind: "delivered", X: x.x(t), Title: fmt.Sprintf("delivered to %s at %.2f s", to, t)})
		} else if t, ok := m.Received[to]; ok {
			tl.Marks = append(tl.Marks, htmlMark{Kind: "received", X: x.x(t), Title: fmt.Sprintf("received by %s at %.2f s, never reported delivered", to, t)})
		}
	}
	if m.Failed != nil {
		tl.Marks = append(tl.Marks, htmlMark{Kind: "failed", X: x.x(*m.Failed), Title: fmt.Sprintf("failed at %.2f s", *m.Failed)})
	}
	attempts := fmt.Sprintf("%d attempts", len(m.Attempts))
	if len(m.Attempts) == 1 {
		attempts = "1 attempt"
	}
	switch {
	case !m.Accepted:
		tl.Outcome, tl.Summary = "refused", "refused by its sender"
	case m.Failed != nil:
		tl.Outcome, tl.Summary = "failed", fmt.Sprintf("%s · failed %.1f s", attempts, *m.Failed)
	case len(m.To) > 0 && delivered == len(m.To):
		tl.Outcome, tl.Summary = "delivered", fmt.Sprintf("%s · delivered %.1f s", attempts, last)
	case delivered > 0:
		tl.Outcome, tl.Summary = "pending", fmt.Sprintf("%s · %d of %d delivered", attempts, delivered, len(m.To))
	default:
		tl.Outcome, tl.Summary = "pending", attempts+" · never delivered"
	}
	return tl
}
