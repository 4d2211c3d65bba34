package statusgo

import (
	"fmt"
	"strings"
)

// SendFunc is one of status-go's functions that put a RawMessage on the wire.
type SendFunc uint8

// The send functions, in the order reports list them.
const (
	// SendPrivate (MessageSender) sends to one recipient. It is the only
	// exported entry to MVDS, and it rejects ResendTypeDataSync combined with
	// Sender, SkipEncryptionLayer or SendOnPersonalTopic. It takes a
	// *RawMessage and sets Sender on it when it was nil.
	SendPrivate SendFunc = iota + 1
	// SendGroup (MessageSender) sends a copy to each recipient through the
	// same private path, so ResendTypeDataSync reaches MVDS (without the
	// Sender check). It takes the RawMessage by value.
	SendGroup
	// SendCommunityMessage (MessageSender) encrypts for a community; it never
	// uses MVDS and always sets Sender on the *RawMessage it is given.
	SendCommunityMessage
	// SendPublic (MessageSender) publishes on a public topic; it never uses
	// MVDS. It takes the RawMessage by value.
	SendPublic
	// SendPubsubTopicKey (MessageSender) sends a community's topic key to
	// each of Recipients through the private path; it sets Sender on the
	// *RawMessage it is given.
	SendPubsubTopicKey
	// DispatchMessage is Messenger.dispatchMessage: it looks up the chat
	// named by LocalChatID and picks SendPrivate (one-to-one), SendGroup
	// (private group), SendPublic (public, profile) or SendCommunityMessage /
	// SendPublic (community), then saves the message to raw_messages.
	DispatchMessage
)

type sendFuncInfo struct {
	pkg, recv, method string
	arg               int  // index of the RawMessage argument
	pointer           bool // the RawMessage is passed as a pointer
}

var sendFuncs = map[SendFunc]sendFuncInfo{
	SendPrivate:          {CommonPath, SenderType, "SendPrivate", 2, true},
	SendGroup:            {CommonPath, SenderType, "SendGroup", 2, false},
	SendCommunityMessage: {CommonPath, SenderType, "SendCommunityMessage", 1, true},
	SendPublic:           {CommonPath, SenderType, "SendPublic", 2, false},
	SendPubsubTopicKey:   {CommonPath, SenderType, "SendPubsubTopicKey", 1, true},
	DispatchMessage:      {ProtocolPath, MessengerType, "dispatchMessage", 1, false},
}

// SendFuncs lists every send function in report order.
func SendFuncs() []SendFunc {
	return []SendFunc{SendPrivate, SendGroup, SendCommunityMessage, SendPublic, SendPubsubTopicKey, DispatchMessage}
}

// String returns the receiver-qualified name, such as "MessageSender.SendPrivate".
func (f SendFunc) String() string {
	info, ok := sendFuncs[f]
	if !ok {
		return fmt.Sprintf("SendFunc(%d)", uint8(f))
	}
	return info.recv + "." + info.method
}

// Valid reports whether f is one of the defined send functions.
func (f SendFunc) Valid() bool {
	_, ok := sendFuncs[f]
	return ok
}

// Package returns the import path of the package that declares f.
func (f SendFunc) Package() string { return sendFuncs[f].pkg }

// Receiver returns the name of f's receiver type.
func (f SendFunc) Receiver() string { return sendFuncs[f].recv }

// Method returns f's method name.
func (f SendFunc) Method() string { return sendFuncs[f].method }

// MessageArg returns the index of the RawMessage among f's arguments.
func (f SendFunc) MessageArg() int { return sendFuncs[f].arg }

// ByPointer reports whether f takes a *RawMessage, so that what it changes on
// the message (Sender, ID) stays visible to the caller.
func (f SendFunc) ByPointer() bool { return sendFuncs[f].pointer }

// SenderEffect says what a send function does to the Sender of the
// *RawMessage it is given.
type SenderEffect uint8

const (
	// SenderUntouched: the caller's RawMessage keeps its Sender.
	SenderUntouched SenderEffect = iota
	// SenderSetWhenNil: Sender becomes the node's identity key if it was nil.
	SenderSetWhenNil
	// SenderAlwaysSet: Sender becomes the node's identity key.
	SenderAlwaysSet
)

