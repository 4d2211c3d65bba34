package statusgo_test

import (
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestEveryMessageTypeNameRoundTrips(t *testing.T) {
	types := statusgo.MessageTypes()
	if len(types) < 80 {
		t.Fatalf("MessageTypes() has %d entries; the proto defines more than 80", len(types))
	}
	for _, mt := range types {
		for _, spelling := range []string{
			mt.String(),
			statusgo.MessageTypePrefix + mt.String(),
			"protobuf." + statusgo.MessageTypePrefix + mt.String(),
		} {
			got, err := statusgo.ParseMessageType(spelling)
			if err != nil || got != mt {
				t.Errorf("ParseMessageType(%q) = %v, %v; want %v", spelling, got, err, mt)
			}
		}
	}
}

func TestNamedMessageTypesMatchTheProtoNumbers(t *testing.T) {
	want := map[statusgo.MessageType]string{
		statusgo.ChatMessage:                    "CHAT_MESSAGE",
		statusgo.ContactUpdate:                  "CONTACT_UPDATE",
		statusgo.MembershipUpdateMessage:        "MEMBERSHIP_UPDATE_MESSAGE",
		statusgo.EmojiReaction:                  "EMOJI_REACTION",
		statusgo.GroupChatInvitation:            "GROUP_CHAT_INVITATION",
		statusgo.CommunityRequestToJoin:         "COMMUNITY_REQUEST_TO_JOIN",
		statusgo.PinMessage:                     "PIN_MESSAGE",
		statusgo.EditMessage:                    "EDIT_MESSAGE",
		statusgo.DeleteMessage:                  "DELETE_MESSAGE",
		statusgo.AcceptContactRequest:           "ACCEPT_CONTACT_REQUEST",
		statusgo.RetractContactRequest:          "RETRACT_CONTACT_REQUEST",
		statusgo.CommunityRequestToJoinResponse: "COMMUNITY_REQUEST_TO_JOIN_RESPONSE",
		statusgo.CommunityCancelRequestToJoin:   "COMMUNITY_CANCEL_REQUEST_TO_JOIN",
		statusgo.CommunityEditSharedAddresses:   "COMMUNITY_EDIT_SHARED_ADDRESSES",
	}
	for mt, name := range want {
		if mt.String() != name {
			t.Errorf("MessageType(%d).String() = %q; want %q", int32(mt), mt.String(), name)
		}
	}
	if statusgo.ContentContactRequest.String() != "CONTACT_REQUEST" {
		t.Errorf("ContentContactRequest = %v; want CONTACT_REQUEST", statusgo.ContentContactRequest)
	}
}

func TestUnknownNamesAreRejectedWithTheInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(string) error
	}{
		{"message type", func(s string) error { _, err := statusgo.ParseMessageType(s); return err }},
		{"content type", func(s string) error { _, err := statusgo.ParseContentType(s); return err }},
		{"resend type", func(s string) error { _, err := statusgo.ParseResendType(s); return err }},
		{"resend method", func(s string) error { _, err := statusgo.ParseResendMethod(s); return err }},
		{"chat kind", func(s string) error { _, err := statusgo.ParseChatKind(s); return err }},
		{"send function", func(s string) error { _, err := statusgo.ParseSendFunc(s); return err }},
	} {
		err := tc.parse("NOPE_42")
		if err == nil || !strings.Contains(err.Error(), `"NOPE_42"`) {
			t.Errorf("%s: error = %v; want one quoting the input", tc.name, err)
		}
	}
}

func TestSendFuncNamesParseInEveryForm(t *testing.T) {
	for _, f := range statusgo.SendFuncs() {
		for _, s := range []string{f.Method(), f.String(), f.Package() + "." + f.String()} {
			got, err := statusgo.ParseSendFunc(s)
			if err != nil || got != f {
				t.Errorf("ParseSendFunc(%q) = %v, %v; want %v", s, got, err, f)
			}
		}
	}
}

