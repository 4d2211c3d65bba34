package dynamic

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mvdsguard/mvdsguard"
)

// Kind says what a Record tells.
type Kind uint8

// The record kinds. Message kinds (Send to Rescheduled) name a message by ID
// on the Node that sends it; Connectivity is about a Node; Receipt is about a
// message a Node's application received.
const (
	// KindSend: the message was handed to a send path (Via). A send outside
	// MVDS is itself one transmission; a send through MVDS is scheduled and
	// transmitted by Attempts.
	KindSend Kind = iota + 1
	// KindAttempt: one transmission, to Peer when known.
	KindAttempt
	// KindDelivered: acknowledged. Without Peer the whole message is
	// delivered (a terminal outcome); with Peer only that recipient.
	KindDelivered
	// KindFailed: the sender gave up and shows the failure (terminal).
	KindFailed
	// KindDiscarded: the user gave up on it (terminal).
	KindDiscarded
	// KindRescheduled: pending attempts were moved earlier; with Reason
	// "user_retry" a failed message starts a new round.
	KindRescheduled
	// KindConnectivity: Node went online or offline (Wake: it woke from
	// sleep, which counts as a reconnect).
	KindConnectivity
	// KindReceipt: Node's application was handed message ID (from Peer).
	KindReceipt
)

