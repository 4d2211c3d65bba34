package netfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace this package makes:
// mvdsqa-<pid of the runner>-<lab>-<host>. The pid lets a later run tell a
// leftover (its runner is gone) from a lab in use.
const Prefix = "mvdsqa-"

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// cmdTimeout bounds one ip, tc, nft or iptables invocation.
const cmdTimeout = 20 * time.Second

// command runs one of the network tools and returns its error with the
// command line and what the tool said.
func command(ctx context.Context, stdin string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// addNetns makes a named namespace with its loopback up.
func addNetns(ctx context.Context, name string) error {
	if err := command(ctx, "", "ip", "netns", "add", name); err != nil {
		return err
	}
	return command(ctx, "", "ip", "-n", name, "link", "set", "lo", "up")
}

// delNetns kills every process still in a namespace (a node the runner
// could not stop), then removes it.
func delNetns(ctx context.Context, name string) error {
	killIn(name)
	if err := command(ctx, "", "ip", "netns", "del", name); err != nil {
		if _, statErr := os.Stat(filepath.Join(netnsDir, name)); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

// killIn SIGKILLs the processes whose network namespace is name's. It reads
// /proc itself rather than trusting `ip netns pids`, which needs the same.
func killIn(name string) {
	var target unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &target); err != nil {
		return
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns/net"), &st) != nil {
			continue
		}
		if st.Ino == target.Ino && st.Dev == target.Dev {
			_ = syscall.Kill(pid, syscall.SIGCONT) // a frozen process dies only once continued
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

var leftoverName = regexp.MustCompile(`^` + regexp.QuoteMeta(Prefix) + `(\d+)-`)

// Sweep removes the namespaces — and the processes in them — that runs
// left behind: those named by this package whose runner's pid is no longer
// alive. A lab of a runner that still runs is left alone. It returns the
// names it removed.
func Sweep(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep leftovers: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		m := leftoverName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if alive(pid) {
			continue
		}
		if err := delNetns(ctx, e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// alive reports whether a process runs with that pid. A pid reused by an
// unrelated process keeps a leftover until that process ends: harmless.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// inNetns runs fn on an OS thread that has entered the named namespace.
// Sockets fn creates belong to that namespace for good; the thread goes
// back to the runner's namespace afterwards (or, if it cannot, is retired
// with its goroutine so no other code ever runs in the wrong namespace).
func inNetns[T any](name string, fn func() (T, error)) (T, error) {
	var zero T
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("netns %s: %w", name, err)
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join(netnsDir, name))
	if err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("enter netns %s: %w", name, err)
	}
	v, err := fn()
	if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return v, err
}

// dialIn dials from inside the named namespace: how the runner reaches a
// node's API on that namespace's loopback, out of reach of every fault.
func dialIn(ctx context.Context, name, network, addr string) (net.Conn, error) {
	return inNetns(name, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
}
