package static

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

type calleeKind uint8

const (
	ckUnknown calleeKind = iota
	ckBuiltin
	ckConversion
	ckLit
	ckSink
	ckWatch
	ckFunc  // a function with a key: declared here, or summarised elsewhere
	ckValue // a function value held in a variable, parameter or field
)

type callee struct {
	kind    calleeKind
	sink    statusgo.SendFunc
	key     string
	recv    ast.Expr
	syntax  bool
	builtin string
}

// maxInline bounds how deep function literals called in place are inlined.
const maxInline = 3

// resolve finds out what a call calls, by type information when there is
// some and by name otherwise.
func (in *interp) resolve(call *ast.CallExpr, st *state) callee {
	info := in.e.info
	switch f := ast.Unparen(call.Fun).(type) {
	case *ast.FuncLit:
		return callee{kind: ckLit}
	case *ast.Ident:
		if _, ok := st.env[f.Name]; ok {
			return callee{kind: ckValue}
		}
		switch obj := info.Uses[f].(type) {
		case *types.Builtin:
			return callee{kind: ckBuiltin, builtin: obj.Name()}
		case *types.TypeName:
			return callee{kind: ckConversion}
		case *types.Func:
			return in.byKey(funcKey(obj), nil, false)
		case *types.Var:
			return callee{kind: ckValue}
		case nil:
			switch f.Name {
			case "new", "make", "len", "cap", "append", "panic", "copy", "delete", "print", "println", "min", "max", "clear":
				return callee{kind: ckBuiltin, builtin: f.Name}
			}
			if fd, ok := in.e.funcsByName[f.Name]; ok {
				return in.byKey(fd.key, nil, true)
			}
			return callee{kind: ckValue}
		}
	case *ast.SelectorExpr:
		if id, ok := f.X.(*ast.Ident); ok {
			if path, ok := in.e.pkgOf(in.fd, id, st); ok {
				switch info.Uses[f.Sel].(type) {
				case *types.TypeName:
					return callee{kind: ckConversion}
				case nil:
					return in.byKey(path+"."+f.Sel.Name, nil, true)
				}
				return in.byKey(path+"."+f.Sel.Name, nil, false)
			}
		}
		if s := info.Selections[f]; s != nil {
			switch s.Kind() {
			case types.MethodVal:
				fn, _ := s.Obj().(*types.Func)
				if fn == nil {
					break
				}
				c := in.byKey(funcKey(fn), f.X, false)
				if c.kind == ckFunc && types.IsInterface(s.Recv()) {
					// An interface with a send function's name and shape
					// stands for status-go's sender (mocks, wrappers).
					if byName := in.byName(f, call); byName.kind == ckSink || byName.kind == ckWatch {
						byName.syntax = true
						return byName
					}
				}
				return c
			case types.FieldVal:
				return callee{kind: ckValue}
			}
		}
		c := in.byName(f, call)
		c.syntax = true
		return c
	}
	return callee{}
}

// byName resolves a method call from its name alone.
func (in *interp) byName(f *ast.SelectorExpr, call *ast.CallExpr) callee {
	name := f.Sel.Name
	if in.e.watch[name] {
		return callee{kind: ckWatch, recv: f.X}
	}
	if sf, ok := in.e.sinkNames[name]; ok && len(call.Args) > sf.MessageArg() {
		return callee{kind: ckSink, sink: sf, recv: f.X}
	}
	if key, ok := in.e.methodByName(name); ok {
		c := in.byKey(key, f.X, true)
		return c
	}
	return callee{recv: f.X}
}

func (in *interp) byKey(key string, recv ast.Expr, syntax bool) callee {
	if sf, ok := in.e.sinks[key]; ok {
		return callee{kind: ckSink, sink: sf, key: key, recv: recv, syntax: syntax}
	}
	if in.e.watch[key[strings.LastIndexByte(key, '.')+1:]] {
		return callee{kind: ckWatch, key: key, recv: recv, syntax: syntax}
	}
	return callee{kind: ckFunc, key: key, recv: recv, syntax: syntax}
}

