package static

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Kind is the kind of an abstract value.
type Kind uint8

// The abstract values the interpreter computes. They are exported (with
// exported fields) only because summaries travel between packages as
// gob-encoded analysis facts.
const (
	// KUnknown is a runtime value; Text is the source expression.
	KUnknown Kind = iota
	// KConst is a known constant of class Class with value Int.
	KConst
	// KNil is the nil pointer.
	KNil
	// KObj refers to an object of the current state's heap (a RawMessage,
	// a Chat, a chat Message ...). Ptr tells a pointer from a struct value.
	KObj
	// KFunc refers to a function (Func is its key) or to a function literal
	// of the current package (Lit).
	KFunc
	// KParam is parameter Param (-1 for the receiver) of the function being
	// summarised, followed by the field path Path.
	KParam
)

// Class is what a constant means.
type Class uint8

// Constant classes: the enums of status-go the audit reasons about.
const (
	COther Class = iota
	CBool
	CResendType
	CResendMethod
	CMessageType
	CContentType
	CChatKind
)

// Value is an abstract value.
type Value struct {
	Kind  Kind
	Text  string // source text, for messages
	Class Class
	Int   int64
	Obj   int
	Ptr   bool
	Func  string
	Lit   int // index of a function literal in the package, when Func is empty
	Param int
	Path  string
	// Root is the local variable (or "#<obj>") an unknown field read starts
	// from; Field its first field. They let a LocalChatID of "chat.ID" be
	// matched with the chat that chat.DefaultResendType() was asked about.
	Root, Field string
	// Chat and ChatRoot record that this value was computed under the
	// assumption that the chat ChatRoot is of kind Chat.
	Chat     statusgo.ChatKind
	ChatRoot string
	// Syntax: resolved by name because type information was missing.
	Syntax bool
	// Deps are the tracked arguments of the unknown call that produced this
	// value: a Payload encoded from a chat Message carries its content type.
	Deps []Value
}

// senderMark is the Root of the value a send function leaves in Sender.
const senderMark = "$send"

// nonNilMark is the Root of a value known not to be nil (an error after
// "if err != nil").
const nonNilMark = "$nonnil"

func unknown(text string) Value { return Value{Kind: KUnknown, Text: text} }

func constant(c Class, v int64, text string) Value {
	return Value{Kind: KConst, Class: c, Int: v, Text: text}
}

func boolean(b bool) Value {
	if b {
		return constant(CBool, 1, "true")
	}
	return constant(CBool, 0, "false")
}

// isTrue, isFalse report a known boolean.
func (v Value) isTrue() bool  { return v.Kind == KConst && v.Class == CBool && v.Int != 0 }
func (v Value) isFalse() bool { return v.Kind == KConst && v.Class == CBool && v.Int == 0 }

// symbolic reports whether v depends on the caller of the function being
// summarised.
func (v Value) symbolic() bool { return v.Kind == KParam }

// String describes v for messages and for deduplication.
func (v Value) String() string {
	switch v.Kind {
	case KConst:
		return constName(v)
	case KNil:
		return "nil"
	case KObj:
		return fmt.Sprintf("obj#%d", v.Obj)
	case KFunc:
		if v.Func != "" {
			return v.Func
		}
		return fmt.Sprintf("func literal #%d", v.Lit)
	case KParam:
		return fmt.Sprintf("param#%d%s", v.Param, v.Path)
	}
	if v.Text == "" {
		return "unknown"
	}
	return v.Text
}

// key identifies a value for state deduplication. It is on the hot path of
// path merging, hence no fmt.
func (v Value) key() string {
	switch v.Kind {
	case KConst:
		return "c" + strconv.Itoa(int(v.Class)) + ":" + strconv.FormatInt(v.Int, 10) + "/" + v.ChatRoot + strconv.Itoa(int(v.Chat))
	case KObj:
		if v.Ptr {
			return "p" + strconv.Itoa(v.Obj)
		}
		return "o" + strconv.Itoa(v.Obj)
	case KNil:
		return "nil"
	case KFunc:
		return "f" + v.Func + "#" + strconv.Itoa(v.Lit)
	case KParam:
		return "a" + strconv.Itoa(v.Param) + v.Path
	}
	// Runtime values are interchangeable for what happens next; only
	// their link to a chat variable and the messages they were encoded
	// from matter.
	k := "u" + v.Root + "." + v.Field
	for _, d := range v.Deps {
		k += "+" + d.key()
	}
	return k
}

