package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/logfiles"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/report"
)

const runtimeUsage = `usage: mvdsaudit runtime [flags] [PATH...|-]

mvdsaudit runtime reads status-go's logs (geth terminal or logfmt format, zap
console or JSON, every release's message names) and runtime records (JSON
Lines, docs/runtime-audit.md) and reports critical messages sent outside MVDS
(MA1001), messages with neither a delivered nor a failed outcome within the
horizon (MA2001), reconnects not followed by a retry (MA2002), failures
without any attempt (MA2003) and messages handed to the application twice
(MA2004).

A PATH is a file, a directory (searched recursively for *.log, *.jsonl,
*.txt, *.out, rotated and .gz ones), or a glob; - or no PATH reads standard
input. Each log is one node, judged by its own clock and end of log; a
node's rotated files (geth.log.1, geth.log) are one log. A node is named
after its file (below a directory: its path there, without extensions),
or by -node, or by -node-pattern; a label before a line ("alice-1  | ")
names that line's node. Files are read in parallel (-j).

Exit codes: 0 no error-severity violation; 1 error-severity violations;
2 usage or configuration error, or no input usable at all; 3 some inputs
could not be used (each is named on standard error and in the report) and
the others hold no error-severity violation.

Flags:
`

// exitPartial: some inputs could not be used; the rest were judged clean.
const exitPartial = 3

// runRuntime is the runtime subcommand, minus process exit.
func runRuntime(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mvdsaudit runtime", flag.ContinueOnError)
	format := fs.String("format", "text", "output format: text, json or junit")
	configPath := fs.String("config", "", "JSON configuration file (docs/runtime-audit.md)")
	output := fs.String("o", "", "write the report to this file instead of standard output")
	year := fs.Int("year", 0, "year of the first geth timestamp, which carries none (default: the configuration's, else each file's modification time; the report says which)")
	node := fs.String("node", "", "the node every input belongs to (default: each file's name)")
	pattern := fs.String("node-pattern", "", "regular expression finding the node in a file's path: its group named node, else its first group, else the match")
	workers := fs.Int("j", runtime.GOMAXPROCS(0), "files read at once")
	if code, ok := parseFlags(fs, args, runtimeUsage, stderr); !ok {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "mvdsaudit runtime: "+format+"\n", args...)
		return exitFailure
	}
	if err := checkFormat(*format, "text", "json", "junit"); err != nil {
		return fail("%v", err)
	}
	if *workers < 1 {
		return fail("-j %d: want at least 1", *workers)
	}
	naming := logfiles.Naming{Node: *node}
	if *pattern != "" {
		re, err := regexp.Compile(*pattern)
		if err != nil {
			return fail("-node-pattern: %v", err)
		}
		naming.Pattern = re
	}
	cfg, err := config.LoadRuntime(*configPath)
	if err != nil {
		return fail("%v", err)
	}
	opt := logfiles.ReadOptions{Workers: *workers}
	if *year != 0 {
		check := cfg
		check.Year = *year
		if err := check.Validate(); err != nil {
			return fail("-year: %v", err)
		}
		opt.Year, opt.YearFrom = *year, "-year"
	}
	fleet, err := dynamic.NewFleet(cfg)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var problems []logfiles.Problem
	paths := fs.Args()
	if len(paths) == 0 || len(paths) == 1 && paths[0] == "-" {
		name := *node
		if name == "" {
			name = "stdin"
		}
		st, err := fleet.Read(ctx, stdin, dynamic.Input{Name: "-", Node: name, Year: opt.Year, YearFrom: opt.YearFrom})
		switch {
		case err != nil:
			problems = append(problems, logfiles.Problem{Path: "-", Err: err})
		case st.Lines == 0:
			problems = append(problems, logfiles.Problem{Path: "-", Err: errors.New("standard input is empty: nothing to audit")})
		case st.Understood() == 0:
			problems = append(problems, logfiles.Problem{Path: "-", Err: fmt.Errorf("none of the %d lines of standard input is a status-go log line or a runtime record (see the samples in the report)", st.Lines)})
		}
	} else {
		for _, p := range paths {
			if p == "-" {
				return fail("- (standard input) cannot be mixed with other inputs")
			}
		}
		found := logfiles.Find(paths, naming)
		for _, p := range found.Problems {
			fleet.AddInput(&dynamic.InputStats{Name: p.Path, Err: p.Error()})
		}
		problems = append(problems, found.Problems...)
		problems = append(problems, logfiles.ReadAll(ctx, fleet, found.Nodes, opt)...)
		if n := len(found.Skipped) + found.SkippedMore; n > 0 {
			more := ""
			if found.SkippedMore > 0 {
				more = fmt.Sprintf(" and %d more", found.SkippedMore)
			}
			fmt.Fprintf(stderr, "mvdsaudit runtime: skipped %d file(s) not named like a log: %s%s\n", n, strings.Join(found.Skipped, ", "), more)
		}
	}
	rep := fleet.Finish()
	rep.Tool, rep.Version = "mvdsaudit", version()
	if err := emitRuntime(rep, *format, *output, stdout, stderr); err != nil {
		return fail("%v", err)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "mvdsaudit runtime: %v\n", p.Err)
	}
	usable := 0
	for _, in := range rep.Inputs {
		if in.Err == "" && in.Understood() > 0 {
			usable++
		}
	}
	errs, _, _ := rep.Counts()
	switch {
	case usable == 0:
		if len(problems) == 0 {
			return fail("no input")
		}
		return exitFailure
	case errs > 0:
		return exitFindings
	case len(problems) > 0:
		return exitPartial
	}
	return exitClean
}

func emitRuntime(rep *dynamic.Report, format, output string, stdout, stderr io.Writer) error {
	w := stdout
	if output != "" {
		f, err := os.Create(output)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer f.Close()
		w = f
	}
	var err error
	switch format {
	case "json":
		err = report.JSON(w, rep)
	case "junit":
		err = report.JUnit(w, rep)
	default:
		err = report.Text(w, rep)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if format != "text" || output != "" {
		fmt.Fprintln(stderr, "mvdsaudit runtime: "+report.Summary(rep))
	}
	return nil
}