// call interprets a call expression and returns its results on each path.
func (in *interp) call(call *ast.CallExpr, st *state) []vals {
	c := in.resolve(call, st)
	switch c.kind {
	case ckBuiltin:
		return in.builtin(c.builtin, call, st)
	case ckConversion:
		var out []vals
		for _, a := range in.evalList(call.Args, st) {
			v := unknown(exprText(call))
			if len(a.vals) == 1 {
				v = a.vals[0]
				if class := classOf(in.e.info.TypeOf(call)); class != COther && v.Kind == KConst {
					if class == CMessageType && v.Class != CMessageType {
						// A number converted to the enum is in the
						// tree's numbering.
						v.Int = in.e.messageTypes().canonical(v.Int)
					}
					v.Class = class
				}
			}
			out = append(out, vals{a.st, []Value{v}})
		}
		return out
	case ckLit:
		return in.inline(ast.Unparen(call.Fun).(*ast.FuncLit), call, st)
	case ckValue:
		var out []vals
		for _, f := range in.eval(call.Fun, st) {
			for _, a := range in.evalList(call.Args, f.st) {
				out = append(out, in.callValue(f.v, call, a.vals, a.st)...)
			}
		}
		return out
	}
	recvs := []vs{{st, Value{}}}
	if c.recv != nil {
		recvs = in.eval(c.recv, st)
	}
	var out []vals
	for _, r := range recvs {
		for _, a := range in.evalList(call.Args, r.st) {
			out = append(out, in.invoke(c, call, r.v, a.vals, a.st)...)
		}
	}
	return out
}

func (in *interp) invoke(c callee, call *ast.CallExpr, recv Value, args []Value, st *state) []vals {
	switch c.kind {
	case ckSink:
		// A method found by name alone (another type's SendCommunityMessage)
		// counts only when it is handed a RawMessage.
		if c.syntax && (c.sink.MessageArg() >= len(args) || !in.isMessage(args[c.sink.MessageArg()], st)) {
			return []vals{{st, unknownResults(call, args, st)}}
		}
		return in.send(c.sink, call, args, st, c.syntax)
	case ckWatch:
		for _, a := range append([]Value{recv}, args...) {
			if a.Kind == KObj {
				if o := st.heap[a.Obj]; o != nil && o.typ == statusgo.RawMessageType {
					in.watchObj(o.id, st)
				}
			}
		}
		return []vals{{st, unknownResults(call, args, st)}}
	case ckFunc:
		if fd := in.e.declByKey(c.key); fd != nil {
			if arg := in.e.chatArg(fd); arg != noChat {
				// A function that sends as well keeps its effects: only
				// one that merely computes from the chat is replaced by
				// its per-kind results.
				if bc := in.e.chatSummary(fd, arg); len(bc) > 0 && (arg == receiverChat || len(in.e.summary(fd).Effects) == 0) {
					return in.applyChat(bc, call, argOf(arg, recv, args), args, st)
				}
			}
			return in.apply(in.e.summary(fd), call, recv, args, st)
		}
		in.e.loadImported()
		if s := in.e.imported[c.key]; s != nil {
			if len(s.ByChat) > 0 {
				return in.applyChat(s.ByChat, call, argOf(s.ChatArg-1, recv, args), args, st)
			}
			return in.apply(s, call, recv, args, st)
		}
	}
	return []vals{{st, unknownResults(call, args, st)}}
}

// callValue calls whatever a function value turned out to be.
func (in *interp) callValue(f Value, call *ast.CallExpr, args []Value, st *state) []vals {
	switch f.Kind {
	case KFunc:
		c := in.byKey(f.Func, nil, f.Syntax)
		return in.invoke(c, call, Value{}, args, st)
	case KParam:
		// A callback parameter: what it does is up to the caller.
		for i, a := range args {
			if in.isMessage(a, st) {
				snap, id := in.snapshot(a, st)
				eff := Effect{Msg: snap, Sink: Sink{Handler: f.Param + 1, Name: f.Text, Arg: i}, At: in.e.position(call.Pos())}
				in.record(eff, id, call.Pos(), st)
			}
		}
	default:
		for _, a := range args {
			if in.isMessage(a, st) {
				snap, id := in.snapshot(a, st)
				eff := Effect{Msg: snap, Sink: Sink{Unknown: "the function value " + exprText(call.Fun)}, At: in.e.position(call.Pos())}
				in.record(eff, id, call.Pos(), st)
			}
		}
	}
	return []vals{{st, unknownResults(call, args, st)}}
}

