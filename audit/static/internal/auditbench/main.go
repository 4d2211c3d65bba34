// Command auditbench times mvdsaudit against go vet on the same packages,
// with the peak memory of each, and prints the result as a Markdown table
// (optionally written into docs/benchmarks.md between its audit markers).
//
//	go run ./audit/static/internal/auditbench [-runs 3] [-synth DIR] [-doc docs/benchmarks.md]
//	go run ./audit/static/internal/auditbench gen -out DIR   # only write the synthetic tree
//
// Targets: the fixture module and a synthetic status-go-shaped tree of about
// 200,000 lines (written by package synth into a temporary directory unless
// -synth names one). Each command runs once to warm the build cache, as it
// would be in CI, then -runs times; the median wall time is reported. Peak
// memory is the largest resident set of any process the command started
// (go vet runs one vet process per package), measured with getrusage.
//
// It is a developer tool for `make bench`; it must not be imported.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/static/internal/synth"
	"github.com/mvdsguard/mvdsguard/internal/benchdoc"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "measure" {
		os.Exit(measure(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		os.Exit(gen(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(floor())
	}
	if err := bench(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench:", err)
		os.Exit(1)
	}
}

func gen(args []string) int {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "", "directory to write the synthetic module into (must be empty or absent)")
	pkgs := fs.Int("packages", synth.Default().Packages, "feature packages")
	_ = fs.Parse(args)
	if *out == "" {
		fmt.Fprintln(os.Stderr, "auditbench gen: -out is required")
		return 2
	}
	o := synth.Default()
	o.Packages = *pkgs
	st, err := synth.Write(*out, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditbench gen:", err)
		return 1
	}
	fmt.Printf("wrote %d packages, %d files, %d lines to %s\n", st.Packages, st.Files, st.Lines, *out)
	return 0
}

// sample is one measured run.
type sample struct {
	Wall   time.Duration `json:"wall"`
	MaxRSS int64         `json:"maxRSSKiB"`
	Exit   int           `json:"exit"`
}

// measure runs a command and reports its wall time and the largest resident
// set among the processes it started, as JSON on stdout.
func measure(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "auditbench measure: want dir command...")
		return 2
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = args[0]
	cmd.Stdout = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "auditbench measure:", err)
		return 2
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench measure: getrusage:", err)
		return 2
	}
	// Exit codes 1 (findings) are expected; anything else is a failure
	// worth seeing.
	if code > 1 {
		os.Stderr.Write(stderr.Bytes())
	}
	_ = json.NewEncoder(os.Stdout).Encode(sample{Wall: wall, MaxRSS: int64(ru.Maxrss), Exit: code})
	return 0
}

type target struct {
	name, dir string
	lines     int
	// edit is a file the "after an edit" scenario appends a function to: a
	// package most others import, so go vet must redo their analysis.
	edit string
}

// scenario is a state of the build cache both commands run in.
type scenario struct {
	name string
	// cold: a fresh, empty GOCACHE for every run (a CI job without a
	// cache). Otherwise the cache is warm from the warm-up run.
	cold bool
	// edit: add a function to target.edit before every run.
	edit bool
	// noResultCache runs mvdsaudit with -cache=false.
	noResultCache bool
	// floor runs, instead of mvdsaudit, only what any full analysis
	// must do first (see floor).
	floor bool
}

var scenarios = []scenario{
	{name: "cold cache (CI without a cache)", cold: true},
	{name: "warm cache, API of a shared package edited", edit: true},
	{name: "warm cache, nothing changed", edit: false},
	{name: "warm cache, nothing changed, mvdsaudit -cache=false", noResultCache: true},
	{name: "warm cache, nothing changed, only go list + parsing the audited files (the floor of -cache=false)", floor: true},
}

type result struct {
	target          target
	scenario        scenario
	vetRuns, auRuns []time.Duration
	vetRSS, auRSS   int64
}

