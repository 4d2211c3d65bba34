package retry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
	"github.com/mvdsguard/mvdsguard/retry"
)

func countType(es []mvdsguard.Event, app string, typ mvdsguard.EventType) int {
	n := 0
	for _, e := range es {
		if e.ID == app && e.Type == typ {
			n++
		}
	}
	return n
}

func TestBoundedFlowFailsOnceAndRetryDeliversWhenThePeerReturns(t *testing.T) {
	w := newWorld(t, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(3)))
	w.net.Partition(w.a, w.b)
	w.send("chat-1", mvdsguard.OneToOne, retry.Content)
	eventually(t, 10*time.Second, "failed", func() bool { return w.status("chat-1").Status == mvdsguard.Failed })
	s := w.status("chat-1")
	if s.Attempts != 3 || s.Reason != mvdsguard.ReasonMaxAttempts || !s.Retryable {
		t.Fatalf("failed status %+v; want 3 attempts, reason max_attempts, retryable", s)
	}
	if states, _ := w.ga.Node().States(context.Background(), mvds.MessageStates(s.Recipients[0].MessageID)); len(states) != 0 {
		t.Fatalf("a failed message keeps %d mvds states", len(states))
	}
	time.Sleep(50 * testEpoch)
	es := events(t, w.ga)
	if n := countType(es, "chat-1", mvdsguard.EventFailed); n != 1 {
		t.Fatalf("%d failed events; want exactly one", n)
	}
	for _, e := range es {
		if e.Type == mvdsguard.EventFailed && (e.Attempts != 3 || !e.Retryable || e.Reason != mvdsguard.ReasonMaxAttempts) {
			t.Fatalf("failed event %+v", e)
		}
	}

	w.net.Heal(w.a, w.b)
	if err := w.ga.Retry(context.Background(), "chat-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivery after Retry", func() bool { return w.status("chat-1").Status == mvdsguard.Delivered })
	eventually(t, 10*time.Second, "B's application receiving it", func() bool { return w.inboxB.has("chat-1") })
	got := strings.Join(eventTypes(events(t, w.ga), "chat-1"), " ")
	if !strings.Contains(got, "failed[max_attempts] rescheduled[user_retry]") || !strings.HasSuffix(got, "delivered") {
		t.Fatalf("events %s", got)
	}
}

func TestIndefiniteFlowKeepsRetryingPastMvdsLimitAndRaisesStalledOnce(t *testing.T) {
	p := fastPolicy(0)
	p.StallAfter = 20 * time.Millisecond
	w := newWorld(t, retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, p))
	w.net.Partition(w.a, w.b)
	w.send("cr-1", mvdsguard.ContactRequest, retry.Control)
	eventually(t, 20*time.Second, "more attempts than mvds would ever make", func() bool {
		return w.status("cr-1").Attempts > mvds.MaxSendCount+5
	})
	s := w.status("cr-1")
	if s.Status != mvdsguard.Pending || !s.Stalled {
		t.Fatalf("status %+v; want pending and stalled", s)
	}
	states, err := w.ga.Node().States(context.Background(), mvds.MessageStates(s.Recipients[0].MessageID))
	if err != nil || len(states) != 1 || states[0].SendCount <= mvds.MaxSendCount {
		t.Fatalf("mvds state %+v, %v; want it kept past mvds's limit", states, err)
	}
	if n := countType(events(t, w.ga), "cr-1", mvdsguard.EventStalled); n != 1 {
		t.Fatalf("%d stalled events; want one", n)
	}
	w.net.Heal(w.a, w.b)
	eventually(t, 10*time.Second, "delivery once the peer is reachable", func() bool { return w.status("cr-1").Status == mvdsguard.Delivered })
}

