package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// `mvdsqa dst`: DST's plans at the scale one machine holds (docs/dst.md).
//
//	gen     writes the 1:1 outage scenario (fixtures/scenarios/dst) from a seed
//	outage  runs it on stock nodes, then on guarded nodes, and prints DST's table
//	scale   measures the cost per node at 10, 25, 50, 100 nodes
const dstUsage = `usage: mvdsqa dst gen|outage|scale [flags]

  gen     write the 1:1 outage scenario: a hub, senders, receivers and idle nodes, drawn outages
  outage  run an outage scenario on stock nodes, then on guarded nodes: eventual delivery, reconnect to delivery, attempts wasted offline
  scale   the cost per node at growing node counts: memory, CPU, the runner's overhead, whether the timing held
`

func runDSTCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dstUsage)
		return 2
	}
	switch args[0] {
	case "gen":
		return dstGen(args[1:], stdout, stderr)
	case "outage":
		return dstOutage(args[1:], stdout, stderr)
	case "scale":
		return dstScale(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dst: unknown %q\n%s", args[0], dstUsage)
	return 2
}

// outagePlan is the shape of a 1:1 outage scenario.
type outagePlan struct {
	pairs, idle int
	minOut      time.Duration
	maxOut      time.Duration
	seed        int64
}

// writeLattice writes the nodes of a large scenario with the links a
// network of that size has: every node dials the first (a bootstrap node)
// and the nodes 1, 4 and 9 places before it, so each has about eight
// peers and no single node carries everyone's traffic. (With the first node
// alone, gossipsub's mesh — at most 12 peers — leaves most of a star's
// leaves to gossip, and delivery turns slow and uneven.)
func writeLattice(b *strings.Builder, names []string) {
	fmt.Fprintf(b, "  %s: {}\n", names[0])
	for k := 1; k < len(names); k++ {
		peers := []string{names[0]}
		for _, back := range []int{1, 4, 9} {
			if j := k - back; j >= 1 {
				peers = append(peers, names[j])
			}
		}
		fmt.Fprintf(b, "  %s: {connect: [%s]}\n", names[k], strings.Join(peers, ", "))
	}
}

// outageYAML writes the plan as a scenario: a bootstrap node "hub" and a
// lattice of links (writeLattice); sender i and receiver i each go offline for a duration drawn
// uniformly from [minOut, maxOut], starting together within the first 10 s,
// and the sender sends its message half a second into its outage.
func outageYAML(p outagePlan) string {
	rnd := rand.New(rand.NewSource(p.seed))
	var b strings.Builder
	total := 1 + 2*p.pairs + p.idle
	fmt.Fprintf(&b, "# Written by `mvdsqa dst gen -pairs %d -idle %d -min %v -max %v -seed %d`.\n", p.pairs, p.idle, p.minOut, p.maxOut, p.seed)
	fmt.Fprintf(&b, "name: DST 1:1 outage, %d processes\n", total)
	fmt.Fprintf(&b, "description: >\n  DST's 1:1 outage plan scaled to one machine: %d sender-receiver pairs and\n"+
		"  %d idle nodes around a hub. Every sender and receiver is offline for a\n"+
		"  drawn %v to %v while the sender sends one 1:1 message; every message\n"+
		"  must eventually be received, once.\n", p.pairs, p.idle, p.minOut, p.maxOut)
	timeout := p.maxOut + 10*time.Minute
	fmt.Fprintf(&b, "timeout: %v\nnodes:\n", timeout)
	w := len(strconv.Itoa(max(p.pairs, p.idle)))
	name := func(kind string, i int) string { return fmt.Sprintf("%s%0*d", kind, w, i) }
	names := []string{"hub"}
	for _, kind := range []string{"s", "r"} {
		for i := 1; i <= p.pairs; i++ {
			names = append(names, name(kind, i))
		}
	}
	for i := 1; i <= p.idle; i++ {
		names = append(names, name("i", i))
	}
	writeLattice(&b, names)
	b.WriteString("steps:\n  - parallel:\n")
	draw := func() time.Duration {
		d := p.minOut + time.Duration(rnd.Int63n(int64(p.maxOut-p.minOut)+1))
		return d.Round(100 * time.Millisecond)
	}
	for i := 1; i <= p.pairs; i++ {
		start := time.Duration(rnd.Int63n(int64(10 * time.Second))).Round(100 * time.Millisecond)
		ds, dr := draw(), draw()
		fmt.Fprintf(&b, "      - offline: {node: %s, for: %v}\n", name("s", i), ds)
		if start > 0 {
			fmt.Fprintf(&b, "        start_after: %v\n", start)
		}
		fmt.Fprintf(&b, "      - offline: {node: %s, for: %v}\n", name("r", i), dr)
		if start > 0 {
			fmt.Fprintf(&b, "        start_after: %v\n", start)
		}
		fmt.Fprintf(&b, "      - send: {from: %s, to: %s, id: %s, flow: one_to_one, payload: \"sent offline\"}\n        start_after: %v\n",
			name("s", i), name("r", i), name("o", i), start+500*time.Millisecond)
	}
	b.WriteString("    label: outages\nexpect:\n")
	b.WriteString("  - delivered: {message: \"o*\", within: 5m, after: outages.end}\n")
	b.WriteString("  - no_duplicates: true\n  - nothing_lost: {within: 5m}\n")
	return b.String()
}

func dstGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dst gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := outagePlan{}
	fs.IntVar(&p.pairs, "pairs", 33, "sender-receiver pairs")
	fs.IntVar(&p.idle, "idle", 33, "idle nodes")
	fs.DurationVar(&p.minOut, "min", time.Second, "shortest outage")
	fs.DurationVar(&p.maxOut, "max", 3*time.Minute, "longest outage")
	fs.Int64Var(&p.seed, "seed", 2025, "seed of the draws")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if p.pairs < 1 || p.idle < 0 || 1+2*p.pairs+p.idle > 200 {
		fmt.Fprintf(stderr, "dst gen: -pairs %d -idle %d: want at least one pair and at most 200 nodes with the hub\n", p.pairs, p.idle)
		return 2
	}
	if p.minOut <= 0 || p.maxOut < p.minOut || p.maxOut > 30*time.Minute {
		fmt.Fprintf(stderr, "dst gen: outages from %v to %v: want 0 < min <= max <= 30m\n", p.minOut, p.maxOut)
		return 2
	}
	y := outageYAML(p)
	if _, err := scenario.Parse("generated", []byte(y)); err != nil {
		fmt.Fprintf(stderr, "dst gen: the generated scenario does not parse: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, y)
	return 0
}

// dstRow is one variant's line of DST's table.
type dstRow struct {
	variant            string
	sent, received     int
	p50, p99, maxT     float64 // reconnect to delivery, seconds
	wasted, wastedMsgs int
	passed             bool
	usage              *runner.Usage
	seconds            float64
}

func summarize(r *runner.Result) dstRow {
	row := dstRow{variant: r.Variant, passed: r.Passed, usage: r.Usage, seconds: r.Duration.Seconds()}
	var lat []float64
	for _, m := range r.Messages {
		if !m.Accepted {
			continue
		}
		row.sent++
		row.wasted += m.AttemptsOffline
		if m.AttemptsOffline > 0 {
			row.wastedMsgs++
		}
		if len(m.Received) < len(m.To) {
			continue
		}
		row.received++
		last := 0.0
		for _, t := range m.Received {
			last = math.Max(last, t)
		}
		from := m.Sent
		if m.Back != nil {
			from = *m.Back
		}
		lat = append(lat, math.Max(0, last-from))
	}
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return math.NaN()
		}
		return lat[int(math.Ceil(p*float64(len(lat))))-1]
	}
	row.p50, row.p99, row.maxT = pct(0.50), pct(0.99), pct(1)
	return row
}

