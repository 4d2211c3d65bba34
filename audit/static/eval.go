package static

import (
	"fmt"
	"go/ast"
	gconst "go/constant"
	"go/token"
	"go/types"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// vs is one outcome of evaluating an expression: the path it leaves and the
// value. Evaluation can fork a path (a call whose result depends on a
// condition in the callee), so it returns a list.
type vs struct {
	st *state
	v  Value
}

// vals is one outcome of evaluating several expressions.
type vals struct {
	st   *state
	vals []Value
}

// maxText bounds source text quoted in reports.
const maxText = 90

func exprText(e ast.Expr) string {
	s := types.ExprString(e)
	if len(s) > maxText {
		s = s[:maxText-3] + "..."
	}
	return s
}

func (in *interp) eval(e ast.Expr, st *state) []vs {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return in.eval(e.X, st)
	case *ast.BasicLit:
		return one(st, constant(COther, 0, e.Value))
	case *ast.Ident:
		return one(st, in.ident(e, st))
	case *ast.SelectorExpr:
		return in.selector(e, st)
	case *ast.UnaryExpr:
		return in.unary(e, st)
	case *ast.StarExpr:
		var out []vs
		for _, a := range in.eval(e.X, st) {
			v := a.v
			if v.Kind == KObj {
				v.Ptr = false
			}
			out = append(out, vs{a.st, v})
		}
		return out
	case *ast.CompositeLit:
		return in.composite(e, st)
	case *ast.CallExpr:
		var out []vs
		for _, a := range in.call(e, st) {
			v := unknown(exprText(e))
			if len(a.vals) > 0 {
				v = a.vals[0]
			}
			out = append(out, vs{a.st, v})
		}
		return out
	case *ast.BinaryExpr:
		return in.binary(e, st)
	case *ast.FuncLit:
		fd := in.e.litDecl(e, in.fd)
		// A literal that is stored or passed on may run later: its own
		// sends are audited once, with captured variables unknown.
		if in.depth == 0 && in.chat == statusgo.ChatUnknown {
			in.e.summary(fd)
		}
		return one(st, Value{Kind: KFunc, Func: fd.key, Text: fd.name})
	case *ast.TypeAssertExpr:
		return in.eval(e.X, st)
	case *ast.IndexExpr:
		// Evaluate the operands for the calls they may contain.
		var out []vs
		for _, a := range in.eval(e.X, st) {
			for _, b := range in.eval(e.Index, a.st) {
				out = append(out, vs{b.st, unknown(exprText(e))})
			}
		}
		return out
	case *ast.KeyValueExpr:
		return in.eval(e.Value, st)
	}
	return one(st, unknown(exprText(e)))
}

func one(st *state, v Value) []vs { return []vs{{st, v}} }

// evalList evaluates expressions left to right, threading forks.
func (in *interp) evalList(es []ast.Expr, st *state) []vals {
	alts := []vals{{st: st}}
	for _, e := range es {
		var next []vals
		for _, a := range alts {
			for _, r := range in.eval(e, a.st) {
				next = append(next, vals{r.st, append(append([]Value(nil), a.vals...), r.v)})
			}
		}
		alts = next
	}
	return alts
}

// evalMulti evaluates an expression that may produce several values.
func (in *interp) evalMulti(e ast.Expr, st *state) []vals {
	if call, ok := ast.Unparen(e).(*ast.CallExpr); ok {
		return in.call(call, st)
	}
	var out []vals
	for _, a := range in.eval(e, st) {
		out = append(out, vals{a.st, []Value{a.v, unknown("ok")}})
	}
	return out
}

