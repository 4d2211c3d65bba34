package dynamic_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

var update = flag.Bool("update", false, "rewrite the generated fixtures in fixtures/logs")

var fixtureDir = filepath.Join("..", "..", "fixtures", "logs")

// prefix labels lines as docker compose does.
func prefix(name string, data []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, append([]byte(fmt.Sprintf("%-8s | ", name)), l...))
		}
	}
	return out
}

// interleaved is two nodes' geth logs as a collector merges them: ordered by
// time, each line labelled, with a stack trace and one line where two
// writes met without a newline.
func interleaved() []byte {
	alice := logwriter.NewSession(logwriter.Current, 1, 0)
	bob := logwriter.NewSession(logwriter.Current, 2, 10*time.Second)
	a, _ := alice.Render(logwriter.Geth)
	b, _ := bob.Render(logwriter.Geth)
	al, bl := prefix("alice-1", a), prefix("bob-1", b)
	type line struct {
		t time.Time
		b []byte
	}
	var all []line
	for i, l := range al {
		all = append(all, line{alice.Entries[i].Time, l})
	}
	for i, l := range bl {
		all = append(all, line{bob.Entries[i].Time, l})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	var out bytes.Buffer
	joinRaw := -1
	for i, l := range all {
		if bytes.Contains(l.b, []byte(alice.JoinRaw)) {
			joinRaw = i
		}
	}
	for i, l := range all {
		switch {
		case i == joinRaw:
			continue
		case bytes.Contains(l.b, []byte(alice.Join)):
			// Two writes met: alice's join request lost its newline and
			// the next send ran into it.
			out.Write(bytes.TrimSuffix(l.b, []byte("\n")))
			out.Write(all[joinRaw].b)
			continue
		case i == 90:
			out.Write(l.b)
			out.WriteString("bob-1    | panic: runtime error: invalid memory address or nil pointer dereference\n")
			out.WriteString("bob-1    | \tgoroutine 182 [running]:\n")
			out.WriteString("bob-1    | \tgithub.com/status-im/status-go/protocol.(*Messenger).handleRetrievedMessages(...)\n")
			continue
		}
		out.Write(l.b)
	}
	return out.Bytes()
}

// badInput is alice's session with every kind of damage a log suffers.
func badInput() []byte {
	s := logwriter.NewSession(logwriter.Current, 1, 0)
	data, _ := s.Render(logwriter.Geth)
	lines := bytes.SplitAfter(data, []byte("\n"))
	var out bytes.Buffer
	t := s.Start.Add(90 * time.Second)
	render := func(f logwriter.Format, e logwriter.Entry) string {
		var b bytes.Buffer
		w, _ := logwriter.New(f, &b)
		w.Write(e)
		return b.String()
	}
	cut := func(line, after string, keep int) string {
		i := strings.Index(line, after)
		return line[:i+len(after)+keep]
	}
	sent := func(id string) logwriter.Entry {
		return logwriter.SentPrivate(t, logwriter.Current, s.Carol, id, "CHAT_MESSAGE", []string{"0x" + strings.Repeat("ab", 32)})
	}
	for i, l := range lines {
		out.Write(l)
		if i != 30 {
			continue
		}
		// A send cut inside its messageID: unusable.
		out.WriteString(cut(render(logwriter.Geth, sent("0x"+strings.Repeat("11", 32))), "messageID=0x", 20) + "\n")
		// A send cut after its messageID: usable, type unknown.
		out.WriteString(cut(render(logwriter.Geth, sent("0x"+strings.Repeat("22", 32))), "messageID=0x", 64) + "\n")
		// Binary garbage.
		out.Write([]byte{0x00, 0x9f, 0x92, 0x96, 'x', 0xff, 0xfe, 0x01, 0x02, '\n'})
		// A zap JSON send cut short: unusable.
		out.WriteString(cut(render(logwriter.ZapJSON, sent("0x"+strings.Repeat("33", 32))), `"contentType":"CHAT`, 0) + "\n")
		// Records: an unknown field, a future version, an unknown kind, no time.
		out.WriteString(`{"v":1,"kind":"connectivity","at":"2024-10-23T14:01:31Z","online":true,"node":"qa","battery":0.93}` + "\n")
		out.WriteString(`{"v":2,"kind":"send","at":"2024-10-23T14:01:31Z","id":"m-9","via":"mvds"}` + "\n")
		out.WriteString(`{"v":1,"kind":"sent","at":"2024-10-23T14:01:31Z","id":"m-9"}` + "\n")
		out.WriteString(`{"v":1,"kind":"attempt","id":"m-9"}` + "\n")
		// A crash: an unknown line and its indented trace.
		out.WriteString("panic: runtime error: invalid memory address or nil pointer dereference\n")
		out.WriteString("\tgoroutine 7 [running]:\n\tgithub.com/status-im/status-go/protocol.(*Messenger).Start(...)\n")
		// A geth header with an impossible date.
		out.WriteString("DEBUG[13-41|14:01:31.000|github.com/status-im/status-go/protocol/messenger.go:1554] connection changed online=true\n")
		// Windows line endings.
		out.WriteString(strings.TrimSuffix(render(logwriter.Geth, logwriter.Noise(rand.New(rand.NewPCG(9, 9)), t)), "\n") + "\r\n")
	}
	// The process died mid-line: a send whose type is cut, no newline.
	out.WriteString(cut(render(logwriter.Geth, sent("0x"+strings.Repeat("44", 32))), "contentType=CHAT_MES", 0))
	return out.Bytes()
}

// legacySession is the session as a release of before 2024-02-27 logged
// it, starting at start.
func legacySession(start time.Time, f logwriter.Format) []byte {
	b, err := logwriter.NewSession(logwriter.Legacy, 1, start.Sub(logwriter.NewSession(logwriter.Legacy, 1, 0).Start)).Render(f)
	if err != nil {
		panic(err)
	}
	return b
}

func generatedFixtures() map[string][]byte {
	render := func(style logwriter.Style, f logwriter.Format) []byte {
		b, err := logwriter.NewSession(style, 1, 0).Render(f)
		if err != nil {
			panic(err)
		}
		return b
	}
	return map[string][]byte{
		"geth-2024.log":       render(logwriter.Current, logwriter.Geth),
		"geth-early-2024.log": render(logwriter.Early2024, logwriter.Geth),
		"geth-color.log":      render(logwriter.Current, logwriter.GethColor),
		"zap-console.log":     render(logwriter.Current, logwriter.ZapConsole),
		"zap-json.log":        render(logwriter.Current, logwriter.ZapJSON),
		"interleaved.log":     interleaved(),
		"logfmt-2023.log":     legacySession(time.Date(2023, 5, 12, 14, 0, 0, 0, time.UTC), logwriter.Logfmt),
		"geth-old-names.log":  legacySession(time.Date(2024, 7, 3, 14, 0, 0, 0, time.UTC), logwriter.Geth),
		"bad-input.log":       badInput(),
	}
}

// The corpus is generated by the rules of each format, not typed: this test
// fails when a file and its generator drift apart.
func TestFixtureCorpusIsWhatTheFormatWritersProduce(t *testing.T) {
	for name, want := range generatedFixtures() {
		path := filepath.Join(fixtureDir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./dynamic -run Fixture -update, in audit/)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the writer produces; run go test ./dynamic -run Fixture -update, in audit/", name)
		}
	}
}

