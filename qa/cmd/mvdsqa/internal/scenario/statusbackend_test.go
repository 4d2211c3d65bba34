package scenario

import (
	"strings"
	"testing"
)

func TestStatusBackendNodes(t *testing.T) {
	s, err := Parse("sg.yaml", []byte(`name: status-go
nodes:
  hub: {run: status-backend}
  alice: {run: status-backend, binary: /opt/status-backend}
  bob: {url: "http://127.0.0.1:12345", run: status-backend}
steps:
  - kill: {node: alice, for: 1s}
  - send: {from: alice, to: bob, id: m, flow: one_to_one}
expect:
  - delivered: {message: m, within: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	hub, alice, bob := s.Nodes[0], s.Nodes[1], s.Nodes[2]
	if hub.Run != StatusBackend || !hub.Owned() || alice.Binary != "/opt/status-backend" ||
		bob.Run != StatusBackend || bob.URL == "" || bob.Owned() {
		t.Errorf("nodes %+v", s.Nodes)
	}
}

func TestStatusBackendNodesRefuseWhatTheyCannotBe(t *testing.T) {
	for name, c := range map[string]struct {
		nodes string
		line  int
		want  string
	}{
		"binary on a go-waku node": {"  a: {binary: /x}\n  b: {}", 3, "binary is for status-backend nodes only"},
		"binary and url":           {"  a: {run: status-backend, binary: /x, url: \"http://127.0.0.1:1\"}\n  b: {}", 3, "from binary or reached at url, not both"},
		"service":                  {"  a: {run: status-backend, service: true}\n  b: {}", 3, "cannot serve light clients"},
		"empty binary":             {"  a: {run: status-backend, binary: \"\"}\n  b: {}", 3, "binary: empty path"},
		"kill one it did not start": {"  a: {run: status-backend, url: \"http://127.0.0.1:1\"}\n  b: {}\nsteps:\n  - kill: a", 6,
			"a is a status-backend the runner did not start (url)"},
	} {
		text := "name: x\nnodes:\n" + c.nodes + "\n"
		if !strings.Contains(c.nodes, "steps:") {
			text += "steps:\n  - wait: 1s\n"
		}
		text += "expect:\n  - nothing_lost: true\n"
		_, err := Parse("sg.yaml", []byte(text))
		prefix := "sg.yaml:" + itoa(c.line) + ":"
		if err == nil || !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\n  want %q and %q", name, err, prefix, c.want)
		}
	}
}
