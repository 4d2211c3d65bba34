package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
	"github.com/mvdsguard/mvdsguard/internal/benchdoc"
)

// fleetResult is one fleet benchmark.
type fleetResult struct {
	nodes, distinct  int
	nodeSize, total  int64
	wc               time.Duration
	one, two         time.Duration // GOMAXPROCS=1 and 2, median wall
	oneCPU, twoCPU   time.Duration // median user and system time
	oneMin, twoMin   time.Duration // fastest wall
	oneRSS, twoRSS   int64         // KiB
	spinOne, spinTwo time.Duration // the calibration's median wall
	report           fleetReport
	load0, load1     string
	runs             int
	sizeFlag         string
}

type fleetReport struct {
	Nodes  []json.RawMessage `json:"nodes"`
	Checks []struct {
		ID         string `json:"id"`
		Violations int    `json:"violations"`
	} `json:"checks"`
	State struct {
		PeakOpen int `json:"peakOpen"`
	} `json:"state"`
}

// benchFleet writes a fleet of node logs into a directory — distinct
// generated logs, copied until there are nodes of them (the audit cannot
// tell a copy: each is its own node with its own clock) — and times
// `mvdsaudit runtime DIR` with one core and with two, taking turns with
// `wc -l` over the same files.
// spin is the calibration: a fixed amount of CPU work split over
// GOMAXPROCS goroutines that share nothing. Its 2-core ÷ 1-core ratio is
// what the machine gives a perfectly parallel program at that moment.
func spin() {
	const total = 1 << 29
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	sums := make([]uint64, n)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			x := uint64(g + 1)
			for i := 0; i < total/n; i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			sums[g] = x
		}(g)
	}
	wg.Wait()
	fmt.Println(sums[0])
}

func benchFleet(work, bin, self string, nodes, distinct int, nodeSize int64, sizeFlag string, runs int) (fleetResult, error) {
	r := fleetResult{nodes: nodes, distinct: min(distinct, nodes), nodeSize: nodeSize, sizeFlag: sizeFlag, runs: runs, load0: benchdoc.LoadAverage()}
	dir := filepath.Join(work, "fleet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "generating %d node logs of %s in %s (%d distinct)\n", nodes, human(nodeSize), dir, r.distinct)
	var files []string
	for i := 0; i < nodes; i++ {
		path := filepath.Join(dir, fmt.Sprintf("node-%03d.log", i))
		if i < r.distinct {
			if _, err := workload(path, logwriter.Geth, nodeSize, uint64(100+i)); err != nil {
				return r, err
			}
		} else if err := copyFile(files[i%r.distinct], path); err != nil {
			return r, err
		}
		st, err := os.Stat(path)
		if err != nil {
			return r, err
		}
		r.total += st.Size()
		files = append(files, path)
	}
	jsonOut := filepath.Join(work, "fleet-report.json")
	audit := func(cores int) []string {
		return []string{"env", fmt.Sprintf("GOMAXPROCS=%d", cores), bin, "runtime", "-year", "2024", "-format", "json", "-o", jsonOut, dir}
	}
	commands := []struct {
		args          []string
		wall, cpu, lo *time.Duration
		rss           *int64
	}{
		{append([]string{"wc", "-l"}, files...), &r.wc, new(time.Duration), new(time.Duration), new(int64)},
		{audit(1), &r.one, &r.oneCPU, &r.oneMin, &r.oneRSS},
		{audit(2), &r.two, &r.twoCPU, &r.twoMin, &r.twoRSS},
		{[]string{"env", "GOMAXPROCS=1", self, "spin"}, &r.spinOne, new(time.Duration), new(time.Duration), new(int64)},
		{[]string{"env", "GOMAXPROCS=2", self, "spin"}, &r.spinTwo, new(time.Duration), new(time.Duration), new(int64)},
	}
	if _, _, err := measure(commands[0].args); err != nil {
		return r, err
	}
	walls := make([][]time.Duration, len(commands))
	cpus := make([][]time.Duration, len(commands))
	for i := 0; i < runs; i++ {
		for j, c := range commands {
			m, err := measureAll(c.args)
			if err != nil {
				return r, err
			}
			walls[j] = append(walls[j], m.wall)
			cpus[j] = append(cpus[j], m.cpu)
			*c.rss = max(*c.rss, m.rss)
			fmt.Fprintf(os.Stderr, "  %s: %v (cpu %v) load %s\n", strings.Join(c.args[:min(len(c.args), 2)], " "), m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), benchdoc.LoadAverage())
		}
	}
	for j, c := range commands {
		*c.wall, *c.cpu = median(walls[j]), median(cpus[j])
		*c.lo = slices.Min(walls[j])
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r.report); err != nil {
		return r, fmt.Errorf("read the audit's report: %w", err)
	}
	r.load1 = benchdoc.LoadAverage()
	return r, nil
}

