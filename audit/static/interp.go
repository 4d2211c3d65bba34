package static

import (
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// maxStates bounds the paths followed through one function. Paths that
// reach the same abstract state are merged first, so the bound is only hit
// by functions with many independent branches that all change a message.
const maxStates = 96

// interp interprets one function body over abstract states.
type interp struct {
	e   *engine
	fd  *fnDecl
	sum *Summary
	// recs are the messages this function sends, directly or through a
	// callee, in order.
	recs []*effRec
	// ended are the paths that returned.
	ended []*state
	// paramObjs maps a *RawMessage parameter to its heap object.
	paramObjs map[int]int
	// chat, when set, fixes the kind of the receiver (a Chat method being
	// summarised per chat kind).
	chat statusgo.ChatKind
	// chatArg is the argument whose kind chat fixes (see chatArg).
	chatArg   int
	depth     int
	truncated bool
	ignored   bool
}

// effRec is a message reaching a sink, as seen from this function.
type effRec struct {
	eff    Effect
	obj    int // heap object of the message, or -1
	trails []string
	pos    token.Pos // the call in this function the send happens under
	fn     string
}

func newInterp(e *engine, fd *fnDecl) *interp {
	return &interp{e: e, fd: fd, sum: &Summary{Name: fd.name, Package: e.pass.Pkg.Name()}, paramObjs: map[int]int{}, ignored: e.ignore[fd.key], chatArg: noChat}
}

// summary returns fd's summary, interpreting it the first time. A function
// reached again while it is being interpreted (recursion) gets an empty
// summary: its own sends are still reported when it is interpreted itself.
func (e *engine) summary(fd *fnDecl) *Summary {
	if s, ok := e.summaries[fd]; ok {
		return s
	}
	if e.computing[fd] || fd.body == nil || e.isSink(fd) {
		return &Summary{Name: fd.name}
	}
	if e.interesting != nil && !e.interesting[fd] && fd.lit == nil {
		// Nothing in it mentions a message, a send or a status-go
		// constant: its results are runtime values.
		s := &Summary{Name: fd.name}
		e.summaries[fd] = s
		return s
	}
	e.computing[fd] = true
	in := newInterp(e, fd)
	s := in.run(newState())
	delete(e.computing, fd)
	e.summaries[fd] = s
	return s
}

// run interprets the body from st, binding receiver and parameters to
// symbolic values, and returns the summary.
func (in *interp) run(st *state) *Summary {
	fd := in.fd
	if fd.recv != "" && fd.decl != nil {
		st.env[fd.recv] = in.paramValue(-1, fd.decl.Recv.List[0].Type, fd.recv, st)
	}
	for i, name := range fd.params {
		if name == "" || name == "_" {
			continue
		}
		st.env[name] = in.paramValue(i, fd.ptypes[i], name, st)
	}
	live := in.block(fd.body.List, []*state{st})
	in.finish(in.ended, live)
	return in.sum
}

// paramValue binds a parameter: a RawMessage (or *RawMessage) parameter
// becomes an object whose fields default to the caller's; a Chat receiver
// being summarised per kind gets that kind; anything else is symbolic.
func (in *interp) paramValue(i int, typ ast.Expr, name string, st *state) Value {
	p := Value{Kind: KParam, Param: i, Text: name, Root: name}
	ptr := false
	if star, ok := typ.(*ast.StarExpr); ok {
		ptr = true
		typ = star.X
	}
	switch {
	case in.e.isType(in.fd, typ, statusgo.CommonPath, statusgo.RawMessageType):
		o := in.newObject(st, statusgo.RawMessageType, p, 0)
		if ptr {
			in.paramObjs[i] = o.id
		}
		return Value{Kind: KObj, Obj: o.id, Ptr: ptr, Text: name}
	case i == in.chatArg && in.chat != statusgo.ChatUnknown:
		o := in.newObject(st, statusgo.ChatType, p, 0)
		o.fields[statusgo.ChatTypeField] = constant(CChatKind, int64(in.chat), "")
		return Value{Kind: KObj, Obj: o.id, Ptr: ptr, Text: name}
	}
	return p
}

func (in *interp) newObject(st *state, typ string, base Value, origin token.Pos) *object {
	in.e.nextObj++
	o := &object{id: in.e.nextObj, typ: typ, fields: map[string]Value{}, base: base, origin: int(origin)}
	st.heap[o.id] = o
	return o
}

func (in *interp) block(list []ast.Stmt, sts []*state) []*state {
	for _, s := range list {
		if len(sts) == 0 {
			break
		}
		sts = in.stmt(s, sts)
	}
	return sts
}

// stmt interprets one statement on every path still running; paths that are
// leaving a loop body (jump set) pass through untouched.
func (in *interp) stmt(s ast.Stmt, sts []*state) []*state {
	var active, out []*state
	for _, st := range sts {
		if st.jump != "" {
			out = append(out, st)
		} else {
			active = append(active, st)
		}
	}
	if len(active) == 0 {
		return sts
	}
	var res []*state
	switch s := s.(type) {
	case *ast.ExprStmt:
		for _, st := range active {
			for _, a := range in.eval(s.X, st) {
				res = append(res, a.st)
			}
		}
	case *ast.AssignStmt:
		res = in.assignStmt(s, active)
	case *ast.DeclStmt:
		res = in.declStmt(s, active)
	case *ast.IfStmt:
		res = in.ifStmt(s, active)
	case *ast.ForStmt:
		res = in.loop(s.Init, s.Post, s.Body, nil, active)
	case *ast.RangeStmt:
		res = in.loop(nil, nil, s.Body, s, active)
	case *ast.SwitchStmt:
		res = in.switchStmt(s, active)
	case *ast.TypeSwitchStmt:
		res = in.typeSwitch(s, active)
	case *ast.SelectStmt:
		res = in.selectStmt(s, active)
	case *ast.BlockStmt:
		res = in.block(s.List, active)
	case *ast.LabeledStmt:
		res = in.stmt(s.Stmt, active)
	case *ast.ReturnStmt:
		in.returnStmt(s, active)
	case *ast.GoStmt:
		in.detached(s.Call, active)
		res = active
	case *ast.DeferStmt:
		in.detached(s.Call, active)
		res = active
	case *ast.BranchStmt:
		for _, st := range active {
			if s.Tok == token.BREAK || s.Tok == token.CONTINUE {
				st.jump = s.Tok.String()
			}
			res = append(res, st)
		}
	case *ast.IncDecStmt:
		for _, st := range active {
			if id, ok := s.X.(*ast.Ident); ok {
				if _, tracked := st.env[id.Name]; tracked {
					st.env[id.Name] = unknown(id.Name)
				}
			}
			res = append(res, st)
		}
	default:
		res = active
	}
	res = append(res, out...)
	if len(res) <= len(sts) {
		// Nothing forked: the paths were merged before this statement
		// and can only have diverged by dying.
		live := res[:0:0]
		for _, st := range res {
			if !st.dead {
				live = append(live, st)
			}
		}
		return live
	}
	return in.merge(res)
}

// detached runs a go or defer call on a copy of each path: its sends count,
// its effects on the caller's state do not.
func (in *interp) detached(call *ast.CallExpr, sts []*state) {
	for _, st := range sts {
		in.call(call, st.clone())
	}
}

func (in *interp) assignStmt(s *ast.AssignStmt, sts []*state) []*state {
	var res []*state
	for _, st := range sts {
		if len(s.Rhs) == 1 && len(s.Lhs) > 1 {
			for _, a := range in.evalMulti(s.Rhs[0], st) {
				for i, l := range s.Lhs {
					v := unknown(exprText(s.Rhs[0]))
					if i < len(a.vals) {
						v = a.vals[i]
					}
					in.assign(l, v, nil, s.Tok, a.st)
				}
				res = append(res, a.st)
			}
			continue
		}
		for _, a := range in.evalList(s.Rhs, st) {
			for i, l := range s.Lhs {
				if i < len(a.vals) {
					in.assign(l, a.vals[i], s.Rhs[i], s.Tok, a.st)
				}
			}
			res = append(res, a.st)
		}
	}
	return res
}

// assign stores v into lhs. A struct value read from a variable is copied,
// as Go copies it; a literal or a call result is already fresh.
func (in *interp) assign(lhs ast.Expr, v Value, rhs ast.Expr, tok token.Token, st *state) {
	if tok != token.ASSIGN && tok != token.DEFINE {
		v = unknown(exprText(lhs))
	}
	if v.Kind == KObj && !v.Ptr && rhs != nil && !isFresh(rhs) {
		v = in.copyObject(v, st)
	}
	switch l := lhs.(type) {
	case *ast.Ident:
		if l.Name == "_" {
			return
		}
		if in.e.isPackageVar(l) {
			return
		}
		if !interesting(v) {
			// A runtime value: forget what the variable held, so that a
			// read yields a runtime value named after it.
			delete(st.env, l.Name)
			return
		}
		if v.Kind == KUnknown && v.Root == "" {
			// chat.ID read later must name this variable, to be matched
			// with chat.DefaultResendType() on the same chat.
			v.Root = l.Name
		}
		st.env[l.Name] = v
	case *ast.SelectorExpr:
		if o := in.target(l.X, l.Sel.Name, st); o != nil {
			// Of a struct that is not a RawMessage or a Chat only the
			// fields the audit reads are worth keeping apart.
			if keepField(o.typ, l.Sel.Name) {
				o.fields[l.Sel.Name] = v
			}
		}
	case *ast.StarExpr:
		for _, a := range in.eval(l.X, st) {
			if a.v.Kind == KObj && v.Kind == KObj {
				dst, src := a.st.heap[a.v.Obj], a.st.heap[v.Obj]
				if dst != nil && src != nil {
					dst.fields = src.clone().fields
					dst.base, dst.zero = src.base, src.zero
				}
			}
		}
	case *ast.ParenExpr:
		in.assign(l.X, v, rhs, tok, st)
	}
}

// target returns the object a field assignment writes to, creating one for
// a variable that holds something the audit did not track yet (such as a
// chat Message whose ContentType is being set).
func (in *interp) target(x ast.Expr, field string, st *state) *object {
	x = ast.Unparen(x)
	if star, ok := x.(*ast.StarExpr); ok {
		x = star.X
	}
	if id, ok := x.(*ast.Ident); ok {
		v, tracked := st.env[id.Name]
		if !tracked {
			v = in.ident(id, st)
		}
		switch v.Kind {
		case KObj:
			return st.heap[v.Obj]
		case KParam, KUnknown:
			if in.e.isPackageVar(id) || !trackedField[field] {
				return nil
			}
			base := v
			if base.Kind == KUnknown {
				base = unknown(id.Name)
				base.Root = id.Name
			}
			o := in.newObject(st, "", base, 0)
			st.env[id.Name] = Value{Kind: KObj, Obj: o.id, Ptr: true, Text: id.Name}
			return o
		}
		return nil
	}
	as := in.eval(x, st)
	if len(as) == 1 && as[0].v.Kind == KObj {
		return st.heap[as[0].v.Obj]
	}
	return nil
}

// trackedField names the fields of other structs the audit reads: a chat
// Message's content type and a Chat's kind.
var trackedField = map[string]bool{"ContentType": true, statusgo.ChatTypeField: true}

func (in *interp) copyObject(v Value, st *state) Value {
	src := st.heap[v.Obj]
	if src == nil {
		return v
	}
	c := src.clone()
	in.e.nextObj++
	c.id = in.e.nextObj
	st.heap[c.id] = c
	v.Obj = c.id
	return v
}

// isFresh reports whether e makes a new value rather than reading one.
func isFresh(e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.CompositeLit, *ast.CallExpr:
		return true
	case *ast.UnaryExpr:
		return e.Op == token.AND
	}
	return false
}

