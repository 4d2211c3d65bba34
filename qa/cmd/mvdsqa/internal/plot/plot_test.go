package plot

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"
)

// element is a parsed SVG element: enough to check what was drawn.
type element struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []element  `xml:",any"`
}

func (e element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e element) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.XMLName.Local, name, e.attr(name), err)
	}
	return v
}

func (e element) find(tag, class string) []element {
	var out []element
	for _, k := range e.Kids {
		if k.XMLName.Local == tag && (class == "" || k.attr("class") == class) {
			out = append(out, k)
		}
		out = append(out, k.find(tag, class)...)
	}
	return out
}

func parseSVG(t *testing.T, b []byte) element {
	t.Helper()
	var root element
	if err := xml.Unmarshal(b, &root); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, b)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v; want svg in the SVG namespace", root.XMLName)
	}
	for _, tag := range []string{"script", "image", "foreignObject", "style"} {
		if len(root.find(tag, "")) > 0 {
			t.Errorf("the chart has a <%s>: it must be self-contained and static", tag)
		}
	}
	return root
}

// TestBarsAreLogarithmic: a bar ten times as long is one decade taller, a
// value that never came is an open bar, and every bar is labelled.
func TestBarsAreLogarithmic(t *testing.T) {
	c := Bars{
		Title: "outages", YLabel: "time", Groups: []string{"short", "long"},
		Series: []Series{{"stock", Stock}, {"guarded", Guarded}},
		Values: [][]float64{{100, 10}, {-1, 1}},
		Labels: [][]string{{"100 s", "10 s"}, {"never: 5 dropped <silently>", "1 s"}},
	}
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, b.Bytes())
	bars := root.find("rect", "bar")
	if len(bars) != 3 {
		t.Fatalf("%d bars; want 3 (one value never came)", len(bars))
	}
	h := []float64{bars[0].num(t, "height"), bars[1].num(t, "height"), bars[2].num(t, "height")}
	decade := h[0] - h[1]
	if decade <= 0 || math.Abs((h[1]-h[2])-decade) > 0.15 {
		t.Errorf("bar heights %v for 100 s, 10 s, 1 s: want equal steps per decade", h)
	}
	if n := len(root.find("rect", "never")); n != 1 {
		t.Errorf("%d open bars; want 1", n)
	}
	if !strings.Contains(b.String(), "never: 5 dropped &lt;silently&gt;") {
		t.Error("the never label is missing or not escaped")
	}
	for _, want := range []string{"100 s", "10 s", "1 s", "short", "long", "stock", "guarded"} {
		if !strings.Contains(b.String(), ">"+want+"<") {
			t.Errorf("no text %q", want)
		}
	}
}

// TestCDFEndsAtTheShareAcknowledged: a curve rises one step per delay and
// ends at the share of the total that came; the goal is drawn.
func TestCDFEndsAtTheShareAcknowledged(t *testing.T) {
	c := CDF{Title: "disconnect", XLabel: "delay", Goal: 2, GoalLabel: "goal",
		Curves: []Curve{
			{Series: Series{"stock", Stock}, Delays: []float64{0.5, 30, 4, 60}, Total: 8},
			{Series: Series{"guarded", Guarded}, Delays: []float64{0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6}, Total: 8},
		}}
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, b.Bytes())
	curves := root.find("path", "curve")
	if len(curves) != 2 {
		t.Fatalf("%d curves; want 2", len(curves))
	}
	base := float64(top + plotH)
	for i, want := range []float64{0.5, 1} {
		d := strings.Fields(curves[i].attr("d"))
		y, err := strconv.ParseFloat(d[len(d)-1], 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := (base - y) / plotH; math.Abs(got-want) > 0.01 {
			t.Errorf("%s ends at %.2f; want %.2f", c.Curves[i].Name, got, want)
		}
		if steps := strings.Count(curves[i].attr("d"), "L") - 1; steps != 2*len(c.Curves[i].Delays) {
			t.Errorf("%s: %d segments; want two per delay", c.Curves[i].Name, steps)
		}
	}
	if len(root.find("line", "goal")) != 1 {
		t.Error("no goal line")
	}
}

func TestChartsRefuseInconsistentData(t *testing.T) {
	var b bytes.Buffer
	for name, err := range map[string]error{
		"bars missing a row":   Bars{Title: "x", Groups: []string{"a", "b"}, Series: []Series{{"s", Stock}}, Values: [][]float64{{1}}, Labels: [][]string{{"1"}}}.WriteSVG(&b),
		"bars nothing to plot": Bars{Title: "x", Groups: []string{"a"}, Series: []Series{{"s", Stock}}, Values: [][]float64{{-1}}, Labels: [][]string{{"never"}}}.WriteSVG(&b),
		"cdf more than total":  CDF{Title: "x", Curves: []Curve{{Series: Series{"s", Stock}, Delays: []float64{1, 2}, Total: 1}}}.WriteSVG(&b),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
