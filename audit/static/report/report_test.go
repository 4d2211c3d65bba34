package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
	"github.com/mvdsguard/mvdsguard/audit/static/report"
)

func sampleRun() *report.Run {
	return &report.Run{
		Tool: "mvdsaudit", Version: "test", Root: "/src/status-go", Matched: 3, Relevant: 2, Analyzed: 2,
		Sites: []static.Site{
			{Position: "protocol/a.go:10:2", Flow: "contact_request", MessageType: "ACCEPT_CONTACT_REQUEST", SendCall: "Messenger.dispatchMessage", Verdict: static.VerdictMVDS, Resolution: "types"},
			{Position: "protocol/b.go:3:1", Flow: "private_group", MessageType: "MEMBERSHIP_UPDATE_MESSAGE", SendCall: "Messenger.dispatchMessage", Verdict: static.VerdictNotMVDS, Mechanism: "none", Resolution: "syntax"},
		},
		Findings: []static.Finding{
			{Rule: rule.NoFailPath, Position: "protocol/b.go:3:1", Message: "sent once", Severity: rule.SeverityError},
			{Rule: rule.LoadError, Message: "package x: missing", Severity: rule.SeverityWarning},
		},
		Suppressed: []static.Finding{{Rule: rule.NotMVDS, Position: "protocol/c.go:1:1", Message: "m", Severity: rule.SeverityError, Reason: "because"}},
	}
}

func TestTextListsSitesAndFindings(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Text(&buf, sampleRun(), true); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"protocol/a.go:10:2: site contact_request ACCEPT_CONTACT_REQUEST via Messenger.dispatchMessage: mvds\n",
		"protocol/b.go:3:1: site private_group MEMBERSHIP_UPDATE_MESSAGE via Messenger.dispatchMessage: not_mvds (none) [judged by syntax]\n",
		"protocol/b.go:3:1: MA1002 [error] sent once\n",
		"-: MA9003 [warning] package x: missing\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	line := report.SummaryLine(sampleRun())
	if !strings.Contains(line, "2 sites in 2 packages (1 mvds, 1 not_mvds), 1 judged by syntax") || !strings.Contains(line, "1 error, 1 warning") || !strings.Contains(line, "1 suppressed") {
		t.Errorf("summary line %q", line)
	}
}

func TestJSONHasTheDocumentedFields(t *testing.T) {
	var buf bytes.Buffer
	if err := report.JSON(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tool", "version", "summary", "sites", "findings", "suppressed", "baselined", "rules"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	site := doc["sites"].([]any)[0].(map[string]any)
	for _, k := range []string{"pos", "function", "flow", "messageType", "sendCall", "resendType", "verdict", "outcomes", "resolution"} {
		if _, ok := site[k]; !ok {
			t.Errorf("site lacks %q", k)
		}
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	if f["rule"] != "MA1002" || f["pos"] != "protocol/b.go:3:1" || f["severity"] != "error" || f["message"] != "sent once" {
		t.Errorf("finding %v", f)
	}
}

func TestFindingsSortByFileThenLineNumerically(t *testing.T) {
	fs := []static.Finding{{Position: "b.go:10:1"}, {Position: "a.go:9:1"}, {Position: "b.go:9:5"}, {Position: "b.go:9:1"}, {Position: ""}}
	report.SortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Position)
	}
	if strings.Join(got, " ") != " a.go:9:1 b.go:9:1 b.go:9:5 b.go:10:1" {
		t.Fatalf("order %q", got)
	}
}

func TestSARIFPutsUnlocatedFindingsInNotifications(t *testing.T) {
	var buf bytes.Buffer
	if err := report.SARIF(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `"toolExecutionNotifications"`) || !strings.Contains(out, "MA9003: package x: missing") {
		t.Errorf("the load error is not a notification:\n%s", out)
	}
	if !strings.Contains(out, `"uri": "file:///src/status-go/"`) || !strings.Contains(out, `"justification": "because"`) {
		t.Errorf("SARIF lacks the source root or the suppression reason:\n%s", out)
	}
}
