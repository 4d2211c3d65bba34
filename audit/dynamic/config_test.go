package dynamic_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestAConfigurationChangesOnlyWhatItNames(t *testing.T) {
	c, err := dynamic.ParseConfig([]byte(`{
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
	d := dynamic.DefaultConfig()
	if c.Horizon != time.Hour || c.ReconnectWithin != 90*time.Second || c.Lateness != d.Lateness || c.Year != 2024 {
		t.Fatalf("durations %v %v %v year %d", c.Horizon, c.ReconnectWithin, c.Lateness, c.Year)
	}
	if c.Severity["MA2001"] != rule.SeverityWarning || c.Severity["MA2004"] != rule.SeverityOff || len(c.Severity) != 2 {
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
	// The defaults are untouched.
	if f, _ := dynamic.DefaultConfig().Flows.Classify(statusgo.PinMessage, nil, statusgo.ChatOneToOne); f != mvdsguard.OneToOne {
		t.Fatal("a configuration changed the default flow table")
	}
}

func TestBadConfigurationsSayWhatIsWrong(t *testing.T) {
	cases := map[string]string{
		`{"horizn": "1h"}`:                            `unknown field "horizn"`,
		`{"horizon": "soon"}`:                         `horizon: "soon" is not a duration`,
		`{"horizon": "-1m"}`:                          "horizon -1m0s must be positive",
		`{"horizon": 600}`:                            `field "horizon" is a JSON number, want a string`,
		`{"severity": {"MA2001": "fatal"}}`:           "unknown severity",
		`{"severity": {"MA1002": "error"}}`:           `unknown check "MA1002"`,
		`{"flows": {"types": {"SELFIE": "other"}}}`:   `unknown message type "SELFIE"`,
		`{"flows": {"types": {"CHAT_MESSAGE": "x"}}}`: `unknown flow "x"`,
		`{"limits": {"open": -1}}`:                    "must all be at least 1",
		`{"version": 2}`:                              "reads version 1",
		`{} {}`:                                       "unexpected data",
		`[]`:                                          "want a JSON object, got a JSON array",
	}
	for in, want := range cases {
		if _, err := dynamic.ParseConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.json")
	if err := os.WriteFile(path, []byte(`{"lateness": "2s"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := dynamic.LoadConfig(path)
	if err != nil || c.Lateness != 2*time.Second {
		t.Fatalf("%v %v", c.Lateness, err)
	}
	if err := os.WriteFile(path, []byte(`{"lateness": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamic.LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("%v; want the path in the error", err)
	}
	if _, err := dynamic.LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing file is no error")
	}
}
