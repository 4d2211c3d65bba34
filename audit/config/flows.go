package config

import (
	"fmt"
	"strings"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

// byChat is the flow table's word for "the flow follows the chat".
const byChat = "by_chat"

// flows applies the file's "flows" object to into. ks says which of types,
// contents and chatOf the audit reads (only the static audit reads chatOf:
// it stands in for a chat the source code does not show).
func (f *file) flows(n *node, path string, into *statusgo.Flows, ks keys) {
	f.object(n, path, ks, func(key string, val *node, p string) {
		switch key {
		case "types":
			f.entries(val, p, func(name string, m member, p string) { f.flowOfType(name, m, p, into) })
		case "contents":
			f.entries(val, p, func(name string, m member, p string) { f.flowOfContent(name, m, p, into) })
		case "chatOf":
			f.entries(val, p, func(name string, m member, p string) { f.chatOfFlow(name, m, p, into) })
		}
	})
}

// flowOfType reads `"MESSAGE_TYPE": "flow"` or `"by_chat"`; "other" makes a
// type non-critical by removing it from the table.
func (f *file) flowOfType(name string, m member, path string, into *statusgo.Flows) {
	t, err := statusgo.ParseMessageType(name)
	if err != nil {
		f.errorf(m.off, path, "%v", err)
		return
	}
	value, ok := f.str(m.val, path)
	if !ok {
		return
	}
	if value == byChat {
		into.Types[t] = statusgo.FlowRule{ByChat: true}
		return
	}
	flow, err := mvdsguard.ParseFlow(value)
	if err != nil {
		f.errorf(m.val.off, path, "%v, or %s", err, byChat)
		return
	}
	if flow == mvdsguard.Other {
		delete(into.Types, t)
		return
	}
	into.Types[t] = statusgo.FlowRule{Flow: flow}
}

// flowOfContent reads `"CONTENT_TYPE": "flow"` for CHAT_MESSAGEs.
func (f *file) flowOfContent(name string, m member, path string, into *statusgo.Flows) {
	ct, err := statusgo.ParseContentType(name)
	if err != nil {
		f.errorf(m.off, path, "%v", err)
		return
	}
	value, ok := f.str(m.val, path)
	if !ok {
		return
	}
	flow, err := mvdsguard.ParseFlow(value)
	if err != nil {
		f.errorf(m.val.off, path, "%v", err)
		return
	}
	into.Contents[ct] = flow
}

// chatOfFlow reads `"flow": "chat kind"`; "unknown" (or "") removes the
// chat a flow implies.
func (f *file) chatOfFlow(name string, m member, path string, into *statusgo.Flows) {
	flow, err := mvdsguard.ParseFlow(name)
	if err != nil {
		f.errorf(m.off, path, "%v", err)
		return
	}
	value, ok := f.str(m.val, path)
	if !ok {
		return
	}
	if value == "" || value == "unknown" {
		delete(into.ChatOf, flow)
		return
	}
	kind, err := statusgo.ParseChatKind(value)
	if err != nil {
		f.errorf(m.val.off, path, "%v, or unknown", err)
		return
	}
	into.ChatOf[flow] = kind
}

// severity applies the file's "severity" object (rule id → severity name)
// to into. Only rules audit a raises may be named.
func (f *file) severity(n *node, path string, a rule.Audit, into map[string]rule.Severity) {
	f.entries(n, path, func(id string, m member, p string) {
		if _, ok := a.Lookup(id); !ok {
			f.errorf(m.off, p, "%s", notARule(id, a))
			return
		}
		value, ok := f.str(m.val, p)
		if !ok {
			return
		}
		sev, err := rule.ParseSeverity(value)
		if err != nil {
			f.errorf(m.val.off, p, "%v", err)
			return
		}
		into[id] = sev
	})
}

// notARule says why id cannot be configured for audit a.
func notARule(id string, a rule.Audit) string {
	want := strings.Join(a.IDs(), ", ")
	if r, ok := rule.Lookup(id); ok {
		return fmt.Sprintf("%s (%s) is a rule of the %v audit, not of the %v audit (want one of %s)", id, r.Name, r.Audits, a, want)
	}
	return fmt.Sprintf("unknown rule %q (want one of %s)", id, want)
}

// severityOf returns the severity of rule id: the override, else the
// catalogue's default.
func severityOf(overrides map[string]rule.Severity, id string) rule.Severity {
	if s, ok := overrides[id]; ok {
		return s
	}
	if r, ok := rule.Lookup(id); ok {
		return r.Severity
	}
	return rule.SeverityError
}
