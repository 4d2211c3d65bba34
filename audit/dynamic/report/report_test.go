package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/report"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

var t0 = time.Date(2024, 10, 23, 14, 0, 0, 0, time.UTC)

// sample builds a report from records: one violation of MA1001 (shown as a
// warning), two of MA2001 of which one is listed, and an input with damage.
func sample(t *testing.T) *dynamic.Report {
	t.Helper()
	cfg := config.DefaultRuntime()
	cfg.Horizon = time.Minute
	cfg.Limits.Violations = 1
	cfg.Severity = map[string]rule.Severity{rule.NotMVDS: rule.SeverityWarning}
	r, err := dynamic.NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(line int64, text string) dynamic.Evidence {
		return dynamic.Evidence{Input: "node.log", Line: line, Text: text}
	}
	for _, x := range []dynamic.Record{
		{Kind: dynamic.KindSend, At: t0, Node: "alice", ID: "join-1", Flow: mvdsguard.JoinRequest, Via: dynamic.ViaCommunity, Attempts: -1, Evidence: ev(3, "sent join-1 <&> \"quoted\"")},
		{Kind: dynamic.KindSend, At: t0, Node: "alice", ID: "cr-1", Flow: mvdsguard.ContactRequest, Via: dynamic.ViaMVDS, Attempts: -1, Evidence: ev(4, "scheduled cr-1")},
		{Kind: dynamic.KindSend, At: t0, Node: "alice", ID: "cr-2", Flow: mvdsguard.ContactRequest, Via: dynamic.ViaMVDS, Attempts: -1, Evidence: ev(5, "scheduled cr-2 \x01")},
	} {
		if err := r.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	rep := r.Finish(t0.Add(2 * time.Minute))
	rep.Tool, rep.Version = "mvdsaudit", "test"
	rep.Inputs = []*dynamic.InputStats{{Name: "node.log", Lines: 10, Bytes: 2048, StatusGo: map[string]int64{"geth": 7},
		Used: 3, Unread: map[string]int64{dynamic.UnreadBinary: 1, dynamic.UnreadMalformed: 2},
		Samples: []dynamic.LineSample{{Line: 9, Reason: dynamic.UnreadBinary, Detail: "not text", Text: `"\x00"`}}, Sources: []string{"alice"}}}
	return rep
}

func TestTextShowsCountsViolationsAndWhatWasNotRead(t *testing.T) {
	var b bytes.Buffer
	if err := report.Text(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"input node.log: 10 lines, 2.0 KiB",
		"not understood: 3 (binary 1, malformed 2)",
		"line 9, binary: not text",
		"contact_request         2     2        0          0       0          0       2     0",
		"MA1001 warning not-mvds [alice]: join_request message join-1",
		"node.log:3",
		"MA2001 silent-drop              error   2 (1 listed)",
		"3 violations: 2 errors, 1 warning, 0 info",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONHoldsTheWholeReport(t *testing.T) {
	var b bytes.Buffer
	if err := report.JSON(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tool   string `json:"tool"`
		Inputs []struct {
			Unread map[string]int `json:"unread"`
		} `json:"inputs"`
		Flows []struct {
			Flow   string `json:"flow"`
			Silent int    `json:"silent"`
		} `json:"flows"`
		Checks []struct {
			ID         string `json:"id"`
			Severity   string `json:"severity"`
			Violations int    `json:"violations"`
			Listed     int    `json:"listed"`
		} `json:"checks"`
		Violations []struct {
			Check    string `json:"check"`
			Evidence []struct {
				Line int    `json:"line"`
				Text string `json:"text"`
			} `json:"evidence"`
		} `json:"violations"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Tool != "mvdsaudit" || got.Inputs[0].Unread["malformed"] != 2 || len(got.Violations) != 2 ||
		got.Checks[0].ID != "MA1001" || got.Checks[0].Severity != "warning" || got.Checks[1].Violations != 2 || got.Checks[1].Listed != 1 {
		t.Fatalf("%+v", got)
	}
	if got.Violations[0].Evidence[0].Line != 3 {
		t.Fatalf("evidence %+v", got.Violations[0].Evidence)
	}
}

func TestJUnitIsWellFormedAndFailsOnErrorsOnly(t *testing.T) {
	var b bytes.Buffer
	if err := report.JUnit(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
					Body string `xml:",chardata"`
				} `xml:"failure"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	suites := map[string]int{}
	for i, s := range got.Suites {
		suites[s.Name] = i
	}
	notMVDS := got.Suites[suites["MA1001 not-mvds"]]
	if notMVDS.Failures != 0 || len(notMVDS.Cases) != 1 || !strings.Contains(notMVDS.Cases[0].Out, "warning: ") {
		t.Fatalf("a warning is a passing case that says why: %+v", notMVDS)
	}
	silent := got.Suites[suites["MA2001 silent-drop"]]
	if silent.Failures != 2 || silent.Tests != 2 || silent.Cases[0].Failure == nil || !strings.Contains(silent.Cases[0].Failure.Body, "node.log:4") {
		t.Fatalf("silent-drop suite %+v", silent)
	}
	if quiet := got.Suites[suites["MA2004 duplicate-receipt"]]; quiet.Tests != 1 || quiet.Cases[0].Name != "no violations" {
		t.Fatalf("a quiet check %+v", quiet)
	}
	if got.Failures != 2 {
		t.Fatalf("%d failures; want the 2 error-severity violations", got.Failures)
	}
	if in := got.Suites[suites["inputs"]]; !strings.Contains(in.Cases[0].Out, "not understood: 3") {
		t.Fatalf("inputs suite %+v", in)
	}
}

func TestSummaryLine(t *testing.T) {
	if s := report.Summary(&dynamic.Report{}); s != "no violations" {
		t.Fatal(s)
	}
}
