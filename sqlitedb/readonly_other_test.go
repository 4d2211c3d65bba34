//go:build !linux

package sqlitedb_test

import (
	"os"
	"runtime"
	"testing"
)

// makeReadOnly makes dir unwritable where mode bits are enough; elsewhere
// (Windows ignores them for directories) the test is skipped.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("cannot make a directory unwritable for this process here")
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
}
