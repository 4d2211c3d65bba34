package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// checkKeys walks the JSON document and reports the first key that the
// schema does not allow, with its line and column. encoding/json's own
// DisallowUnknownFields names neither the object the key is in nor where it
// is, which is the first thing a user needs.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return describeJSONError(data, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("the configuration must be a JSON object")
	}
	return walkObject(dec, data, "")
}

// walkObject consumes the members of an object whose '{' was just read.
func walkObject(dec *json.Decoder, data []byte, path string) error {
	allowed, known := schema[path]
	for dec.More() {
		offset := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError(data, err)
		}
		key, _ := tok.(string)
		if known && !contains(allowed, "*") && !contains(allowed, key) {
			line, col := lineCol(data, offset)
			where := "at the top level"
			if path != "" {
				where = "in " + strings.TrimSuffix(path, "[]")
			}
			msg := fmt.Sprintf("line %d:%d: unknown key %q %s (want one of %s)", line, col, key, where, strings.Join(allowed, ", "))
			if near := closest(key, allowed); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			return errors.New(msg)
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		if contains(allowed, "*") {
			child = path + ".*"
		}
		if err := walkValue(dec, data, child); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing '}'
	if err != nil {
		return describeJSONError(data, err)
	}
	return nil
}

func walkValue(dec *json.Decoder, data []byte, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return describeJSONError(data, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return walkObject(dec, data, path)
	case '[':
		for dec.More() {
			if err := walkValue(dec, data, path+"[]"); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return describeJSONError(data, err)
		}
	}
	return nil
}

// describeJSONError turns encoding/json's byte offsets into line:column.
func describeJSONError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line, col := lineCol(data, syntax.Offset)
		return fmt.Errorf("line %d:%d: invalid JSON: %v", line, col, syntax)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("line %d:%d: %s must be %s, not %s", line, col, field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("invalid JSON: the file ends before the configuration object is complete")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	case "string":
		return "a string"
	case "int", "int64", "uint8":
		return "a number"
	}
	return "a " + goKind
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	// InputOffset points at the separator before a key; step over it and
	// over whitespace so the column lands on the key itself.
	rest := data[offset:]
	for len(rest) > 0 && (rest[0] == ',' || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n') {
		if rest[0] == '\n' {
			line++
			col = 0
		}
		col++
		rest = rest[1:]
	}
	return line, col
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest returns the allowed key nearest to key when it is a likely typo.
func closest(key string, allowed []string) string {
	best, bestDist := "", max(3, len(key)/3+1)
	for _, a := range allowed {
		if a == "*" {
			continue
		}
		k, c := strings.ToLower(key), strings.ToLower(a)
		if len(c) > 3 && (strings.HasPrefix(k, c) || strings.HasPrefix(c, k)) {
			return a
		}
		if d := editDistance(k, c); d < bestDist {
			best, bestDist = a, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
