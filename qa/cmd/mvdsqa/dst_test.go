package main

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

const dstFixture = "../../../fixtures/scenarios/dst/01-one-to-one-outage-100.yaml"

// The committed DST scenario is what `mvdsqa dst gen` writes with the
// flags in its first line: anyone can draw it again.
func TestTheDSTScenarioIsWhatGenWrites(t *testing.T) {
	want, err := os.ReadFile(dstFixture)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"dst", "gen", "-pairs", "33", "-idle", "33", "-min", "1s", "-max", "3m", "-seed", "2025"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != string(want) {
		t.Errorf("dst gen does not write %s again", dstFixture)
	}
	s, err := scenario.Load(dstFixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 100 {
		t.Errorf("%d nodes, want 100 processes", len(s.Nodes))
	}
}

func TestDSTGenRefusesImpossiblePlans(t *testing.T) {
	for _, args := range [][]string{{"-pairs", "0"}, {"-pairs", "100", "-idle", "10"}, {"-min", "2m", "-max", "1m"}, {"-max", "2h"}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"dst", "gen"}, args...), &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, %q", args, code, errOut.String())
		}
	}
}

func TestScaleScenarioParsesAtEveryCount(t *testing.T) {
	for _, n := range []int{3, 10, 100, 200} {
		s, err := scenario.Parse("scale.yaml", []byte(scaleYAML(n, time.Minute)))
		if err != nil {
			t.Fatalf("%d nodes: %v", n, err)
		}
		if len(s.Nodes) != n {
			t.Errorf("%d nodes: got %d", n, len(s.Nodes))
		}
	}
}

// summarize turns a run's messages into DST's row: a message counts as
// received when every recipient had it, its latency from the later of its
// send and the last reconnect.
func TestSummarizeComputesDSTsRow(t *testing.T) {
	back := func(v float64) *float64 { return &v }
	r := &runner.Result{Variant: "guarded", Messages: []runner.MessageResult{
		{ID: "a", To: []string{"r"}, Sent: 1, Accepted: true, Back: back(10), Received: map[string]float64{"r": 12}, AttemptsOffline: 0},
		{ID: "b", To: []string{"r"}, Sent: 1, Accepted: true, Back: back(20), Received: map[string]float64{"r": 21}, AttemptsOffline: 3},
		{ID: "c", To: []string{"r"}, Sent: 1, Accepted: true, Received: map[string]float64{}, AttemptsOffline: 1},
		{ID: "d", To: []string{"r"}, Sent: 5, Accepted: true, Received: map[string]float64{"r": 9}},
		{ID: "e", To: []string{"r"}, Sent: 1, Accepted: false},
	}}
	row := summarize(r)
	if row.sent != 4 || row.received != 3 || row.wasted != 4 || row.wastedMsgs != 2 {
		t.Errorf("row %+v", row)
	}
	if row.p50 != 2 || row.maxT != 4 {
		t.Errorf("p50 %v max %v, want 2 and 4 (latencies 1, 2, 4)", row.p50, row.maxT)
	}
}
