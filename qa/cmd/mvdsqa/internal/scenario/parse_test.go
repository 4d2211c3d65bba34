package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const suiteDir = "../../../../../fixtures/scenarios"

func TestSuiteScenariosParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(suiteDir, "*.yaml"))
	if err != nil || len(files) < 8 {
		t.Fatalf("suite: %v, %d files", err, len(files))
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if s.Name == "" || len(s.Nodes) == 0 || len(s.Steps) == 0 || len(s.Expect) == 0 {
			t.Errorf("%s: parsed to %+v", f, s)
		}
	}
}

const valid = `name: ok
nodes:
  hub: {}
  alice: {}
  bob: {run: process}
groups:
  team: [alice, bob]
steps:
  - offline: alice
  - send: {from: alice, to: bob, id: m, flow: one_to_one, count: 3, every: 100ms}
  - online: alice
    label: back
expect:
  - delivered: {message: "m-*", within: 2s, after: back.end}
  - nothing_lost: true
`

func TestValidScenarioReadsAsWritten(t *testing.T) {
	s, err := Parse("ok.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 3 || s.Nodes[2].Run != Process || s.Nodes[0].Run != InProcess {
		t.Errorf("nodes %+v", s.Nodes)
	}
	send := s.Steps[1].Send
	if got := send.IDs(); len(got) != 3 || got[2] != "m-3" || send.Every != 100*time.Millisecond {
		t.Errorf("send %+v ids %v", send, got)
	}
	x := s.Expect[0]
	if x.Kind != ExpectDelivered || x.Within != 2*time.Second || x.After != "back.end" || x.Line != 14 {
		t.Errorf("expectation %+v", x)
	}
	if s.Timeout != DefaultTimeout || s.Expect[1].Kind != ExpectNothingLost {
		t.Errorf("defaults: %+v", s)
	}
}

