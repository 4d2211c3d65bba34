// Package suppress parses the static audit's suppression directives:
//
//	//mvdsaudit:ignore MA1001 contact updates to paired devices are best effort
//	//mvdsaudit:file-ignore MA1004,MA1005 generated code
//
// A directive names one or more rule ids (comma-separated) and must give a
// reason, so that every suppression says why it is there. An ignore directive
// on a line of its own applies to the next line; written after code, it
// applies to its own line. A file-ignore directive applies to the whole file.
//
// This package only reads directives; matching them against findings, and
// reporting the ones that match nothing, is the analyzer's job.
package suppress

import (
	"fmt"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Prefix starts every directive.
const Prefix = "//mvdsaudit:"

// Kind is the scope of a directive.
type Kind uint8

const (
	// Line suppresses findings on one line.
	Line Kind = iota + 1
	// File suppresses findings in the whole file.
	File
)

// Directive is one parsed suppression.
type Directive struct {
	Kind   Kind
	Rules  []string
	Reason string
}

// Matches reports whether d suppresses findings of rule id.
func (d Directive) Matches(id string) bool {
	for _, r := range d.Rules {
		if r == id {
			return true
		}
	}
	return false
}

// Parse reads the text of one comment, including its "//". The second result
// is false when the comment is not meant as a directive at all; err is set
// when it is meant as one but is malformed, and says what is wrong.
func Parse(comment string) (d Directive, isDirective bool, err error) {
	body, ok := strings.CutPrefix(comment, "//")
	if !ok {
		// Block comments cannot carry directives.
		return Directive{}, false, nil
	}
	trimmed := strings.TrimLeft(body, " \t")
	if !strings.HasPrefix(trimmed, "mvdsaudit:") {
		return Directive{}, false, nil
	}
	if trimmed != body {
		return Directive{}, true, fmt.Errorf("write %q without a space after //", Prefix+strings.TrimPrefix(trimmed, "mvdsaudit:"))
	}
	rest := strings.TrimPrefix(trimmed, "mvdsaudit:")
	verb, args, _ := strings.Cut(rest, " ")
	switch verb {
	case "ignore":
		d.Kind = Line
	case "file-ignore":
		d.Kind = File
	default:
		return Directive{}, true, fmt.Errorf("unknown directive %q (want %signore or %sfile-ignore)", Prefix+verb, Prefix, Prefix)
	}
	args = strings.TrimSpace(args)
	ids, reason, _ := strings.Cut(args, " ")
	reason = strings.TrimSpace(reason)
	if ids == "" {
		return Directive{}, true, fmt.Errorf("%s%s needs a rule id and a reason, as in %s%s %s reason", Prefix, verb, Prefix, verb, rule.NotMVDS)
	}
	for _, id := range strings.Split(ids, ",") {
		if _, ok := rule.Static.Lookup(id); !ok {
			return Directive{}, true, fmt.Errorf("unknown rule %q in %s%s (want ids such as %s)", id, Prefix, verb, strings.Join(rule.Static.IDs(), ", "))
		}
		d.Rules = append(d.Rules, id)
	}
	if reason == "" {
		return Directive{}, true, fmt.Errorf("%s%s %s has no reason; say why the finding is acceptable", Prefix, verb, ids)
	}
	d.Reason = reason
	return d, true, nil
}