// interesting reports whether a value is worth keeping in the environment:
// the audit ignores variables that only ever hold runtime values.
func interesting(v Value) bool {
	switch v.Kind {
	case KUnknown:
		return v.ChatRoot != "" || len(v.Deps) > 0 || v.Root == nonNilMark || v.Root == senderMark
	case KConst:
		return v.Class != COther
	case KNil:
		// nil matters in a RawMessage's Sender and in a callback a caller
		// did not pass; in a local it only keeps paths apart.
		return false
	}
	return true
}

func (in *interp) declStmt(s *ast.DeclStmt, sts []*state) []*state {
	gd, ok := s.Decl.(*ast.GenDecl)
	if !ok || gd.Tok != token.VAR && gd.Tok != token.CONST {
		return sts
	}
	for _, spec := range gd.Specs {
		vs, ok := spec.(*ast.ValueSpec)
		if !ok {
			continue
		}
		var next []*state
		for _, st := range sts {
			if len(vs.Values) == 0 {
				for _, n := range vs.Names {
					typ := vs.Type
					if star, ok := typ.(*ast.StarExpr); ok {
						st.env[n.Name] = Value{Kind: KNil, Text: "nil"}
						_ = star
						continue
					}
					switch {
					case in.e.isType(in.fd, typ, statusgo.CommonPath, statusgo.RawMessageType):
						o := in.newObject(st, statusgo.RawMessageType, Value{}, n.Pos())
						o.zero = true
						st.env[n.Name] = Value{Kind: KObj, Obj: o.id, Text: n.Name}
					case in.e.isType(in.fd, typ, statusgo.ProtocolPath, statusgo.ChatType):
						o := in.newObject(st, statusgo.ChatType, Value{}, n.Pos())
						o.zero = true
						st.env[n.Name] = Value{Kind: KObj, Obj: o.id, Text: n.Name}
					}
				}
				next = append(next, st)
				continue
			}
			for _, a := range in.evalList(vs.Values, st) {
				for i, n := range vs.Names {
					if i < len(a.vals) {
						in.assign(n, a.vals[i], vs.Values[i], token.DEFINE, a.st)
					}
				}
				next = append(next, a.st)
			}
		}
		sts = next
	}
	return sts
}