func (in *interp) ident(id *ast.Ident, st *state) Value {
	if v, ok := st.env[id.Name]; ok {
		return v
	}
	obj := in.e.info.Uses[id]
	if obj == nil {
		obj = in.e.info.Defs[id]
	}
	switch obj := obj.(type) {
	case *types.Nil:
		return Value{Kind: KNil, Text: "nil"}
	case *types.Const:
		return in.e.constOf(obj, exprText(id))
	case *types.Func:
		return Value{Kind: KFunc, Func: funcKey(obj), Text: id.Name}
	case *types.Var:
		if obj.Parent() == in.e.pass.Pkg.Scope() {
			return in.e.packageValue(id.Name)
		}
		u := unknown(id.Name)
		u.Root = id.Name
		return u
	case nil:
		// No type information: read the name.
		switch id.Name {
		case "nil":
			return Value{Kind: KNil, Text: "nil"}
		case "true":
			return boolean(true)
		case "false":
			return boolean(false)
		}
		if v, ok := in.e.qualConst(in.e.pkgPath, id.Name); ok {
			v.Text = id.Name
			v.Syntax = true
			return v
		}
		if _, ok := in.e.pkgInits[id.Name]; ok {
			v := in.e.packageValue(id.Name)
			v.Syntax = true
			return v
		}
		if fd, ok := in.e.funcsByName[id.Name]; ok {
			return Value{Kind: KFunc, Func: fd.key, Text: id.Name, Syntax: true}
		}
	}
	if id.Name == "true" || id.Name == "false" {
		return boolean(id.Name == "true")
	}
	u := unknown(id.Name)
	u.Root = id.Name
	return u
}

// packageValue resolves a package-level constant or variable of this
// package through its initialiser, unless a function assigns it.
func (e *engine) packageValue(name string) Value {
	init, ok := e.pkgInits[name]
	if !ok || e.assigned[name] {
		return unknown(name)
	}
	// Package-level initialisers are evaluated on a scratch path; they
	// cannot send anything the audit cares about.
	scratch := &interp{e: e, fd: &fnDecl{name: "init", key: e.pkgPath + ".init"}, sum: &Summary{}, paramObjs: map[int]int{}, depth: 99}
	res := scratch.eval(init, newState())
	if len(res) != 1 {
		return unknown(name)
	}
	v := res[0].v
	if v.Kind == KObj {
		return unknown(name)
	}
	if v.Kind == KConst && v.Class != COther {
		v.Text = name
	}
	return v
}

// constOf turns a typed constant into a value, recognising status-go's
// enums by their type.
func (e *engine) constOf(c *types.Const, text string) Value {
	class := classOf(c.Type())
	val := c.Val()
	switch val.Kind() {
	case gconst.Bool:
		v := boolean(gconst.BoolVal(val))
		v.Text = text
		return v
	case gconst.Int:
		n, _ := gconst.Int64Val(val)
		if class == CMessageType {
			n = e.messageTypeOf(c, n)
		}
		return constant(class, n, text)
	}
	return constant(COther, 0, text)
}

func classOf(t types.Type) Class {
	if t == nil {
		return COther
	}
	if b, ok := t.Underlying().(*types.Basic); ok && b.Info()&types.IsBoolean != 0 {
		return CBool
	}
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return COther
	}
	switch named.Obj().Pkg().Path() + "." + named.Obj().Name() {
	case statusgo.CommonPath + ".ResendType":
		return CResendType
	case statusgo.CommonPath + ".ResendMethod":
		return CResendMethod
	case statusgo.ProtobufPath + ".ApplicationMetadataMessage_Type":
		return CMessageType
	case statusgo.ProtobufPath + ".ChatMessage_ContentType":
		return CContentType
	case statusgo.ProtocolPath + ".ChatType":
		return CChatKind
	}
	return COther
}

// messageTypeOf turns the tree's number of a message-type constant into
// the core's: by the constant's own name when it is one of the generated
// ones, else by the tree's numbering.
func (e *engine) messageTypeOf(c *types.Const, n int64) int64 {
	t := e.messageTypes()
	if c.Pkg() != nil && c.Pkg().Path() == statusgo.ProtobufPath && strings.HasPrefix(c.Name(), statusgo.MessageTypePrefix) {
		return canonicalName(strings.TrimPrefix(c.Name(), statusgo.MessageTypePrefix), n)
	}
	return t.canonical(n)
}

