package sgnode

import (
	"encoding/json"
	"strings"
)

// Signal types QA reads.
const (
	SignalLogin         = "node.login"
	SignalNewMessages   = "messages.new"
	SignalDelivered     = "message.delivered"
	SignalEnvelopeSent  = "envelope.sent"
	SignalEnvelopeExpir = "envelope.expired"
	SignalGuardFailed   = "mvds.message.failed"
)

// NewMessages returns the messages of a messages.new signal.
func NewMessages(s Signal) []Message {
	if s.Type != SignalNewMessages {
		return nil
	}
	var r Response
	if json.Unmarshal(s.Event, &r) != nil {
		return nil
	}
	return r.Messages
}

// DeliveredID returns the message id of a message.delivered signal.
func DeliveredID(s Signal) string {
	if s.Type != SignalDelivered {
		return ""
	}
	var ev struct {
		MessageID string `json:"messageID"`
	}
	_ = json.Unmarshal(s.Event, &ev)
	return ev.MessageID
}

// EnvelopeIDs returns the message ids of an envelope.sent or
// envelope.expired signal.
func EnvelopeIDs(s Signal) []string {
	var ev struct {
		IDs []string `json:"ids"`
	}
	_ = json.Unmarshal(s.Event, &ev)
	return ev.IDs
}

// GuardFailedID returns the app message id of a Guard's
// mvds.message.failed signal.
func GuardFailedID(s Signal) string {
	if s.Type != SignalGuardFailed {
		return ""
	}
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(s.Event, &ev)
	return ev.ID
}

func sameID(a, b string) bool { return strings.EqualFold(a, b) }

func newMessage(id string) func(Signal) bool {
	return func(s Signal) bool {
		for _, m := range NewMessages(s) {
			if sameID(m.ID, id) {
				return true
			}
		}
		return false
	}
}

func delivered(id string) func(Signal) bool {
	return func(s Signal) bool { return sameID(DeliveredID(s), id) }
}
