package mvdsguard

import (
	"encoding/json"
	"fmt"
)

// EventType names one lifecycle transition of a tracked message. Its wire
// form follows status-go's signal names: "mvds.message.<transition>".
type EventType uint8

const (
	// EventScheduled: the message was handed to MVDS and is waiting for its
	// first attempt.
	EventScheduled EventType = iota + 1
	// EventSent: one attempt went out to a recipient.
	EventSent
	// EventDelivered: a recipient acknowledged the message (one event per
	// recipient; the message is Delivered when every recipient has).
	EventDelivered
	// EventRescheduled: pending attempts were moved earlier because the
	// device reconnected, woke from sleep, or the user pressed retry.
	EventRescheduled
	// EventStalled: the message is still retrying past the flow's stall
	// threshold; the GUI shows it as pending rather than sent.
	EventStalled
	// EventFailed: retries ran out; the GUI shows a failed mark and, when
	// Retryable, a retry button.
	EventFailed
	// EventDiscarded: the user discarded the message; nothing more happens.
	EventDiscarded
)

// EventTypes lists every event type in lifecycle order.
var EventTypes = []EventType{
	EventScheduled, EventSent, EventDelivered, EventRescheduled,
	EventStalled, EventFailed, EventDiscarded,
}

var eventTypeNames = map[EventType]string{
	EventScheduled:   "mvds.message.scheduled",
	EventSent:        "mvds.message.sent",
	EventDelivered:   "mvds.message.delivered",
	EventRescheduled: "mvds.message.rescheduled",
	EventStalled:     "mvds.message.stalled",
	EventFailed:      "mvds.message.failed",
	EventDiscarded:   "mvds.message.discarded",
}

// String returns the signal name, such as "mvds.message.failed".
func (t EventType) String() string {
	if name, ok := eventTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Valid reports whether t is one of the defined event types.
func (t EventType) Valid() bool {
	_, ok := eventTypeNames[t]
	return ok
}

// ParseEventType converts a signal name back to an EventType.
func ParseEventType(s string) (EventType, error) {
	for t, name := range eventTypeNames {
		if name == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown event type %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (t EventType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("marshal event type: invalid type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *EventType) UnmarshalText(b []byte) error {
	v, err := ParseEventType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Reason says why a transition happened. Readers must accept reasons they do
// not know: new ones may be added without changing the event types.
type Reason string

// Known reasons.
const (
	ReasonMaxAttempts Reason = "max_attempts" // failed: the flow's attempt limit was reached
	ReasonDeadline    Reason = "deadline"     // failed: the flow's deadline passed
	ReasonReconnect   Reason = "reconnect"    // rescheduled: the device came back online
	ReasonWake        Reason = "wake"         // rescheduled: the device woke from sleep
	ReasonUserRetry   Reason = "user_retry"   // rescheduled: the user pressed retry
	ReasonUserDiscard Reason = "user_discard" // discarded: the user gave up
	ReasonStallAfter  Reason = "stall_after"  // stalled: the flow's stall threshold passed
)

// Event is one lifecycle transition of a tracked message, as written to the
// event log and published to subscribers. Seq increases strictly across the
// whole log, so a subscriber that remembers the last Seq it handled can
// resume after a restart without missing or repeating anything it has
// acknowledged.
type Event struct {
	Seq            uint64
	Type           EventType
	ID             string // the application's message id, for example "0x…"
	ChatID         string
	Flow           Flow
	Peer           string // recipient public key (hex); empty for whole-message events
	Attempts       int    // attempts made so far, across all recipients
	FirstAttemptAt int64  // unix seconds; 0 until the first attempt
	LastAttemptAt  int64  // unix seconds; 0 until the first attempt
	At             int64  // unix seconds when the transition happened
	Reason         Reason
	Retryable      bool // failed only: the GUI may offer a retry button
}

// eventBody is the "event" object of the signal envelope.
type eventBody struct {
	Seq            uint64 `json:"seq"`
	ID             string `json:"id"`
	ChatID         string `json:"chatId,omitempty"`
	Flow           Flow   `json:"flow"`
	Peer           string `json:"peer,omitempty"`
	Attempts       int    `json:"attempts"`
	FirstAttemptAt int64  `json:"firstAttemptAt,omitempty"`
	LastAttemptAt  int64  `json:"lastAttemptAt,omitempty"`
	At             int64  `json:"at,omitempty"`
	Reason         Reason `json:"reason,omitempty"`
	Retryable      bool   `json:"retryable,omitempty"`
}

type envelope struct {
	Type  EventType `json:"type"`
	Event eventBody `json:"event"`
}

// MarshalJSON writes the event in status-go's signal envelope:
// {"type": "mvds.message.failed", "event": {...}}.
func (e Event) MarshalJSON() ([]byte, error) {
	if !e.Type.Valid() {
		return nil, fmt.Errorf("marshal event %d: invalid type %d", e.Seq, uint8(e.Type))
	}
	return json.Marshal(envelope{Type: e.Type, Event: eventBody{
		Seq: e.Seq, ID: e.ID, ChatID: e.ChatID, Flow: e.Flow, Peer: e.Peer,
		Attempts: e.Attempts, FirstAttemptAt: e.FirstAttemptAt, LastAttemptAt: e.LastAttemptAt,
		At: e.At, Reason: e.Reason, Retryable: e.Retryable,
	}})
}

// UnmarshalJSON reads the signal envelope written by MarshalJSON. Unknown
// fields are ignored (newer writers may add some); an unknown type or flow is
// an error.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env struct {
		Type  *EventType `json:"type"`
		Event *eventBody `json:"event"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if env.Type == nil {
		return fmt.Errorf("decode event: missing \"type\"")
	}
	if env.Event == nil {
		return fmt.Errorf("decode event: missing \"event\"")
	}
	body := env.Event
	*e = Event{
		Seq: body.Seq, Type: *env.Type, ID: body.ID, ChatID: body.ChatID, Flow: body.Flow,
		Peer: body.Peer, Attempts: body.Attempts, FirstAttemptAt: body.FirstAttemptAt,
		LastAttemptAt: body.LastAttemptAt, At: body.At, Reason: body.Reason, Retryable: body.Retryable,
	}
	return nil
}