// loadOf reads a load average as benchdoc prints it; 0 when unknown.
func loadOf(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}

func renderFleet(r fleetResult) string {
	var b strings.Builder
	b.WriteString("## Runtime audit: a fleet of node logs, one core against two\n\n")
	fmt.Fprintf(&b, "Command: `make bench-runtime-fleet` (also run by `make bench-runtime`; it runs `go run ./dynamic/internal/runtimebench -fleet %d -node-size %s -runs %d -doc ../docs/benchmarks.md` in `audit/`). ",
		r.nodes, r.sizeFlag, r.runs)
	fmt.Fprintf(&b, "The program writes %d node logs of %s each in geth's format into a temporary directory (%d generated by `workload.go` with different seeds, "+
		"the rest copies of them: each file is its own node with its own clock either way), then times `mvdsaudit runtime -format json DIR` "+
		"with `GOMAXPROCS=1` and with `GOMAXPROCS=2` (the audit reads as many files at once as it has cores), and `wc -l` over the same files, "+
		"taking turns, %d times each after a warm-up read (the files are in the page cache). Times are medians; MB is 10⁶ bytes; peak RSS as GNU time reports it. "+
		"Machine: %s/%s, %d CPUs, %s, shared with other jobs; one-minute load average %s before and %s after the run.\n\n",
		r.nodes, human(r.nodeSize), r.distinct, r.runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), r.load0, r.load1)
	b.WriteString("| cores | audit wall (median) | fastest | MB/s (median) | CPU time (user+sys) | MB per CPU-second | peak RSS | RSS per node |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	speedup := r.one.Seconds() / r.two.Seconds()
	for _, c := range []struct {
		n             int
		wall, lo, cpu time.Duration
		rss           int64
	}{{1, r.one, r.oneMin, r.oneCPU, r.oneRSS}, {2, r.two, r.twoMin, r.twoCPU, r.twoRSS}} {
		fmt.Fprintf(&b, "| %d | %.2f s | %.2f s | **%.0f** | %.2f s | %.0f | %s | %.2f MiB |\n", c.n, c.wall.Seconds(), c.lo.Seconds(),
			mbps(r.total, c.wall), c.cpu.Seconds(), mbps(r.total, c.cpu), mib(c.rss), float64(c.rss)/1024/float64(r.nodes))
	}
	machine := r.spinOne.Seconds() / r.spinTwo.Seconds()
	fmt.Fprintf(&b, "\n%d nodes, %s in all; `wc -l` over the same files: %.2f s. **2 cores ÷ 1 core: %.2f×** (medians; fastest runs: %.2f×). "+
		"Calibration in the same turns: a program of two goroutines that share nothing (`runtimebench spin`) ran %.2f× as fast on 2 cores "+
		"as on 1 — what the machine gave a perfectly parallel program at the time; the audit reached %.0f%% of it.\n",
		r.nodes, human(r.total), r.wc.Seconds(), speedup, r.oneMin.Seconds()/r.twoMin.Seconds(), machine, 100*speedup/machine)
	v := map[string]int{}
	for _, c := range r.report.Checks {
		v[c.ID] = c.Violations
	}
	fmt.Fprintf(&b, "\nThe report held %d node rows; MA1001 %s, MA2001 %s, MA2002 %s; open messages at the nodes' peaks, summed: %s.\n",
		len(r.report.Nodes), commas(int64(v["MA1001"])), commas(int64(v["MA2001"])), commas(int64(v["MA2002"])), commas(int64(r.report.State.PeakOpen)))
	fmt.Fprintf(&b, "\nTwo cores read the fleet %.2f× as fast as one (2× is the ceiling). ", speedup)
	if speedup < 1.9 {
		b.WriteString("What keeps the ratio below 2× here: ")
		if l0, l1 := loadOf(r.load0), loadOf(r.load1); max(l0, l1) > float64(runtime.NumCPU()) {
			fmt.Fprintf(&b, "the machine's other jobs (the load average stood at %.1f and %.1f on %d CPUs: they take part of the "+
				"second core while the audit runs), and ", l0, l1, runtime.NumCPU())
		}
		fmt.Fprintf(&b, "the work that stays serial — finding the files, merging "+
			"the nodes' reports at the end, the garbage collector's share. The CPU time says how much the work itself grows with the "+
			"second core: %.2f s against %.2f s (%+.0f%%). ", r.twoCPU.Seconds(), r.oneCPU.Seconds(), 100*(r.twoCPU.Seconds()/r.oneCPU.Seconds()-1))
	}
	fmt.Fprintf(&b, "Memory is the nodes' state, which the configuration's "+
		"limits bound per node (docs/runtime-audit.md), plus one 1 MiB line buffer per file being read; every node's state stays in memory "+
		"until the fleet's report is written, so the total grows with the number of nodes, not with their size.\n")
	return b.String()
}
