package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// defaultSuite is the QA suite, relative to the repository root where
// `make demo` runs.
const defaultSuite = "fixtures/scenarios"

// runDemoCmd is `mvdsqa demo` (what `make demo` runs): the QA suite over
// real go-waku, every scenario on stock nodes and on guarded nodes side by
// side, then the simulated long-outage comparison.
func runDemoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demoConfig
	simFlags(fs, &cfg, 100)
	suite := fs.String("suite", defaultSuite, "scenario files (a directory or a file) to run, stock and guarded")
	withSim := fs.Bool("sim", true, "also print the simulated long-outage comparison")
	slack := fs.Float64("slack", 1, "multiply every expectation's time limit (for machines busy with other work)")
	junit := fs.String("junit", "", "write the suite's results as JUnit XML to this file")
	jsonOut := fs.String("json", "", "write the suite's results as JSON to this file")
	htmlOut := fs.String("html", filepath.Join(os.TempDir(), "mvdsqa-demo.html"), "write the suite's HTML report (a timeline per message, stock and guarded side by side) to this file; empty: none")
	binary := fs.String("node-binary", "", "mvdsqa executable for process nodes (default: this one)")
	processes := fs.Bool("processes", false, "run every in-process node as an `mvdsqa node` process instead")
	listenHost := listenHostFlag(fs)
	netns := netnsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	if *slack < 1 || *slack > 100 {
		fmt.Fprintf(stderr, "demo: -slack %v: want a factor from 1 to 100\n", *slack)
		return 2
	}
	if err := checkListenHost(*listenHost); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	if _, err := os.Stat(*suite); err != nil {
		fmt.Fprintf(stderr, "demo: no scenario suite at %s: run from the repository root or pass -suite (%v)\n", *suite, err)
		return 2
	}
	scenarios, err := loadScenarios([]string{*suite})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := checkNetns(ctx, scenarios, *netns); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "mvdsguard demo: status-go's stock configuration vs the Guard (retry/)\n\n")
	where := "on 127.0.0.1"
	if *netns {
		where = "each in a network namespace of its own, faults made by the kernel"
	}
	fmt.Fprintf(stdout, "The QA suite (%s) over real go-waku nodes %s, each node with its own SQLite file.\n", *suite, where)
	fmt.Fprintf(stdout, "Every scenario runs twice at the same time: on stock nodes (status-go's mvds) and on guarded nodes.\n\n")
	// Every run's nodes go to a directory of their own in one temporary
	// directory, removed at the end unless -keep: the stock runs fail, and
	// the runner keeps a failed run's data.
	work, err := os.MkdirTemp("", "mvdsqa-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "demo: temporary directory: %v\n", err)
		return 2
	}
	wd := &workdir{dir: work, keep: cfg.keep}
	defer wd.close()
	results, err := demoSuite(ctx, scenarios, runner.Options{WorkDir: wd.dir, Keep: cfg.keep, Slack: *slack, NodeBinary: *binary,
		Processes: *processes, ListenHost: *listenHost, NetNS: *netns}, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	writeMechanisms(stdout, results)
	if err := writeReports(results, *junit, *jsonOut); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	if err := writeHTML(results, *htmlOut); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 2
	}
	if *htmlOut != "" {
		fmt.Fprintf(stdout, "\nHTML report (a timeline per message, stock and guarded side by side): %s\n", absPath(*htmlOut))
	}
	var failures []string
	for _, r := range results {
		if r.Variant == "guarded" && !r.Passed {
			failures = append(failures, r.Scenario)
		}
	}
	if *withSim {
		fmt.Fprintln(stdout)
		if err := runSimDemo(cfg, stdout); err != nil {
			var fail *expectationError
			if !errors.As(err, &fail) {
				fmt.Fprintf(stderr, "demo: %v\n", err)
				return 2
			}
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(stderr, "demo: the Guard missed its own expectations in: %s\n", strings.Join(failures, "; "))
		return 1
	}
	return 0
}

// demoSuite runs every scenario stock and guarded side by side and prints
// one table: a row per expectation, what each configuration achieved. The
// runs' data goes to opts.WorkDir, which the caller removes unless
// opts.Keep: without Keep the results name no directory.
func demoSuite(ctx context.Context, scenarios []*scenario.Scenario, opts runner.Options, out io.Writer) ([]*runner.Result, error) {
	var results []*runner.Result
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 2, 8, 3, ' ', 0)
	fmt.Fprintf(tw, "scenario, then each expectation\tstock (status-go)\tguarded\n")
	passed := map[string]int{}
	for i, s := range scenarios {
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		fmt.Fprintf(out, "[%d/%d] %s ...\n", i+1, len(scenarios), s.Name)
		st, gu := runBoth(ctx, s, opts)
		if !opts.Keep {
			st.WorkDir, gu.WorkDir = "", ""
		}
		results = append(results, st, gu)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, runCell(st), runCell(gu))
		sv, gv := byLine(st), byLine(gu)
		for _, x := range s.Expect {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", gv[x.Line].Text, cell(sv[x.Line]), cell(gv[x.Line]))
		}
		for _, r := range []*runner.Result{st, gu} {
			if r.Passed {
				passed[r.Variant]++
			}
		}
	}
	fmt.Fprintf(tw, "scenarios with every expectation met\t%d of %d\t%d of %d\n", passed["stock"], len(scenarios), passed["guarded"], len(scenarios))
	if err := tw.Flush(); err != nil {
		return results, err
	}
	fmt.Fprintf(out, "\n%s", table.String())
	fmt.Fprintf(out, "\nok: met, with the time measured (from the anchor to the runner seeing it). FAIL: not met in time.\n")
	fmt.Fprintf(out, "Stock status-go has no failed state and no events, so it cannot meet failed or event expectations.\n")
	shown := false
	for _, r := range results {
		if r.Error != "" || (!r.Passed && r.Variant == "guarded") {
			fmt.Fprintln(out)
			runner.WriteText(out, r)
			shown = true
		}
	}
	switch {
	case opts.Keep && opts.WorkDir != "":
		fmt.Fprintf(out, "\nThe nodes' data and logs are kept in %s: a directory per scenario run (<file>-<variant>-<n>), with each node's node.db, node.key and node.log.\n", opts.WorkDir)
	case shown:
		fmt.Fprintf(out, "\nThe nodes' data and logs are removed at the end; run with -keep to keep them.\n")
	}
	return results, nil
}

func byLine(r *runner.Result) map[int]runner.ExpectResult {
	out := map[int]runner.ExpectResult{}
	for _, x := range r.Expectations {
		out[x.Line] = x
	}
	return out
}

func runCell(r *runner.Result) string {
	if r.Error != "" {
		return "ERROR (see below)"
	}
	return ""
}

func cell(x runner.ExpectResult) string {
	if x.Text == "" {
		return "not judged"
	}
	if x.Passed {
		return "ok " + x.Measured
	}
	return "FAIL " + x.Measured
}
