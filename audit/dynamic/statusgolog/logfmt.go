package statusgolog

import (
	"bytes"
	"strconv"
)

// parseLogfmt reads geth's logfmt format, which status-go's desktop builds
// wrote in 2023:
//
//	t=2023-05-12T19:47:09+0200 lvl=dbug msg="sent private messages" messageIDs=[0x…] hash=0x…
//
// t, lvl and msg come first; the fields follow with geth's quoting, as in
// its terminal format.
func parseLogfmt(b []byte, e *Entry) (Result, error) {
	t, n, ok := isoTime(b[2:])
	if !ok || 2+n < len(b) && b[2+n] != ' ' {
		return NotLog, nil
	}
	e.Time = t
	rest := b[2+n:]
	var level, msg []byte
	haveMsg := false
	for i := 0; i < 2 && !haveMsg; i++ {
		rest = bytes.TrimLeft(rest, " ")
		key, val, quoted, after, ok := logfmtPair(rest)
		if !ok {
			// A line cut after its time is still logfmt.
			return OtherLine, nil
		}
		rest = after
		if quoted {
			if bytes.IndexByte(val, '\\') >= 0 {
				s, err := strconv.Unquote(string(val))
				if err != nil {
					return OtherLine, nil
				}
				val = []byte(s)
			} else {
				val = val[1 : len(val)-1]
			}
		}
		switch string(key) {
		case "lvl", "level":
			level = val
		case "msg":
			msg, haveMsg = val, true
		}
	}
	if !haveMsg || !matchExact(msg).use(e, level) {
		return OtherLine, nil
	}
	var f fields
	if err := gethFields(rest, e, &f); err != nil {
		return Relevant, err
	}
	return Relevant, finish(e, &f)
}

// logfmtPair reads key=value at the start of b: the value raw (with its
// quotes, quoted set) and what follows it.
func logfmtPair(b []byte) (key, val []byte, quoted bool, rest []byte, ok bool) {
	eq := bytes.IndexByte(b, '=')
	if eq <= 0 || bytes.IndexByte(b[:eq], ' ') >= 0 {
		return nil, nil, false, nil, false
	}
	key, b = b[:eq], b[eq+1:]
	if len(b) > 0 && b[0] == '"' {
		end := closingQuote(b)
		if end < 0 {
			return nil, nil, false, nil, false
		}
		return key, b[:end+1], true, b[end+1:], true
	}
	if sp := bytes.IndexByte(b, ' '); sp >= 0 {
		return key, b[:sp], false, b[sp:], true
	}
	return key, b, false, nil, true
}