func TestClassifyFollowsTheDesignFlows(t *testing.T) {
	flows := statusgo.DefaultFlows()
	contact := statusgo.ContentContactRequest
	text := statusgo.ContentTextPlain
	cases := []struct {
		mt      statusgo.MessageType
		content *statusgo.ContentType
		chat    statusgo.ChatKind
		want    mvdsguard.Flow
		known   bool
	}{
		{statusgo.ChatMessage, &contact, statusgo.ChatUnknown, mvdsguard.ContactRequest, true},
		{statusgo.ChatMessage, &text, statusgo.ChatOneToOne, mvdsguard.OneToOne, true},
		{statusgo.ChatMessage, nil, statusgo.ChatPrivateGroup, mvdsguard.PrivateGroup, true},
		{statusgo.ChatMessage, nil, statusgo.ChatCommunity, mvdsguard.Other, true},
		{statusgo.ChatMessage, nil, statusgo.ChatUnknown, 0, false},
		{statusgo.EmojiReaction, nil, statusgo.ChatOneToOne, mvdsguard.OneToOne, true},
		{statusgo.AcceptContactRequest, nil, statusgo.ChatUnknown, mvdsguard.ContactRequest, true},
		{statusgo.ContactUpdate, nil, statusgo.ChatUnknown, mvdsguard.ContactRequest, true},
		{statusgo.CommunityEditSharedAddresses, nil, statusgo.ChatUnknown, mvdsguard.JoinRequest, true},
		{statusgo.MembershipUpdateMessage, nil, statusgo.ChatUnknown, mvdsguard.PrivateGroup, true},
		{statusgo.MessageType(42), nil, statusgo.ChatUnknown, mvdsguard.Other, true},
	}
	for _, tc := range cases {
		got, known := flows.Classify(tc.mt, tc.content, tc.chat)
		if got != tc.want || known != tc.known {
			t.Errorf("Classify(%v, %v, %v) = %v, %v; want %v, %v", tc.mt, tc.content, tc.chat, got, known, tc.want, tc.known)
		}
	}
	if flows.MayBeCritical(statusgo.MessageType(42)) {
		t.Error("SYNC_SETTING may be critical; want only the design's flows")
	}
	if !flows.MayBeCritical(statusgo.ChatMessage) || !flows.MayBeCritical(statusgo.CommunityRequestToJoin) {
		t.Error("CHAT_MESSAGE or COMMUNITY_REQUEST_TO_JOIN is not critical")
	}
}

func TestCloneIsIndependent(t *testing.T) {
	a := statusgo.DefaultFlows()
	b := a.Clone()
	b.Types[statusgo.ContactUpdate] = statusgo.FlowRule{Flow: mvdsguard.Other}
	if got, _ := a.Classify(statusgo.ContactUpdate, nil, 0); got != mvdsguard.ContactRequest {
		t.Fatalf("changing a clone changed the original: CONTACT_UPDATE is %v", got)
	}
}

