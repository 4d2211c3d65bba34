package signals_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
	"github.com/mvdsguard/mvdsguard/signals"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
)

const epoch = 2 * time.Millisecond

func peerID(b byte) mvds.PeerID {
	var p mvds.PeerID
	p[0], p[1] = 0x04, b
	return p
}

// statusGoShapes reads what status-go's own signal package wrote (see
// fixtures/signals/README.md), by signal type.
func statusGoShapes(t *testing.T) map[string][]map[string]any {
	t.Helper()
	f, err := os.Open("../fixtures/signals/statusgo-own/legacy-shapes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]map[string]any{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var env map[string]any
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("status-go shape %q: %v", sc.Text(), err)
		}
		out[env["type"].(string)] = append(out[env["type"].(string)], env)
	}
	return out
}

// sameShape fails unless got has exactly want's keys at every level, with
// values of the same JSON kind. Values are compared by the caller.
func sameShape(t *testing.T, what string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Fatalf("%s: status-go has an object, the adapter %T", what, got)
		}
		if wk, gk := keys(w), keys(g); !reflect.DeepEqual(wk, gk) {
			t.Fatalf("%s: status-go's fields %v, the adapter's %v", what, wk, gk)
		}
		for k := range w {
			sameShape(t, what+"."+k, w[k], g[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) == 0 || len(w) == 0 {
			t.Fatalf("%s: status-go has a list %v, the adapter %v", what, w, got)
		}
		sameShape(t, what+"[0]", w[0], g[0])
	default:
		if reflect.TypeOf(want) != reflect.TypeOf(got) {
			t.Fatalf("%s: status-go has %T (%v), the adapter %T (%v)", what, want, want, got, got)
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pair is a sender Guard A and a recipient Guard B on SQLite files, over an
// in-memory network the test partitions.
type pair struct {
	net    *memtransport.Network
	a, b   mvds.PeerID
	connA  *retry.Manual
	ga, gb *retry.Guard
}

func newPair(t *testing.T, opts ...retry.Option) *pair {
	t.Helper()
	p := &pair{net: memtransport.New(1), a: peerID(1), b: peerID(2), connA: retry.NewManual(true)}
	dir := t.TempDir()
	logger := zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))
	start := func(id mvds.PeerID, file string, extra ...retry.Option) *retry.Guard {
		db, err := sqlitedb.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		ep, err := p.net.Join(id)
		if err != nil {
			t.Fatal(err)
		}
		all := append([]retry.Option{retry.WithLogger(logger), retry.WithNodeOptions(mvds.WithEpoch(epoch)),
			retry.WithSweepInterval(5 * time.Millisecond)}, extra...)
		g, err := retry.New(db, ep, id, all...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close(); db.Close() })
		return g
	}
	p.gb = start(p.b, "b.db", retry.WithNodeOptions(mvds.WithHandler(func(context.Context, *sql.Tx, mvds.Received) error { return nil })))
	p.ga = start(p.a, "a.db", append([]retry.Option{retry.WithConnectivity(p.connA)}, opts...)...)
	return p
}

// recorder collects what Forward hands its sink.
type recorder struct {
	mu  sync.Mutex
	got []signals.Signal
}

func (r *recorder) sink(s signals.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
	return nil
}

func (r *recorder) of(typ, id string) []signals.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []signals.Signal
	for _, s := range r.got {
		if s.Type == typ && idOf(s) == id {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) all() []signals.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]signals.Signal(nil), r.got...)
}

func idOf(s signals.Signal) string {
	switch e := s.Event.(type) {
	case mvdsguard.Event:
		return e.ID
	case signals.EnvelopeEvent:
		if len(e.IDs) == 1 {
			return e.IDs[0]
		}
	case signals.DeliveredEvent:
		return e.MessageID
	}
	return ""
}

// forward runs Forward until the test ends.
func forward(t *testing.T, g *retry.Guard, after uint64) *recorder {
	t.Helper()
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- signals.Forward(ctx, g, after, r.sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Forward: %v", err)
		}
	})
	return r
}

func decode(t *testing.T, s signals.Signal) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	msgID  = "0xFEA3E5946497E2BE810CBE90D3E0BF687297B05EE8A00390411468A40D4DA2E6" // upper case: the adapter writes hexutil's form
	wantID = "0xfea3e5946497e2be810cbe90d3e0bf687297b05ee8a00390411468a40d4da2e6"
	chatID = "0x0402"
)

