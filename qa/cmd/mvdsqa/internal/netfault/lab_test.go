package netfault

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newLab makes a lab with two hosts, a and b, and an echo server on b, or
// skips when this machine cannot make kernel faults. noNetem forces the
// fallbacks, which every kernel with nftables and iptables has.
func newLab(t *testing.T, noNetem bool) (*Lab, *Host, *Host) {
	t.Helper()
	caps := Detect(context.Background())
	if err := caps.Usable(); err != nil {
		if Required() {
			t.Fatalf("kernel faults cannot be made here and %s is set: %v", RequiredEnv, err)
		}
		t.Skipf("kernel faults cannot be made here: %v", err)
	}
	if noNetem {
		caps.Netem, caps.NetemError = false, "turned off by the test"
	}
	lab, err := NewLab(context.Background(), caps, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(context.Background()); err != nil {
			t.Error(err)
		}
		for _, ns := range lab.Namespaces() {
			if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
				t.Errorf("namespace %s left behind", ns)
			}
		}
	})
	a, err := lab.AddHost(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddHost(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := inNetns(b.ns, func() (net.Listener, error) { return net.Listen("tcp", "0.0.0.0:7000") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return lab, a, b
}

// rtt dials b's echo server from a and times one line's round trip.
func rtt(a, b *Host, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := a.DialContext(ctx, "tcp", net.JoinHostPort(b.IP().String(), "7000"))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func TestLinkDownCutsAndUpRestores(t *testing.T) {
	_, a, b := newLab(t, false)
	if _, err := rtt(a, b, 5*time.Second); err != nil {
		t.Fatalf("before: %v", err)
	}
	if err := b.SetLink(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if d, err := rtt(a, b, time.Second); err == nil {
		t.Fatalf("link down: echo answered in %v", d)
	}
	if err := b.SetLink(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := rtt(a, b, 5*time.Second); err != nil {
		t.Fatalf("link up again: %v", err)
	}
}

func TestPartitionDropsBothWaysAndHeals(t *testing.T) {
	lab, a, b := newLab(t, false)
	c, err := lab.AddHost(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Partition(context.Background(), b, true); err != nil {
		t.Fatal(err)
	}
	if d, err := rtt(a, b, time.Second); err == nil {
		t.Fatalf("partitioned: echo answered in %v", d)
	}
	if _, err := rtt(c, b, 5*time.Second); err != nil {
		t.Fatalf("a third host is not partitioned: %v", err)
	}
	if _, err := a.Partition(context.Background(), b, false); err != nil {
		t.Fatal(err)
	}
	if _, err := rtt(a, b, 5*time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

func testDelay(t *testing.T, noNetem bool) {
	lab, a, b := newLab(t, noNetem)
	mech, err := a.Shape(context.Background(), nil, Shape{Delay: 300 * time.Millisecond, Jitter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := "netem"
	if noNetem || !lab.Caps().Netem {
		want = "NFQUEUE"
	}
	if len(mech) != 1 || !strings.Contains(mech[0], want) {
		t.Errorf("mechanisms %q, want %s", mech, want)
	}
	// The dial's SYN and the echo's request both leave a: at least one delay
	// for the round trip measured after the connection is up.
	for i := 0; i < 3; i++ {
		d, err := rtt(a, b, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("round trip %v with a 300ms ± 50ms delay on a's sending", d)
		}
	}
	if _, err := a.Shape(context.Background(), nil, Shape{}); err != nil {
		t.Fatal(err)
	}
	if d, err := rtt(a, b, 5*time.Second); err != nil || d > 200*time.Millisecond {
		t.Errorf("delay cleared: round trip %v, %v", d, err)
	}
}

func TestDelayByNFQueue(t *testing.T) { testDelay(t, true) }

func TestDelayByNetem(t *testing.T) {
	if c := Detect(context.Background()); c.Usable() == nil && !c.Netem {
		t.Skipf("this kernel has no netem (%s): the NFQUEUE delayer stands in, tested by TestDelayByNFQueue", c.NetemError)
	}
	testDelay(t, false)
}

// udpLoss sends n datagrams from a to b and returns the share that arrived.
// warm resolves both neighbours first: datagrams sent while ARP is pending
// are dropped past a small queue, which is not the loss measured. Warm up
// before shaping: the TCP probe itself would lose packets to the loss.
func udpLoss(t *testing.T, a, b *Host, n int, warm bool) float64 {
	t.Helper()
	if warm {
		if _, err := rtt(a, b, 5*time.Second); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	pc, err := inNetns(b.ns, func() (net.PacketConn, error) { return net.ListenPacket("udp", "0.0.0.0:7001") })
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conn, err := a.DialContext(context.Background(), "udp", net.JoinHostPort(b.IP().String(), "7001"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan int)
	go func() {
		buf := make([]byte, 64)
		k := 0
		for {
			_ = pc.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	for i := 0; i < n; i++ {
		_, _ = conn.Write([]byte(fmt.Sprint(i)))
		if i%20 == 0 {
			time.Sleep(time.Millisecond) // stay below the socket buffers
		}
	}
	return float64(<-got) / float64(n)
}

func TestLossDropsAboutTheShareAsked(t *testing.T) {
	_, a, b := newLab(t, false)
	if got := udpLoss(t, a, b, 1000, true); got < 0.99 {
		t.Fatalf("without loss only %.0f%% arrived", got*100)
	}
	if _, err := a.Shape(context.Background(), b, Shape{Loss: 50}); err != nil {
		t.Fatal(err)
	}
	// 2000 draws at p = 0.5: outside 40–60 % is over 8 standard deviations.
	if got := udpLoss(t, a, b, 2000, false); got < 0.40 || got > 0.60 {
		t.Errorf("with 50%% loss, %.1f%% arrived", got*100)
	}
}

func TestRateLimitsThroughput(t *testing.T) {
	for _, link := range []bool{false, true} {
		t.Run(map[bool]string{false: "node", true: "link"}[link], func(t *testing.T) {
			_, a, b := newLab(t, true)
			var peer *Host
			if link {
				peer = b
			}
			if _, err := a.Shape(context.Background(), peer, Shape{Rate: 800_000}); err != nil {
				t.Fatal(err)
			}
			// 200 kB at 800 kbit/s (100 kB/s) take about 2 s.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := a.DialContext(ctx, "tcp", net.JoinHostPort(b.IP().String(), "7000"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			const size = 200_000
			start := time.Now()
			go func() { _, _ = c.Write(make([]byte, size)) }()
			if _, err := io.ReadFull(c, make([]byte, size)); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 1500*time.Millisecond || d > 10*time.Second {
				t.Errorf("200 kB echoed in %v at 800 kbit/s; want about 2 s", d)
			}
		})
	}
}

func TestChangeIPDropsTheOldAddress(t *testing.T) {
	_, a, b := newLab(t, false)
	old, now, err := b.ChangeIP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if old.Equal(now) || !b.IP().Equal(now) {
		t.Fatalf("address %v → %v, host says %v", old, now, b.IP())
	}
	if _, err := rtt(a, b, 5*time.Second); err != nil {
		t.Fatalf("new address: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := a.DialContext(ctx, "tcp", net.JoinHostPort(old.String(), "7000")); err == nil {
		c.Close()
		t.Fatal("the old address still answers")
	}
}

func TestShapeRefusesTheImpossible(t *testing.T) {
	for _, s := range []Shape{{Loss: 150}, {Delay: time.Second, Jitter: 2 * time.Second}, {Reorder: 25}, {Rate: 10}, {Delay: -time.Second}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	if err := (Shape{Delay: time.Second, Jitter: 100 * time.Millisecond, Loss: 50, Rate: 1000}).Validate(); err != nil {
		t.Error(err)
	}
}

// A runner that was killed leaves its namespaces and its nodes; the next
// Sweep removes both, and leaves a live runner's lab alone.
func TestSweepRemovesWhatADeadRunnerLeft(t *testing.T) {
	lab, _, _ := newLab(t, false)
	dead := fmt.Sprintf("%s%d-1-h0", Prefix, deadPid(t))
	if err := addNetns(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command("ip", "netns", "exec", dead, "sleep", "300")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = proc.Wait(); close(exited) }()
	waitInNetns(t, proc.Process.Pid, dead)
	removed, err := Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != dead {
		t.Errorf("removed %q, want [%s]", removed, dead)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = proc.Process.Kill()
		t.Error("the process in the leftover namespace still runs")
	}
	for _, ns := range lab.Namespaces() {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err != nil {
			t.Errorf("the live lab's %s was swept: %v", ns, err)
		}
	}
}

// deadPid is a pid no process has.
func deadPid(t *testing.T) int {
	for pid := 4_000_000; pid > 3_000_000; pid -= 7919 {
		if !alive(pid) {
			return pid
		}
	}
	t.Fatal("no free pid")
	return 0
}

// waitInNetns waits until a process started by `ip netns exec` has entered
// the namespace.
func waitInNetns(t *testing.T, pid int, ns string) {
	t.Helper()
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err == nil && got != want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never entered %s", pid, ns)
}
