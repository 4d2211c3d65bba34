// Package driver runs the static audit over a tree of Go packages without
// needing the tree to build. It asks `go list` for the import graph, keeps
// only the packages that can hold a status-go RawMessage (those that import
// protocol/common, directly or not, plus common and protobuf themselves),
// parses and type-checks those from source, and gives every other import an
// empty stand-in package. So it needs no compiled dependencies, no cgo and no
// generated code: where a stand-in or a missing file leaves an expression
// without a type, the analyzer reads names instead, and says so.
//
// The driver plumbs the analyzer's facts between packages in memory, in
// dependency order, and collects each root package's Result. It knows how
// to load and run an analyzer; it must not know what the audit's rules mean
// or how results are printed.
package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/analysis"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/static"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Options control a run.
type Options struct {
	// Dir is where `go list` runs; empty means the current directory.
	Dir string
	// Tests also audits the packages' test files.
	Tests bool
	// Env is added to the environment of `go list`.
	Env []string
	// Analyzer is the analyzer to run; nil means static.Analyzer.
	Analyzer *analysis.Analyzer
	// Config, when set, lets the driver skip type-checking the bodies of
	// functions the analyzer will not read (see static.BodiesNeeded). It
	// must be the configuration the analyzer uses.
	Config *config.Static
	// CacheDir, when set, enables the result cache there; CacheKey must
	// then identify everything outside the source tree the result depends
	// on (the tool's build and its configuration).
	CacheDir, CacheKey string
}

// LoadError is a problem with the input that did not stop the run.
type LoadError struct {
	Package string
	// Position is "file:line:col" when the problem has one.
	Position string
	Message  string
}

// Package is one audited (root) package.
type Package struct {
	Path   string
	Result *static.Result
	// Err is set when the analyzer failed on this package.
	Err error `json:"-"`
}

// Result is what a run produced.
type Result struct {
	Fset     *token.FileSet
	Packages []*Package
	// Matched counts the packages the patterns matched; Relevant those of
	// them that can hold a RawMessage (the others have nothing to audit).
	Matched, Relevant int
	LoadErrors        []LoadError
	// Cached: the result was read from the result cache; Fset is empty and
	// only the positions recorded as text are valid.
	Cached bool
}

// ErrNothingLoaded means no package could be analysed at all.
var ErrNothingLoaded = errors.New("no package could be loaded")

// listed is the part of `go list -json` the driver reads.
type listed struct {
	ImportPath   string
	Name         string
	Dir          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	ImportMap    map[string]string
	Deps         []string
	DepOnly      bool
	Standard     bool
	Error        *struct{ Err string }
	DepsErrors   []*struct {
		ImportStack []string
		Err         string
	}
}

