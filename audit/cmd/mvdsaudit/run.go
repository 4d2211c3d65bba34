package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
	"github.com/mvdsguard/mvdsguard/audit/static/baseline"
	"github.com/mvdsguard/mvdsguard/audit/static/driver"
	"github.com/mvdsguard/mvdsguard/audit/static/report"
)

// Exit codes, stable so that CI can rely on them.
const (
	exitClean    = 0
	exitFindings = 1
	exitFailure  = 2
)

const usage = `usage: mvdsaudit [flags] packages...
       go vet -vettool=$(which mvdsaudit) [-mvdsaudit.config=F] packages...
       mvdsaudit diff (-base REF | -base-report FILE) [flags] packages...
       mvdsaudit runtime [flags] [FILE|-]

mvdsaudit reports every place a critical status-go message (contact request,
community join request or response, 1:1 or private group message) is sent,
whether it goes through MVDS, and what happens when it cannot be delivered.

Exit codes: 0 no error-severity finding, 1 error-severity findings,
2 usage, configuration or load failure.

Flags:
`

type options struct {
	format        string
	configPath    string
	baselinePath  string
	writeBaseline string
	sites         bool
	tests         bool
	dir           string
	output        string
	cpuProfile    string
	cache         bool
}

// run is the whole command, minus process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mvdsaudit", flag.ContinueOnError)
	fs.StringVar(&o.format, "format", "text", "output format: text, json or sarif")
	fs.StringVar(&o.configPath, "config", "", "JSON configuration file (docs/audit.md)")
	fs.StringVar(&o.baselinePath, "baseline", "", "baseline file: findings in it do not fail the run")
	fs.StringVar(&o.writeBaseline, "write-baseline", "", "write the current findings to this baseline file and exit 0")
	fs.BoolVar(&o.sites, "sites", false, "text format: also print every send site with its verdict")
	fs.BoolVar(&o.tests, "test", false, "also audit _test.go files")
	fs.StringVar(&o.dir, "C", "", "run as if started in this directory")
	fs.StringVar(&o.output, "o", "", "write the report to this file instead of standard output")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.BoolVar(&o.cache, "cache", true, "reuse the result of an identical earlier run (kept in the user cache directory)")
	if code, ok := parseFlags(fs, args, usage, stderr); !ok {
		return code
	}
	if err := checkFormat(o.format, "text", "json", "sarif"); err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		return exitFailure
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		fmt.Fprintln(stderr, "mvdsaudit: no packages given (try ./...)")
		fs.Usage()
		return exitFailure
	}
	cfg, err := config.LoadStatic(o.configPath)
	if err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		return exitFailure
	}
	var base *baseline.Baseline
	if o.baselinePath != "" {
		if base, err = baseline.Read(o.baselinePath); err != nil {
			fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
			return exitFailure
		}
	}
	root, err := filepath.Abs(o.dir)
	if err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		return exitFailure
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
			return exitFailure
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dopts := driver.Options{Dir: root, Tests: o.tests, Analyzer: static.New(static.Options{Config: cfg}), Config: cfg}
	if o.cache {
		dopts.CacheDir, dopts.CacheKey = cacheSettings(o.configPath)
	}
	res, err := driver.Run(ctx, patterns, dopts)
	if err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		if res == nil || errors.Is(err, driver.ErrNothingLoaded) {
			return exitFailure
		}
	}
	rep := buildRun(res, root, cfg)
	for _, p := range res.Packages {
		if p.Err != nil {
			fmt.Fprintf(stderr, "mvdsaudit: %s: %v\n", p.Path, p.Err)
		}
	}
	if rep.Analyzed == 0 && rep.Relevant > 0 {
		fmt.Fprintln(stderr, "mvdsaudit: no package could be analysed")
		return exitFailure
	}
	if o.writeBaseline != "" {
		return writeBaseline(o.writeBaseline, rep, stderr)
	}
	if base != nil {
		applyBaseline(rep, base)
	}
	if err := emit(rep, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		return exitFailure
	}
	for _, f := range rep.Findings {
		if f.Severity == rule.SeverityError {
			return exitFindings
		}
	}
	return exitClean
}

