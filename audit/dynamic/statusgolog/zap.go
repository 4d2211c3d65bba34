package statusgolog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// parseConsole reads zap's console encoding: time, level, then the logger
// name and the caller when present, the message, and a JSON object of
// fields, separated by tabs.
func parseConsole(b []byte, e *Entry) (Result, error) {
	t, n, ok := isoTime(b)
	if !ok || n >= len(b) || b[n] != '\t' {
		return NotLog, nil
	}
	e.Time = t
	rest := b[n+1:]
	// Level: one word.
	tab := bytes.IndexByte(rest, '\t')
	if tab <= 0 {
		// A line with a level and nothing else is still zap's.
		if len(rest) > 0 && len(rest) <= 6 {
			return OtherLine, nil
		}
		return NotLog, nil
	}
	level := rest[:tab]
	rest = rest[tab+1:]
	// Up to three fields before the message (name, caller, function); the
	// message is the first one that matches, the context the one that
	// starts with '{'.
	var ctx []byte
	var m *message
	for i := 0; i < 5 && len(rest) > 0 && m == nil; i++ {
		field := rest
		tab := bytes.IndexByte(rest, '\t')
		if tab >= 0 {
			field, rest = rest[:tab], rest[tab+1:]
		} else {
			rest = nil
		}
		if len(field) > 0 && field[0] == '{' {
			break
		}
		m = matchExact(field)
	}
	if !m.use(e, level) {
		return OtherLine, nil
	}
	if len(rest) > 0 && rest[0] == '{' {
		ctx = rest
		if tab := bytes.IndexByte(ctx, '\t'); tab >= 0 {
			ctx = ctx[:tab]
		}
	}
	var f fields
	if len(ctx) > 0 {
		if err := jsonFields(ctx, e, &f); err != nil {
			return Relevant, err
		}
	}
	return Relevant, finish(e, &f)
}

// Keys of zap's production and development encoder configurations.
var (
	keyMsg      = []byte(`"msg":`)
	keyMsgDev   = []byte(`"M":`)
	keyTS       = []byte(`"ts":`)
	keyTimeDev  = []byte(`"T":`)
	keyLevel    = []byte(`"level":`)
	keyLevelDev = []byte(`"L":`)
)

// parseJSON reads zap's JSON encoding. Most lines are dismissed by looking
// only at the message and time; the lines the audit reads are decoded in
// full.
func parseJSON(b []byte, e *Entry) (Result, error) {
	msg, ok := stringValue(b, keyMsg)
	if !ok {
		if msg, ok = stringValue(b, keyMsgDev); !ok {
			return NotLog, nil
		}
	}
	t, ok := jsonTime(b)
	if !ok {
		return NotLog, nil
	}
	e.Time = t
	if bytes.IndexByte(msg, '\\') >= 0 {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, msg...), '"'), &s) != nil {
			return OtherLine, nil
		}
		msg = []byte(s)
	}
	level, ok := stringValue(b, keyLevel)
	if !ok {
		level, _ = stringValue(b, keyLevelDev)
	}
	if !matchExact(msg).use(e, level) {
		return OtherLine, nil
	}
	var f fields
	if err := jsonFields(b, e, &f); err != nil {
		return Relevant, err
	}
	return Relevant, finish(e, &f)
}

// stringValue finds `key` followed by a JSON string and returns the string's
// raw bytes (escapes not decoded). It is a fast path: a key inside a nested
// value could match, which the full decode of lines of interest corrects.
func stringValue(b, key []byte) ([]byte, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil, false
	}
	v := b[i+len(key):]
	for len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	if len(v) == 0 || v[0] != '"' {
		return nil, false
	}
	for j := 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return v[1:j], true
		}
	}
	return nil, false
}

// jsonTime reads "ts" (a number of seconds, or an ISO 8601 string) or "T".
func jsonTime(b []byte) (time.Time, bool) {
	for _, key := range [][]byte{keyTS, keyTimeDev} {
		i := bytes.Index(b, key)
		if i < 0 {
			continue
		}
		v := b[i+len(key):]
		for len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		if len(v) > 0 && v[0] == '"' {
			t, _, ok := isoTime(v[1:])
			return t, ok
		}
		end := 0
		for end < len(v) && (v[end] >= '0' && v[end] <= '9' || v[end] == '.' || v[end] == 'e' || v[end] == 'E' || v[end] == '+' || v[end] == '-') {
			end++
		}
		return epochTime(v[:end])
	}
	return time.Time{}, false
}

// jsonLine is what the audit reads from a JSON object of fields. Values whose
// type changed across releases stay raw.
type jsonLine struct {
	MessageID   *string         `json:"messageID"`
	MessageID2  *string         `json:"message-id"`
	ContentType json.RawMessage `json:"contentType"`
	Recipient   json.RawMessage `json:"recipient"`
	MessageIDs  json.RawMessage `json:"messageIDs"`
	Online      *bool           `json:"online"`
	Force       *bool           `json:"force"`
}

func jsonFields(b []byte, e *Entry, f *fields) error {
	var l jsonLine
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%w: fields are not a JSON object: %v (truncated line?)", ErrBadField, err)
	}
	if l.MessageID != nil && e.Kind != Received {
		f.messageID, f.haveID = *l.MessageID, true
	}
	if l.MessageID2 != nil && e.Kind == Received {
		f.messageID, f.haveID = *l.MessageID2, true
	}
	if len(l.ContentType) > 0 && string(l.ContentType) != "null" {
		// A Stringer enum is logged by name; a plain number by value.
		var s string
		if json.Unmarshal(l.ContentType, &s) == nil {
			f.contentType = s
		} else {
			f.contentType = string(l.ContentType)
		}
		f.haveType = true
	}
	if len(l.Recipient) > 0 {
		f.haveRecipient = true
		var one string
		var many []string
		switch {
		case string(l.Recipient) == "null":
		case json.Unmarshal(l.Recipient, &one) == nil:
			e.Recipients = append(e.Recipients, one)
		case json.Unmarshal(l.Recipient, &many) == nil:
			e.Recipients = append(e.Recipients, many...)
		default:
			return fmt.Errorf("%w %q: %s is neither a key nor a list of keys", ErrBadField, "recipient", quoteShort(string(l.Recipient)))
		}
	}
	if len(l.MessageIDs) > 0 {
		var ids []string
		if string(l.MessageIDs) != "null" && json.Unmarshal(l.MessageIDs, &ids) != nil {
			return fmt.Errorf("%w %q: %s is not a list of ids", ErrBadField, "messageIDs", quoteShort(string(l.MessageIDs)))
		}
		f.haveIDs = true
		e.MessageIDs = append(e.MessageIDs, ids...)
	}
	if l.Online != nil {
		f.online, f.haveOnline = *l.Online, true
	}
	if l.Force != nil {
		f.force, f.haveForce = *l.Force, true
	}
	return nil
}
