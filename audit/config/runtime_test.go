package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestARuntimeFileChangesOnlyWhatItNames(t *testing.T) {
	c, err := config.ParseRuntime("runtime.json", []byte(`{
		"version": 1,
		"horizon": "1h",
		"reconnectWithin": "90s",
		"year": 2024,
		"severity": {"MA2001": "warning", "MA2004": "off"},
		"flows": {"types": {"SYNC_PAIR_INSTALLATION": "contact_request", "PIN_MESSAGE": "other"},
		          "contents": {"STICKER": "one_to_one"}},
		"limits": {"open": 10, "violations": 3}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	d := config.DefaultRuntime()
	if c.Horizon != time.Hour || c.ReconnectWithin != 90*time.Second || c.Lateness != d.Lateness || c.Year != 2024 {
		t.Fatalf("durations %v %v %v year %d", c.Horizon, c.ReconnectWithin, c.Lateness, c.Year)
	}
	if c.SeverityOf(rule.SilentDrop) != rule.SeverityWarning || c.SeverityOf(rule.DuplicateReceipt) != rule.SeverityOff ||
		c.SeverityOf(rule.NotMVDS) != rule.SeverityError || len(c.Severity) != 2 {
		t.Fatalf("severity %v", c.Severity)
	}
	if f, _ := c.Flows.Classify(4, nil, statusgo.ChatUnknown); f != mvdsguard.ContactRequest {
		t.Fatalf("SYNC_PAIR_INSTALLATION is %v", f)
	}
	if f, _ := c.Flows.Classify(statusgo.PinMessage, nil, statusgo.ChatOneToOne); f != mvdsguard.Other {
		t.Fatalf("PIN_MESSAGE is %v", f)
	}
	sticker := statusgo.ContentType(2)
	if f, _ := c.Flows.Classify(statusgo.ChatMessage, &sticker, statusgo.ChatPublic); f != mvdsguard.OneToOne {
		t.Fatalf("a sticker is %v", f)
	}
	if c.Limits.Open != 10 || c.Limits.Violations != 3 || c.Limits.Finished != d.Limits.Finished {
		t.Fatalf("limits %+v", c.Limits)
	}
	if f, _ := config.DefaultRuntime().Flows.Classify(statusgo.PinMessage, nil, statusgo.ChatOneToOne); f != mvdsguard.OneToOne {
		t.Fatal("a configuration changed the default flow table")
	}
}

// A runtime file may leave the version out, as it always could.
func TestARuntimeFileWithoutAVersionIsVersionOne(t *testing.T) {
	c, err := config.ParseRuntime("runtime.json", []byte(`{"lateness": "0s"}`))
	if err != nil || c.Lateness != 0 {
		t.Fatalf("lateness %v, %v", c.Lateness, err)
	}
}

func TestBadRuntimeFilesAreNamedWhereTheyAreWrong(t *testing.T) {
	cases := map[string]string{
		`{"horizn": "1h"}`:                                `runtime.json:1:2: unknown key "horizn" at the top level (want one of version, horizon,`,
		`{"horizon": "soon"}`:                             `runtime.json:1:13: horizon: "soon" is not a duration such as "90s" or "10m"`,
		`{"horizon": "-1m"}`:                              `runtime.json:1:13: horizon: -1m0s is not positive`,
		`{"horizon": 600}`:                                `horizon: want a duration in a string such as "90s" or "10m", not a number`,
		`{"lateness": "-1s"}`:                             `lateness: -1s is negative`,
		`{"year": 20240}`:                                 `year: 20240 is not a year`,
		`{"year": 2024.5}`:                                `year: want a whole number, not 2024.5`,
		`{"severity": {"MA2001": "fatal"}}`:               `severity.MA2001: unknown severity "fatal"`,
		`{"severity": {"MA1002": "error"}}`:               `MA1002 (no-fail-path) is a rule of the static audit, not of the runtime audit (want one of MA1001, MA2001, MA2002, MA2003, MA2004)`,
		`{"flows": {"types": {"SELFIE": "other"}}}`:       `flows.types.SELFIE: unknown message type "SELFIE"`,
		`{"flows": {"types": {"CHAT_MESSAGE": "x"}}}`:     `flows.types.CHAT_MESSAGE: unknown flow "x"`,
		`{"flows": {"chatOf": {"one_to_one": "public"}}}`: `key "chatOf" in flows belongs to the static audit's configuration`,
		`{"sendFunctions": {}}`:                           `key "sendFunctions" at the top level belongs to the static audit's configuration`,
		`{"limits": {"open": -1}}`:                        `runtime.json:1:21: limits.open: -1 is less than 1`,
		`{"limits": {"opne": 1}}`:                         `did you mean "open"?`,
		`{"version": 2}`:                                  `version: this mvdsaudit reads version 1, not 2`,
		`{} {}`:                                           `runtime.json:1:4: unexpected data after the configuration object`,
		`[]`:                                              `the configuration must be a JSON object, not an array`,
	}
	for in, want := range cases {
		if _, err := config.ParseRuntime("runtime.json", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
	}
}

func TestValidateNamesTheKeyOfEachProblem(t *testing.T) {
	c := config.DefaultRuntime()
	c.Horizon = 0
	c.Limits.Receipts = 0
	c.Severity[rule.NoFailPath] = rule.SeverityOff
	err := c.Validate()
	for _, want := range []string{"horizon: 0s is not positive", "limits.receipts: 0 is less than 1", "severity.MA1002: MA1002 (no-fail-path) is a rule of the static audit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want %q", err, want)
		}
	}
	if err := config.DefaultRuntime().Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestLoadRuntimeNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.json")
	if err := os.WriteFile(path, []byte(`{"lateness": "2s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadRuntime(path)
	if err != nil || c.Lateness != 2*time.Second {
		t.Fatalf("%v %v", c.Lateness, err)
	}
	if err := os.WriteFile(path, []byte(`{"lateness": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadRuntime(path); err == nil || !strings.HasPrefix(err.Error(), path+":1:14: lateness: ") {
		t.Fatalf("%v; want the path, line and key in the error", err)
	}
	if _, err := config.LoadRuntime(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("%v; want the missing file named", err)
	}
}
