package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// loadScenarios parses every file named, and every *.yaml file in every
// directory named, reporting all problems at once.
func loadScenarios(args []string) ([]*scenario.Scenario, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml scenario in the directory", a)
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	var out []*scenario.Scenario
	var errs []error
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// listenHostFlag is -listen-host of run and demo.
func listenHostFlag(fs *flag.FlagSet) *string {
	return fs.String("listen-host", runner.DefaultListenHost,
		"host (an interface's IP address) the Waku transport of every node the runner starts listens on; loopback by default, so remote nodes cannot dial them")
}

// checkListenHost refuses a -listen-host a node could not listen on: it must
// name one interface's address (or a name resolving to one), without a port.
func checkListenHost(host string) error {
	if host == "" || strings.ContainsAny(host, "[]/ ") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return fmt.Errorf("-listen-host %q: want a host without a port, such as 127.0.0.1 or 192.0.2.10", host)
	}
	addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return fmt.Errorf("-listen-host %q: %v", host, err)
	}
	if addr.IP == nil {
		return fmt.Errorf("-listen-host %q: want a host without a port, such as 127.0.0.1 or 192.0.2.10", host)
	}
	return nil
}

// runBoth runs a scenario on the stock configuration and on the Guard at the
// same time, each with its own nodes.
func runBoth(ctx context.Context, s *scenario.Scenario, opts runner.Options) (stock, guarded *runner.Result) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		o := opts
		o.Stock = true
		stock = runner.Run(ctx, s, o)
	}()
	go func() {
		defer wg.Done()
		guarded = runner.Run(ctx, s, opts)
	}()
	wg.Wait()
	return stock, guarded
}

