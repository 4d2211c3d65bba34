package dynamic_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
)

// nodeLog is one generated node's log.
type nodeLog struct {
	name string
	data []byte
}

// shortFleet generates the logs of a QA run: n nodes, each a 10 to 30
// second debug log in geth's format, started two minutes apart (so that
// one shared clock would run far past every node's end). Every node sends
// through datasync and gets most acknowledgements; its last messages are
// still unacknowledged when its log ends; every fifth node goes offline and
// reconnects three seconds before its end with messages pending. Node i's
// last message shows up received in node i+1's log. Only node `bad` holds
// a real violation: its log runs twelve minutes, and one of its messages is
// never acknowledged (MA2001). It returns the logs and the id of that
// message.
func shortFleet(n, bad int) ([]nodeLog, string) {
	r := rand.New(rand.NewPCG(13, 13))
	base := time.Date(2024, 7, 3, 9, 0, 0, 0, time.UTC)
	type plan struct {
		entries []logwriter.Entry
		last    string
		end     time.Time
	}
	plans := make([]plan, n)
	var lost string
	for i := range plans {
		start := base.Add(time.Duration(i) * 2 * time.Minute)
		length := time.Duration(10+r.IntN(21)) * time.Second
		if i == bad {
			length = 12 * time.Minute
		}
		end := start.Add(length)
		p := &plans[i]
		p.end = end
		add := func(e logwriter.Entry) { p.entries = append(p.entries, e) }
		add(logwriter.ConnectionChanged(start, true, false))
		for t := start.Add(time.Second); t.Before(end.Add(-2 * time.Second)); t = t.Add(time.Duration(800+r.IntN(1500)) * time.Millisecond) {
			id := logwriter.Hex(r, 32)
			add(logwriter.DatasyncSent(t, []string{id}, []string{logwriter.Hex(r, 32)}))
			if t.Before(end.Add(-5 * time.Second)) {
				add(logwriter.DatasyncAck(t.Add(400*time.Millisecond), logwriter.Hex(r, 32)[2:], id))
			}
			p.last = id
		}
		if i == bad {
			lost = logwriter.Hex(r, 32)
			add(logwriter.DatasyncSent(start.Add(1500*time.Millisecond), []string{lost}, []string{logwriter.Hex(r, 32)}))
		}
		if i%5 == 0 && i != bad {
			add(logwriter.ConnectionChanged(end.Add(-4*time.Second), false, false))
			add(logwriter.ConnectionChanged(end.Add(-3*time.Second), true, false))
		}
		for t := start.Add(70 * time.Millisecond); t.Before(end); t = t.Add(time.Duration(200+r.IntN(600)) * time.Millisecond) {
			add(logwriter.Noise(r, t))
		}
	}
	for i := 0; i+1 < n; i++ {
		if i != bad {
			// The next node received i's last message just before its own
			// log began to matter.
			next := &plans[i+1]
			next.entries = append(next.entries, logwriter.Received(next.entries[0].Time.Add(200*time.Millisecond), logwriter.Hex(r, 32), plans[i].last, "CHAT_MESSAGE", logwriter.PubKey(r)))
		}
	}
	out := make([]nodeLog, n)
	for i, p := range plans {
		sortEntries(p.entries)
		var b bytes.Buffer
		w, _ := logwriter.New(logwriter.Geth, &b)
		for _, e := range p.entries {
			_ = w.Write(e)
		}
		out[i] = nodeLog{name: fmt.Sprintf("node-%03d", i), data: b.Bytes()}
	}
	return out, lost
}

