package static

import (
	"bytes"
	"encoding/gob"
	"sort"

	"github.com/mvdsguard/mvdsguard/audit/statusgo"
)

// Facts must encode deterministically (go vet compares and caches them), and
// gob writes maps in random order. Summaries therefore travel as the wire
// form below, with every map turned into a sorted list.

type wireField struct {
	Name  string
	Value Value
}

type wireSnapshot struct {
	Fields []wireField
	Base   Value
	Zero   bool
	Origin string
	Chat   statusgo.ChatKind
	Type   string
}

type wireEffect struct {
	Msg    wireSnapshot
	Sink   Sink
	Conds  []string
	Via    []string
	Iter   int
	Refine bool
	Saved  bool
	Syntax bool
	At     string
}

type wireExit struct {
	Param  int
	Fields []wireField
	Conds  []string
}

type wireObj struct {
	Index int
	Snap  wireSnapshot
}

type wireReturn struct {
	Values []Value
	Objs   []wireObj
	Conds  []string
}

type wireChat struct {
	Kind   statusgo.ChatKind
	Values []Value
}

type wireSummary struct {
	Name    string
	Package string
	Effects []wireEffect
	Exits   []wireExit
	Returns []wireReturn
	ByChat  []wireChat
}

func fieldsToWire(m map[string]Value) []wireField {
	out := make([]wireField, 0, len(m))
	for k, v := range m {
		out = append(out, wireField{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func fieldsFromWire(ws []wireField) map[string]Value {
	out := make(map[string]Value, len(ws))
	for _, w := range ws {
		out[w.Name] = w.Value
	}
	return out
}

func snapToWire(s Snapshot) wireSnapshot {
	return wireSnapshot{Fields: fieldsToWire(s.Fields), Base: s.Base, Zero: s.Zero, Origin: s.Origin, Chat: s.Chat, Type: s.Type}
}

func snapFromWire(w wireSnapshot) Snapshot {
	return Snapshot{Fields: fieldsFromWire(w.Fields), Base: w.Base, Zero: w.Zero, Origin: w.Origin, Chat: w.Chat, Type: w.Type}
}

// GobEncode implements gob.GobEncoder with a deterministic encoding.
func (s *Summary) GobEncode() ([]byte, error) {
	w := wireSummary{Name: s.Name, Package: s.Package}
	for _, e := range s.Effects {
		w.Effects = append(w.Effects, wireEffect{Msg: snapToWire(e.Msg), Sink: e.Sink, Conds: e.Conds, Via: e.Via,
			Iter: e.Iter, Refine: e.Refine, Saved: e.Saved, Syntax: e.Syntax, At: e.At})
	}
	for _, x := range s.Exits {
		w.Exits = append(w.Exits, wireExit{Param: x.Param, Fields: fieldsToWire(x.Fields), Conds: x.Conds})
	}
	for _, r := range s.Returns {
		wr := wireReturn{Values: r.Values, Conds: r.Conds}
		for i, snap := range r.Objs {
			wr.Objs = append(wr.Objs, wireObj{Index: i, Snap: snapToWire(snap)})
		}
		sort.Slice(wr.Objs, func(i, j int) bool { return wr.Objs[i].Index < wr.Objs[j].Index })
		w.Returns = append(w.Returns, wr)
	}
	for k, vs := range s.ByChat {
		w.ByChat = append(w.ByChat, wireChat{Kind: k, Values: vs})
	}
	sort.Slice(w.ByChat, func(i, j int) bool { return w.ByChat[i].Kind < w.ByChat[j].Kind })
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(w); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GobDecode implements gob.GobDecoder.
func (s *Summary) GobDecode(data []byte) error {
	var w wireSummary
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&w); err != nil {
		return err
	}
	*s = Summary{Name: w.Name, Package: w.Package}
	for _, e := range w.Effects {
		s.Effects = append(s.Effects, Effect{Msg: snapFromWire(e.Msg), Sink: e.Sink, Conds: e.Conds, Via: e.Via,
			Iter: e.Iter, Refine: e.Refine, Saved: e.Saved, Syntax: e.Syntax, At: e.At})
	}
	for _, x := range w.Exits {
		s.Exits = append(s.Exits, Exit{Param: x.Param, Fields: fieldsFromWire(x.Fields), Conds: x.Conds})
	}
	for _, r := range w.Returns {
		ret := Return{Values: r.Values, Conds: r.Conds}
		for _, o := range r.Objs {
			if ret.Objs == nil {
				ret.Objs = map[int]Snapshot{}
			}
			ret.Objs[o.Index] = snapFromWire(o.Snap)
		}
		s.Returns = append(s.Returns, ret)
	}
	for _, c := range w.ByChat {
		if s.ByChat == nil {
			s.ByChat = map[statusgo.ChatKind][]Value{}
		}
		s.ByChat[c.Kind] = c.Values
	}
	return nil
}