// qualConst knows status-go's constants by package path and name, for code
// whose type information is missing (in a plain clone, the protobuf package
// has no generated files at all).
func (e *engine) qualConst(path, name string) (Value, bool) {
	switch path {
	case statusgo.CommonPath:
		if r, err := statusgo.ParseResendType(name); err == nil {
			return constant(CResendType, int64(r), name), true
		}
		if m, err := statusgo.ParseResendMethod(name); err == nil {
			return constant(CResendMethod, int64(m), name), true
		}
	case statusgo.ProtobufPath:
		if strings.HasPrefix(name, statusgo.MessageTypePrefix) {
			if t, err := statusgo.ParseMessageType(name); err == nil {
				e.messageTypes()
				return constant(CMessageType, int64(t), name), true
			}
			if n, ok := e.messageTypes().known(strings.TrimPrefix(name, statusgo.MessageTypePrefix)); ok {
				return constant(CMessageType, extraType+n, name), true
			}
		}
		if strings.HasPrefix(name, statusgo.ContentTypePrefix) {
			if c, err := statusgo.ParseContentType(name); err == nil {
				return constant(CContentType, int64(c), name), true
			}
		}
	case statusgo.ProtocolPath:
		if strings.HasPrefix(name, "ChatType") {
			if k, err := statusgo.ParseChatKind(name); err == nil {
				return constant(CChatKind, int64(k), name), true
			}
		}
	}
	return Value{}, false
}

// pkgOf returns the import path an identifier names as a package qualifier.
func (e *engine) pkgOf(fd *fnDecl, id *ast.Ident, st *state) (string, bool) {
	if pn, ok := e.info.Uses[id].(*types.PkgName); ok {
		return pn.Imported().Path(), true
	}
	if e.info.Uses[id] != nil {
		return "", false
	}
	if st != nil {
		if _, local := st.env[id.Name]; local {
			return "", false
		}
	}
	if fd == nil || fd.file == nil {
		return "", false
	}
	path, ok := e.imports[fd.file][id.Name]
	return path, ok
}

func (in *interp) selector(sel *ast.SelectorExpr, st *state) []vs {
	if id, ok := sel.X.(*ast.Ident); ok {
		if path, ok := in.e.pkgOf(in.fd, id, st); ok {
			return one(st, in.e.qualified(path, sel))
		}
	}
	var out []vs
	for _, a := range in.eval(sel.X, st) {
		out = append(out, vs{a.st, in.member(a.v, sel, a.st)})
	}
	return out
}

// qualified resolves pkg.Name.
func (e *engine) qualified(path string, sel *ast.SelectorExpr) Value {
	text := exprText(sel)
	switch obj := e.info.Uses[sel.Sel].(type) {
	case *types.Const:
		v := e.constOf(obj, text)
		if v.Class == COther {
			if k, ok := e.qualConst(path, sel.Sel.Name); ok {
				k.Text = text
				return k
			}
		}
		return v
	case *types.Func:
		return Value{Kind: KFunc, Func: funcKey(obj), Text: text}
	case *types.Var:
		return unknown(text)
	}
	if v, ok := e.qualConst(path, sel.Sel.Name); ok {
		v.Text = text
		v.Syntax = true
		return v
	}
	return unknown(text)
}

// member reads x.Sel where x evaluated to v: a field of a tracked object, a
// deeper path of a parameter, or a method value.
func (in *interp) member(v Value, sel *ast.SelectorExpr, st *state) Value {
	if s := in.e.info.Selections[sel]; s != nil && s.Kind() == types.MethodVal {
		if fn, ok := s.Obj().(*types.Func); ok {
			return Value{Kind: KFunc, Func: funcKey(fn), Text: exprText(sel)}
		}
	}
	if in.e.info.Selections[sel] == nil {
		if key, ok := in.e.methodByName(sel.Sel.Name); ok {
			return Value{Kind: KFunc, Func: key, Text: exprText(sel), Syntax: true}
		}
	}
	return in.readField(v, sel.Sel.Name, exprText(sel), st)
}

func (in *interp) readField(v Value, name, text string, st *state) Value {
	f := in.readFieldRaw(v, name, text, st)
	if name == statusgo.ChatTypeField {
		return knownChatKind(f, st, text)
	}
	return f
}