func TestDeliver(t *testing.T) {
	type M = statusgo.Message
	cases := []struct {
		name    string
		f       statusgo.SendFunc
		m       M
		verdict statusgo.Verdict
		mech    statusgo.Mechanism
		reason  string
	}{
		{"datasync private", statusgo.SendPrivate, M{ResendType: statusgo.ResendDataSync},
			statusgo.VerdictMVDS, statusgo.MechMVDS, "MVDS retransmits"},
		{"datasync with sender is rejected", statusgo.SendPrivate, M{ResendType: statusgo.ResendDataSync, SenderSet: true},
			statusgo.VerdictBroken, statusgo.MechNone, "Sender set"},
		{"datasync with skip encryption is rejected", statusgo.SendPrivate, M{ResendType: statusgo.ResendDataSync, SkipEncryption: true, PersonalTopic: true},
			statusgo.VerdictBroken, statusgo.MechNone, "SkipEncryptionLayer, SendOnPersonalTopic"},
		{"group datasync skips the sender check", statusgo.SendGroup, M{ResendType: statusgo.ResendDataSync, SenderSet: true},
			statusgo.VerdictMVDS, statusgo.MechMVDS, "SendGroup"},
		{"raw resend watched", statusgo.SendPrivate, M{ResendType: statusgo.ResendRawMessage, ResendMethod: statusgo.MethodSendPrivate, Saved: true},
			statusgo.VerdictNotMVDS, statusgo.MechRawResend, "at most 3 times"},
		{"raw resend never saved", statusgo.SendPrivate, M{ResendType: statusgo.ResendRawMessage, ResendMethod: statusgo.MethodSendPrivate},
			statusgo.VerdictNotMVDS, statusgo.MechNone, "never saved to raw_messages"},
		{"raw resend dynamic in a one-to-one chat", statusgo.DispatchMessage, M{ResendType: statusgo.ResendRawMessage, Chat: statusgo.ChatOneToOne},
			statusgo.VerdictNotMVDS, statusgo.MechNone, "not a one_to_one chat"},
		{"none is sent once", statusgo.DispatchMessage, M{Type: statusgo.MembershipUpdateMessage, Chat: statusgo.ChatPrivateGroup},
			statusgo.VerdictNotMVDS, statusgo.MechNone, "sent once"},
		{"community ignores datasync", statusgo.SendCommunityMessage, M{ResendType: statusgo.ResendDataSync, Saved: true},
			statusgo.VerdictNotMVDS, statusgo.MechNone, "has no effect"},
		{"public chat messages are picked by type", statusgo.DispatchMessage, M{Type: statusgo.ChatMessage, Chat: statusgo.ChatPublic},
			statusgo.VerdictNotMVDS, statusgo.MechRawResend, "resend loop"},
		{"dispatch one-to-one datasync", statusgo.DispatchMessage, M{ResendType: statusgo.ResendDataSync, Chat: statusgo.ChatOneToOne},
			statusgo.VerdictMVDS, statusgo.MechMVDS, "SendPrivate"},
		{"dispatch group datasync", statusgo.DispatchMessage, M{ResendType: statusgo.ResendDataSync, Chat: statusgo.ChatPrivateGroup},
			statusgo.VerdictMVDS, statusgo.MechMVDS, "SendGroup"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Deliver(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if got.Verdict != tc.verdict || got.Mechanism != tc.mech || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("%v.Deliver(%+v) = %v/%v %q; want %v/%v containing %q",
					tc.f, tc.m, got.Verdict, got.Mechanism, got.Reason, tc.verdict, tc.mech, tc.reason)
			}
		})
	}
}

func TestDispatchNeedsAChatKind(t *testing.T) {
	_, err := statusgo.DispatchMessage.Deliver(statusgo.Message{ResendType: statusgo.ResendDataSync})
	if err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("Deliver without a chat kind: error = %v; want one naming the unknown kind", err)
	}
}

func TestSenderEffects(t *testing.T) {
	if statusgo.SendPrivate.SenderEffect() != statusgo.SenderSetWhenNil ||
		statusgo.SendCommunityMessage.SenderEffect() != statusgo.SenderAlwaysSet ||
		statusgo.SendGroup.SenderEffect() != statusgo.SenderUntouched {
		t.Fatal("sender effects do not match status-go's send functions")
	}
	if !statusgo.SendPrivate.ByPointer() || statusgo.DispatchMessage.ByPointer() {
		t.Fatal("pointer semantics do not match status-go's signatures")
	}
}

func TestDefaultResendTypeByChat(t *testing.T) {
	for _, k := range statusgo.DispatchableChatKinds() {
		want := statusgo.ResendRawMessage
		if k == statusgo.ChatOneToOne || k == statusgo.ChatPrivateGroup {
			want = statusgo.ResendDataSync
		}
		if got := k.DefaultResendType(); got != want {
			t.Errorf("%v.DefaultResendType() = %v; want %v", k, got, want)
		}
	}
}
