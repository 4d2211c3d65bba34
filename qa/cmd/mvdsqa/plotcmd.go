package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/benchdoc"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/plot"
)

// Names of the charts `mvdsqa plot` writes.
const (
	outagePlot     = "outage-matrix.svg"
	disconnectPlot = "waku-disconnect.svg"
)

// runPlotCmd is `mvdsqa plot` (what `make plots` runs): it measures the
// outage matrix (simulated) and the disconnect over go-waku afresh, stock
// and guarded, and draws both as SVG charts.
func runPlotCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var oc outageConfig
	simFlags(fs, &oc.demoConfig, 1000)
	outages := fs.String("outages", "1m,1h,72h,336h", "outage lengths of the matrix")
	dir := fs.String("dir", "", "write "+outagePlot+" and "+disconnectPlot+" to this directory (required)")
	data := fs.String("data", "", "also write the measured numbers as JSON to this file")
	redraw := fs.String("redraw", "", "draw from the numbers written earlier with -data instead of measuring")
	doc := fs.String("doc", "", "also write the charts' section of this file (between <!-- plots:begin --> and <!-- plots:end -->), linking the charts in -dir")
	bc := benchConfig{messages: 1, rate: 1, within: 2 * time.Second}
	fs.IntVar(&bc.queued, "queued", 100, "contact requests queued while the sender is disconnected")
	fs.DurationVar(&bc.disconnect, "disconnect", 30*time.Second, "how long the sender stays off the network")
	fs.DurationVar(&bc.horizon, "horizon", 3*time.Minute, "how long after reconnecting to wait for the stock node")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *dir == "" {
		fmt.Fprintf(stderr, "usage: mvdsqa plot -dir DIR [flags]\n")
		fs.PrintDefaults()
		return 2
	}
	err := oc.validate()
	if err == nil {
		oc.outages, err = parseOutages(*outages)
	}
	if err == nil {
		err = bc.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "plot: %v\n", err)
		return 2
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "plot: -dir %s: not a directory\n", *dir)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var m plotData
	if *redraw != "" {
		err = m.read(*redraw)
	} else {
		m, err = measurePlots(ctx, oc, bc, stdout)
	}
	if err == nil && *data != "" {
		err = m.write(*data)
	}
	if err == nil {
		err = m.draw(*dir, stdout)
	}
	if err == nil && *doc != "" {
		err = m.writeDoc(*doc, *dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "plot: %v\n", err)
		return 2
	}
	return 0
}

// plotData is what the charts show, as -data writes it.
type plotData struct {
	Messages int           `json:"messages"` // contact requests of each outage run
	Seed     int64         `json:"seed"`
	Outages  []plotOutage  `json:"outages"`
	Queued   int           `json:"queued"` // contact requests of the disconnect runs
	Offline  time.Duration `json:"disconnectNs"`
	Within   time.Duration `json:"withinNs"` // the Guard's goal
	Delays   [2][]float64  `json:"delays"`   // stock, guarded: reconnect to each ack, seconds
	Attempts [2]int        `json:"offlineAttempts"`
	Machine  string        `json:"machine"` // where it was measured, and how long it took
}

// plotOutage is one row of the outage matrix: epochs from reconnect to the
// last ack (-1: never), and messages dropped, stock and guarded.
type plotOutage struct {
	Offline time.Duration `json:"offlineNs"`
	Epochs  [2]int64      `json:"epochs"`
	Dropped [2]int        `json:"dropped"`
}