func bench(args []string) error {
	fs := flag.NewFlagSet("auditbench", flag.ExitOnError)
	runs := fs.Int("runs", 3, "timed runs per command and scenario (after one warm-up run)")
	synthDir := fs.String("synth", "", "existing synthetic tree to use (default: generate one in a temporary directory)")
	doc := fs.String("doc", "", "write the results into this file between <!-- audit:begin --> and <!-- audit:end -->")
	_ = fs.Parse(args)

	module, err := auditModule()
	if err != nil {
		return err
	}
	root := filepath.Dir(module)
	tmp, err := os.MkdirTemp("", "auditbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "mvdsaudit")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(module, "cmd", "mvdsaudit")).CombinedOutput(); err != nil {
		return fmt.Errorf("build mvdsaudit: %v\n%s", err, out)
	}
	// The targets are copied, so that the edit scenario never touches the
	// repository.
	fixtures := filepath.Join(tmp, "fixtures")
	if err := os.CopyFS(fixtures, os.DirFS(filepath.Join(root, "fixtures", "statusgo"))); err != nil {
		return err
	}
	dir := *synthDir
	if dir == "" {
		dir = filepath.Join(tmp, "synth")
		st, err := synth.Write(dir, synth.Default())
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "generated %d packages, %d lines in %s\n", st.Packages, st.Lines, dir)
	} else {
		copied := filepath.Join(tmp, "synth")
		if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
			return err
		}
		dir = copied
	}
	targets := []target{
		{name: "fixtures/statusgo", dir: fixtures, edit: filepath.Join(fixtures, "protocol", "common", "raw_message.go")},
		{name: "synthetic tree", dir: dir, edit: filepath.Join(dir, "protocol", "forward", "forward.go")},
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	vet := []string{"go", "vet", "./..."}
	audit := []string{bin, "./..."}
	// mvdsaudit's result cache lives in a directory of the benchmark's
	// own, so that runs neither read nor fill the user's.
	warmResults := "XDG_CACHE_HOME=" + filepath.Join(tmp, "results")
	loadBefore := benchdoc.LoadAverage()
	var results []result
	for ti, t := range targets {
		t.lines = countLines(t.dir)
		// Warm-up: fills the build cache as a CI cache (or a developer's
		// machine) would have it.
		if _, err := run(self, t.dir, vet, nil); err != nil {
			return err
		}
		if _, err := run(self, t.dir, audit, []string{warmResults}); err != nil {
			return err
		}
		for _, sc := range scenarios {
			r := result{target: t, scenario: sc}
			for i := 0; i < *runs; i++ {
				if sc.edit {
					if err := appendFunc(t.edit, i); err != nil {
						return err
					}
				}
				var vetEnv []string
				auditEnv := []string{warmResults}
				var scratch []string
				if sc.cold {
					// Each command gets its own empty caches, so that the
					// second does not profit from the first.
					vc := filepath.Join(tmp, fmt.Sprintf("gocache-%d-vet-%d", ti, i))
					ac := filepath.Join(tmp, fmt.Sprintf("gocache-%d-audit-%d", ti, i))
					rc := filepath.Join(tmp, fmt.Sprintf("results-%d-%d", ti, i))
					vetEnv = []string{"GOCACHE=" + vc}
					auditEnv = []string{"GOCACHE=" + ac, "XDG_CACHE_HOME=" + rc}
					scratch = append(scratch, vc, ac, rc)
				}
				auditCmd := audit
				switch {
				case sc.noResultCache:
					auditCmd = []string{bin, "-cache=false", "./..."}
				case sc.floor:
					auditCmd = []string{self, "floor"}
				}
				v, err := run(self, t.dir, vet, vetEnv)
				if err != nil {
					return err
				}
				a, err := run(self, t.dir, auditCmd, auditEnv)
				if err != nil {
					return err
				}
				for _, dir := range scratch {
					os.RemoveAll(dir)
				}
				r.vetRuns = append(r.vetRuns, v.Wall)
				r.auRuns = append(r.auRuns, a.Wall)
				r.vetRSS = max(r.vetRSS, v.MaxRSS)
				r.auRSS = max(r.auRSS, a.MaxRSS)
			}
			results = append(results, r)
		}
	}
	section := render(results, *runs, loadBefore, benchdoc.LoadAverage())
	fmt.Print(section)
	if *doc != "" {
		return writeSection(*doc, section)
	}
	return nil
}

