// Package rule is the catalogue of the audits' rules: for every rule a
// stable id, a short name, a one-line title, a default severity and the
// audits that raise it — the static audit (audit/static, from source code),
// the runtime audit (audit/dynamic, `mvdsaudit runtime`, from logs and
// records), or both when they report the same thing. Ids never change
// meaning and are never reused, so that suppressions, baselines,
// configurations and CI dashboards keep working across versions;
// docs/audit-rules.md has a page per id.
//
// This package is the vocabulary shared by the analyzer, the runtime
// checks, the configuration, the suppression directives and the reporters;
// it must not know how any of them works.
package rule

import (
	"fmt"
	"sort"
)

// Severity is how a finding is treated. Only SeverityError fails a build.
type Severity uint8

// Severities, from most to least severe.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
	SeverityInfo
	// SeverityOff disables a rule.
	SeverityOff
)

var severityNames = map[Severity]string{
	SeverityError:   "error",
	SeverityWarning: "warning",
	SeverityInfo:    "info",
	SeverityOff:     "off",
}

// String returns the severity's name, such as "warning".
func (s Severity) String() string {
	if name, ok := severityNames[s]; ok {
		return name
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// ParseSeverity converts "error", "warning", "info" or "off".
func ParseSeverity(s string) (Severity, error) {
	for k, name := range severityNames {
		if name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning, info or off)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if _, ok := severityNames[s]; !ok {
		return nil, fmt.Errorf("marshal severity: invalid severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Audit names an audit that raises rules. The values are bits, so that a
// rule raised by both audits carries Static|Runtime.
type Audit uint8

// The audits.
const (
	// Static is the static audit: mvdsaudit on source code (audit/static).
	Static Audit = 1 << iota
	// Runtime is the runtime audit: mvdsaudit runtime on logs and records
	// (audit/dynamic).
	Runtime
)

// String returns "static", "runtime" or, for both, "static+runtime".
func (a Audit) String() string {
	switch a {
	case Static:
		return "static"
	case Runtime:
		return "runtime"
	case Static | Runtime:
		return "static+runtime"
	}
	return fmt.Sprintf("audit(%d)", uint8(a))
}

// Rules returns the rules audit a raises, in id order.
func (a Audit) Rules() []Rule {
	var out []Rule
	for _, r := range All() {
		if r.RaisedBy(a) {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the rule with the given id if audit a raises it.
func (a Audit) Lookup(id string) (Rule, bool) {
	r, ok := Lookup(id)
	if !ok || !r.RaisedBy(a) {
		return Rule{}, false
	}
	return r, true
}

// IDs returns the ids of the rules audit a raises, in order.
func (a Audit) IDs() []string {
	rules := a.Rules()
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.ID
	}
	return out
}

// Rule is one entry of the catalogue.
type Rule struct {
	// ID is stable: MA1xxx judge how critical messages are sent (from
	// source code, and MA1001 also from what was seen at runtime), MA2xxx
	// judge what happened to them at runtime, MA9xxx judge the static
	// audit's own input (directives, loading, the baseline).
	ID string
	// Name is a short kebab-case name used in reports and the docs.
	Name string
	// Title is one line saying what the rule reports.
	Title string
	// Severity is the default severity.
	Severity Severity
	// Audits are the audits that raise the rule.
	Audits Audit
}

// RaisedBy reports whether audit a raises r.
func (r Rule) RaisedBy(a Audit) bool { return a != 0 && r.Audits&a == a }

// The rule ids.
const (
	NotMVDS        = "MA1001"
	NoFailPath     = "MA1002"
	BrokenDataSync = "MA1003"
	Conditional    = "MA1004"
	Unresolved     = "MA1005"
	ReusedSender   = "MA1006"
	SyntaxOnly     = "MA1007"
	// Regression: mvdsaudit diff found a site that went through MVDS
	// before the change and does not after it.
	Regression       = "MA1008"
	BadDirective     = "MA9001"
	UnusedDirective  = "MA9002"
	LoadError        = "MA9003"
	BaselineMismatch = "MA9004"

	// SilentDrop: no delivered or failed outcome within the horizon.
	SilentDrop = "MA2001"
	// NoRetryAfterReconnect: messages were pending when the device
	// reconnected and none was attempted within the configured time.
	NoRetryAfterReconnect = "MA2002"
	// FailedUntried: a message failed without any attempt.
	FailedUntried = "MA2003"
	// DuplicateReceipt: the same message was handed to the application
	// twice.
	DuplicateReceipt = "MA2004"
)

var rules = []Rule{
	{NotMVDS, "not-mvds", "a critical message is sent without MVDS", SeverityError, Static | Runtime},
	{NoFailPath, "no-fail-path", "a critical message is sent without MVDS and nothing retries it", SeverityError, Static},
	{BrokenDataSync, "broken-datasync", "ResendTypeDataSync is combined with Sender, SkipEncryptionLayer or SendOnPersonalTopic, which SendPrivate rejects", SeverityError, Static},
	{Conditional, "conditional", "whether a critical message goes through MVDS depends on a runtime value", SeverityWarning, Static},
	{Unresolved, "unresolved", "the audit could not decide how a critical message is sent", SeverityWarning, Static},
	{ReusedSender, "reused-sender", "a *RawMessage reused after a send that set its Sender is sent again with ResendTypeDataSync, which SendPrivate rejects", SeverityError, Static},
	{SyntaxOnly, "syntax-only", "a send site was judged from syntax because type information was missing", SeverityInfo, Static},
	{SilentDrop, "silent-drop", "a message reached neither delivered nor failed within the horizon", SeverityError, Runtime},
	{NoRetryAfterReconnect, "no-retry-after-reconnect", "messages were pending at a reconnect and none was attempted soon after", SeverityError, Runtime},
	{FailedUntried, "failed-untried", "a message failed without any attempt", SeverityError, Runtime},
	{DuplicateReceipt, "duplicate-receipt", "the same message was handed to the application twice", SeverityError, Runtime},
	{Regression, "regression", "a change moves a critical send site that went through MVDS off it", SeverityError, Static},
	{BadDirective, "bad-directive", "a //mvdsaudit:ignore directive is malformed", SeverityError, Static},
	{UnusedDirective, "unused-directive", "a //mvdsaudit:ignore directive matches no finding", SeverityWarning, Static},
	{LoadError, "load-error", "a package could not be loaded or type-checked completely", SeverityWarning, Static},
	{BaselineMismatch, "baseline-fixed", "a baseline entry matches no finding any more and can be removed", SeverityInfo, Static},
}

// All returns every rule of the catalogue in id order.
func All() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the rule with the given id, whichever audit raises it.
func Lookup(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