func measurePlots(ctx context.Context, oc outageConfig, bc benchConfig, out io.Writer) (plotData, error) {
	m := plotData{Messages: oc.messages, Seed: oc.seed, Queued: bc.queued, Offline: bc.disconnect, Within: bc.within}
	load0, began := benchdoc.LoadAverage(), time.Now()
	wd, err := newWorkdir(oc.keep, out)
	if err != nil {
		return m, err
	}
	defer wd.close()
	fmt.Fprintf(out, "outage matrix: %d contact requests, outages %v, simulated ...\n", oc.messages, oc.outages)
	rows, err := outageMatrix(oc, wd)
	if err != nil {
		return m, err
	}
	for _, r := range rows {
		fmt.Fprintf(out, "  %s offline: stock %s, guarded %s\n", longLabel(r.offline), reconnectCell(r.stock), reconnectCell(r.guarded))
		m.Outages = append(m.Outages, plotOutage{Offline: r.offline, Epochs: [2]int64{r.stock.ReconnectToAll, r.guarded.ReconnectToAll},
			Dropped: [2]int{r.stock.Dropped, r.guarded.Dropped}})
	}
	fmt.Fprintf(out, "disconnect: %d contact requests queued during a %v disconnect over go-waku, stock and guarded at once ...\n", bc.queued, bc.disconnect)
	dis, err := disconnectBoth(ctx, bc, wd.dir)
	if err != nil {
		return m, err
	}
	for i, v := range []string{"stock", "guarded"} {
		r := dis[v]
		for _, d := range r.delays {
			m.Delays[i] = append(m.Delays[i], d.Seconds())
		}
		m.Attempts[i] = r.offlineAttempts
		p50, _ := r.quantile(0.5, bc.queued)
		fmt.Fprintf(out, "  %s: %d of %d acknowledged, %d within %v, p50 %v, %d attempts while offline\n", v, r.delivered(), bc.queued,
			r.within(bc.within), bc.within, p50.Round(time.Millisecond), r.offlineAttempts)
	}
	m.Machine = fmt.Sprintf("%s/%s, %d CPUs, %s; one-minute load average %s before and %s after; both measurements took %s",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), load0, benchdoc.LoadAverage(), time.Since(began).Round(time.Second))
	return m, nil
}

func (m plotData) write(path string) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (m *plotData) read(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Outages) == 0 || m.Queued < 1 || m.Messages < 1 {
		return fmt.Errorf("%s: no outage rows or no disconnect run: not written by mvdsqa plot -data", path)
	}
	for i, d := range m.Delays {
		if len(d) > m.Queued {
			return fmt.Errorf("%s: delays[%d]: %d delays for %d messages queued", path, i, len(d), m.Queued)
		}
	}
	return nil
}

func (m plotData) draw(dir string, out io.Writer) error {
	if err := writeChart(filepath.Join(dir, outagePlot), m.outageChart(), out); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, disconnectPlot), m.disconnectChart(), out)
}

func (m plotData) outageChart() plot.Bars {
	c := plot.Bars{
		Title: "Outage matrix: reconnect → every message acknowledged",
		Note: fmt.Sprintf("%d contact requests queued offline · mvds nodes on SQLite · %v epochs, simulated (seed %d) · log scale",
			m.Messages, nominal, m.Seed),
		YLabel: "reconnect → all acknowledged",
		Series: []plot.Series{{Name: "stock (status-go)", Color: plot.Stock}, {Name: "guarded", Color: plot.Guarded}},
	}
	for _, r := range m.Outages {
		c.Groups = append(c.Groups, longLabel(r.Offline))
		var vals []float64
		var labels []string
		for i, epochs := range r.Epochs {
			if epochs < 0 {
				vals = append(vals, -1)
				labels = append(labels, fmt.Sprintf("never: %d dropped silently", r.Dropped[i]))
				continue
			}
			vals = append(vals, (time.Duration(epochs) * nominal).Seconds())
			labels = append(labels, realTime(epochs))
		}
		c.Values = append(c.Values, vals)
		c.Labels = append(c.Labels, labels)
	}
	return c
}

// longLabel writes an outage as the matrix's table does ("1 minute").
func longLabel(d time.Duration) string {
	switch l := label(d); l {
	case "1 min":
		return "1 minute"
	case "1 h":
		return "1 hour"
	default:
		return l
	}
}

func (m plotData) disconnectChart() plot.CDF {
	c := plot.CDF{
		Title: fmt.Sprintf("After a %v disconnect: reconnect → each message acknowledged", m.Offline),
		Note: fmt.Sprintf("%d contact requests queued off the network · two QA nodes, go-waku relay on 127.0.0.1 · %v epochs · log scale",
			m.Queued, qanodeEpoch),
		XLabel:    "time from reconnecting to the message's ack",
		Goal:      m.Within.Seconds(),
		GoalLabel: fmt.Sprintf("goal: within %v", m.Within),
	}
	for i, se := range []plot.Series{{Name: "stock (status-go)", Color: plot.Stock}, {Name: "guarded", Color: plot.Guarded}} {
		c.Curves = append(c.Curves, plot.Curve{Series: se, Delays: m.Delays[i], Total: m.Queued})
	}
	return c
}