func (in *interp) ifStmt(s *ast.IfStmt, sts []*state) []*state {
	if s.Init != nil {
		sts = in.stmt(s.Init, sts)
	}
	var thenSts, elseSts []*state
	thenText, elseText := condText(s.Cond, false), condText(s.Cond, true)
	forked := false
	for _, st := range sts {
		for _, a := range in.eval(s.Cond, st) {
			switch {
			case a.v.isTrue():
				thenSts = append(thenSts, a.st)
			case a.v.isFalse():
				elseSts = append(elseSts, a.st)
			default:
				forked = true
				branch := fmt.Sprint(int(s.Pos()))
				t, f := a.st.fork(branch+"t", thenText), a.st.fork(branch+"f", elseText)
				in.refine(s.Cond, t, true)
				in.refine(s.Cond, f, false)
				thenSts = append(thenSts, t)
				elseSts = append(elseSts, f)
			}
		}
	}
	recs := len(in.recs)
	out := in.block(s.Body.List, thenSts)
	thenSent := len(in.recs) > recs
	recs = len(in.recs)
	if s.Else != nil && len(elseSts) > 0 {
		elseSts = in.stmt(s.Else, elseSts)
	}
	elseSent := len(in.recs) > recs
	// A guard (if err != nil { return }) leaves one side only, and sends
	// nothing on the side that stops: the condition tells nothing about
	// the paths that go on, so they do not carry it.
	if forked {
		switch {
		case len(out) == 0 && !thenSent:
			dropCond(elseSts, elseText)
		case len(elseSts) == 0 && !elseSent:
			dropCond(out, thenText)
		case len(out) > 0 && len(elseSts) > 0:
			// Both sides go on: what the condition said about a
			// variable (err nil or not) would only keep equal paths
			// apart from here on.
			if name, ok := refinedName(s.Cond); ok {
				for _, st := range append(append([]*state(nil), out...), elseSts...) {
					if v, ok := st.env[name]; ok && (v.Kind == KNil || v.Root == nonNilMark) {
						delete(st.env, name)
					}
				}
			}
		}
	}
	return in.merge(append(out, elseSts...))
}

