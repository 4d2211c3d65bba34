package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseFlags parses a (sub)command's arguments, its usage being text and
// then the flags' defaults. When ok is false the command returns code: 0
// for -h, 2 for a bad flag (which fs has reported).
func parseFlags(fs *flag.FlagSet, args []string, text string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, text)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitClean, false
		}
		return exitFailure, false
	}
	return 0, true
}

// checkFormat refuses a -format value outside allowed.
func checkFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	want := allowed[len(allowed)-1]
	if len(allowed) > 1 {
		want = strings.Join(allowed[:len(allowed)-1], ", ") + " or " + want
	}
	return fmt.Errorf("unknown -format %q (want %s)", format, want)
}