// runScenarios is `mvdsqa run`: it exits 0 only when every expectation of
// every scenario held.
func runScenarios(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	junit := fs.String("junit", "", "write JUnit XML to this file")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	htmlOut := fs.String("html", "", "write the HTML report (a timeline per message, stock and guarded side by side) to this file")
	variant := fs.String("variant", "guarded", "guarded, stock, both (side by side), status-go (needs -status-backend), or all: stock, guarded and status-go side by side")
	statusBackend := fs.String("status-backend", "", "a status-backend executable (status-go's cmd/status-backend): run the nodes on status-go (implies -variant status-go unless -variant says otherwise)")
	statusBackendGuarded := fs.String("status-backend-guarded", "", "with -variant all: a status-backend built with the Guard wired in, run as one more column (\"status-go-guarded\")")
	matrix := fs.String("matrix", "", "write the results side by side, one column per variant, as a Markdown table to this file")
	work := fs.String("work", "", "directory in which every run makes its own directory for its nodes' data and logs (default: a temporary one per run, kept only for failed runs)")
	keep := fs.Bool("keep", false, "keep the nodes' data and logs of passing runs too")
	binary := fs.String("node-binary", "", "mvdsqa executable for process nodes (default: this one)")
	processes := fs.Bool("processes", false, "run every in-process node as an `mvdsqa node` process instead")
	epoch := fs.Duration("epoch", 0, "mvds epoch of the nodes the runner starts (default 300ms, status-go's)")
	quiet := fs.Bool("q", false, "do not print each step")
	slack := fs.Float64("slack", 1, "multiply every expectation's time limit (for machines busy with other work)")
	listenHost := listenHostFlag(fs)
	netns := netnsFlag(fs)
	poll := fs.Duration("poll", 50*time.Millisecond, "how often the runner polls each node (raise it for many nodes: at 500ms, 100 nodes cost the runner 5 % of a core)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mvdsqa run [flags] SCENARIO.yaml|DIR ...\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	variantSet := false
	fs.Visit(func(f *flag.Flag) { variantSet = variantSet || f.Name == "variant" })
	if *statusBackend != "" && !variantSet {
		*variant = runner.VariantStatusGo
	}
	switch *variant {
	case "guarded", "stock", "both":
	case runner.VariantStatusGo, "all":
		if *statusBackend == "" {
			fmt.Fprintf(stderr, "run: -variant %s needs -status-backend (a status-backend executable)\n", *variant)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "run: -variant %q: want guarded, stock, both, status-go or all\n", *variant)
		return 2
	}
	if *statusBackendGuarded != "" && *variant != "all" {
		fmt.Fprintf(stderr, "run: -status-backend-guarded is a column of -variant all\n")
		return 2
	}
	for _, bin := range []string{*statusBackend, *statusBackendGuarded} {
		if bin == "" {
			continue
		}
		if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			fmt.Fprintf(stderr, "run: %s is not an executable file\n", bin)
			return 2
		}
	}
	scenarios, err := loadScenarios(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	if *slack < 1 || *slack > 100 {
		fmt.Fprintf(stderr, "run: -slack %v: want a factor from 1 to 100\n", *slack)
		return 2
	}
	if err := checkListenHost(*listenHost); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return 2
	}
	if *poll < 10*time.Millisecond || *poll > 10*time.Second {
		fmt.Fprintf(stderr, "run: -poll %v: want 10ms to 10s\n", *poll)
		return 2
	}
	opts := runner.Options{WorkDir: *work, Keep: *keep, NodeBinary: *binary, Processes: *processes,
		Epoch: *epoch, Stock: *variant == "stock", Slack: *slack, ListenHost: *listenHost, NetNS: *netns, Poll: *poll}
	if !*quiet {
		opts.Progress = stdout
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := checkNetns(ctx, scenarios, *netns); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	var results []*runner.Result
	statusGo := opts
	statusGo.Stock, statusGo.StatusBackend = false, *statusBackend
	for _, s := range scenarios {
		if *variant == runner.VariantStatusGo {
			r := runner.Run(ctx, s, statusGo)
			results = append(results, r)
			runner.WriteText(stdout, r)
			continue
		}
		if *variant == "all" {
			st, gu := runBoth(ctx, s, opts)
			sg := runner.Run(ctx, s, statusGo)
			results = append(results, st, gu, sg)
			for _, r := range []*runner.Result{st, gu, sg} {
				runner.WriteText(stdout, r)
			}
			if *statusBackendGuarded != "" {
				wired := statusGo
				wired.StatusBackend, wired.Label = *statusBackendGuarded, "status-go-guarded"
				r := runner.Run(ctx, s, wired)
				results = append(results, r)
				runner.WriteText(stdout, r)
			}
			continue
		}
		if *variant == "both" {
			st, gu := runBoth(ctx, s, opts)
			results = append(results, st, gu)
			runner.WriteText(stdout, st)
			runner.WriteText(stdout, gu)
		} else {
			r := runner.Run(ctx, s, opts)
			results = append(results, r)
			runner.WriteText(stdout, r)
		}
	}
	if *matrix != "" {
		if err := writeMatrix(*matrix, results); err != nil {
			fmt.Fprintf(stderr, "run: %v\n", err)
			return 2
		}
	}
	if err := writeReports(results, *junit, *jsonOut); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return 2
	}
	if err := writeHTML(results, *htmlOut); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return 2
	}
	if *htmlOut != "" {
		fmt.Fprintf(stdout, "HTML report: %s\n", absPath(*htmlOut))
	}
	passed := 0
	for _, r := range results {
		if r.Passed {
			passed++
		}
	}
	fmt.Fprintf(stdout, "\n%d of %d scenario runs passed\n", passed, len(results))
	if passed != len(results) {
		return 1
	}
	return 0
}

func writeReports(results []*runner.Result, junit, jsonOut string) error {
	for _, out := range []struct {
		path  string
		write func(io.Writer, []*runner.Result) error
	}{{junit, runner.WriteJUnit}, {jsonOut, runner.WriteJSON}} {
		if out.path == "" {
			continue
		}
		f, err := os.Create(out.path)
		if err != nil {
			return err
		}
		if err := out.write(f, results); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", out.path, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func writeMatrix(path string, results []*runner.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := runner.WriteMatrix(f, results); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