// appendFunc adds an exported function to a shared file: its export data
// changes, so go vet has to analyse every package that imports it again (a
// comment alone would not do: go caches by content).
func appendFunc(path string, i int) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n// BenchEdit%[1]d%[2]d is a benchmark edit.\nfunc BenchEdit%[1]d%[2]d() {}\n", i, time.Now().UnixNano())
	return err
}

func run(self, dir string, command, env []string) (sample, error) {
	var out bytes.Buffer
	cmd := exec.Command(self, append([]string{"measure", dir}, command...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("measure %s in %s: %w", strings.Join(command, " "), dir, err)
	}
	var s sample
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return sample{}, fmt.Errorf("measure %s: %w", strings.Join(command, " "), err)
	}
	if s.Exit > 1 {
		return s, fmt.Errorf("%s in %s exited %d", strings.Join(command, " "), dir, s.Exit)
	}
	return s, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func countLines(dir string) int {
	n := 0
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(path, ".go") {
			if data, err := os.ReadFile(path); err == nil {
				n += bytes.Count(data, []byte("\n"))
			}
		}
		return nil
	})
	return n
}

func render(rs []result, runs int, loadBefore, loadAfter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Static audit: mvdsaudit against go vet\n\n")
	fmt.Fprintf(&b, "Command: `make bench-audit` (it runs `go run ./static/internal/auditbench -doc ../docs/benchmarks.md` in `audit/`). ")
	fmt.Fprintf(&b, "Both commands run on `./...` of the same module, one after the other, %d times per scenario after a warm-up run; ", runs)
	fmt.Fprintf(&b, "the table shows the median wall time. Peak memory is the largest resident set of any process the command started ")
	fmt.Fprintf(&b, "(getrusage of the children: go vet starts one vet process per package, mvdsaudit is one process plus `go list`). ")
	fmt.Fprintf(&b, "The synthetic tree is written by `audit/static/internal/synth` into a temporary directory. ")
	fmt.Fprintf(&b, "A cold run gives each command an empty GOCACHE (and mvdsaudit an empty result cache). go vet caches the results of packages whose inputs it has seen; mvdsaudit caches the result of a whole run whose inputs are unchanged (`-cache=false` turns that off, shown in the last row of each target). ")
	fmt.Fprintf(&b, "Machine: %s/%s, %d CPUs, %s; one-minute load average %s before and %s after the run (above 0 means other work shared the cores, so absolute times are noisy; each pair of commands ran back to back, so the ratios are less so).\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), goVersion(), loadBefore, loadAfter)
	b.WriteString("| packages | Go lines | scenario | go vet | mvdsaudit | ratio (audit / vet) | go vet peak RSS | mvdsaudit peak RSS |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		v, a := median(r.vetRuns), median(r.auRuns)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.2f× | %s | %s |\n", r.target.name, r.target.lines, r.scenario.name,
			v.Round(time.Millisecond), a.Round(time.Millisecond), float64(a)/float64(v), mib(r.vetRSS), mib(r.auRSS))
	}
	var over []string
	for _, r := range rs {
		if median(r.auRuns) > median(r.vetRuns) {
			over = append(over, fmt.Sprintf("%s, %s (%.2f×)", r.target.name, r.scenario.name, float64(median(r.auRuns))/float64(median(r.vetRuns))))
		}
	}
	fmt.Fprintf(&b, "\nGoal: mvdsaudit ≤ 1.0× go vet's time. ")
	if len(over) == 0 {
		fmt.Fprintf(&b, "Met in every scenario of this run.\n")
	} else {
		fmt.Fprintf(&b, "Met in %d of %d scenarios of this run; not met in: %s.\n", len(rs)-len(over), len(rs), strings.Join(over, "; "))
	}
	b.WriteString("\nWhy the scenarios differ so much: go vet needs compiled export data of every dependency, standard library included, ")
	b.WriteString("so from an empty cache it first builds them; mvdsaudit compiles nothing — it type-checks from source only the packages that can hold a ")
	b.WriteString("RawMessage and, in them, only the functions it will read, and gives every other import an empty stand-in. ")
	b.WriteString("After an API change in a shared package go vet re-analyses every dependent package; mvdsaudit re-analyses the whole tree, which is still cheaper. ")
	b.WriteString("With nothing changed both reuse cached results. The -cache=false row compares mvdsaudit with its cache turned off against go vet ")
	b.WriteString("reusing its cache: a full analysis against none at all (go vet only lists the packages and hashes their files). ")
	b.WriteString("The floor row runs only the first two steps any full analysis needs — `go list` of the import graph and parsing every file of the ")
	b.WriteString("packages that can hold a RawMessage, in parallel, without type-checking or interpreting anything (`auditbench floor`): where the floor ")
	b.WriteString("alone is near or over 1.0×, no full analysis can be at or under go vet's cached time on that tree and machine. ")
	b.WriteString("Memory: go vet's figure is one of its per-package processes (several run at once); mvdsaudit holds the types of every audited package ")
	b.WriteString("in one process, and syntax only while a package is analysed.\n")
	b.WriteString("\nAll timed runs (ms), go vet / mvdsaudit:\n\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "- %s, %s: %s / %s\n", r.target.name, r.scenario.name, msList(r.vetRuns), msList(r.auRuns))
	}
	return b.String()
}