func sortEntries(es []logwriter.Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Time.Before(es[j-1].Time); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func fleetConfig() config.Runtime {
	cfg := config.DefaultRuntime()
	cfg.Year = 2024
	return cfg
}

func readFleet(t *testing.T, inputs map[string][]byte, node func(name string) string) *dynamic.Report {
	t.Helper()
	f, err := dynamic.NewFleet(fleetConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range inputs {
		if _, err := f.Read(context.Background(), bytes.NewReader(data), dynamic.Input{Name: name, Node: node(name)}); err != nil {
			t.Fatal(err)
		}
	}
	return f.Finish()
}

func totals(rep *dynamic.Report) dynamic.FlowCounts {
	var c dynamic.FlowCounts
	for _, f := range rep.Flows {
		c.Messages += f.Messages
		c.Delivered += f.Delivered
		c.Received += f.Received
		c.Silent += f.Silent
		c.Open += f.Open
	}
	return c
}

func TestAFleetOfShortLogsWithOneRealViolationReportsExactlyThatOne(t *testing.T) {
	logs, lost := shortFleet(100, 42)
	inputs := map[string][]byte{}
	for _, l := range logs {
		inputs[l.name+".log"] = l.data
	}
	rep := readFleet(t, inputs, func(name string) string { return strings.TrimSuffix(name, ".log") })
	if got, want := verdicts(rep), []string{"MA2001 node-042 " + lost}; !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	v := rep.Violations[0]
	if v.Node != "node-042" || v.Evidence[0].Input != "node-042.log" || v.Evidence[0].Line == 0 {
		t.Fatalf("violation %+v does not name its node and file:line", v)
	}
	if len(rep.Nodes) != 100 {
		t.Fatalf("%d node rows", len(rep.Nodes))
	}
	c := totals(rep)
	// Every node but the bad one ends with messages sent in its last five
	// seconds unacknowledged: open, or delivered where the next node's log
	// shows them received.
	if c.Silent != 1 || c.Open == 0 || c.Received != 98 {
		t.Fatalf("totals %+v", c)
	}
	if rep.State.ReconnectsUndecided != 20 {
		t.Fatalf("%d reconnects undecided, want the 20 of every fifth node", rep.State.ReconnectsUndecided)
	}
	for _, n := range rep.Nodes {
		if n.Errors != map[bool]int{true: 1}[n.Name == "node-042"] || n.Last.Sub(n.First) > 13*time.Minute {
			t.Fatalf("row %+v", n)
		}
	}
}

// labelled concatenates the logs into one, each line labelled with its
// node as a collector labels them.
func labelled(logs []nodeLog) []byte {
	var b bytes.Buffer
	for _, l := range logs {
		for _, line := range prefix(l.name, l.data) {
			b.Write(line)
		}
	}
	return b.Bytes()
}

func TestTheFleetConcatenatedIntoOneFileIsSplitBackByNodeWithTheSameAnswer(t *testing.T) {
	logs, _ := shortFleet(100, 42)
	inputs := map[string][]byte{}
	for _, l := range logs {
		inputs[l.name+".log"] = l.data
	}
	apart := readFleet(t, inputs, func(name string) string { return strings.TrimSuffix(name, ".log") })
	together := readFleet(t, map[string][]byte{"all.log": labelled(logs)}, func(string) string { return "all" })
	if a, b := verdicts(apart), verdicts(together); !reflect.DeepEqual(a, b) {
		t.Fatalf("apart %v, together %v", a, b)
	}
	if a, b := totals(apart), totals(together); a != b {
		t.Fatalf("apart %+v, together %+v", a, b)
	}
	if apart.State.ReconnectsUndecided != together.State.ReconnectsUndecided || len(together.Nodes) != 100 {
		t.Fatalf("undecided %d / %d, %d nodes", apart.State.ReconnectsUndecided, together.State.ReconnectsUndecided, len(together.Nodes))
	}
	// What the fleet avoids: one shared clock over the concatenation turns
	// the nodes' last messages into silent drops.
	rec, err := dynamic.NewRecorder(fleetConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamic.Read(context.Background(), bytes.NewReader(labelled(logs)), "all.log", rec); err != nil {
		t.Fatal(err)
	}
	if shared := rec.Finish(rec.Clock()); len(verdicts(shared)) < 50 {
		t.Fatalf("one clock gave only %d violations; the fleet's generator no longer tests what it should", len(verdicts(shared)))
	}
}

func TestAMessageOpenAtTheSendersEndIsDeliveredWhenAnotherNodeReceivedIt(t *testing.T) {
	logs, _ := shortFleet(3, -1)
	inputs := map[string][]byte{}
	for _, l := range logs[:2] {
		inputs[l.name+".log"] = l.data
	}
	rep := readFleet(t, inputs, func(name string) string { return strings.TrimSuffix(name, ".log") })
	if c := totals(rep); c.Received != 1 {
		t.Fatalf("totals %+v: node-000's last message, received by node-001, is not delivered", c)
	}
	if rep.Nodes[0].Received != 1 || rep.Nodes[1].Received != 0 {
		t.Fatalf("rows %+v", rep.Nodes)
	}
}

func TestTheOldFormatsAreReadWithTheRightCounts(t *testing.T) {
	at := time.Date(2023, 5, 12, 17, 47, 9, 0, time.UTC)
	r := rand.New(rand.NewPCG(5, 5))
	ids := []string{logwriter.Hex(r, 32), logwriter.Hex(r, 32), logwriter.Hex(r, 32), logwriter.Hex(r, 32), logwriter.Hex(r, 32)}
	entries := []logwriter.Entry{
		logwriter.LegacyConnectionChanged(at, true),
		logwriter.LegacyDatasyncSent(at.Add(time.Second), ids[:2], ids[4]),
		logwriter.LegacySent(at.Add(2*time.Second), logwriter.LegacyPrivate, ids[2], ids[4]),
		logwriter.LegacySent(at.Add(3*time.Second), logwriter.LegacyCommunity, ids[3], ids[4]),
		logwriter.LegacySent(at.Add(4*time.Second), logwriter.LegacyPublic, ids[4], ids[4]),
		logwriter.Noise(r, at.Add(5*time.Second)),
	}
	for _, format := range []logwriter.Format{logwriter.Logfmt, logwriter.Geth} {
		var b bytes.Buffer
		w, _ := logwriter.New(format, &b)
		for _, e := range entries {
			_ = w.Write(e)
		}
		b.WriteString(`t=2023-05-12T19:47:19+0200 lvl=eror msg="error while mapping sync state" namespace=mvds error="sql: database is closed"` + "\n")
		f, _ := dynamic.NewFleet(config.DefaultRuntime())
		st, err := f.Read(context.Background(), bytes.NewReader(b.Bytes()), dynamic.Input{Name: "desktop.log", Node: "desktop", Modified: at.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		rep := f.Finish()
		c := totals(rep)
		if st.Lines != 7 || st.Used != 5 || st.Legacy != 3 || st.UsedIncomplete != 1 || st.Unreadable() != 0 || c.Messages != 5 || c.Open != 5 {
			t.Fatalf("%s: %+v; totals %+v", format, st, c)
		}
		if format == logwriter.Logfmt && (st.StatusGo["logfmt"] != 7 || st.YearFrom != "") {
			t.Fatalf("logfmt: %+v", st)
		}
		if format == logwriter.Geth && (st.StatusGo["geth"] != 6 || st.StatusGo["logfmt"] != 1 || st.Year != 2023 || !strings.Contains(st.YearFrom, "modified 2023-05-12")) {
			t.Fatalf("geth year %d from %q", st.Year, st.YearFrom)
		}
		if rep.First.Year() != 2023 {
			t.Fatalf("%s: dated %v", format, rep.First)
		}
	}
}

func TestRotatedFilesOfOneNodeAreOneClock(t *testing.T) {
	logs, lost := shortFleet(43, 42)
	data := logs[42].data
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "geth.log.1"), filepath.Join(dir, "geth.log")
	if err := os.WriteFile(older, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newer, data[cut:], 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := dynamic.NewFleet(fleetConfig())
	for _, p := range []string{older, newer} {
		in, _ := os.Open(p)
		if _, err := f.Read(context.Background(), in, dynamic.Input{Name: p, Node: "node-042"}); err != nil {
			t.Fatal(err)
		}
		in.Close()
	}
	rep := f.Finish()
	if got := verdicts(rep); !reflect.DeepEqual(got, []string{"MA2001 node-042 " + lost}) || len(rep.Nodes) != 1 || len(rep.Nodes[0].Inputs) != 2 {
		t.Fatalf("%v %+v", got, rep.Nodes)
	}
}
