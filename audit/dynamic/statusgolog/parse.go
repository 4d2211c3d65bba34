package statusgolog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Format is the encoding of a log line.
type Format uint8

// The formats status-go has written.
const (
	FormatUnknown Format = iota
	// Geth is geth's terminal format (status-go releases of 2024).
	Geth
	// ZapConsole is zap's console encoding (later releases).
	ZapConsole
	// ZapJSON is zap's JSON encoding.
	ZapJSON
)

// Formats lists the formats in report order.
var Formats = []Format{Geth, ZapConsole, ZapJSON}

func (f Format) String() string {
	switch f {
	case Geth:
		return "geth"
	case ZapConsole:
		return "zap-console"
	case ZapJSON:
		return "zap-json"
	}
	return "unknown"
}

// Kind says which of status-go's lines an entry is.
type Kind uint8

// The lines the runtime audit reads. Other is any other status-go line.
const (
	Other Kind = iota
	// SentPrivate: "sent-message: private without datasync" — sendPrivate
	// sent the message itself, encrypted, without MVDS.
	SentPrivate
	// SentPrivateRaw: "sent-message: private skipProtocolLayer" — sendPrivate
	// sent it without MVDS and without the encryption layer.
	SentPrivateRaw
	// SentCommunity: "sent-message: community " — sendCommunity.
	SentCommunity
	// SentPublic: "sent-message: public message" — SendPublic.
	SentPublic
	// DatasyncSent: "sent private messages" — the datasync dispatch sent one
	// packet to one peer; MessageIDs are the messages it carried.
	DatasyncSent
	// DatasyncAck: "got datasync acknowledge for message" — a peer
	// acknowledged MessageID; status-go marks it delivered.
	DatasyncAck
	// ConnectionChanged: "connection changed" — the messenger saw the device
	// go online or offline (Force: after a gap long enough to be a sleep).
	ConnectionChanged
)

func (k Kind) String() string {
	switch k {
	case SentPrivate:
		return "sent-private"
	case SentPrivateRaw:
		return "sent-private-raw"
	case SentCommunity:
		return "sent-community"
	case SentPublic:
		return "sent-public"
	case DatasyncSent:
		return "datasync-sent"
	case DatasyncAck:
		return "datasync-ack"
	case ConnectionChanged:
		return "connection-changed"
	}
	return "other"
}

// Kinds lists the kinds the audit reads, in report order.
var Kinds = []Kind{SentPrivate, SentPrivateRaw, SentCommunity, SentPublic, DatasyncSent, DatasyncAck, ConnectionChanged}

// messages are the log messages the parser matches, longest first so that a
// message that starts with another one ("... for message we don't have in
// db") is matched as itself. Texts are compared without trailing spaces:
// status-go writes "sent-message: community " with one.
var messages = []struct {
	text string
	kind Kind
}{
	{"got datasync acknowledge for message we don't have in db", Other},
	{"sent-message: private skipProtocolLayer", SentPrivateRaw},
	{"sent-message: private without datasync", SentPrivate},
	{"got datasync acknowledge for message", DatasyncAck},
	{"sent-message: public message", SentPublic},
	{"sent-message: community", SentCommunity},
	{"sent private messages", DatasyncSent},
	{"connection changed", ConnectionChanged},
}

// firstBytes marks the bytes a matched message can start with, so that most
// lines are dismissed after one lookup.
var firstBytes [256]bool

func init() {
	for _, m := range messages {
		firstBytes[m.text[0]] = true
	}
}

// matchPrefix matches a message at the start of b followed by a space or the
// end of b (geth pads the message with spaces before its fields).
func matchPrefix(b []byte) (Kind, int, bool) {
	if len(b) == 0 || !firstBytes[b[0]] {
		return Other, 0, false
	}
	for _, m := range messages {
		t := m.text
		if len(b) >= len(t) && string(b[:len(t)]) == t && (len(b) == len(t) || b[len(t)] == ' ') {
			return m.kind, len(t), m.kind != Other
		}
	}
	return Other, 0, false
}

