package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite fixtures/statusgo/expected-sites.json from the current output")

var fixtures = filepath.Join("..", "..", "..", "fixtures", "statusgo")

// audit runs the command in-process and returns its exit code and output.
func audit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cached := false
	for _, a := range args {
		cached = cached || strings.HasPrefix(a, "-cache")
	}
	if !cached {
		// Tests must not read or fill the user's cache.
		args = append([]string{"-cache=false"}, args...)
	}
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

type jsonReport struct {
	Summary struct {
		Sites    int            `json:"sites"`
		Verdicts map[string]int `json:"verdicts"`
		BySyntax int            `json:"judgedBySyntax"`
	} `json:"summary"`
	Sites []struct {
		Pos         string `json:"pos"`
		Function    string `json:"function"`
		Flow        string `json:"flow"`
		MessageType string `json:"messageType"`
		SendCall    string `json:"sendCall"`
		ResendType  string `json:"resendType"`
		Verdict     string `json:"verdict"`
		Resolution  string `json:"resolution"`
		Outcomes    []any  `json:"outcomes"`
	} `json:"sites"`
	Findings []struct {
		Rule     string `json:"rule"`
		Pos      string `json:"pos"`
		Message  string `json:"message"`
		Severity string `json:"severity"`
	} `json:"findings"`
	Suppressed []struct {
		Rule   string `json:"rule"`
		Reason string `json:"reason"`
	} `json:"suppressed"`
	Baselined []any `json:"baselined"`
}

func parseReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	return r
}

// expectedSite is one line of the expectation file: the fields the issue
// asks every site to have.
type expectedSite struct {
	Pos         string `json:"pos"`
	Function    string `json:"function"`
	Flow        string `json:"flow"`
	MessageType string `json:"messageType"`
	SendCall    string `json:"sendCall"`
	ResendType  string `json:"resendType"`
	Verdict     string `json:"verdict"`
}

func TestFixtureSitesMatchTheExpectationFile(t *testing.T) {
	code, out, stderr := audit(t, "-format", "json", "-C", fixtures, "./...")
	if code != exitFindings {
		t.Fatalf("exit code %d; want %d (the fixtures contain error findings)\n%s", code, exitFindings, stderr)
	}
	r := parseReport(t, out)
	var got []expectedSite
	for _, s := range r.Sites {
		got = append(got, expectedSite{s.Pos, s.Function, s.Flow, s.MessageType, s.SendCall, s.ResendType, s.Verdict})
		if len(s.Outcomes) == 0 {
			t.Errorf("%s: site without outcomes", s.Pos)
		}
		if s.Resolution != "types" {
			t.Errorf("%s: judged by %s; the fixture module type-checks, so want types", s.Pos, s.Resolution)
		}
	}
	path := filepath.Join(fixtures, "expected-sites.json")
	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read expectations (run go test -update to create them): %v", err)
	}
	var want []expectedSite
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if !reflect.DeepEqual(got, want) {
		gotIdx := map[expectedSite]bool{}
		for _, s := range got {
			gotIdx[s] = true
		}
		wantIdx := map[expectedSite]bool{}
		for _, s := range want {
			wantIdx[s] = true
			if !gotIdx[s] {
				t.Errorf("missing site: %+v", s)
			}
		}
		for _, s := range got {
			if !wantIdx[s] {
				t.Errorf("unexpected site: %+v", s)
			}
		}
		if len(got) != len(want) {
			t.Errorf("got %d sites, want %d", len(got), len(want))
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	offAll := filepath.Join(dir, "off.json")
	writeFile(t, offAll, `{"version": 1, "severity": {"MA1001": "warning", "MA1002": "warning", "MA1003": "warning", "MA1006": "warning", "MA9001": "warning"}}`)
	cases := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"error findings", []string{"-C", fixtures, "./..."}, exitFindings, ""},
		{"nothing to report in a forwarding package", []string{"-C", fixtures, "./protocol/relay"}, exitClean, ""},
		{"errors downgraded by the config", []string{"-C", fixtures, "-config", offAll, "./..."}, exitClean, ""},
		{"no packages", []string{"-C", fixtures}, exitFailure, "no packages given"},
		{"pattern matching nothing", []string{"-C", fixtures, "./nowhere/..."}, exitFailure, "matched no packages"},
		{"unknown format", []string{"-format", "xml", "./..."}, exitFailure, `unknown -format "xml"`},
		{"unknown flag", []string{"-frobnicate", "./..."}, exitFailure, "frobnicate"},
		{"missing directory", []string{"-C", filepath.Join(dir, "absent"), "./..."}, exitFailure, "go list"},
		{"missing config", []string{"-config", filepath.Join(dir, "absent.json"), "./..."}, exitFailure, "absent.json"},
		{"missing baseline", []string{"-baseline", filepath.Join(dir, "absent.json"), "./..."}, exitFailure, "absent.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := audit(t, tc.args...)
			if code != tc.want {
				t.Fatalf("exit code %d; want %d\n%s", code, tc.want, stderr)
			}
			if tc.msg != "" && !strings.Contains(stderr, tc.msg) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.msg)
			}
		})
	}
}

func TestUnknownConfigKeyIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.json")
	writeFile(t, path, "{\n  \"version\": 1,\n  \"severities\": {\"MA1001\": \"off\"}\n}\n")
	code, _, stderr := audit(t, "-C", fixtures, "-config", path, "./...")
	if code != exitFailure || !strings.Contains(stderr, path+`:3:3: unknown key "severities"`) || !strings.Contains(stderr, `did you mean "severity"`) {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming the file, line and key", code, stderr)
	}
}

func TestSuppressedFindingsAreKeptWithTheirReason(t *testing.T) {
	_, out, _ := audit(t, "-format", "json", "-C", fixtures, "./...")
	r := parseReport(t, out)
	if len(r.Suppressed) != 1 || r.Suppressed[0].Rule != "MA1002" || !strings.Contains(r.Suppressed[0].Reason, "next membership update") {
		t.Fatalf("suppressed = %+v; want the MA1002 in directives.go with its reason", r.Suppressed)
	}
	var malformed, unused bool
	for _, f := range r.Findings {
		malformed = malformed || f.Rule == "MA9001" && strings.Contains(f.Message, "has no reason")
		unused = unused || f.Rule == "MA9002" && strings.Contains(f.Pos, "directives.go")
	}
	if !malformed || !unused {
		t.Fatalf("findings lack the malformed (%v) or unused (%v) directive", malformed, unused)
	}
}

func TestBaselineFailsOnlyOnNewFindings(t *testing.T) {
	mod := copyModule(t, fixtures)
	base := filepath.Join(t.TempDir(), "baseline.json")
	if code, _, stderr := audit(t, "-C", mod, "-write-baseline", base, "./..."); code != exitClean {
		t.Fatalf("write-baseline: exit %d\n%s", code, stderr)
	}
	code, out, stderr := audit(t, "-format", "json", "-C", mod, "-baseline", base, "./...")
	if code != exitClean {
		t.Fatalf("with the baseline: exit %d; want 0\n%s\n%s", code, out, stderr)
	}
	if r := parseReport(t, out); len(r.Baselined) == 0 {
		t.Fatal("no finding was matched by the baseline")
	}
	// A fixed finding leaves a stale entry, reported so the baseline can
	// shrink.
	insertLines(t, filepath.Join(mod, "protocol", "messages.go"), "common.ResendTypeNone,", "common.ResendTypeDataSync, //")
	_, out, _ = audit(t, "-format", "json", "-C", mod, "-baseline", base, "./...")
	stale := 0
	for _, f := range parseReport(t, out).Findings {
		if f.Rule == "MA9004" && f.Severity == "info" && strings.Contains(f.Message, "EMOJI_REACTION") {
			stale++
		}
	}
	if stale != 2 {
		t.Fatalf("%d stale-entry findings after fixing the reaction; want one per flow (2)\n%s", stale, out)
	}
	// Lines move: an edit above every finding must not make them new.
	insertLines(t, filepath.Join(mod, "protocol", "group_chat.go"), "import (", "\n// an edit that moves every line\n")
	appendFile(t, filepath.Join(mod, "protocol", "group_chat.go"), `
func (m *Messenger) announceAgain(ctx context.Context, chat *Chat) error {
	_, err := m.dispatchMessage(ctx, common.RawMessage{
		LocalChatID: chat.ID,
		MessageType: protobuf.ApplicationMetadataMessage_MEMBERSHIP_UPDATE_MESSAGE,
	})
	return err
}
`)
	code, out, stderr = audit(t, "-format", "json", "-C", mod, "-baseline", base, "./...")
	if code != exitFindings {
		t.Fatalf("after adding a bad send: exit %d; want 1\n%s", code, stderr)
	}
	r := parseReport(t, out)
	var errs []string
	for _, f := range r.Findings {
		if f.Severity == "error" {
			errs = append(errs, f.Pos+" "+f.Rule)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "group_chat.go") || !strings.Contains(errs[0], "MA1002") {
		t.Fatalf("error findings past the baseline = %v; want only the new MA1002", errs)
	}
}

func TestSARIFIsCodeScanningShaped(t *testing.T) {
	code, out, _ := audit(t, "-format", "sarif", "-C", fixtures, "./...")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	var log struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID      string `json:"id"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []struct {
					Kind string `json:"kind"`
				} `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 {
		t.Fatalf("version %q schema %q runs %d", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "mvdsaudit" || len(run.Tool.Driver.Rules) < 10 {
		t.Fatalf("driver %+v", run.Tool.Driver)
	}
	if !strings.HasPrefix(run.OriginalURIBaseIDs["%SRCROOT%"].URI, "file:///") {
		t.Errorf("SRCROOT = %q; want a file URI", run.OriginalURIBaseIDs["%SRCROOT%"].URI)
	}
	suppressed := 0
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule %d", res.RuleID, res.RuleIndex)
		}
		if len(res.Locations) != 1 {
			t.Fatalf("result %s has %d locations", res.RuleID, len(res.Locations))
		}
		loc := res.Locations[0].PhysicalLocation
		if strings.HasPrefix(loc.ArtifactLocation.URI, "/") || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" || loc.Region.StartLine == 0 {
			t.Errorf("result %s location %+v; want a relative URI and a line", res.RuleID, loc)
		}
		if res.Message.Text == "" || res.PartialFingerprints["mvdsaudit/v1"] == "" {
			t.Errorf("result %s lacks a message or fingerprint", res.RuleID)
		}
		switch res.Level {
		case "error", "warning", "note":
		default:
			t.Errorf("result %s level %q", res.RuleID, res.Level)
		}
		if len(res.Suppressions) > 0 {
			suppressed++
		}
	}
	if suppressed != 1 {
		t.Errorf("%d suppressed results; want the one in directives.go", suppressed)
	}
}

