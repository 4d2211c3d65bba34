// Command mvdsqa is mvdsguard's QA harness: black-box QA nodes on real
// go-waku with a REST API, a runner for fault-injection scenarios written in
// YAML, and the comparisons of status-go's stock configuration with the
// Guard (docs/qa.md).
//
// Usage:
//
//	mvdsqa node   -data DIR [-api 127.0.0.1:0] [-listen 127.0.0.1:0] [-light ADDR | -service] [-stock] [-policy P]... [-peer ADDR]... [-token-file F]
//	mvdsqa run    [-junit F] [-json F] [-html F] [-variant guarded|stock|both] [-slack X] [-processes] [-netns] [-poll D] [-node-binary F] [-listen-host H] [-work DIR] [-keep] [-q] SCENARIO.yaml|DIR ...
//	mvdsqa demo   [-suite fixtures/scenarios] [-slack X] [-processes] [-netns] [-listen-host H] [-junit F] [-json F] [-html F] [-sim=true] [-epoch 10ms] [-seed 1] [-messages 100] [-keep]
//	mvdsqa outage [-epoch 10ms] [-seed 1] [-messages 1000] [-keep] [-outages 1m,1h,72h,336h]
//	mvdsqa report -html F RESULTS.json ...
//	mvdsqa plot   -dir DIR [-messages 1000] [-outages 1m,1h,72h,336h] [-queued 100] [-disconnect 30s] [-horizon 3m]
//	mvdsqa dst    gen|outage|scale [flags] (DST scale on one machine; docs/dst.md)
//	mvdsqa bench  [-messages 1000] [-rate 100] [-queued 100] [-disconnect 30s] [-horizon 3m] [-within 2s] [-doc docs/benchmarks.md]
//
// Run `mvdsqa <command> -h` for every flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const usage = `usage: mvdsqa <command> [flags]

commands:
  node    run one QA node (go-waku + mvds + Guard on SQLite) with its REST API
  run     run scenario files against QA nodes; JUnit XML and JSON results
  demo    the default scenario suite, stock and guarded side by side, and the comparison table
  outage  the outage matrix: messages queued offline, delivery after reconnect (simulated)
  bench   over real go-waku relay: send-to-ack latency and delivery after a disconnect, stock vs guarded
  report  the HTML report (timelines per message) of results written with run -json
  plot    measure the outage matrix and the go-waku disconnect again and draw them as SVG charts
  dst     DST scale on one machine: the 1:1 outage plan on 100 processes, and the cost per node (gen, outage, scale)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the process exit code: 0 success, 1 a scenario failed its own
// expectations, 2 usage errors.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "node":
		return runNode(args[1:], stdout, stderr)
	case "run":
		return runScenarios(args[1:], stdout, stderr)
	case "demo":
		return runDemoCmd(args[1:], stdout, stderr)
	case "outage":
		fs := flag.NewFlagSet("outage", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfg := outageConfig{}
		simFlags(fs, &cfg.demoConfig, 1000)
		outages := fs.String("outages", "1m,1h,72h,336h", "outage lengths")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "outage: unexpected argument %q\n", fs.Arg(0))
			return 2
		}
		if err := cfg.validate(); err != nil {
			fmt.Fprintf(stderr, "outage: %v\n", err)
			return 2
		}
		var err error
		if cfg.outages, err = parseOutages(*outages); err != nil {
			fmt.Fprintf(stderr, "outage: %v\n", err)
			return 2
		}
		return exitCode("outage", runOutage(cfg, stdout), stderr)
	case "bench":
		return runBenchCmd(args[1:], stdout, stderr)
	case "report":
		return runReportCmd(args[1:], stdout, stderr)
	case "plot":
		return runPlotCmd(args[1:], stdout, stderr)
	case "dst":
		return runDSTCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mvdsqa: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// simFlags are the flags of the simulated comparisons (demo, outage).
func simFlags(fs *flag.FlagSet, cfg *demoConfig, messages int) {
	fs.DurationVar(&cfg.epoch, "epoch", 10*time.Millisecond, "wall-clock length of one simulated epoch (status-go's is 300ms)")
	fs.Int64Var(&cfg.seed, "seed", 1, "seed of the network's and the jitter's random decisions")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the nodes' SQLite files (and, for demo, the suite's node data and logs) and print where")
	fs.IntVar(&cfg.messages, "messages", messages, "critical messages queued per simulated scenario")
}

// exitCode reports err and turns it into the exit code: 1 when an outcome
// contradicts what the Guard promises, 2 when the command could not run.
func exitCode(cmd string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
	var fail *expectationError
	if errors.As(err, &fail) {
		return 1
	}
	return 2
}

func parseOutages(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("-outages: %q: %w", part, err)
		}
		if d < time.Second || d > 60*24*time.Hour {
			return nil, fmt.Errorf("-outages: %v must be between 1s and 60 days", d)
		}
		out = append(out, d)
	}
	return out, nil
}
