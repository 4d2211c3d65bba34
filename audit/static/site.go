package static

import (
	"fmt"
	"go/token"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// Verdicts of a send site.
const (
	VerdictMVDS        = "mvds"
	VerdictNotMVDS     = "not_mvds"
	VerdictConditional = "conditional"
	VerdictBroken      = "broken"
	VerdictUnresolved  = "unresolved"
)

// Site is one place where a critical message is sent: a send call, or a call
// that hands the message to a function that sends it.
type Site struct {
	Pos token.Pos `json:"-"`
	// Position is "file:line:col"; drivers may rewrite it relative to a
	// root directory.
	Position string `json:"pos"`
	Function string `json:"function"`
	Flow     string `json:"flow"`
	// MessageType is the proto name, such as "ACCEPT_CONTACT_REQUEST".
	MessageType string `json:"messageType"`
	// SendCall is the chain from the call to the send function, such as
	// "Messenger.SendMessageToControlNode → MessageSender.SendPrivate".
	SendCall string `json:"sendCall"`
	// ResendType is the resolved ResendType (or several, separated by " | ").
	ResendType string `json:"resendType"`
	// ResendSource is the expression the ResendType came from.
	ResendSource string `json:"resendSource,omitempty"`
	Verdict      string `json:"verdict"`
	// Mechanism is the fail path of a not_mvds site: "raw_resend" or "none".
	Mechanism string `json:"mechanism,omitempty"`
	// Condition names the runtime value a conditional verdict depends on.
	Condition string    `json:"condition,omitempty"`
	Outcomes  []Outcome `json:"outcomes"`
	// Origin is where the RawMessage was built, when that is elsewhere.
	Origin string `json:"origin,omitempty"`
	// Resolution is "types", or "syntax" when the site was judged from
	// names because type information was missing.
	Resolution string   `json:"resolution"`
	Notes      []string `json:"notes,omitempty"`
}

// Outcome is one way a site's message can fare, with the conditions under
// which it does.
type Outcome struct {
	Verdict     string `json:"verdict"`
	Mechanism   string `json:"mechanism"`
	MaxAttempts int    `json:"maxAttempts,omitempty"`
	When        string `json:"when,omitempty"`
	ResendType  string `json:"resendType,omitempty"`
	SendCall    string `json:"sendCall"`
	Reason      string `json:"reason"`
	// Reused: broken because an earlier send left Sender set.
	Reused bool `json:"reused,omitempty"`
}

// laterIteration marks outcomes of sends on a loop's second pass.
const laterIteration = "on a later iteration of the loop"

type siteKey struct {
	pos  token.Pos
	flow mvdsguard.Flow
	mt   string
}

type siteAcc struct {
	key      siteKey
	fn       string
	outcomes []Outcome
	origin   string
	syntax   bool
	sources  []string
	notes    []string
}

type siteSet struct {
	order []siteKey
	m     map[siteKey]*siteAcc
}

func newSiteSet() *siteSet { return &siteSet{m: map[siteKey]*siteAcc{}} }

func (s *siteSet) acc(k siteKey, fn string) *siteAcc {
	a, ok := s.m[k]
	if !ok {
		a = &siteAcc{key: k, fn: fn}
		s.m[k] = a
		s.order = append(s.order, k)
	}
	return a
}

// add judges one send and adds its outcomes to the site(s) it belongs to:
// one per critical flow it can be in.
func (s *siteSet) add(e *engine, r *effRec) {
	eff := r.eff
	mtv := eff.Msg.field("MessageType")
	flows := e.cfg.Flows
	sendCall := eff.Sink.String()
	if len(eff.Via) > 0 {
		sendCall = strings.Join(eff.Via, " → ") + " → " + sendCall
	}
	iterCond := ""
	if eff.Iter == 2 {
		iterCond = laterIteration
	}
	baseConds := append([]string(nil), eff.Conds...)
	if iterCond != "" {
		baseConds = append(baseConds, iterCond)
	}
	if mtv.Kind != KConst {
		a := s.acc(siteKey{pos: r.pos, flow: 0, mt: "unknown"}, r.fn)
		a.note(e, eff, mtv)
		a.outcomes = append(a.outcomes, Outcome{Verdict: VerdictUnresolved, Mechanism: "unknown", SendCall: sendCall,
			When: strings.Join(baseConds, " && "), Reason: "the message type comes from " + describe(mtv) + ", which the audit cannot resolve"})
		return
	}
	mt := statusgo.MessageType(mtv.Int)
	if !flows.MayBeCritical(mt) {
		return
	}
	var content *statusgo.ContentType
	if c := eff.Msg.field("$content"); c.Kind == KConst && c.Class == CContentType {
		ct := statusgo.ContentType(c.Int)
		content = &ct
	}
	if eff.Refine {
		if content == nil {
			return
		}
		if _, special := flows.Contents[*content]; !special {
			return
		}
	}
	kinds, note := chatKinds(e, eff, mt, content)
	for _, k := range kinds {
		flow, ok := flows.Classify(mt, content, k)
		if !ok || !flow.Critical() {
			continue
		}
		a := s.acc(siteKey{pos: r.pos, flow: flow, mt: mt.String()}, r.fn)
		a.note(e, eff, mtv)
		if note != "" {
			a.addNote(note)
		}
		conds := baseConds
		if k != statusgo.ChatUnknown && eff.Msg.Chat == statusgo.ChatUnknown && len(kinds) > 1 {
			conds = append(append([]string(nil), baseConds...), "LocalChatID names a "+k.String()+" chat")
		}
		for _, o := range e.outcomes(eff, mt, k) {
			o.SendCall = sendCall
			all := append(append([]string(nil), conds...), o.When)
			o.When = strings.Join(nonEmpty(all), " && ")
			a.outcomes = append(a.outcomes, o)
		}
	}
}

func (a *siteAcc) note(e *engine, eff Effect, mt Value) {
	if a.origin == "" {
		a.origin = eff.Msg.Origin
	}
	rt, legacy := e.resendOf(eff.Msg)
	if eff.Syntax || mt.Syntax || rt.Syntax {
		a.syntax = true
	}
	src := describe(rt)
	switch {
	case rt.Kind == KConst && rt.Text == "" && legacy:
		src = "zero value (no " + autoField + " set)"
	case rt.Kind == KConst && rt.Text == "":
		src = "zero value (no ResendType set)"
	case legacy:
		src = autoField + ": " + src
	}
	for _, s := range a.sources {
		if s == src {
			return
		}
	}
	a.sources = append(a.sources, src)
}

func (a *siteAcc) addNote(n string) {
	for _, x := range a.notes {
		if x == n {
			return
		}
	}
	a.notes = append(a.notes, n)
}

// chatKinds lists the chat kinds a send can happen in, and a note when the
// audit assumed one. A flow that fixes its chat (a contact request lives in
// the one-to-one chat) rules out the other kinds a path may have assumed.
func chatKinds(e *engine, eff Effect, mt statusgo.MessageType, content *statusgo.ContentType) ([]statusgo.ChatKind, string) {
	kinds, note := chatKindsOf(e, eff, mt, content)
	// Kinds a branch on the chat ruled out cannot be where the message
	// goes on this path.
	var out []statusgo.ChatKind
	for _, k := range kinds {
		if k == statusgo.ChatUnknown || eff.Msg.NotChats&(1<<k) == 0 {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, note
}

func chatKindsOf(e *engine, eff Effect, mt statusgo.MessageType, content *statusgo.ContentType) ([]statusgo.ChatKind, string) {
	flows := e.cfg.Flows
	if eff.Msg.Chat == statusgo.ChatUnknown {
		// A resend setting computed for a chat of some kind (a function
		// of the chat, or Chat.DefaultResendType on this path) is the
		// setting of a message in that chat.
		if rt, _ := e.resendOf(eff.Msg); rt.ChatRoot != "" && rt.Chat != statusgo.ChatUnknown {
			eff.Msg.Chat = rt.Chat
		}
	}
	implied, impliedBy := statusgo.ChatUnknown, mvdsguard.Flow(0)
	if mt == statusgo.ChatMessage && content != nil {
		if f, ok := flows.Contents[*content]; ok {
			implied, impliedBy = flows.ChatOf[f], f
		}
	}
	if rule, ok := flows.Types[mt]; ok && !rule.ByChat && implied == statusgo.ChatUnknown {
		implied, impliedBy = flows.ChatOf[rule.Flow], rule.Flow
	}
	if eff.Msg.Chat != statusgo.ChatUnknown {
		if implied != statusgo.ChatUnknown && implied != eff.Msg.Chat {
			return nil, ""
		}
		return []statusgo.ChatKind{eff.Msg.Chat}, ""
	}
	if implied != statusgo.ChatUnknown {
		if eff.Sink.Func == statusgo.DispatchMessage {
			return []statusgo.ChatKind{implied}, fmt.Sprintf("chat kind assumed from the %s flow: %s", impliedBy, implied)
		}
		return []statusgo.ChatKind{implied}, ""
	}
	if eff.Sink.Func == statusgo.DispatchMessage {
		return statusgo.DispatchableChatKinds(), ""
	}
	rule, ok := flows.Types[mt]
	if !ok || !rule.ByChat {
		return []statusgo.ChatKind{statusgo.ChatUnknown}, ""
	}
	// A chat-scoped message sent without dispatchMessage: the send
	// function tells the kind of conversation.
	switch eff.Sink.Func {
	case statusgo.SendPrivate, statusgo.SendPubsubTopicKey:
		return []statusgo.ChatKind{statusgo.ChatOneToOne}, "chat kind assumed from " + eff.Sink.Func.String() + ": one_to_one"
	case statusgo.SendGroup:
		return []statusgo.ChatKind{statusgo.ChatPrivateGroup}, "chat kind assumed from SendGroup: private_group"
	case statusgo.SendCommunityMessage:
		return []statusgo.ChatKind{statusgo.ChatCommunity}, ""
	case statusgo.SendPublic:
		return []statusgo.ChatKind{statusgo.ChatPublic}, ""
	}
	return []statusgo.ChatKind{statusgo.ChatOneToOne, statusgo.ChatPrivateGroup}, ""
}

// outcomes judges a message in one chat kind, enumerating the fields the
// audit could not pin to a constant.
func (e *engine) outcomes(eff Effect, mt statusgo.MessageType, chat statusgo.ChatKind) []Outcome {
	msg := eff.Msg
	rt, legacy := e.resendOf(msg)
	field := "ResendType"
	if legacy {
		field = autoField
	}
	if eff.Sink.Func == 0 {
		o := Outcome{Verdict: VerdictUnresolved, Mechanism: "unknown", Reason: "the message is handed to " + eff.Sink.String() + ", which the audit cannot follow"}
		if rt.Kind == KConst {
			o.ResendType = resendName(rt, legacy)
		}
		return []Outcome{o}
	}
	if rt.Kind != KConst {
		return []Outcome{{Verdict: VerdictUnresolved, Mechanism: "unknown", ResendType: "unknown (" + describe(rt) + ")",
			Reason: "the " + field + " comes from " + describe(rt) + ", which the audit cannot resolve"}}
	}
	base := statusgo.Message{
		Type:       mt,
		Chat:       chat,
		ResendType: statusgo.ResendType(rt.Int),
		Saved:      eff.Saved || msg.field("$saved").isTrue(),
	}
	var notes []string
	if rm := msg.field("ResendMethod"); rm.Kind == KConst {
		base.ResendMethod = statusgo.ResendMethod(rm.Int)
	} else if !legacy {
		notes = append(notes, "ResendMethod "+describe(rm)+" taken as ResendMethodDynamic")
	}
	sender := msg.field("Sender")
	base.SenderSet = sender.Kind != KNil
	reused := sender.Kind == KUnknown && sender.Root == senderMark
	type variant struct {
		m    statusgo.Message
		when []string
	}
	variants := []variant{{m: base}}
	skipName := "SkipEncryptionLayer"
	for _, f := range []string{"SkipEncryptionLayer", "SendOnPersonalTopic"} {
		v := msg.field(f)
		name := f
		if f == "SkipEncryptionLayer" {
			v, skipName = skipOf(msg)
			name = skipName
		}
		var next []variant
		for _, x := range variants {
			set := func(m *statusgo.Message, b bool) {
				if f == "SkipEncryptionLayer" {
					m.SkipEncryption = b
				} else {
					m.PersonalTopic = b
				}
			}
			switch {
			case v.isTrue(), v.isFalse():
				set(&x.m, v.isTrue())
				next = append(next, x)
			default:
				t, fl := x, x
				set(&t.m, true)
				set(&fl.m, false)
				t.when = append(append([]string(nil), x.when...), name+" ("+describe(v)+") is true")
				fl.when = append(append([]string(nil), x.when...), name+" ("+describe(v)+") is false")
				next = append(next, t, fl)
			}
		}
		variants = next
	}
	var out []Outcome
	for _, x := range variants {
		o, err := deliver(eff.Sink.Func, x.m, legacy, rt.isTrue())
		if err != nil {
			out = append(out, Outcome{Verdict: VerdictUnresolved, Mechanism: "unknown", Reason: err.Error()})
			continue
		}
		reason := o.Reason
		if skipName != "SkipEncryptionLayer" {
			reason = strings.ReplaceAll(reason, "SkipEncryptionLayer", skipName)
		}
		if len(notes) > 0 {
			reason += " (" + strings.Join(notes, "; ") + ")"
		}
		oc := Outcome{
			Verdict:     o.Verdict.String(),
			Mechanism:   o.Mechanism.String(),
			MaxAttempts: o.MaxAttempts,
			When:        strings.Join(x.when, " && "),
			ResendType:  resendName(rt, legacy),
			Reason:      reason,
		}
		if o.Verdict == statusgo.VerdictBroken && reused && x.m.SenderSet {
			oc.Reused = true
			oc.Reason += "; the Sender is " + sender.Text + ", left by an earlier send on the same *RawMessage"
		}
		out = append(out, oc)
	}
	return out
}

// describe renders where a value came from.
func describe(v Value) string {
	switch v.Kind {
	case KConst:
		name := constName(v)
		if v.Text != "" && !strings.HasSuffix(v.Text, name) {
			if v.ChatRoot != "" {
				return fmt.Sprintf("%s (%s for a %s chat)", v.Text, name, v.Chat)
			}
			return fmt.Sprintf("%s (%s)", v.Text, name)
		}
		if v.Text != "" {
			return v.Text
		}
		return name
	case KNil:
		return "nil"
	case KParam:
		return "parameter " + v.Text
	}
	if v.Text == "" {
		return "an unknown value"
	}
	return v.Text
}

func nonEmpty(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// build turns the accumulated outcomes into sites, in source order.
func (s *siteSet) build(e *engine) []Site {
	var out []Site
	for _, k := range s.order {
		a := s.m[k]
		site := Site{
			Pos:         k.pos,
			Position:    e.position(k.pos),
			Function:    a.fn,
			Flow:        flowName(k.flow),
			MessageType: k.mt,
			Origin:      a.origin,
			Resolution:  "types",
			Notes:       a.notes,
		}
		if a.syntax {
			site.Resolution = "syntax"
		}
		if e.truncated[a.fn] {
			site.Notes = append(site.Notes, fmt.Sprintf("%s has more paths than the audit follows (%d); outcomes may be incomplete", a.fn, maxStates))
		}
		if site.Origin == site.Position {
			site.Origin = ""
		}
		site.Outcomes = dedupeOutcomes(a.outcomes)
		if len(site.Outcomes) == 1 {
			// One outcome on every path: the conditions that led there
			// explain nothing about the verdict.
			site.Outcomes[0].When = ""
		}
		site.Verdict, site.Mechanism = combine(site.Outcomes)
		site.Condition = condition(site.Outcomes)
		site.SendCall = joinDistinct(site.Outcomes, func(o Outcome) string { return o.SendCall })
		site.ResendType = joinDistinct(site.Outcomes, func(o Outcome) string { return o.ResendType })
		site.ResendSource = strings.Join(a.sources, " | ")
		out = append(out, site)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pos < out[j].Pos })
	return out
}

func flowName(f mvdsguard.Flow) string {
	if !f.Valid() {
		return "unknown"
	}
	return f.String()
}

// dedupeOutcomes merges outcomes with the same result. Their conditions
// are intersected: whatever the paths to one result do not share cannot be
// what the result depends on.
func dedupeOutcomes(os []Outcome) []Outcome {
	var out []Outcome
	index := map[string]int{}
	for _, o := range os {
		k := fmt.Sprintf("%s|%s|%s|%s|%s|%v", o.Verdict, o.Mechanism, o.SendCall, o.ResendType, o.Reason, o.Reused)
		i, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, o)
			continue
		}
		out[i].When = intersectConds(out[i].When, o.When)
	}
	return out
}

func intersectConds(a, b string) string {
	in := map[string]bool{}
	for _, c := range strings.Split(b, " && ") {
		in[c] = true
	}
	var keep []string
	for _, c := range strings.Split(a, " && ") {
		if c != "" && in[c] {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, " && ")
}

// positive strips a negation, so that a condition and its opposite name the
// same runtime value.
func positive(c string) string {
	switch {
	case strings.HasPrefix(c, "!(") && strings.HasSuffix(c, ")"):
		return c[2 : len(c)-1]
	case strings.HasPrefix(c, "!"):
		return c[1:]
	case strings.Contains(c, " != "):
		return strings.Replace(c, " != ", " == ", 1)
	}
	if i := strings.Index(c, ": "); i > 0 && strings.HasPrefix(c, "in ") {
		return c[:i+2] + positive(c[i+2:])
	}
	return c
}

// combine decides a site's verdict from its outcomes: broken if any path is
// rejected, the common verdict if all agree, unresolved if the audit could
// not follow some path, conditional otherwise.
func combine(os []Outcome) (verdict, mechanism string) {
	verdicts := map[string]bool{}
	mechs := map[string]bool{}
	for _, o := range os {
		verdicts[o.Verdict] = true
		if o.Verdict == VerdictNotMVDS {
			mechs[o.Mechanism] = true
		}
	}
	switch {
	case verdicts[VerdictBroken]:
		verdict = VerdictBroken
	case len(verdicts) == 1:
		for v := range verdicts {
			verdict = v
		}
	case verdicts[VerdictUnresolved]:
		verdict = VerdictUnresolved
	default:
		verdict = VerdictConditional
	}
	if verdict == VerdictNotMVDS {
		if mechs["none"] {
			mechanism = "none"
			if mechs["raw_resend"] {
				mechanism = "raw_resend|none"
			}
		} else {
			mechanism = "raw_resend"
		}
	}
	return verdict, mechanism
}

// condition names what the outcomes differ by: the conditions that are not
// shared by all of them.
func condition(os []Outcome) string {
	if len(os) < 2 {
		return ""
	}
	count := map[string]int{}
	var order []string
	for _, o := range os {
		for _, c := range strings.Split(o.When, " && ") {
			if c == "" {
				continue
			}
			if count[c] == 0 {
				order = append(order, c)
			}
			count[c]++
		}
	}
	var diff []string
	shown := map[string]bool{}
	for _, c := range order {
		if count[c] < len(os) && !shown[positive(c)] {
			shown[positive(c)] = true
			diff = append(diff, positive(c))
		}
	}
	if len(diff) > 4 {
		diff = append(diff[:4], "...")
	}
	return strings.Join(diff, "; ")
}

func joinDistinct(os []Outcome, f func(Outcome) string) string {
	var parts []string
	seen := map[string]bool{}
	for _, o := range os {
		v := f(o)
		if v != "" && !seen[v] {
			seen[v] = true
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " | ")
}