// audit reads one fixture with the default configuration in 2024.
func audit(t *testing.T, name string, mutate ...func(*config.Runtime)) *dynamic.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := config.DefaultRuntime()
	cfg.Year = 2024
	for _, m := range mutate {
		m(&cfg)
	}
	rec, err := dynamic.NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dynamic.Read(context.Background(), f, name, rec)
	if err != nil {
		t.Fatal(err)
	}
	rep := rec.Finish(rec.Clock())
	rep.Inputs = append(rep.Inputs, st)
	return rep
}

// verdicts lists "check node id" for every violation, sorted.
func verdicts(rep *dynamic.Report) []string {
	var out []string
	for _, v := range rep.Violations {
		out = append(out, strings.Join(strings.Fields(v.Check+" "+v.Node+" "+v.ID), " "))
	}
	sort.Strings(out)
	return out
}

func sessionVerdicts(node string, s *logwriter.Session) []string {
	sp := func(check, id string) string {
		return strings.Join(strings.Fields(check+" "+node+" "+id), " ")
	}
	return []string{sp("MA1001", s.Accept), sp("MA1001", s.Join), sp("MA1001", s.JoinRaw), sp("MA2001", s.Lost), sp("MA2002", "")}
}

func flowRow(rep *dynamic.Report, name string) dynamic.FlowCounts {
	for _, f := range rep.Flows {
		if f.Name == name {
			return f
		}
	}
	return dynamic.FlowCounts{Name: name}
}

