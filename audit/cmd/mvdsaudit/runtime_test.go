package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var logFixtures = filepath.Join("..", "..", "..", "fixtures", "logs")

// runtimeAudit runs the runtime subcommand in-process.
func runtimeAudit(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	code := runRuntime(args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRuntimeReportsViolationsWithExitCodeOne(t *testing.T) {
	code, out, errOut := runtimeAudit(t, nil, "-year", "2024", filepath.Join(logFixtures, "geth-2024.log"))
	if code != exitFindings {
		t.Fatalf("exit %d; want %d\n%s%s", code, exitFindings, out, errOut)
	}
	for _, want := range []string{"MA1001 error not-mvds [geth-2024]: contact_request message", "MA2001 error silent-drop", "MA2002 error no-retry-after-reconnect",
		"geth-2024.log:", "5 violations: 5 errors"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestRuntimeIsCleanWithExitCodeZero(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "quiet.json")
	// The session's bypasses become warnings and its lost message is given
	// an hour: nothing fails the run.
	os.WriteFile(cfg, []byte(`{"horizon": "1h", "reconnectWithin": "3m", "severity": {"MA1001": "warning"}}`), 0o644)
	code, out, errOut := runtimeAudit(t, nil, "-config", cfg, "-year", "2024", filepath.Join(logFixtures, "zap-console.log"))
	if code != exitClean || !strings.Contains(out, "3 violations: 0 errors, 3 warnings") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestRuntimeReadsStandardInput(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(logFixtures, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runtimeAudit(t, bytes.NewReader(data), "-format", "json", "-")
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep struct {
		Inputs []struct {
			Name    string `json:"name"`
			Records int    `json:"records"`
		} `json:"inputs"`
		Violations []struct {
			Check string `json:"check"`
		} `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Inputs[0].Name != "-" || rep.Inputs[0].Records != 31 || len(rep.Violations) != 5 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(errOut, "5 violations") {
		t.Fatalf("no summary on stderr: %q", errOut)
	}
}

func TestRuntimeWritesJUnitToAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.xml")
	code, out, _ := runtimeAudit(t, nil, "-format", "junit", "-o", path, "-year", "2024", filepath.Join(logFixtures, "interleaved.log"))
	if code != exitFindings || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil || suites.Failures != 8 {
		t.Fatalf("%v, %d failures", err, suites.Failures)
	}
}

func TestRuntimeUnusableInputExitsWithTwo(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o644)
	garbage := filepath.Join(dir, "garbage.log")
	os.WriteFile(garbage, []byte("hello\n\x00\x01\x02\nnot a log\n"), 0o644)
	badConfig := filepath.Join(dir, "bad.json")
	os.WriteFile(badConfig, []byte(`{"horizon": "soon"}`), 0o644)
	fixture := filepath.Join(logFixtures, "geth-2024.log")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty input", []string{empty}, "empty.log is empty"},
		{"nothing understood", []string{garbage}, "none of the 3 lines"},
		{"no such file", []string{filepath.Join(dir, "missing.log")}, "no such file"},
		{"bad configuration", []string{"-config", badConfig, fixture}, badConfig + `:1:13: horizon: "soon" is not a duration`},
		{"bad format", []string{"-format", "sarif", fixture}, `unknown -format "sarif"`},
		{"standard input among files", []string{fixture, "-"}, "cannot be mixed"},
		{"bad pattern", []string{"-node-pattern", "(", fixture}, "-node-pattern"},
		{"no file behind a glob", []string{filepath.Join(dir, "*.nothing")}, "the glob matches no file"},
		{"bad year", []string{"-year", "-3", fixture}, "-year"},
		{"bad flag", []string{"-horizon", "1h", fixture}, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runtimeAudit(t, nil, c.args...)
			if code != exitFailure || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d; stderr %q; want 2 and %q", code, errOut, c.want)
			}
		})
	}
	// Garbage is still reported, so the user sees why.
	_, out, _ := runtimeAudit(t, nil, garbage)
	if !strings.Contains(out, "not understood: 3") {
		t.Fatalf("report of an unusable input:\n%s", out)
	}
}

func TestRuntimeHelpExitsCleanly(t *testing.T) {
	code, _, errOut := runtimeAudit(t, nil, "-h")
	if code != exitClean || !strings.Contains(errOut, "usage: mvdsaudit runtime") {
		t.Fatalf("exit %d %q", code, errOut)
	}
}

// The binary dispatches the subcommand before anything the static audit
// does, even for an input whose name looks like a go vet configuration.
func TestTheBinaryRunsTheRuntimeSubcommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mvdsaudit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(logFixtures, "records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "records.cfg")
	os.WriteFile(input, data, 0o644)
	cmd := exec.Command(bin, "runtime", input)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != exitFindings || !strings.Contains(string(out), "MA2004 error duplicate-receipt") {
		t.Fatalf("%v\n%s", err, out)
	}
}