func msList(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprint(d.Milliseconds()))
	}
	return strings.Join(parts, ", ")
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

// writeSection replaces the static audit's section of the benchmarks file;
// nothing outside its markers is touched.
func writeSection(path, section string) error {
	return benchdoc.WriteSection(path, "audit", "", section)
}

// auditModule is the audit module's directory; the repository root is its
// parent.
func auditModule() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/mvdsguard/mvdsguard/audit").Output()
	if err != nil {
		return "", fmt.Errorf("find the audit module (run from the audit directory): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// floor does what any full analysis of the packages in the current
// directory must do before type-checking: list the import graph, as the
// driver does, and parse every file of the packages that can hold a
// RawMessage (those that depend on protocol/common), GOMAXPROCS at a time.
func floor() int {
	out, err := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Dir,GoFiles,CgoFiles,Deps,DepOnly,Standard", "--", "./...").Output()
	if err != nil && len(out) == 0 {
		fmt.Fprintln(os.Stderr, "auditbench floor:", err)
		return 2
	}
	type pkg struct {
		ImportPath, Dir   string
		GoFiles, CgoFiles []string
		Deps              []string
		Standard          bool
	}
	var files []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			break
		}
		relevant := p.ImportPath == statusgo.CommonPath || p.ImportPath == statusgo.ProtobufPath
		for _, d := range p.Deps {
			relevant = relevant || d == statusgo.CommonPath
		}
		if p.Standard || !relevant {
			continue
		}
		for _, f := range append(p.GoFiles, p.CgoFiles...) {
			files = append(files, filepath.Join(p.Dir, f))
		}
	}
	work := make(chan string)
	done := make(chan struct{})
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go func() {
			fset := token.NewFileSet()
			for f := range work {
				parser.ParseFile(fset, f, nil, parser.ParseComments|parser.SkipObjectResolution)
			}
			done <- struct{}{}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		<-done
	}
	return 0
}
