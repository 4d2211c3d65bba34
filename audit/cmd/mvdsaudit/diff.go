package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/static"
	"github.com/mvdsguard/mvdsguard/audit/static/driver"
	"github.com/mvdsguard/mvdsguard/audit/static/report"
	"github.com/mvdsguard/mvdsguard/audit/static/review"
)

const diffUsage = `usage: mvdsaudit diff (-base REF | -base-report FILE) [flags] packages...

mvdsaudit diff says what a change does to each critical send: it audits the
working tree and a base — a git ref, checked out by the tool into a
temporary directory, or a JSON report saved earlier with -format json — and
lists the send sites added, removed, or whose verdict changed, regressions
(a site that went through MVDS and does not any more) first. Sites are
matched by package, function, flow and message type, not by line.

Exit codes: 0 no regression, 1 regressions, 2 usage error, a base that does
not exist or cannot be read, or nothing could be analysed.

Flags:
`

// runDiff is the diff subcommand, minus process exit.
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mvdsaudit diff", flag.ContinueOnError)
	baseRef := fs.String("base", "", "git ref (branch, tag, commit) to compare the working tree with")
	baseReport := fs.String("base-report", "", "JSON report (mvdsaudit -format json) of the base, instead of -base")
	format := fs.String("format", "text", "output format: text, json, sarif (regressions only) or markdown")
	configPath := fs.String("config", "", "JSON configuration file (docs/audit.md), used for both sides")
	dir := fs.String("C", "", "run as if started in this directory (the working tree to review)")
	output := fs.String("o", "", "write the review to this file instead of standard output")
	tests := fs.Bool("test", false, "also audit _test.go files")
	cache := fs.Bool("cache", true, "reuse the result of an identical earlier run (kept in the user cache directory)")
	if code, ok := parseFlags(fs, args, diffUsage, stderr); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mvdsaudit diff: "+format+"\n", a...)
		return exitFailure
	}
	if err := checkFormat(*format, "text", "json", "sarif", "markdown"); err != nil {
		return fail("%v", err)
	}
	if (*baseRef == "") == (*baseReport == "") {
		fs.Usage()
		return fail("give exactly one of -base REF and -base-report FILE")
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		return fail("no packages given (try ./...)")
	}
	cfg, err := config.LoadStatic(*configPath)
	if err != nil {
		return fail("%v", err)
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := auditOptions{cfg: cfg, configPath: *configPath, tests: *tests, cache: *cache}

	var baseSites []static.Site
	var baseName string
	if *baseReport != "" {
		data, err := os.ReadFile(*baseReport)
		if err != nil {
			return fail("read base report: %v", err)
		}
		saved, err := report.ReadJSON(data, "mvdsaudit", version())
		if err != nil {
			return fail("base report %s: %v", *baseReport, err)
		}
		baseSites, baseName = saved.Sites, *baseReport
	} else {
		baseDir, cleanup, err := checkoutBase(ctx, root, *baseRef)
		if err != nil {
			return fail("%v", err)
		}
		defer cleanup()
		// A fresh temporary directory each time: caching it would only
		// fill the cache.
		baseOpts := opts
		baseOpts.cache = false
		rep, err := auditTree(ctx, baseDir, patterns, baseOpts, stderr)
		if err != nil {
			return fail("base %s: %v", *baseRef, err)
		}
		baseSites, baseName = rep.Sites, *baseRef
	}
	head, err := auditTree(ctx, root, patterns, opts, stderr)
	if err != nil {
		return fail("%v", err)
	}
	rv := review.Compare(baseSites, head.Sites)
	rv.Base, rv.Head = baseName, "working tree"

	w := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return fail("create review: %v", err)
		}
		defer f.Close()
		w = f
	}
	switch *format {
	case "json":
		err = review.JSON(w, rv, "mvdsaudit", version())
	case "sarif":
		err = review.SARIF(w, rv, "mvdsaudit", version(), root)
	case "markdown":
		err = review.Markdown(w, rv)
	default:
		err = review.Text(w, rv)
	}
	if err != nil {
		return fail("write review: %v", err)
	}
	fmt.Fprintln(stderr, "mvdsaudit diff: "+rv.Summary())
	if rv.Regressions() > 0 {
		return exitFindings
	}
	return exitClean
}

type auditOptions struct {
	cfg          *config.Static
	configPath   string
	tests, cache bool
}

// auditTree runs the static audit on one tree and returns its report,
// positions relative to dir.
func auditTree(ctx context.Context, dir string, patterns []string, o auditOptions, stderr io.Writer) (*report.Run, error) {
	dopts := driver.Options{Dir: dir, Tests: o.tests, Analyzer: static.New(static.Options{Config: o.cfg}), Config: o.cfg}
	if o.cache {
		dopts.CacheDir, dopts.CacheKey = cacheSettings(o.configPath)
	}
	res, err := driver.Run(ctx, patterns, dopts)
	if err != nil && (res == nil || errors.Is(err, driver.ErrNothingLoaded)) {
		return nil, err
	}
	rep := buildRun(res, dir, o.cfg)
	for _, p := range res.Packages {
		if p.Err != nil {
			fmt.Fprintf(stderr, "mvdsaudit diff: %s: %v\n", p.Path, p.Err)
		}
	}
	if rep.Analyzed == 0 && rep.Relevant > 0 {
		return nil, errors.New("no package could be analysed")
	}
	return rep, nil
}

// checkoutBase writes the tree of ref into a temporary directory and
// returns the directory that corresponds to dir in it, with a function
// that removes it all.
func checkoutBase(ctx context.Context, dir, ref string) (string, func(), error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String())
			if msg == "" {
				msg = err.Error()
			}
			return "", errors.New(msg)
		}
		return strings.TrimSpace(out.String()), nil
	}
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, fmt.Errorf("-base needs a git work tree: %s: %v", dir, err)
	}
	commit, err := git("rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil || commit == "" {
		return "", nil, fmt.Errorf("base ref %q does not exist in the repository at %s", ref, top)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	realTop, err := filepath.EvalSymlinks(top)
	if err != nil {
		return "", nil, fmt.Errorf("resolve %s: %w", top, err)
	}
	rel, err := filepath.Rel(realTop, realDir)
	if err != nil {
		return "", nil, fmt.Errorf("locate %s in %s: %w", dir, top, err)
	}
	tmp, err := os.MkdirTemp("", "mvdsaudit-base-")
	if err != nil {
		return "", nil, fmt.Errorf("temporary directory for the base: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	cmd := exec.CommandContext(ctx, "git", "-C", top, "archive", "--format=tar", commit)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("git archive: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("git archive: %w", err)
	}
	xerr := extractTar(pipe, tmp)
	io.Copy(io.Discard, pipe)
	werr := cmd.Wait()
	if xerr != nil || werr != nil {
		cleanup()
		if xerr == nil {
			xerr = fmt.Errorf("%v: %s", werr, strings.TrimSpace(errb.String()))
		}
		return "", nil, fmt.Errorf("check out base %s (%s): %w", ref, commit, xerr)
	}
	return filepath.Join(tmp, rel), cleanup, nil
}

// extractTar writes the regular files, directories and symbolic links of a
// tar stream under dst, refusing names that would leave it.
func extractTar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q leaves the checkout", h.Name)
		}
		target := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}
