package rule_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static/rule"
)

func TestIDsAreUniqueAndWellFormed(t *testing.T) {
	seen := map[string]bool{}
	form := regexp.MustCompile(`^MA[19]\d{3}$`)
	for _, r := range rule.All() {
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("duplicate rule %s / %s", r.ID, r.Name)
		}
		seen[r.ID], seen[r.Name] = true, true
		if !form.MatchString(r.ID) || r.Title == "" || r.Severity == 0 {
			t.Errorf("rule %+v is incomplete", r)
		}
	}
}

// Every rule has its page, under the anchor the reports link to.
func TestEveryRuleHasAPageInTheDocs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "audit-rules.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, r := range rule.All() {
		anchor := `<a id="` + strings.ToLower(r.ID) + `"></a>`
		heading := "## " + r.ID + " " + r.Name
		if !strings.Contains(doc, anchor) || !strings.Contains(doc, heading) {
			t.Errorf("docs/audit-rules.md lacks %q or %q", anchor, heading)
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
