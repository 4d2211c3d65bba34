package qanode

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/wakutransport"
)

// The REST API's bodies. docs/qa.md describes them (its OpenAPI block);
// a test keeps the two in step.

// Info is GET /v1/health.
type Info struct {
	Name    string   `json:"name"`
	ID      string   `json:"id"`     // mvds peer id: 0x04… (65-byte public key)
	PeerID  string   `json:"peerId"` // libp2p peer id
	Addrs   []string `json:"addrs"`  // Waku multiaddrs other nodes dial
	Mode    string   `json:"mode"`   // relay | light
	Service bool     `json:"service"`
	Stock   bool     `json:"stock"`
	Online  bool     `json:"online"`  // the connectivity signal the Guard sees
	Offline bool     `json:"offline"` // taken offline through the API
	Peers   int      `json:"peers"`   // connected peers
	Epoch   int64    `json:"epoch"`
	API     string   `json:"api,omitempty"`
}

// SendRequest is POST /v1/messages.
type SendRequest struct {
	ID      string `json:"id"`
	To      string `json:"to,omitempty"`    // a peer id, 0x04…
	Group   string `json:"group,omitempty"` // or a group created with POST /v1/groups
	Flow    string `json:"flow"`
	Kind    string `json:"kind,omitempty"` // content (default) | control
	ChatID  string `json:"chatId,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// Message is a sent message's status.
type Message struct {
	ID         string      `json:"id"`
	ChatID     string      `json:"chatId,omitempty"`
	Flow       string      `json:"flow"`
	Kind       string      `json:"kind"`
	Group      string      `json:"group,omitempty"`
	Status     string      `json:"status"` // pending | delivered | failed | discarded
	Stalled    bool        `json:"stalled,omitempty"`
	Attempts   int         `json:"attempts"`
	SentAt     time.Time   `json:"sentAt"`
	FinishedAt *time.Time  `json:"finishedAt,omitempty"`
	LastError  string      `json:"lastError,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Retryable  bool        `json:"retryable,omitempty"`
	Recipients []Recipient `json:"recipients"`
}

// Recipient is one recipient's part of a Message.
type Recipient struct {
	Peer      string     `json:"peer"`
	MessageID string     `json:"messageId"` // the mvds message id
	Status    string     `json:"status"`
	AckedAt   *time.Time `json:"ackedAt,omitempty"` // first ack seen on the wire
}

// Received is a message this node's application received (GET /v1/received).
type Received struct {
	Seq       int64     `json:"seq"`
	ID        string    `json:"id"`        // the sender's message id
	MessageID string    `json:"messageId"` // the mvds message id
	From      string    `json:"from"`
	Group     string    `json:"group"`
	Payload   string    `json:"payload"`
	At        time.Time `json:"at"`
}

// GroupRequest is POST /v1/groups.
type GroupRequest struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// Group is a group the node sends to.
type Group struct {
	Name    string   `json:"name"`
	GroupID string   `json:"groupId"`
	Members []string `json:"members"`
}

// PeerRequest is POST /v1/peers.
type PeerRequest struct {
	Addr string `json:"addr"`
}

// NetworkRequest is PUT /v1/network.
type NetworkRequest struct {
	Online *bool `json:"online"`
}

// Faults are the faults injected at this node's shim (PUT /v1/faults).
type Faults struct {
	// Partition: peers (0x04…) this node neither sends to nor hears from.
	Partition []string `json:"partition"`
	// Latency delays every packet this node receives.
	Latency Duration `json:"latency"`
}

// ClockRequest is POST /v1/clock/jump.
type ClockRequest struct {
	By Duration `json:"by"`
}

// ClockState is the answer to a clock jump.
type ClockState struct {
	Now    time.Time `json:"now"`
	Offset Duration  `json:"offset"`
	Effect string    `json:"effect"`
}

// Stats is GET /v1/stats.
type Stats struct {
	Transport wakutransport.Stats `json:"transport"`
	Shim      ShimStats           `json:"shim"`
	Engine    EngineStats         `json:"engine"`
}

// EngineStats is what crossed the mvds node's transport.
type EngineStats struct {
	PacketsIn      uint64 `json:"packetsIn"`
	PacketsInvalid uint64 `json:"packetsInvalid"`
	PacketsOut     uint64 `json:"packetsOut"`
	SendErrors     uint64 `json:"sendErrors"`
}

// Error is every error body.
type Error struct {
	Error string `json:"error"`
}

// Duration is a time.Duration written as Go writes it ("1m30s") in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a duration string ("500ms", "2m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"500ms\" or \"2m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