// matchExact matches a whole message field (zap writes the message as is).
func matchExact(b []byte) (Kind, bool) {
	b = bytes.TrimRight(b, " ")
	if len(b) == 0 || !firstBytes[b[0]] {
		return Other, false
	}
	for _, m := range messages {
		if string(b) == m.text {
			return m.kind, m.kind != Other
		}
	}
	return Other, false
}

// Result classifies a line.
type Result uint8

const (
	// NotLog: the line is in none of status-go's formats.
	NotLog Result = iota
	// OtherLine: a status-go log line the audit does not need.
	OtherLine
	// Relevant: one of the lines in Kinds. With a nil error the Entry is
	// usable (perhaps Incomplete); with an error it is not.
	Relevant
)

// Entry is what one line says.
type Entry struct {
	Format Format
	// Source is the text before the entry, trimmed of spaces and '|', ':'
	// separators: the process label a collector put there. It aliases the
	// parsed line and is valid until the next Parse.
	Source []byte
	// Time is when the line was written (UTC).
	Time time.Time
	Kind Kind
	// MessageID is the message sent or acknowledged (sent-message lines and
	// DatasyncAck), "0x" and 64 hex digits.
	MessageID string
	// MessageIDs are the messages one datasync packet carried.
	MessageIDs []string
	// Recipients are the recipients' public keys, where the line names them.
	Recipients []string
	// ContentType is the value of the line's "contentType" field: despite
	// its name, status-go logs the ApplicationMetadataMessage type there
	// ("CHAT_MESSAGE"), not the chat message's content type.
	ContentType string
	Online      bool
	Force       bool
	// Incomplete names the fields a usable entry lacks (a truncated line).
	Incomplete string
}

// Parser reads lines. It keeps the year of geth's timestamps, which carry
// none, so one Parser reads one stream; it is not safe for concurrent use.
type Parser struct {
	year      int
	lastMonth int
	scratch   []byte
}

// NewParser returns a parser for a stream whose geth timestamps (which have
// no year) start in year; the year advances when the month wraps around.
func NewParser(year int) *Parser {
	return &Parser{year: year}
}

// Errors wrapped by Parse for lines of interest that cannot be used.
var (
	ErrMissingField = errors.New("missing field")
	ErrBadField     = errors.New("bad field")
)

// Parse reads one line, without its line ending, into e. Slices in e are
// reused across calls.
func (p *Parser) Parse(line []byte, e *Entry) (Result, error) {
	ids, recips := e.MessageIDs[:0], e.Recipients[:0]
	*e = Entry{MessageIDs: ids, Recipients: recips}
	if bytes.IndexByte(line, 0x1b) >= 0 {
		p.scratch = stripANSI(p.scratch[:0], line)
		line = p.scratch
	}
	start, f := detect(line)
	if f == FormatUnknown {
		return NotLog, nil
	}
	e.Format = f
	e.Source = trimSource(line[:start])
	body := line[start:]
	switch f {
	case Geth:
		return p.parseGeth(body, e)
	case ZapConsole:
		return parseConsole(body, e)
	default:
		return parseJSON(body, e)
	}
}

// detect finds where an entry starts: at the beginning of the line, or after
// a short prefix that ends in a space, '|', ':' or ']'.
func detect(line []byte) (int, Format) {
	if f := formatAt(line); f != FormatUnknown {
		return 0, f
	}
	limit := min(len(line), maxPrefix)
	for i := 1; i < limit; i++ {
		switch line[i-1] {
		case ' ', '|', ':', ']', '\t':
		default:
			continue
		}
		if f := formatAt(line[i:]); f != FormatUnknown {
			return i, f
		}
	}
	return 0, FormatUnknown
}

// maxPrefix bounds how far into a line an entry may start.
const maxPrefix = 96