func (in *interp) readFieldRaw(v Value, name, text string, st *state) Value {
	switch v.Kind {
	case KObj:
		if o := st.heap[v.Obj]; o != nil {
			f := o.field(name)
			if o.typ == statusgo.ChatType && name == "ID" {
				// chat.ID names the chat: keep the link for dispatchMessage.
				f.Root, f.Field = fmt.Sprintf("#%d", o.id), "ID"
				if o.base.Root != "" {
					f.Root = o.base.Root
				}
			}
			return f
		}
	case KParam:
		p := v
		p.Path += "." + name
		p.Text = text
		if p.Field == "" {
			p.Field = name
		}
		return p
	case KUnknown:
		u := unknown(text)
		u.Root, u.Field = v.Root, name
		if v.Field != "" {
			u.Field = v.Field + "." + name
		}
		return u
	}
	return unknown(text)
}

// methodByName finds a method by name alone, when type information is
// missing: a send function, or a method only one type of the package (or
// of the packages whose summaries were imported) declares.
func (e *engine) methodByName(name string) (string, bool) {
	if f, ok := e.sinkNames[name]; ok {
		return f.Package() + "." + f.Receiver() + "." + f.Method(), true
	}
	if ms := e.methods[name]; len(ms) == 1 {
		return ms[0].key, true
	}
	e.loadImported()
	if keys := e.importedByName[name]; len(keys) == 1 {
		return keys[0], true
	}
	return "", false
}

func (in *interp) unary(u *ast.UnaryExpr, st *state) []vs {
	var out []vs
	for _, a := range in.eval(u.X, st) {
		v := a.v
		switch u.Op {
		case token.AND:
			if v.Kind == KObj {
				v.Ptr = true
			}
		case token.NOT:
			switch {
			case v.isTrue():
				v = boolean(false)
			case v.isFalse():
				v = boolean(true)
			default:
				v = unknown(exprText(u))
			}
		default:
			v = unknown(exprText(u))
		}
		out = append(out, vs{a.st, v})
	}
	return out
}

func (in *interp) binary(b *ast.BinaryExpr, st *state) []vs {
	var out []vs
	for _, x := range in.eval(b.X, st) {
		// Short-circuit: the right operand is not evaluated when the left
		// decides, as at run time.
		if b.Op == token.LAND && x.v.isFalse() || b.Op == token.LOR && x.v.isTrue() {
			out = append(out, x)
			continue
		}
		for _, y := range in.eval(b.Y, x.st) {
			if b.Op == token.EQL || b.Op == token.NEQ {
				eqText := exprText(b.X) + " == " + exprText(b.Y)
				neText := exprText(b.X) + " != " + exprText(b.Y)
				if eq, ne, ok := in.chatSplit(x.v, y.v, y.st, eqText, neText); ok {
					if eq != nil {
						out = append(out, vs{eq, boolean(b.Op == token.EQL)})
					}
					if ne != nil {
						out = append(out, vs{ne, boolean(b.Op == token.NEQ)})
					}
					continue
				}
			}
			var v Value
			switch b.Op {
			case token.EQL:
				v = equal(x.v, y.v)
			case token.NEQ:
				v = equal(x.v, y.v)
				switch {
				case v.isTrue():
					v = boolean(false)
				case v.isFalse():
					v = boolean(true)
				}
			case token.LAND:
				switch {
				case y.v.isFalse():
					v = boolean(false)
				case x.v.isTrue() && y.v.isTrue():
					v = boolean(true)
				}
			case token.LOR:
				switch {
				case y.v.isTrue():
					v = boolean(true)
				case x.v.isFalse() && y.v.isFalse():
					v = boolean(false)
				}
			}
			if v.Kind != KConst {
				v = unknown(exprText(b))
			}
			out = append(out, vs{y.st, v})
		}
	}
	return out
}

// equal compares two values: a known boolean when both are known.
func equal(a, b Value) Value {
	switch {
	case a.Kind == KConst && b.Kind == KConst:
		if a.Class == b.Class || a.Class == COther && a.Text == "" || b.Class == COther && b.Text == "" {
			return boolean(a.Int == b.Int)
		}
	case a.Kind == KNil && b.Kind == KNil:
		return boolean(true)
	case a.Kind == KNil:
		if nonNil(b) {
			return boolean(false)
		}
	case b.Kind == KNil:
		if nonNil(a) {
			return boolean(false)
		}
	}
	return unknown("")
}

// nonNil reports whether a pointer value is certainly set.
func nonNil(v Value) bool {
	return v.Kind == KObj || v.Kind == KFunc || v.Kind == KUnknown && (v.Root == senderMark || v.Root == nonNilMark)
}