// SenderEffect returns what f leaves in the caller's Sender field. A later
// SendPrivate with ResendTypeDataSync on the same *RawMessage is rejected
// unless the caller clears Sender again.
func (f SendFunc) SenderEffect() SenderEffect {
	switch f {
	case SendPrivate:
		return SenderSetWhenNil
	case SendCommunityMessage, SendPubsubTopicKey:
		return SenderAlwaysSet
	}
	return SenderUntouched
}

// ParseSendFunc accepts a method name ("SendPrivate", "dispatchMessage"), a
// receiver-qualified name ("MessageSender.SendPrivate") or a fully qualified
// one ("github.com/status-im/status-go/protocol/common.MessageSender.SendPrivate").
func ParseSendFunc(s string) (SendFunc, error) {
	for _, f := range SendFuncs() {
		info := sendFuncs[f]
		switch s {
		case info.method, info.recv + "." + info.method, info.pkg + "." + info.recv + "." + info.method:
			return f, nil
		}
	}
	names := make([]string, 0, len(sendFuncs))
	for _, f := range SendFuncs() {
		names = append(names, f.String())
	}
	return 0, fmt.Errorf("unknown send function %q (want one of %s)", s, strings.Join(names, ", "))
}

// Message is what decides a RawMessage's fate once it reaches a send
// function: its type, the chat it is sent in and the fields status-go checks.
type Message struct {
	Type MessageType
	// Chat is the kind of chat LocalChatID names; it matters for
	// dispatchMessage and for the resend loop's ResendMethodDynamic.
	Chat         ChatKind
	ResendType   ResendType
	ResendMethod ResendMethod
	// SenderSet: RawMessage.Sender is not nil when the send function is
	// called (set by the caller, or left behind by an earlier send).
	SenderSet      bool
	SkipEncryption bool
	PersonalTopic  bool
	// Saved: the message is in raw_messages, where the resend loop looks.
	// dispatchMessage saves every message it sends; a direct MessageSender
	// call needs AddRawMessageToWatch (or SaveRawMessage) afterwards.
	Saved bool
}

// Verdict is whether a message reaches MVDS.
type Verdict uint8

// The verdicts of one delivery. The static audit adds "conditional" and
// "unresolved" for sites whose outcome it cannot pin to one of these.
const (
	VerdictUnknown Verdict = iota
	// VerdictMVDS: MVDS retransmits it until the peer acknowledges.
	VerdictMVDS
	// VerdictNotMVDS: sent without MVDS; Mechanism says what retries it.
	VerdictNotMVDS
	// VerdictBroken: SendPrivate rejects it; nothing is sent at all.
	VerdictBroken
)

var verdictNames = map[Verdict]string{
	VerdictUnknown: "unknown",
	VerdictMVDS:    "mvds",
	VerdictNotMVDS: "not_mvds",
	VerdictBroken:  "broken",
}

