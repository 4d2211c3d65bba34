package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDemoRunsAndMeetsItsExpectations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every demo scenario")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"demo", "-messages", "20"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"attempts counted while offline", "deleted silently, nobody told", "failed, reported (retry button)", "still retrying"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":      nil,
		"unknown command": {"fly"},
		"bad flag":        {"demo", "-nope"},
		"bad epoch":       {"demo", "-epoch", "0s"},
		"too many msgs":   {"demo", "-messages", "100000"},
		"extra argument":  {"demo", "now"},
		"bad outage":      {"outage", "-outages", "1m,soon"},
		"outage too long": {"outage", "-outages", "2000h"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%s: exit %d; want 2", name, code)
		}
		if errOut.Len() == 0 {
			t.Errorf("%s: nothing on stderr", name)
		}
	}
}

func TestOutageMatrixOfAShortOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the outage scenario")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"outage", "-messages", "50", "-outages", "1m"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 min") || !strings.Contains(out.String(), "guarded/stock") {
		t.Fatalf("output:\n%s", out.String())
	}
}