// writeDoc writes the charts' section of the benchmarks page at path: how
// they were made, the charts (in dir), and what they show in numbers.
func (m plotData) writeDoc(path, dir string) error {
	rel, err := filepath.Rel(filepath.Dir(path), dir)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	var b strings.Builder
	fmt.Fprintf(&b, "## Plots: the outage matrix and the %v disconnect\n\n", m.Offline)
	fmt.Fprintf(&b, "Command: `make plots` (= `cd qa && go run ./cmd/mvdsqa plot -dir ../docs/img -data ../docs/img/plots.json -doc ../docs/benchmarks.md`). "+
		"It measures both again, stock and guarded side by side in one run — the outage matrix as `make bench-outage` does (%d contact requests, "+
		"simulated %v epochs, seed %d), the disconnect as the disconnect part of `make bench-waku` does (%d contact requests, %v off the network, "+
		"two QA nodes over go-waku relay on 127.0.0.1) — and draws the two charts below. The numbers are kept in `docs/img/plots.json`; "+
		"`-redraw ../docs/img/plots.json` instead of `-data` draws the charts and this section from them without measuring. Machine: %s.\n\n",
		m.Messages, nominal, m.Seed, m.Queued, m.Offline, m.Machine)
	fmt.Fprintf(&b, "![Outage matrix: reconnect to every message acknowledged, stock vs guarded, log scale](%s/%s)\n\n", rel, outagePlot)
	var rows []string
	for _, r := range m.Outages {
		st, gu := r.Epochs[0], r.Epochs[1]
		switch {
		case gu < 0:
			rows = append(rows, fmt.Sprintf("after %s offline the Guard never delivered all (%d dropped)", longLabel(r.Offline), r.Dropped[1]))
		case st < 0:
			rows = append(rows, fmt.Sprintf("after %s the stock node never delivers — all %d dropped silently — and the Guard takes %s",
				longLabel(r.Offline), r.Dropped[0], realTime(gu)))
		default:
			rows = append(rows, fmt.Sprintf("%s stock vs %s guarded after %s offline (%.2g×)", realTime(st), realTime(gu), longLabel(r.Offline), float64(gu)/float64(st)))
		}
	}
	fmt.Fprintf(&b, "Reconnect → all %d acknowledged: %s. The Guard's time is its burst limit spreading the messages (100 at once, then 50 per second), "+
		"whatever the outage.\n\n", m.Messages, strings.Join(rows, "; "))
	fmt.Fprintf(&b, "![After a %v disconnect: share acknowledged over time from reconnecting, stock vs guarded, log scale](%s/%s)\n\n", m.Offline, rel, disconnectPlot)
	var parts []string
	for i, name := range []string{"the stock node", "the Guard"} {
		d := append([]float64(nil), m.Delays[i]...)
		sort.Float64s(d)
		within := sort.SearchFloat64s(d, math.Nextafter(m.Within.Seconds(), math.Inf(1)))
		p := fmt.Sprintf("%s counted %d attempts while offline and had %d of %d acknowledged within %v", name, m.Attempts[i], within, m.Queued, m.Within)
		if len(d) > 0 {
			p += fmt.Sprintf(", the first %.2f s and the last %.2f s after reconnecting", d[0], d[len(d)-1])
		}
		if len(d) < m.Queued {
			p += fmt.Sprintf(", %d never", m.Queued-len(d))
		}
		parts = append(parts, p)
	}
	fmt.Fprintf(&b, "Over go-waku, after %v off the network: %s.\n", m.Offline, strings.Join(parts, "; "))
	return benchdoc.WriteSection(path, "plots", "runtime", b.String())
}

// chart is what writeChart draws.
type chart interface{ WriteSVG(io.Writer) error }

func writeChart(path string, c chart, out io.Writer) error {
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "written %s\n", path)
	return nil
}
