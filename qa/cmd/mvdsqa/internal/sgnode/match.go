package sgnode

import (
	"encoding/json"
)

// Signal types QA reads.
const (
	SignalLogin         = "node.login"
	SignalNewMessages   = "messages.new"
	SignalDelivered     = "message.delivered"
	SignalEnvelopeSent  = "envelope.sent"
	SignalEnvelopeExpir = "envelope.expired"
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
