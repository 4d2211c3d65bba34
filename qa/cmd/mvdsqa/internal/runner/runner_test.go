package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// slack keeps the tests' own time limits honest on a CI machine testing
// every package at once under the race detector.
const slack = 3

func parse(t *testing.T, src string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verdicts(r *Result) map[int]ExpectResult {
	out := map[int]ExpectResult{}
	for _, x := range r.Expectations {
		out[x.Line] = x
	}
	return out
}

// TestEachExpectationCanPassAndFail runs real Guarded nodes on go-waku and
// checks that every kind of expectation is met when the network allows it
// and reported as failed, with the reason, when it does not.
func TestEachExpectationCanPassAndFail(t *testing.T) {
	s := parse(t, `name: verdicts
policies:
  one_to_one/content: {initial: 300ms, max: 600ms, attempts: 2}
nodes:
  hub: {}
  alice: {}
  bob: {}
  carol: {}
steps:
  - partition: [alice, carol]
  - send: {from: alice, to: bob, id: ok, flow: one_to_one, payload: "reaches bob"}
  - send: {from: alice, to: carol, id: cut, flow: one_to_one, payload: "never reaches carol"}
  - wait: 500ms
expect:
  - delivered: {message: ok, within: 4s}
  - delivered: {message: cut, within: 1s}
  - failed: {message: cut, within: 8s}
  - failed: {message: ok, within: 1s}
  - event: {message: ok, type: delivered, within: 4s}
  - event: {message: ok, type: stalled, within: 1s}
  - nothing_lost: {within: 1s}
  - no_duplicates: true
`)
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir(), Slack: slack})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	v := verdicts(r)
	for line, want := range map[int]struct {
		pass   bool
		detail string
	}{
		15: {true, ""}, 16: {false, "not delivered"}, 17: {true, ""}, 18: {false, "not failed"},
		19: {true, ""}, 20: {false, "not stalled"}, 21: {false, "cut→carol"}, 22: {true, ""},
	} {
		got, ok := v[line]
		if !ok {
			t.Errorf("line %d: no verdict", line)
			continue
		}
		if got.Passed != want.pass || !strings.Contains(got.Detail, want.detail) {
			t.Errorf("line %d (%s): passed=%v %q %q; want passed=%v mentioning %q", line, got.Text, got.Passed, got.Measured, got.Detail, want.pass, want.detail)
		}
	}
	if r.Passed {
		t.Error("a run with failed expectations passed")
	}
}

