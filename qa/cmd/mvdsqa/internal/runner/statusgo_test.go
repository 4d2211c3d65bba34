package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/sgnode"
)

// The runner's status-go nodes are tested without status-go: this test
// binary stands in for status-backend (fakeStatusBackend), each process
// replaying one node's recorded exchange from a real run of
// testdata/statusgo/scenario.yaml on status-go c72f49132.

const (
	fakeEnv      = "MVDSQA_FAKE_STATUS_BACKEND"           // directory of <node>.jsonl recordings
	fakeNodesEnv = "MVDSQA_FAKE_STATUS_BACKEND_NODES"     // node names, in the order the runner starts them
	fakeNoResume = "MVDSQA_FAKE_STATUS_BACKEND_NO_RESUME" // refuse /signals after a recorded close
)

// fakePolls are the reads the runner repeats as often as it needs.
var fakePolls = map[string]bool{"wakuext_listenAddresses": true, "wakuext_peers": true, "wakuext_getContactByID": true, "wakuext_messageByMessageID": true}

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeEnv); dir != "" {
		os.Exit(fakeStatusBackend(dir))
	}
	os.Exit(m.Run())
}

// fakeStatusBackend serves, as status-backend does, on 127.0.0.1, and logs
// the line the runner waits for. Which node it is: the first name of
// fakeNodesEnv no process has claimed yet (the runner starts nodes one
// after the other). It records its pid so the test can check the runner
// stopped it.
func fakeStatusBackend(dir string) int {
	var name string
	for _, n := range strings.Split(os.Getenv(fakeNodesEnv), ",") {
		f, err := os.OpenFile(filepath.Join(dir, "claim-"+n), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			ns, _ := os.Readlink("/proc/self/ns/net")
			fmt.Fprintf(f, "%d\n%s\n", os.Getpid(), ns)
			f.Close()
			name = n
			break
		}
	}
	if name == "" {
		fmt.Fprintln(os.Stderr, "fake status-backend: no node left to be")
		return 3
	}
	es, err := sgnode.ReadRecording(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	rp := sgnode.NewReplay(es)
	rp.Polls = fakePolls
	rp.NoResume = os.Getenv(fakeNoResume) != ""
	go rp.Play()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Fprintf(os.Stderr, "INFO [12-06|19:21:06.173|status-backend/main.go:45] server started                           address=%s\n", l.Addr())
	_ = http.Serve(l, rp)
	return 0
}

// fakeRun runs the recorded scenario (or src, a variant of it with the
// same steps) on fake status-backends replaying the recordings in dir.
func fakeRun(t *testing.T, dir, src string) *Result {
	return fakeRunWith(t, dir, src, Options{})
}

// fakeRunWith is fakeRun with options (WorkDir, StatusBackend and Slack are
// set here).
func fakeRunWith(t *testing.T, dir, src string, opts Options) *Result {
	t.Setenv(fakeEnv, dir)
	t.Setenv(fakeNodesEnv, "hub,alice,bob")
	s, err := scenario.Parse("scenario.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts.WorkDir, opts.StatusBackend, opts.Slack = t.TempDir(), exe, slack
	r := Run(context.Background(), s, opts)
	for _, n := range []string{"hub", "alice", "bob"} {
		b, err := os.ReadFile(filepath.Join(dir, "claim-"+n))
		if err != nil {
			continue // never started
		}
		var pid int
		fmt.Sscan(string(b), &pid)
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("the %s process (pid %d) is still running after the run", n, pid)
		}
	}
	return r
}

// recordings copies the recorded run (testdata/statusgo) into a new
// directory, letting edit change a node's entries first.
func recordings(t *testing.T, edit func(node string, es []sgnode.Entry) []sgnode.Entry) string {
	return recordingsOf(t, "statusgo", edit)
}

func recordingsOf(t *testing.T, run string, edit func(node string, es []sgnode.Entry) []sgnode.Entry) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"hub", "alice", "bob"} {
		es, err := sgnode.ReadRecording(filepath.Join("testdata", run, n+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			es = edit(n, es)
		}
		var b []byte
		for _, e := range es {
			line, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			b = append(append(b, line...), '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, n+".jsonl"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func recordedScenario(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("testdata", "statusgo", "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// isCall reports whether e is the JSON-RPC call method.
func isCall(e sgnode.Entry, method string) bool {
	return e.Kind == sgnode.EntryCall && strings.Contains(string(e.Request), `"method":"`+method+`"`)
}

// A recorded run on status-go, played back: the nodes log in, become
// contacts, form the group; the 1:1 and group messages are delivered; what
// status-go cannot answer is marked so, not passed.
func TestStatusGoRunReplayed(t *testing.T) {
	r := fakeRun(t, recordings(t, nil), recordedScenario(t))
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	if r.Variant != VariantStatusGo || r.Sent != 3 || r.Accepted != 3 {
		t.Errorf("variant %s, %d of %d sends accepted", r.Variant, r.Accepted, r.Sent)
	}
	v := verdicts(r)
	for _, line := range []int{15, 16, 17} {
		if !v[line].Passed || v[line].CannotExpress {
			t.Errorf("line %d: %+v", line, v[line])
		}
	}
	for _, line := range []int{18, 19} {
		if v[line].Passed || !v[line].CannotExpress || v[line].Measured != "cannot express" || v[line].Detail == "" {
			t.Errorf("line %d: want cannot express, got %+v", line, v[line])
		}
	}
	if r.Passed {
		t.Error("a run with expectations status-go cannot express passed")
	}
}

// The recorded run with -netns: every status-backend process in a network
// namespace of its own, started there and reached there, its peers dialled
// at their namespaces' addresses. The replayed answers are the recorded
// ones; what this shows is the plumbing.
func TestStatusGoRunReplayedInNamespaces(t *testing.T) {
	if err := NetnsCaps(context.Background()).Usable(); err != nil {
		if netfault.Required() {
			t.Fatalf("-netns cannot run here and %s is set: %v", netfault.RequiredEnv, err)
		}
		t.Skipf("-netns cannot run here: %v", err)
	}
	r := fakeRunWith(t, recordings(t, nil), recordedScenario(t), Options{NetNS: true})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	v := verdicts(r)
	for _, line := range []int{15, 16, 17} {
		if !v[line].Passed {
			t.Errorf("line %d: %+v", line, v[line])
		}
	}
	if r.Network == "" {
		t.Error("a -netns run that does not say what the kernel offered")
	}
	own, _ := os.Readlink("/proc/self/ns/net")
	seen := map[string]bool{}
	for _, n := range []string{"hub", "alice", "bob"} {
		b, err := os.ReadFile(filepath.Join(os.Getenv(fakeEnv), "claim-"+n))
		if err != nil {
			t.Fatalf("%s never started: %v", n, err)
		}
		lines := strings.Fields(string(b))
		if len(lines) < 2 || lines[1] == own || seen[lines[1]] {
			t.Errorf("%s ran in network namespace %v; the runner's is %s, the others' %v", n, lines[1:], own, seen)
		} else {
			seen[lines[1]] = true
		}
	}
}

// The same run on status-go with the Guard wired in: its mvds.message.*
// signals answer the event expectation, the group message's per-member
// events included.
func TestStatusGoGuardedRunReplayed(t *testing.T) {
	r := fakeRun(t, recordingsOf(t, "statusgo-guarded", nil), recordedScenario(t))
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	v := verdicts(r)
	for _, line := range []int{15, 16, 17, 19} {
		if !v[line].Passed || v[line].CannotExpress {
			t.Errorf("line %d: %+v", line, v[line])
		}
	}
	if !v[18].CannotExpress {
		t.Errorf("no duplicates: %+v", v[18])
	}
}

// status-go refuses the login: the run stops at setup with status-go's
// error, naming the node, and every process it started is stopped.
func TestStatusGoLoginFails(t *testing.T) {
	dir := recordings(t, func(node string, es []sgnode.Entry) []sgnode.Entry {
		for i, e := range es {
			if node == "alice" && e.Kind == sgnode.EntrySignal && strings.Contains(string(e.Signal), `"node.login"`) {
				// status-go c72f49132's answer to a wrong password.
				es[i].Signal = json.RawMessage(`{"type":"node.login","event":{"error":"failed to open database: failed to set ` + "`journal_mode`" + ` pragma: file is not a database"}}`)
			}
		}
		return es
	})
	r := fakeRun(t, dir, recordedScenario(t))
	if !strings.Contains(r.Error, "setup: node alice: login (node.login): status-go error: failed to open database") {
		t.Fatalf("run error: %q", r.Error)
	}
}

// status-go answers a send with a JSON-RPC error: the step fails with it,
// naming the file, line, step and node.
func TestStatusGoRPCErrorFailsTheStep(t *testing.T) {
	dir := recordings(t, func(node string, es []sgnode.Entry) []sgnode.Entry {
		for i, e := range es {
			if node == "alice" && isCall(e, "wakuext_sendOneToOneMessage") && strings.Contains(string(e.Request), "hello bob") {
				es[i].Response = json.RawMessage(`{"jsonrpc":"2.0","id":9,"error":{"code":-32000,"message":"can't send a message: chat not found"}}`)
				break
			}
		}
		return es
	})
	r := fakeRun(t, dir, recordedScenario(t))
	want := "scenario.yaml:12: send: send m-1 from alice: node alice: wakuext_sendOneToOneMessage: status-go error -32000: can't send a message"
	if !strings.Contains(r.Error, want) {
		t.Fatalf("run error: %q\nwant %q", r.Error, want)
	}
}

// Alice's signal stream closes for good after her first send: the run
// says so, naming her and the step, rather than judging messages it could
// no longer see.
func TestStatusGoSignalStreamLost(t *testing.T) {
	t.Setenv(fakeNoResume, "1")
	dir := recordings(t, func(node string, es []sgnode.Entry) []sgnode.Entry {
		if node != "alice" {
			return es
		}
		for i, e := range es {
			if isCall(e, "wakuext_sendOneToOneMessage") && strings.Contains(string(e.Request), "hello bob") {
				out := append([]sgnode.Entry(nil), es[:i+1]...)
				out = append(out, sgnode.Entry{Kind: sgnode.EntryWSClose})
				return append(out, es[i+1:]...)
			}
		}
		t.Fatal("no send in alice's recording")
		return nil
	})
	// The stream gives up after 20 attempts 250 ms apart: the run lasts
	// longer, as a real one would.
	src := strings.ReplaceAll(recordedScenario(t), "within: 20s", "within: 2s")
	src = strings.Replace(src, "expect:", "  - wait: 7s\nexpect:", 1)
	began := time.Now()
	r := fakeRun(t, dir, src)
	if !strings.Contains(r.Error, "node alice: signal stream closed") || !strings.Contains(r.Error, "step scenario.yaml:14 wait") {
		t.Fatalf("run error: %q", r.Error)
	}
	if r.Passed {
		t.Error("passed without alice's signals")
	}
	t.Logf("%s (%v)", r.Error, time.Since(began).Round(time.Millisecond))
}

// A binary that is not status-backend: setup fails naming the node.
func TestStatusGoBinaryIsNot(t *testing.T) {
	s := parse(t, recordedScenario(t))
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir(), StatusBackend: "/bin/true"})
	if !strings.Contains(r.Error, "setup: node hub: /bin/true exited before it listened") || !strings.Contains(r.Error, "is it status-backend?") {
		t.Fatalf("run error: %q", r.Error)
	}
}

// What status-go cannot be asked to do is refused before any process
// starts, every part named with its file and line.
func TestStatusGoCannotExpress(t *testing.T) {
	s := parse(t, `name: faults
nodes:
  hub: {service: true}
  alice: {}
  bob: {}
  carol: {light: hub}
steps:
  - partition: [alice, bob]
  - parallel:
      - send: {from: alice, to: bob, id: j, flow: join_request}
      - clock_jump: {node: alice, by: 1m}
  - retry: {node: alice, message: j}
expect:
  - nothing_lost: true
`)
	began := time.Now()
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir(), StatusBackend: "/nonexistent/status-backend"})
	for _, want := range []string{"cannot express on status-go", ":6: nodes.carol: a light client", ":8: partition:",
		":10: send: flow join_request", ":11: clock_jump:", ":12: retry: a Guard action"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("missing %q in %q", want, r.Error)
		}
	}
	if time.Since(began) > 5*time.Second {
		t.Error("refused only after starting nodes")
	}
}

