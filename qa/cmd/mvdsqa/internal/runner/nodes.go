package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/netfault"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/qanode"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

// startTimeout bounds a node's start, a process's included.
const startTimeout = 60 * time.Second

// node is the runner's handle on one scenario node, wherever it runs. The
// runner talks to every node through its REST client; the handle adds what
// only the runner can do to a node it started: kill, freeze, restart.
type node struct {
	spec   scenario.Node
	dir    string
	cfg    qanode.Config // local nodes: what to start (again)
	client nodeAPI
	info   qanode.Info
	sg     *sgNode // a status-go node

	mu     sync.Mutex
	up     bool
	frozen bool // SIGSTOPped: not polled, it would not answer
	inproc *qanode.Node
	proc   *exec.Cmd
	exited chan struct{}
	logs   *logFile
	logger *zap.Logger
	host   *netfault.Host // -netns: the node's namespace

	// The faults the runner set, re-applied after a restart (the shim keeps
	// them in memory).
	parted  map[string]bool
	latency time.Duration
}

func (n *node) local() bool { return n.spec.Run != scenario.Remote }

// isUp reports whether the node runs and answers.
func (n *node) isUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up && !n.frozen
}

func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// start brings a local node up (again), on the addresses of its first start
// so that peers that keep it find it again, or checks a remote one.
func (n *node) start(ctx context.Context, r *run) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	switch n.spec.Run {
	case scenario.StatusBackend:
		if err := n.sg.start(ctx); err != nil {
			return err
		}
		n.client = n.sg
	case scenario.Remote:
		token := ""
		if n.spec.TokenEnv != "" {
			token = os.Getenv(n.spec.TokenEnv)
			if token == "" {
				return fmt.Errorf("node %s: environment variable %s (its token) is empty", n.spec.Name, n.spec.TokenEnv)
			}
		}
		n.client = qanode.NewClient(n.spec.URL, token)
	case scenario.InProcess:
		qn, err := qanode.Start(ctx, n.withLogger())
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.inproc = qn
		n.mu.Unlock()
		n.client = qanode.NewClient(qn.APIAddr(), "")
	case scenario.Process:
		if err := n.spawn(ctx, r.opts.NodeBinary); err != nil {
			return err
		}
	}
	info, err := n.client.Health(ctx)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.spec.Name, err)
	}
	n.info = info
	if n.local() && n.sg == nil {
		// Pin the addresses for restarts.
		if _, port, err := net.SplitHostPort(addrOf(info.API)); err == nil {
			n.cfg.API = "127.0.0.1:" + port
		}
		if len(info.Addrs) > 0 {
			if p := tcpPort(info.Addrs[0]); p != "" {
				host, _, err := net.SplitHostPort(n.cfg.Listen)
				if err != nil {
					host = DefaultListenHost
				}
				n.cfg.Listen = net.JoinHostPort(host, p)
			}
		}
	}
	n.mu.Lock()
	n.up = true
	n.mu.Unlock()
	return nil
}

func addrOf(api string) string {
	if len(api) > 7 && api[:7] == "http://" {
		return api[7:]
	}
	return api
}

// tcpPort extracts the TCP port of a multiaddr.
func tcpPort(addr string) string {
	m, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return ""
	}
	p, err := m.ValueForProtocol(multiaddr.P_TCP)
	if err != nil {
		return ""
	}
	return p
}

func (n *node) withLogger() qanode.Config {
	c := n.cfg
	c.Logger = n.logger
	return c
}

// args is the command line of an `mvdsqa node` process for the config.
func (n *node) args() []string {
	c := n.cfg
	a := []string{"node", "-name", c.Name, "-data", c.Dir, "-listen", c.Listen, "-api", c.API, "-epoch", c.Epoch.String()}
	if c.Stock {
		a = append(a, "-stock")
	}
	if c.Service {
		a = append(a, "-service")
	}
	if c.Light != "" {
		a = append(a, "-light", c.Light)
	}
	for _, p := range c.Policies {
		a = append(a, "-policy", p.String())
	}
	return a
}

func (n *node) spawn(ctx context.Context, binary string) error {
	argv := append([]string{binary}, n.args()...)
	if n.host != nil {
		argv = n.host.Wrap(argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// A node dies with the runner, even a runner that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = n.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %s: start %s: %w", n.spec.Name, binary, err)
	}
	exited := make(chan struct{})
	ready := make(chan qanode.Info, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var info qanode.Info
			if json.Unmarshal(sc.Bytes(), &info) == nil && info.API != "" {
				ready <- info
				break
			}
		}
		// Keep draining so the child never blocks on a full pipe.
		for sc.Scan() {
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case info := <-ready:
		n.mu.Lock()
		n.proc, n.exited = cmd, exited
		n.mu.Unlock()
		if n.host != nil {
			n.client = qanode.NewClientDialer(info.API, "", n.host.DialContext)
		} else {
			n.client = qanode.NewClient(info.API, "")
		}
		return nil
	case <-exited:
		return fmt.Errorf("node %s: the process exited before it was ready (%v); its log: %s", n.spec.Name, cmd.ProcessState, n.logs.Name())
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("node %s: not ready within %v; its log: %s", n.spec.Name, startTimeout, n.logs.Name())
	}
}

// kill stops a node without letting it finish anything: SIGKILL for a
// process, Abort for an in-process node (network first, then the rest).
func (n *node) kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		return fmt.Errorf("node %s is not running", n.spec.Name)
	}
	n.up = false
	switch n.spec.Run {
	case scenario.Process:
		if err := n.proc.Process.Signal(syscall.SIGKILL); err != nil {
			return fmt.Errorf("node %s: SIGKILL: %w", n.spec.Name, err)
		}
		<-n.exited
	case scenario.InProcess:
		n.inproc.Abort()
	case scenario.StatusBackend:
		return n.sg.kill()
	default:
		return fmt.Errorf("node %s is remote: the runner cannot kill it", n.spec.Name)
	}
	return nil
}

