// Package benchdoc rewrites one section of docs/benchmarks.md. Each part of
// the project owns the text between its markers,
//
//	<!-- name:begin -->
//	...
//	<!-- name:end -->
//
// and a benchmark program replaces that text with its fresh results, leaving
// every other byte of the file as it was.
package benchdoc

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Markers returns the begin and end markers of the section called name.
func Markers(name string) (begin, end string) {
	return "<!-- " + name + ":begin -->", "<!-- " + name + ":end -->"
}

// WriteSection replaces the text of section name in the file at path with
// text. A file without the section gets it before the section named before
// if that exists, else at the end; a missing file is created with a title
// and the section. A file with only one of the two markers, or with them
// in the wrong order, is an error and is left untouched.
func WriteSection(path, name, before, text string) error {
	if name == "" || strings.ContainsAny(name, " \n>") {
		return fmt.Errorf("benchmark section name %q: want a word", name)
	}
	begin, end := Markers(name)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data = []byte("# Benchmarks\n")
	} else if err != nil {
		return fmt.Errorf("benchmark results: %w", err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i+len(begin)] + "\n" + text + s[j:]
	case i < 0 && j < 0:
		block := begin + "\n" + text + end + "\n"
		next, _ := Markers(before)
		if k := strings.Index(s, next); before != "" && k >= 0 {
			s = s[:k] + block + "\n" + s[k:]
		} else {
			s = strings.TrimRight(s, "\n") + "\n\n" + block
		}
	default:
		return fmt.Errorf("%s: the %s ... %s section is broken (one marker missing or out of order); fix it by hand", path, begin, end)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("benchmark results: %w", err)
	}
	return nil
}

// LoadAverage is the one-minute load average ("unknown" where the system
// does not say), printed before and after a run so that readers can tell
// whether other work shared the cores.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
