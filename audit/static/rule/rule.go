// Package rule lists the static audit's rules: a stable id, a short name, a
// one-line title and a default severity for each. Ids never change meaning
// and are never reused, so that suppressions, baselines and CI dashboards
// keep working across versions; docs/audit-rules.md has a page per id.
//
// This package is the vocabulary shared by the analyzer, the configuration,
// the suppression directives and the reporters; it must not know how any of
// them works.
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

// Rule is one check of the static audit.
type Rule struct {
	// ID is stable: MA1xxx judge send sites, MA9xxx judge the audit's own
	// input (directives, loading).
	ID string
	// Name is a short kebab-case name used in SARIF and the docs.
	Name string
	// Title is one line saying what the rule reports.
	Title string
	// Severity is the default severity.
	Severity Severity
}

// The rule ids.
const (
	NotMVDS          = "MA1001"
	NoFailPath       = "MA1002"
	BrokenDataSync   = "MA1003"
	Conditional      = "MA1004"
	Unresolved       = "MA1005"
	ReusedSender     = "MA1006"
	SyntaxOnly       = "MA1007"
	BadDirective     = "MA9001"
	UnusedDirective  = "MA9002"
	LoadError        = "MA9003"
	BaselineMismatch = "MA9004"
)

var rules = []Rule{
	{NotMVDS, "not-mvds", "a critical message is sent without MVDS; only status-go's raw-message resend loop retries it", SeverityError},
	{NoFailPath, "no-fail-path", "a critical message is sent without MVDS and nothing retries it", SeverityError},
	{BrokenDataSync, "broken-datasync", "ResendTypeDataSync is combined with Sender, SkipEncryptionLayer or SendOnPersonalTopic, which SendPrivate rejects", SeverityError},
	{Conditional, "conditional", "whether a critical message goes through MVDS depends on a runtime value", SeverityWarning},
	{Unresolved, "unresolved", "the audit could not decide how a critical message is sent", SeverityWarning},
	{ReusedSender, "reused-sender", "a *RawMessage reused after a send that set its Sender is sent again with ResendTypeDataSync, which SendPrivate rejects", SeverityError},
	{SyntaxOnly, "syntax-only", "a send site was judged from syntax because type information was missing", SeverityInfo},
	{BadDirective, "bad-directive", "a //mvdsaudit:ignore directive is malformed", SeverityError},
	{UnusedDirective, "unused-directive", "a //mvdsaudit:ignore directive matches no finding", SeverityWarning},
	{LoadError, "load-error", "a package could not be loaded or type-checked completely", SeverityWarning},
	{BaselineMismatch, "baseline-fixed", "a baseline entry matches no finding any more and can be removed", SeverityInfo},
}

// All returns every rule in id order.
func All() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the rule with the given id.
func Lookup(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// IDs returns every rule id in order.
func IDs() []string {
	all := All()
	out := make([]string, len(all))
	for i, r := range all {
		out[i] = r.ID
	}
	return out
}