func (in *interp) isMessage(v Value, st *state) bool {
	if v.Kind != KObj {
		return false
	}
	o := st.heap[v.Obj]
	return o != nil && o.typ == statusgo.RawMessageType
}

func (in *interp) builtin(name string, call *ast.CallExpr, st *state) []vals {
	if name == "new" && len(call.Args) == 1 {
		typ := ""
		switch {
		case in.e.isType(in.fd, call.Args[0], statusgo.CommonPath, statusgo.RawMessageType):
			typ = statusgo.RawMessageType
		case in.e.isType(in.fd, call.Args[0], statusgo.ProtocolPath, statusgo.ChatType):
			typ = statusgo.ChatType
		}
		if typ != "" {
			o := in.newObject(st, typ, Value{}, call.Pos())
			o.zero = true
			return []vals{{st, []Value{{Kind: KObj, Obj: o.id, Ptr: true, Text: exprText(call)}}}}
		}
	}
	var out []vals
	for _, a := range in.evalList(call.Args, st) {
		out = append(out, vals{a.st, []Value{unknown(exprText(call))}})
	}
	return out
}

// unknownResults are the results of a call the audit does not follow. They
// remember the tracked arguments, so that a Payload encoded from a chat
// Message still tells the Message's content type.
func unknownResults(call *ast.CallExpr, args []Value, st *state) []Value {
	v := unknown(exprText(call))
	for _, a := range args {
		switch a.Kind {
		case KParam:
			v.Deps = append(v.Deps, a)
		case KObj:
			// Only a chat message can say what a payload carries.
			if o := st.heap[a.Obj]; o != nil && o.typ == "" {
				if _, ok := o.fields["ContentType"]; ok || o.base.Kind == KParam {
					v.Deps = append(v.Deps, a)
				}
			}
		}
	}
	return []Value{v, unknown(exprText(call) + "[1]"), unknown(exprText(call) + "[2]"), unknown(exprText(call) + "[3]")}
}

// inline interprets a function literal called in place, on the caller's
// path, so that the variables it captures keep their values.
func (in *interp) inline(lit *ast.FuncLit, call *ast.CallExpr, st *state) []vals {
	var out []vals
	for _, a := range in.evalList(call.Args, st) {
		if in.depth >= maxInline {
			out = append(out, vals{a.st, unknownResults(call, a.vals, a.st)})
			continue
		}
		params, _ := paramList(lit.Type)
		body := a.st.clone()
		for i, p := range params {
			if p != "" && p != "_" && i < len(a.vals) {
				body.env[p] = a.vals[i]
			}
		}
		sub := &interp{e: in.e, fd: in.fd, sum: in.sum, paramObjs: map[int]int{}, chat: in.chat, chatArg: in.chatArg, depth: in.depth + 1, ignored: in.ignored, recs: in.recs}
		live := sub.block(lit.Body.List, []*state{body})
		in.recs = sub.recs
		in.truncated = in.truncated || sub.truncated
		for _, s := range append(sub.ended, live...) {
			res := s.results
			s.dead, s.results = false, nil
			out = append(out, vals{s, res})
		}
	}
	return out
}

