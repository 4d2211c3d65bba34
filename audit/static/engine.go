package static

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// engine holds what the audit knows about one package while it interprets
// the package's functions.
type engine struct {
	pass    *analysis.Pass
	cfg     *config.Static
	info    *types.Info
	pkgPath string

	decls       []*fnDecl
	byObj       map[types.Object]*fnDecl
	methods     map[string][]*fnDecl // by method name
	funcsByName map[string]*fnDecl   // package-level functions by name
	lits        map[*ast.FuncLit]*fnDecl
	litList     []*fnDecl
	keys        map[string]*fnDecl

	imports map[*ast.File]map[string]string // local package name → import path

	pkgInits map[string]ast.Expr // package-level const and var initialisers
	assigned map[string]bool     // package-level vars assigned in a function

	summaries map[*fnDecl]*Summary
	computing map[*fnDecl]bool
	byChat    map[*fnDecl]map[statusgo.ChatKind][]Value

	imported       map[string]*Summary // key → summary, from facts
	importedByName map[string][]string // method or function name → keys

	sinks     map[string]statusgo.SendFunc // function key → send function
	sinkNames map[string]statusgo.SendFunc // method name → send function
	watch     map[string]bool
	ignore    map[string]bool

	nextObj int
	sites   *siteSet
	// truncated names the functions whose paths exceeded maxStates.
	truncated map[string]bool
	// interesting are the functions worth interpreting (see candidates);
	// a call to any other function of the package yields unknown results.
	interesting map[*fnDecl]bool
	// legacy: the tree's RawMessage is of the ResendAutomatically
	// generation (see generation.go).
	legacy bool
	// types is the tree's numbering of message types, once needed.
	types *typeTable
}

// fnDecl is a function of the package: a declaration or a literal.
type fnDecl struct {
	key      string // import/path.Func or import/path.Type.Method
	name     string // Func or Type.Method, as reports print it
	decl     *ast.FuncDecl
	lit      *ast.FuncLit
	file     *ast.File
	obj      types.Object
	ftype    *ast.FuncType
	body     *ast.BlockStmt
	recv     string // receiver variable name
	recvType string // receiver base type name
	params   []string
	ptypes   []ast.Expr
	outer    *fnDecl // enclosing function of a literal
}

func newEngine(pass *analysis.Pass, cfg *config.Static) *engine {
	e := &engine{
		pass:           pass,
		cfg:            cfg,
		info:           pass.TypesInfo,
		pkgPath:        pass.Pkg.Path(),
		byObj:          map[types.Object]*fnDecl{},
		methods:        map[string][]*fnDecl{},
		funcsByName:    map[string]*fnDecl{},
		lits:           map[*ast.FuncLit]*fnDecl{},
		keys:           map[string]*fnDecl{},
		imports:        map[*ast.File]map[string]string{},
		pkgInits:       map[string]ast.Expr{},
		assigned:       map[string]bool{},
		summaries:      map[*fnDecl]*Summary{},
		computing:      map[*fnDecl]bool{},
		byChat:         map[*fnDecl]map[statusgo.ChatKind][]Value{},
		sinks:          map[string]statusgo.SendFunc{},
		sinkNames:      map[string]statusgo.SendFunc{},
		watch:          map[string]bool{},
		ignore:         map[string]bool{},
		importedByName: map[string][]string{},
		truncated:      map[string]bool{},
		sites:          newSiteSet(),
	}
	if e.info == nil {
		e.info = &types.Info{}
	}
	for f, on := range cfg.SendFuncs {
		if !on {
			continue
		}
		e.sinks[f.Package()+"."+f.Receiver()+"."+f.Method()] = f
		e.sinkNames[f.Method()] = f
	}
	for _, a := range cfg.Aliases {
		e.sinks[a.Function] = a.As
		e.sinkNames[a.Function[strings.LastIndexByte(a.Function, '.')+1:]] = a.As
	}
	for _, m := range cfg.WatchMethods {
		e.watch[m] = true
	}
	for _, name := range cfg.Ignore {
		e.ignore[name] = true
	}
	e.legacy = legacyRawMessage(pass.Pkg)
	e.index()
	return e
}

// index records the package's functions, imports and package-level values.
func (e *engine) index() {
	for _, f := range e.pass.Files {
		imps := map[string]string{}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				continue
			}
			name := path[strings.LastIndexByte(path, '/')+1:]
			if spec.Name != nil {
				name = spec.Name.Name
			}
			imps[name] = path
		}
		e.imports[f] = imps
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				e.addDecl(f, d)
			case *ast.GenDecl:
				if d.Tok != token.CONST && d.Tok != token.VAR {
					continue
				}
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							e.pkgInits[n.Name] = vs.Values[i]
						}
					}
				}
			}
		}
	}
	// A package-level variable assigned inside a function is not a
	// constant, whatever its initialiser says.
	for _, fd := range e.decls {
		if fd.body == nil {
			continue
		}
		ast.Inspect(fd.body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok {
					if _, global := e.pkgInits[id.Name]; global && as.Tok == token.ASSIGN {
						e.assigned[id.Name] = true
					}
				}
			}
			return true
		})
	}
}