// fakeNode is an implementation under test that misbehaves: its
// application reports one message twice. The runner must say so.
func fakeNode(t *testing.T) *httptest.Server {
	id := "0x04" + strings.Repeat("ab", 64)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, qanode.Info{Name: "fake", ID: id, PeerID: "16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh",
			Addrs: []string{"/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"}, Online: true, Mode: "relay"})
	})
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) { reply(w, []any{}) })
	mux.HandleFunc("GET /v1/messages", func(w http.ResponseWriter, r *http.Request) { reply(w, []any{}) })
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) { reply(w, []any{}) })
	mux.HandleFunc("GET /v1/received", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") != "0" {
			reply(w, []any{})
			return
		}
		reply(w, []qanode.Received{{Seq: 1, ID: "twice", From: id}, {Seq: 2, ID: "twice", From: id}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestRemoteNodesAndDuplicates drives a node the test started itself as a
// remote endpoint (with a bearer token), and a misbehaving implementation
// whose duplicate the runner must report.
func TestRemoteNodesAndDuplicates(t *testing.T) {
	ctx := context.Background()
	bob, err := qanode.Start(ctx, qanode.Config{Name: "bob", Dir: t.TempDir(), Token: "t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	t.Setenv("MVDSQA_TEST_BOB", "t0ken")
	fake := fakeNode(t)
	s := parse(t, fmt.Sprintf(`name: remote
nodes:
  alice: {}
  bob: {url: "%s", token_env: MVDSQA_TEST_BOB}
  fake: {url: "%s", connect: []}
steps:
  - send: {from: alice, to: bob, id: hi, flow: contact_request, kind: control}
expect:
  - delivered: {message: hi, within: 5s}
  - nothing_lost: {within: 5s}
  - no_duplicates: [alice, bob]
  - no_duplicates: [fake]
`, bob.APIAddr(), fake.URL))
	r := Run(ctx, s, Options{WorkDir: t.TempDir(), Slack: slack})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	v := verdicts(r)
	for line, pass := range map[int]bool{9: true, 10: true, 11: true, 12: false} {
		if v[line].Passed != pass {
			t.Errorf("line %d (%s): passed=%v %s; want %v", line, v[line].Text, v[line].Passed, v[line].Detail, pass)
		}
	}
	if !strings.Contains(v[12].Detail, "fake received twice more than once") {
		t.Errorf("duplicate detail: %q", v[12].Detail)
	}
	if got, _ := bob.Received(ctx, 0, 10); len(got) != 1 || got[0].ID != "hi" {
		t.Errorf("the remote node's application got %+v", got)
	}
}

func TestSetupAndStepFailuresAreReportedNotPanicked(t *testing.T) {
	s := parse(t, `name: unreachable remote
nodes:
  gone: {url: "http://127.0.0.1:1"}
steps:
  - wait: 1s
`)
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir()})
	if r.Passed || !strings.Contains(r.Error, "setup") || !strings.Contains(r.Error, "gone") {
		t.Errorf("result %+v; want a setup error naming the node", r)
	}
	s = parse(t, `name: restart a running node
nodes:
  a: {}
  b: {}
steps:
  - restart: a
`)
	r = Run(context.Background(), s, Options{WorkDir: t.TempDir()})
	if r.Passed || !strings.Contains(r.Error, ".yaml:6: restart") || !strings.Contains(r.Error, "kill it first") {
		t.Errorf("result error %q; want file:line of the step and the reason", r.Error)
	}
}

func TestJUnitAndJSONCarryEveryVerdict(t *testing.T) {
	secs := 0.5
	rs := []*Result{{Scenario: "s", File: "s.yaml", Variant: "guarded", Duration: time.Second, Passed: false, Error: "step failed",
		Expectations: []ExpectResult{{Line: 3, Text: "a delivered", Passed: true, Measured: "0.50s", Seconds: &secs},
			{Line: 4, Text: "b failed", Passed: false, Measured: "not within 1s", Detail: "1 of 1"}}}}
	var xb, jb bytes.Buffer
	if err := WriteJUnit(&xb, rs); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(xb.Bytes(), &suites); err != nil {
		t.Fatalf("%v\n%s", err, xb.String())
	}
	if suites.Tests != 3 || suites.Fails != 1 || suites.Errors != 1 || suites.Suites[0].Cases[2].Failure == nil {
		t.Errorf("JUnit %+v", suites)
	}
	if err := WriteJSON(&jb, rs); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || len(back) != 1 || len(back[0].Expectations) != 2 || back[0].Seconds != 1 {
		t.Errorf("JSON %v %s", err, jb.String())
	}
}

// TestRunsInOneWorkDirDoNotShareNodes runs one scenario twice with the same
// work directory: each run gets a fresh directory of its own, so the second
// run's send is not refused as already sent and sees nothing of the first.
func TestRunsInOneWorkDirDoNotShareNodes(t *testing.T) {
	s := parse(t, `name: twice
nodes:
  alice: {}
  bob: {}
steps:
  - send: {from: alice, to: bob, id: hi, flow: contact_request, kind: control}
expect:
  - delivered: {message: hi, within: 5s}
  - nothing_lost: {within: 5s}
  - no_duplicates: true
`)
	work := t.TempDir()
	var dirs []string
	for i := 1; i <= 2; i++ {
		r := Run(context.Background(), s, Options{WorkDir: work, Slack: slack})
		if !r.Passed {
			t.Fatalf("run %d: error %q, expectations %+v", i, r.Error, r.Expectations)
		}
		want := filepath.Join(work, fmt.Sprintf("TestRunsInOneWorkDirDoNotShareNodes-guarded-%d", i))
		if r.WorkDir != want {
			t.Errorf("run %d: work directory %q; want %q", i, r.WorkDir, want)
		}
		if _, err := os.Stat(filepath.Join(r.WorkDir, "alice", "node.db")); err != nil {
			t.Errorf("run %d: %v", i, err)
		}
		var text bytes.Buffer
		WriteText(&text, r)
		if !strings.Contains(text.String(), "node data and logs: "+want) {
			t.Errorf("run %d: text does not name its directory:\n%s", i, text.String())
		}
		dirs = append(dirs, r.WorkDir)
	}
	if dirs[0] == dirs[1] {
		t.Errorf("both runs used %s", dirs[0])
	}
}

func TestRunDirectoriesAreNewAndNamedAfterTheRun(t *testing.T) {
	work := filepath.Join(t.TempDir(), "qa")
	s := &scenario.Scenario{File: "fixtures/scenarios/01 contact?.yaml"}
	if err := os.MkdirAll(filepath.Join(work, "01_contact_-stock-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"01_contact_-stock-2", "01_contact_-stock-3"} {
		dir, err := runDir(s, Options{WorkDir: work, Stock: true})
		if err != nil || dir != filepath.Join(work, want) {
			t.Errorf("runDir = %q, %v; want %s", dir, err, want)
		}
	}
	dir, err := runDir(&scenario.Scenario{File: "x.yaml"}, Options{})
	if err != nil || !strings.HasPrefix(filepath.Base(dir), "mvdsqa-run-x-guarded-") {
		t.Errorf("temporary run directory %q, %v", dir, err)
	}
	_ = os.RemoveAll(dir)
}

// scriptedNode is a remote node that reports the addresses given, records
// every address it is asked to dial, and refuses every send.
func scriptedNode(t *testing.T, addrs []string) (url string, dialed func() []string) {
	id := "0x04" + strings.Repeat("cd", 64)
	var mu sync.Mutex
	var got []string
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, qanode.Info{Name: "scripted", ID: id, PeerID: "16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh",
			Addrs: addrs, Online: true, Mode: "relay"})
	})
	mux.HandleFunc("POST /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		var req qanode.PeerRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		got = append(got, req.Addr)
		mu.Unlock()
		reply(w, []any{})
	})
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"refused"}`, http.StatusServiceUnavailable)
	})
	for _, p := range []string{"GET /v1/messages", "GET /v1/events", "GET /v1/received"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { reply(w, []any{}) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestNothingAcceptedIsNoPass: expectations about accepted messages fail,
// saying so, when the sender accepted none — nothing_lost included, which
// would otherwise hold with "all 0 received".
func TestNothingAcceptedIsNoPass(t *testing.T) {
	a, _ := scriptedNode(t, []string{"/ip4/192.0.2.1/tcp/1/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"})
	b, _ := scriptedNode(t, []string{"/ip4/192.0.2.2/tcp/1/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"})
	s := parse(t, fmt.Sprintf(`name: refused
