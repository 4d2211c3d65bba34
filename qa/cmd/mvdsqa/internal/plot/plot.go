// Package plot draws the benchmarks' charts as self-contained SVG (no
// script, no font or style fetched): bars on a logarithmic time axis, and
// cumulative distributions of delays. It knows nothing of what is measured;
// package main hands it the numbers and their labels.
package plot

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Colours of the two configurations, as in the QA report.
const (
	Stock   = "#6b7280"
	Guarded = "#2563eb"
)

// Bars is a grouped bar chart of durations on a logarithmic axis.
type Bars struct {
	Title  string
	Note   string   // a line under the title
	YLabel string   // the axis' name
	Groups []string // along the x axis
	Series []Series // bars in each group, left to right
	// Values[g][s] is series s's value in group g, in seconds; a value that
	// is not positive is drawn as "never" reaching the top.
	Values [][]float64
	// Labels[g][s] is written above the bar.
	Labels [][]string
}

// Series names one set of bars or one curve, and its colour.
type Series struct {
	Name, Color string
}

// Chart geometry, in SVG user units.
const (
	width   = 760
	height  = 420
	left    = 78
	right   = 24
	top     = 64
	bottom  = 58
	plotW   = width - left - right
	plotH   = height - top - bottom
	fontCSS = `font-family: "DejaVu Sans", Verdana, sans-serif`
)

// timeTicks are the labelled values of a logarithmic time axis, in seconds.
var timeTicks = []struct {
	v     float64
	label string
}{
	{0.01, "10 ms"}, {0.1, "100 ms"}, {1, "1 s"}, {10, "10 s"}, {60, "1 min"}, {600, "10 min"},
	{3600, "1 h"}, {6 * 3600, "6 h"}, {86400, "1 day"}, {7 * 86400, "1 week"}, {30 * 86400, "30 days"},
}

// logScale maps seconds onto [0, 1] between two powers of ten.
type logScale struct{ lo, hi float64 }

func newLogScale(values []float64) (logScale, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if v > 0 && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		return logScale{}, fmt.Errorf("no positive value to plot")
	}
	// Start at least a factor of two below the smallest value, so that its
	// bar shows and its curve does not start on the axis.
	l, h := math.Floor(math.Log10(lo/2)), math.Ceil(math.Log10(hi))
	if h <= l {
		h = l + 1
	}
	return logScale{lo: l, hi: h}, nil
}

func (s logScale) at(v float64) float64 {
	return (math.Log10(v) - s.lo) / (s.hi - s.lo)
}

func (s logScale) ticks() []struct {
	v     float64
	label string
} {
	var out []struct {
		v     float64
		label string
	}
	for _, t := range timeTicks {
		if p := s.at(t.v); p >= -1e-9 && p <= 1+1e-9 {
			out = append(out, t)
		}
	}
	return out
}

// svg accumulates an SVG document.
type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// text writes a text element with its content escaped.
func (s *svg) text(x, y float64, attrs, content string) {
	s.f(`<text x="%.1f" y="%.1f" %s>`, x, y, attrs)
	_ = xml.EscapeText(&s.b, []byte(content))
	s.f("</text>\n")
}