// refine records what a condition tells about a variable on the side it
// holds: after "if err != nil", err is not nil, and after "if x == nil", x
// is nil. That lets a caller's error check drop the callee's failing paths.
func (in *interp) refine(cond ast.Expr, st *state, holds bool) {
	switch c := ast.Unparen(cond).(type) {
	case *ast.BinaryExpr:
		switch c.Op {
		case token.LAND:
			if holds {
				in.refine(c.X, st, true)
				in.refine(c.Y, st, true)
			}
			return
		case token.LOR:
			if !holds {
				in.refine(c.X, st, false)
				in.refine(c.Y, st, false)
			}
			return
		case token.EQL, token.NEQ:
		default:
			return
		}
		x, y := ast.Unparen(c.X), ast.Unparen(c.Y)
		if isNilIdent(x) {
			x, y = y, x
		}
		id, ok := x.(*ast.Ident)
		if !ok || !isNilIdent(y) || in.e.isPackageVar(id) {
			return
		}
		isNil := (c.Op == token.EQL) == holds
		if isNil {
			st.env[id.Name] = Value{Kind: KNil, Text: "nil"}
			return
		}
		if cur, ok := st.env[id.Name]; ok && (nonNil(cur) || cur.Kind == KParam) {
			return
		}
		st.env[id.Name] = Value{Kind: KUnknown, Root: nonNilMark, Text: id.Name}
	}
}

