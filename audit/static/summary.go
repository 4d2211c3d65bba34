package static

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/statusgo"
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
	// Exits are what the function leaves in *RawMessage parameters, one per
	// distinct outcome.
	Exits []Exit
	// Returns are the distinct results, when at least one is a constant or
	// an object the audit tracks.
	Returns []Return
	// ByChat holds, for a method of status-go's Chat, its results for each
	// chat kind (Chat.DefaultResendType is summarised this way).
	ByChat map[statusgo.ChatKind][]Value
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
	for _, p := range exitParams(s.Exits) {
		var fields []string
		saved := false
		seenField := map[string]bool{}
		for _, x := range s.Exits {
			if x.Param != p {
				continue
			}
			for f := range x.Fields {
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
	if len(s.Returns) > 0 {
		parts = append(parts, fmt.Sprintf("%d distinct results", len(s.Returns)))
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

func exitParams(xs []Exit) []int {
	var out []int
	seen := map[int]bool{}
	for _, x := range xs {
		if !seen[x.Param] {
			seen[x.Param] = true
			out = append(out, x.Param)
		}
	}
	sort.Ints(out)
	return out
}

// empty reports whether the summary says nothing a caller could use.
func (s *Summary) empty() bool {
	return len(s.Effects) == 0 && len(s.Exits) == 0 && len(s.Returns) == 0 && len(s.ByChat) == 0
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

// Exit is what a function leaves in a *RawMessage parameter.
type Exit struct {
	Param  int
	Fields map[string]Value
	Conds  []string
}

// Return is one distinct result of a function.
type Return struct {
	Values []Value
	// Objs holds the tracked objects among the results, by result index.
	Objs  map[int]Snapshot
	Conds []string
}

func (x Exit) key() string {
	keys := make([]string, 0, len(x.Fields))
	for k := range x.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d:", x.Param)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, x.Fields[k].key())
	}
	return b.String()
}

func (r Return) key() string {
	var b strings.Builder
	for i, v := range r.Values {
		if s, ok := r.Objs[i]; ok {
			keys := make([]string, 0, len(s.Fields))
			for k := range s.Fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteString("{")
			for _, k := range keys {
				fmt.Fprintf(&b, "%s=%s;", k, s.Fields[k].key())
			}
			b.WriteString("}")
			continue
		}
		b.WriteString(v.key() + "|")
	}
	return b.String()
}
