package retry_test

import (
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

func TestRestartKeepsPendingPendingAndReplaysEventsWithoutASecondFailed(t *testing.T) {
	w := newWorld(t, retry.WithPolicy(mvdsguard.OneToOne, retry.Content, fastPolicy(2)))
	w.net.Partition(w.a, w.b)
	w.send("cr", mvdsguard.ContactRequest, retry.Control)
	w.send("chat", mvdsguard.OneToOne, retry.Content)
	eventually(t, 10*time.Second, "chat failed", func() bool { return w.status("chat").Status == mvdsguard.Failed })

	// A GUI saw everything up to here and remembered the last seq.
	before := events(t, w.ga)
	seen := before[len(before)-1].Seq

	w.restartA()
	if s := w.status("cr"); s.Status != mvdsguard.Pending {
		t.Fatalf("after restart the contact request is %s", s.Status)
	}
	sub, err := w.ga.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var replayed []mvdsguard.Event
	timeout := time.After(10 * time.Second)
	for len(replayed) < len(before) {
		select {
		case e := <-sub.Events():
			replayed = append(replayed, e)
		case <-timeout:
			t.Fatalf("replayed %d of %d events", len(replayed), len(before))
		}
	}
	for i := range before {
		if replayed[i] != before[i] {
			t.Fatalf("event %d replayed as %+v; was %+v", i, replayed[i], before[i])
		}
	}
	// Resuming after the last seen seq gets only what is new: the restart's
	// reschedule of the pending contact request, then its delivery.
	resumed, err := w.ga.Subscribe(seen)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	w.net.Heal(w.a, w.b)
	eventually(t, 10*time.Second, "the contact request delivered", func() bool { return w.status("cr").Status == mvdsguard.Delivered })
	var after []mvdsguard.Event
	for e := range resumed.Events() {
		if e.Seq <= seen {
			t.Fatalf("resumed subscription delivered old event %d", e.Seq)
		}
		after = append(after, e)
		if e.ID == "cr" && e.Type == mvdsguard.EventDelivered && e.Peer == "" {
			break
		}
	}
	if after[0].Type != mvdsguard.EventRescheduled || after[0].Reason != mvdsguard.ReasonReconnect {
		t.Errorf("first event after the restart: %+v; want rescheduled after reconnect", after[0])
	}
	if n := countType(events(t, w.ga), "chat", mvdsguard.EventFailed); n != 1 {
		t.Fatalf("%d failed events for one failed message across a restart", n)
	}
}

func TestSubscriptionSeesEventsInOrderAsTheyCommit(t *testing.T) {
	w := newWorld(t)
	sub, err := w.ga.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, id := range []string{"x1", "x2", "x3"} {
		w.send(id, mvdsguard.OneToOne, retry.Content)
	}
	delivered := map[string]bool{}
	var last uint64
	timeout := time.After(10 * time.Second)
	for len(delivered) < 3 {
		select {
		case e := <-sub.Events():
			if e.Seq <= last {
				t.Fatalf("seq %d after %d", e.Seq, last)
			}
			last = e.Seq
			if e.Type == mvdsguard.EventDelivered && e.Peer == "" {
				delivered[e.ID] = true
			}
		case <-timeout:
			t.Fatalf("only %v delivered", delivered)
		}
	}
}

func TestClosingTheGuardEndsSubscriptions(t *testing.T) {
	w := newWorld(t)
	sub, err := w.ga.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	w.ga.Close()
	for range sub.Events() {
	}
	if sub.Err() == nil {
		t.Fatal("a subscription ended by Close of the Guard reports no reason")
	}
	if _, err := w.ga.Subscribe(0); err == nil {
		t.Fatal("subscribed to a closed Guard")
	}
	w.ga = nil
}

func TestWakeFromSleepReschedulesLikeAReconnect(t *testing.T) {
	clock := newFakeClock()
	slow := retry.Policy{Initial: time.Hour, Max: time.Hour, Multiplier: 1}
	w := newWorld(t, retry.WithClock(clock), retry.WithWakeDetection(5*time.Millisecond, time.Second),
		retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, slow))
	w.net.Partition(w.a, w.b)
	w.send("sleepy", mvdsguard.ContactRequest, retry.Control)
	w.firstCopyLost("sleepy")
	// The laptop sleeps; when it wakes, the peer is reachable but the next
	// attempt is up to an hour of epochs away.
	w.net.Heal(w.a, w.b)
	clock.sleep(8 * time.Hour)
	eventually(t, 10*time.Second, "delivery right after the wake", func() bool { return w.status("sleepy").Status == mvdsguard.Delivered })
	found := false
	for _, e := range events(t, w.ga) {
		if e.ID == "sleepy" && e.Type == mvdsguard.EventRescheduled && e.Reason == mvdsguard.ReasonWake {
			found = true
		}
	}
	if !found {
		t.Fatalf("no rescheduled event with reason wake; events of sleepy: %v", eventTypes(events(t, w.ga), "sleepy"))
	}

}