// constName names a constant the way status-go's source spells it.
func constName(v Value) string {
	switch v.Class {
	case CBool:
		if v.Int != 0 {
			return "true"
		}
		return "false"
	case CResendType:
		return statusgo.ResendType(v.Int).String()
	case CResendMethod:
		return statusgo.ResendMethod(v.Int).String()
	case CMessageType:
		return statusgo.MessageType(v.Int).String()
	case CContentType:
		return statusgo.ContentType(v.Int).String()
	case CChatKind:
		return statusgo.ChatKind(v.Int).String()
	}
	if v.Text != "" {
		return v.Text
	}
	return fmt.Sprint(v.Int)
}

// object is a struct the interpreter tracks field by field.
type object struct {
	id     int
	typ    string // statusgo.RawMessageType, statusgo.ChatType, or "" for others
	fields map[string]Value
	// base gives the fields not in fields: a zero value for a literal, a
	// KParam for a parameter, a KUnknown for anything else.
	base   Value
	zero   bool
	origin int // position (token.Pos) of the literal, 0 if none
}

func (o *object) clone() *object {
	c := *o
	c.fields = make(map[string]Value, len(o.fields))
	for k, v := range o.fields {
		c.fields[k] = v
	}
	return &c
}

// field reads a field, falling back on the base.
func (o *object) field(name string) Value {
	if v, ok := o.fields[name]; ok {
		return v
	}
	if o.zero {
		return zeroField(o.typ, name)
	}
	switch o.base.Kind {
	case KParam:
		b := o.base
		b.Path += "." + name
		b.Text = strings.TrimPrefix(b.Text+"."+name, ".")
		return b
	case KUnknown:
		u := unknown(o.base.Text + "." + name)
		u.Root, u.Field = o.base.Root, name
		if u.Root == "" {
			u.Root = fmt.Sprintf("#%d", o.id)
		}
		return u
	}
	return unknown(name)
}

// zeroField is the value of an unset field of a composite literal.
func zeroField(typ, name string) Value {
	if typ == statusgo.RawMessageType {
		switch name {
		case "ResendType":
			return constant(CResendType, 0, "")
		case "ResendMethod":
			return constant(CResendMethod, 0, "")
		case "MessageType":
			return constant(CMessageType, 0, "")
		case "Sender":
			return Value{Kind: KNil, Text: "nil"}
		case autoField, "SendOnPersonalTopic", "SkipGroupMessageWrap":
			return boolean(false)
		}
		if skipFields[name] {
			return boolean(false)
		}
	}
	if typ == statusgo.ChatType && name == statusgo.ChatTypeField {
		return constant(CChatKind, 0, "")
	}
	return unknown("zero " + name)
}

// state is one path through a function body.
type state struct {
	env  map[string]Value
	heap map[int]*object
	// conds are the conditions taken to reach this point, as source text.
	conds []string
	// trails identify the path: forks extend them, so the trail of every
	// earlier point on a path is a prefix of one of its trails. A merged
	// path keeps the trails of every path it merged.
	trails []string
	// chats records assumptions about chat kinds by root variable.
	chats map[string]statusgo.ChatKind
	// notChats records, by root variable, the chat kinds a condition on
	// the path ruled out (bit 1<<kind).
	notChats map[string]uint8
	// iter is 2 on a later iteration of an enclosing loop.
	iter int
	dead bool
	// jump is "break" or "continue" while the path leaves a loop body.
	jump string
	// results holds the values of the return statement that ended the path.
	results []Value
}

