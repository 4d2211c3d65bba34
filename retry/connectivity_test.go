package retry_test

import (
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

func TestManualKeepsOnlyTheLatestChange(t *testing.T) {
	m := retry.NewManual(true)
	m.Set(true) // no change: no notification
	select {
	case <-m.Changes():
		t.Fatal("a repeat of the current state was notified")
	default:
	}
	m.Set(false)
	m.Set(true)
	if v := <-m.Changes(); !v || !m.Online() {
		t.Fatalf("latest change %v, online %v; want true", v, m.Online())
	}
}

// TestAReconnectTooShortToObserveStillReschedules flaps faster than the
// Guard reads the source: it must still treat the change as a reconnect.
func TestAReconnectTooShortToObserveStillReschedules(t *testing.T) {
	slow := retry.Policy{Initial: time.Hour, Max: time.Hour, Multiplier: 1}
	w := newWorld(t, retry.WithPolicy(mvdsguard.ContactRequest, retry.Control, slow))
	w.net.Partition(w.a, w.b)
	w.send("flap", mvdsguard.ContactRequest, retry.Control)
	w.firstCopyLost("flap")
	w.net.Heal(w.a, w.b)
	w.connA.Set(false)
	w.connA.Set(true)
	eventually(t, 10*time.Second, "delivery after the flap", func() bool { return w.status("flap").Status == mvdsguard.Delivered })
}
