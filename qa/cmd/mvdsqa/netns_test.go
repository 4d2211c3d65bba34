package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
)

const netemSuite = "../../../fixtures/scenarios/netem"

// needKernelFaults skips, saying why, where this machine cannot make kernel
// faults (CI runs as root with iproute2, nftables and iptables installed).
func needKernelFaults(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go-waku nodes in network namespaces")
	}
	if err := runner.NetnsCaps(context.Background()).Usable(); err != nil {
		if netfault.Required() {
			t.Fatalf("kernel faults cannot be made here and %s is set: %v", netfault.RequiredEnv, err)
		}
		t.Skipf("kernel faults cannot be made here: %v", err)
	}
}

// ourNamespaces lists the namespaces of runs whose runner had pid.
func ourNamespaces(t *testing.T, pid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("mvdsqa-%d-", pid)) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestTheNetemSuiteInTheKernel is `make demo-netem` in CI: the netem suite,
// stock and guarded side by side, every node in a namespace of its own, the
// faults made by the kernel — netem where it exists, the fallbacks where it
// does not. The guarded runs must meet every expectation; the table prints
// stock beside them and the report names each fault's mechanism.
func TestTheNetemSuiteInTheKernel(t *testing.T) {
	needKernelFaults(t)
	bin := buildMvdsqa(t)
	t.Setenv("TMPDIR", t.TempDir())
	var out, errOut bytes.Buffer
	code := run([]string{"demo", "-netns", "-sim=false", "-suite", netemSuite, "-slack", "2", "-node-binary", bin}, &out, &errOut)
	t.Logf("\n%s", out.String())
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	if !regexp.MustCompile(`scenarios with every expectation met\s+\d of 5\s+5 of 5`).MatchString(out.String()) {
		t.Errorf("summary row missing or wrong")
	}
	caps := runner.NetnsCaps(context.Background())
	want := []string{"link down — ip link set eth0 down", "paused for 20s — SIGSTOP, then SIGCONT"}
	if caps.Netem {
		want = append(want, "tc netem on its link")
	} else {
		want = append(want, "delay 1s ± 100ms — NFQUEUE delayer", "loss 50% — nftables numgen random drop", "rate 1kbit — tbf")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if left := ourNamespaces(t, os.Getpid()); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}

// TestAKilledRunnersLeftoversGoWithTheNextRun: a runner killed with SIGKILL
// mid-scenario cannot clean up; its namespaces stay. The next run removes
// them before it starts, and passes — through a link down, an address
// change, a partition and a latency, all made by the kernel.
func TestAKilledRunnersLeftoversGoWithTheNextRun(t *testing.T) {
	needKernelFaults(t)
	bin := buildMvdsqa(t)
	dir := t.TempDir()
	first, firstOut, exited := startLongRun(t, bin, dir, longScenario(t, dir))
	_ = first.Process.Signal(syscall.SIGKILL)
	<-exited
	left := ourNamespaces(t, first.Process.Pid)
	if len(left) != 3 { // the bridge and two hosts
		t.Fatalf("after SIGKILL: namespaces %v, want the bridge's and two hosts'\n%s", left, firstOut.String())
	}

	short := filepath.Join(dir, "short.yaml")
	if err := os.WriteFile(short, []byte(`name: short
nodes:
  a: {}
  b: {}
  c: {}
steps:
  - send: {from: a, to: b, id: m1, flow: one_to_one}
  - link_down: {node: b, for: 2s}
  - ip_change: b
  - send: {from: a, to: b, id: m2, flow: one_to_one}
  - partition: [a, c]
  - latency: {node: b, delay: 200ms}
  - wait: 2s
  - heal: all
expect:
  - delivered: {message: m1, within: 30s}
  - delivered: {message: m2, within: 30s}
  - no_duplicates: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"run", "-netns", "-node-binary", bin, "-slack", "2", short}, &out, &errOut); code != 0 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"removed 3 namespaces left by earlier runs",
		"ip_change b: address 10.213.0.", "its sockets on the old address aborted (ss -K)",
		"partition a–c: partition — nftables drop rules in both namespaces", "latency b (everything it receives): delay 200ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the second run's output lacks %q:\n%s", want, out.String())
		}
	}
	if left := ourNamespaces(t, first.Process.Pid); len(left) > 0 {
		t.Errorf("leftovers still there: %v", left)
	}
	if left := ourNamespaces(t, os.Getpid()); len(left) > 0 {
		t.Errorf("the second run left %v", left)
	}
}

// TestNetnsRefusesWhatCannotRun: without root -netns says so, with the
// scenario's file and line; a kernel step without -netns too. Nothing runs
// and nothing is left.
func TestNetnsRefusesWhatCannotRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mvdsqa")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(file, []byte("name: k\nnodes:\n  a: {}\n  b: {}\nsteps:\n  - wait: 1s\n  - netem: {node: a, loss: 5%}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"run", file}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), file+":7: netem: a kernel fault; run with -netns (as root)") {
		t.Errorf("without -netns: exit %d, stderr %q", code, errOut.String())
	}
	if os.Geteuid() != 0 {
		out.Reset()
		errOut.Reset()
		if code := run([]string{"run", "-netns", file}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), file+":7: -netns: needs root") {
			t.Errorf("-netns as uid %d: exit %d, stderr %q", os.Geteuid(), code, errOut.String())
		}
		return
	}
	// As root, run the command as nobody, from a directory nobody can read.
	bin := buildMvdsqa(t)
	open, err := os.MkdirTemp("", "mvdsqa-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(open, "mvdsqa")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	scen, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir, file = open, filepath.Join(open, "k.yaml")
	if err := os.WriteFile(file, scen, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-netns", file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = dir
	got, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("as nobody: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), file+":7: -netns: needs root (network namespaces, veth, qdiscs and packet filters need CAP_NET_ADMIN and CAP_SYS_ADMIN); running as uid 65534") {
		t.Errorf("as nobody:\n%s", got)
	}
	if left, _ := filepath.Glob("/run/netns/mvdsqa-*-probe"); len(left) > 0 {
		t.Errorf("left %v", left)
	}
}

// longScenario is a run that reaches its steps and then waits: something to
// interrupt.
func longScenario(t *testing.T, dir string) string {
	t.Helper()
	long := filepath.Join(dir, "long.yaml")
	if err := os.WriteFile(long, []byte("name: long\nnodes:\n  a: {}\n  b: {}\nsteps:\n  - link_down: {node: b, for: 5s}\n  - wait: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return long
}

// startLongRun starts `mvdsqa run -netns` on a long scenario as a process
// and returns once its steps have begun.
func startLongRun(t *testing.T, bin, dir, file string) (*exec.Cmd, *syncBuffer, chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-netns", "-work", filepath.Join(dir, "work"), file)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "link_down b") {
		select {
		case <-exited:
			t.Fatalf("the run ended early:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("the run never reached its steps:\n%s", out.String())
		}
	}
	return cmd, out, exited
}

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCtrlCRemovesTheLab: an interrupted run stops its nodes and removes
// every namespace it made before it exits.
func TestCtrlCRemovesTheLab(t *testing.T) {
	needKernelFaults(t)
	bin := buildMvdsqa(t)
	dir := t.TempDir()
	run, out, exited := startLongRun(t, bin, dir, longScenario(t, dir))
	if left := ourNamespaces(t, run.Process.Pid); len(left) != 3 {
		t.Fatalf("while running: namespaces %v, want 3", left)
	}
	_ = run.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(time.Minute):
		_ = run.Process.Kill()
		t.Fatalf("the run did not end within a minute of SIGINT:\n%s", out.String())
	}
	if left := ourNamespaces(t, run.Process.Pid); len(left) > 0 {
		t.Errorf("after Ctrl-C: namespaces %v left\n%s", left, out.String())
	}
}
