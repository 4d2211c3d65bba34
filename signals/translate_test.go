package signals_test

import (
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/signals"
)

// types lists the signal types Translate gives for each event, in order.
func types(tr *signals.Translator, evs ...mvdsguard.Event) []string {
	var out []string
	for _, e := range evs {
		var ts []string
		for _, s := range tr.Translate(e) {
			ts = append(ts, s.Type)
		}
		out = append(out, strings.Join(ts, "+"))
	}
	return out
}

func ev(seq uint64, typ mvdsguard.EventType, flow mvdsguard.Flow, peer string, attempts int) mvdsguard.Event {
	return mvdsguard.Event{Seq: seq, Type: typ, ID: "0xab", ChatID: "0xc", Flow: flow, Peer: peer, Attempts: attempts,
		Reason: map[mvdsguard.EventType]mvdsguard.Reason{mvdsguard.EventFailed: mvdsguard.ReasonMaxAttempts}[typ]}
}

func TestTranslate(t *testing.T) {
	const (
		m1, m2 = "0x0401", "0x0402"
	)
	S, D, F, R, X, St := mvdsguard.EventSent, mvdsguard.EventDelivered, mvdsguard.EventFailed, mvdsguard.EventRescheduled, mvdsguard.EventDiscarded, mvdsguard.EventStalled
	for _, c := range []struct {
		name string
		evs  []mvdsguard.Event
		want []string
	}{
		{"private group: one envelope.sent, a receipt per member, one message.delivered",
			[]mvdsguard.Event{ev(1, S, mvdsguard.PrivateGroup, m1, 1), ev(2, S, mvdsguard.PrivateGroup, m2, 2),
				ev(3, D, mvdsguard.PrivateGroup, m1, 2), ev(4, D, mvdsguard.PrivateGroup, m2, 2), ev(5, D, mvdsguard.PrivateGroup, "", 2)},
			[]string{"mvds.message.sent+envelope.sent", "mvds.message.sent", "mvds.message.delivered", "mvds.message.delivered",
				"mvds.message.delivered+message.delivered"}},
		{"join request: no legacy signal at all (status-go stores no chat message for it)",
			[]mvdsguard.Event{ev(1, S, mvdsguard.JoinRequest, m1, 1), ev(2, St, mvdsguard.JoinRequest, "", 1), ev(3, D, mvdsguard.JoinRequest, "", 1)},
			[]string{"mvds.message.sent", "mvds.message.stalled", "mvds.message.delivered"}},
		{"contact request failing under a bounded policy: no envelope.expired",
			[]mvdsguard.Event{ev(1, S, mvdsguard.ContactRequest, m1, 1), ev(2, F, mvdsguard.ContactRequest, "", 1)},
			[]string{"mvds.message.sent+envelope.sent", "mvds.message.failed"}},
		{"1:1 failed, retried, sent: expired then a new envelope.sent",
			[]mvdsguard.Event{ev(1, S, mvdsguard.OneToOne, m1, 1), ev(2, S, mvdsguard.OneToOne, m1, 2), ev(3, F, mvdsguard.OneToOne, "", 2),
				ev(4, R, mvdsguard.OneToOne, "", 2), ev(5, S, mvdsguard.OneToOne, m1, 3), ev(6, S, mvdsguard.OneToOne, m1, 4)},
			[]string{"mvds.message.sent+envelope.sent", "mvds.message.sent", "mvds.message.failed+envelope.expired",
				"mvds.message.rescheduled", "mvds.message.sent+envelope.sent", "mvds.message.sent"}},
		{"1:1 failed then discarded: nothing more",
			[]mvdsguard.Event{ev(1, F, mvdsguard.OneToOne, "", 1), ev(2, X, mvdsguard.OneToOne, "", 1)},
			[]string{"mvds.message.failed+envelope.expired", "mvds.message.discarded"}},
		{"other flow: only its own signals",
			[]mvdsguard.Event{ev(1, S, mvdsguard.Other, m1, 1), ev(2, F, mvdsguard.Other, "", 1)},
			[]string{"mvds.message.sent", "mvds.message.failed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := types(signals.NewTranslator(), c.evs...)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("got  %v\nwant %v", got, c.want)
			}
		})
	}

	// A Translator primed with a failed message (a restart after the
	// failure) still gives the first new attempt its envelope.sent.
	got := types(signals.NewTranslator("0xab"), ev(7, S, mvdsguard.OneToOne, m1, 5))
	if got[0] != "mvds.message.sent+envelope.sent" {
		t.Fatalf("primed: %v", got)
	}
}

func TestSignalWithoutTypeIsAnError(t *testing.T) {
	if _, err := (signals.Signal{Seq: 3, Event: signals.DeliveredEvent{}}).MarshalJSON(); err == nil || !strings.Contains(err.Error(), "event 3") {
		t.Fatalf("err = %v", err)
	}
}