// Run audits the packages matching patterns.
func Run(ctx context.Context, patterns []string, opts Options) (*Result, error) {
	if opts.Analyzer == nil {
		opts.Analyzer = static.Analyzer
	}
	pkgs, err := goList(ctx, patterns, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Fset: token.NewFileSet()}
	byPath := map[string]*listed{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	relevant := func(p *listed) bool {
		if p.Standard {
			return false
		}
		if p.ImportPath == statusgo.CommonPath || p.ImportPath == statusgo.ProtobufPath {
			return true
		}
		for _, d := range p.Deps {
			if d == statusgo.CommonPath {
				return true
			}
		}
		return false
	}
	var roots []*listed
	failed := 0
	for _, p := range pkgs {
		if p.DepOnly {
			continue
		}
		res.Matched++
		if p.Error != nil && len(p.GoFiles)+len(p.CgoFiles)+len(p.TestGoFiles)+len(p.XTestGoFiles) == 0 {
			failed++
		}
		if p.Error != nil {
			res.LoadErrors = append(res.LoadErrors, listError(p.ImportPath, p.Error.Err))
		}
		for _, de := range p.DepsErrors {
			res.LoadErrors = append(res.LoadErrors, listError(p.ImportPath, de.Err))
		}
		if relevant(p) && len(p.GoFiles)+len(p.CgoFiles) > 0 {
			roots = append(roots, p)
		}
	}
	res.LoadErrors = dedupeLoadErrors(res.LoadErrors)
	res.Relevant = len(roots)
	if res.Matched == 0 || failed == res.Matched {
		msg := fmt.Sprintf("the patterns %s matched no packages", strings.Join(patterns, " "))
		if len(res.LoadErrors) > 0 {
			msg += ": " + res.LoadErrors[0].Message
		}
		return nil, fmt.Errorf("%w: %s", ErrNothingLoaded, msg)
	}
	// Everything relevant that the roots depend on is checked from source
	// too, so that facts about forwarders flow from it.
	needed := map[string]*listed{}
	for _, r := range roots {
		needed[r.ImportPath] = r
		for _, d := range r.Deps {
			if p := byPath[d]; p != nil && relevant(p) {
				needed[d] = p
			}
		}
	}
	units := map[string]*unit{}
	for path, p := range needed {
		units[path] = &unit{list: p, done: make(chan struct{}), root: !p.DepOnly}
	}
	if opts.Tests {
		for _, r := range roots {
			if len(r.XTestGoFiles) > 0 {
				x := *r
				x.ImportPath = r.ImportPath + "_test"
				x.Name = r.Name + "_test"
				x.GoFiles, x.CgoFiles, x.TestGoFiles = r.XTestGoFiles, nil, nil
				x.Imports = r.XTestImports
				units[x.ImportPath] = &unit{list: &x, done: make(chan struct{}), root: true, xtest: r.ImportPath}
			}
		}
	}
	var cachePath, key string
	cacheable := false
	if opts.CacheDir != "" {
		cachePath = cacheFile(opts.CacheDir, patterns, opts)
		key, cacheable = cacheKey(opts.CacheKey, patterns, opts, pkgs, units)
		if cacheable {
			if e, ok := loadCached(cachePath, key); ok {
				res.Packages, res.LoadErrors, res.Cached = e.Packages, e.Errors, true
				return res, nil
			}
		}
	}
	r := &runner{res: res, units: units, byPath: byPath, opts: opts, facts: newFactStore()}
	r.run(ctx)
	sort.Slice(res.Packages, func(i, j int) bool { return res.Packages[i].Path < res.Packages[j].Path })
	sort.SliceStable(res.LoadErrors, func(i, j int) bool {
		a, b := res.LoadErrors[i], res.LoadErrors[j]
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Position < b.Position
	})
	if len(res.Packages) == 0 && res.Relevant > 0 {
		return res, fmt.Errorf("%w: every package that imports %s failed to parse", ErrNothingLoaded, statusgo.CommonPath)
	}
	if cacheable && ctx.Err() == nil {
		complete := true
		for _, p := range res.Packages {
			if p.Err != nil || p.Result == nil {
				complete = false
			}
		}
		if complete {
			storeCached(cachePath, &cacheEntry{Key: key, Packages: res.Packages, Matched: res.Matched, Relevant: res.Relevant, Errors: res.LoadErrors})
		}
	}
	return res, nil
}

// goList asks the go command for the packages and their dependencies.
func goList(ctx context.Context, patterns []string, opts Options) ([]*listed, error) {
	args := []string{"list", "-e", "-deps",
		"-json=ImportPath,Name,Dir,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,Imports,TestImports,XTestImports,ImportMap,Deps,DepOnly,Standard,Error,DepsErrors"}
	args = append(args, "--")
	args = append(args, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && stdout.Len() == 0 {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%w: go list: %s", ErrNothingLoaded, msg)
	}
	var out []*listed
	dec := json.NewDecoder(&stdout)
	for {
		p := new(listed)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read go list output: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// dedupeLoadErrors keeps one report per problem: a missing package is
// listed once, not once per package that imports it.
func dedupeLoadErrors(errs []LoadError) []LoadError {
	count := map[string]int{}
	var out []LoadError
	index := map[string]int{}
	for _, e := range errs {
		k := e.Position + "\x00" + e.Message
		count[k]++
		if _, ok := index[k]; ok {
			continue
		}
		index[k] = len(out)
		out = append(out, e)
	}
	for k, i := range index {
		if n := count[k]; n > 1 {
			out[i].Message += fmt.Sprintf(" (reported for %d packages)", n)
		}
	}
	return out
}

// listError splits "file:line:col: message" errors from go list.
func listError(pkg, msg string) LoadError {
	msg = strings.TrimSpace(msg)
	// The go command adds hints on further lines; the first line is the
	// problem.
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	// "...; to add it:" announces a command on the next line; the
	// sentence before it is the problem.
	if strings.HasSuffix(msg, ":") {
		if i := strings.LastIndex(msg, "; "); i > 0 {
			msg = msg[:i]
		}
	}
	if i := strings.Index(msg, ": "); i > 0 && strings.Count(msg[:i], ":") >= 1 && strings.HasSuffix(strings.SplitN(msg[:i], ":", 2)[0], ".go") {
		return LoadError{Package: pkg, Position: msg[:i], Message: msg[i+2:]}
	}
	return LoadError{Package: pkg, Message: msg}
}

// unit is one package checked from source.
type unit struct {
	list  *listed
	root  bool
	xtest string // for an external test package, the package under test
	done  chan struct{}
	pkg   *types.Package
	files []*ast.File
	info  *types.Info
	// deps are the checked packages this one imports, transitively.
	deps map[*types.Package]bool
}

type runner struct {
	res    *Result
	units  map[string]*unit
	byPath map[string]*listed
	opts   Options
	facts  *factStore

	mu sync.Mutex
}

func (r *runner) run(ctx context.Context) {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, u := range r.units {
		wg.Add(1)
		go func(u *unit) {
			defer wg.Done()
			defer close(u.done)
			// Wait for the checked packages this one imports first, so
			// that their types and facts are ready.
			for _, imp := range r.imports(u) {
				if d := r.units[imp]; d != nil && d != u {
					<-d.done
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			r.check(u)
			r.analyze(u)
		}(u)
	}
	wg.Wait()
}

// imports returns the resolved import paths of a unit.
func (r *runner) imports(u *unit) []string {
	var out []string
	for _, imp := range u.list.Imports {
		if m, ok := u.list.ImportMap[imp]; ok {
			imp = m
		}
		out = append(out, imp)
	}
	if r.opts.Tests && u.xtest == "" {
		out = append(out, u.list.TestImports...)
	}
	if u.xtest != "" {
		out = append(out, u.xtest)
	}
	return out
}

func (r *runner) loadError(e LoadError) {
	r.mu.Lock()
	r.res.LoadErrors = append(r.res.LoadErrors, e)
	r.mu.Unlock()
}

// check parses and type-checks a unit. Type errors are expected (imports
// outside the checked set are empty stand-ins) and are not reported; parse
// errors are.
func (r *runner) check(u *unit) {
	for _, name := range unitFiles(u, r.opts.Tests) {
		path := filepath.Join(u.list.Dir, name)
		f, err := parser.ParseFile(r.res.Fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			var list interface{ Len() int }
			if errors.As(err, &list) {
				msg := err.Error()
				pos := ""
				if i := strings.Index(msg, ": "); i > 0 {
					pos, msg = msg[:i], msg[i+2:]
				}
				r.loadError(LoadError{Package: u.list.ImportPath, Position: pos, Message: "syntax error: " + msg})
			} else {
				r.loadError(LoadError{Package: u.list.ImportPath, Message: fmt.Sprintf("read %s: %v", path, err)})
			}
		}
		if f != nil {
			u.files = append(u.files, f)
		}
	}
	if r.opts.Config != nil {
		r.pruneBodies(u)
	}
	u.info = &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Implicits:  map[ast.Node]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Scopes:     map[ast.Node]*types.Scope{},
	}
	u.deps = map[*types.Package]bool{}
	stubs := map[string]*types.Package{}
	cfg := &types.Config{
		Importer:    importerFunc(func(path string) (*types.Package, error) { return r.importPkg(u, path, stubs) }),
		Error:       func(error) {},
		FakeImportC: true,
		Sizes:       types.SizesFor("gc", runtime.GOARCH),
	}
	u.pkg, _ = cfg.Check(u.list.ImportPath, r.res.Fset, u.files, u.info)
	if u.pkg == nil {
		u.pkg = types.NewPackage(u.list.ImportPath, u.list.Name)
	}
}

// pruneBodies empties the bodies of functions the analyzer will not read,
// so that type-checking skips them: in a large code base most functions
// never touch a RawMessage.
func (r *runner) pruneBodies(u *unit) {
	deps := map[string]bool{}
	for _, d := range u.list.Deps {
		deps[d] = true
	}
	if u.xtest != "" {
		deps[u.xtest] = true
	}
	known := r.facts.summarisedNames(deps)
	keep := static.BodiesNeeded(u.list.ImportPath, u.files, r.opts.Config, known)
	for _, f := range u.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && !keep[fd] {
				fd.Body = &ast.BlockStmt{Lbrace: fd.Body.Lbrace, Rbrace: fd.Body.Rbrace}
			}
		}
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// importPkg returns a checked package, or an empty stand-in for anything
// outside the checked set.
func (r *runner) importPkg(u *unit, path string, stubs map[string]*types.Package) (*types.Package, error) {
	if m, ok := u.list.ImportMap[path]; ok {
		path = m
	}
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	if d := r.units[path]; d != nil && d != u && d.pkg != nil {
		u.deps[d.pkg] = true
		for p := range d.deps {
			u.deps[p] = true
		}
		return d.pkg, nil
	}
	if p, ok := stubs[path]; ok {
		return p, nil
	}
	name := path[strings.LastIndexByte(path, '/')+1:]
	if l := r.byPath[path]; l != nil && l.Name != "" {
		name = l.Name
	}
	p := types.NewPackage(path, name)
	p.MarkComplete()
	stubs[path] = p
	return p, nil
}

// analyze runs the analyzer on a checked unit.
func (r *runner) analyze(u *unit) {
	a := r.opts.Analyzer
	pass := &analysis.Pass{
		Analyzer:     a,
		Fset:         r.res.Fset,
		Files:        u.files,
		Pkg:          u.pkg,
		TypesInfo:    u.info,
		TypesSizes:   types.SizesFor("gc", runtime.GOARCH),
		ResultOf:     map[*analysis.Analyzer]any{},
		Report:       func(analysis.Diagnostic) {},
		ReadFile:     os.ReadFile,
		Module:       &analysis.Module{},
		OtherFiles:   nil,
		IgnoredFiles: nil,
	}
	pass.ImportObjectFact = func(obj types.Object, fact analysis.Fact) bool { return r.facts.importObj(obj, fact) }
	pass.ExportObjectFact = func(obj types.Object, fact analysis.Fact) { r.facts.exportObj(obj, fact) }
	pass.ImportPackageFact = func(pkg *types.Package, fact analysis.Fact) bool { return r.facts.importPkg(pkg, fact) }
	pass.ExportPackageFact = func(fact analysis.Fact) { r.facts.exportPkg(u.pkg, fact) }
	pass.AllObjectFacts = func() []analysis.ObjectFact { return r.facts.allObj(u.deps) }
	pass.AllPackageFacts = func() []analysis.PackageFact { return r.facts.allPkg(u.deps) }
	result, err := safeRun(a, pass)
	// Dependents need only the package's types and facts: the syntax and
	// the type information can go, which bounds memory on large trees.
	u.files, u.info = nil, nil
	if !u.root {
		return
	}
	p := &Package{Path: u.list.ImportPath, Err: err}
	if res, ok := result.(*static.Result); ok {
		p.Result = res
	}
	r.mu.Lock()
	r.res.Packages = append(r.res.Packages, p)
	r.mu.Unlock()
}

// safeRun turns a panic in the analyzer into an error for that package, so
// that one odd construct does not lose the whole run.
func safeRun(a *analysis.Analyzer, pass *analysis.Pass) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = fmt.Errorf("internal error analysing %s: %v\n%s", pass.Pkg.Path(), p, buf)
		}
	}()
	return a.Run(pass)
}

// factStore holds facts in memory across packages.
type factStore struct {
	mu  sync.Mutex
	obj map[types.Object]map[reflect.Type]analysis.Fact
	pkg map[*types.Package]map[reflect.Type]analysis.Fact
}

func newFactStore() *factStore {
	return &factStore{obj: map[types.Object]map[reflect.Type]analysis.Fact{}, pkg: map[*types.Package]map[reflect.Type]analysis.Fact{}}
}

func (s *factStore) importObj(obj types.Object, fact analysis.Fact) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.obj[obj][reflect.TypeOf(fact)]
	if !ok {
		return false
	}
	reflect.ValueOf(fact).Elem().Set(reflect.ValueOf(f).Elem())
	return true
}

func (s *factStore) exportObj(obj types.Object, fact analysis.Fact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj[obj] == nil {
		s.obj[obj] = map[reflect.Type]analysis.Fact{}
	}
	s.obj[obj][reflect.TypeOf(fact)] = fact
}

func (s *factStore) importPkg(pkg *types.Package, fact analysis.Fact) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.pkg[pkg][reflect.TypeOf(fact)]
	if !ok {
		return false
	}
	reflect.ValueOf(fact).Elem().Set(reflect.ValueOf(f).Elem())
	return true
}