// refinedName returns the variable a simple nil check refines.
func refinedName(cond ast.Expr) (string, bool) {
	c, ok := ast.Unparen(cond).(*ast.BinaryExpr)
	if !ok || c.Op != token.EQL && c.Op != token.NEQ {
		return "", false
	}
	x, y := ast.Unparen(c.X), ast.Unparen(c.Y)
	if isNilIdent(x) {
		x, y = y, x
	}
	id, ok := x.(*ast.Ident)
	if !ok || !isNilIdent(y) {
		return "", false
	}
	return id.Name, true
}

func isNilIdent(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}

func dropCond(sts []*state, text string) {
	for _, st := range sts {
		for i, c := range st.conds {
			if c == text {
				st.conds = append(st.conds[:i:i], st.conds[i+1:]...)
				break
			}
		}
	}
}

// loop runs a loop body twice: the second pass sees what the first left in
// the messages (a Sender set by a send on the first recipient, for one), and
// its sends are marked as happening on a later iteration.
func (in *interp) loop(init, post ast.Stmt, body *ast.BlockStmt, rng *ast.RangeStmt, sts []*state) []*state {
	if init != nil {
		sts = in.stmt(init, sts)
	}
	if rng != nil {
		var next []*state
		for _, st := range sts {
			for _, a := range in.eval(rng.X, st) {
				for _, x := range []ast.Expr{rng.Key, rng.Value} {
					if x != nil {
						in.assign(x, unknown(exprText(x)), nil, token.DEFINE, a.st)
						if id, ok := x.(*ast.Ident); ok {
							if _, tracked := a.st.env[id.Name]; tracked {
								a.st.env[id.Name] = unknown(id.Name)
							}
						}
					}
				}
				next = append(next, a.st)
			}
		}
		sts = next
	}
	outerIter := map[*state]int{}
	exits := append([]*state(nil), sts...)
	cur := sts
	for pass := 1; pass <= 2 && len(cur) > 0; pass++ {
		var entry []*state
		for _, st := range cur {
			c := st.fork(fmt.Sprintf("%dl%d", int(body.Pos()), pass), "")
			if pass == 2 {
				outerIter[c] = st.iter
				c.iter = 2
			}
			entry = append(entry, c)
		}
		after := in.block(body.List, entry)
		var next []*state
		for _, st := range after {
			switch st.jump {
			case "break":
				st.jump = ""
				exits = append(exits, st)
			default:
				st.jump = ""
				next = append(next, st)
			}
		}
		if post != nil {
			next = in.stmt(post, next)
		}
		if pass == 1 && sameStates(in.merge(append(append([]*state(nil), cur...), next...)), in.merge(cur)) {
			// The body changes nothing the audit tracks: a second
			// pass would see the same.
			exits = append(exits, next...)
			break
		}
		exits = append(exits, next...)
		cur = next
	}
	for _, st := range exits {
		if st.iter == 2 {
			st.iter = 0
		}
	}
	return in.merge(exits)
}