// send records a message reaching a send function and applies what the
// function does to the caller's message.
func (in *interp) send(sf statusgo.SendFunc, call *ast.CallExpr, args []Value, st *state, syntax bool) []vals {
	res := unknownResults(call, nil, st)
	idx := sf.MessageArg()
	if idx >= len(args) {
		return []vals{{st, res}}
	}
	m := args[idx]
	snap, id := in.snapshot(m, st)
	at := in.e.position(call.Pos())
	eff := Effect{Msg: snap, Sink: Sink{Func: sf, Name: sf.String()}, At: at, Syntax: syntax}
	in.record(eff, id, call.Pos(), st)
	if id < 0 {
		return []vals{{st, res}}
	}
	mark := Value{Kind: KUnknown, Root: senderMark, Text: "the identity key " + sf.String() + " left in Sender at " + shortPos(at)}
	if sf.ByPointer() && m.Ptr {
		o := st.heap[id]
		cur := o.field("Sender")
		switch sf.SenderEffect() {
		case statusgo.SenderAlwaysSet:
			o.fields["Sender"] = mark
		case statusgo.SenderSetWhenNil:
			if cur.Kind == KNil || cur.Kind == KParam {
				o.fields["Sender"] = mark
			}
		}
	}
	if sf == statusgo.DispatchMessage {
		// dispatchMessage returns its copy, which SendPrivate (in a
		// one-to-one chat) has given a Sender.
		c := in.copyObject(Value{Kind: KObj, Obj: id}, st)
		st.heap[c.Obj].fields["Sender"] = mark
		res[0] = c
	}
	return []vals{{st, res}}
}

func shortPos(pos string) string {
	if i := strings.LastIndexByte(pos, '/'); i >= 0 {
		return pos[i+1:]
	}
	return pos
}

// snapshot captures a message as it is now.
func (in *interp) snapshot(m Value, st *state) (Snapshot, int) {
	var snap Snapshot
	id := -1
	switch m.Kind {
	case KObj:
		o := st.heap[m.Obj]
		if o == nil {
			snap = Snapshot{Base: unknown(m.Text)}
			break
		}
		id = o.id
		snap = Snapshot{Fields: make(map[string]Value, len(o.fields)), Base: o.base, Zero: o.zero, Type: o.typ}
		for k, v := range o.fields {
			snap.Fields[k] = v
		}
		if o.origin != 0 {
			snap.Origin = in.e.position(token.Pos(o.origin))
		}
	case KParam:
		snap = Snapshot{Base: m, Type: statusgo.RawMessageType}
	default:
		snap = Snapshot{Base: unknown(m.Text), Type: statusgo.RawMessageType}
	}
	if snap.Fields == nil {
		snap.Fields = map[string]Value{}
	}
	if _, ok := snap.Fields["$content"]; !ok {
		if c, ok := in.contentOf(snap.field("Payload"), st); ok {
			snap.Fields["$content"] = c
		}
	}
	local := snap.field("LocalChatID")
	snap.Chat = in.chatOf(local, st)
	if local.Root != "" && snap.Chat == statusgo.ChatUnknown {
		snap.NotChats = st.notChats[local.Root]
	}
	return snap, id
}

// contentOf finds the content type a payload was encoded from.
func (in *interp) contentOf(payload Value, st *state) (Value, bool) {
	for _, d := range payload.Deps {
		switch d.Kind {
		case KObj:
			if o := st.heap[d.Obj]; o != nil {
				if c := o.field("ContentType"); c.Kind == KConst && c.Class == CContentType || c.Kind == KParam {
					return c, true
				}
			}
		case KParam:
			p := d
			p.Path += ".ContentType"
			p.Text += ".ContentType"
			return p, true
		}
	}
	return Value{}, false
}

// chatOf returns the kind of chat a LocalChatID names on this path, if an
// assumption made earlier on the path (or a Chat object) fixes it.
func (in *interp) chatOf(local Value, st *state) statusgo.ChatKind {
	if local.Root == "" {
		return statusgo.ChatUnknown
	}
	if k, ok := st.chats[local.Root]; ok {
		return k
	}
	if strings.HasPrefix(local.Root, "#") {
		id, err := strconv.Atoi(local.Root[1:])
		if err == nil {
			if o := st.heap[id]; o != nil && o.typ == statusgo.ChatType {
				if ct := o.field(statusgo.ChatTypeField); ct.Kind == KConst && ct.Class == CChatKind {
					return statusgo.ChatKind(ct.Int)
				}
			}
		}
	}
	return statusgo.ChatUnknown
}