var kindNames = map[Kind]string{
	KindSend: "send", KindAttempt: "attempt", KindDelivered: "delivered", KindFailed: "failed",
	KindDiscarded: "discarded", KindRescheduled: "rescheduled", KindConnectivity: "connectivity",
	KindReceipt: "receipt",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a defined kind.
func (k Kind) Valid() bool { _, ok := kindNames[k]; return ok }

// message reports whether records of kind k name a message.
func (k Kind) message() bool { return k != KindConnectivity && k.Valid() }

// Via is the path a message was sent on.
type Via uint8

// The paths. Every path but ViaMVDS is outside MVDS.
const (
	ViaUnknown Via = iota
	// ViaMVDS: handed to MVDS (status-go's datasync, or a Guard), which
	// retransmits until acknowledged.
	ViaMVDS
	// ViaPrivate: status-go's private path without datasync: encrypted and
	// sent once to one peer.
	ViaPrivate
	// ViaPrivateRaw: the private path without the encryption layer
	// (SkipEncryptionLayer; status-go logs "skipProtocolLayer").
	ViaPrivateRaw
	// ViaCommunity: a community's topic.
	ViaCommunity
	// ViaPublic: a public topic.
	ViaPublic
	// ViaOther: any other path outside MVDS (an application's own).
	ViaOther
)

var viaNames = map[Via]string{
	ViaMVDS: "mvds", ViaPrivate: "private", ViaPrivateRaw: "private_raw",
	ViaCommunity: "community", ViaPublic: "public", ViaOther: "other",
}

func (v Via) String() string {
	if n, ok := viaNames[v]; ok {
		return n
	}
	return "unknown"
}

// Outside reports whether v is a known path other than MVDS.
func (v Via) Outside() bool { return v != ViaUnknown && v != ViaMVDS && v.valid() }

func (v Via) valid() bool { _, ok := viaNames[v]; return ok }

// describe is how a report names the path.
func (v Via) describe() string {
	switch v {
	case ViaMVDS:
		return "through MVDS"
	case ViaPrivate:
		return "on the private path without datasync"
	case ViaPrivateRaw:
		return "on the private path without encryption (skipProtocolLayer)"
	case ViaCommunity:
		return "on a community topic"
	case ViaPublic:
		return "on a public topic"
	case ViaOther:
		return "on a path outside MVDS"
	}
	return "on an unknown path"
}

// ParseVia converts a wire name.
func ParseVia(s string) (Via, error) {
	for v, n := range viaNames {
		if n == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown via %q (want mvds, private, private_raw, community, public or other)", s)
}

// Evidence says where a record came from, so a report can quote it.
type Evidence struct {
	Input string `json:"input"`          // file name, "-" for standard input, "live" for a running Guard
	Line  int64  `json:"line,omitempty"` // 1-based line number; 0 for live records
	Text  string `json:"text"`           // the line (at most MaxEvidence bytes)
}

// MaxEvidence bounds the text kept per evidence line: reports quote lines,
// and the memory bound counts them.
const MaxEvidence = 400

// Clip shortens s to MaxEvidence bytes on a rune boundary, marking the cut.
// Runs of spaces (geth's alignment padding) are first collapsed to one, so
// that the fields, not the padding, fill the quote.
func Clip(s string) string {
	if strings.Contains(s, "  ") {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	if len(s) <= MaxEvidence {
		return s
	}
	cut := MaxEvidence - len("…")
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// Record is one thing that happened to a message or a node.
type Record struct {
	Kind Kind
	At   time.Time
	// Node is the process the record is about: the sender for message
	// kinds, the receiver for receipts. Records of different nodes never
	// mix (each node has its own messages and connectivity).
	Node string
	ID   string // the message id
	// Peer is the recipient (attempt, delivered) or the sender (receipt).
	Peer  string
	Peers []string // send: the recipients
	Via   Via      // send, attempt: the path
	// Flow is the message's flow when the source knows it (a Guard does);
	// otherwise the Recorder derives it from Type, Content and Chat, and a
	// message it cannot place is unclassified.
	Flow    mvdsguard.Flow
	Type    string // ApplicationMetadataMessage type name, such as "CHAT_MESSAGE"
	Content string // ChatMessage content type name, such as "CONTACT_REQUEST"
	Chat    string // chat kind: one_to_one, private_group, public, community...
	ChatID  string
	Online  bool // connectivity
	Wake    bool // connectivity: a wake from sleep
	// Attempts is the transmissions the sender counted (failed); -1 when the
	// source does not say.
	Attempts int
	Reason   string
	Evidence Evidence
}

// SchemaVersion is the version of the JSON Lines record format this package
// writes and the highest it reads.
const SchemaVersion = 1

// wire is the JSON shape of a record (docs/runtime-audit.md).
type wire struct {
	V        int             `json:"v"`
	Kind     string          `json:"kind"`
	At       json.RawMessage `json:"at,omitempty"`
	Node     string          `json:"node,omitempty"`
	ID       string          `json:"id,omitempty"`
	Peer     string          `json:"peer,omitempty"`
	From     string          `json:"from,omitempty"`
	Peers    []string        `json:"peers,omitempty"`
	Via      string          `json:"via,omitempty"`
	Flow     string          `json:"flow,omitempty"`
	Type     string          `json:"type,omitempty"`
	Content  string          `json:"content,omitempty"`
	Chat     string          `json:"chat,omitempty"`
	ChatID   string          `json:"chatId,omitempty"`
	Online   *bool           `json:"online,omitempty"`
	Wake     bool            `json:"wake,omitempty"`
	Attempts *int            `json:"attempts,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Event    json.RawMessage `json:"event,omitempty"`
}

// wireKeys are the keys of version 1; anything else is an unknown field.
var wireKeys = map[string]bool{
	"v": true, "kind": true, "at": true, "node": true, "id": true, "peer": true, "from": true,
	"peers": true, "via": true, "flow": true, "type": true, "content": true, "chat": true,
	"chatId": true, "online": true, "wake": true, "attempts": true, "reason": true, "event": true,
}

// MarshalJSON writes the record in the version 1 JSON Lines form.
func (r Record) MarshalJSON() ([]byte, error) {
	if !r.Kind.Valid() {
		return nil, fmt.Errorf("marshal record: invalid kind %d", uint8(r.Kind))
	}
	if r.At.IsZero() {
		return nil, fmt.Errorf("marshal %s record: no time", r.Kind)
	}
	at, _ := json.Marshal(r.At.UTC().Format(time.RFC3339Nano))
	w := wire{V: SchemaVersion, Kind: r.Kind.String(), At: at, Node: r.Node, ID: r.ID, Peers: r.Peers,
		Type: r.Type, Content: r.Content, Chat: r.Chat, ChatID: r.ChatID, Reason: r.Reason}
	if r.Kind == KindReceipt {
		w.From = r.Peer
	} else {
		w.Peer = r.Peer
	}
	if r.Via != ViaUnknown {
		w.Via = r.Via.String()
	}
	if r.Flow.Valid() {
		w.Flow = r.Flow.String()
	}
	if r.Kind == KindConnectivity {
		online := r.Online
		w.Online, w.Wake = &online, r.Wake
	}
	if r.Attempts >= 0 {
		n := r.Attempts
		w.Attempts = &n
	}
	return json.Marshal(w)
}

// Errors a record can be rejected with, for errors.Is.
var (
	ErrNotRecord          = errors.New("not a runtime record")
	ErrUnsupportedVersion = errors.New("unsupported record version")
	ErrBadRecord          = errors.New("bad record")
)

// ParseRecord reads one line of the JSON Lines format. It returns the
// record(s) the line holds (an "event" line may hold a Guard event, which is
// one record) and the names of fields version 1 does not define, which are
// ignored. Errors wrap ErrNotRecord (no "v" and "kind"),
// ErrUnsupportedVersion or ErrBadRecord and say what is wrong.
func ParseRecord(line []byte) (Record, []string, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(line, &members); err != nil {
		return Record{}, nil, fmt.Errorf("%w: %v", ErrNotRecord, err)
	}
	rawV, okV := members["v"]
	_, okKind := members["kind"]
	if !okV || !okKind {
		return Record{}, nil, fmt.Errorf("%w: no \"v\" and \"kind\"", ErrNotRecord)
	}
	var v float64
	if err := json.Unmarshal(rawV, &v); err != nil || v != math.Trunc(v) || v < 1 {
		return Record{}, nil, fmt.Errorf("%w: \"v\" is %s, not a version number", ErrBadRecord, short(rawV))
	}
	if v > SchemaVersion {
		return Record{}, nil, fmt.Errorf("%w %v (this audit reads version %d; upgrade mvdsaudit)", ErrUnsupportedVersion, v, SchemaVersion)
	}
	var unknown []string
	for k := range members {
		if !wireKeys[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	// Fields are decoded by their exact names: encoding/json would also
	// match "At" or "VIA", which version 1 does not define.
	var w wire
	for _, f := range []struct {
		key string
		dst any
	}{{"kind", &w.Kind}, {"node", &w.Node}, {"id", &w.ID}, {"peer", &w.Peer}, {"from", &w.From},
		{"peers", &w.Peers}, {"via", &w.Via}, {"flow", &w.Flow}, {"type", &w.Type}, {"content", &w.Content},
		{"chat", &w.Chat}, {"chatId", &w.ChatID}, {"online", &w.Online}, {"wake", &w.Wake},
		{"attempts", &w.Attempts}, {"reason", &w.Reason}} {
		raw, ok := members[f.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return Record{}, unknown, fmt.Errorf("%w: %s", ErrBadRecord, fieldError(err, f.key))
		}
	}
	w.At, w.Event = members["at"], members["event"]
	r, err := w.record()
	if err != nil {
		return Record{}, unknown, fmt.Errorf("%w: %s record: %v", ErrBadRecord, w.Kind, err)
	}
	return r, unknown, nil
}

// fieldError rewrites encoding/json's type errors to name the field (key,
// when the error does not).
func fieldError(err error, key string) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			key = te.Field
		}
		if key == "" {
			return fmt.Sprintf("want a JSON object, got a JSON %s", te.Value)
		}
		return fmt.Sprintf("field %q is a JSON %s, want %s", key, te.Value, jsonType(te.Type.String()))
	}
	if key != "" {
		return fmt.Sprintf("field %q: %v", key, err)
	}
	return err.Error()
}

func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "[]string":
		return "a list of strings"
	case strings.Contains(goType, "int"):
		return "an integer"
	}
	return goType
}

func short(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func (w *wire) record() (Record, error) {
	if len(w.Peers) == 0 {
		w.Peers = nil
	}
	r := Record{Node: w.Node, ID: w.ID, Peer: w.Peer, Peers: w.Peers, Type: w.Type, Content: w.Content,
		Chat: w.Chat, ChatID: w.ChatID, Wake: w.Wake, Reason: w.Reason, Attempts: -1}
	if w.Kind == "event" {
		return w.eventRecord()
	}
	for k, n := range kindNames {
		if n == w.Kind {
			r.Kind = k
		}
	}
	if r.Kind == 0 {
		return r, fmt.Errorf("unknown kind (want send, attempt, delivered, failed, discarded, rescheduled, connectivity, receipt or event)")
	}
	at, err := parseAt(w.At)
	if err != nil {
		return r, err
	}
	r.At = at
	if w.Via != "" {
		if r.Via, err = ParseVia(w.Via); err != nil {
			return r, err
		}
	}
	if w.Flow != "" {
		if r.Flow, err = mvdsguard.ParseFlow(w.Flow); err != nil {
			return r, err
		}
	}
	if r.Kind == KindReceipt {
		if w.Peer != "" && w.From == "" {
			return r, errors.New("a receipt names its sender with \"from\", not \"peer\"")
		}
		r.Peer = w.From
	} else if w.From != "" {
		return r, fmt.Errorf("\"from\" belongs to receipts; a %s names its recipient with \"peer\"", r.Kind)
	}
	if w.Online != nil {
		r.Online = *w.Online
	}
	if w.Attempts != nil {
		r.Attempts = *w.Attempts
	}
	if len(w.Event) > 0 {
		return r, errors.New("\"event\" belongs to records of kind event")
	}
	switch {
	case r.Kind == KindConnectivity && w.Online == nil:
		return r, errors.New("missing \"online\"")
	case r.Kind == KindSend && r.Via == ViaUnknown:
		return r, errors.New("missing \"via\" (mvds, private, private_raw, community, public or other)")
	}
	return r, r.validate()
}

// eventRecord reads a Guard event envelope carried by an "event" record.
func (w *wire) eventRecord() (Record, error) {
	if len(w.Event) == 0 {
		return Record{}, errors.New("missing \"event\" (a Guard event: {\"type\": ..., \"event\": {...}})")
	}
	var e mvdsguard.Event
	if err := json.Unmarshal(w.Event, &e); err != nil {
		return Record{}, err
	}
	at := time.Unix(e.At, 0).UTC()
	if len(w.At) > 0 {
		var err error
		if at, err = parseAt(w.At); err != nil {
			return Record{}, err
		}
	} else if e.At == 0 {
		return Record{}, errors.New("the event has no \"at\" and the record none either")
	}
	r := FromEvent(e, w.Node, at)
	return r, r.validate()
}

// parseAt reads an RFC 3339 time or a number of seconds since the epoch.
func parseAt(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 {
		return time.Time{}, errors.New("missing \"at\"")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("\"at\" %q is not an RFC 3339 time", s)
		}
		if t.Year() < 1970 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("\"at\" %q is not a plausible time", s)
		}
		return t.UTC(), nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f <= 0 || f > 1e11 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("\"at\" is %s, not an RFC 3339 time or a positive number of seconds", short(raw))
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), nil
}

// validate checks what every source must provide.
func (r Record) validate() error {
	switch {
	case !r.Kind.Valid():
		return fmt.Errorf("invalid kind %d", uint8(r.Kind))
	case r.At.IsZero():
		return errors.New("missing \"at\"")
	case r.At.Year() < 1970 || r.At.Year() > 9999:
		return fmt.Errorf("time %v is not plausible", r.At)
	case r.Kind.message() && r.ID == "":
		return errors.New("missing \"id\"")
	case len(r.ID) > maxID:
		return fmt.Errorf("\"id\" is %d bytes, more than %d", len(r.ID), maxID)
	case len(r.Node) > maxID:
		return fmt.Errorf("\"node\" is %d bytes, more than %d", len(r.Node), maxID)
	case r.Via != ViaUnknown && !r.Via.valid():
		return fmt.Errorf("invalid via %d", uint8(r.Via))
	case r.Flow != 0 && !r.Flow.Valid():
		return fmt.Errorf("invalid flow %d", uint8(r.Flow))
	}
	return nil
}

// maxID bounds ids and node names, which the Recorder keeps in memory.
const maxID = 512

// FromEvent turns a Guard event into a record of node at time at.
func FromEvent(e mvdsguard.Event, node string, at time.Time) Record {
	r := Record{At: at, Node: node, ID: e.ID, Peer: e.Peer, Flow: e.Flow, ChatID: e.ChatID,
		Reason: string(e.Reason), Attempts: -1, Via: ViaMVDS}
	switch e.Type {
	case mvdsguard.EventScheduled:
		// Track counts attempts mvds made before the message was tracked.
		r.Kind, r.Attempts = KindSend, e.Attempts
	case mvdsguard.EventSent:
		r.Kind = KindAttempt
	case mvdsguard.EventDelivered:
		r.Kind = KindDelivered
	case mvdsguard.EventRescheduled:
		r.Kind = KindRescheduled
	case mvdsguard.EventFailed:
		r.Kind, r.Attempts = KindFailed, e.Attempts
	case mvdsguard.EventDiscarded:
		r.Kind = KindDiscarded
	case mvdsguard.EventStalled:
		// Still pending; the audit judges outcomes, not marks.
		r.Kind = KindRescheduled
	}
	if r.Kind != KindSend && r.Kind != KindAttempt {
		r.Via = ViaUnknown
	}
	return r
}
