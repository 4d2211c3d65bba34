package statusgo

import (
	"fmt"
	"sort"
	"strings"
)

// MessageType is a value of status-go's protobuf.ApplicationMetadataMessage_Type:
// the kind of application message a RawMessage carries. The numbers are the
// wire values from application_metadata_message.proto.
type MessageType int32

// The message types the default flow table refers to by name. Every other
// type of the proto is still known to ParseMessageType and String.
const (
	UnknownMessageType             MessageType = 0
	ChatMessage                    MessageType = 1
	ContactUpdate                  MessageType = 2
	MembershipUpdateMessage        MessageType = 3
	EmojiReaction                  MessageType = 22
	GroupChatInvitation            MessageType = 23
	CommunityRequestToJoin         MessageType = 27
	PinMessage                     MessageType = 28
	EditMessage                    MessageType = 29
	DeleteMessage                  MessageType = 31
	AcceptContactRequest           MessageType = 46
	RetractContactRequest          MessageType = 47
	CommunityRequestToJoinResponse MessageType = 48
	CommunityCancelRequestToJoin   MessageType = 60
	CommunityEditSharedAddresses   MessageType = 68
)

// messageTypeNames is the enum of application_metadata_message.proto as of
// the reviewed revision. Reserved numbers (14, 55, 65, 66, 71) are absent.
var messageTypeNames = map[MessageType]string{
	0: "UNKNOWN", 1: "CHAT_MESSAGE", 2: "CONTACT_UPDATE", 3: "MEMBERSHIP_UPDATE_MESSAGE",
	4: "SYNC_PAIR_INSTALLATION", 5: "DEPRECATED_SYNC_INSTALLATION",
	6: "REQUEST_ADDRESS_FOR_TRANSACTION", 7: "ACCEPT_REQUEST_ADDRESS_FOR_TRANSACTION",
	8: "DECLINE_REQUEST_ADDRESS_FOR_TRANSACTION", 9: "REQUEST_TRANSACTION", 10: "SEND_TRANSACTION",
	11: "DECLINE_REQUEST_TRANSACTION", 12: "SYNC_INSTALLATION_CONTACT_V2", 13: "SYNC_INSTALLATION_ACCOUNT",
	15: "CONTACT_CODE_ADVERTISEMENT", 16: "PUSH_NOTIFICATION_REGISTRATION",
	17: "PUSH_NOTIFICATION_REGISTRATION_RESPONSE", 18: "PUSH_NOTIFICATION_QUERY",
	19: "PUSH_NOTIFICATION_QUERY_RESPONSE", 20: "PUSH_NOTIFICATION_REQUEST", 21: "PUSH_NOTIFICATION_RESPONSE",
	22: "EMOJI_REACTION", 23: "GROUP_CHAT_INVITATION", 24: "CHAT_IDENTITY", 25: "COMMUNITY_DESCRIPTION",
	26: "COMMUNITY_INVITATION", 27: "COMMUNITY_REQUEST_TO_JOIN", 28: "PIN_MESSAGE", 29: "EDIT_MESSAGE",
	30: "STATUS_UPDATE", 31: "DELETE_MESSAGE", 32: "SYNC_INSTALLATION_COMMUNITY",
	33: "ANONYMOUS_METRIC_BATCH", 34: "SYNC_CHAT_REMOVED", 35: "SYNC_CHAT_MESSAGES_READ", 36: "BACKUP",
	37: "SYNC_ACTIVITY_CENTER_READ", 38: "SYNC_ACTIVITY_CENTER_ACCEPTED", 39: "SYNC_ACTIVITY_CENTER_DISMISSED",
	40: "SYNC_BOOKMARK", 41: "SYNC_CLEAR_HISTORY", 42: "SYNC_SETTING", 43: "COMMUNITY_MESSAGE_ARCHIVE_MAGNETLINK",
	44: "SYNC_PROFILE_PICTURES", 45: "SYNC_ACCOUNT", 46: "ACCEPT_CONTACT_REQUEST", 47: "RETRACT_CONTACT_REQUEST",
	48: "COMMUNITY_REQUEST_TO_JOIN_RESPONSE", 49: "SYNC_COMMUNITY_SETTINGS", 50: "REQUEST_CONTACT_VERIFICATION",
	51: "ACCEPT_CONTACT_VERIFICATION", 52: "DECLINE_CONTACT_VERIFICATION", 53: "SYNC_TRUSTED_USER",
	54: "SYNC_VERIFICATION_REQUEST", 56: "SYNC_CONTACT_REQUEST_DECISION", 57: "COMMUNITY_REQUEST_TO_LEAVE",
	58: "SYNC_DELETE_FOR_ME_MESSAGE", 59: "SYNC_SAVED_ADDRESS", 60: "COMMUNITY_CANCEL_REQUEST_TO_JOIN",
	61: "CANCEL_CONTACT_VERIFICATION", 62: "SYNC_KEYPAIR", 63: "SYNC_SOCIAL_LINKS", 64: "SYNC_ENS_USERNAME_DETAIL",
	67: "COMMUNITY_EVENTS_MESSAGE", 68: "COMMUNITY_EDIT_SHARED_ADDRESSES", 69: "SYNC_ACCOUNT_CUSTOMIZATION_COLOR",
	70: "SYNC_ACCOUNTS_POSITIONS", 72: "COMMUNITY_PRIVILEGED_USER_SYNC_MESSAGE", 73: "COMMUNITY_SHARD_KEY",
	74: "SYNC_CHAT", 75: "SYNC_ACTIVITY_CENTER_DELETED", 76: "SYNC_ACTIVITY_CENTER_UNREAD",
	77: "SYNC_ACTIVITY_CENTER_COMMUNITY_REQUEST_DECISION", 78: "SYNC_TOKEN_PREFERENCES",
	79: "COMMUNITY_PUBLIC_SHARD_INFO", 80: "SYNC_COLLECTIBLE_PREFERENCES", 81: "COMMUNITY_USER_KICKED",
	82: "SYNC_PROFILE_SHOWCASE_PREFERENCES", 83: "COMMUNITY_PUBLIC_STORENODES_INFO",
	84: "COMMUNITY_REEVALUATE_PERMISSIONS_REQUEST", 85: "DELETE_COMMUNITY_MEMBER_MESSAGES",
	86: "COMMUNITY_UPDATE_GRANT", 87: "COMMUNITY_ENCRYPTION_KEYS_REQUEST", 88: "COMMUNITY_TOKEN_ACTION",
	89: "COMMUNITY_SHARED_ADDRESSES_REQUEST", 90: "COMMUNITY_SHARED_ADDRESSES_RESPONSE",
}

