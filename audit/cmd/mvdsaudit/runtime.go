package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/report"
)

const runtimeUsage = `usage: mvdsaudit runtime [flags] [FILE|-]

mvdsaudit runtime reads status-go's logs (geth terminal format, zap console or
JSON) and runtime records (JSON Lines, docs/runtime-audit.md) from FILE or
standard input, in one pass with constant memory, and reports critical
messages sent outside MVDS (MA1001), messages with neither a delivered nor a
failed outcome within the horizon (MA2001), reconnects not followed by a retry
(MA2002), failures without any attempt (MA2003) and messages handed to the
application twice (MA2004).

Exit codes: 0 no error-severity violation, 1 error-severity violations,
2 usage or configuration error, or input that cannot be used (unreadable,
empty, or without a single line in a format the audit reads).

Flags:
`

// runRuntime is the runtime subcommand, minus process exit.
func runRuntime(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mvdsaudit runtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text, json or junit")
	configPath := fs.String("config", "", "JSON configuration file (docs/runtime-audit.md)")
	output := fs.String("o", "", "write the report to this file instead of standard output")
	year := fs.Int("year", 0, "year of the first geth timestamp, which carries none (default: the configuration's, else the current year)")
	fs.Usage = func() {
		fmt.Fprint(stderr, runtimeUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitClean
		}
		return exitFailure
	}
	switch *format {
	case "text", "json", "junit":
	default:
		fmt.Fprintf(stderr, "mvdsaudit runtime: unknown -format %q (want text, json or junit)\n", *format)
		return exitFailure
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "mvdsaudit runtime: one input at a time, got %d (concatenate logs, each line keeps its process label)\n", fs.NArg())
		return exitFailure
	}
	cfg, err := config.LoadRuntime(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "mvdsaudit runtime: %v\n", err)
		return exitFailure
	}
	if *year != 0 {
		cfg.Year = *year
		if err := cfg.Validate(); err != nil {
			fmt.Fprintf(stderr, "mvdsaudit runtime: -year: %v\n", err)
			return exitFailure
		}
	}
	name, in := "-", stdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		name = fs.Arg(0)
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "mvdsaudit runtime: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		in = f
	}
	rec, err := dynamic.NewRecorder(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mvdsaudit runtime: %v\n", err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stats, readErr := dynamic.Read(ctx, in, name, rec)
	rep := rec.Finish(rec.Clock())
	rep.Tool, rep.Version = "mvdsaudit", version()
	rep.Inputs = append(rep.Inputs, stats)
	unusable := ""
	switch {
	case readErr != nil:
		unusable = readErr.Error()
	case stats.Lines == 0:
		unusable = fmt.Sprintf("%s is empty: nothing to audit", name)
	case stats.Understood() == 0:
		unusable = fmt.Sprintf("none of the %d lines of %s is a status-go log line or a runtime record (see the samples in the report)", stats.Lines, name)
	}
	if err := emitRuntime(rep, *format, *output, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "mvdsaudit runtime: %v\n", err)
		return exitFailure
	}
	if unusable != "" {
		fmt.Fprintf(stderr, "mvdsaudit runtime: %s\n", unusable)
		return exitFailure
	}
	if errs, _, _ := rep.Counts(); errs > 0 {
		return exitFindings
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