func TestDeadlineFailsAMessageStillRetrying(t *testing.T) {
	p := fastPolicy(0)
	p.Deadline = 30 * time.Millisecond
	w := newWorld(t, retry.WithPolicy(mvdsguard.PrivateGroup, retry.Content, p))
	w.net.Partition(w.a, w.b)
	w.send("group-msg", mvdsguard.PrivateGroup, retry.Content)
	eventually(t, 10*time.Second, "failed by deadline", func() bool { return w.status("group-msg").Status == mvdsguard.Failed })
	if s := w.status("group-msg"); s.Reason != mvdsguard.ReasonDeadline {
		t.Fatalf("reason %q; want deadline", s.Reason)
	}
}

func TestDiscardStopsRetriesAndFreesMvdsState(t *testing.T) {
	w := newWorld(t, retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, fastPolicy(0)))
	w.net.Partition(w.a, w.b)
	w.send("cr-2", mvdsguard.ContactRequest, retry.Control)
	eventually(t, 10*time.Second, "two attempts", func() bool { return w.status("cr-2").Attempts >= 2 })
	if err := w.ga.Discard(context.Background(), "cr-2"); err != nil {
		t.Fatal(err)
	}
	s := w.status("cr-2")
	if s.Status != mvdsguard.Discarded {
		t.Fatalf("status %s", s.Status)
	}
	if states, _ := w.ga.Node().States(context.Background(), mvds.Selection{}); len(states) != 0 {
		t.Fatalf("%d mvds states left after Discard", len(states))
	}
	attempts := s.Attempts
	w.net.Heal(w.a, w.b)
	time.Sleep(50 * testEpoch)
	if got := w.status("cr-2").Attempts; got != attempts {
		t.Fatalf("attempts went from %d to %d after Discard", attempts, got)
	}
	if w.inboxB.has("cr-2") {
		t.Fatal("a discarded message was delivered")
	}
	if err := w.ga.Discard(context.Background(), "cr-2"); !errors.Is(err, retry.ErrNotDiscardable) {
		t.Fatalf("second Discard: %v", err)
	}
	if err := w.ga.Retry(context.Background(), "cr-2"); !errors.Is(err, retry.ErrNotRetryable) {
		t.Fatalf("Retry of a discarded message: %v", err)
	}
}

func TestRetryOfAPendingMessageSendsItNow(t *testing.T) {
	slow := retry.Policy{Initial: time.Hour, Max: time.Hour, Multiplier: 1}
	w := newWorld(t, retry.WithPolicy(mvdsguard.JoinRequest, retry.Control, slow))
	w.net.Partition(w.a, w.b)
	w.send("join", mvdsguard.JoinRequest, retry.Control)
	w.firstCopyLost("join")
	w.net.Heal(w.a, w.b)
	if err := w.ga.Retry(context.Background(), "join"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delivery without waiting up to an hour", func() bool {
		return w.status("join").Status == mvdsguard.Delivered
	})
}

func TestACopyThatArrivesAfterTheFailureTurnsItDelivered(t *testing.T) {
	w := newWorld(t, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(3)))
	// Every copy reaches B, but only after A has given up: B was not
	// reading, and catches up on what the network kept for it.
	if err := w.net.SetLinkFaults(w.a, w.b, &memtransport.Faults{Latency: 700 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	w.send("late", mvdsguard.OneToOne, retry.Content)
	eventually(t, 10*time.Second, "failed", func() bool { return w.status("late").Status == mvdsguard.Failed })
	eventually(t, 10*time.Second, "delivered once B's acknowledgement of an earlier copy arrives", func() bool {
		return w.status("late").Status == mvdsguard.Delivered
	})
	s := w.status("late")
	if s.Retryable || s.Reason != "" || s.Recipients[0].Status != mvdsguard.Delivered {
		t.Fatalf("status %+v; want delivered, no retry button, no failure reason", s)
	}
	got := strings.Join(eventTypes(events(t, w.ga), "late"), " ")
	if !strings.Contains(got, "failed[max_attempts] delivered(peer) delivered") {
		t.Fatalf("events %s; want failed, then the recipient's and the message's delivered", got)
	}
	if n := countType(events(t, w.ga), "late", mvdsguard.EventDelivered); n != 2 {
		t.Fatalf("%d delivered events; want the recipient's and the message's, once each (later copies' acks change nothing)", n)
	}
}
