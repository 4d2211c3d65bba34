// Package baseline lets a code base adopt the static audit without fixing
// every existing finding first: a baseline file records the findings that
// exist today, and later runs fail only on findings that are not in it.
//
// A finding is matched by its rule, file, function and message, not by its
// line, so that edits elsewhere in a file do not turn old findings into new
// ones; positions quoted inside a message are ignored for the same reason.
// Identical findings are counted, so a second copy of a known problem is new.
//
// This package knows the shape of a finding; it must not know how findings
// are computed or printed.
package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Version is the baseline file format version.
const Version = 1

// Entry is one recorded finding.
type Entry struct {
	Rule     string `json:"rule"`
	File     string `json:"file"`
	Function string `json:"function,omitempty"`
	Message  string `json:"message"`
	// Count is how many identical findings are accepted (1 when omitted).
	Count int `json:"count,omitempty"`
}

// Baseline is the set of accepted findings.
type Baseline struct {
	Version int     `json:"version"`
	Entries []Entry `json:"findings"`
}

// Finding is what the baseline matches against.
type Finding struct {
	Rule     string
	File     string // slash-separated, relative to the audited root
	Function string
	Message  string
}

// positions look like "name.go:12:5"; they move with every edit.
var positions = regexp.MustCompile(`\.go:\d+:\d+`)

func (f Finding) key() string {
	return f.Rule + "\x00" + f.File + "\x00" + f.Function + "\x00" + positions.ReplaceAllString(f.Message, ".go")
}

func (e Entry) key() string {
	return Finding{Rule: e.Rule, File: e.File, Function: e.Function, Message: e.Message}.key()
}

// Read reads a baseline file.
func Read(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return b, nil
}

// Parse reads a baseline from data, rejecting unknown keys, unknown rules
// and entries without a file or message.
func Parse(data []byte) (*Baseline, error) {
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file; want a JSON object with \"version\" and \"findings\"")
		}
		return nil, fmt.Errorf("invalid baseline JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the baseline object")
	}
	if b.Version != Version {
		return nil, fmt.Errorf("version is %d; this mvdsaudit reads version %d", b.Version, Version)
	}
	for i, e := range b.Entries {
		if _, ok := rule.Static.Lookup(e.Rule); !ok {
			return nil, fmt.Errorf("findings[%d]: unknown rule %q", i, e.Rule)
		}
		if e.File == "" || e.Message == "" {
			return nil, fmt.Errorf("findings[%d]: file and message are required", i)
		}
		if e.Count < 0 {
			return nil, fmt.Errorf("findings[%d]: count %d is negative", i, e.Count)
		}
	}
	return &b, nil
}

// New records findings as a baseline.
func New(findings []Finding) *Baseline {
	counts := map[string]int{}
	first := map[string]Finding{}
	var order []string
	for _, f := range findings {
		k := f.key()
		if counts[k] == 0 {
			order = append(order, k)
			first[k] = f
		}
		counts[k]++
	}
	b := &Baseline{Version: Version, Entries: []Entry{}}
	for _, k := range order {
		f := first[k]
		e := Entry{Rule: f.Rule, File: f.File, Function: f.Function, Message: positions.ReplaceAllString(f.Message, ".go")}
		if counts[k] > 1 {
			e.Count = counts[k]
		}
		b.Entries = append(b.Entries, e)
	}
	sort.SliceStable(b.Entries, func(i, j int) bool {
		a, c := b.Entries[i], b.Entries[j]
		if a.File != c.File {
			return a.File < c.File
		}
		if a.Rule != c.Rule {
			return a.Rule < c.Rule
		}
		return a.Message < c.Message
	})
	return b
}

// Write writes the baseline as indented JSON.
func (b *Baseline) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// Filter splits findings into new ones and those the baseline accepts, and
// returns the entries no finding matched any more (fixed since).
func (b *Baseline) Filter(findings []Finding) (fresh, known []int, stale []Entry) {
	left := map[string]int{}
	for _, e := range b.Entries {
		n := e.Count
		if n == 0 {
			n = 1
		}
		left[e.key()] += n
	}
	for i, f := range findings {
		k := f.key()
		if left[k] > 0 {
			left[k]--
			known = append(known, i)
			continue
		}
		fresh = append(fresh, i)
	}
	for _, e := range b.Entries {
		if n := left[e.key()]; n > 0 {
			s := e
			s.Count = n
			left[e.key()] = 0
			stale = append(stale, s)
		}
	}
	return fresh, known, stale
}

// String describes an entry for messages.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Rule, e.File)
	if e.Function != "" {
		fmt.Fprintf(&b, " (%s)", e.Function)
	}
	fmt.Fprintf(&b, ": %s", e.Message)
	return b.String()
}
