package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

const (
	pinsFile   = "testdata/status-go-c72f49132.pins"
	coreModule = "github.com/mvdsguard/mvdsguard"
	// goWaku is status-go's transport; it must be in this module's graph.
	goWaku = "github.com/waku-org/go-waku"
	// goCommandLimit bounds each go command that may reach the module proxy.
	goCommandLimit = 5 * time.Minute
)

// statusGoPins is status-go's go.mod as recorded in pinsFile.
type statusGoPins struct {
	goLine, toolchain string
	requires          map[string]string // module path → version
	replaces          []module.Version  // pairs: old (version may be empty), new
}

func readPins(t *testing.T) statusGoPins {
	t.Helper()
	f, err := os.Open(pinsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := statusGoPins{requires: map[string]string{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "go":
			p.goLine = fields[1]
		case len(fields) == 2 && fields[0] == "toolchain":
			p.toolchain = fields[1]
		case len(fields) == 2:
			p.requires[fields[0]] = fields[1]
		case len(fields) == 4 && fields[1] == "=>":
			p.replaces = append(p.replaces, module.Version{Path: fields[0]}, module.Version{Path: fields[2], Version: fields[3]})
		case len(fields) == 5 && fields[2] == "=>":
			p.replaces = append(p.replaces, module.Version{Path: fields[0], Version: fields[1]}, module.Version{Path: fields[3], Version: fields[4]})
		default:
			t.Fatalf("%s:%d: cannot read %q", pinsFile, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if p.goLine == "" || len(p.requires) == 0 {
		t.Fatalf("%s: no go line or no requirements", pinsFile)
	}
	return p
}

// resolved is one module of a build list, as `go list -m all` shows it.
type resolved struct {
	version    string
	replacedBy string // "path version" (or "path" for a directory); empty if not replaced
}

// goCommand runs the go command in dir, letting it update go.mod and go.sum
// as resolution needs, and returns its standard output.
func goCommand(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), goCommandLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("go %s in %s: still running after %v (is the module proxy reachable?)\n%s", strings.Join(args, " "), dir, goCommandLimit, stderr.String())
	}
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String()
}

// buildList resolves the module graph of the module in dir.
func buildList(t *testing.T, dir string) map[string]resolved {
	t.Helper()
	out := goCommand(t, dir, "list", "-m", "-f", "{{.Path}} {{.Version}} =>{{with .Replace}} {{.Path}} {{.Version}}{{end}}", "all")
	list := map[string]resolved{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		left, right, _ := strings.Cut(line, "=>")
		f := strings.Fields(left)
		if len(f) == 0 {
			continue
		}
		r := resolved{replacedBy: strings.TrimSpace(right)}
		if len(f) > 1 {
			r.version = f[1]
		}
		list[f[0]] = r
	}
	return list
}

func readGoMod(t *testing.T, dir string) *modfile.File {
	t.Helper()
	path := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// coreDir is the core's directory in the working tree.
func coreDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyModule copies this module's go.mod, go.sum and Go files into a
// temporary directory, with the core's replace pointing at its absolute path.
func copyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(names, "go.mod", "go.sum") {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := readGoMod(t, dir)
	if err := f.AddReplace(coreModule, "", coreDir(t), ""); err != nil {
		t.Fatal(err)
	}
	writeGoMod(t, dir, f)
	return dir
}

func writeGoMod(t *testing.T, dir string, f *modfile.File) {
	t.Helper()
	f.Cleanup()
	data, err := f.Format()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// statusGoModule writes, into a temporary directory, a module that requires
// and replaces what status-go's go.mod does, and, if withCore, the core from
// the working tree too.
func statusGoModule(t *testing.T, pins statusGoPins, withCore bool) string {
	t.Helper()
	dir := t.TempDir()
	f := &modfile.File{}
	if err := f.AddModuleStmt("example.com/status-go-pins"); err != nil {
		t.Fatal(err)
	}
	if err := f.AddGoStmt(pins.goLine); err != nil {
		t.Fatal(err)
	}
	for _, path := range sortedKeys(pins.requires) {
		f.AddNewRequire(path, pins.requires[path], false)
	}
	for i := 0; i < len(pins.replaces); i += 2 {
		old, repl := pins.replaces[i], pins.replaces[i+1]
		if err := f.AddReplace(old.Path, old.Version, repl.Path, repl.Version); err != nil {
			t.Fatal(err)
		}
	}
	if withCore {
		f.AddNewRequire(coreModule, "v0.0.0-00010101000000-000000000000", false)
		if err := f.AddReplace(coreModule, "", coreDir(t), ""); err != nil {
			t.Fatal(err)
		}
	}
	writeGoMod(t, dir, f)
	return dir
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestTidyKeepsTheGoLineAndStatusGosVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy and resolves the module graph, which needs the module proxy")
	}
	pins := readPins(t)
	dir := copyModule(t)

	goCommand(t, dir, "mod", "tidy")

	f := readGoMod(t, dir)
	if got := goLine(f); got != pins.goLine {
		t.Errorf("go mod tidy moves the go line to %s; want %s, status-go's", got, pins.goLine)
	}
	if f.Toolchain != nil {
		t.Errorf("go mod tidy adds a toolchain line %s", f.Toolchain.Name)
	}
	list := buildList(t, dir)
	// Every module this module builds with is required at status-go's
	// version exactly: the core's code runs with what status-go links.
	for _, r := range f.Require {
		if r.Mod.Path == coreModule {
			continue
		}
		pin, ok := pins.requires[r.Mod.Path]
		if !ok {
			t.Errorf("%s is required but status-go does not require it: the core would add it to status-go's build", r.Mod.Path)
			continue
		}
		if got := list[r.Mod.Path].version; got != pin {
			t.Errorf("%s resolves to %s; status-go pins %s", r.Mod.Path, got, pin)
		}
	}
	// The rest of the graph (modules named only in other modules' go.mod
	// files) is never above status-go's version.
	var below []string
	for _, path := range sortedKeys(pins.requires) {
		got, ok := list[path]
		if !ok {
			continue
		}
		switch c := semver.Compare(got.version, pins.requires[path]); {
		case c > 0:
			t.Errorf("%s resolves to %s, above status-go's %s", path, got.version, pins.requires[path])
		case c < 0:
			below = append(below, fmt.Sprintf("%s %s (status-go %s)", path, got.version, pins.requires[path]))
		}
	}
	if got := list[goWaku].version; got != pins.requires[goWaku] {
		t.Errorf("%s is at %q in the module graph; want status-go's %s", goWaku, got, pins.requires[goWaku])
	}
	// status-go's replacements apply to every module they name in the graph.
	for i := 0; i < len(pins.replaces); i += 2 {
		old, repl := pins.replaces[i], pins.replaces[i+1]
		got, ok := list[old.Path]
		if !ok || (old.Version != "" && got.version != old.Version) {
			continue
		}
		if want := repl.Path + " " + repl.Version; got.replacedBy != want {
			t.Errorf("%s %s is replaced by %q; status-go replaces it by %s", old.Path, got.version, got.replacedBy, want)
		}
	}
	t.Logf("%d modules in the graph; %d of status-go's pins below its version because nothing here imports them:\n%s",
		len(list), len(below), strings.Join(below, "\n"))
}

func TestAddingTheCoreToStatusGosRequirementsChangesNoVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves status-go's whole module graph, which needs the module proxy")
	}
	pins := readPins(t)
	without := statusGoModule(t, pins, false)
	with := statusGoModule(t, pins, true)

	before := buildList(t, without)
	if data, err := os.ReadFile(filepath.Join(without, "go.sum")); err == nil {
		_ = os.WriteFile(filepath.Join(with, "go.sum"), data, 0o644) // saves fetching the same go.mod files
	}
	after := buildList(t, with)

	for path, pin := range pins.requires {
		if got := before[path].version; got != pin {
			t.Fatalf("status-go's requirements resolve %s to %s, not %s: %s is not status-go's go.mod", path, got, pin, pinsFile)
		}
	}
	for _, path := range sortedKeys(stringsOf(before)) {
		if got, want := after[path], before[path]; got != want {
			t.Errorf("adding the core changes %s from %s to %s", path, describe(want), describe(got))
		}
	}
	var added []string
	for path, r := range after {
		if _, ok := before[path]; !ok && path != coreModule {
			added = append(added, path+" "+r.version)
		}
	}
	sort.Strings(added)
	if got := goLine(readGoMod(t, with)); got != pins.goLine {
		t.Errorf("resolving with the core moves the go line to %s; want %s, status-go's", got, pins.goLine)
	}
	t.Logf("%d modules in status-go's graph; modules the core adds: %v", len(before), added)
}

func goLine(f *modfile.File) string {
	if f.Go == nil {
		return "none"
	}
	return f.Go.Version
}

func stringsOf(m map[string]resolved) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.version
	}
	return out
}

func describe(r resolved) string {
	if r.version == "" && r.replacedBy == "" {
		return "absent"
	}
	if r.replacedBy != "" {
		return r.version + " => " + r.replacedBy
	}
	return r.version
}
