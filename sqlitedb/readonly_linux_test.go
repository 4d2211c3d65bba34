package sqlitedb_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// makeReadOnly makes dir unwritable for this process. Root ignores mode
// bits, so as root the directory is marked immutable instead.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsImmutable))
	}
	if err != nil {
		t.Skipf("running as root on a file system without the immutable flag (%v): cannot make a directory unwritable", err)
	}
	t.Cleanup(func() {
		g, err := os.Open(dir)
		if err != nil {
			t.Error(err)
			return
		}
		defer g.Close()
		if err := unix.IoctlSetPointerInt(int(g.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
			t.Errorf("restore flags of %s: %v", dir, err)
		}
	})
}

// fsImmutable is FS_IMMUTABLE_FL from linux/fs.h (chattr +i).
const fsImmutable = 0x00000010
