package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// programLimit bounds building the program (SQLCipher is C, compiled once
// per build cache) and running it.
const programLimit = 10 * time.Minute

func TestProgramExitsZeroAndSaysWhatHappened(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program with cgo (SQLCipher) and runs it; the in-process tests cover the same steps")
	}
	ctx, cancel := context.WithTimeout(context.Background(), programLimit)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "statusgo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin)
	if raceEnabled() {
		// The same build as this test's, so that the C code compiles once.
		build.Args = append(build.Args, "-race")
	}
	build.Args = append(build.Args, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(build.Args, " "), err, out)
	}

	cmd := exec.CommandContext(ctx, bin, "-dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("statusgo exited %d:\n%s\nstderr:\n%s", exit.ExitCode(), stdout.String(), stderr.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`adopted with mvds.FromSQL`,
		`delivered: "hello"`,
		`failed: "while-away" after 3 attempts`,
		`delivered after Retry: "while-away"`,
		`mvds's own migrations find nothing to do`,
		`on disk: sender.db does not begin with "SQLite format 3"`,
		`on disk: recipient.db does not begin with "SQLite format 3"`,
		`ok: `,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	t.Logf("statusgo:\n%s", stdout.String())
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