func (e *engine) addDecl(f *ast.File, d *ast.FuncDecl) {
	fd := &fnDecl{decl: d, file: f, ftype: d.Type, body: d.Body, obj: e.info.Defs[d.Name]}
	if d.Recv != nil && len(d.Recv.List) > 0 {
		r := d.Recv.List[0]
		if len(r.Names) > 0 {
			fd.recv = r.Names[0].Name
		}
		fd.recvType = baseTypeName(r.Type)
		fd.key = e.pkgPath + "." + fd.recvType + "." + d.Name.Name
		fd.name = fd.recvType + "." + d.Name.Name
		e.methods[d.Name.Name] = append(e.methods[d.Name.Name], fd)
	} else {
		fd.key = e.pkgPath + "." + d.Name.Name
		fd.name = d.Name.Name
		e.funcsByName[d.Name.Name] = fd
	}
	fd.params, fd.ptypes = paramList(d.Type)
	e.decls = append(e.decls, fd)
	e.keys[fd.key] = fd
	if fd.obj != nil {
		e.byObj[fd.obj] = fd
	}
}

// declByKey returns the function of this package with the given key.
func (e *engine) declByKey(key string) *fnDecl { return e.keys[key] }

// litDecl returns the pseudo-declaration of a function literal.
func (e *engine) litDecl(lit *ast.FuncLit, outer *fnDecl) *fnDecl {
	if fd, ok := e.lits[lit]; ok {
		return fd
	}
	// Literals are numbered within their function, as the compiler names
	// them (Messenger.SendContactUpdates.func1).
	n := 1
	for _, l := range e.litList {
		if l.outer == outer {
			n++
		}
	}
	fd := &fnDecl{lit: lit, ftype: lit.Type, body: lit.Body, outer: outer}
	if outer != nil {
		fd.file = outer.file
		fd.key = outer.key + ".func" + strconv.Itoa(n)
		fd.name = outer.name + ".func" + strconv.Itoa(n)
	} else {
		fd.key = e.pkgPath + ".func" + strconv.Itoa(n)
		fd.name = "func" + strconv.Itoa(n)
	}
	fd.params, fd.ptypes = paramList(lit.Type)
	e.lits[lit] = fd
	e.litList = append(e.litList, fd)
	e.keys[fd.key] = fd
	return fd
}

func paramList(ft *ast.FuncType) ([]string, []ast.Expr) {
	var names []string
	var typs []ast.Expr
	if ft.Params == nil {
		return nil, nil
	}
	for _, field := range ft.Params.List {
		if len(field.Names) == 0 {
			names = append(names, "")
			typs = append(typs, field.Type)
			continue
		}
		for _, n := range field.Names {
			names = append(names, n.Name)
			typs = append(typs, field.Type)
		}
	}
	return names, typs
}

func baseTypeName(x ast.Expr) string {
	for {
		switch t := x.(type) {
		case *ast.StarExpr:
			x = t.X
		case *ast.ParenExpr:
			x = t.X
		case *ast.IndexExpr:
			x = t.X
		case *ast.IndexListExpr:
			x = t.X
		case *ast.Ident:
			return t.Name
		case *ast.SelectorExpr:
			return t.Sel.Name
		default:
			return ""
		}
	}
}

// funcKey names a function object the way fnDecl.key does.
func funcKey(obj *types.Func) string {
	if obj.Pkg() == nil {
		return obj.Name()
	}
	sig, _ := obj.Type().(*types.Signature)
	if sig != nil && sig.Recv() != nil {
		t := sig.Recv().Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		switch t := t.(type) {
		case *types.Named:
			return obj.Pkg().Path() + "." + t.Origin().Obj().Name() + "." + obj.Name()
		case *types.Alias:
			return obj.Pkg().Path() + "." + t.Obj().Name() + "." + obj.Name()
		}
		return obj.Pkg().Path() + ".?." + obj.Name()
	}
	return obj.Pkg().Path() + "." + obj.Name()
}

// loadImported indexes the summaries other packages exported.
func (e *engine) loadImported() {
	if e.imported != nil {
		return
	}
	e.imported = map[string]*Summary{}
	if e.pass.AllObjectFacts == nil {
		return
	}
	for _, f := range e.pass.AllObjectFacts() {
		s, ok := f.Fact.(*Summary)
		if !ok {
			continue
		}
		fn, ok := f.Object.(*types.Func)
		if !ok {
			continue
		}
		key := funcKey(fn)
		e.imported[key] = s
		e.importedByName[fn.Name()] = append(e.importedByName[fn.Name()], key)
	}
}

