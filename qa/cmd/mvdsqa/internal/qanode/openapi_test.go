package qanode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// qaDoc is the QA guide, whose OpenAPI block describes this package's API.
const qaDoc = "../../../../../docs/qa.md"

// TestOpenAPIDescribesEveryRoute keeps the OpenAPI description in
// docs/qa.md honest: the routes it lists are exactly those routes()
// registers, read from api.go's source; every operation answers 401 for a
// missing token and, when it takes input, some other 4xx; request bodies,
// query and path parameters and success codes are those the handlers use;
// and every schema named after a struct of this package lists exactly that
// struct's JSON fields.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	src := loadSource(t)
	routes := src.routes(t)
	if len(routes) == 0 {
		t.Fatal("no mux.HandleFunc or mux.Handle call with a \"METHOD /path\" pattern in api.go: has routes() changed shape?")
	}

	documented := map[string]oaOperation{}
	for path, item := range doc.Paths {
		for method, op := range item {
			documented[method+" "+path] = op
		}
	}
	for _, key := range slices.Sorted(maps.Keys(routes)) {
		if _, ok := documented[key]; !ok {
			t.Errorf("route %s (api.go) is missing from the OpenAPI description in docs/qa.md", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := routes[key]; !ok {
			t.Errorf("docs/qa.md documents %s, which api.go does not register", key)
		}
	}

	for _, key := range slices.Sorted(maps.Keys(routes)) {
		op, ok := documented[key]
		if !ok {
			continue
		}
		rt := routes[key]
		codes := map[string]bool{}
		for code := range op.Responses {
			codes[code] = true
		}
		if !codes["401"] {
			t.Errorf("%s: no 401 response; with a token set, every request without it is refused", key)
		}
		var clientErrors []string
		for code := range codes {
			if strings.HasPrefix(code, "4") && code != "401" {
				clientErrors = append(clientErrors, code)
			}
		}
		if rt.takesInput() && len(clientErrors) == 0 {
			t.Errorf("%s takes input (a body, a query, a path parameter or a header) but documents no 4xx besides 401", key)
		}
		for _, code := range rt.codes {
			if !codes[code] {
				t.Errorf("%s: the handler answers %s, which docs/qa.md does not document", key, code)
			}
		}
		for code := range codes {
			if strings.HasPrefix(code, "2") && rt.inspected() && !contains(rt.codes, code) {
				t.Errorf("%s: docs/qa.md documents %s, which the handler never answers", key, code)
			}
		}
		params := doc.parameters(t, key, op)
		for _, name := range pathWildcards(rt.path) {
			if p, ok := params["path "+name]; !ok || !p.Required {
				t.Errorf("%s: no required path parameter %q", key, name)
			}
		}
		if rt.calls["cursor"] {
			for _, name := range []string{"after", "limit"} {
				if _, ok := params["query "+name]; !ok {
					t.Errorf("%s reads the cursor (after, limit) but does not document query parameter %q", key, name)
				}
			}
		}
		for _, name := range rt.queryKeys {
			if _, ok := params["query "+name]; !ok {
				t.Errorf("%s reads query parameter %q, which docs/qa.md does not document", key, name)
			}
		}
		for _, name := range rt.headers {
			if strings.EqualFold(name, "Accept") {
				// OpenAPI ignores an Accept parameter: the media types
				// of the answer say what a client may ask for.
				if len(successMediaTypes(op)) < 2 {
					t.Errorf("%s negotiates on Accept but documents a single media type for its answer", key)
				}
				continue
			}
			if _, ok := params["header "+strings.ToLower(name)]; !ok {
				t.Errorf("%s reads header %q, which docs/qa.md does not document", key, name)
			}
		}
		if rt.calls["decode"] {
			for _, code := range []string{"400", "413", "415"} {
				if !codes[code] {
					t.Errorf("%s decodes a JSON body but does not document %s", key, code)
				}
			}
			if op.RequestBody == nil {
				t.Errorf("%s decodes a JSON body but documents no requestBody", key)
			} else if body, ok := op.RequestBody.Content["application/json"]; !ok {
				t.Errorf("%s: requestBody has no application/json content", key)
			} else if rt.bodyType != "" {
				want := "#/components/schemas/" + rt.bodyType
				if body.Schema.Ref != want {
					t.Errorf("%s: requestBody schema is %q; the handler decodes a %s (%s)", key, body.Schema.Ref, rt.bodyType, want)
				} else if s := doc.Components.Schemas[rt.bodyType]; s.AdditionalProperties != false {
					t.Errorf("schema %s: the handler refuses unknown fields; say additionalProperties: false", rt.bodyType)
				}
			}
		} else if op.RequestBody != nil && rt.inspected() {
			t.Errorf("%s documents a requestBody, but the handler reads none", key)
		}
	}

	// Schemas named after a struct of this package list its JSON fields.
	structs := src.jsonStructs()
	checked := 0
	for _, name := range slices.Sorted(maps.Keys(doc.Components.Schemas)) {
		fields, ok := structs[name]
		if !ok {
			continue
		}
		checked++
		var props []string
		for p := range doc.Components.Schemas[name].Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		if !reflect.DeepEqual(props, fields) {
			t.Errorf("schema %s has properties %v; the Go struct's JSON fields are %v", name, props, fields)
		}
	}
	if checked == 0 {
		t.Error("no schema in docs/qa.md is named after a struct of package qanode (Info, Message, …)")
	}

	// The bearer scheme, and the 401 it causes, are described.
	var bearer string
	for name, s := range doc.Components.SecuritySchemes {
		if s.Type == "http" && strings.EqualFold(s.Scheme, "bearer") {
			bearer = name
			if !strings.Contains(s.Description, "401") {
				t.Errorf("security scheme %s does not say that a missing or wrong token is answered 401", name)
			}
		}
	}
	if bearer == "" {
		t.Fatal("components.securitySchemes has no http bearer scheme")
	}
	found := false
	for _, req := range doc.Security {
		if _, ok := req[bearer]; ok {
			found = true
		}
	}
	if !found {
		t.Errorf("the top-level security requirements do not name %s", bearer)
	}
}

// The OpenAPI document, as far as the test reads it.
type oaDocument struct {
	OpenAPI    string                            `yaml:"openapi"`
	Security   []map[string][]string             `yaml:"security"`
	Paths      map[string]map[string]oaOperation `yaml:"-"`
	RawPaths   map[string]map[string]yaml.Node   `yaml:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type        string `yaml:"type"`
			Scheme      string `yaml:"scheme"`
			Description string `yaml:"description"`
		} `yaml:"securitySchemes"`
		Parameters map[string]oaParameter `yaml:"parameters"`
		Schemas    map[string]oaSchema    `yaml:"schemas"`
	} `yaml:"components"`
}

type oaOperation struct {
	Parameters  []oaParameter `yaml:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema oaSchema `yaml:"schema"`
		} `yaml:"content"`
	} `yaml:"requestBody"`
	Responses map[string]yaml.Node `yaml:"responses"`
}

