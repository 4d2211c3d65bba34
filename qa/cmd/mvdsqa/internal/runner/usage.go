package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Usage is what a run cost this machine while its steps ran: the nodes it
// started as processes, and the runner itself (Options.Usage).
type Usage struct {
	Nodes   int     `json:"nodes"`   // process nodes measured
	Seconds float64 `json:"seconds"` // how long
	// Per node: resident memory (mean over the samples, and the largest
	// seen) and CPU, in percent of one core.
	NodeRSSMiB    float64 `json:"nodeRssMiB"`
	NodeRSSMaxMiB float64 `json:"nodeRssMaxMiB"`
	NodeCPU       float64 `json:"nodeCpuPercent"`
	// The runner: its CPU (percent of one core) and its memory at the end.
	RunnerCPU    float64 `json:"runnerCpuPercent"`
	RunnerRSSMiB float64 `json:"runnerRssMiB"`
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU
// times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat reads a process's CPU time and resident memory from /proc.
func procStat(pid int) (cpu time.Duration, rss uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	pages, _ := strconv.ParseUint(f[21], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks, pages * uint64(os.Getpagesize()), nil
}

// sampler measures the run's process nodes and the runner every interval.
type sampler struct {
	r        *run
	start    time.Time
	cpu0     map[int]time.Duration
	self0    time.Duration
	mu       sync.Mutex
	rssSum   float64
	rssN     int
	rssMax   uint64
	stop     chan struct{}
	finished chan struct{}
}

func (r *run) pids() []int {
	var out []int
	for _, n := range r.nodes {
		n.mu.Lock()
		if n.proc != nil && n.up {
			out = append(out, n.proc.Process.Pid)
		}
		n.mu.Unlock()
	}
	return out
}

func startSampler(r *run, every time.Duration) *sampler {
	s := &sampler{r: r, start: time.Now(), cpu0: map[int]time.Duration{}, stop: make(chan struct{}), finished: make(chan struct{})}
	for _, pid := range r.pids() {
		if cpu, _, err := procStat(pid); err == nil {
			s.cpu0[pid] = cpu
		}
	}
	s.self0, _, _ = procStat(os.Getpid())
	go func() {
		defer close(s.finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	for _, pid := range s.r.pids() {
		if _, rss, err := procStat(pid); err == nil {
			s.mu.Lock()
			s.rssSum += float64(rss)
			s.rssN++
			if rss > s.rssMax {
				s.rssMax = rss
			}
			s.mu.Unlock()
		}
	}
}

// finish stops sampling and sums up. A node restarted meanwhile (a new pid)
// counts from its restart.
func (s *sampler) finish(_ context.Context) *Usage {
	s.sample()
	close(s.stop)
	<-s.finished
	wall := time.Since(s.start)
	u := &Usage{Seconds: wall.Seconds()}
	var cpu time.Duration
	for _, pid := range s.r.pids() {
		c, _, err := procStat(pid)
		if err != nil {
			continue
		}
		u.Nodes++
		cpu += c - s.cpu0[pid]
	}
	const mib = 1 << 20
	if u.Nodes > 0 && wall > 0 {
		u.NodeCPU = 100 * cpu.Seconds() / wall.Seconds() / float64(u.Nodes)
	}
	s.mu.Lock()
	if s.rssN > 0 {
		u.NodeRSSMiB = s.rssSum / float64(s.rssN) / mib
	}
	u.NodeRSSMaxMiB = float64(s.rssMax) / mib
	s.mu.Unlock()
	if self, rss, err := procStat(os.Getpid()); err == nil && wall > 0 {
		u.RunnerCPU = 100 * (self - s.self0).Seconds() / wall.Seconds()
		u.RunnerRSSMiB = float64(rss) / mib
	}
	return u
}