// A scenario that mixes status-go nodes with reference nodes is refused:
// their Waku networks do not meet.
func TestStatusGoNodesDoNotMix(t *testing.T) {
	s := parse(t, `name: mixed
nodes:
  hub: {}
  alice: {run: status-backend, binary: /nonexistent/status-backend}
steps:
  - wait: 1s
expect:
  - nothing_lost: true
`)
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir()})
	if !strings.Contains(r.Error, "nodes hub are not status-backend nodes") {
		t.Fatalf("run error: %q", r.Error)
	}
}

// The matrix puts the variants side by side, one row per expectation, and
// says n/a where a variant cannot express it.
func TestWriteMatrix(t *testing.T) {
	secs := 1.5
	rs := []*Result{
		{Scenario: "s", File: "s.yaml", Variant: "stock", Expectations: []ExpectResult{{Line: 3, Text: "m delivered", Passed: false, Measured: "not within 2s"}}},
		{Scenario: "s", File: "s.yaml", Variant: "guarded", Expectations: []ExpectResult{{Line: 3, Text: "m delivered", Passed: true, Measured: "1.50s", Seconds: &secs}}},
		{Scenario: "s", File: "s.yaml", Variant: VariantStatusGo, Expectations: []ExpectResult{{Line: 3, Text: "m delivered", CannotExpress: true}}},
		{Scenario: "t", File: "t.yaml", Variant: VariantStatusGo, Error: "cannot express on status-go: t.yaml:9: partition"},
	}
	var b strings.Builder
	if err := WriteMatrix(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := "| scenario | expectation | stock | guarded | status-go |\n|---|---|---|---|---|\n" +
		"| s | m delivered (line 3) | FAIL: not within 2s | met: 1.50s | n/a |\n" +
		"| t | (run) | — | — | error: cannot express on status-go: t.yaml:9: partition |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// status-backends already running, reached at their URLs: the runner logs
// in on them and runs the recorded scenario as on processes it started.
func TestStatusGoAtURLs(t *testing.T) {
	src := recordedScenario(t)
	for _, n := range []string{"hub", "alice", "bob"} {
		es, err := sgnode.ReadRecording(filepath.Join("testdata", "statusgo", n+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		rp := sgnode.NewReplay(es)
		rp.Polls = fakePolls
		go rp.Play()
		srv := httptest.NewServer(rp)
		t.Cleanup(func() { rp.Stop(); srv.Close() })
		src = strings.Replace(src, "  "+n+": {}", fmt.Sprintf("  %s: {run: status-backend, url: %q}", n, srv.URL), 1)
	}
	r := Run(context.Background(), parse(t, src), Options{WorkDir: t.TempDir(), Slack: slack})
	if r.Error != "" || r.Variant != VariantStatusGo {
		t.Fatalf("run error: %s (variant %s)", r.Error, r.Variant)
	}
	v := verdicts(r)
	for _, line := range []int{15, 16, 17} {
		if !v[line].Passed {
			t.Errorf("line %d: %+v", line, v[line])
		}
	}
}