type oaParameter struct {
	Ref      string `yaml:"$ref"`
	Name     string `yaml:"name"`
	In       string `yaml:"in"`
	Required bool   `yaml:"required"`
}

type oaSchema struct {
	Ref                  string               `yaml:"$ref"`
	Properties           map[string]yaml.Node `yaml:"properties"`
	AdditionalProperties any                  `yaml:"additionalProperties"`
}

// successMediaTypes returns the media types of an operation's 2xx answers.
func successMediaTypes(op oaOperation) []string {
	var out []string
	for code, n := range op.Responses {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		var r struct {
			Content map[string]any `yaml:"content"`
		}
		if n.Decode(&r) == nil {
			for mt := range r.Content {
				out = append(out, mt)
			}
		}
	}
	return out
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}

// loadOpenAPI extracts the one ```yaml block of docs/qa.md that starts with
// "openapi:" and parses it.
func loadOpenAPI(t *testing.T) *oaDocument {
	t.Helper()
	b, err := os.ReadFile(qaDoc)
	if err != nil {
		t.Fatalf("the QA guide: %v", err)
	}
	var blocks []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		open := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(open, "```") {
			continue
		}
		start := i + 1
		for i = start; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: the code block opened here is never closed", qaDoc, start)
		}
		if strings.TrimPrefix(open, "```") == "yaml" && start < i && strings.HasPrefix(lines[start], "openapi:") {
			blocks = append(blocks, strings.Join(lines[start:i], "\n"))
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("%s: %d ```yaml blocks start with \"openapi:\"; want exactly one", qaDoc, len(blocks))
	}
	var doc oaDocument
	if err := yaml.Unmarshal([]byte(blocks[0]), &doc); err != nil {
		t.Fatalf("%s: the OpenAPI block: %v", qaDoc, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("%s: openapi: %q; want 3.x", qaDoc, doc.OpenAPI)
	}
	doc.Paths = map[string]map[string]oaOperation{}
	for path, item := range doc.RawPaths {
		var shared []oaParameter
		if n, ok := item["parameters"]; ok {
			if err := n.Decode(&shared); err != nil {
				t.Fatalf("paths.%s.parameters: %v", path, err)
			}
		}
		ops := map[string]oaOperation{}
		for method, n := range item {
			if !httpMethods[method] {
				continue
			}
			var op oaOperation
			if err := n.Decode(&op); err != nil {
				t.Fatalf("paths.%s.%s: %v", path, method, err)
			}
			op.Parameters = append(shared, op.Parameters...)
			ops[strings.ToUpper(method)] = op
		}
		doc.Paths[path] = ops
	}
	return &doc
}

