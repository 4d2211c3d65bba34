package static

import (
	"bytes"
	"encoding/gob"
	"sort"

	"github.com/mvdsguard/mvdsguard/statusgo"
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

type wireArg struct {
	Param  int
	Fields []wireField
}

type wireObj struct {
	Index int
	Snap  wireSnapshot
}

type wirePath struct {
	Conds   []string
	Args    []wireArg
	Results []Value
	Objs    []wireObj
}

type wireChat struct {
	Kind   statusgo.ChatKind
	Values []Value
}

type wireSummary struct {
	Name    string
	Package string
	Effects []wireEffect
	Paths   []wirePath
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
	for _, p := range s.Paths {
		wp := wirePath{Conds: p.Conds, Results: p.Results}
		for i, fields := range p.Args {
			wp.Args = append(wp.Args, wireArg{Param: i, Fields: fieldsToWire(fields)})
		}
		sort.Slice(wp.Args, func(i, j int) bool { return wp.Args[i].Param < wp.Args[j].Param })
		for i, snap := range p.Objs {
			wp.Objs = append(wp.Objs, wireObj{Index: i, Snap: snapToWire(snap)})
		}
		sort.Slice(wp.Objs, func(i, j int) bool { return wp.Objs[i].Index < wp.Objs[j].Index })
		w.Paths = append(w.Paths, wp)
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
	for _, wp := range w.Paths {
		p := Path{Conds: wp.Conds, Results: wp.Results}
		for _, a := range wp.Args {
			if p.Args == nil {
				p.Args = map[int]map[string]Value{}
			}
			p.Args[a.Param] = fieldsFromWire(a.Fields)
		}
		for _, o := range wp.Objs {
			if p.Objs == nil {
				p.Objs = map[int]Snapshot{}
			}
			p.Objs[o.Index] = snapFromWire(o.Snap)
		}
		s.Paths = append(s.Paths, p)
	}
	for _, c := range w.ByChat {
		if s.ByChat == nil {
			s.ByChat = map[statusgo.ChatKind][]Value{}
		}
		s.ByChat[c.Kind] = c.Values
	}
	return nil
}