// sameStates reports whether two merged path sets hold the same abstract
// states.
func sameStates(a, b []*state) bool {
	if len(a) != len(b) {
		return false
	}
	sigs := map[string]int{}
	for _, st := range a {
		sigs[st.signatureNoIter()]++
	}
	for _, st := range b {
		k := st.signatureNoIter()
		if sigs[k] == 0 {
			return false
		}
		sigs[k]--
	}
	return true
}

func (in *interp) switchStmt(s *ast.SwitchStmt, sts []*state) []*state {
	if s.Init != nil {
		sts = in.stmt(s.Init, sts)
	}
	type tagged struct {
		st  *state
		tag Value
	}
	var remaining []tagged
	for _, st := range sts {
		if s.Tag == nil {
			remaining = append(remaining, tagged{st, boolean(true)})
			continue
		}
		for _, a := range in.eval(s.Tag, st) {
			remaining = append(remaining, tagged{a.st, a.v})
		}
	}
	var out []*state
	var def *ast.CaseClause
	for _, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			def = cc
			continue
		}
		var into []*state
		var rest []tagged
		for _, r := range remaining {
			// The paths on which no case expression so far matched; a
			// case expression may itself fork a path (a call, or a
			// comparison on a chat's kind).
			cur := []*state{r.st}
			for _, x := range cc.List {
				text := exprText(x)
				ne := "!(" + text + ")"
				if s.Tag != nil {
					text = exprText(s.Tag) + " == " + exprText(x)
					ne = exprText(s.Tag) + " != " + exprText(x)
				}
				var next []*state
				for _, c := range cur {
					for _, a := range in.eval(x, c) {
						if s.Tag != nil {
							if t, f, ok := in.chatSplit(r.tag, a.v, a.st, text, ne); ok {
								if t != nil {
									into = append(into, t)
								}
								if f != nil {
									next = append(next, f)
								}
								continue
							}
						}
						eq := equal(r.tag, a.v)
						switch {
						case eq.isTrue():
							into = append(into, a.st)
						case eq.isFalse():
							next = append(next, a.st)
						default:
							into = append(into, a.st.fork(fmt.Sprintf("%dc", int(x.Pos())), text))
							next = append(next, a.st)
						}
					}
				}
				cur = next
			}
			for _, c := range cur {
				rest = append(rest, tagged{c, r.tag})
			}
		}
		remaining = rest
		out = append(out, in.clause(cc.Body, into)...)
	}
	var left []*state
	for _, r := range remaining {
		left = append(left, r.st)
	}
	if def != nil {
		left = in.clause(def.Body, left)
	}
	return in.merge(append(out, left...))
}

// clause runs a case body; a plain break leaves the switch, not a loop.
func (in *interp) clause(body []ast.Stmt, sts []*state) []*state {
	out := in.block(body, sts)
	for _, st := range out {
		if st.jump == "break" {
			st.jump = ""
		}
	}
	return out
}

func (in *interp) typeSwitch(s *ast.TypeSwitchStmt, sts []*state) []*state {
	if s.Init != nil {
		sts = in.stmt(s.Init, sts)
	}
	sts = in.stmt(s.Assign, sts)
	var out []*state
	hasDefault := false
	for _, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			hasDefault = true
		}
		var into []*state
		for _, st := range sts {
			into = append(into, st.fork(fmt.Sprintf("%dc", int(cc.Pos())), "type case "+exprListText(cc.List)))
		}
		out = append(out, in.clause(cc.Body, into)...)
	}
	if !hasDefault {
		out = append(out, sts...)
	}
	return in.merge(out)
}

func (in *interp) selectStmt(s *ast.SelectStmt, sts []*state) []*state {
	var out []*state
	for _, c := range s.Body.List {
		cc := c.(*ast.CommClause)
		var into []*state
		for _, st := range sts {
			into = append(into, st.fork(fmt.Sprintf("%ds", int(cc.Pos())), ""))
		}
		if cc.Comm != nil {
			into = in.stmt(cc.Comm, into)
		}
		out = append(out, in.clause(cc.Body, into)...)
	}
	if len(s.Body.List) == 0 {
		return sts
	}
	return in.merge(out)
}