nodes:
  a: {url: "%s"}
  b: {url: "%s"}
steps:
  - send: {from: a, to: b, id: m, flow: one_to_one, allow_failures: true}
expect:
  - nothing_lost: true
  - delivered: {message: m, within: 1s}
  - event: {message: m, type: sent, within: 1s}
`, a, b))
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir()})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	if r.Accepted != 0 || r.Sent != 1 {
		t.Fatalf("%d of %d accepted; want 0 of 1", r.Accepted, r.Sent)
	}
	for _, x := range r.Expectations {
		if x.Passed || x.Measured != "no accepted message" || x.Detail == "" {
			t.Errorf("line %d (%s): passed=%v measured %q detail %q; want a failure measured as no accepted message", x.Line, x.Text, x.Passed, x.Measured, x.Detail)
		}
	}
	if r.Passed {
		t.Error("a run in which nothing was accepted passed")
	}
}

func TestPickAddr(t *testing.T) {
	const p2p = "/tcp/60000/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"
	loop, lan, pub, dns, v6 := "/ip4/127.0.0.1"+p2p, "/ip4/10.0.0.5"+p2p, "/ip4/203.0.113.7"+p2p, "/dns4/qa.example.org"+p2p, "/ip6/2001:db8::7"+p2p
	for _, c := range []struct {
		addrs    []string
		host     string
		routable bool
		want     string
	}{
		{[]string{loop, lan, pub}, "203.0.113.7", true, pub},
		{[]string{loop, lan, pub}, "qa.example.org", true, lan},
		{[]string{loop, dns}, "QA.example.org", true, dns},
		{[]string{loop, v6}, "2001:db8:0::7", true, v6},
		{[]string{loop, "/ip4/0.0.0.0" + p2p, lan}, "", true, lan},
		{[]string{loop}, "203.0.113.7", true, loop},
		{[]string{loop, lan}, "", false, loop},
		{[]string{"garbage", lan}, "", true, lan},
		{nil, "x", true, ""},
	} {
		if got := pickAddr(c.addrs, c.host, c.routable); got != c.want {
			t.Errorf("pickAddr(%v, %q, %v) = %q; want %q", c.addrs, c.host, c.routable, got, c.want)
		}
	}
}

// TestRemoteNodesAreDialedAtAReachableAddress: a remote node listening on
// every interface reports 127.0.0.1 first; the runner dials the address on
// its API URL's host instead, or else one that is not loopback.
func TestRemoteNodesAreDialedAtAReachableAddress(t *testing.T) {
	const p2p = "/tcp/60000/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"
	far, _ := scriptedNode(t, []string{"/ip4/127.0.0.1" + p2p, "/ip4/10.0.0.5" + p2p, "/dns4/localhost" + p2p})
	far = strings.Replace(far, "127.0.0.1", "localhost", 1)
	wide, _ := scriptedNode(t, []string{"/ip4/127.0.0.1" + p2p, "/ip4/10.0.0.6" + p2p})
	wide = strings.Replace(wide, "127.0.0.1", "localhost", 1)
	dialer, dialed := scriptedNode(t, []string{"/ip4/10.0.0.7" + p2p})
	s := parse(t, fmt.Sprintf(`name: addresses