// parameters returns an operation's parameters by "in name" (header names
// in lower case), with references resolved.
func (d *oaDocument) parameters(t *testing.T, key string, op oaOperation) map[string]oaParameter {
	out := map[string]oaParameter{}
	for _, p := range op.Parameters {
		if p.Ref != "" {
			name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
			r, found := d.Components.Parameters[name]
			if !ok || !found {
				t.Errorf("%s: parameter reference %q resolves to nothing", key, p.Ref)
				continue
			}
			p = r
		}
		name := p.Name
		if p.In == "header" {
			name = strings.ToLower(name)
		}
		out[p.In+" "+name] = p
	}
	return out
}

// source is this package's Go code, parsed.
type source struct {
	files map[string]*ast.File
	funcs map[string]*ast.FuncDecl // methods and functions by name
}

func loadSource(t *testing.T) *source {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	s := &source{files: map[string]*ast.File{}, funcs: map[string]*ast.FuncDecl{}}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		s.files[name] = f
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				s.funcs[fd.Name.Name] = fd
			}
		}
	}
	if s.files["api.go"] == nil {
		t.Fatal("api.go not found")
	}
	return s
}

// route is one registered route and what its handler reads and answers.
type route struct {
	method, path string
	body         *ast.BlockStmt // nil: a handler the test cannot see into
	calls        map[string]bool
	bodyType     string   // the type decode fills, when known
	queryKeys    []string // literal keys read with r.URL.Query().Get
	headers      []string // literal names read with r.Header.Get
	codes        []string // 2xx codes written
}

func (r route) inspected() bool { return r.body != nil }

// takesInput reports whether a request can be wrong: GET /v1/health,
// /v1/peers, /v1/network, /v1/faults, /v1/stats and /metrics read nothing
// from the request and can fail only on the token.
func (r route) takesInput() bool {
	return r.method != "GET" || len(pathWildcards(r.path)) > 0 || r.calls["decode"] || r.calls["cursor"] ||
		len(r.queryKeys) > 0 || len(r.headers) > 0
}

var patternRE = regexp.MustCompile(`^([A-Z]+) (/\S*)$`)