func (s *svg) open(title, note string) {
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="`, width, height, width, height)
	_ = xml.EscapeText(&s.b, []byte(title))
	s.f("\" style='%s; font-size: 12px'>\n", fontCSS)
	s.f(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	s.text(left, 24, `font-size="16" font-weight="bold" fill="#111827"`, title)
	if note != "" {
		s.text(left, 42, `font-size="11" fill="#4b5563"`, note)
	}
}

func (s *svg) legend(series []Series, x, y float64) {
	for _, se := range series {
		s.f(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, se.Color)
		s.text(x+16, y, `fill="#111827"`, se.Name)
		x += 24 + 7*float64(len([]rune(se.Name)))
	}
}

// WriteSVG draws the chart.
func (c Bars) WriteSVG(w io.Writer) error {
	if len(c.Groups) == 0 || len(c.Series) == 0 || len(c.Values) != len(c.Groups) || len(c.Labels) != len(c.Groups) {
		return fmt.Errorf("bars %q: want a row of values and of labels for each of %d groups", c.Title, len(c.Groups))
	}
	var all []float64
	for g, row := range c.Values {
		if len(row) != len(c.Series) || len(c.Labels[g]) != len(c.Series) {
			return fmt.Errorf("bars %q: group %q: want %d values and labels", c.Title, c.Groups[g], len(c.Series))
		}
		all = append(all, row...)
	}
	scale, err := newLogScale(all)
	if err != nil {
		return fmt.Errorf("bars %q: %w", c.Title, err)
	}
	var s svg
	s.open(c.Title, c.Note)
	s.legend(c.Series, left, top-6)
	base := float64(top + plotH)
	for _, t := range scale.ticks() {
		y := base - scale.at(t.v)*plotH
		s.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`+"\n", left, left+plotW, y, y)
		s.text(left-6, y+4, `text-anchor="end" fill="#374151"`, t.label)
	}
	s.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#6b7280"/>`+"\n", left, left+plotW, base, base)
	s.f(`<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle" fill="#374151">`, float64(top)+plotH/2)
	_ = xml.EscapeText(&s.b, []byte(c.YLabel))
	s.f("</text>\n")
	groupW := float64(plotW) / float64(len(c.Groups))
	barW := math.Min(56, groupW*0.8/float64(len(c.Series)))
	for g, name := range c.Groups {
		x0 := left + groupW*float64(g) + (groupW-barW*float64(len(c.Series)))/2
		for i, se := range c.Series {
			v := c.Values[g][i]
			x := x0 + barW*float64(i)
			if v > 0 {
				h := math.Max(scale.at(v)*plotH, 1)
				s.f(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>`, x+2, base-h, barW-4, h, se.Color)
				_ = xml.EscapeText(&s.b, []byte(se.Name+", "+name+": "+c.Labels[g][i]))
				s.f("</title></rect>\n")
				s.text(x+barW/2, base-h-5, `text-anchor="middle" font-size="11" fill="#111827"`, c.Labels[g][i])
				continue
			}
			// Never: an open bar to the top, its label inside.
			s.f(`<rect class="never" x="%.1f" y="%d" width="%.1f" height="%d" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n",
				x+2, top, barW-4, plotH, se.Color)
			s.f(`<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" font-size="11" fill="#991b1b">`, x+barW/2+4, float64(top)+plotH/2)
			_ = xml.EscapeText(&s.b, []byte(c.Labels[g][i]))
			s.f("</text>\n")
		}
		s.text(left+groupW*(float64(g)+0.5), base+20, `text-anchor="middle" font-weight="bold" fill="#111827"`, name)
	}
	s.text(left+plotW/2, base+44, `text-anchor="middle" fill="#374151"`, "time offline")
	s.f("</svg>\n")
	_, err = io.WriteString(w, s.b.String())
	return err
}

// CDF is the cumulative distribution of delays, one curve per series, on a
// logarithmic time axis.
type CDF struct {
	Title  string
	Note   string
	XLabel string
	Curves []Curve
	// Goal, when positive, is drawn as a vertical line named GoalLabel.
	Goal      float64
	GoalLabel string
}

// Curve is one series' delays in seconds, out of Total (the ones that never
// came count as longer than any).
type Curve struct {
	Series
	Delays []float64
	Total  int
}

// WriteSVG draws the chart.
func (c CDF) WriteSVG(w io.Writer) error {
	var all []float64
	for _, cu := range c.Curves {
		if cu.Total < len(cu.Delays) || cu.Total == 0 {
			return fmt.Errorf("cdf %q: %s: %d delays of %d", c.Title, cu.Name, len(cu.Delays), cu.Total)
		}
		all = append(all, cu.Delays...)
	}
	if c.Goal > 0 {
		all = append(all, c.Goal)
	}
	scale, err := newLogScale(all)
	if err != nil {
		return fmt.Errorf("cdf %q: %w", c.Title, err)
	}
	var s svg
	s.open(c.Title, c.Note)
	var series []Series
	for _, cu := range c.Curves {
		series = append(series, cu.Series)
	}
	s.legend(series, left, top-6)
	base := float64(top + plotH)
	xAt := func(v float64) float64 { return left + math.Max(0, scale.at(v))*plotW }
	for _, t := range scale.ticks() {
		x := xAt(t.v)
		s.f(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#e5e7eb"/>`+"\n", x, x, top, base)
		s.text(x, base+16, `text-anchor="middle" fill="#374151"`, t.label)
	}
	for p := 0; p <= 100; p += 25 {
		y := base - float64(p)/100*plotH
		s.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`+"\n", left, left+plotW, y, y)
		s.text(left-6, y+4, `text-anchor="end" fill="#374151"`, fmt.Sprintf("%d %%", p))
	}
	s.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#6b7280"/>`+"\n", left, left+plotW, base, base)
	s.f(`<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle" fill="#374151">acknowledged</text>`+"\n", float64(top)+plotH/2)
	s.text(left+plotW/2, base+40, `text-anchor="middle" fill="#374151"`, c.XLabel)
	if c.Goal > 0 {
		x := xAt(c.Goal)
		s.f(`<line class="goal" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#16a34a" stroke-width="1.5" stroke-dasharray="5 4"/>`+"\n", x, x, top, base)
		s.text(x+4, float64(top)+plotH*0.1, `fill="#166534" font-size="11"`, c.GoalLabel)
	}
	for _, cu := range c.Curves {
		d := append([]float64(nil), cu.Delays...)
		sort.Float64s(d)
		var path strings.Builder
		fmt.Fprintf(&path, "M%d %.1f", left, base)
		for i, v := range d {
			x := xAt(v)
			y0 := base - float64(i)/float64(cu.Total)*plotH
			y1 := base - float64(i+1)/float64(cu.Total)*plotH
			fmt.Fprintf(&path, " L%.1f %.1f L%.1f %.1f", x, y0, x, y1)
		}
		fmt.Fprintf(&path, " L%d %.1f", left+plotW, base-float64(len(d))/float64(cu.Total)*plotH)
		s.f(`<path class="curve" d="%s" fill="none" stroke="%s" stroke-width="2.2"><title>`, path.String(), cu.Color)
		_ = xml.EscapeText(&s.b, []byte(fmt.Sprintf("%s: %d of %d acknowledged", cu.Name, len(d), cu.Total)))
		s.f("</title></path>\n")
	}
	s.f("</svg>\n")
	_, err = io.WriteString(w, s.b.String())
	return err
}