// composite builds a tracked object for a struct literal.
func (in *interp) composite(lit *ast.CompositeLit, st *state) []vs {
	typ := ""
	switch {
	case in.e.isType(in.fd, lit.Type, statusgo.CommonPath, statusgo.RawMessageType) || lit.Type == nil && in.e.typeOfIs(lit, statusgo.CommonPath, statusgo.RawMessageType):
		typ = statusgo.RawMessageType
	case in.e.isType(in.fd, lit.Type, statusgo.ProtocolPath, statusgo.ChatType):
		typ = statusgo.ChatType
	}
	keyed := len(lit.Elts) > 0
	for _, el := range lit.Elts {
		if _, ok := el.(*ast.KeyValueExpr); !ok {
			keyed = false
		}
	}
	if typ == "" && !keyed {
		var out []vs
		for _, a := range in.evalList(lit.Elts, st) {
			out = append(out, vs{a.st, unknown(exprText(lit))})
		}
		return out
	}
	var exprs []ast.Expr
	var names []string
	for _, el := range lit.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				names = append(names, id.Name)
				exprs = append(exprs, kv.Value)
			}
		}
	}
	var out []vs
	for _, a := range in.evalList(exprs, st) {
		if typ == "" && !anyInteresting(a.vals) {
			// A struct of runtime values only (a protobuf payload): not
			// worth tracking.
			out = append(out, vs{a.st, unknown(exprText(lit))})
			continue
		}
		o := in.newObject(a.st, typ, Value{}, lit.Pos())
		o.zero = typ != ""
		if !o.zero {
			o.base = unknown(exprText(lit))
		}
		for i, name := range names {
			if keepField(typ, name) {
				o.fields[name] = a.vals[i]
			}
		}
		out = append(out, vs{a.st, Value{Kind: KObj, Obj: o.id, Text: exprText(lit)}})
	}
	return out
}

// keepField reports whether a field of a tracked object matters: every
// field of a RawMessage, a Chat's kind and id, a chat message's content
// type. Keeping the others would only keep equal paths apart.
func keepField(typ, name string) bool {
	switch typ {
	case statusgo.RawMessageType:
		return true
	case statusgo.ChatType:
		return name == statusgo.ChatTypeField || name == "ID"
	}
	return trackedField[name]
}

func anyInteresting(vs []Value) bool {
	for _, v := range vs {
		if v.Kind == KConst && v.Class != COther || v.Kind == KObj || v.Kind == KParam || v.Kind == KFunc {
			return true
		}
	}
	return false
}

// isType reports whether the type expression x names path.name (through a
// pointer or not), using type information when there is some and the
// file's imports when there is none.
func (e *engine) isType(fd *fnDecl, x ast.Expr, path, name string) bool {
	if x == nil {
		return false
	}
	if star, ok := x.(*ast.StarExpr); ok {
		x = star.X
	}
	if tv, ok := e.info.Types[x]; ok && tv.Type != nil {
		if named, ok := types.Unalias(tv.Type).(*types.Named); ok && named.Obj().Pkg() != nil {
			return named.Obj().Pkg().Path() == path && named.Obj().Name() == name
		}
	}
	switch x := x.(type) {
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok && x.Sel.Name == name && fd != nil && fd.file != nil {
			return e.imports[fd.file][id.Name] == path
		}
	case *ast.Ident:
		return x.Name == name && e.pkgPath == path
	}
	return false
}

// typeOfIs checks the type of an expression (a literal whose type is elided
// inside another literal).
func (e *engine) typeOfIs(x ast.Expr, path, name string) bool {
	t := e.info.TypeOf(x)
	if t == nil {
		return false
	}
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, ok := types.Unalias(t).(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == path && named.Obj().Name() == name
}

// isPackageVar reports whether an identifier refers to a package-level
// variable, which the interpreter does not track as a local.
func (e *engine) isPackageVar(id *ast.Ident) bool {
	obj := e.info.Uses[id]
	if obj == nil {
		obj = e.info.Defs[id]
	}
	if v, ok := obj.(*types.Var); ok {
		return v.Parent() == e.pass.Pkg.Scope()
	}
	return false
}