func formatAt(b []byte) Format {
	if len(b) == 0 {
		return FormatUnknown
	}
	switch c := b[0]; {
	case c == '{':
		return ZapJSON
	case c >= '0' && c <= '9':
		if isoDate(b) {
			return ZapConsole
		}
	case c == 'T' || c == 'D' || c == 'I' || c == 'W' || c == 'E' || c == 'C':
		if len(b) >= 25 && b[5] == '[' && gethLevel(b[:5]) {
			return Geth
		}
	}
	return FormatUnknown
}

func gethLevel(b []byte) bool {
	switch string(b) {
	case "TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "CRIT ":
		return true
	}
	return false
}

// isoDate reports whether b starts with "dddd-dd-ddTdd:dd:dd".
func isoDate(b []byte) bool {
	if len(b) < 19 {
		return false
	}
	for i, c := range b[:19] {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

func trimSource(b []byte) []byte {
	return bytes.Trim(b, " \t|:")
}

// stripANSI removes CSI escape sequences (ESC '[' ... final byte), which
// geth writes around levels and keys when colours are on.
func stripANSI(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		dst = append(dst, b[i])
	}
	return dst
}

func missing(name string) error { return fmt.Errorf("%w %q", ErrMissingField, name) }

// The id shapes status-go writes: message ids are keccak256 hashes, public
// keys are uncompressed secp256k1 points.
const (
	messageIDHex = 64
	pubkeyHex    = 130
)

func checkHex(name, v string, digits int) error {
	if len(v) != 2+digits || v[0] != '0' || (v[1] != 'x' && v[1] != 'X') {
		return fmt.Errorf("%w %q: %s is not 0x and %d hex digits (truncated line?)", ErrBadField, name, quoteShort(v), digits)
	}
	for i := 2; i < len(v); i++ {
		if !isHex(v[i]) {
			return fmt.Errorf("%w %q: %s is not hexadecimal", ErrBadField, name, quoteShort(v))
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func quoteShort(s string) string {
	if len(s) > 24 {
		s = s[:24] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// fields gathers the values the audit reads from a line of interest,
// whatever the encoding.
type fields struct {
	messageID, contentType    string
	haveID, haveType, haveIDs bool
	haveRecipient             bool
	haveOnline, haveForce     bool
	online, force             bool
}

// finish checks what e's kind requires and fills e.
func finish(e *Entry, f *fields) error {
	switch e.Kind {
	case SentPrivate, SentPrivateRaw, SentCommunity, SentPublic:
		// Recipients come first on these lines: a bad one is where a
		// truncated line was cut.
		for _, r := range e.Recipients {
			if err := checkHex("recipient", r, pubkeyHex); err != nil {
				return err
			}
		}
		if !f.haveID {
			return missing("messageID")
		}
		if err := checkHex("messageID", f.messageID, messageIDHex); err != nil {
			return err
		}
		e.MessageID = f.messageID
		e.ContentType = f.contentType
		switch {
		case !f.haveType && !f.haveRecipient && (e.Kind == SentPrivate || e.Kind == SentPrivateRaw):
			e.Incomplete = "recipient, contentType"
		case !f.haveType:
			e.Incomplete = "contentType"
		case !f.haveRecipient && (e.Kind == SentPrivate || e.Kind == SentPrivateRaw):
			e.Incomplete = "recipient"
		}
	case DatasyncSent:
		if !f.haveIDs {
			return missing("messageIDs")
		}
		for _, id := range e.MessageIDs {
			if err := checkHex("messageIDs", id, messageIDHex); err != nil {
				return err
			}
		}
	case DatasyncAck:
		if !f.haveID {
			return missing("messageID")
		}
		if err := checkHex("messageID", f.messageID, messageIDHex); err != nil {
			return err
		}
		e.MessageID = f.messageID
	case ConnectionChanged:
		if !f.haveOnline {
			return missing("online")
		}
		e.Online, e.Force = f.online, f.force
		if !f.haveForce {
			e.Incomplete = "force"
		}
	}
	return nil
}

func parseBool(name, v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w %q: %s is not true or false", ErrBadField, name, quoteShort(v))
}