func dstOutage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dst outage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	variant := fs.String("variant", "both", "stock, guarded, or both (one after the other: together they would double the processes)")
	slack := fs.Float64("slack", 1, "multiply every expectation's time limit")
	poll := fs.Duration("poll", 500*time.Millisecond, "how often the runner polls each node")
	binary := fs.String("node-binary", "", "mvdsqa executable for the node processes (default: this one)")
	jsonOut := fs.String("json", "", "write the results, with every message's path, as JSON to this file")
	netns := netnsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "usage: mvdsqa dst outage [flags] SCENARIO.yaml\n")
		return 2
	}
	if *variant != "both" && *variant != "stock" && *variant != "guarded" {
		fmt.Fprintf(stderr, "dst outage: -variant %q: want stock, guarded or both\n", *variant)
		return 2
	}
	s, err := scenario.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := checkNetns(ctx, []*scenario.Scenario{s}, *netns); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	opts := runner.Options{Processes: true, NodeBinary: *binary, Slack: *slack, Poll: *poll, Detail: true, Usage: true, NetNS: *netns, Progress: stdout}
	var results []*runner.Result
	for _, v := range []string{"stock", "guarded"} {
		if *variant != "both" && *variant != v {
			continue
		}
		o := opts
		o.Stock = v == "stock"
		fmt.Fprintf(stdout, "== %s: %d node processes\n", v, len(s.Nodes))
		r := runner.Run(ctx, s, o)
		runner.WriteText(stdout, r)
		results = append(results, r)
	}
	if err := writeReports(results, "", *jsonOut); err != nil {
		fmt.Fprintf(stderr, "dst outage: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "\n%s — %d processes\n", s.Name, len(s.Nodes))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "variant\teventual delivery\treconnect → delivery p50 / p99 / max\tattempts wasted offline\tnode RSS (mean)\tnode CPU\trunner CPU\tstart-up\tall expectations")
	code := 0
	for _, r := range results {
		row := summarize(r)
		u := row.usage
		if u == nil {
			u = &runner.Usage{}
		}
		fmt.Fprintf(tw, "%s\t%d of %d (%.0f %%)\t%.1f / %.1f / %.1f s\t%d (%d messages)\t%.0f MiB\t%.1f %%\t%.1f %%\t%.0f s\t%v\n",
			row.variant, row.received, row.sent, 100*float64(row.received)/math.Max(1, float64(row.sent)),
			row.p50, row.p99, row.maxT, row.wasted, row.wastedMsgs, u.NodeRSSMiB, u.NodeCPU, u.RunnerCPU, r.SetupSeconds, row.passed)
		if row.variant == "guarded" && !row.passed {
			code = 1
		}
	}
	tw.Flush()
	return code
}

// scaleYAML is the scenario of one step of the scaling benchmark: a hub and
// n-1 nodes that dial it; pairs of them send each other a 1:1 message every
// few seconds for the whole run, and each message must be delivered within
// 10 s — the timing a node count must keep.
func scaleYAML(n int, dur time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: scale %d nodes\ntimeout: %v\nnodes:\n", n, dur+5*time.Minute)
	names := []string{"hub"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("n%03d", i))
	}
	writeLattice(&b, names)
	b.WriteString("steps:\n  - parallel:\n")
	every := 5 * time.Second
	count := int(dur / every)
	for i := 1; i+1 < n; i += 2 {
		start := time.Duration(i%10) * every / 10
		fmt.Fprintf(&b, "      - send: {from: n%03d, to: n%03d, id: m%03d, flow: one_to_one, count: %d, every: %v}\n        start_after: %v\n", i, i+1, i, count, every, start)
	}
	b.WriteString("  - wait: 5s\nexpect:\n  - delivered: {message: \"m*\", within: 10s}\n  - no_duplicates: true\n  - nothing_lost: {within: 10s}\n")
	return b.String()
}