// buildRun gathers the driver's results into one report, with positions
// relative to root.
func buildRun(res *driver.Result, root string, cfg *config.Static) *report.Run {
	rep := &report.Run{Tool: "mvdsaudit", Version: version(), Root: root, Matched: res.Matched, Relevant: res.Relevant}
	for _, p := range res.Packages {
		if p.Err != nil || p.Result == nil {
			continue
		}
		rep.Analyzed++
		for _, s := range p.Result.Sites {
			s.Position = relPos(root, s.Position)
			s.Origin = relPos(root, s.Origin)
			rep.Sites = append(rep.Sites, s)
		}
		for _, f := range p.Result.Findings {
			f.Position = relPos(root, f.Position)
			rep.Findings = append(rep.Findings, f)
		}
		for _, f := range p.Result.Suppressed {
			f.Position = relPos(root, f.Position)
			rep.Suppressed = append(rep.Suppressed, f)
		}
		if src := relPos(root, p.Result.MessageTypes); src != "" && !strings.Contains(rep.MessageTypes, src) {
			if rep.MessageTypes != "" {
				rep.MessageTypes += "; "
			}
			rep.MessageTypes += src
		}
	}
	if sev := cfg.SeverityOf(rule.LoadError); sev != rule.SeverityOff {
		for _, e := range res.LoadErrors {
			rep.Findings = append(rep.Findings, static.Finding{Rule: rule.LoadError, Position: relPos(root, e.Position),
				Message: fmt.Sprintf("package %s: %s", e.Package, e.Message), Severity: sev})
		}
	}
	report.SortFindings(rep.Findings)
	report.SortFindings(rep.Suppressed)
	return rep
}

// relPos rewrites an absolute "file:line:col" relative to root.
func relPos(root, pos string) string {
	if pos == "" || !filepath.IsAbs(pos) {
		return filepath.ToSlash(pos)
	}
	file, rest := pos, ""
	if parts := strings.Split(pos, ":"); len(parts) >= 3 {
		file = strings.Join(parts[:len(parts)-2], ":")
		rest = ":" + parts[len(parts)-2] + ":" + parts[len(parts)-1]
	}
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return filepath.ToSlash(file) + rest
}

func fileOf(pos string) string {
	if parts := strings.Split(pos, ":"); len(parts) >= 3 {
		return strings.Join(parts[:len(parts)-2], ":")
	}
	return pos
}

func toBaseline(fs []static.Finding) []baseline.Finding {
	out := make([]baseline.Finding, len(fs))
	for i, f := range fs {
		out[i] = baseline.Finding{Rule: f.Rule, File: fileOf(f.Position), Function: f.Function, Message: f.Message}
	}
	return out
}

func writeBaseline(path string, rep *report.Run, stderr io.Writer) int {
	var buf bytes.Buffer
	b := baseline.New(toBaseline(rep.Findings))
	if err := b.Write(&buf); err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: %v\n", err)
		return exitFailure
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "mvdsaudit: write baseline: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "mvdsaudit: wrote %d findings to %s\n", len(rep.Findings), path)
	return exitClean
}

// applyBaseline moves the findings the baseline accepts out of the run, and
// reports baseline entries that no longer match anything.
func applyBaseline(rep *report.Run, b *baseline.Baseline) {
	fresh, known, stale := b.Filter(toBaseline(rep.Findings))
	var kept []static.Finding
	for _, i := range fresh {
		kept = append(kept, rep.Findings[i])
	}
	for _, i := range known {
		rep.Baselined = append(rep.Baselined, rep.Findings[i])
	}
	for _, e := range stale {
		kept = append(kept, static.Finding{Rule: rule.BaselineMismatch, Position: "",
			Message: fmt.Sprintf("baseline entry no longer matches a finding (fixed?): %s", e), Severity: rule.SeverityInfo})
	}
	rep.Findings = kept
}

func emit(rep *report.Run, o options, stdout, stderr io.Writer) error {
	w := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer f.Close()
		w = f
	}
	var err error
	switch o.format {
	case "json":
		err = report.JSON(w, rep)
	case "sarif":
		err = report.SARIF(w, rep)
	default:
		err = report.Text(w, rep, o.sites)
		fmt.Fprintln(stderr, report.SummaryLine(rep))
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// cacheSettings returns where results are cached and what, besides the
// source tree, they depend on: this very binary and the configuration
// file. Without a user cache directory there is no cache.
func cacheSettings(configPath string) (dir, key string) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", ""
	}
	h := sha256.New()
	exe, err := os.Executable()
	if err != nil {
		return "", ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", ""
	}
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", ""
	}
	if configPath != "" {
		data, err := os.ReadFile(configPath)
		if err != nil {
			return "", ""
		}
		h.Write(data)
	}
	return filepath.Join(base, "mvdsaudit"), hex.EncodeToString(h.Sum(nil))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