func (s *factStore) exportPkg(pkg *types.Package, fact analysis.Fact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pkg[pkg] == nil {
		s.pkg[pkg] = map[reflect.Type]analysis.Fact{}
	}
	s.pkg[pkg][reflect.TypeOf(fact)] = fact
}

func (s *factStore) allObj(deps map[*types.Package]bool) []analysis.ObjectFact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []analysis.ObjectFact
	for obj, fs := range s.obj {
		if !deps[obj.Pkg()] {
			continue
		}
		for _, f := range fs {
			out = append(out, analysis.ObjectFact{Object: obj, Fact: f})
		}
	}
	return out
}

// summarisedNames returns the names of the functions, in the given
// packages, that carry a fact.
func (s *factStore) summarisedNames(pkgs map[string]bool) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for obj := range s.obj {
		if obj.Pkg() != nil && pkgs[obj.Pkg().Path()] {
			out[obj.Name()] = true
		}
	}
	return out
}

func (s *factStore) allPkg(deps map[*types.Package]bool) []analysis.PackageFact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []analysis.PackageFact
	for pkg, fs := range s.pkg {
		if !deps[pkg] {
			continue
		}
		for _, f := range fs {
			out = append(out, analysis.PackageFact{Package: pkg, Fact: f})
		}
	}
	return out
}
