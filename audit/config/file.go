package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Version is the only configuration format version this package reads.
const Version = 1

// Error is one problem of a configuration file.
type Error struct {
	// File is the file's name as it was given.
	File string
	// Line and Column are 1-based; Column counts bytes.
	Line, Column int
	// Key is the dotted path of the key the problem is in, such as
	// "flows.types.CHAT_MESSAGE" or "sendFunctions.add[0].as"; empty for
	// the file as a whole.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line:column: key: what is wrong".
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Key, e.Msg)
}

// maxDepth bounds nesting. The deepest value of either format is three
// levels down (sendFunctions.add[0].as); a file nested far deeper is not a
// configuration, and reading it would only cost stack.
const maxDepth = 16

// maxErrors is how many problems of one file are reported; past it the
// file is not a configuration worth listing every problem of.
const maxErrors = 20

// kind is the JSON kind of a value.
type kind uint8

const (
	kindObject kind = iota + 1
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

func (k kind) String() string {
	switch k {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "true or false"
	}
	return "null"
}

// node is one JSON value with where it starts in the file; the parser keeps
// positions so that every problem, even one found after decoding, can say
// where it is.
type node struct {
	off     int64
	kind    kind
	members []member // object members, in file order
	items   []*node  // array items
	text    string   // a string's value, a number's literal
}

type member struct {
	key string
	off int64 // where the key starts
	val *node
}

// file is a configuration file being read: its name, its bytes, and the
// problems found so far.
type file struct {
	name    string
	data    []byte
	errs    []*Error
	dropped int // problems past maxErrors
	// where maps each key path seen to the position of its value, for
	// problems found once the whole file has been applied.
	where map[string]int64
}

// readFile reads the file at path; the error names it.
func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return data, nil
}

func newFile(name string, data []byte) *file {
	if name == "" {
		name = "configuration"
	}
	return &file{name: name, data: data, where: map[string]int64{}}
}

// err returns every problem found, in file order, or nil.
func (f *file) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(f.errs, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	errs := make([]error, len(f.errs))
	for i, e := range f.errs {
		errs[i] = e
	}
	if f.dropped > 0 {
		errs = append(errs, fmt.Errorf("%s: %d more problems not listed", f.name, f.dropped))
	}
	return errors.Join(errs...)
}

