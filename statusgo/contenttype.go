package statusgo

import (
	"fmt"
	"strings"
)

// ContentType is a value of status-go's protobuf.ChatMessage_ContentType: what
// a CHAT_MESSAGE carries. A contact request is a CHAT_MESSAGE whose content
// type is ContentContactRequest. The numbers are the wire values from
// chat_message.proto.
type ContentType int32

// The content types the default flow table refers to by name.
const (
	ContentUnknown        ContentType = 0
	ContentTextPlain      ContentType = 1
	ContentCommunity      ContentType = 9
	ContentContactRequest ContentType = 11
)

var contentTypeNames = map[ContentType]string{
	0: "UNKNOWN_CONTENT_TYPE", 1: "TEXT_PLAIN", 2: "STICKER", 3: "STATUS", 4: "EMOJI",
	5: "TRANSACTION_COMMAND", 6: "SYSTEM_MESSAGE_CONTENT_PRIVATE_GROUP", 7: "IMAGE", 8: "AUDIO",
	9: "COMMUNITY", 10: "SYSTEM_MESSAGE_GAP", 11: "CONTACT_REQUEST", 12: "DISCORD_MESSAGE",
	13: "IDENTITY_VERIFICATION", 14: "SYSTEM_MESSAGE_PINNED_MESSAGE", 15: "SYSTEM_MESSAGE_MUTUAL_EVENT_SENT",
	16: "SYSTEM_MESSAGE_MUTUAL_EVENT_ACCEPTED", 17: "SYSTEM_MESSAGE_MUTUAL_EVENT_REMOVED", 18: "BRIDGE_MESSAGE",
}

var contentTypeByName = invert(contentTypeNames)

// String returns the proto name, such as "CONTACT_REQUEST".
func (c ContentType) String() string {
	if name, ok := contentTypeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("ContentType(%d)", int32(c))
}

// Known reports whether c is defined by the proto.
func (c ContentType) Known() bool {
	_, ok := contentTypeNames[c]
	return ok
}

// ParseContentType accepts a proto name ("CONTACT_REQUEST") or the Go
// constant name ("ChatMessage_CONTACT_REQUEST", optionally package-qualified).
func ParseContentType(s string) (ContentType, error) {
	name := s
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimPrefix(name, ContentTypePrefix)
	if c, ok := contentTypeByName[name]; ok {
		return c, nil
	}
	return 0, fmt.Errorf("unknown content type %q (want a name of ChatMessage.ContentType such as CONTACT_REQUEST)", s)
}

// MarshalText implements encoding.TextMarshaler with the proto name.
func (c ContentType) MarshalText() ([]byte, error) {
	if !c.Known() {
		return nil, fmt.Errorf("marshal content type: %d is not defined by the proto", int32(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *ContentType) UnmarshalText(b []byte) error {
	v, err := ParseContentType(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