func (in *interp) returnStmt(s *ast.ReturnStmt, sts []*state) {
	for _, st := range sts {
		var alts []vals
		if call, ok := singleCall(s.Results); ok {
			alts = in.call(call, st)
		} else {
			alts = in.evalList(s.Results, st)
		}
		n := resultCount(in.fd.ftype)
		for _, a := range alts {
			if n >= 0 && len(a.vals) > n {
				a.vals = a.vals[:n]
			}
			a.st.results = a.vals
			a.st.dead = true
			in.ended = append(in.ended, a.st)
		}
	}
}

// resultCount is the number of results a function declares.
func resultCount(ft *ast.FuncType) int {
	if ft == nil || ft.Results == nil {
		return 0
	}
	n := 0
	for _, f := range ft.Results.List {
		if len(f.Names) == 0 {
			n++
		} else {
			n += len(f.Names)
		}
	}
	return n
}

// singleCall reports whether a result list is one call, whose results are
// all returned.
func singleCall(results []ast.Expr) (*ast.CallExpr, bool) {
	if len(results) != 1 {
		return nil, false
	}
	call, ok := ast.Unparen(results[0]).(*ast.CallExpr)
	return call, ok
}

// merge drops paths that have ended and merges paths whose abstract states
// are equal, keeping the conditions they share and every trail.
func (in *interp) merge(sts []*state) []*state {
	var live []*state
	for _, st := range sts {
		if !st.dead {
			live = append(live, st)
		}
	}
	if len(live) <= 1 {
		return live
	}
	var out []*state
	index := map[string]*state{}
	roots := make([]int, 0, len(in.paramObjs))
	for _, id := range in.paramObjs {
		roots = append(roots, id)
	}
	sort.Ints(roots)
	for _, st := range live {
		in.collect(st)
		sig := st.sig(roots) + ";iter=" + strconv.Itoa(st.iter)
		if prev, ok := index[sig]; ok {
			prev.conds = commonPrefix(prev.conds, st.conds)
			prev.trails = unionTrails(prev.trails, st.trails)
			continue
		}
		index[sig] = st
		out = append(out, st)
	}
	if len(out) > maxStates {
		in.truncated = true
		out = out[:maxStates]
	}
	return out
}

// collect drops heap objects no variable can reach any more: they cannot
// change what happens next, and keeping them would keep equal paths apart.
func (in *interp) collect(st *state) {
	reach := map[int]bool{}
	var mark func(v Value)
	mark = func(v Value) {
		if v.Kind == KObj && !reach[v.Obj] {
			reach[v.Obj] = true
			if o := st.heap[v.Obj]; o != nil {
				for _, f := range o.fields {
					mark(f)
				}
			}
		}
		for _, d := range v.Deps {
			mark(d)
		}
	}
	for _, v := range st.env {
		mark(v)
	}
	for _, id := range in.paramObjs {
		mark(Value{Kind: KObj, Obj: id})
	}
	for _, v := range st.results {
		mark(v)
	}
	for id := range st.heap {
		if !reach[id] {
			delete(st.heap, id)
		}
	}
}

func commonPrefix(a, b []string) []string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n:n]
}

func unionTrails(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append(append([]string(nil), a...), b...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	// Many merged paths share a prefix; keeping the shortest suffices for
	// deciding what lies on a path, and keeps states small.
	if len(out) > 16 {
		out = out[:16]
	}
	return out
}

// condText renders a condition (or its negation) for a report.
func condText(cond ast.Expr, negate bool) string {
	cond = ast.Unparen(cond)
	text := exprText(cond)
	if !negate {
		return text
	}
	switch c := cond.(type) {
	case *ast.UnaryExpr:
		if c.Op == token.NOT {
			return exprText(c.X)
		}
	case *ast.BinaryExpr:
		switch c.Op {
		case token.EQL:
			return exprText(c.X) + " != " + exprText(c.Y)
		case token.NEQ:
			return exprText(c.X) + " == " + exprText(c.Y)
		case token.LAND, token.LOR:
			return "!(" + text + ")"
		}
	case *ast.CallExpr, *ast.Ident, *ast.SelectorExpr:
		return "!" + text
	}
	return "!(" + text + ")"
}

func exprListText(list []ast.Expr) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = exprText(x)
	}
	return strings.Join(parts, ", ")
}
