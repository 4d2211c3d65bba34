package review

import (
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static"
)

func site(pos, fn, flow, mt, call, verdict, mech string) static.Site {
	return static.Site{Position: pos, Function: fn, Flow: flow, MessageType: mt, SendCall: call, Verdict: verdict, Mechanism: mech, ResendType: "ResendTypeDataSync"}
}

func TestSitesAreMatchedByWhatTheyAreNotByLine(t *testing.T) {
	base := []static.Site{
		site("protocol/a.go:10:2", "Messenger.send", "one_to_one", "CHAT_MESSAGE", "Messenger.dispatchMessage", "mvds", ""),
		site("protocol/a.go:20:2", "Messenger.send", "private_group", "CHAT_MESSAGE", "Messenger.dispatchMessage", "mvds", ""),
	}
	head := []static.Site{
		site("protocol/b.go:99:2", "Messenger.send", "private_group", "CHAT_MESSAGE", "Messenger.dispatchMessage", "mvds", ""),
		site("protocol/b.go:98:2", "Messenger.send", "one_to_one", "CHAT_MESSAGE", "Messenger.dispatchMessage", "mvds", ""),
	}
	r := Compare(base, head)
	if len(r.Changes) != 0 || r.Unchanged != 2 {
		t.Fatalf("changes %+v, unchanged %d; want the moved sites matched", r.Changes, r.Unchanged)
	}
}

func TestRegressionsComeFirstAndOnlyFromMVDS(t *testing.T) {
	base := []static.Site{
		site("p/a.go:1:1", "M.a", "join_request", "COMMUNITY_REQUEST_TO_JOIN", "MessageSender.SendPrivate", "not_mvds", "none"),
		site("p/a.go:2:1", "M.b", "private_group", "PIN_MESSAGE", "Messenger.dispatchMessage", "mvds", ""),
		site("p/a.go:3:1", "M.c", "contact_request", "CONTACT_UPDATE", "Messenger.dispatchMessage", "mvds", ""),
	}
	head := []static.Site{
		site("p/a.go:1:1", "M.a", "join_request", "COMMUNITY_REQUEST_TO_JOIN", "MessageSender.SendPrivate", "mvds", ""),
		site("p/a.go:2:1", "M.b", "private_group", "PIN_MESSAGE", "Messenger.dispatchMessage", "broken", ""),
		site("p/a.go:9:1", "M.d", "one_to_one", "EDIT_MESSAGE", "Messenger.dispatchMessage", "not_mvds", "raw_resend"),
	}
	r := Compare(base, head)
	kinds := ""
	for _, c := range r.Changes {
		kinds += c.label() + " " + c.Function + "; "
	}
	if want := "regression M.b; changed M.a; added M.d; removed M.c; "; kinds != want {
		t.Fatalf("changes %q; want %q", kinds, want)
	}
	if r.Regressions() != 1 {
		t.Fatalf("%d regressions; want 1", r.Regressions())
	}
}

func TestARenamedFunctionIsARenameNotAChange(t *testing.T) {
	base := []static.Site{site("p/a.go:5:1", "Messenger.sendPin", "private_group", "PIN_MESSAGE", "Messenger.sendPin → Messenger.dispatchMessage", "mvds", "")}
	head := []static.Site{site("q/b.go:7:1", "Messenger.sendPinned", "private_group", "PIN_MESSAGE", "Messenger.sendPinned → Messenger.dispatchMessage", "mvds", "")}
	r := Compare(base, head)
	if len(r.Changes) != 1 || r.Changes[0].Kind != Renamed || r.Changes[0].what() != "Messenger.sendPin → Messenger.sendPinned, still mvds" {
		t.Fatalf("changes %+v; want one rename", r.Changes)
	}
	// Renamed and changed at once: that is a removal and an addition.
	head[0].Verdict, head[0].Mechanism = "not_mvds", "none"
	r = Compare(base, head)
	if r.Count(Removed) != 1 || r.Count(Added) != 1 || r.Count(Renamed) != 0 {
		t.Fatalf("changes %+v; want a removal and an addition", r.Changes)
	}
	// Two candidates: ambiguous, not paired.
	base = append(base, site("p/a.go:9:1", "Messenger.sendPin2", "private_group", "PIN_MESSAGE", "Messenger.dispatchMessage", "mvds", ""))
	head[0].Verdict, head[0].Mechanism = "mvds", ""
	r = Compare(base, head)
	if r.Count(Renamed) != 0 || r.Count(Removed) != 2 || r.Count(Added) != 1 {
		t.Fatalf("changes %+v; want no guess between two candidates", r.Changes)
	}
}