// record notes a message reaching a sink under the call at pos.
func (in *interp) record(eff Effect, obj int, pos token.Pos, st *state) {
	eff.Conds = append(append([]string(nil), st.conds...), eff.Conds...)
	if st.iter == 2 {
		eff.Iter = 2
	}
	in.recs = append(in.recs, &effRec{eff: eff, obj: obj, trails: append([]string(nil), st.trails...), pos: pos, fn: in.fd.name})
}

// watchObj notes that a message was saved to raw_messages on this path: the
// sends recorded earlier on the same path can now be retried by the loop.
func (in *interp) watchObj(id int, st *state) {
	if o := st.heap[id]; o != nil {
		o.fields["$saved"] = boolean(true)
	}
	for _, r := range in.recs {
		if r.obj == id && leadsTo(r.trails, st.trails) {
			r.eff.Saved = true
		}
	}
}

func argOf(i int, recv Value, args []Value) Value {
	if i == -1 {
		return recv
	}
	if i >= 0 && i < len(args) {
		return args[i]
	}
	return unknown("argument " + strconv.Itoa(i))
}

// subst replaces what a summary left symbolic with the caller's values.
func (in *interp) subst(v Value, recv Value, args []Value, st *state) Value {
	if v.Kind != KParam {
		return v
	}
	a := argOf(v.Param, recv, args)
	path := strings.TrimPrefix(v.Path, ".")
	if path != "" {
		text := a.Text
		for _, f := range strings.Split(path, ".") {
			text += "." + f
			a = in.readField(a, f, text, st)
		}
	}
	a.Syntax = a.Syntax || v.Syntax
	return a
}

func prefixConds(name string, conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return "in " + name + ": " + strings.Join(conds, " && ")
}

// apply applies a callee's summary at a call.
func (in *interp) apply(sum *Summary, call *ast.CallExpr, recv Value, args []Value, st *state) []vals {
	name := in.e.display(sum)
	for _, eff := range sum.Effects {
		in.applyEffect(eff, name, call, recv, args, st, nil, nil)
	}
	if len(sum.Paths) == 0 {
		return []vals{{st, unknownResults(call, args, st)}}
	}
	var out []vals
	for i, p := range sum.Paths {
		c := st
		if len(sum.Paths) > 1 {
			c = st.fork(fmt.Sprintf("%dp%d", int(call.Pos()), i), prefixConds(name, p.Conds))
		}
		for param, fields := range p.Args {
			in.applyArg(param, fields, recv, args, c)
		}
		res := in.returnValues(p, recv, args, c)
		if len(res) == 0 {
			res = unknownResults(call, args, st)
		}
		out = append(out, vals{c, res})
	}
	return out
}

// applyArg replays what a callee left in the caller's *RawMessage.
func (in *interp) applyArg(param int, fields map[string]Value, recv Value, args []Value, st *state) {
	target := argOf(param, recv, args)
	if target.Kind != KObj {
		return
	}
	o := st.heap[target.Obj]
	if o == nil {
		return
	}
	for k, v := range fields {
		if k == "$saved" && v.isTrue() {
			in.watchObj(o.id, st)
			continue
		}
		o.fields[k] = in.subst(v, recv, args, st)
	}
}

func (in *interp) returnValues(r Path, recv Value, args []Value, st *state) []Value {
	out := make([]Value, len(r.Results))
	for i, v := range r.Results {
		if snap, ok := r.Objs[i]; ok {
			o := in.newObject(st, snap.Type, snap.Base, 0)
			o.zero = snap.Zero
			if o.base.Kind == KParam {
				o.base = unknown(v.Text)
			}
			for k, f := range snap.Fields {
				o.fields[k] = in.subst(f, recv, args, st)
			}
			out[i] = Value{Kind: KObj, Obj: o.id, Ptr: true, Text: v.Text}
			continue
		}
		out[i] = in.subst(v, recv, args, st)
	}
	return out
}

