package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteSectionTouchesOnlyItsOwnMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	before := "# Benchmarks\n\n<!-- engine:begin -->\nengine\n<!-- engine:end -->\n\n<!-- audit:begin -->\naudit\n<!-- audit:end -->\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSection(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n<!-- engine:begin -->\nengine\n<!-- engine:end -->\n\n<!-- runtime:begin -->\nfirst\n<!-- runtime:end -->\n\n<!-- audit:begin -->\naudit\n<!-- audit:end -->\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Fatalf("inserted:\n%s\nwant:\n%s", got, want)
	}
	if err := writeSection(path, "second\n"); err != nil {
		t.Fatal(err)
	}
	want = "# Benchmarks\n\n<!-- engine:begin -->\nengine\n<!-- engine:end -->\n\n<!-- runtime:begin -->\nsecond\n<!-- runtime:end -->\n\n<!-- audit:begin -->\naudit\n<!-- audit:end -->\n"
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Fatalf("replaced:\n%s\nwant:\n%s", got, want)
	}
	os.WriteFile(path, []byte("<!-- runtime:end -->\n<!-- runtime:begin -->\n"), 0o644)
	if err := writeSection(path, "x\n"); err == nil {
		t.Fatal("markers out of order were accepted")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "0.5GiB": 1 << 29, "4096": 4096} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "big", "-1MiB", "0"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
