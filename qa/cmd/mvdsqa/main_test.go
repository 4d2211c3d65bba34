package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const suite = "../../../fixtures/scenarios"

// TestDemoRunsAndMeetsItsExpectations runs the demo on one scenario of the
// suite (the full suite runs in TestTheQASuitePassesOnTheGuard) and the
// simulated comparison, and checks the table.
func TestDemoRunsAndMeetsItsExpectations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go-waku nodes and the simulated scenarios")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(suite, "01-contact-request-offline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "one.yaml"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildMvdsqa(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "-messages", "20", "-suite", dir, "-slack", "3", "-processes", "-node-binary", bin}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	// The stock run fails, and a failed run keeps its data: the demo must
	// still leave nothing behind but its HTML report, whose path it prints.
	report := filepath.Join(tmp, "mvdsqa-demo.html")
	left, _ := filepath.Glob(filepath.Join(tmp, "mvdsqa-*"))
	if len(left) != 1 || left[0] != report {
		t.Errorf("the demo left %v behind; want only its report %s", left, report)
	}
	if !strings.Contains(out.String(), "HTML report (a timeline per message, stock and guarded side by side): "+report+"\n") {
		t.Errorf("the demo did not print where its HTML report is:\n%s", out.String())
	}
	if page, err := os.ReadFile(report); err != nil || strings.Count(string(page), `<svg class="timeline"`) != 2 {
		t.Errorf("the report %s has no timeline for cr1 in each variant (%v)", report, err)
	}
	if !regexp.MustCompile(`scenarios with every expectation met\s+0 of 1\s+1 of 1`).MatchString(out.String()) {
		t.Errorf("summary row missing or wrong:\n%s", out.String())
	}
	for _, want := range []string{"stock (status-go)", "cr1 delivered within 2s of reconnect", "FAIL not within",
		"attempts counted while offline", "deleted silently, nobody told", "failed, reported (retry button)", "still retrying"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDemoKeepsItsDataWithKeep: with -keep the demo says where the runs'
// node data and logs are, a directory per run.
func TestDemoKeepsItsDataWithKeep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go-waku nodes")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "quiet.yaml"), []byte("name: quiet\nnodes:\n  a: {}\n  b: {}\nsteps:\n  - wait: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildMvdsqa(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "-sim=false", "-keep", "-suite", dir, "-processes", "-node-binary", bin}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	m := regexp.MustCompile(`data and logs are kept in (\S+):`).FindStringSubmatch(out.String())
	if m == nil || filepath.Dir(m[1]) != tmp {
		t.Fatalf("the demo does not say where it kept the data in %s:\n%s", tmp, out.String())
	}
	for _, run := range []string{"quiet-stock-1", "quiet-guarded-1"} {
		if _, err := os.Stat(filepath.Join(m[1], run, "a", "node.db")); err != nil {
			t.Errorf("kept data: %v", err)
		}
	}
}

// buildMvdsqa builds this command once, for the scenarios' process nodes.
func buildMvdsqa(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build mvdsqa for process nodes")
	}
	bin := filepath.Join(t.TempDir(), "mvdsqa")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTheQASuitePassesOnTheGuard is the suite in CI: every scenario of
