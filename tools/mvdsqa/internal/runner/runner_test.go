package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/tools/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/tools/mvdsqa/internal/scenario"
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
