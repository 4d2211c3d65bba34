package static

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// finish turns what the interpretation found into the function's summary
// and its send sites. Sends whose destination or decisive fields depend on
// the caller become summary effects; the rest become sites here.
func (in *interp) finish(ended, live []*state) {
	if in.truncated {
		in.e.truncated[in.fd.name] = true
	}
	in.paths(ended, live)
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
	for _, f := range []string{"ResendType", autoField} {
		if rt := s.field(f); rt.symbolic() && rt.Path == "" {
			return true
		}
	}
	return false
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
	fmt.Fprintf(&b, "%v|%s|%d|%d|", e.Saved, e.Msg.Base.key(), e.Msg.Chat, e.Msg.NotChats)
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

// paths records the function's distinct ways of returning, when a caller
// can learn something from them: a change to its *RawMessage argument, or
// a tracked result.
func (in *interp) paths(ended, live []*state) {
	params := make([]int, 0, len(in.paramObjs))
	for p := range in.paramObjs {
		params = append(params, p)
	}
	sort.Ints(params)
	var paths []Path
	index := map[string]int{}
	useful := false
	add := func(st *state, returned bool) {
		path := Path{Conds: append([]string(nil), st.conds...)}
		for _, p := range params {
			o := st.heap[in.paramObjs[p]]
			if o == nil {
				continue
			}
			fields := exportFields(o.fields)
			delete(fields, "$content")
			if len(fields) == 0 {
				continue
			}
			if path.Args == nil {
				path.Args = map[int]map[string]Value{}
			}
			path.Args[p] = fields
			useful = true
		}
		if returned {
			for i, v := range st.results {
				if v.Kind == KObj {
					if o := st.heap[v.Obj]; o != nil && o.base.Kind == KParam && o.base.Path == "" {
						// The caller's own object, handed back.
						path.Results = append(path.Results, exportValue(o.base))
						continue
					}
					if o := st.heap[v.Obj]; o != nil && (o.typ != "" || len(o.fields) > 0) {
						if path.Objs == nil {
							path.Objs = map[int]Snapshot{}
						}
						path.Objs[i] = Snapshot{Fields: exportFields(o.fields), Base: exportValue(o.base), Zero: o.zero, Type: o.typ}
						path.Results = append(path.Results, Value{Kind: KObj, Text: v.Text})
						useful = true
						continue
					}
				}
				if v.Kind == KConst && v.Class != COther || v.Kind == KFunc {
					useful = true
				}
				path.Results = append(path.Results, exportValue(v))
			}
		}
		k := path.key()
		if i, ok := index[k]; ok {
			paths[i].Conds = commonPrefix(paths[i].Conds, path.Conds)
			return
		}
		index[k] = len(paths)
		paths = append(paths, path)
	}
	for _, st := range ended {
		add(st, true)
	}
	for _, st := range live {
		add(st, false)
	}
	if !useful {
		return
	}
	if len(paths) == 1 {
		paths[0].Conds = nil
	}
	in.sum.Paths = paths
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