// fixtures/scenarios, on guarded nodes over real go-waku on 127.0.0.1,
// with results in JUnit XML and JSON. Time limits get a slack of 3: CI
// tests every package at once under the race detector, and epochs run
// late.
//
// Every node runs as an `mvdsqa node` process (built without the race
// detector): go-waku v0.10.0's peer manager writes a topic's health from
// two goroutines that hold only a read lock (checkAndUpdateTopicHealth,
// called from its 15-second connectivity loop and from its peer event
// loop), which the race detector reports in any node that lives through a
// few ticks with peers coming and going. The runner stays under the
// detector here; the node's own code is under it in package qanode.
func TestTheQASuitePassesOnTheGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole QA suite")
	}
	bin := buildMvdsqa(t)
	dir := t.TempDir()
	junit, jsonOut := filepath.Join(dir, "suite.xml"), filepath.Join(dir, "suite.json")
	var out, errOut bytes.Buffer
	code := run([]string{"run", "-q", "-slack", "3", "-processes", "-node-binary", bin, "-work", filepath.Join(dir, "work"),
		"-junit", junit, "-json", jsonOut, suite}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	var suites struct {
		Tests  int `xml:"tests,attr"`
		Fails  int `xml:"failures,attr"`
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil || xml.Unmarshal(b, &suites) != nil || len(suites.Suites) < 8 || suites.Fails != 0 || suites.Tests < 8*3 {
		t.Errorf("JUnit: %v %+v", err, suites)
	}
	var results []struct {
		Passed  bool   `json:"passed"`
		Variant string `json:"variant"`
	}
	b, err = os.ReadFile(jsonOut)
	if err != nil || json.Unmarshal(b, &results) != nil || len(results) < 8 {
		t.Errorf("JSON: %v %d results", err, len(results))
	}
	t.Logf("\n%s", out.String())
}

// TestInvalidScenarioExitsTwoNamingFileAndLine: nothing runs when a file is
// wrong, and the error says where.
func TestInvalidScenarioExitsTwoNamingFileAndLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nnodes: {a: {}}\nsteps:\n  - wait: soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"run", bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), bad+":4: wait") {
		t.Errorf("exit %d, stderr %q; want 2 and %s:4", code, errOut.String(), bad)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":        nil,
		"unknown command":   {"fly"},
		"bad flag":          {"demo", "-nope"},
		"bad epoch":         {"demo", "-epoch", "0s"},
		"too many msgs":     {"demo", "-messages", "100000"},
		"extra argument":    {"demo", "now"},
		"bad outage":        {"outage", "-outages", "1m,soon"},
		"outage too long":   {"outage", "-outages", "2000h"},
		"run nothing":       {"run"},
		"run bad variant":   {"run", "-variant", "both-ish", "x.yaml"},
		"run no file":       {"run", "/nonexistent/suite.yaml"},
		"run bad slack":     {"run", "-slack", "0.5", suite},
		"demo no suite":     {"demo", "-suite", "/nonexistent"},
		"demo listen port":  {"demo", "-listen-host", "127.0.0.1:60000"},
		"run listen empty":  {"run", "-listen-host", "", suite},
		"run listen any":    {"run", "-listen-host", "/ip4/0.0.0.0", suite},
		"node no data":      {"node"},
		"node bad policy":   {"node", "-data", "/tmp/x", "-policy", "one_to_one:colour=red"},
		"node exposed":      {"node", "-data", "/tmp/x", "-api", "0.0.0.0:8080"},
		"node stock policy": {"node", "-data", "/tmp/x", "-stock", "-policy", "one_to_one:attempts=3"},
		"node light serve":  {"node", "-data", "/tmp/x", "-light", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh", "-service"},
		"bench extra arg":   {"bench", "now"},
		"bench no rate":     {"bench", "-rate", "0"},
		"bench short":       {"bench", "-horizon", "1s"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d; want 2", name, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%s: nothing on stderr", name)
		}
	}
}

func TestOutageMatrixOfAShortOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the outage scenario")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"outage", "-messages", "50", "-outages", "1m"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 min") || !strings.Contains(out.String(), "guarded/stock") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestBenchMeasuresBothAndWritesItsSection runs a small bench: the stock
// node is given no time to recover (its numbers say "not within"), the
// Guard must deliver everything within 2 s of reconnecting, and the results
// replace the waku section of a benchmarks file.
func TestBenchMeasuresBothAndWritesItsSection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go-waku nodes")
	}
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(doc, []byte("# B\n\n<!-- waku:begin -->\nold\n<!-- waku:end -->\n\n<!-- runtime:begin -->\nkept\n<!-- runtime:end -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "-messages", "20", "-rate", "50", "-queued", "10", "-disconnect", "2s", "-horizon", "3s", "-within", "2s", "-doc", doc}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| acknowledged | 20 of 20 | 20 of 20 |", "| delivered within 2s of reconnecting | 0 of 10 | **10 of 10** |",
		"| attempts counted while offline | 10 | 0 |", "not within 3s", "— met.", "<!-- runtime:begin -->\nkept\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("benchmarks file lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "old") {
		t.Errorf("old section kept:\n%s", b)
	}
}
