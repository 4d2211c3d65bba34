package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The status-go flags refuse what cannot run, naming the flag.
func TestStatusGoUsageErrors(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "status-backend")
	if err := os.WriteFile(plain, []byte("not a program"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"status-go without binary": {[]string{"run", "-variant", "status-go", suite}, "-variant status-go needs -status-backend"},
		"all without binary":       {[]string{"run", "-variant", "all", suite}, "-variant all needs -status-backend"},
		"not executable":           {[]string{"run", "-status-backend", plain, suite}, plain + " is not an executable file"},
		"missing binary":           {[]string{"run", "-status-backend", "/nonexistent/status-backend", suite}, "is not an executable file"},
		"guarded alone":            {[]string{"run", "-status-backend", "/bin/true", "-status-backend-guarded", "/bin/true", suite}, "-status-backend-guarded is a column of -variant all"},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", name, code, errOut.String(), c.want)
		}
	}
}
