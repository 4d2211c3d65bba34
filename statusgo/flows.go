package statusgo

import (
	"github.com/mvdsguard/mvdsguard"
)

// FlowRule says how a message type maps to a Flow: either always the same
// flow, or by the chat the message is sent in.
type FlowRule struct {
	// Flow is the fixed flow; it is ignored when ByChat is set.
	Flow mvdsguard.Flow
	// ByChat: in a one-to-one chat the message is OneToOne, in a private
	// group chat PrivateGroup, anywhere else Other. Chat messages, edits,
	// deletions, reactions and pins follow this rule.
	ByChat bool
}

// Flows is the classification table: which Flow each message belongs to. The
// zero value classifies everything as Other; DefaultFlows describes status-go.
type Flows struct {
	// Types maps a message type to its rule. Types not listed are Other.
	Types map[MessageType]FlowRule
	// Contents maps CHAT_MESSAGE content types that form their own flow
	// (a contact request is a CHAT_MESSAGE with content CONTACT_REQUEST).
	// Content types not listed follow the CHAT_MESSAGE rule in Types.
	Contents map[ContentType]mvdsguard.Flow
	// ChatOf names the kind of chat a flow's messages are always sent in,
	// when the protocol fixes it: a contact request travels in the one-to-one
	// chat with that contact. The static audit uses it when it cannot see
	// which chat dispatchMessage will find, and says so.
	ChatOf map[mvdsguard.Flow]ChatKind
}

// DefaultFlows returns status-go's classification, as DESIGN.md defines the
// flows:
//
//   - ContactRequest: CHAT_MESSAGE with content CONTACT_REQUEST,
//     ACCEPT_CONTACT_REQUEST, RETRACT_CONTACT_REQUEST and CONTACT_UPDATE
//     (which carries the contact request state). status-go has no decline
//     message: declining is local and only synced to paired devices.
//   - JoinRequest: COMMUNITY_REQUEST_TO_JOIN, COMMUNITY_CANCEL_REQUEST_TO_JOIN,
//     COMMUNITY_REQUEST_TO_JOIN_RESPONSE, COMMUNITY_EDIT_SHARED_ADDRESSES.
//   - OneToOne and PrivateGroup: CHAT_MESSAGE, EDIT_MESSAGE, DELETE_MESSAGE,
//     EMOJI_REACTION and PIN_MESSAGE by the chat they are sent in;
//     MEMBERSHIP_UPDATE_MESSAGE and GROUP_CHAT_INVITATION are PrivateGroup.
//   - Everything else is Other.
func DefaultFlows() *Flows {
	byChat := FlowRule{ByChat: true}
	return &Flows{
		Types: map[MessageType]FlowRule{
			ChatMessage:                    byChat,
			EditMessage:                    byChat,
			DeleteMessage:                  byChat,
			EmojiReaction:                  byChat,
			PinMessage:                     byChat,
			AcceptContactRequest:           {Flow: mvdsguard.ContactRequest},
			RetractContactRequest:          {Flow: mvdsguard.ContactRequest},
			ContactUpdate:                  {Flow: mvdsguard.ContactRequest},
			CommunityRequestToJoin:         {Flow: mvdsguard.JoinRequest},
			CommunityCancelRequestToJoin:   {Flow: mvdsguard.JoinRequest},
			CommunityRequestToJoinResponse: {Flow: mvdsguard.JoinRequest},
			CommunityEditSharedAddresses:   {Flow: mvdsguard.JoinRequest},
			MembershipUpdateMessage:        {Flow: mvdsguard.PrivateGroup},
			GroupChatInvitation:            {Flow: mvdsguard.PrivateGroup},
		},
		Contents: map[ContentType]mvdsguard.Flow{
			ContentContactRequest: mvdsguard.ContactRequest,
		},
		ChatOf: map[mvdsguard.Flow]ChatKind{
			mvdsguard.ContactRequest: ChatOneToOne,
			mvdsguard.OneToOne:       ChatOneToOne,
			mvdsguard.PrivateGroup:   ChatPrivateGroup,
		},
	}
}

// Clone returns a deep copy that can be changed without touching f.
func (f *Flows) Clone() *Flows {
	out := &Flows{
		Types:    make(map[MessageType]FlowRule, len(f.Types)),
		Contents: make(map[ContentType]mvdsguard.Flow, len(f.Contents)),
		ChatOf:   make(map[mvdsguard.Flow]ChatKind, len(f.ChatOf)),
	}
	for k, v := range f.Types {
		out.Types[k] = v
	}
	for k, v := range f.Contents {
		out.Contents[k] = v
	}
	for k, v := range f.ChatOf {
		out.ChatOf[k] = v
	}
	return out
}

// Classify returns the flow of a message of type t. content is the
// CHAT_MESSAGE content type when known (nil otherwise) and chat the kind of
// chat it is sent in (ChatUnknown when not known). The second result is false
// when the flow depends on a chat kind that is unknown.
func (f *Flows) Classify(t MessageType, content *ContentType, chat ChatKind) (mvdsguard.Flow, bool) {
	if t == ChatMessage && content != nil {
		if flow, ok := f.Contents[*content]; ok {
			return flow, true
		}
	}
	rule, ok := f.Types[t]
	if !ok {
		return mvdsguard.Other, true
	}
	if !rule.ByChat {
		if !rule.Flow.Valid() {
			return mvdsguard.Other, true
		}
		return rule.Flow, true
	}
	switch chat {
	case ChatOneToOne:
		return mvdsguard.OneToOne, true
	case ChatPrivateGroup:
		return mvdsguard.PrivateGroup, true
	case ChatUnknown:
		return 0, false
	default:
		return mvdsguard.Other, true
	}
}

// MayBeCritical reports whether a message of type t can belong to a critical
// flow in some chat or with some content type. The static audit uses it to
// decide which RawMessages to follow at all.
func (f *Flows) MayBeCritical(t MessageType) bool {
	if t == ChatMessage {
		for _, flow := range f.Contents {
			if flow.Critical() {
				return true
			}
		}
	}
	rule, ok := f.Types[t]
	if !ok {
		return false
	}
	return rule.ByChat || rule.Flow.Critical()
}
