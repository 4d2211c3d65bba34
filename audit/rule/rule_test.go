package rule_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/rule"
)

func TestIDsAreUniqueAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	form := regexp.MustCompile(`^MA[129]\d{3}$`)
	for _, r := range rule.All() {
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("duplicate rule %s / %s", r.ID, r.Name)
		}
		seen[r.ID], seen[r.Name] = true, true
		if !form.MatchString(r.ID) || r.Title == "" || r.Severity == 0 || r.Audits == 0 {
			t.Errorf("rule %+v is incomplete", r)
		}
	}
}

// The id's series says which audit raises a rule: MA2xxx only the runtime
// audit, MA9xxx only the static one; MA1001 is the one finding both make.
func TestTheSeriesOfAnIDSaysWhichAuditRaisesIt(t *testing.T) {
	for _, r := range rule.All() {
		var want rule.Audit
		switch {
		case r.ID == rule.NotMVDS:
			want = rule.Static | rule.Runtime
		case strings.HasPrefix(r.ID, "MA2"):
			want = rule.Runtime
		default:
			want = rule.Static
		}
		if r.Audits != want {
			t.Errorf("%s is raised by %v; want %v", r.ID, r.Audits, want)
		}
	}
}

func TestAnAuditLooksUpOnlyItsOwnRules(t *testing.T) {
	if _, ok := rule.Static.Lookup(rule.SilentDrop); ok {
		t.Errorf("the static audit knows %s, a runtime check", rule.SilentDrop)
	}
	if _, ok := rule.Runtime.Lookup(rule.NoFailPath); ok {
		t.Errorf("the runtime audit knows %s, a static rule", rule.NoFailPath)
	}
	for _, a := range []rule.Audit{rule.Static, rule.Runtime} {
		if r, ok := a.Lookup(rule.NotMVDS); !ok || r.Name != "not-mvds" {
			t.Errorf("the %v audit does not know %s", a, rule.NotMVDS)
		}
	}
	got := strings.Join(rule.Runtime.IDs(), " ")
	if want := "MA1001 MA2001 MA2002 MA2003 MA2004"; got != want {
		t.Errorf("runtime ids = %s; want %s", got, want)
	}
}

// Every rule has its page, under the anchor the reports link to, and the
// runtime audit's guide links each of its checks there.
func TestEveryRuleHasAPageInTheDocs(t *testing.T) {
	rules := readDoc(t, "audit-rules.md")
	guide := readDoc(t, "runtime-audit.md")
	for _, r := range rule.All() {
		anchor := `<a id="` + strings.ToLower(r.ID) + `"></a>`
		heading := "## " + r.ID + " " + r.Name
		if !strings.Contains(rules, anchor) || !strings.Contains(rules, heading) {
			t.Errorf("docs/audit-rules.md lacks %q or %q", anchor, heading)
		}
		link := "[" + r.ID + "](audit-rules.md#" + strings.ToLower(r.ID) + ") | " + r.Name + " |"
		if r.RaisedBy(rule.Runtime) && !strings.Contains(guide, link) {
			t.Errorf("docs/runtime-audit.md lacks the row %q", link)
		}
	}
}

func TestSeverityNamesRoundTrip(t *testing.T) {
	for _, s := range []rule.Severity{rule.SeverityError, rule.SeverityWarning, rule.SeverityInfo, rule.SeverityOff} {
		var back rule.Severity
		text, err := s.MarshalText()
		if err != nil || back.UnmarshalText(text) != nil || back != s {
			t.Errorf("severity %v does not round-trip", s)
		}
	}
	if _, err := rule.ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity(fatal) succeeded")
	}
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
