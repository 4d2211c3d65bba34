package sgnode

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Process is a status-backend process this package started.
type Process struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}

	mu      sync.Mutex
	waitErr error
}

// serverStarted matches the line status-backend logs once it listens:
// `INFO [..] server started   address=127.0.0.1:45403`.
var serverStarted = regexp.MustCompile(`server started\s.*\baddress=(\S+)`)

// StartProcess runs the status-backend binary for the node name, listening
// on 127.0.0.1 at a port it picks, its output appended to log. It returns
// once the server listens; a binary that exits first or never says it
// listens within timeout is not a status-backend this package can drive.
func StartProcess(ctx context.Context, name, binary string, log io.Writer, timeout time.Duration, opts ...Option) (*Process, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	argv := []string{binary, "--address", "127.0.0.1:0"}
	if o.wrap != nil {
		argv = o.wrap(argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %s: start %s: %w", name, binary, err)
	}
	p := &Process{name: name, cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		found := false
		for sc.Scan() {
			line := sc.Bytes()
			if log != nil {
				_, _ = log.Write(append(append([]byte(nil), line...), '\n'))
			}
			if !found {
				if m := serverStarted.FindSubmatch(line); m != nil {
					found = true
					addr <- string(m[1])
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-addr:
		p.addr = a
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("node %s: %s exited before it listened (%v): is it status-backend?", name, binary, p.exitErr())
	case <-t.C:
		p.Kill()
		return nil, fmt.Errorf("node %s: %s did not log \"server started … address=\" within %v: is it status-backend?", name, binary, timeout)
	case <-ctx.Done():
		p.Kill()
		return nil, fmt.Errorf("node %s: starting %s: %w", name, binary, ctx.Err())
	}
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return fmt.Errorf("exit status 0")
	}
	return p.waitErr
}

// Addr is where the process's API listens (host:port).
func (p *Process) Addr() string { return p.addr }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return fmt.Errorf("node %s: the process has exited", p.name)
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("node %s: %v: %w", p.name, sig, err)
	}
	return nil
}

// Kill SIGKILLs the process and waits for it to exit.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop ends the process: SIGCONT (a frozen process cannot exit), SIGTERM,
// and SIGKILL if it has not exited within grace.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}