// applyEffect replays a message a callee sends, with the caller's values.
func (in *interp) applyEffect(eff Effect, name string, call *ast.CallExpr, recv Value, args []Value, st *state, outerVia, outerConds []string) {
	msg := eff.Msg
	snap := Snapshot{Fields: map[string]Value{}, Base: msg.Base, Zero: msg.Zero, Origin: msg.Origin, Chat: msg.Chat, NotChats: msg.NotChats, Type: msg.Type}
	id := -1
	if msg.Base.Kind == KParam && msg.Base.Path == "" {
		base, objID := in.snapshot(argOf(msg.Base.Param, recv, args), st)
		id = objID
		snap = base
		if snap.Chat == statusgo.ChatUnknown {
			snap.Chat = msg.Chat
			snap.NotChats |= msg.NotChats
		}
		if snap.Origin == "" {
			snap.Origin = msg.Origin
		}
	}
	for k, v := range msg.Fields {
		snap.Fields[k] = in.subst(v, recv, args, st)
	}
	ne := eff
	ne.Msg = snap
	ne.Via = append(append(append([]string(nil), outerVia...), name), eff.Via...)
	ne.Conds = append([]string(nil), outerConds...)
	for _, c := range eff.Conds {
		ne.Conds = append(ne.Conds, "in "+name+": "+c)
	}
	ne.Syntax = eff.Syntax || snap.field("MessageType").Syntax
	if ne.Sink.Handler != 0 {
		bound := argOf(ne.Sink.Handler-1, recv, args)
		switch bound.Kind {
		case KFunc:
			in.bind(bound, ne, id, call, st)
			return
		case KNil:
			// The callee only calls the callback on the path where it is
			// not nil (it substitutes a default otherwise).
			return
		case KParam:
			ne.Sink = Sink{Handler: bound.Param + 1, Name: bound.Text, Arg: ne.Sink.Arg}
		default:
			ne.Sink = Sink{Unknown: "the callback " + bound.String()}
		}
	}
	in.record(ne, id, call.Pos(), st)
}

// display names a summarised function as this package's reports print it.
func (e *engine) display(s *Summary) string {
	if s.Package != "" && s.Package != e.pass.Pkg.Name() {
		return s.Package + "." + s.Name
	}
	return s.Name
}

// bind hands a message that a callee passes to a callback to the function
// the caller bound the callback to.
func (in *interp) bind(fn Value, eff Effect, id int, call *ast.CallExpr, st *state) {
	c := in.byKey(fn.Func, nil, fn.Syntax)
	var s *Summary
	switch c.kind {
	case ckSink:
		eff.Sink = Sink{Func: c.sink, Name: c.sink.String()}
		eff.Syntax = eff.Syntax || fn.Syntax
		in.record(eff, id, call.Pos(), st)
		return
	case ckFunc:
		if fd := in.e.declByKey(c.key); fd != nil {
			s = in.e.summary(fd)
		} else {
			in.e.loadImported()
			s = in.e.imported[c.key]
		}
	}
	arg := eff.Sink.Arg
	if s != nil {
		tmp := st.clone()
		o := in.newObject(tmp, statusgo.RawMessageType, eff.Msg.Base, 0)
		o.zero = eff.Msg.Zero
		for k, v := range eff.Msg.Fields {
			o.fields[k] = v
		}
		args := make([]Value, arg+1)
		for i := range args {
			args[i] = unknown("argument")
		}
		args[arg] = Value{Kind: KObj, Obj: o.id, Text: "message"}
		found := false
		for _, e2 := range s.Effects {
			if e2.Msg.Base.Kind == KParam && e2.Msg.Base.Param == arg && e2.Msg.Base.Path == "" {
				found = true
				n := len(in.recs)
				in.applyEffect(e2, in.e.display(s), call, Value{}, args, tmp, eff.Via, eff.Conds)
				// The message is the caller's: saving it there counts.
				for _, r := range in.recs[n:] {
					r.obj = id
					if r.eff.Msg.Origin == "" {
						r.eff.Msg.Origin = eff.Msg.Origin
					}
				}
			}
		}
		if found {
			return
		}
		eff.Sink = Sink{Unknown: fn.Text + ", which sends it through no known send function"}
	} else {
		eff.Sink = Sink{Unknown: "the callback " + fn.Text}
	}
	in.record(eff, id, call.Pos(), st)
}

