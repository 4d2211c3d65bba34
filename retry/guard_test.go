package retry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

func TestDeliveredMessageTellsTheWholeStory(t *testing.T) {
	w := newWorld(t)
	w.send("m1", mvdsguard.ContactRequest, retry.Control)
	eventually(t, 10*time.Second, "delivery", func() bool { return w.status("m1").Status == mvdsguard.Delivered })
	// B acknowledges once it stored the message; its application gets it
	// from the inbox right after.
	eventually(t, 10*time.Second, "B's application receiving it", func() bool { return w.inboxB.has("m1") })
	got := strings.Join(eventTypes(events(t, w.ga), "m1"), " ")
	if !strings.HasPrefix(got, "scheduled") || !strings.HasSuffix(got, "delivered(peer) delivered") || !strings.Contains(got, "sent(peer)") {
		t.Fatalf("events of m1: %s; want scheduled, sent, then delivered per peer and for the message", got)
	}
	s := w.status("m1")
	if s.Attempts < 1 || s.FirstAttemptAt.IsZero() || len(s.Recipients) != 1 || s.Recipients[0].Status != mvdsguard.Delivered {
		t.Fatalf("status %+v", s)
	}
}

func TestNothingIsAttemptedOfflineAndEverythingGoesOutOnReconnect(t *testing.T) {
	w := newWorld(t)
	w.setOnline(false)
	for i := 0; i < 20; i++ {
		w.send("off-"+string(rune('a'+i)), mvdsguard.ContactRequest, retry.Control)
	}
	from := w.ga.Node().CurrentEpoch()
	eventually(t, 10*time.Second, "200 offline epochs", func() bool { return w.ga.Node().CurrentEpoch() > from+200 })
	for _, s := range mustPending(t, w.ga) {
		if s.Attempts != 0 {
			t.Fatalf("%s: %d attempts counted while offline", s.AppID, s.Attempts)
		}
	}
	w.setOnline(true)
	reconnect := w.ga.Node().CurrentEpoch()
	eventually(t, 10*time.Second, "every message delivered", func() bool {
		return len(mustPending(t, w.ga)) == 0
	})
	if took := w.ga.Node().CurrentEpoch() - reconnect; took > 10 {
		t.Errorf("took %d epochs after reconnect", took)
	}
}

func mustPending(t testing.TB, g *retry.Guard) []retry.MessageStatus {
	t.Helper()
	p, err := g.Pending(context.Background(), retry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