// errorf records a problem at byte offset off.
func (f *file) errorf(off int64, key, format string, args ...any) {
	if len(f.errs) >= maxErrors {
		f.dropped++
		return
	}
	line, col := f.lineCol(off)
	f.errs = append(f.errs, &Error{File: f.name, Line: line, Column: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// parse reads the whole file into a tree. It returns nil, with the problem
// recorded, when the file is not one JSON object.
func (f *file) parse() *node {
	dec := json.NewDecoder(bytes.NewReader(f.data))
	dec.UseNumber()
	root, err := f.value(dec, 0)
	if err != nil {
		f.syntax(err, len(bytes.TrimSpace(f.data)) == 0)
		return nil
	}
	if root.kind != kindObject {
		f.errorf(root.off, "", "the configuration must be a JSON object, not %s", root.kind)
		return nil
	}
	off := f.skip(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		f.errorf(off, "", "unexpected data after the configuration object")
		return nil
	}
	return root
}

// depthError is returned for a file nested deeper than maxDepth.
type depthError struct{ off int64 }

func (e depthError) Error() string { return "nested too deeply" }

func (f *file) value(dec *json.Decoder, depth int) (*node, error) {
	n := &node{off: f.skip(dec.InputOffset())}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, depthError{n.off}
		}
		if t == '{' {
			n.kind = kindObject
			for dec.More() {
				off := f.skip(dec.InputOffset())
				tok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := tok.(string)
				if !ok { // the decoder allows only strings here
					return nil, fmt.Errorf("an object key is %v, not a string", tok)
				}
				val, err := f.value(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, off: off, val: val})
			}
		} else {
			n.kind = kindArray
			for dec.More() {
				item, err := f.value(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, item)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing '}' or ']'
			return nil, err
		}
	case string:
		n.kind, n.text = kindString, t
	case json.Number:
		n.kind, n.text = kindNumber, t.String()
	case bool:
		n.kind = kindBool
	default:
		n.kind = kindNull
	}
	return n, nil
}

// syntax records why the file could not be read as JSON.
func (f *file) syntax(err error, empty bool) {
	var syn *json.SyntaxError
	var deep depthError
	switch {
	case empty:
		f.errorf(0, "", "the file is empty; want a JSON object such as {\"version\": %d}", Version)
	case errors.As(err, &syn):
		f.errorf(syn.Offset, "", "invalid JSON: %v", syn)
	case errors.As(err, &deep):
		f.errorf(deep.off, "", "nested more than %d levels deep; this is not a configuration", maxDepth)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		f.errorf(int64(len(f.data)), "", "invalid JSON: the file ends before the configuration object is complete")
	default:
		f.errorf(0, "", "invalid JSON: %v", err)
	}
}

// skip returns the offset of the next token at or after off: the decoder
// reports where the previous token ended, before any separator.
func (f *file) skip(off int64) int64 {
	for off < int64(len(f.data)) {
		switch f.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// lineCol converts a byte offset into a 1-based line and column.
func (f *file) lineCol(off int64) (int, int) {
	off = min(max(off, 0), int64(len(f.data)))
	before := f.data[:off]
	return bytes.Count(before, []byte("\n")) + 1, int(off) - bytes.LastIndexByte(before, '\n')
}

// keys lists the keys one object of a format may hold. Foreign lists the
// keys that belong to the other audit's format at the same place, so that
// a key given to the wrong audit is named as such.
type keys struct {
	allowed []string
	foreign []string
	// other names the audit whose format holds the foreign keys.
	other string
}

// object checks that n is an object whose keys are all in ks and calls fn
// for each member, in file order. A key given twice is a problem: JSON
// leaves it to the reader which one counts.
func (f *file) object(n *node, path string, ks keys, fn func(key string, val *node, path string)) {
	f.entries(n, path, func(key string, m member, p string) {
		if !slices.Contains(ks.allowed, key) {
			f.unknownKey(m, path, ks)
			return
		}
		fn(key, m.val, p)
	})
}

// entries checks that n is an object and calls fn for each member, with
// free keys (message type names, rule ids).
func (f *file) entries(n *node, path string, fn func(key string, m member, path string)) {
	if !f.is(n, path, kindObject) {
		return
	}
	first := map[string]int64{}
	for _, m := range n.members {
		p := join(path, m.key)
		if off, dup := first[m.key]; dup {
			line, _ := f.lineCol(off)
			f.errorf(m.off, p, "given twice (first on line %d)", line)
			continue
		}
		first[m.key] = m.off
		f.where[p] = m.val.off
		fn(m.key, m, p)
	}
}

func (f *file) unknownKey(m member, path string, ks keys) {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	if slices.Contains(ks.foreign, m.key) {
		f.errorf(m.off, "", "key %q %s belongs to the %s audit's configuration (want one of %s)", m.key, where, ks.other, strings.Join(ks.allowed, ", "))
		return
	}
	msg := fmt.Sprintf("unknown key %q %s (want one of %s)", m.key, where, strings.Join(ks.allowed, ", "))
	if near := closest(m.key, ks.allowed); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	f.errorf(m.off, "", "%s", msg)
}

// is reports whether n is of kind k, and records a problem if not.
func (f *file) is(n *node, path string, k kind) bool {
	if n.kind == k {
		return true
	}
	f.errorf(n.off, path, "want %s, not %s", k, n.kind)
	return false
}

// str returns a string value.
func (f *file) str(n *node, path string) (string, bool) {
	return n.text, f.is(n, path, kindString)
}

// integer returns a whole number.
func (f *file) integer(n *node, path string) (int, bool) {
	if !f.is(n, path, kindNumber) {
		return 0, false
	}
	v, err := strconv.Atoi(n.text)
	if err != nil {
		f.errorf(n.off, path, "want a whole number, not %s", n.text)
		return 0, false
	}
	return v, true
}

// strs calls fn for each string of an array.
func (f *file) strs(n *node, path string, fn func(s string, off int64, path string)) {
	f.items(n, path, func(item *node, p string) {
		if s, ok := f.str(item, p); ok {
			fn(s, item.off, p)
		}
	})
}

// items calls fn for each item of an array.
func (f *file) items(n *node, path string, fn func(item *node, path string)) {
	if !f.is(n, path, kindArray) {
		return
	}
	for i, item := range n.items {
		fn(item, fmt.Sprintf("%s[%d]", path, i))
	}
}

// version checks the format version. A file of another version is not
// read further: its keys would only be reported as unknown.
func (f *file) version(root *node, required bool) bool {
	for _, m := range root.members {
		if m.key != "version" {
			continue
		}
		v, ok := f.integer(m.val, "version")
		if !ok {
			return false
		}
		if v != Version {
			f.errorf(m.val.off, "version", "this mvdsaudit reads version %d, not %d", Version, v)
			return false
		}
		return true
	}
	if required {
		f.errorf(root.off, "version", "missing; add \"version\": %d", Version)
		return false
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// closest returns the allowed key nearest to key when it is a likely typo.
func closest(key string, allowed []string) string {
	best, bestDist := "", max(3, len(key)/3+1)
	for _, a := range allowed {
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