// TestLegacySignalsHaveStatusGosShape sends a 1:1 message that is
// delivered, one that fails and is retried, and a contact request that
// stalls, and compares each legacy signal with what status-go's signal
// package writes, field by field.
func TestLegacySignalsHaveStatusGosShape(t *testing.T) {
	shapes := statusGoShapes(t)
	fast := retry.Policy{Initial: 4 * epoch, Max: 8 * epoch, Multiplier: 2, MaxAttempts: 3}
	stall := retry.Policy{Initial: 4 * epoch, Max: 8 * epoch, Multiplier: 2, StallAfter: 20 * epoch}
	p := newPair(t, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fast),
		retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, stall))
	rec := forward(t, p.ga, 0)
	api := signals.NewAPI(p.ga)
	ctx := context.Background()

	// Delivered.
	if err := p.ga.Send(ctx, retry.Outgoing{AppID: msgID, ChatID: chatID, Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{p.b}, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "message.delivered", func() bool { return len(rec.of(signals.MessageDelivered, wantID)) == 1 })
	d := decode(t, rec.of(signals.MessageDelivered, wantID)[0])
	want := shapes[signals.MessageDelivered][0]
	sameShape(t, "message.delivered", want, d)
	if ev := d["event"].(map[string]any); ev["chatID"] != chatID || ev["messageID"] != wantID {
		t.Fatalf("message.delivered: %v; want chatID %s, messageID %s", ev, chatID, wantID)
	}
	sent := rec.of(signals.EnvelopeSent, wantID)
	if len(sent) != 1 {
		t.Fatalf("envelope.sent: %d signals for one message, want 1", len(sent))
	}
	s := decode(t, sent[0])
	sameShape(t, "envelope.sent", shapes[signals.EnvelopeSent][0], s)
	if ev := s["event"].(map[string]any); ev["hash"] != shapes[signals.EnvelopeSent][0]["event"].(map[string]any)["hash"] || ev["message"] != "" {
		t.Fatalf("envelope.sent: %v; want status-go's zero hash and no message", ev)
	}
	if got := s["event"].(map[string]any)["ids"].([]any); len(got) != 1 || got[0] != wantID {
		t.Fatalf("envelope.sent ids %v, want [%s]", got, wantID)
	}

	// Failed, then retried from the desktop's Resend.
	const failID = "0x0a0b"
	p.net.Partition(p.a, p.b)
	if err := p.ga.Send(ctx, retry.Outgoing{AppID: failID, ChatID: chatID, Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{p.b}, Payload: []byte("lost")}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "envelope.expired", func() bool { return len(rec.of(signals.EnvelopeExpired, failID)) == 1 })
	x := decode(t, rec.of(signals.EnvelopeExpired, failID)[0])
	sameShape(t, "envelope.expired", shapes[signals.EnvelopeExpired][0], x)
	if msg := x["event"].(map[string]any)["message"]; msg != "mvds: no acknowledgement after 3 attempts" {
		t.Fatalf("envelope.expired message %q", msg)
	}
	if n := len(rec.of(signals.EnvelopeSent, failID)); n != 1 {
		t.Fatalf("envelope.sent before the failure: %d, want 1 (the first of 3 attempts)", n)
	}
	p.net.Heal(p.a, p.b)
	if err := api.RetryMessage(ctx, failID); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "message.delivered after Retry", func() bool { return len(rec.of(signals.MessageDelivered, failID)) == 1 })
	if n := len(rec.of(signals.EnvelopeSent, failID)); n != 2 {
		t.Fatalf("envelope.sent after Retry: %d in all, want 2 (the first attempt, and the first after the failure)", n)
	}
	if n := len(rec.of(signals.EnvelopeExpired, failID)); n != 1 {
		t.Fatalf("envelope.expired: %d, want 1", n)
	}

	// A contact request that stalls: pending, never expired.
	const crID = "0x0c0d"
	p.net.Partition(p.a, p.b)
	if err := p.ga.Send(ctx, retry.Outgoing{AppID: crID, ChatID: chatID, Flow: mvdsguard.ContactRequest, Kind: retry.Control, Peers: []mvds.PeerID{p.b}, Payload: []byte("cr")}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "mvds.message.stalled", func() bool {
		return len(rec.of(mvdsguard.EventStalled.String(), crID)) == 1
	})
	st := decode(t, rec.of(mvdsguard.EventStalled.String(), crID)[0])
	if ev := st["event"].(map[string]any); ev["flow"] != "contact_request" || ev["reason"] != "stall_after" {
		t.Fatalf("stalled: %v", ev)
	}
	pending, err := api.PendingMessages(ctx, signals.PendingRequest{Flow: mvdsguard.ContactRequest})
	if err != nil || len(pending) != 1 || !pending[0].Stalled {
		t.Fatalf("pendingMessages: %+v, %v; want the stalled request", pending, err)
	}
	if n := len(rec.of(signals.EnvelopeExpired, crID)); n != 0 {
		t.Fatalf("a stalled contact request gave %d envelope.expired", n)
	}
	// "retry now" on the stalled request, then the partition heals.
	if err := api.RetryMessage(ctx, crID); err != nil {
		t.Fatal(err)
	}
	p.net.Heal(p.a, p.b)
	wait.For(t, 10*time.Second, "the request delivered", func() bool { return len(rec.of(signals.MessageDelivered, crID)) == 1 })
	if n := len(rec.of(signals.EnvelopeExpired, crID)); n != 0 {
		t.Fatalf("a contact request gave %d envelope.expired", n)
	}

	// Every Guard event came out as its own signal too, once, in order.
	var last uint64
	evs, err := p.ga.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var own []uint64
	for _, s := range rec.all() {
		if s.Seq < last {
			t.Fatalf("signal of event %d after one of event %d", s.Seq, last)
		}
		last = s.Seq
		if _, ok := s.Event.(mvdsguard.Event); ok {
			own = append(own, s.Seq)
		}
	}
	if len(own) < len(evs) {
		wait.For(t, 5*time.Second, "every event forwarded", func() bool { return len(rec.all()) >= len(evs) })
	}
	if n, err := p.ga.LastSeq(ctx); err != nil || n != evs[len(evs)-1].Seq {
		t.Fatalf("LastSeq %d, %v; the log ends at %d", n, err, evs[len(evs)-1].Seq)
	}
	for i, e := range evs {
		if i >= len(own) || own[i] != e.Seq {
			t.Fatalf("event %d (%s) not forwarded in order: %v", e.Seq, e.Type, own)
		}
	}
}

