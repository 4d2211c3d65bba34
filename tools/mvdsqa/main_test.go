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
	if code := run([]string{"demo", "-messages", "5"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"attempts counted while offline", "deleted silently", "reported by the hook"} {
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