nodes:
  far: {url: "%s", connect: []}
  wide: {url: "%s", connect: []}
  dialer: {url: "%s", connect: [far, wide]}
steps:
  - connect: [dialer, wide]
`, far, wide, dialer))
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir()})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	want := []string{"/dns4/localhost" + p2p, "/ip4/10.0.0.6" + p2p, "/ip4/10.0.0.6" + p2p}
	if got := dialed(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dialed %v; want %v", got, want)
	}
}

// TestLocalNodesListenOnTheListenHost: with ListenHost, the nodes the
// runner starts listen there, and a remote node is given that address to
// dial them at.
func TestLocalNodesListenOnTheListenHost(t *testing.T) {
	remote, dialed := scriptedNode(t, []string{"/ip4/10.0.0.7/tcp/60000/p2p/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh"})
	s := parse(t, fmt.Sprintf(`name: listen host
nodes:
  hub: {connect: []}
  alice: {connect: [hub]}
  remote: {url: "%s", connect: [hub, alice]}
steps:
  - wait: 100ms
`, remote))
	r := Run(context.Background(), s, Options{WorkDir: t.TempDir(), ListenHost: "127.0.0.2"})
	if r.Error != "" {
		t.Fatalf("run error: %s", r.Error)
	}
	got := dialed()
	if len(got) != 2 {
		t.Fatalf("the remote node was asked to dial %v; want hub and alice", got)
	}
	for _, a := range got {
		if !strings.HasPrefix(a, "/ip4/127.0.0.2/tcp/") {
			t.Errorf("the remote node was asked to dial %s; want an address on 127.0.0.2", a)
		}
	}
}