// routes collects the "METHOD /path" patterns given to mux.HandleFunc and
// mux.Handle in api.go, with what each handler does.
func (s *source) routes(t *testing.T) map[string]route {
	out := map[string]route{}
	ast.Inspect(s.files["api.go"], func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "mux" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("api.go: a route's pattern is not a string literal; the test cannot read it")
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		m := patternRE.FindStringSubmatch(pattern)
		if m == nil {
			t.Errorf("api.go: route %q has no method; OpenAPI describes operations by method", pattern)
			return true
		}
		rt := route{method: m[1], path: m[2], calls: map[string]bool{}}
		switch h := call.Args[1].(type) {
		case *ast.FuncLit:
			rt.body = h.Body
		case *ast.SelectorExpr: // a.events
			if fd := s.funcs[h.Sel.Name]; fd != nil {
				rt.body = fd.Body
			}
		case *ast.Ident:
			if fd := s.funcs[h.Name]; fd != nil {
				rt.body = fd.Body
			}
		}
		if rt.body != nil {
			rt.inspect()
		}
		out[rt.method+" "+rt.path] = rt
		return true
	})
	return out
}

// inspect reads what the handler's body calls, decodes, reads and answers.
func (r *route) inspect() {
	vars := map[string]string{} // var name → type name
	codes := map[string]bool{}
	ast.Inspect(r.body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if id, ok := n.Type.(*ast.Ident); ok {
				for _, name := range n.Names {
					vars[name.Name] = id.Name
				}
			}
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.Ident:
				r.calls[fun.Name] = true
				if fun.Name == "decode" && len(n.Args) == 3 {
					if u, ok := n.Args[2].(*ast.UnaryExpr); ok {
						if id, ok := u.X.(*ast.Ident); ok {
							r.bodyType = vars[id.Name]
						}
					}
				}
				if fun.Name == "reply" && len(n.Args) >= 2 {
					if lit, ok := n.Args[1].(*ast.BasicLit); ok && lit.Kind == token.INT && strings.HasPrefix(lit.Value, "2") {
						codes[lit.Value] = true
					}
				}
			case *ast.SelectorExpr:
				switch fun.Sel.Name {
				case "WriteHeader":
					if len(n.Args) == 1 {
						if code := statusCode(n.Args[0]); strings.HasPrefix(code, "2") {
							codes[code] = true
						}
					}
				case "Get":
					key := stringArg(n)
					if key == "" {
						break
					}
					if inner, ok := fun.X.(*ast.CallExpr); ok {
						if q, ok := inner.Fun.(*ast.SelectorExpr); ok && q.Sel.Name == "Query" {
							r.queryKeys = append(r.queryKeys, key)
						}
					}
					if h, ok := fun.X.(*ast.SelectorExpr); ok && h.Sel.Name == "Header" {
						r.headers = append(r.headers, key)
					}
				}
			}
		}
		return true
	})
	for c := range codes {
		r.codes = append(r.codes, c)
	}
	sort.Strings(r.codes)
}

// statusCode reads 200 or http.StatusNoContent.
func statusCode(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Value
	case *ast.SelectorExpr:
		if code, ok := map[string]int{"StatusOK": 200, "StatusCreated": 201, "StatusAccepted": 202, "StatusNoContent": 204}[e.Sel.Name]; ok {
			return strconv.Itoa(code)
		}
	}
	return ""
}

func stringArg(call *ast.CallExpr) string {
	if len(call.Args) != 1 {
		return ""
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, _ := strconv.Unquote(lit.Value)
	return s
}

// jsonStructs returns, for every struct type of the package with JSON tags,
// its JSON field names, sorted.
func (s *source) jsonStructs() map[string][]string {
	out := map[string][]string{}
	for _, f := range s.files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			var fields []string
			tagged := false
			for _, fl := range st.Fields.List {
				name := ""
				if fl.Tag != nil {
					tag, _ := strconv.Unquote(fl.Tag.Value)
					if j, ok := reflect.StructTag(tag).Lookup("json"); ok {
						tagged = true
						name, _, _ = strings.Cut(j, ",")
						if name == "-" {
							continue
						}
					}
				}
				if name != "" {
					fields = append(fields, name)
					continue
				}
				for _, id := range fl.Names {
					if id.IsExported() {
						fields = append(fields, id.Name)
					}
				}
			}
			if tagged {
				sort.Strings(fields)
				out[ts.Name.Name] = fields
			}
			return true
		})
	}
	return out
}

var wildcardRE = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

func pathWildcards(path string) []string {
	var out []string
	for _, m := range wildcardRE.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