func dstScale(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dst scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	counts := fs.String("nodes", "10,25,50,100", "node counts, in order")
	dur := fs.Duration("for", time.Minute, "how long the messages flow at each count")
	poll := fs.Duration("poll", 500*time.Millisecond, "how often the runner polls each node")
	binary := fs.String("node-binary", "", "mvdsqa executable for the node processes (default: this one)")
	stock := fs.Bool("stock", false, "stock nodes instead of guarded")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var ns []int
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 3 || n > 200 {
			fmt.Fprintf(stderr, "dst scale: -nodes %q: want counts from 3 to 200\n", *counts)
			return 2
		}
		ns = append(ns, n)
	}
	if *dur < 10*time.Second || *dur > 30*time.Minute {
		fmt.Fprintf(stderr, "dst scale: -for %v: want 10s to 30m\n", *dur)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	type line struct {
		n     int
		setup float64
		r     *runner.Result
	}
	var lines []line
	for _, n := range ns {
		s, err := scenario.Parse(fmt.Sprintf("scale-%d.yaml", n), []byte(scaleYAML(n, *dur)))
		if err != nil {
			fmt.Fprintf(stderr, "dst scale: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "== %d nodes\n", n)
		r := runner.Run(ctx, s, runner.Options{Processes: true, NodeBinary: *binary, Poll: *poll, Usage: true, Stock: *stock})
		runner.WriteText(stdout, r)
		lines = append(lines, line{n, r.SetupSeconds, r})
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\tstart-up\tnode RSS mean / max\tnode CPU\tall nodes' CPU\trunner CPU\trunner RSS\tmessages\ttiming held")
	largest := 0
	for _, l := range lines {
		u := l.r.Usage
		if u == nil {
			fmt.Fprintf(tw, "%d\t%.1f s\t—\t—\t—\t—\t—\t%d\t%v (%s)\n", l.n, l.setup, l.r.Accepted, false, l.r.Error)
			continue
		}
		if l.r.Passed && l.n > largest {
			largest = l.n
		}
		fmt.Fprintf(tw, "%d\t%.1f s\t%.0f / %.0f MiB\t%.1f %%\t%.0f %%\t%.1f %%\t%.0f MiB\t%d\t%v\n", l.n, l.setup, u.NodeRSSMiB, u.NodeRSSMaxMiB,
			u.NodeCPU, u.NodeCPU*float64(u.Nodes), u.RunnerCPU, u.RunnerRSSMiB, l.r.Accepted, l.r.Passed)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nlargest count that kept its timing (every message delivered within 10 s): %d\n", largest)
	return 0
}