// TestForwardResumes stops forwarding in the middle and resumes from the
// last signal handled: nothing is lost or doubled.
func TestForwardResumes(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	send := func(id string) {
		if err := p.ga.Send(ctx, retry.Outgoing{AppID: id, ChatID: chatID, Flow: mvdsguard.OneToOne, Peers: []mvds.PeerID{p.b}, Payload: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	var all []signals.Signal
	run := func(after uint64, until func() bool) uint64 {
		r := &recorder{}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- signals.Forward(cctx, p.ga, after, r.sink) }()
		wait.For(t, 10*time.Second, "signals", func() bool { return until() && len(r.all()) > 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := r.all()
		// A consumer persists the Seq of the last signal it handled; the
		// signals of one event are handled together.
		all = append(all, got...)
		return got[len(got)-1].Seq
	}
	send("0x01")
	delivered := func(id string) func() bool {
		return func() bool { s, err := p.ga.Status(ctx, id); return err == nil && s.Status == mvdsguard.Delivered }
	}
	last := run(0, delivered("0x01"))
	send("0x02")
	send("0x03")
	wait.For(t, 10*time.Second, "delivered while no one listened", delivered("0x03"))
	run(last, delivered("0x03"))

	whole := &recorder{}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- signals.Forward(cctx, p.ga, 0, whole.sink) }()
	wait.For(t, 10*time.Second, "the whole stream", func() bool { return len(whole.all()) >= len(all) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a, b := render(t, all), render(t, whole.all()); !reflect.DeepEqual(a, b) {
		t.Fatalf("resumed stream differs from the whole one:\nresumed %v\nwhole   %v", a, b)
	}
	// The API finds a message by status-go's spelling of its id too: a
	// delivered message cannot be discarded, an unknown one is unknown.
	api := signals.NewAPI(p.ga)
	if err := api.DiscardMessage(ctx, "0X01"); !errors.Is(err, retry.ErrNotDiscardable) {
		t.Fatalf("discard 0X01 (stored as 0x01): %v; want ErrNotDiscardable", err)
	}
	if err := api.RetryMessage(ctx, "0x99"); !errors.Is(err, retry.ErrUnknownMessage) {
		t.Fatalf("retry 0x99: %v; want ErrUnknownMessage", err)
	}
}

func render(t *testing.T, ss []signals.Signal) []string {
	t.Helper()
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