// TestInvalidScenariosSayFileLineAndWhat: every mistake is reported as
// file:line: and a message that says what is wrong.
func TestInvalidScenariosSayFileLineAndWhat(t *testing.T) {
	for name, c := range map[string]struct {
		yaml string
		line int
		want string
	}{
		"YAML syntax":           {"name: x\nnodes:\n  a: {\n", 3, "YAML"},
		"unknown top-level key": {"name: x\ncolour: red\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 2, `unknown key "colour"`},
		"missing name":          {"nodes: {a: {}}\nsteps: [{wait: 1s}]\n", 1, "name: missing"},
		"missing steps":         {"name: x\nnodes: {a: {}}\n", 1, "steps: missing"},
		"empty file":            {"", 0, "empty file"},
		"not a mapping":         {"- a\n- b\n", 1, "want a mapping"},
		"bad node name":         {"name: x\nnodes:\n  9lives: {}\nsteps: [{wait: 1s}]\n", 3, "node name"},
		"unknown node field":    {"name: x\nnodes:\n  a: {colour: red}\nsteps: [{wait: 1s}]\n", 3, `unknown key "colour"`},
		"bad run":               {"name: x\nnodes:\n  a: {run: docker}\nsteps: [{wait: 1s}]\n", 3, "is not inprocess, process"},
		"remote without url":    {"name: x\nnodes:\n  a: {run: remote}\nsteps: [{wait: 1s}]\n", 3, "needs url"},
		"bad url":               {"name: x\nnodes:\n  a: {url: ftp://x}\nsteps: [{wait: 1s}]\n", 3, "http(s) URL"},
		"light without service": {"name: x\nnodes:\n  s: {}\n  l: {light: s}\nsteps: [{wait: 1s}]\n", 4, "does not serve light clients"},
		"connect to nobody":     {"name: x\nnodes:\n  a: {connect: [zed]}\nsteps: [{wait: 1s}]\n", 3, `no node named "zed"`},
		"group unknown member":  {"name: x\nnodes: {a: {}, b: {}}\ngroups:\n  g: [a, c]\nsteps: [{wait: 1s}]\n", 4, `no node named "c"`},
		"group of one":          {"name: x\nnodes: {a: {}}\ngroups:\n  g: [a]\nsteps: [{wait: 1s}]\n", 4, "at least two"},
		"send to unknown node":  {"name: x\nnodes: {a: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\n", 4, `send.to: no node named "b"`},
		"send to itself":        {"name: x\nnodes: {a: {}}\nsteps:\n  - send: {from: a, to: a, id: m, flow: one_to_one}\n", 4, "itself"},
		"send without flow":     {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m}\n", 4, "flow: missing"},
		"unknown flow":          {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: gossip}\n", 4, "gossip"},
		"unknown kind":          {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one, kind: loud}\n", 4, "kind"},
		"duplicate id": {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\n" +
			"  - send: {from: a, to: b, id: m, flow: one_to_one}\n", 5, "already sent at line 4"},
		"count too large":     {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one, count: 99999}\n", 4, "from 1 to 10000"},
		"bad duration":        {"name: x\nnodes: {a: {}}\nsteps:\n  - wait: soon\n", 4, `"soon" is not a duration`},
		"negative duration":   {"name: x\nnodes: {a: {}}\nsteps:\n  - wait: -1s\n", 4, "must be positive"},
		"two kinds in a step": {"name: x\nnodes: {a: {}}\nsteps:\n  - wait: 1s\n    offline: a\n", 5, "write two steps"},
		"step does nothing":   {"name: x\nnodes: {a: {}}\nsteps:\n  - label: x\n", 4, "say what happens"},
		"unknown step":        {"name: x\nnodes: {a: {}}\nsteps:\n  - explode: a\n", 4, `unknown key "explode"`},
		"kill remote":         {"name: x\nnodes:\n  r: {url: \"http://10.0.0.1:8080\"}\nsteps:\n  - kill: r\n", 5, "remote node"},
		"kill remote for":     {"name: x\nnodes:\n  r: {url: \"http://10.0.0.1:8080\"}\nsteps:\n  - kill: {node: r, for: 1s}\n", 5, "remote node"},
		"restart remote":      {"name: x\nnodes:\n  r: {url: \"http://10.0.0.1:8080\"}\nsteps:\n  - restart: r\n", 5, "remote node"},
		"sleep remote":        {"name: x\nnodes:\n  r: {url: \"http://10.0.0.1:8080\"}\nsteps:\n  - sleep: {node: r, for: 5s}\n", 5, "sleep.node: r is a remote node"},
		"sleep remote nested": {"name: x\nnodes:\n  r: {url: \"http://10.0.0.1:8080\"}\nsteps:\n  - parallel:\n    - wait: 1s\n    - sleep:\n        node: r\n        for: 5s\n", 8, "sleep.node: r is a remote node"},
		"partition one node":  {"name: x\nnodes: {a: {}}\nsteps:\n  - partition: [a, a]\n", 4, "two different nodes"},
		"flap incomplete":     {"name: x\nnodes: {a: {}}\nsteps:\n  - flap: {node: a, down: 1s}\n", 4, "needs node, down, up and times"},
		"label twice": {"name: x\nnodes: {a: {}}\nsteps:\n  - wait: 1s\n    label: l\n  - wait: 1s\n    label: l\n", 7,
			"already the label of line 5"},
		"reserved label":    {"name: x\nnodes: {a: {}}\nsteps:\n  - wait: 1s\n    label: end\n", 5, "reserved"},
		"retry before send": {"name: x\nnodes: {a: {}}\nsteps:\n  - retry: {node: a, message: m}\n", 4, "no earlier step sends"},
		"expect unknown message": {"name: x\nnodes: {a: {}}\nsteps: [{wait: 1s}]\nexpect:\n  - delivered: {message: zz, within: 1s}\n", 5,
			`no step sends "zz"`},
		"expect unknown label": {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\nexpect:\n" +
			"  - delivered: {message: m, within: 1s, after: nowhere}\n", 6, "neither a step label"},
		"expect without within": {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\nexpect:\n" +
			"  - delivered: {message: m}\n", 6, "needs message and within"},
		"expect two kinds": {"name: x\nnodes: {a: {}}\nsteps: [{wait: 1s}]\nexpect:\n  - no_duplicates: true\n    nothing_lost: true\n", 5,
			"exactly one"},
		"failed to a recipient": {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\nexpect:\n" +
			"  - failed:\n      message: m\n      within: 1s\n      to: b\n", 9, "failed.to: a message fails as a whole"},
		"unknown event type": {"name: x\nnodes: {a: {}, b: {}}\nsteps:\n  - send: {from: a, to: b, id: m, flow: one_to_one}\nexpect:\n" +
			"  - event: {message: m, within: 1s, type: exploded}\n", 6, "exploded"},
		"bad policy field":    {"name: x\npolicies:\n  one_to_one: {colour: red}\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 3, `unknown key "colour"`},
		"bad policy value":    {"name: x\npolicies:\n  one_to_one: {max: 1s}\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 3, "below the initial delay"},
		"unknown policy flow": {"name: x\npolicies:\n  gossip: {max: 1m}\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 3, "gossip"},
		"alias":               {"name: x\nnodes:\n  a: &n {}\n  b: *n\nsteps: [{wait: 1s}]\n", 3, "anchors and aliases"},
		"too deep": {"name: x\nnodes: {a: {}}\nsteps:\n  - parallel:\n    - parallel:\n      - parallel:\n        - parallel:\n          - parallel:\n" +
			"            - wait: 1s\n", 9, "nested more than"},
		"timeout too long": {"name: x\ntimeout: 2h\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 2, "at most"},
		"duplicate key":    {"name: x\nname: y\nnodes: {a: {}}\nsteps: [{wait: 1s}]\n", 2, `"name" appears twice`},
	} {
		_, err := Parse("bad.yaml", []byte(c.yaml))
		if err == nil {
			t.Errorf("%s: parsed without an error", name)
			continue
		}
		prefix := "bad.yaml:"
		if c.line > 0 {
			prefix = "bad.yaml:" + itoa(c.line) + ": "
		}
		if !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\n  want %q and %q", name, err, prefix, c.want)
		}
	}
}

// TestRemoteNodesTakeWhatTheAPICanDo: steps the runner does through a
// node's API are accepted for a remote node, and those it can do only to a
// node it runs are accepted for the others.
func TestRemoteNodesTakeWhatTheAPICanDo(t *testing.T) {
	s, err := Parse("ok.yaml", []byte(`name: remote
nodes:
  r: {url: "http://10.0.0.1:8080"}
  a: {}
  p: {run: process}
steps:
  - send: {from: a, to: r, id: m, flow: one_to_one}
  - offline: {node: r, for: 1s}
  - flap: {node: r, down: 1s, up: 1s, times: 2}
  - partition: [a, r]
  - heal: all
  - latency: {node: r, delay: 100ms}
  - clock_jump: {node: r, by: 1m}
  - disconnect: [a, r]
  - connect: [a, r]
  - retry: {node: a, message: m}
  - sleep: {node: a, for: 1s}
  - sleep: {node: p, for: 1s}
  - kill: {node: p, for: 1s}
expect:
  - failed: {message: m, within: 1s}
  - delivered: {message: m, within: 1s, to: r}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Steps) != 13 || len(s.Expect) != 2 || len(s.Expect[1].To) != 1 {
		t.Errorf("parsed to %+v", s)
	}
}

func TestAllProblemsAreReportedTogether(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("name: x\nnodes: {a: {}}\nsteps:\n  - wait: soon\n  - offline: zed\n  - send: {from: a, id: m}\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"bad.yaml:4:", "bad.yaml:5:", "bad.yaml:6:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in:\n%v", want, err)
		}
	}
}

func TestLoadRefusesWhatIsNotAScenarioFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("big file: %v", err)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, id string
		want        bool
	}{
		{"m", "m", true}, {"m", "m-1", false}, {"m-*", "m-12", true}, {"*", "anything", true},
		{"a*c", "abc", true}, {"a*c", "ab", false}, {"a*a", "a", false}, {"*-1", "m-1", true}, {"*x*", "axb", true},
	} {
		if got := Match(c.pattern, c.id); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.id, got)
		}
	}
}
