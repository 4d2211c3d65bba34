package statusgo

import (
	"fmt"
	"strings"
)

// ResendType mirrors common.ResendType: which mechanism retries a message.
type ResendType uint8

// The values are status-go's own.
const (
	// ResendNone: sent once; nothing retries it.
	ResendNone ResendType = 0
	// ResendDataSync: handed to MVDS, which retransmits until the peer
	// acknowledges. Only SendPrivate's path (and SendGroup's, which shares
	// it) honours it, and only while datasync is enabled.
	ResendDataSync ResendType = 1
	// ResendRawMessage: status-go's own resend loop retries a message saved
	// in its raw_messages table, a few times, then drops it.
	ResendRawMessage ResendType = 2
)

var resendTypeNames = map[ResendType]string{
	ResendNone:       "ResendTypeNone",
	ResendDataSync:   "ResendTypeDataSync",
	ResendRawMessage: "ResendTypeRawMessage",
}

var resendTypeByName = invert(resendTypeNames)

// String returns status-go's constant name, such as "ResendTypeDataSync".
func (r ResendType) String() string {
	if name, ok := resendTypeNames[r]; ok {
		return name
	}
	return fmt.Sprintf("ResendType(%d)", uint8(r))
}

// ParseResendType accepts status-go's constant name, optionally qualified.
func ParseResendType(s string) (ResendType, error) {
	name := s
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if r, ok := resendTypeByName[name]; ok {
		return r, nil
	}
	return 0, fmt.Errorf("unknown resend type %q (want ResendTypeNone, ResendTypeDataSync or ResendTypeRawMessage)", s)
}

// ResendMethod mirrors common.ResendMethod: how the raw-message resend loop
// sends a message again.
type ResendMethod uint8

// The values are status-go's own.
const (
	// MethodDynamic re-dispatches through Messenger.dispatchMessage, but the
	// loop does so only for messages whose LocalChatID names a public or a
	// community chat; anything else is skipped.
	MethodDynamic ResendMethod = 0
	// MethodSendPrivate resends with SendPrivate to each of Recipients.
	MethodSendPrivate ResendMethod = 1
	// MethodSendCommunityMessage resends with SendCommunityMessage.
	MethodSendCommunityMessage ResendMethod = 2
)

var resendMethodNames = map[ResendMethod]string{
	MethodDynamic:              "ResendMethodDynamic",
	MethodSendPrivate:          "ResendMethodSendPrivate",
	MethodSendCommunityMessage: "ResendMethodSendCommunityMessage",
}

var resendMethodByName = invert(resendMethodNames)

// String returns status-go's constant name, such as "ResendMethodDynamic".
func (m ResendMethod) String() string {
	if name, ok := resendMethodNames[m]; ok {
		return name
	}
	return fmt.Sprintf("ResendMethod(%d)", uint8(m))
}

// ParseResendMethod accepts status-go's constant name, optionally qualified.
func ParseResendMethod(s string) (ResendMethod, error) {
	name := s
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if m, ok := resendMethodByName[name]; ok {
		return m, nil
	}
	return 0, fmt.Errorf("unknown resend method %q (want ResendMethodDynamic, ResendMethodSendPrivate or ResendMethodSendCommunityMessage)", s)
}

// ChatKind mirrors protocol.ChatType: the kind of chat a message is sent in.
// dispatchMessage picks its send function by it, and Chat.DefaultResendType
// derives the ResendType from it.
type ChatKind uint8

// The values equal status-go's ChatType constants; ChatUnknown (0) means the
// kind is not known.
const (
	ChatUnknown      ChatKind = 0
	ChatOneToOne     ChatKind = 1
	ChatPublic       ChatKind = 2
	ChatPrivateGroup ChatKind = 3
	ChatProfile      ChatKind = 4
	ChatTimeline     ChatKind = 5
	ChatCommunity    ChatKind = 6
)

var chatKindNames = map[ChatKind]string{
	ChatUnknown:      "unknown",
	ChatOneToOne:     "one_to_one",
	ChatPublic:       "public",
	ChatPrivateGroup: "private_group",
	ChatProfile:      "profile",
	ChatTimeline:     "timeline",
	ChatCommunity:    "community",
}

var chatKindByName = invert(chatKindNames)

// chatTypeConstants maps status-go's ChatType constant names to kinds.
var chatTypeConstants = map[string]ChatKind{
	"ChatTypeOneToOne":         ChatOneToOne,
	"ChatTypePublic":           ChatPublic,
	"ChatTypePrivateGroupChat": ChatPrivateGroup,
	"ChatTypeProfile":          ChatProfile,
	"ChatTypeTimeline":         ChatTimeline,
	"ChatTypeCommunityChat":    ChatCommunity,
}

// String returns the kind's report name, such as "one_to_one".
func (k ChatKind) String() string {
	if name, ok := chatKindNames[k]; ok {
		return name
	}
	return fmt.Sprintf("chat(%d)", uint8(k))
}

// ParseChatKind accepts a report name ("private_group") or status-go's
// ChatType constant name ("ChatTypePrivateGroupChat", optionally qualified).
func ParseChatKind(s string) (ChatKind, error) {
	name := s
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if k, ok := chatKindByName[name]; ok {
		return k, nil
	}
	if k, ok := chatTypeConstants[name]; ok {
		return k, nil
	}
	return 0, fmt.Errorf("unknown chat kind %q (want one_to_one, public, private_group, profile, timeline or community)", s)
}

// DispatchableChatKinds lists the chat kinds dispatchMessage can send to.
// The deprecated timeline kind is left out: dispatchMessage rejects it.
func DispatchableChatKinds() []ChatKind {
	return []ChatKind{ChatOneToOne, ChatPrivateGroup, ChatPublic, ChatProfile, ChatCommunity}
}

// DefaultResendType is what status-go's Chat.DefaultResendType returns for a
// chat of this kind: DataSync for one-to-one and private group chats, the
// raw-message loop otherwise. The static audit derives the same answer from
// the method's body; this function is the reference it is tested against.
func (k ChatKind) DefaultResendType() ResendType {
	if k == ChatOneToOne || k == ChatPrivateGroup {
		return ResendDataSync
	}
	return ResendRawMessage
}
