package static

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Summary is what the audit learns about one function from its body: the
// messages it sends (or hands to a callback), what it leaves behind in a
// *RawMessage it was given, and the constants it returns. Summaries of
// exported functions are exported as analysis facts, so that a forwarder in
// one package is understood where another package calls it.
type Summary struct {
	// Name is the function as reports print it, such as
	// "Messenger.SendMessageToControlNode".
	Name string
	// Package is the name of the declaring package; callers in other
	// packages print the function as Package.Name.
	Package string
	// Effects are messages that reach a send function, a callback parameter
	// or an unknown function value, with whatever still depends on the
	// caller left symbolic.
	Effects []Effect
	// Paths are the function's distinct ways of returning: what each leaves
	// in the caller's *RawMessage arguments and what it returns. They are
	// recorded only when some path changes an argument or returns a value
	// the audit tracks; a nil error is tracked then, so that a caller's
	// "if err != nil { return }" drops the failing paths.
	Paths []Path
	// ByChat holds, for a method of status-go's Chat, its results for each
	// chat kind (Chat.DefaultResendType is summarised this way).
	ByChat map[statusgo.ChatKind][]Value
	// ChatArg says which chat ByChat is about: 0 the receiver, i+1 the
	// i-th parameter.
	ChatArg int
}

// AFact marks Summary as an analysis fact.
func (*Summary) AFact() {}

func (s *Summary) String() string {
	var parts []string
	var sinks []string
	seen := map[string]bool{}
	for _, e := range s.Effects {
		if name := e.Sink.String(); !seen[name] {
			seen[name] = true
			sinks = append(sinks, name)
		}
	}
	if len(sinks) > 0 {
		parts = append(parts, "sends via "+strings.Join(sinks, ", "))
	}
	for _, p := range pathParams(s.Paths) {
		var fields []string
		saved := false
		seenField := map[string]bool{}
		for _, path := range s.Paths {
			for f := range path.Args[p] {
				if f == "$saved" {
					saved = true
					continue
				}
				if !seenField[f] {
					seenField[f] = true
					fields = append(fields, f)
				}
			}
		}
		sort.Strings(fields)
		if len(fields) > 0 {
			parts = append(parts, fmt.Sprintf("sets %s of argument %d", strings.Join(fields, ", "), p))
		}
		if saved {
			parts = append(parts, fmt.Sprintf("saves argument %d for the resend loop", p))
		}
	}
	if len(s.Paths) > 1 {
		parts = append(parts, fmt.Sprintf("%d paths", len(s.Paths)))
	}
	if len(s.ByChat) > 0 {
		kinds := make([]int, 0, len(s.ByChat))
		for k := range s.ByChat {
			kinds = append(kinds, int(k))
		}
		sort.Ints(kinds)
		var rs []string
		for _, k := range kinds {
			var vs []string
			for _, v := range s.ByChat[statusgo.ChatKind(k)] {
				vs = append(vs, constName(v))
			}
			rs = append(rs, statusgo.ChatKind(k).String()+"="+strings.Join(vs, ","))
		}
		parts = append(parts, "returns by chat kind "+strings.Join(rs, " "))
	}
	return strings.Join(parts, "; ")
}

func pathParams(ps []Path) []int {
	var out []int
	seen := map[int]bool{}
	for _, p := range ps {
		for i := range p.Args {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	sort.Ints(out)
	return out
}

// empty reports whether the summary says nothing a caller could use.
func (s *Summary) empty() bool {
	return len(s.Effects) == 0 && len(s.Paths) == 0 && len(s.ByChat) == 0
}

// Sink is where a message goes.
type Sink struct {
	// Func is a status-go send function.
	Func statusgo.SendFunc
	// Handler is 1 + the index of the callback parameter the message is
	// handed to, or 0.
	Handler int
	// Unknown describes a function value the audit could not follow.
	Unknown string
	// Name is the callee as written, for messages.
	Name string
	// Arg is the index of the message among the callback's arguments.
	Arg int
}

func (k Sink) String() string {
	switch {
	case k.Func != 0:
		return k.Func.String()
	case k.Handler != 0:
		return k.Name
	case k.Unknown != "":
		return k.Unknown
	}
	return "?"
}

// concrete reports whether the caller cannot change where the message goes.
func (k Sink) concrete() bool { return k.Handler == 0 }

// Snapshot is a RawMessage as it is when it reaches a sink.
type Snapshot struct {
	// Fields holds the fields known to differ from Base.
	Fields map[string]Value
	// Base gives the other fields: the zero value (Zero), the caller's
	// message (a KParam), or an unknown message.
	Base Value
	Zero bool
	// Origin is where the message was built, "file:line:col", if known.
	Origin string
	// Chat is the kind of chat the message is sent in on this path, when a
	// condition or Chat.DefaultResendType fixed it.
	Chat statusgo.ChatKind
	// NotChats are the chat kinds a condition on the path ruled out for
	// that chat (bit 1<<kind).
	NotChats uint8
	// Type is the tracked struct type (statusgo.RawMessageType, ...).
	Type string
}

func (s Snapshot) field(name string) Value {
	if v, ok := s.Fields[name]; ok {
		return v
	}
	o := &object{typ: statusgo.RawMessageType, base: s.Base, zero: s.Zero}
	return o.field(name)
}

// Effect is one message reaching one sink.
type Effect struct {
	Msg  Snapshot
	Sink Sink
	// Conds are the conditions on the path to the send, as source text.
	Conds []string
	// Via lists the functions the message passed through, outermost first.
	Via []string
	// Iter is 2 when the send happens on a later iteration of a loop.
	Iter int
	// Refine: the message is a CHAT_MESSAGE whose content type comes from
	// the caller; a caller that knows it may find a more specific flow.
	Refine bool
	// Saved: the function saves the message to raw_messages after sending.
	Saved bool
	// Syntax: some part was resolved by name, without type information.
	Syntax bool
	// At is where the send call is, "file:line:col".
	At string
}

// Path is one way a function returns.
type Path struct {
	Conds []string
	// Args holds, by parameter index, the fields the path set on the
	// caller's *RawMessage argument ("$saved" when it saved it).
	Args map[int]map[string]Value
	// Results are the returned values; tracked objects are in Objs.
	Results []Value
	Objs    map[int]Snapshot
}

func (p Path) key() string {
	var b strings.Builder
	params := make([]int, 0, len(p.Args))
	for i := range p.Args {
		params = append(params, i)
	}
	sort.Ints(params)
	for _, i := range params {
		fmt.Fprintf(&b, "%d{", i)
		writeFields(&b, p.Args[i])
		b.WriteString("}")
	}
	b.WriteString("->")
	for i, v := range p.Results {
		if s, ok := p.Objs[i]; ok {
			b.WriteString("{")
			writeFields(&b, s.Fields)
			b.WriteString("}")
			continue
		}
		b.WriteString(v.key() + "|")
	}
	return b.String()
}

func writeFields(b *strings.Builder, m map[string]Value) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s=%s;", k, m[k].key())
	}
}
