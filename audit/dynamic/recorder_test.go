package dynamic_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// These tests feed the Recorder records by hand to pin down the edges of
// each check; the live and fixture tests show the checks on real traffic.

func recorder(t testing.TB, mutate ...func(*config.Runtime)) *dynamic.Recorder {
	t.Helper()
	cfg := config.DefaultRuntime()
	cfg.Horizon = time.Minute
	cfg.ReconnectWithin = 10 * time.Second
	cfg.Lateness = time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	r, err := dynamic.NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func send(id string, sec float64, flow mvdsguard.Flow, via dynamic.Via) dynamic.Record {
	return dynamic.Record{Kind: dynamic.KindSend, At: at(sec), ID: id, Flow: flow, Via: via, Attempts: -1,
		Evidence: dynamic.Evidence{Input: "t", Line: int64(sec*10) + 1, Text: "send " + id}}
}

func rec(kind dynamic.Kind, id string, sec float64) dynamic.Record {
	return dynamic.Record{Kind: kind, At: at(sec), ID: id, Attempts: -1, Evidence: dynamic.Evidence{Input: "t", Line: int64(sec*10) + 2, Text: kind.String() + " " + id}}
}

func online(sec float64, on bool) dynamic.Record {
	return dynamic.Record{Kind: dynamic.KindConnectivity, At: at(sec), Online: on, Attempts: -1, Evidence: dynamic.Evidence{Input: "t", Text: fmt.Sprint("online ", on)}}
}

func feed(t testing.TB, r *dynamic.Recorder, records ...dynamic.Record) {
	t.Helper()
	for _, x := range records {
		if err := r.Add(x); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(rep *dynamic.Report) string { return strings.Join(verdicts(rep), ", ") }

func TestOutOfOrderRecordsWithinTheLatenessAreNoSilentDrop(t *testing.T) {
	r := recorder(t)
	feed(t, r, send("m", 0, mvdsguard.OneToOne, dynamic.ViaMVDS))
	// Another process's line, 0.5 s past the horizon, arrives before the
	// delivery that happened just within it.
	r.Advance(at(60.5))
	feed(t, r, rec(dynamic.KindDelivered, "m", 59.9))
	if got := ids(r.Finish(at(120))); got != "" {
		t.Fatalf("violations %s", got)
	}
}

func TestAnOutcomeAfterTheHorizonIsASilentDropThatSaysWhen(t *testing.T) {
	r := recorder(t)
	feed(t, r, send("m", 0, mvdsguard.ContactRequest, dynamic.ViaMVDS), rec(dynamic.KindAttempt, "m", 1), rec(dynamic.KindDelivered, "m", 60.5))
	rep := r.Finish(at(61))
	if ids(rep) != "MA2001 m" || !strings.Contains(rep.Violations[0].Message, "delivered only 1m0.5s after") {
		t.Fatalf("%s: %+v", ids(rep), rep.Violations)
	}
	if c := flowRow(rep, "contact_request"); c.Silent != 1 || c.Delivered != 0 {
		t.Fatalf("counts %+v: a late outcome counts as silent", c)
	}
}

func TestAMessageStillPendingWhenTheInputEndsIsOpenNotSilent(t *testing.T) {
	r := recorder(t)
	feed(t, r, send("m", 0, mvdsguard.ContactRequest, dynamic.ViaMVDS))
	rep := r.Finish(at(30))
	if ids(rep) != "" || flowRow(rep, "contact_request").Open != 1 || rep.State.OpenAtEnd != 1 {
		t.Fatalf("%s %+v", ids(rep), flowRow(rep, "contact_request"))
	}
}

func TestOnlyCriticalAndUnplacedMVDSMessagesAreReportedSilent(t *testing.T) {
	r := recorder(t)
	feed(t, r,
		send("public", 0, mvdsguard.Other, dynamic.ViaPublic),
		send("sync", 0, mvdsguard.Other, dynamic.ViaMVDS),
		send("unplaced-outside", 0, 0, dynamic.ViaOther),
		send("unplaced-mvds", 0, 0, dynamic.ViaMVDS),
		send("cr-outside", 0, mvdsguard.ContactRequest, dynamic.ViaPrivate),
	)
	rep := r.Finish(at(120))
	// cr-outside is reported as sent outside MVDS, not again as silent.
	if got := ids(rep); got != "MA1001 cr-outside, MA2001 unplaced-mvds" {
		t.Fatalf("violations %s", got)
	}
	if c := flowRow(rep, "other"); c.Silent != 2 {
		t.Fatalf("other %+v: silent messages are counted whatever their flow", c)
	}
}

func TestALateRecordForAFinishedMessageIsNotANewMessage(t *testing.T) {
	r := recorder(t)
	feed(t, r, send("m", 0, mvdsguard.OneToOne, dynamic.ViaMVDS), rec(dynamic.KindDelivered, "m", 1),
		rec(dynamic.KindAttempt, "m", 2), rec(dynamic.KindDelivered, "m", 3))
	rep := r.Finish(at(300))
	if ids(rep) != "" || flowRow(rep, "one_to_one").Messages != 1 || rep.State.AfterOutcome != 2 {
		t.Fatalf("%s %+v after-outcome %d", ids(rep), flowRow(rep, "one_to_one"), rep.State.AfterOutcome)
	}
}

func TestATypedSendPlacesAMessageFirstSeenInADatasyncPacket(t *testing.T) {
	r := recorder(t)
	a := rec(dynamic.KindAttempt, "m", 0)
	a.Via = dynamic.ViaMVDS
	s := send("m", 1, 0, dynamic.ViaPrivate)
	s.Type = "ACCEPT_CONTACT_REQUEST"
	feed(t, r, a, s)
	rep := r.Finish(at(2))
	c := flowRow(rep, "contact_request")
	if c.Messages != 1 || c.MVDS != 1 || c.Outside != 1 || flowRow(rep, "unclassified").Messages != 0 {
		t.Fatalf("%+v / %+v", c, flowRow(rep, "unclassified"))
	}
	if ids(rep) != "MA1001 m" {
		t.Fatalf("violations %s", ids(rep))
	}
}

func TestAReconnectNeedsAnAttemptOfAMessagePendingBeforeIt(t *testing.T) {
	pendingThenReconnect := []dynamic.Record{send("old", 0, mvdsguard.ContactRequest, dynamic.ViaMVDS), online(1, true), online(2, false), online(5, true)}
	cases := []struct {
		name  string
		after []dynamic.Record
		want  string
	}{
		{"nothing follows", nil, "MA2002"},
		{"the old message is attempted", []dynamic.Record{rec(dynamic.KindAttempt, "old", 6)}, ""},
		{"the old message is attempted too late", []dynamic.Record{rec(dynamic.KindAttempt, "old", 15.5)}, "MA2002"},
		{"only a new message is attempted", []dynamic.Record{send("new", 6, mvdsguard.ContactRequest, dynamic.ViaMVDS), rec(dynamic.KindAttempt, "new", 6)}, "MA2002"},
		{"the old message is delivered anyway", []dynamic.Record{rec(dynamic.KindDelivered, "old", 6)}, ""},
		{"the device goes offline again", []dynamic.Record{online(8, false)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := recorder(t)
			feed(t, r, pendingThenReconnect...)
			feed(t, r, c.after...)
			rep := r.Finish(at(40))
			if got := ids(rep); got != c.want {
				t.Fatalf("violations %q; want %q", got, c.want)
			}
		})
	}
}

func TestAWakeIsAReconnectButTheFirstKnownStateIsNot(t *testing.T) {
	r := recorder(t)
	feed(t, r, send("m", 0, mvdsguard.ContactRequest, dynamic.ViaMVDS), online(1, true))
	wake := online(20, true)
	wake.Wake = true
	feed(t, r, wake)
	rep := r.Finish(at(50))
	if ids(rep) != "MA2002" || !rep.Violations[0].At.Equal(at(30)) {
		t.Fatalf("%s %+v", ids(rep), rep.Violations)
	}
}

func TestReconnectsOfOneNodeDoNotConcernAnother(t *testing.T) {
	r := recorder(t)
	m := send("m", 0, mvdsguard.ContactRequest, dynamic.ViaMVDS)
	m.Node = "alice"
	off, on := online(1, false), online(2, true)
	off.Node, on.Node = "bob", "bob"
	feed(t, r, m, off, on)
	if got := ids(r.Finish(at(30))); got != "" {
		t.Fatalf("violations %s: bob's reconnect was blamed on alice's message", got)
	}
}

func TestAFailureWithoutAnAttemptIsReportedWhereverTheCountComesFrom(t *testing.T) {
	withCount := func(id string, n int) dynamic.Record {
		f := rec(dynamic.KindFailed, id, 30)
		f.Attempts = n
		return f
	}
	r := recorder(t)
	feed(t, r,
		// The round started in the input and nothing was attempted.
		send("seen-untried", 0, mvdsguard.OneToOne, dynamic.ViaMVDS), rec(dynamic.KindFailed, "seen-untried", 30),
		// The round started in the input and was attempted.
		send("seen-tried", 0, mvdsguard.OneToOne, dynamic.ViaMVDS), rec(dynamic.KindAttempt, "seen-tried", 1), rec(dynamic.KindFailed, "seen-tried", 30),
		// Sent before the input began: only the failure's count can tell.
		withCount("before-untried", 0), withCount("before-tried", 4), rec(dynamic.KindFailed, "before-unknown", 30),
		// A retry after a failure starts a round that must be attempted too.
		send("retried", 0, mvdsguard.OneToOne, dynamic.ViaMVDS), rec(dynamic.KindAttempt, "retried", 1), withCount("retried", 1),
	)
	retry := rec(dynamic.KindRescheduled, "retried", 31)
	retry.Reason = "user_retry"
	feed(t, r, retry, withCount("retried", 1))
	rep := r.Finish(at(40))
	if got := ids(rep); got != "MA2003 before-untried, MA2003 retried, MA2003 seen-untried" {
		t.Fatalf("violations %s", got)
	}
	if c := flowRow(rep, "one_to_one"); c.Messages != 3 || c.Failed != 3 {
		t.Fatalf("one_to_one %+v: the retried message counts once, by its last outcome", c)
	}
}

func TestADuplicateReceiptIsReportedOnceAndOnlyWithinTheHorizon(t *testing.T) {
	r := recorder(t)
	receipt := func(id, node string, sec float64) dynamic.Record {
		x := rec(dynamic.KindReceipt, id, sec)
		x.Node = node
		return x
	}
	feed(t, r,
		receipt("m", "bob", 0), receipt("m", "bob", 1), receipt("m", "bob", 2), // twice reported once
		receipt("m", "carol", 3),                               // another node's application
		receipt("late", "bob", 4), receipt("late", "bob", 200), // further apart than the horizon
	)
	rep := r.Finish(at(201))
	if got := ids(rep); got != "MA2004 bob m" {
		t.Fatalf("violations %s", got)
	}
	if ev := rep.Violations[0].Evidence; len(ev) != 2 || ev[0].Text != "receipt m" {
		t.Fatalf("evidence %+v", ev)
	}
}

func TestSeverityAndTheListingLimitShapeTheReport(t *testing.T) {
	r := recorder(t, func(c *config.Runtime) {
		c.Severity = map[string]rule.Severity{rule.NotMVDS: rule.SeverityWarning, rule.SilentDrop: rule.SeverityOff}
		c.Limits.Violations = 2
	})
	for i := 0; i < 5; i++ {
		feed(t, r, send(fmt.Sprint("cr-", i), float64(i), mvdsguard.ContactRequest, dynamic.ViaCommunity),
			send(fmt.Sprint("lost-", i), float64(i), mvdsguard.ContactRequest, dynamic.ViaMVDS))
	}
	rep := r.Finish(at(300))
	errs, warns, _ := rep.Counts()
	if errs != 0 || warns != 5 || len(rep.Violations) != 2 {
		t.Fatalf("errors %d warnings %d listed %d", errs, warns, len(rep.Violations))
	}
	for _, c := range rep.Checks {
		if c.ID == rule.NotMVDS && (c.Violations != 5 || c.Listed != 2 || c.Severity != rule.SeverityWarning) {
			t.Fatalf("%+v", c)
		}
		if c.ID == rule.SilentDrop && c.Violations != 0 {
			t.Fatalf("a check turned off still counted: %+v", c)
		}
	}
}

func TestInvalidRecordsAreRejectedAndCounted(t *testing.T) {
	r := recorder(t)
	for _, x := range []dynamic.Record{{}, {Kind: dynamic.KindSend, At: t0}, {Kind: dynamic.KindConnectivity}, {Kind: dynamic.Kind(99), At: t0, ID: "x"}} {
		if err := r.Add(x); err == nil {
			t.Fatalf("%+v accepted", x)
		}
	}
	rep := r.Finish(t0)
	var n int64
	for _, v := range rep.State.Rejected {
		n += v
	}
	if n != 4 {
		t.Fatalf("rejected %v", rep.State.Rejected)
	}
	if err := r.Add(send("m", 0, mvdsguard.OneToOne, dynamic.ViaMVDS)); err != dynamic.ErrFinished {
		t.Fatalf("Add after Finish: %v", err)
	}
}

func TestTheOpenMessageLimitBoundsMemoryAndIsReported(t *testing.T) {
	const limit = 1000
	r := recorder(t, func(c *config.Runtime) { c.Limits.Open = limit; c.Horizon = time.Hour })
	for i := 0; i < 20*limit; i++ {
		feed(t, r, send(fmt.Sprint("m-", i), float64(i)/1000, mvdsguard.OneToOne, dynamic.ViaMVDS))
	}
	rep := r.Finish(at(30))
	if rep.State.PeakOpen != limit || rep.State.Evicted != 19*limit || flowRow(rep, "one_to_one").Evicted != 19*limit {
		t.Fatalf("peak %d evicted %d (%+v)", rep.State.PeakOpen, rep.State.Evicted, flowRow(rep, "one_to_one"))
	}
}

// TestMemoryPerEntry measures what docs/runtime-audit.md states: the heap
// one open message, one finished message and one receipt cost at the
// longest evidence, which with the default limits bounds the Recorder.
func TestMemoryPerEntry(t *testing.T) {
	const n = 20000
	long := strings.Repeat("x", dynamic.MaxEvidence)
	measure := func(what string, limit float64, fill func(r *dynamic.Recorder, i int)) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := recorder(t, func(c *config.Runtime) { c.Horizon = time.Hour })
		for i := 0; i < n; i++ {
			fill(r, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / n
		t.Logf("%s: %.0f bytes of heap each", what, per)
		if per > limit {
			t.Errorf("%s: %.0f bytes each; docs/runtime-audit.md promises at most %.0f", what, per, limit)
		}
		runtime.KeepAlive(r)
	}
	msg := func(i int, kind dynamic.Kind) dynamic.Record {
		x := rec(kind, fmt.Sprintf("0x%064x", i), 1)
		x.Node = "alice-1"
		x.Evidence.Text = dynamic.Clip(long + fmt.Sprint(i, kind)) // a distinct string per record
		return x
	}
	measure("open message", 1500, func(r *dynamic.Recorder, i int) {
		s := msg(i, dynamic.KindSend)
		s.Via, s.Flow = dynamic.ViaMVDS, mvdsguard.OneToOne
		feed(t, r, s, msg(i, dynamic.KindAttempt))
	})
	measure("finished message", 500, func(r *dynamic.Recorder, i int) {
		s := msg(i, dynamic.KindSend)
		s.Via, s.Flow = dynamic.ViaMVDS, mvdsguard.OneToOne
		feed(t, r, s, msg(i, dynamic.KindAttempt), msg(i, dynamic.KindDelivered))
	})
	measure("receipt", 800, func(r *dynamic.Recorder, i int) { feed(t, r, msg(i, dynamic.KindReceipt)) })
}

func TestTheRecorderTakesRecordsFromManyGoroutines(t *testing.T) {
	r := recorder(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				_ = r.Add(send(id, float64(i)/100, mvdsguard.OneToOne, dynamic.ViaMVDS))
				_ = r.Add(rec(dynamic.KindDelivered, id, float64(i)/100+0.5))
				r.Advance(at(float64(i) / 100))
			}
		}()
	}
	wg.Wait()
	rep := r.Finish(at(10))
	if c := flowRow(rep, "one_to_one"); c.Messages != 1600 || c.Delivered != 1600 || ids(rep) != "" {
		t.Fatalf("%+v %s", c, ids(rep))
	}
}