// freeze and thaw stop and continue a process (SIGSTOP, SIGCONT): it runs
// nothing meanwhile, as a sleeping laptop.
func (n *node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sg != nil && n.up {
		if err := n.sg.signal(sig); err != nil {
			return err
		}
		n.frozen = sig == syscall.SIGSTOP
		return nil
	}
	if n.spec.Run != scenario.Process || !n.up {
		return fmt.Errorf("node %s: only a running process node can be frozen", n.spec.Name)
	}
	if err := n.proc.Process.Signal(sig); err != nil {
		return fmt.Errorf("node %s: %v: %w", n.spec.Name, sig, err)
	}
	n.frozen = sig == syscall.SIGSTOP
	return nil
}

// stop ends a local node for good at the end of a run.
func (n *node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.up {
		switch n.spec.Run {
		case scenario.Process:
			_ = n.proc.Process.Signal(syscall.SIGCONT) // a frozen node cannot exit
			_ = n.proc.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second):
				_ = n.proc.Process.Kill()
				<-n.exited
			}
		case scenario.InProcess:
			_ = n.inproc.Close()
		}
	}
	if n.sg != nil {
		n.sg.stop() // after a kill too: nothing is left running
	}
	n.up = false
	if n.logger != nil {
		_ = n.logger.Sync()
	}
	if n.logs != nil {
		_ = n.logs.Close()
	}
}

// logFile is a node's log file. go-waku leaves goroutines that may still
// log after its node stopped; once the file is closed their lines are
// dropped instead of reported as write errors.
type logFile struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

func (l *logFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(b), nil
	}
	return l.f.Write(b)
}

func (l *logFile) Sync() error { return nil }

func (l *logFile) Name() string { return l.f.Name() }

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.f.Close()
}

// fileLogger writes a node's logs to its own file in the run's directory.
func fileLogger(path string) (*zap.Logger, *logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	lf := &logFile{f: f}
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), lf, zapcore.InfoLevel)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard))), lf, nil
}

// nodeDir is a node's data directory in its run's directory.
func nodeDir(work, name string) string { return filepath.Join(work, name) }

// dialAddr is the address node from dials node to at. A node reports every
// address it listens on, and one listening on 0.0.0.0 reports 127.0.0.1
// first, which is this machine, not the remote node. So for a remote node:
// the address on the host of its API URL, else its first address that is
// not loopback, else its first. For a node the runner started: its first
// address, unless a remote node dials it, which needs one that is not
// loopback if there is one (see Options.ListenHost).
func dialAddr(from, to *node) (string, error) {
	if to.host != nil {
		// In its namespace: the address of its link, which the runner set.
		if len(to.info.Addrs) == 0 || to.info.PeerID == "" {
			return "", fmt.Errorf("node %s has no address to dial", to.spec.Name)
		}
		return fmt.Sprintf("/ip4/%s/tcp/%s/p2p/%s", to.host.IP(), tcpPort(to.info.Addrs[0]), to.info.PeerID), nil
	}
	urlHost := ""
	if !to.local() {
		if u, err := url.Parse(to.spec.URL); err == nil {
			urlHost = u.Hostname()
		}
	}
	addr := pickAddr(to.info.Addrs, urlHost, !to.local() || (from != nil && !from.local()))
	if addr == "" {
		return "", fmt.Errorf("node %s has no address to dial", to.spec.Name)
	}
	return addr, nil
}

// pickAddr chooses among a node's multiaddrs: the first whose host is
// urlHost (when given), else, when routable is set, the first that is
// neither loopback nor unspecified, else the first.
func pickAddr(addrs []string, urlHost string, routable bool) string {
	if len(addrs) == 0 {
		return ""
	}
	if urlHost != "" {
		for _, a := range addrs {
			if h := addrHost(a); h != "" && sameHost(h, urlHost) {
				return a
			}
		}
	}
	if routable {
		for _, a := range addrs {
			if h := addrHost(a); h != "" && !localHost(h) {
				return a
			}
		}
	}
	return addrs[0]
}

// addrHost is the IP address or DNS name a multiaddr starts with.
func addrHost(addr string) string {
	m, err := multiaddr.NewMultiaddr(addr)
	if err != nil {
		return ""
	}
	for _, p := range []int{multiaddr.P_IP4, multiaddr.P_IP6, multiaddr.P_DNS4, multiaddr.P_DNS6, multiaddr.P_DNS} {
		if v, err := m.ValueForProtocol(p); err == nil {
			return v
		}
	}
	return ""
}

func sameHost(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return strings.EqualFold(a, b)
}

// localHost reports whether a host is reachable from this machine only, or
// is no address to dial at all.
func localHost(h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return strings.EqualFold(h, "localhost")
}