func newState() *state {
	return &state{env: map[string]Value{}, heap: map[int]*object{}, chats: map[string]statusgo.ChatKind{}, trails: []string{""}}
}

func (s *state) clone() *state {
	c := &state{
		env:    make(map[string]Value, len(s.env)),
		heap:   make(map[int]*object, len(s.heap)),
		conds:  append([]string(nil), s.conds...),
		trails: append([]string(nil), s.trails...),
		chats:  make(map[string]statusgo.ChatKind, len(s.chats)),
		iter:   s.iter,
		dead:   s.dead,
		jump:   s.jump,
	}
	for k, v := range s.env {
		c.env[k] = v
	}
	for k, o := range s.heap {
		c.heap[k] = o.clone()
	}
	for k, v := range s.chats {
		c.chats[k] = v
	}
	if len(s.notChats) > 0 {
		c.notChats = make(map[string]uint8, len(s.notChats))
		for k, v := range s.notChats {
			c.notChats[k] = v
		}
	}
	c.results = append([]Value(nil), s.results...)
	return c
}

// fork returns a copy of s on a new branch named by branch.
func (s *state) fork(branch string, cond string) *state {
	c := s.clone()
	for i := range c.trails {
		c.trails[i] += "/" + branch
	}
	if cond != "" {
		c.conds = append(c.conds, cond)
	}
	return c
}

// signatureNoIter is signature without the loop iteration mark, to compare
// a loop body's output with its input.
func (s *state) signatureNoIter() string {
	return s.sig(nil)
}

// sig writes the state canonically: objects are numbered in the order they
// are reached from the variables (then the given roots), not by their heap
// ids, so that two paths that built equal objects separately still merge.
func (s *state) sig(roots []int) string {
	var b strings.Builder
	canon := map[int]int{}
	var pending []int
	key := func(v Value) string {
		if v.Kind != KObj {
			// Deps are left out: they only carry a content type into a
			// payload, and paths that differ in them alone are merged.
			d := v
			d.Deps = nil
			return d.key()
		}
		id, ok := canon[v.Obj]
		if !ok {
			id = len(canon)
			canon[v.Obj] = id
			pending = append(pending, v.Obj)
		}
		if v.Ptr {
			return "p" + strconv.Itoa(id)
		}
		return "o" + strconv.Itoa(id)
	}
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(key(s.env[k]))
		b.WriteByte(';')
	}
	for _, id := range roots {
		b.WriteString("root=")
		b.WriteString(key(Value{Kind: KObj, Obj: id}))
		b.WriteByte(';')
	}
	var fk []string
	for i := 0; i < len(pending); i++ {
		o := s.heap[pending[i]]
		b.WriteString("#")
		b.WriteString(strconv.Itoa(canon[pending[i]]))
		if o == nil {
			b.WriteString("{gone}")
			continue
		}
		fk = fk[:0]
		for k := range o.fields {
			fk = append(fk, k)
		}
		sort.Strings(fk)
		b.WriteString("{")
		b.WriteString(o.base.key())
		for _, k := range fk {
			b.WriteString(k)
			b.WriteByte(':')
			b.WriteString(key(o.fields[k]))
			b.WriteByte(',')
		}
		b.WriteByte('}')
	}
	writeSorted(&b, "chat ", s.chats)
	writeSorted(&b, "notchat ", s.notChats)
	if s.dead {
		b.WriteString("dead;")
	}
	b.WriteString(s.jump)
	return b.String()
}

// writeSorted writes a map of chat assumptions in key order.
func writeSorted[V statusgo.ChatKind | uint8](b *strings.Builder, prefix string, m map[string]V) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(prefix)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(m[k])))
		b.WriteByte(';')
	}
}

// leadsTo reports whether a point with trails from lies on a path with
// trails to.
func leadsTo(from, to []string) bool {
	for _, a := range from {
		for _, b := range to {
			if a == b || strings.HasPrefix(b, a+"/") || a == "" {
				return true
			}
		}
	}
	return false
}