// applyChat applies a Chat method summarised per chat kind. When the
// receiver's kind is not known, the path forks once per kind, and the
// assumption is recorded so that a later dispatchMessage on the same chat
// agrees with it.
func (in *interp) applyChat(byChat map[statusgo.ChatKind][]Value, call *ast.CallExpr, recv Value, args []Value, st *state) []vals {
	// recv is the chat the results depend on: the receiver of a Chat
	// method, or a function's chat argument.
	kind := statusgo.ChatUnknown
	root := recv.Root
	if recv.Kind == KNil {
		// A method called on a nil chat panics: the path cannot happen.
		return nil
	}
	if recv.Kind == KObj {
		root = fmt.Sprintf("#%d", recv.Obj)
		if o := st.heap[recv.Obj]; o != nil {
			if ct := o.field(statusgo.ChatTypeField); ct.Kind == KConst && ct.Class == CChatKind && ct.Int != 0 {
				kind = statusgo.ChatKind(ct.Int)
			}
			// A variable whose fields were written keeps its name, so
			// that chat.ID read later still refers to the same chat.
			if o.base.Root != "" {
				root = o.base.Root
			}
		}
	}
	if root == "" {
		root = recv.Text
	}
	if k, ok := st.chats[root]; ok && kind == statusgo.ChatUnknown {
		kind = k
	}
	if recv.Kind == KParam && kind == statusgo.ChatUnknown && root == "" {
		root = recv.Root
	}
	annotate := func(vals []Value, k statusgo.ChatKind) []Value {
		out := make([]Value, len(vals))
		for i, v := range vals {
			v.Chat, v.ChatRoot = k, root
			v.Text = exprText(call)
			out[i] = v
		}
		return out
	}
	if kind != statusgo.ChatUnknown {
		if res, ok := byChat[kind]; ok {
			return []vals{{st, annotate(res, kind)}}
		}
		return []vals{{st, unknownResults(call, args, st)}}
	}
	var out []vals
	for _, k := range statusgo.DispatchableChatKinds() {
		res, ok := byChat[k]
		if !ok || st.excluded(root, k) {
			continue
		}
		c := st.fork(fmt.Sprintf("%dk%d", int(call.Pos()), k), fmt.Sprintf("%s is a %s chat", root, k))
		if root != "" {
			c.chats[root] = k
		}
		out = append(out, vals{c, annotate(res, k)})
	}
	if len(out) == 0 {
		return []vals{{st, unknownResults(call, args, st)}}
	}
	return out
}

// chatSummary interprets a Chat method, or a function of a chat argument
// (see chatArg), once per chat kind, with that chat's ChatType fixed, and
// keeps the kinds for which every path returns the same values.
func (e *engine) chatSummary(fd *fnDecl, arg int) map[statusgo.ChatKind][]Value {
	if bc, ok := e.byChat[fd]; ok {
		return bc
	}
	e.byChat[fd] = nil // recursion guard
	out := map[statusgo.ChatKind][]Value{}
	kinds := append(statusgo.DispatchableChatKinds(), statusgo.ChatTimeline)
	for _, k := range kinds {
		if fd.body == nil {
			break
		}
		in := newInterp(e, fd)
		in.chat, in.chatArg = k, arg
		in.ignored = true
		in.run(newState())
		var res []Value
		same := true
		for i, st := range in.ended {
			if i == 0 {
				res = st.results
				continue
			}
			if resultsKey(st.results) != resultsKey(res) {
				same = false
			}
		}
		if !same || len(in.ended) == 0 {
			continue
		}
		known := true
		for _, v := range res {
			if v.Kind != KConst {
				known = false
			}
		}
		if known {
			out[k] = exportValues(res)
		}
	}
	e.byChat[fd] = out
	return out
}

func resultsKey(vs []Value) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.key() + "|")
	}
	return b.String()
}