func TestEveryFormatOfTheSessionGivesTheSameVerdicts(t *testing.T) {
	s := logwriter.NewSession(logwriter.Current, 1, 0)
	want := sessionVerdicts("", s)
	sort.Strings(want)
	for _, name := range []string{"geth-2024.log", "geth-early-2024.log", "geth-color.log", "zap-console.log", "zap-json.log"} {
		t.Run(name, func(t *testing.T) {
			rep := audit(t, name)
			if got := verdicts(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("violations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			in := rep.Inputs[0]
			if in.Unreadable() != 0 || in.Lines != int64(len(s.Entries)) || in.Used != 15 {
				t.Fatalf("read %d lines, %d used, %d not understood (%v); want %d, 15, 0", in.Lines, in.Used, in.Unreadable(), in.Samples, len(s.Entries))
			}
			// The contact request, the chat message and the lost one went
			// through MVDS; status-go does not log their type.
			if u := flowRow(rep, "unclassified"); u.Messages != 3 || u.MVDS != 3 || u.Delivered != 2 || u.Silent != 1 {
				t.Fatalf("unclassified %+v", u)
			}
			if c := flowRow(rep, "contact_request"); c.Messages != 1 || c.Outside != 1 {
				t.Fatalf("contact_request %+v", c)
			}
			if j := flowRow(rep, "join_request"); j.Messages != 2 || j.Outside != 2 {
				t.Fatalf("join_request %+v", j)
			}
			if o := flowRow(rep, "other"); o.Messages != 2 || o.Outside != 2 {
				t.Fatalf("other %+v", o)
			}
		})
	}
}

func TestReconnectVerdictNamesTheReconnectAndThePendingMessage(t *testing.T) {
	s := logwriter.NewSession(logwriter.Current, 1, 0)
	rep := audit(t, "geth-2024.log")
	for _, v := range rep.Violations {
		if v.Check != rule.NoRetryAfterReconnect {
			continue
		}
		if !v.At.Equal(s.Reconnect.Add(30*time.Second)) || len(v.Evidence) != 2 ||
			!strings.Contains(v.Evidence[0].Text, "connection changed") || !strings.Contains(v.Evidence[1].Text, s.Lost) {
			t.Fatalf("reconnect violation %+v", v)
		}
		return
	}
	t.Fatal("no reconnect violation")
}

func TestALongerReconnectWindowAndHorizonMakeTheSessionQuietButForMVDSBypass(t *testing.T) {
	s := logwriter.NewSession(logwriter.Current, 1, 0)
	rep := audit(t, "geth-2024.log", func(c *config.Runtime) {
		c.ReconnectWithin = 3 * time.Minute
		c.Horizon = time.Hour
	})
	want := []string{"MA1001 " + s.Accept, "MA1001 " + s.Join, "MA1001 " + s.JoinRaw}
	sort.Strings(want)
	if got := verdicts(rep); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("violations %v; want only %v", got, want)
	}
	if u := flowRow(rep, "unclassified"); u.Open != 1 || u.Silent != 0 {
		t.Fatalf("the lost message should be open at the end of the input: %+v", u)
	}
}

func TestInterleavedProcessesAreJudgedApart(t *testing.T) {
	alice := logwriter.NewSession(logwriter.Current, 1, 0)
	bob := logwriter.NewSession(logwriter.Current, 2, 10*time.Second)
	rep := audit(t, "interleaved.log")
	// Alice's two join requests ran together into one line: it cannot be
	// used, and the report says so instead of taking one for the other.
	var want []string
	for _, v := range sessionVerdicts("alice-1", alice) {
		if !strings.HasSuffix(v, alice.Join) && !strings.HasSuffix(v, alice.JoinRaw) {
			want = append(want, v)
		}
	}
	want = append(want, sessionVerdicts("bob-1", bob)...)
	in := rep.Inputs[0]
	if in.Unread[dynamic.UnreadMalformed] != 1 || !strings.Contains(in.Samples[0].Detail, "appears twice") {
		t.Fatalf("malformed %d, samples %+v; want the merged line", in.Unread[dynamic.UnreadMalformed], in.Samples)
	}
	if strings.Join(in.Sources, ",") != "alice-1,bob-1" {
		t.Fatalf("sources %v", in.Sources)
	}
	if in.Continuation != 2 || in.Unread[dynamic.UnreadNotLog] != 1 {
		t.Fatalf("continuation %d, not-a-log-line %d; want 2 and 1 (the panic line)", in.Continuation, in.Unread[dynamic.UnreadNotLog])
	}
	sort.Strings(want)
	if got := verdicts(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBadInputIsCountedAndReportedWithoutLosingTheRest(t *testing.T) {
	s := logwriter.NewSession(logwriter.Current, 1, 0)
	rep := audit(t, "bad-input.log")
	in := rep.Inputs[0]
	want := map[string]int64{
		dynamic.UnreadMalformed:   2, // cut inside the messageID; zap JSON cut short
		dynamic.UnreadBinary:      1,
		dynamic.UnreadBadRecord:   2, // unknown kind; no time
		dynamic.UnreadUnsupported: 1,
		dynamic.UnreadNotLog:      2, // the panic; the impossible date
	}
	for k, n := range want {
		if in.Unread[k] != n {
			t.Errorf("unread %s = %d; want %d (samples %+v)", k, in.Unread[k], n, in.Samples)
		}
	}
	if len(in.Unread) != len(want) {
		t.Errorf("unread %v; want only %v", in.Unread, want)
	}
	if in.Continuation != 2 || in.Records != 1 || in.UnknownFields != 1 || strings.Join(in.UnknownFieldList, ",") != "battery" {
		t.Errorf("continuation %d records %d unknown fields %d %v", in.Continuation, in.Records, in.UnknownFields, in.UnknownFieldList)
	}
	// Cut after the id, and cut in the type: both used, neither placed.
	if in.UsedIncomplete != 1 || rep.State.UnknownTypes != 1 || strings.Join(rep.State.UnknownTypeNames, ",") != "CHAT_MES" {
		t.Errorf("incomplete %d, unknown types %d %v", in.UsedIncomplete, rep.State.UnknownTypes, rep.State.UnknownTypeNames)
	}
	for _, smp := range in.Samples {
		if smp.Line == 0 || smp.Text == "" || smp.Detail == "" {
			t.Errorf("sample without line, text or detail: %+v", smp)
		}
	}
	// The damage costs nothing else: the session's verdicts stand.
	wantV := sessionVerdicts("", s)
	sort.Strings(wantV)
	if got := verdicts(rep); strings.Join(got, "\n") != strings.Join(wantV, "\n") {
		t.Fatalf("violations\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantV, "\n"))
	}
}

func TestTheRecordsFixtureFiresEveryCheck(t *testing.T) {
	rep := audit(t, "records.jsonl")
	want := []string{"MA1001 alice join-1", "MA2001 alice gc-1", "MA2002 alice", "MA2003 alice chat-2", "MA2004 bob chat-3"}
	if got := verdicts(rep); strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("violations %v; want %v", got, want)
	}
	in := rep.Inputs[0]
	if in.Records != in.Lines || in.UnknownFields != 1 || in.UnknownFieldList[0] != "build" {
		t.Fatalf("%d of %d lines read as records, unknown fields %v", in.Records, in.Lines, in.UnknownFieldList)
	}
	for name, want := range map[string]dynamic.FlowCounts{
		"contact_request": {Messages: 2, MVDS: 2, Delivered: 2},
		"join_request":    {Messages: 1, Outside: 1, Silent: 1},
		"one_to_one":      {Messages: 3, MVDS: 3, Delivered: 1, Failed: 2},
		"private_group":   {Messages: 2, MVDS: 2, Delivered: 1, Silent: 1},
	} {
		got := flowRow(rep, name)
		want.Name = name
		got.Flow = 0
		if got != want {
			t.Errorf("%s: %+v; want %+v", name, got, want)
		}
	}
}

func TestTheSessionAsOldReleasesLoggedItIsReadWithTheRightCounts(t *testing.T) {
	s := logwriter.NewSession(logwriter.Legacy, 1, 0)
	for _, c := range []struct{ name, format string }{{"logfmt-2023.log", "logfmt"}, {"geth-old-names.log", "geth"}} {
		t.Run(c.name, func(t *testing.T) {
			rep := audit(t, c.name)
			in := rep.Inputs[0]
			// Four connection changes (no force), four datasync dispatches,
			// five sends under the old names; no acknowledgement is logged.
			if in.Lines != int64(len(s.Entries)) || in.StatusGo[c.format] != in.Lines || in.Used != 13 || in.Legacy != 5 || in.UsedIncomplete != 4 || in.Unreadable() != 0 {
				t.Fatalf("%+v", in)
			}
			// The old lines name no type: nothing is known critical, so no
			// MA1001; the three datasync messages cannot be seen delivered
			// by this release's log: unconfirmed, not silent drops. The
			// reconnect that waited 2.5 minutes for a retry stays a
			// violation.
			if got := verdicts(rep); strings.Join(got, ",") != "MA2002" {
				t.Fatalf("verdicts %v", got)
			}
			if u := flowRow(rep, "unclassified"); u.Messages != 8 || u.MVDS != 3 || u.Outside != 5 || u.Unconfirmed != 3 || u.Silent != 5 || u.Delivered != 0 {
				t.Fatalf("unclassified %+v", u)
			}
		})
	}
}