func TestTextReportAndSites(t *testing.T) {
	code, out, stderr := audit(t, "-sites", "-C", fixtures, "./protocol")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"protocol/contacts.go:16:12: site contact_request ACCEPT_CONTACT_REQUEST via Messenger.dispatchMessage: mvds",
		"protocol/group_chat.go:13:12: MA1002 [error] private_group message MEMBERSHIP_UPDATE_MESSAGE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "mvdsaudit: ") || !strings.Contains(stderr, "sites in") {
		t.Errorf("no summary line on stderr: %q", stderr)
	}
}

func TestBrokenInputStillGetsAudited(t *testing.T) {
	mod := copyModule(t, fixtures)
	// A file with a syntax error, in a package that also has good files.
	writeFile(t, filepath.Join(mod, "protocol", "broken.go"), "package protocol\n\nfunc broken( {\n")
	// An import of a package that does not exist.
	writeFile(t, filepath.Join(mod, "protocol", "relay", "missing.go"), "package relay\n\nimport _ \"github.com/status-im/status-go/protocol/migrations\"\n")
	code, out, stderr := audit(t, "-format", "json", "-C", mod, "./...")
	if code != exitFindings {
		t.Fatalf("exit %d; want 1: the other files still have findings\n%s", code, stderr)
	}
	r := parseReport(t, out)
	var syntax, missing bool
	for _, f := range r.Findings {
		if f.Rule != "MA9003" {
			continue
		}
		syntax = syntax || strings.Contains(f.Pos, "broken.go:3") && strings.Contains(f.Message, "syntax error")
		missing = missing || strings.Contains(f.Message, "protocol/migrations")
	}
	if !syntax || !missing {
		t.Fatalf("load findings: syntax error named %v, missing package named %v\n%s", syntax, missing, out)
	}
	if r.Summary.Sites < 40 {
		t.Fatalf("%d sites; the good files should still be audited", r.Summary.Sites)
	}
}

func TestPlainCloneIsJudgedBySyntax(t *testing.T) {
	code, out, _ := audit(t, "-format", "json", "-C", filepath.Join("..", "..", "..", "fixtures", "plainclone"), "./...")
	if code != exitFindings {
		t.Fatalf("exit %d; want 1", code)
	}
	r := parseReport(t, out)
	if r.Summary.Sites != 3 || r.Summary.BySyntax != 3 {
		t.Fatalf("summary %+v; want 3 sites, all judged by syntax", r.Summary)
	}
}

func TestNothingToAnalyse(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/empty\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "a.go"), "package a\n")
	code, _, stderr := audit(t, "-C", dir, "./...")
	if code != exitClean || !strings.Contains(stderr, "0 sites") {
		t.Fatalf("exit %d, stderr %q; a module without status-go has nothing to report", code, stderr)
	}
	writeFile(t, filepath.Join(dir, "b.go"), "package a\nfunc (\n")
	code, _, stderr = audit(t, "-C", dir, "./...")
	if code == exitFailure {
		t.Fatalf("a syntax error in an unrelated package made the run fail: %s", stderr)
	}
}

func TestVetTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool and runs go vet")
	}
	bin := filepath.Join(t.TempDir(), "mvdsaudit")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	vet := exec.Command("go", "vet", "-vettool="+bin, "./...")
	vet.Dir = fixtures
	out, err := vet.CombinedOutput()
	if err == nil {
		t.Fatalf("go vet succeeded; want the fixture's findings\n%s", out)
	}
	// relay.Publish is only known through a fact exported by another
	// package: go vet carries facts between its per-package runs.
	for _, want := range []string{"(MA1003)", "(MA1006)", "via relay.Publish → MessageSender.SendPublic"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("go vet output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "(MA1002)") && strings.Contains(string(out), "directives.go:14") {
		t.Errorf("the suppressed finding in directives.go was reported under go vet\n%s", out)
	}
	cfg := filepath.Join(t.TempDir(), "audit.json")
	writeFile(t, cfg, `{"version": 1, "severity": {"MA1001": "off", "MA1002": "off", "MA1003": "off", "MA1004": "off", "MA1005": "off", "MA1006": "off", "MA9001": "off", "MA9002": "off"}}`)
	vet = exec.Command("go", "vet", "-vettool="+bin, "-mvdsaudit.config="+cfg, "./...")
	vet.Dir = fixtures
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("go vet with every rule off: %v\n%s", err, out)
	}
}

func TestCacheIsReusedAndInvalidatedByEdits(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	mod := copyModule(t, fixtures)
	_, first, _ := audit(t, "-cache=true", "-format", "json", "-C", mod, "./...")
	_, again, _ := audit(t, "-cache=true", "-format", "json", "-C", mod, "./...")
	if first != again {
		t.Fatal("a cached run reports something else than the run that filled the cache")
	}
	entries, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "mvdsaudit", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries = %v; want one per directory and arguments", entries)
	}
	appendFile(t, filepath.Join(mod, "protocol", "group_chat.go"), `
func (m *Messenger) announceAgain(ctx context.Context, chat *Chat) error {
	_, err := m.dispatchMessage(ctx, common.RawMessage{LocalChatID: chat.ID, MessageType: protobuf.ApplicationMetadataMessage_MEMBERSHIP_UPDATE_MESSAGE})
	return err
}
`)
	_, edited, _ := audit(t, "-cache=true", "-format", "json", "-C", mod, "./...")
	if parseReport(t, edited).Summary.Sites != parseReport(t, first).Summary.Sites+1 {
		t.Fatal("an edit did not invalidate the cached result")
	}
}

func TestTestFilesAreAuditedOnlyWithTheTestFlag(t *testing.T) {
	mod := copyModule(t, fixtures)
	send := `
func (m *Messenger) %s(ctx context.Context, chat *Chat) error {
	_, err := m.dispatchMessage(ctx, common.RawMessage{LocalChatID: chat.ID, MessageType: protobuf.ApplicationMetadataMessage_MEMBERSHIP_UPDATE_MESSAGE})
	return err
}
`
	imports := "package protocol\n\nimport (\n\t\"context\"\n\n\t\"github.com/status-im/status-go/protocol/common\"\n\t\"github.com/status-im/status-go/protocol/protobuf\"\n)\n"
	writeFile(t, filepath.Join(mod, "protocol", "helpers_test.go"), imports+fmt.Sprintf(send, "announceInTest"))
	writeFile(t, filepath.Join(mod, "protocol", "external_test.go"), strings.Replace(imports, "package protocol", "package protocol_test", 1)+
		"\nvar _ = context.Background\nvar _ = common.ResendTypeNone\n\nfunc sendFromOutside() common.RawMessage {\n\treturn common.RawMessage{MessageType: protobuf.ApplicationMetadataMessage_ACCEPT_CONTACT_REQUEST}\n}\n")
	_, without, _ := audit(t, "-format", "json", "-C", mod, "./protocol")
	_, with, stderr := audit(t, "-format", "json", "-test", "-C", mod, "./protocol")
	n0, n1 := parseReport(t, without).Summary.Sites, parseReport(t, with).Summary.Sites
	if n1 != n0+1 {
		t.Fatalf("sites without -test %d, with -test %d; want one more (the send in helpers_test.go)\n%s", n0, n1, stderr)
	}
	if !strings.Contains(with, "helpers_test.go") {
		t.Fatal("the site in the test file is not reported")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data)+content)
}

func insertLines(t *testing.T, path, after, text string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), after, text+after, 1)
	writeFile(t, path, s)
}

// copyModule copies a fixture module to a temporary directory, so a test
// can change it.
func copyModule(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}
