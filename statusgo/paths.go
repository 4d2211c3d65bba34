package statusgo

// Import paths of the status-go packages the audits know by name. The static
// audit recognises RawMessage, MessageSender and the protocol constants by
// these paths, so that it also works where type information is missing.
const (
	// ModulePath is status-go's module path.
	ModulePath = "github.com/status-im/status-go"
	// CommonPath holds RawMessage, ResendType, ResendMethod and MessageSender.
	CommonPath = ModulePath + "/protocol/common"
	// ProtocolPath holds Messenger (and its dispatchMessage) and Chat.
	ProtocolPath = ModulePath + "/protocol"
	// ProtobufPath holds the generated ApplicationMetadataMessage_Type and
	// ChatMessage_ContentType constants. In a plain clone of status-go these
	// files are not generated yet, so the constants are only known by name.
	ProtobufPath = ModulePath + "/protocol/protobuf"
)

// Type and field names inside those packages.
const (
	// RawMessageType is the struct every outgoing message is described by.
	RawMessageType = "RawMessage"
	// SenderType is the receiver type of the send functions in CommonPath.
	SenderType = "MessageSender"
	// MessengerType is the receiver type of dispatchMessage in ProtocolPath.
	MessengerType = "Messenger"
	// ChatType is the chat struct in ProtocolPath; its ChatType field holds a
	// ChatKind.
	ChatType = "Chat"
	// ChatTypeField is the field of Chat that holds its kind.
	ChatTypeField = "ChatType"
	// MessageTypePrefix prefixes every ApplicationMetadataMessage_Type
	// constant in ProtobufPath.
	MessageTypePrefix = "ApplicationMetadataMessage_"
	// ContentTypePrefix prefixes every ChatMessage_ContentType constant in
	// ProtobufPath.
	ContentTypePrefix = "ChatMessage_"
)

// MessageResendMaxCount is status-go's default messageResendMaxCount: the
// raw-message resend loop gives up on a message once it has been sent this
// many times, and nobody is told.
const MessageResendMaxCount = 3