// candidates returns the functions worth interpreting (see chooseFuncs).
func (e *engine) candidates() []*fnDecl {
	e.loadImported()
	known := map[string]bool{}
	for name, keys := range e.importedByName {
		for _, k := range keys {
			if s := e.imported[k]; s != nil && (len(s.Effects) > 0 || len(s.Paths) > 0) {
				known[name] = true
			}
		}
	}
	var decls []*ast.FuncDecl
	byDecl := map[*ast.FuncDecl]*fnDecl{}
	for _, fd := range e.decls {
		decls = append(decls, fd.decl)
		byDecl[fd.decl] = fd
	}
	chosen := map[*fnDecl]bool{}
	var out []*fnDecl
	for d := range chooseFuncs(decls, triggerNames(e.cfg, known)) {
		chosen[byDecl[d]] = true
	}
	for _, fd := range e.decls {
		if chosen[fd] {
			out = append(out, fd)
		}
	}
	e.interesting = chosen
	return out
}

// triggerNames are the identifiers that make a function worth reading: the
// RawMessage type, status-go's send and watch functions, chat content types,
// Chat.DefaultResendType, and the functions of other packages already known
// to send messages or return tracked values.
func triggerNames(cfg *config.Static, known map[string]bool) map[string]bool {
	t := map[string]bool{
		statusgo.RawMessageType: true,
		"DefaultResendType":     true,
		"ContentType":           true,
	}
	for f, on := range cfg.SendFuncs {
		if on {
			t[f.Method()] = true
		}
	}
	for _, a := range cfg.Aliases {
		t[a.Function[strings.LastIndexByte(a.Function, '.')+1:]] = true
	}
	for _, m := range cfg.WatchMethods {
		t[m] = true
	}
	for name := range known {
		t[name] = true
	}
	return t
}

// triggerPrefixes are the prefixes of status-go's constant names: a helper
// returning one of them (a ResendType picked by a function) is worth a
// summary.
var triggerPrefixes = []string{"ResendType", "ResendMethod", autoField, statusgo.MessageTypePrefix, statusgo.ContentTypePrefix}

// chooseFuncs picks, from syntax alone, the functions that mention a trigger
// name, and (transitively) the functions that call them by name: callers may
// bind callbacks or pass messages on.
func chooseFuncs(decls []*ast.FuncDecl, triggers map[string]bool) map[*ast.FuncDecl]bool {
	declared := make(map[string]bool, len(decls))
	for _, d := range decls {
		declared[d.Name.Name] = true
	}
	// refs holds, per function, only the names it mentions that are
	// functions of this package: what the closure below needs, at a
	// fraction of the cost of every name.
	refs := make(map[*ast.FuncDecl][]string, len(decls))
	chosen := map[*ast.FuncDecl]bool{}
	for _, d := range decls {
		if d.Body == nil {
			continue
		}
		hit := false
		var mine []string
		collect := func(n ast.Node) bool {
			var name string
			switch n := n.(type) {
			case *ast.Ident:
				name = n.Name
			case *ast.SelectorExpr:
				name = n.Sel.Name
			default:
				return true
			}
			if !hit && (triggers[name] || hasAnyPrefix(name, triggerPrefixes)) {
				hit = true
			}
			if declared[name] {
				mine = append(mine, name)
			}
			return true
		}
		ast.Inspect(d.Body, collect)
		ast.Inspect(d.Type, collect)
		refs[d] = mine
		if hit {
			chosen[d] = true
		}
	}
	for changed := true; changed; {
		changed = false
		chosenNames := map[string]bool{}
		for d := range chosen {
			chosenNames[d.Name.Name] = true
		}
		for _, d := range decls {
			if chosen[d] || d.Body == nil {
				continue
			}
			for _, n := range refs[d] {
				if chosenNames[n] {
					chosen[d] = true
					changed = true
					break
				}
			}
		}
	}
	return chosen
}

// BodiesNeeded returns the function declarations among files whose bodies
// the analyzer may read, for a driver that type-checks only those (a large
// saving: most of a code base never touches a RawMessage). known holds the
// names of functions of imported packages that the analyzer summarised
// (NeededNames of those packages). Methods of status-go's Chat are always
// needed: their bodies are summarised per chat kind.
func BodiesNeeded(pkgPath string, files []*ast.File, cfg *config.Static, known map[string]bool) map[*ast.FuncDecl]bool {
	var decls []*ast.FuncDecl
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				decls = append(decls, fd)
			}
		}
	}
	keep := chooseFuncs(decls, triggerNames(cfg, known))
	for _, d := range decls {
		if pkgPath == statusgo.ProtocolPath && d.Recv != nil && len(d.Recv.List) > 0 && baseTypeName(d.Recv.List[0].Type) == statusgo.ChatType {
			keep[d] = true
		}
		if chatFuncShape(d) {
			keep[d] = true
		}
	}
	return keep
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isSink reports whether fd is itself one of the send functions, whose body
// the audit must not mistake for a forwarder.
func (e *engine) isSink(fd *fnDecl) bool {
	_, ok := e.sinks[fd.key]
	return ok
}

func (e *engine) position(pos token.Pos) string {
	if !pos.IsValid() {
		return ""
	}
	p := e.pass.Fset.Position(pos)
	return p.Filename + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
}
