package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic"
)

// testRun lays out a QA run's log directory: alice's log, bob's rotated
// in two files, carol's compressed, and a database that is no log.
func testRun(t *testing.T) string {
	t.Helper()
	run := filepath.Join(t.TempDir(), "run-42")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(logFixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(rel string, data []byte, modified time.Time) {
		p := filepath.Join(run, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, modified, modified); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Date(2024, 10, 23, 14, 15, 0, 0, time.UTC)
	write("alice/geth.log", read("geth-2024.log"), end)
	bob := read("zap-json.log")
	cut := bytes.IndexByte(bob[len(bob)/2:], '\n') + len(bob)/2 + 1
	write("bob/geth.log.1", bob[:cut], end.Add(-7*time.Minute))
	write("bob/geth.log", bob[cut:], end)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(read("geth-early-2024.log"))
	zw.Close()
	write("carol/geth.log.gz", gz.Bytes(), end)
	write("carol/accounts.sql", []byte("SQLite format 3\x00"), end)
	return run
}

func TestRuntimeJudgesARunDirectoryNodeByNode(t *testing.T) {
	run := testRun(t)
	code, out, errOut := runtimeAudit(t, nil, "-format", "json", "-node-pattern", `([^/]+)/geth`, run)
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep dynamic.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range rep.Nodes {
		names = append(names, n.Name)
		if n.Errors != 5 {
			t.Errorf("node %s: %d errors, want the session's 5", n.Name, n.Errors)
		}
	}
	if strings.Join(names, ",") != "alice,bob,carol" || len(rep.Nodes[1].Inputs) != 2 || !strings.HasSuffix(rep.Nodes[1].Inputs[0], "geth.log.1") {
		t.Fatalf("nodes %+v", rep.Nodes)
	}
	for _, v := range rep.Violations {
		ev := v.Evidence[0]
		if v.Node == "" || !strings.Contains(ev.Input, "/"+v.Node+"/") || ev.Line == 0 {
			t.Fatalf("violation %+v does not name its node and file:line", v)
		}
		if v.At.Year() != 2024 {
			t.Fatalf("dated %v: the year must come from the files' times", v.At)
		}
	}
	for _, in := range rep.Inputs {
		if strings.Contains(in.Name, "alice") && in.YearFrom != "file modified 2024-10-23" {
			t.Fatalf("input %s: year %d from %q", in.Name, in.Year, in.YearFrom)
		}
	}
	if !strings.Contains(errOut, "skipped 1 file(s) not named like a log") {
		t.Fatalf("stderr %q", errOut)
	}
}

func TestRuntimeNamesNodesByPathWithoutAPattern(t *testing.T) {
	run := testRun(t)
	_, out, _ := runtimeAudit(t, nil, run)
	for _, want := range []string{"alice/geth", "bob/geth", "carol/geth", "fleet: 3 nodes", "MA2001 error silent-drop [carol/geth]"} {
		if !strings.Contains(out, want) {
			t.Fatalf("text report lacks %q:\n%s", want, out)
		}
	}
	// A glob over the same files, one node for all with -node.
	_, out, _ = runtimeAudit(t, nil, "-node", "everyone", "-format", "json", filepath.Join(run, "*", "geth.log"))
	var rep dynamic.Report
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Nodes) != 1 || rep.Nodes[0].Name != "everyone" || len(rep.Nodes[0].Inputs) != 2 {
		t.Fatalf("nodes %+v", rep.Nodes)
	}
}

func TestRuntimeJUnitGroupsViolationsByNode(t *testing.T) {
	run := testRun(t)
	out := filepath.Join(t.TempDir(), "runtime.xml")
	if code, _, errOut := runtimeAudit(t, nil, "-format", "junit", "-o", out, "-node-pattern", `([^/]+)/geth`, run); code != exitFindings {
		t.Fatalf("exit %d %s", code, errOut)
	}
	data, _ := os.ReadFile(out)
	var suites struct {
		Suites []struct {
			Cases []struct {
				Class string `xml:"classname,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	classes := map[string]bool{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			classes[c.Class] = true
		}
	}
	for _, want := range []string{"mvdsaudit.runtime.MA2001.alice", "mvdsaudit.runtime.MA2001.bob", "mvdsaudit.runtime.MA2001.carol"} {
		if !classes[want] {
			t.Fatalf("no case of class %s in %v", want, classes)
		}
	}
	if !bytes.Contains(data, []byte("fleet: 3 nodes")) {
		t.Fatal("JUnit report lacks the node table")
	}
}

func TestRuntimeBadInputsAreNamedAndTheOthersStillCount(t *testing.T) {
	run := testRun(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "dave.log.gz")
	os.WriteFile(corrupt, []byte{0x1f, 0x8b, 0, 1, 2, 3}, 0o644)
	empty := filepath.Join(dir, "nothing-here")
	os.MkdirAll(filepath.Join(empty, "sub"), 0o755)
	os.WriteFile(filepath.Join(empty, "sub", "keys.json"), []byte("{}"), 0o644)
	missing := filepath.Join(dir, "erin.log")
	quiet := filepath.Join(dir, "quiet.json")
	os.WriteFile(quiet, []byte(`{"severity": {"MA1001": "warning", "MA2001": "warning", "MA2002": "warning"}}`), 0o644)

	code, out, errOut := runtimeAudit(t, nil, "-config", quiet, run, corrupt, empty, missing)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d\n%s", code, exitPartial, errOut)
	}
	for _, want := range []string{corrupt + ": not a readable gzip file", empty + ": no log files in the directory", missing + ": no such file or directory"} {
		if !strings.Contains(errOut, want) || !strings.Contains(out, want) {
			t.Fatalf("stderr and report should say %q\nstderr: %s\nreport: %s", want, errOut, out)
		}
	}
	if !strings.Contains(out, "fleet: 3 nodes") || !strings.Contains(out, "15 violations: 0 errors, 15 warnings") {
		t.Fatalf("the good inputs were not judged:\n%s", out)
	}
	// Without the quiet configuration the violations decide the exit code;
	// the bad inputs are still named.
	if code, _, errOut := runtimeAudit(t, nil, run, corrupt); code != exitFindings || !strings.Contains(errOut, "dave.log.gz") {
		t.Fatalf("exit %d %s", code, errOut)
	}
	// Nothing usable at all.
	if code, _, errOut := runtimeAudit(t, nil, corrupt, empty, missing); code != exitFailure || !strings.Contains(errOut, "dave.log.gz") || !strings.Contains(errOut, "nothing-here") || !strings.Contains(errOut, "erin.log") {
		t.Fatalf("exit %d %s", code, errOut)
	}
}

func TestRuntimeReadsLineNumberedLinesFromABugReport(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join(logFixtures, "geth-2024.log"))
	var b bytes.Buffer
	for i, l := range strings.SplitAfter(string(data), "\n") {
		if l != "" {
			b.WriteString(fmt.Sprintf("%4d\t%s", i+1, l))
		}
	}
	code, out, _ := runtimeAudit(t, &b, "-year", "2024", "-format", "json", "-node", "alice")
	var rep dynamic.Report
	json.Unmarshal([]byte(out), &rep)
	var got []string
	for _, v := range rep.Violations {
		got = append(got, v.Check+" "+v.Node)
	}
	sort.Strings(got)
	if code != exitFindings || strings.Join(got, ",") != "MA1001 alice,MA1001 alice,MA1001 alice,MA2001 alice,MA2002 alice" || rep.Inputs[0].Continuation != 0 {
		t.Fatalf("exit %d, %v, %+v", code, got, rep.Inputs[0])
	}
}

func TestRuntimeGivesTheSameReportWhateverTheParallelism(t *testing.T) {
	run := testRun(t)
	var reports []string
	for _, j := range []string{"1", "2", "8"} {
		code, out, errOut := runtimeAudit(t, nil, "-j", j, "-format", "json", run)
		if code != exitFindings {
			t.Fatalf("-j %s: exit %d %s", j, code, errOut)
		}
		reports = append(reports, out)
	}
	if reports[0] != reports[1] || reports[0] != reports[2] {
		t.Fatal("the report depends on how many files are read at once")
	}
}