var messageTypeByName = invert(messageTypeNames)

// String returns the proto name, such as "CHAT_MESSAGE". A number the proto
// does not define prints as "MessageType(n)".
func (t MessageType) String() string {
	if name, ok := messageTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("MessageType(%d)", int32(t))
}

// Known reports whether t is defined by the proto.
func (t MessageType) Known() bool {
	_, ok := messageTypeNames[t]
	return ok
}

// ParseMessageType accepts a proto name ("CHAT_MESSAGE") or the Go constant
// name status-go generates for it, with or without package qualifier
// ("ApplicationMetadataMessage_CHAT_MESSAGE",
// "protobuf.ApplicationMetadataMessage_CHAT_MESSAGE").
func ParseMessageType(s string) (MessageType, error) {
	name := s
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimPrefix(name, MessageTypePrefix)
	if t, ok := messageTypeByName[name]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("unknown message type %q (want a name of ApplicationMetadataMessage.Type such as CHAT_MESSAGE)", s)
}

// MessageTypes lists every message type of the proto in wire order.
func MessageTypes() []MessageType {
	out := make([]MessageType, 0, len(messageTypeNames))
	for t := range messageTypeNames {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// MarshalText implements encoding.TextMarshaler with the proto name.
func (t MessageType) MarshalText() ([]byte, error) {
	if !t.Known() {
		return nil, fmt.Errorf("marshal message type: %d is not defined by the proto", int32(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *MessageType) UnmarshalText(b []byte) error {
	v, err := ParseMessageType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

func invert[K comparable](m map[K]string) map[string]K {
	out := make(map[string]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}
