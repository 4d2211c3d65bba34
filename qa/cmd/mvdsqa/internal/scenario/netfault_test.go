package scenario

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
)

const validKernel = `name: kernel
nodes:
  hub: {}
  alice: {run: process}
  bob: {}
steps:
  - netem: {node: alice, delay: 1s, jitter: 100ms, loss: 50%, rate: 1kbit, for: 10s}
  - netem: {link: [alice, bob], duplicate: 1%, reorder: 25%, delay: 10ms}
  - link_down: {node: bob, for: 30s}
  - link_up: bob
  - ip_change: alice
  - pause: {node: alice, for: 20s}
`

func TestKernelStepsReadAsWritten(t *testing.T) {
	s, err := Parse("k.yaml", []byte(validKernel))
	if err != nil {
		t.Fatal(err)
	}
	want := netfault.Shape{Delay: time.Second, Jitter: 100 * time.Millisecond, Loss: 50, Rate: 1000}
	if st := s.Steps[0]; st.Kind != StepNetem || st.Node != "alice" || st.Shape != want || st.For != 10*time.Second {
		t.Errorf("netem node: %+v", st)
	}
	if st := s.Steps[1]; st.Pair != [2]string{"alice", "bob"} || st.Shape.Duplicate != 1 || st.Shape.Reorder != 25 {
		t.Errorf("netem link: %+v", st)
	}
	if st := s.Steps[2]; st.Kind != StepLinkDown || st.Node != "bob" || st.For != 30*time.Second {
		t.Errorf("link_down: %+v", st)
	}
	if st := s.Steps[5]; st.Kind != StepPause || st.For != 20*time.Second {
		t.Errorf("pause: %+v", st)
	}
	if st, ok := s.NeedsNetns(); !ok || st.Line != 7 {
		t.Errorf("NeedsNetns: %v at %d, want line 7", ok, st.Line)
	}
}

func TestPauseAloneNeedsNoNamespaces(t *testing.T) {
	s, err := Parse("p.yaml", []byte("name: p\nnodes:\n  a: {run: process}\nsteps:\n  - pause: {node: a, for: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.NeedsNetns(); ok {
		t.Error("pause needs no -netns")
	}
}

func TestImpossibleKernelFaultsNameTheLine(t *testing.T) {
	head := "name: bad\nnodes:\n  a: {}\n  b: {}\n  r: {url: \"http://192.0.2.1:8080\"}\nsteps:\n"
	for _, c := range []struct{ step, want string }{
		{"  - netem: {node: a, loss: 150%}", "bad.yaml:7: netem: loss 150%: want a percentage from 0 to 100"},
		{"  - netem: {node: a, delay: 100ms, jitter: 1s}", "bad.yaml:7: netem: jitter 1s: want 0 up to the delay"},
		{"  - netem: {node: a, delay: 2m}", "bad.yaml:7: netem: delay 2m0s: want 0 to 1m0s"},
		{"  - netem: {node: a, rate: 1kbps}", `bad.yaml:7: netem.rate: "1kbps" is not a rate`},
		{"  - netem: {node: a, rate: 10bit}", "bad.yaml:7: netem: rate 10bit: want 100bit to 100gbit"},
		{"  - netem: {node: a, reorder: 25%}", "bad.yaml:7: netem: reorder needs a delay"},
		{"  - netem: {node: a, loss: half}", `bad.yaml:7: netem.loss: "half" is not a percentage`},
		{"  - netem: {node: a, link: [a, b], loss: 1%}", "bad.yaml:7: netem: name node (what it sends) or link"},
		{"  - netem: {link: [a, a], loss: 1%}", "bad.yaml:7: netem.link: name two different nodes"},
		{"  - netem: {node: a, for: 1s}", "bad.yaml:7: netem: for needs a shape"},
		{"  - netem: {node: r, loss: 1%}", "bad.yaml:7: netem.node: r is a remote node"},
		{"  - link_down: r", "bad.yaml:7: link_down: r is a remote node"},
		{"  - pause: {node: a}", "bad.yaml:7: pause: needs node and for"},
		{"  - ip_change: nobody", `bad.yaml:7: ip_change: no node named "nobody"`},
	} {
		_, err := Parse("bad.yaml", []byte(head+c.step+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s", c.step, err, c.want)
		}
	}
}

func TestNetemSuiteParses(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(suiteDir, "netem", "*.yaml"))
	if len(files) != 5 {
		t.Fatalf("netem suite: %d files, want 5", len(files))
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(s.Expect) == 0 {
			t.Errorf("%s: no expectations", f)
		}
	}
}

// The Kubernetes example drives the StatefulSet's pods as remote nodes.
func TestKubernetesExampleScenarioParses(t *testing.T) {
	s, err := Load("../../../../../deploy/k8s/example-scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s.Nodes {
		if n.Run != Remote || n.TokenEnv != "QA_TOKEN" {
			t.Errorf("node %s: %+v", n.Name, n)
		}
	}
}
