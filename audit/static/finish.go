package static

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/statusgo"
)

// finish turns what the interpretation found into the function's summary
// and its send sites. Sends whose destination or decisive fields depend on
// the caller become summary effects; the rest become sites here.
func (in *interp) finish(all []*state) {
	in.exits(all)
	in.returns()
	for _, r := range in.recs {
		if in.ignored {
			continue
		}
		eff := r.eff
		if !eff.Sink.concrete() || symbolicMsg(eff.Msg) {
			in.lift(eff)
			continue
		}
		if eff.Refine && eff.Msg.field("$content").Kind == KParam {
			in.lift(eff)
			continue
		}
		in.e.sites.add(in.e, r)
		if !eff.Refine && eff.Msg.field("MessageType").Int == int64(statusgo.ChatMessage) && eff.Msg.field("$content").Kind == KParam {
			// The content type comes from the caller: a caller that
			// builds a contact request gets its own site.
			refine := eff
			refine.Refine = true
			in.lift(refine)
		}
	}
}

// symbolicMsg reports whether the caller decides what the message is: it
// is the caller's own message, its type comes from the caller, or the
// caller passes the ResendType itself. Other fields read from parameters
// (a community's key as Sender) are runtime values judged here.
func symbolicMsg(s Snapshot) bool {
	if s.Base.Kind == KParam {
		return true
	}
	if s.field("MessageType").symbolic() {
		return true
	}
	rt := s.field("ResendType")
	return rt.symbolic() && rt.Path == ""
}

func (in *interp) lift(eff Effect) {
	eff = exportEffect(eff)
	key := effectKey(eff)
	for _, e := range in.sum.Effects {
		if effectKey(e) == key {
			return
		}
	}
	in.sum.Effects = append(in.sum.Effects, eff)
}

func effectKey(e Effect) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d|%d|%v|%v|%s|%s|%s|", e.Sink, e.Sink.Handler, e.Sink.Arg, e.Iter, e.Refine, strings.Join(e.Conds, "&&"), strings.Join(e.Via, ">"), e.At)
	fmt.Fprintf(&b, "%v|%s|", e.Saved, e.Msg.Base.key())
	keys := make([]string, 0, len(e.Msg.Fields))
	for k := range e.Msg.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, e.Msg.Fields[k].key())
	}
	return b.String()
}

// exits records what each *RawMessage parameter holds when the function
// returns, one entry per distinct outcome.
func (in *interp) exits(all []*state) {
	params := make([]int, 0, len(in.paramObjs))
	for p := range in.paramObjs {
		params = append(params, p)
	}
	sort.Ints(params)
	for _, p := range params {
		id := in.paramObjs[p]
		var exits []Exit
		index := map[string]int{}
		changed := false
		for _, st := range all {
			o := st.heap[id]
			if o == nil {
				continue
			}
			x := Exit{Param: p, Fields: exportFields(o.fields), Conds: append([]string(nil), st.conds...)}
			delete(x.Fields, "$content")
			if len(x.Fields) > 0 {
				changed = true
			}
			k := x.key()
			if i, ok := index[k]; ok {
				exits[i].Conds = commonPrefix(exits[i].Conds, x.Conds)
				continue
			}
			index[k] = len(exits)
			exits = append(exits, x)
		}
		if !changed {
			continue
		}
		if len(exits) == 1 {
			exits[0].Conds = nil
		}
		in.sum.Exits = append(in.sum.Exits, exits...)
	}
}

// returns records the function's distinct results when one of them is a
// constant the audit reasons about or a tracked object.
func (in *interp) returns() {
	var rets []Return
	index := map[string]int{}
	useful := false
	for _, st := range in.ended {
		r := Return{Conds: append([]string(nil), st.conds...)}
		for i, v := range st.results {
			if v.Kind == KObj {
				if o := st.heap[v.Obj]; o != nil && o.base.Kind == KParam && o.base.Path == "" {
					// The caller's own object, handed back.
					r.Values = append(r.Values, exportValue(o.base))
					continue
				}
				if o := st.heap[v.Obj]; o != nil && (o.typ != "" || len(o.fields) > 0) {
					if r.Objs == nil {
						r.Objs = map[int]Snapshot{}
					}
					r.Objs[i] = Snapshot{Fields: exportFields(o.fields), Base: exportValue(o.base), Zero: o.zero, Type: o.typ}
					r.Values = append(r.Values, Value{Kind: KObj, Text: v.Text})
					useful = true
					continue
				}
			}
			if v.Kind == KConst && v.Class != COther || v.Kind == KFunc {
				useful = true
			}
			r.Values = append(r.Values, exportValue(v))
		}
		k := r.key()
		if i, ok := index[k]; ok {
			rets[i].Conds = commonPrefix(rets[i].Conds, r.Conds)
			continue
		}
		index[k] = len(rets)
		rets = append(rets, r)
	}
	if !useful {
		return
	}
	if len(rets) == 1 {
		rets[0].Conds = nil
	}
	in.sum.Returns = rets
}

// exportValue strips what only makes sense inside one interpretation.
func exportValue(v Value) Value {
	v.Deps = nil
	if v.Kind == KObj {
		return unknown(v.Text)
	}
	return v
}

func exportValues(vs []Value) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = exportValue(v)
	}
	return out
}

func exportFields(m map[string]Value) map[string]Value {
	out := make(map[string]Value, len(m))
	for k, v := range m {
		out[k] = exportValue(v)
	}
	return out
}

func exportEffect(e Effect) Effect {
	e.Msg.Fields = exportFields(e.Msg.Fields)
	e.Msg.Base = exportValue(e.Msg.Base)
	e.Conds = append([]string(nil), e.Conds...)
	e.Via = append([]string(nil), e.Via...)
	return e
}