// String returns the report name, such as "not_mvds".
func (v Verdict) String() string {
	if name, ok := verdictNames[v]; ok {
		return name
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Mechanism is what retries a message that could not be delivered.
type Mechanism uint8

// The fail paths.
const (
	// MechNone: nothing retries it; if the first attempt is lost, so is the
	// message, silently.
	MechNone Mechanism = iota
	// MechMVDS: MVDS retransmits it until acknowledged or until its send
	// limit, when it is dropped silently (the enforcement layer fixes that).
	MechMVDS
	// MechRawResend: status-go's raw-message resend loop resends it up to
	// MessageResendMaxCount times while it is not confirmed sent, then drops
	// it silently.
	MechRawResend
)

var mechanismNames = map[Mechanism]string{
	MechNone:      "none",
	MechMVDS:      "mvds",
	MechRawResend: "raw_resend",
}

// String returns the report name, such as "raw_resend".
func (m Mechanism) String() string {
	if name, ok := mechanismNames[m]; ok {
		return name
	}
	return fmt.Sprintf("mechanism(%d)", uint8(m))
}

// Outcome is what happens to one message at one send function.
type Outcome struct {
	Verdict   Verdict
	Mechanism Mechanism
	// MaxAttempts bounds MechRawResend (status-go's messageResendMaxCount).
	MaxAttempts int
	// Via is the send function that finally handles the message:
	// dispatchMessage resolves to one of the MessageSender functions.
	Via SendFunc
	// Reason is one sentence a report can print.
	Reason string
}

// Deliver says what f does with m. It fails only for dispatchMessage when
// m.Chat is a kind dispatchMessage cannot send to (unknown or timeline); the
// static audit enumerates the kinds instead.
func (f SendFunc) Deliver(m Message) (Outcome, error) {
	switch f {
	case SendPrivate:
		if m.ResendType == ResendDataSync {
			if why := dataSyncConflicts(m); why != "" {
				return Outcome{Verdict: VerdictBroken, Mechanism: MechNone, Via: f,
					Reason: "SendPrivate rejects ResendTypeDataSync with " + why + ": the message is not sent at all"}, nil
			}
			return mvdsOutcome(f), nil
		}
		return resendLoop(f, m), nil
	case SendGroup, SendPubsubTopicKey:
		// Both reach the unexported private path directly, which hands
		// DataSync messages to MVDS without SendPrivate's checks.
		if m.ResendType == ResendDataSync {
			return mvdsOutcome(f), nil
		}
		return resendLoop(f, m), nil
	case SendCommunityMessage, SendPublic:
		return resendLoop(f, m), nil
	case DispatchMessage:
		saved := m
		saved.Saved = true
		switch m.Chat {
		case ChatOneToOne:
			return SendPrivate.Deliver(saved)
		case ChatPrivateGroup:
			return SendGroup.Deliver(saved)
		case ChatPublic, ChatProfile:
			return SendPublic.Deliver(saved)
		case ChatCommunity:
			// SendCommunityMessage for encrypted communities, SendPublic
			// otherwise; neither uses MVDS and both are retried alike.
			return SendCommunityMessage.Deliver(saved)
		}
		return Outcome{}, fmt.Errorf("dispatchMessage cannot send to a chat of kind %s", m.Chat)
	}
	return Outcome{}, fmt.Errorf("unknown send function %d", uint8(f))
}

func dataSyncConflicts(m Message) string {
	var why []string
	if m.SenderSet {
		why = append(why, "Sender set")
	}
	if m.SkipEncryption {
		why = append(why, "SkipEncryptionLayer")
	}
	if m.PersonalTopic {
		why = append(why, "SendOnPersonalTopic")
	}
	return strings.Join(why, ", ")
}

func mvdsOutcome(f SendFunc) Outcome {
	return Outcome{Verdict: VerdictMVDS, Mechanism: MechMVDS, Via: f,
		Reason: "ResendTypeDataSync through " + f.String() + ": MVDS retransmits it until the peer acknowledges (datasync enabled)"}
}

// resendLoop decides whether status-go's raw-message loop retries a message
// that did not go through MVDS. The loop selects rows of raw_messages that are
// not confirmed sent and either have ResendTypeRawMessage or are chat messages
// or emoji reactions; it then resends by ResendMethod, and for
// ResendMethodDynamic only when the chat is public or a community chat.
func resendLoop(f SendFunc, m Message) Outcome {
	none := func(reason string) Outcome {
		return Outcome{Verdict: VerdictNotMVDS, Mechanism: MechNone, Via: f, Reason: reason}
	}
	prefix := ""
	if m.ResendType == ResendDataSync {
		prefix = "ResendTypeDataSync has no effect in " + f.String() + " (only the private path uses MVDS); "
	}
	selected := m.ResendType == ResendRawMessage || m.Type == ChatMessage || m.Type == EmojiReaction
	if !selected {
		return none(prefix + m.ResendType.String() + ": sent once, nothing retries it")
	}
	if !m.Saved {
		return none(prefix + "the message is never saved to raw_messages, so the resend loop cannot see it")
	}
	if m.ResendMethod == MethodDynamic && m.Chat != ChatPublic && m.Chat != ChatCommunity {
		chat := "its chat"
		if m.Chat != ChatUnknown {
			chat = "a " + m.Chat.String() + " chat"
		}
		return none(prefix + "ResendMethodDynamic: the resend loop re-dispatches only public and community chat messages, not " + chat)
	}
	return Outcome{Verdict: VerdictNotMVDS, Mechanism: MechRawResend, MaxAttempts: MessageResendMaxCount, Via: f,
		Reason: fmt.Sprintf("%sstatus-go's raw-message resend loop retries it (%s, at most %d times), then drops it",
			prefix, m.ResendMethod, MessageResendMaxCount)}
}
