// Package signals turns the Guard's events into the signals status-go sends
// to its GUI, so that today's desktop reacts to the Guard unchanged and a new
// GUI gets what the old signals cannot say.
//
// Every Guard event becomes its own signal, "mvds.message.<transition>" (see
// docs/events.md). Next to those, for the messages today's desktop shows in a
// chat (contact requests, 1:1 and private-group messages), the adapter emits
// status-go's existing signals in their exact JSON shapes:
//
//   - "envelope.sent" with {"ids": [id], ...} on a message's first attempt, and
//     on its first attempt after a failure was retried: the desktop marks it
//     sent;
//   - "message.delivered" with {"chatID", "messageID"} when every recipient
//     acknowledged: the desktop marks it delivered;
//   - "envelope.expired" with {"ids": [id], ...} when a 1:1 or private-group
//     message fails: the desktop shows "Sending failed" and its Resend button,
//     whose wakuext_reSendChatMessage call maps to API.RetryMessage.
//
// A contact or join request never gives "envelope.expired": it retries
// indefinitely by default, and the desktop has no resend for it. Its
// "pending, still trying" state is the mvds.message.stalled signal.
//
// The package needs only database/sql's world through package retry: status-go
// links it beside SQLCipher.
package signals

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mvdsguard/mvdsguard"
)

// The legacy signal types: status-go's names, which today's desktop handles.
const (
	EnvelopeSent     = "envelope.sent"
	EnvelopeExpired  = "envelope.expired"
	MessageDelivered = "message.delivered"
)

// zeroHash is the "hash" status-go's envelope signals carry for message ids:
// its types.Hash zero value, which is what SendEnvelopeSent and
// SendEnvelopeExpired leave in the field.
const zeroHash = "0x0000000000000000000000000000000000000000000000000000000000000000"

// Signal is one signal for the GUI: a type and its event, marshalled as
// status-go's envelope {"type": ..., "event": {...}}.
type Signal struct {
	Type string
	// Event is an EnvelopeEvent (envelope.sent, envelope.expired), a
	// DeliveredEvent (message.delivered) or the mvdsguard.Event itself
	// (mvds.message.*).
	Event any
	// Seq is the Guard event this signal came from. It is not part of the
	// JSON; a consumer that resumes remembers it (see Forward).
	Seq uint64
}

// MarshalJSON writes status-go's envelope. An mvds.message.* signal is the
// event's own JSON, which already is that envelope.
func (s Signal) MarshalJSON() ([]byte, error) {
	if e, ok := s.Event.(mvdsguard.Event); ok {
		return json.Marshal(e)
	}
	if s.Type == "" {
		return nil, fmt.Errorf("marshal signal from event %d: no type", s.Seq)
	}
	return json.Marshal(struct {
		Type  string `json:"type"`
		Event any    `json:"event"`
	}{s.Type, s.Event})
}

// EnvelopeEvent is the event of envelope.sent and envelope.expired, as
// status-go's signal.EnvelopeSignal marshals it.
type EnvelopeEvent struct {
	IDs     []string `json:"ids"`     // message ids, "0x…" lower-case hex
	Hash    string   `json:"hash"`    // always the zero hash for message signals
	Message string   `json:"message"` // envelope.expired: why; "" otherwise
}

// DeliveredEvent is the event of message.delivered, as status-go's
// signal.MessageDeliveredSignal marshals it.
type DeliveredEvent struct {
	ChatID    string `json:"chatID"`
	MessageID string `json:"messageID"`
}

// Translator turns Guard events into signals, in the order they are given.
// It remembers which failed messages await a new first attempt; a
// Translator is not safe for concurrent use. The zero value is not ready:
// use NewTranslator.
type Translator struct {
	// resend holds failed chat messages: their next attempt gives a new
	// envelope.sent, which takes the desktop's failed mark away.
	resend map[string]bool
}

// NewTranslator returns a Translator that knows of no earlier failure. A
// consumer resuming after a restart primes it with the messages that are
// failed now (Forward does).
func NewTranslator(failed ...string) *Translator {
	t := &Translator{resend: map[string]bool{}}
	for _, id := range failed {
		t.resend[id] = true
	}
	return t
}

// legacy reports whether today's desktop shows messages of flow f in a chat,
// and so handles status-go's signals about them. status-go itself sends
// envelope and delivery signals only for messages it stores as chat
// messages: join requests and other protocol messages are not among them.
func legacy(f mvdsguard.Flow) bool {
	switch f {
	case mvdsguard.ContactRequest, mvdsguard.OneToOne, mvdsguard.PrivateGroup:
		return true
	}
	return false
}

// Translate returns the signals for e: its own mvds.message.* signal first,
// then the legacy signal it implies, if any.
func (t *Translator) Translate(e mvdsguard.Event) []Signal {
	out := []Signal{{Type: e.Type.String(), Event: e, Seq: e.Seq}}
	if !legacy(e.Flow) {
		return out
	}
	id := hexID(e.ID)
	switch e.Type {
	case mvdsguard.EventSent:
		if e.Attempts == 1 || t.resend[e.ID] {
			delete(t.resend, e.ID)
			out = append(out, Signal{Type: EnvelopeSent, Seq: e.Seq, Event: EnvelopeEvent{IDs: []string{id}, Hash: zeroHash}})
		}
	case mvdsguard.EventDelivered:
		delete(t.resend, e.ID)
		if e.Peer == "" {
			out = append(out, Signal{Type: MessageDelivered, Seq: e.Seq, Event: DeliveredEvent{ChatID: e.ChatID, MessageID: id}})
		}
	case mvdsguard.EventFailed:
		if e.Flow == mvdsguard.ContactRequest {
			// Only under a bounded policy of the application's own; the
			// desktop has no resend for it, so it keeps its mark.
			return out
		}
		t.resend[e.ID] = true
		out = append(out, Signal{Type: EnvelopeExpired, Seq: e.Seq, Event: EnvelopeEvent{IDs: []string{id}, Hash: zeroHash, Message: expiredMessage(e)}})
	case mvdsguard.EventDiscarded:
		delete(t.resend, e.ID)
	}
	return out
}

// expiredMessage says why, in envelope.expired's message field.
func expiredMessage(e mvdsguard.Event) string {
	switch e.Reason {
	case mvdsguard.ReasonMaxAttempts:
		return fmt.Sprintf("mvds: no acknowledgement after %d attempts", e.Attempts)
	case mvdsguard.ReasonDeadline:
		return fmt.Sprintf("mvds: no acknowledgement before the deadline (%d attempts)", e.Attempts)
	}
	return fmt.Sprintf("mvds: failed (%s) after %d attempts", e.Reason, e.Attempts)
}

// hexID writes a message id as status-go's hexutil.Bytes does: "0x" and
// lower-case hex. status-go's ids are that already; another application's id
// that is not hex passes unchanged.
func hexID(id string) string {
	if len(id) < 2 || (id[:2] != "0x" && id[:2] != "0X") || len(id)%2 != 0 {
		return id
	}
	for _, c := range id[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return id
		}
	}
	return "0x" + strings.ToLower(id[2:])
}
