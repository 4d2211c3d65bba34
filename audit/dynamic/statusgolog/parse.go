package statusgolog

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
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
	// Logfmt is geth's logfmt format (status-go's desktop logs of 2023):
	// t=2023-05-12T19:47:09+0200 lvl=dbug msg="..." key=value ...
	Logfmt
)

// Formats lists the formats in report order.
var Formats = []Format{Geth, ZapConsole, ZapJSON, Logfmt}

func (f Format) String() string {
	switch f {
	case Geth:
		return "geth"
	case ZapConsole:
		return "zap-console"
	case ZapJSON:
		return "zap-json"
	case Logfmt:
		return "logfmt"
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
	// Received: "processing message" — the messenger took message
	// MessageID (its "message-id" field) off the wire: the node received it.
	Received
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
	case Received:
		return "received"
	}
	return "other"
}

// Kinds lists the kinds the audit reads, in report order.
var Kinds = []Kind{SentPrivate, SentPrivateRaw, SentCommunity, SentPublic, DatasyncSent, DatasyncAck, ConnectionChanged, Received}

// message is a log message the parser matches. legacy marks the names
// MessageSender used before 2024-02-27 (release branches cut earlier printed
// them into mid 2024): they carry only messageID and hash(es), never the
// recipient or the type.
type message struct {
	text   string
	kind   Kind
	legacy bool
}

// messages are the log messages the parser matches, longest first (init
// sorts them) so that a message that starts with another one ("... for
// message we don't have in db") is matched as itself. Texts are compared
// without trailing spaces: status-go writes "sent-message: community " and
// "sent community message " with one.
var messages = []message{
	{"got datasync acknowledge for message we don't have in db", Other, false},
	{"sent-message: private skipProtocolLayer", SentPrivateRaw, false},
	{"sent-message: private without datasync", SentPrivate, false},
	{"got datasync acknowledge for message", DatasyncAck, false},
	{"sent-message: public message", SentPublic, false},
	{"sent-message: community", SentCommunity, false},
	{"sent private messages", DatasyncSent, false},
	{"connection changed", ConnectionChanged, false},
	{"processing message", Received, false},
	// Before 2024-02-27; "skipEncryption" before 2023-07-04.
	{"sent private message skipProtocolLayer", SentPrivateRaw, true},
	{"sent private message skipEncryption", SentPrivateRaw, true},
	{"sent private message without datasync", SentPrivate, true},
	{"sent community message", SentCommunity, true},
	{"sent public message", SentPublic, true},
}

// firstBytes marks the bytes a matched message can start with, so that most
// lines are dismissed after one lookup.
var firstBytes [256]bool

func init() {
	sort.SliceStable(messages, func(i, j int) bool { return len(messages[i].text) > len(messages[j].text) })
	for _, m := range messages {
		firstBytes[m.text[0]] = true
	}
}

// matchPrefix matches a message at the start of b followed by a space or the
// end of b (geth pads the message with spaces before its fields).
func matchPrefix(b []byte) (*message, int) {
	if len(b) == 0 || !firstBytes[b[0]] {
		return nil, 0
	}
	for i := range messages {
		t := messages[i].text
		if len(b) >= len(t) && string(b[:len(t)]) == t && (len(b) == len(t) || b[len(t)] == ' ') {
			if messages[i].kind == Other {
				return nil, 0
			}
			return &messages[i], len(t)
		}
	}
	return nil, 0
}

// matchExact matches a whole message field (zap writes the message as is).
func matchExact(b []byte) *message {
	b = bytes.TrimRight(b, " ")
	if len(b) == 0 || !firstBytes[b[0]] {
		return nil
	}
	for i := range messages {
		if string(b) == messages[i].text {
			if messages[i].kind == Other {
				return nil
			}
			return &messages[i]
		}
	}
	return nil
}

// use sets e's kind from m; it reports false for a line at a level status-go
// never writes m at (a warning that merely names it).
func (m *message) use(e *Entry, level []byte) bool {
	if m == nil || loud(level) {
		return false
	}
	e.Kind, e.Legacy = m.kind, m.legacy
	return true
}

// loud reports a level above INFO in any format's spelling: status-go writes
// every line the audit reads at DEBUG or INFO, so a WARN or ERROR line that
// starts with one of their texts ("connection changed" inside "could not
// write on connection changed channel" is not, but others may be) is another
// message.
func loud(level []byte) bool {
	if len(level) == 0 {
		return false
	}
	switch level[0] | 0x20 {
	case 'w', 'e', 'c', 'f', 'p':
		return true
	case 'd':
		// DEBUG, dbug — but DPANIC is zap's.
		return len(level) > 1 && level[1]|0x20 == 'p'
	}
	return false
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
	// Legacy: the line has a message name of releases before 2024-02-27,
	// which name neither recipient nor type (not counted as Incomplete).
	Legacy bool
	// Incomplete names the fields a usable entry lacks (a truncated line).
	Incomplete string
}

// Parser reads lines. It keeps the year of geth's timestamps, which carry
// none, so one Parser reads one stream; it is not safe for concurrent use.
type Parser struct {
	year      int
	lastMonth int
	// end, when set, is when the stream was last written: the year of its
	// first geth timestamp is end's, or the one before when that
	// timestamp's day falls after end's.
	end     time.Time
	scratch []byte
}

// NewParser returns a parser for a stream whose geth timestamps (which have
// no year) start in year; the year advances when the month wraps around.
func NewParser(year int) *Parser {
	return &Parser{year: year}
}

// NewParserEndingAt returns a parser for a stream last written at end (a
// log file's modification time): its first geth timestamp is taken to be
// the latest date on or before end's day, and later ones follow it.
func NewParserEndingAt(end time.Time) *Parser {
	end = end.UTC()
	return &Parser{year: end.Year(), end: end}
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
	line = stripLineNumber(line)
	start, f := detect(line)
	if f == FormatUnknown {
		return NotLog, nil
	}
	e.Format = f
	e.Source = trimSource(line[:start])
	body := line[start:]
	var res Result
	var err error
	switch f {
	case Geth:
		res, err = p.parseGeth(body, e)
	case ZapConsole:
		res, err = parseConsole(body, e)
	case Logfmt:
		res, err = parseLogfmt(body, e)
	default:
		res, err = parseJSON(body, e)
	}
	if e.Kind == Received && (res != Relevant || err != nil) {
		// "processing message" lines whose id is not a message id (the
		// imported-archive path logs a transport id): nothing to read, and
		// nothing wrong.
		e.Kind, e.MessageID = Other, ""
		return OtherLine, nil
	}
	return res, err
}

// stripLineNumber removes the line number an editor or `cat -n` put before
// an entry ("  12\t", "12: ", "12 | "), when what follows is an entry. A
// number alone is never a process label: docker compose and collectors
// label lines with names.
func stripLineNumber(line []byte) []byte {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	j := i
	for j < len(line) && j-i < 10 && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	if j == i || j >= len(line) {
		return line
	}
	switch line[j] {
	case ':', '|', ' ', '\t':
	default:
		return line
	}
	k := j + 1
	for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '|' || line[k] == ':') {
		k++
	}
	rest := line[k:]
	if _, f := detect(rest); f == FormatUnknown {
		return line
	}
	return rest
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
	case c == 't':
		if len(b) > 2 && b[1] == '=' && isoDate(b[2:]) {
			return Logfmt
		}
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
		case e.Legacy:
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
	case DatasyncAck, Received:
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
