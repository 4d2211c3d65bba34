package statusgolog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// parseGeth reads geth's terminal format with origins:
//
//	LEVEL[MM-DD|hh:mm:ss.mmm|caller]<padding> message<padding> k=v k=v
//
// and without origins ("LEVEL[MM-DD|hh:mm:ss.mmm] message ..."). The caller
// is padded to the longest caller the process printed so far, the message to
// 40 columns when fields follow.
func (p *Parser) parseGeth(b []byte, e *Entry) (Result, error) {
	t, ok := p.gethTime(b[6:24])
	if !ok {
		return NotLog, nil
	}
	var rest []byte
	switch b[24] {
	case ']':
		rest = b[25:]
	case '|':
		end := bytes.IndexByte(b[25:], ']')
		if end < 0 {
			return NotLog, nil
		}
		rest = b[25+end+1:]
	default:
		return NotLog, nil
	}
	e.Time = t
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	msg := rest[i:]
	m, n := matchPrefix(msg)
	if !m.use(e, b[:5]) {
		return OtherLine, nil
	}
	var f fields
	if err := gethFields(msg[n:], e, &f); err != nil {
		return Relevant, err
	}
	return Relevant, finish(e, &f)
}

var errUnterminated = errors.New("unterminated quoted value (truncated line?)")

// gethFields reads the key=value pairs geth writes after the message. A key
// runs to the next '=' (status-go uses keys with spaces); a value is either
// Go-quoted or runs to the next space.
func gethFields(b []byte, e *Entry, f *fields) error {
	var seen [8]string
	n := 0
	for {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil
		}
		eq := bytes.IndexByte(b, '=')
		if eq <= 0 {
			return fmt.Errorf("%w: %s after the message is not key=value (truncated line?)", ErrBadField, quoteShort(string(b)))
		}
		key := b[:eq]
		b = b[eq+1:]
		var raw []byte
		quoted := len(b) > 0 && b[0] == '"'
		if quoted {
			end := closingQuote(b)
			if end < 0 {
				return fmt.Errorf("%w %q: %w", ErrBadField, key, errUnterminated)
			}
			raw, b = b[:end+1], b[end+1:]
		} else if sp := bytes.IndexByte(b, ' '); sp >= 0 {
			raw, b = b[:sp], b[sp:]
		} else {
			raw, b = b, nil
		}
		if !wanted(e.Kind, key) {
			continue
		}
		for _, k := range seen[:n] {
			if k == string(key) {
				// Two writes ran together into one line: the second line's
				// value must not pass for the first's.
				return fmt.Errorf("%w %q: appears twice (two log lines run together?)", ErrBadField, key)
			}
		}
		if n < len(seen) {
			seen[n] = string(key)
			n++
		}
		val := string(raw)
		if quoted {
			s, err := strconv.Unquote(val)
			if err != nil {
				return fmt.Errorf("%w %q: bad quoted value %s", ErrBadField, key, quoteShort(val))
			}
			val = s
		}
		if err := setGeth(e, f, string(key), val); err != nil {
			return err
		}
	}
}

// closingQuote returns the index of the quote ending the Go string literal
// that starts at b[0], or -1.
func closingQuote(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// wanted reports whether key is read for kind; other keys are skipped
// without decoding.
func wanted(k Kind, key []byte) bool {
	switch string(key) {
	case "messageID":
		return k != DatasyncSent && k != ConnectionChanged && k != Received
	case "message-id":
		return k == Received
	case "recipient", "contentType":
		return k >= SentPrivate && k <= SentPublic
	case "messageIDs":
		return k == DatasyncSent
	case "online", "force":
		return k == ConnectionChanged
	}
	return false
}

func setGeth(e *Entry, f *fields, key, val string) error {
	switch key {
	case "messageID", "message-id":
		f.messageID, f.haveID = val, true
	case "contentType":
		f.contentType, f.haveType = val, true
	case "recipient":
		// One key (sendPrivate since mid 2024) or a list (the other lines,
		// and sendPrivate before): geth prints a []string as [a b].
		f.haveRecipient = true
		if ids, ok := gethList(val); ok {
			e.Recipients = append(e.Recipients, ids...)
		} else {
			e.Recipients = append(e.Recipients, val)
		}
	case "messageIDs":
		ids, ok := gethList(val)
		if !ok {
			return fmt.Errorf("%w %q: %s is not a list", ErrBadField, key, quoteShort(val))
		}
		f.haveIDs = true
		e.MessageIDs = append(e.MessageIDs, ids...)
	case "online":
		v, err := parseBool(key, val)
		if err != nil {
			return err
		}
		f.online, f.haveOnline = v, true
	case "force":
		v, err := parseBool(key, val)
		if err != nil {
			return err
		}
		f.force, f.haveForce = v, true
	}
	return nil
}

// gethList splits "[a b c]" (fmt's %+v of a []string).
func gethList(v string) ([]string, bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, false
	}
	return fieldsOf(v[1 : len(v)-1]), true
}

func fieldsOf(s string) []string {
	var out []string
	for len(s) > 0 {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if len(s) == 0 {
			break
		}
		end := 0
		for end < len(s) && s[end] != ' ' {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}
